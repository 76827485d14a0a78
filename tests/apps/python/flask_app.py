"""Flask behind ProxyFix building absolute URLs and redirects [frameworks.md 2.6].

    python flask_app.py PORT

ProxyFix trusts X-Forwarded-Proto, which a front end that only sends x-arr-ssl never provides: url_for(...,
_external=True) and redirects come out as http://. SEED_FIX=1 adds a WSGI shim mapping x-arr-ssl first.
"""

import os
import sys

from flask import Flask, redirect, session, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

app = Flask(__name__)
app.secret_key = "offload-test-only"
app.config.update(SESSION_COOKIE_SECURE=True, SESSION_COOKIE_SAMESITE="Lax")
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

if os.environ.get("SEED_FIX") == "1":  # offload's advice for a front end that only sends x-arr-ssl, verbatim
    inner = app.wsgi_app
    app.wsgi_app = lambda env, start: inner(dict(env, HTTP_X_FORWARDED_PROTO='https') if 'HTTP_X_ARR_SSL' in env and 'HTTP_X_FORWARDED_PROTO' not in env else env, start)  # noqa: E501


@app.route("/")
def home():
    return f'<p>Home. <a href="{url_for("profile", _external=True)}">your profile</a></p>'


@app.route("/profile")
def profile():
    return "<p>profile</p>"


@app.route("/login")
def login():
    session["user"] = "demo"
    return redirect(url_for("home", _external=True))


if __name__ == "__main__":
    app.run("127.0.0.1", int(sys.argv[1]))
