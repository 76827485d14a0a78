"""The host bug in Flask: url_for(..., _external=True) and a cookie Domain built from the Host the app received.

    python host_flask.py PORT

Behind Azure Front Door (or Application Gateway) in front of App Service, Host is the origin's name
(myapp.azurewebsites.net) and the public host the browser is at arrives in X-Forwarded-Host. ProxyFix with
x_host=0 (its default) leaves Host alone, so the app redirects to the origin's name, sets a cookie for a domain the
browser rejects and links past the front end
(https://learn.microsoft.com/azure/architecture/best-practices/host-name-preservation).

The scheme is trusted correctly in both modes: ProxyFix(x_for=1, x_proto=1, ...).
HOST_FIX=1: ProxyFix(..., x_host=1), the fix offload advises (request.host then comes from X-Forwarded-Host).

Routes: /login   302 to url_for("home", _external=True), Set-Cookie sid=<random>; Domain=<request.host without
                 port>, and Flask's own session (a logged-in user; it also lets offload recognise Flask)
        /home    an HTML page with an absolute link to url_for("profile", _external=True)
        /whoami  what the app believes: {"ip", "scheme", "host"} (JSON)
"""

import os
import secrets
import sys
from urllib.parse import urlsplit

from flask import Flask, jsonify, redirect, request, session, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

app = Flask(__name__)
app.secret_key = "offload-test-only"
app.config.update(SESSION_COOKIE_SECURE=True, SESSION_COOKIE_SAMESITE="Lax")
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1 if os.environ.get("HOST_FIX") == "1" else 0)


@app.route("/login")
def login():
    session["user"] = "demo"
    response = redirect(url_for("home", _external=True), 302)
    response.set_cookie("sid", secrets.token_hex(16), domain=urlsplit(f"//{request.host}").hostname, path="/",
                        secure=True, httponly=True, samesite="Lax")
    return response


@app.route("/home")
def home():
    return f'<p>Welcome. <a href="{url_for("profile", _external=True)}">profile</a></p>'


@app.route("/profile")
def profile():
    return "<p>your profile</p>"


@app.route("/whoami")
def whoami():
    return jsonify(ip=request.remote_addr, scheme=request.scheme, host=request.host)


if __name__ == "__main__":
    app.run("127.0.0.1", int(sys.argv[1]))
