"""Flask behind ProxyFix trusting a number of X-Forwarded-For hops, for offload's trust-counting tests.

    TRUST_HOPS=2 python trust_flask.py PORT

GET /whoami answers {"ip": request.remote_addr} (and sets Flask's session cookie): ProxyFix(x_for=N) takes the Nth entry from the right
(https://werkzeug.palletsprojects.com/en/stable/middleware/proxy_fix/).
"""

import os
import sys

from flask import Flask, jsonify, request, session
from werkzeug.middleware.proxy_fix import ProxyFix

app = Flask(__name__)
app.secret_key = "offload-test-only"
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(os.environ.get("TRUST_HOPS", "1")), x_proto=1)


@app.get("/whoami")
def whoami():
    session["seen"] = True  # Flask's signed session cookie: how offload recognises the framework
    return jsonify(ip=request.remote_addr, scheme=request.scheme)


if __name__ == "__main__":
    app.run("127.0.0.1", int(sys.argv[1]))
