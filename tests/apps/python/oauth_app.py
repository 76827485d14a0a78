"""An OAuth 2 client: Authlib 1.x (tested 1.9) Flask client, Flask dev server: `python oauth_app.py` (PORT, FIX).

Routes (as in https://docs.authlib.org/en/latest/client/flask.html):
  /login     oauth.demo.authorize_redirect(url_for("callback", _external=True)): 302 to the provider
             (http://127.0.0.1:9/authorize, nothing listens there) with redirect_uri=<this app's /callback> and a
             state kept in Flask's "session" cookie
  /callback  oauth.demo.authorize_access_token(): checks the state against the session, then calls the token URL

Flask builds url_for(..., _external=True) from the WSGI environ (wsgi.url_scheme, Host) and trusts no forwarded
header by default, so behind a TLS-terminating front end the provider gets redirect_uri=http%3A%2F%2F... : a real
provider rejects it (not the registered https:// callback) or, worse, sends the code back over http.

FIX=1: Werkzeug's ProxyFix exactly as Flask's "Tell Flask it is Behind a Proxy" page shows
(https://flask.palletsprojects.com/en/stable/deploying/proxy_fix/): X-Forwarded-Proto and -Host are then used.
It does nothing for a front end that sends only X-ARR-SSL (no Flask/Werkzeug setting reads it; a WSGI shim that
sets wsgi.url_scheme = "https" when HTTP_X_ARR_SSL is present is the fix there, see flask_app.py's SEED_FIX).
"""

import os

from authlib.integrations.flask_client import OAuth
from flask import Flask, url_for

app = Flask(__name__)
app.secret_key = "offload-test-only"
if os.environ.get("FIX") == "1":
    from werkzeug.middleware.proxy_fix import ProxyFix

    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)

oauth = OAuth(app)
oauth.register("demo", client_id="offload-client", client_secret="offload-secret",
               authorize_url="http://127.0.0.1:9/authorize", access_token_url="http://127.0.0.1:9/token")


@app.route("/login")
def login():
    return oauth.demo.authorize_redirect(url_for("callback", _external=True))


@app.route("/callback")
def callback():
    token = oauth.demo.authorize_access_token()
    return f"<p>signed in: {token}</p>"


if __name__ == "__main__":
    app.run("127.0.0.1", int(os.environ["PORT"]))
