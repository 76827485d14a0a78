"""Starlette 1.x (tested 1.10) with HTTPSRedirectMiddleware under uvicorn, as `python starlette_app.py` (PORT, FIX).

Routes (all behind HTTPSRedirectMiddleware, which answers 307 to https://<same URL> while scope["scheme"] is http):
  /        text with request.url_for("home"), an absolute URL
  /login   sets a Secure "sid" cookie and redirects (303) to /

uvicorn starts the way its docs show by default: proxy_headers=True, forwarded_allow_ips="127.0.0.1"
(https://uvicorn.dev/settings/#http). So scope["scheme"] becomes https only when X-Forwarded-Proto comes from
127.0.0.1. Behind a front end that sends only X-ARR-SSL, or whose peer is another address (App Service on Linux:
169.254.129.1; here 127.0.0.2), the app sees http and the middleware redirects https://same URL forever: a loop.

FIX=1: forwarded_allow_ips="*" (same as `uvicorn --forwarded-allow-ips='*'` or FORWARDED_ALLOW_IPS), the documented
setting for a proxy whose address is not known in advance
(https://uvicorn.dev/deployment/#proxies-and-forwarded-headers). It does nothing for a front end that sends
only X-ARR-SSL: neither uvicorn nor Starlette reads that header (the fix there is a few lines of ASGI middleware
that sets scope["scheme"] = "https" when x-arr-ssl is present, or a front end that adds X-Forwarded-Proto).
"""

import os

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.httpsredirect import HTTPSRedirectMiddleware
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.routing import Route


async def home(request):
    return PlainTextResponse(f"Home. This page is {request.url_for('home')}\n")


async def login(request):
    response = RedirectResponse("/", status_code=303)
    response.set_cookie("sid", "offload-test", httponly=True, secure=True, samesite="lax")
    return response


class ArrSSL:
    """ARR=1: the fix offload advises for a front end that sends only X-ARR-SSL (uvicorn reads only X-Forwarded-Proto)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket") and any(k == b"x-arr-ssl" for k, _ in scope["headers"]):
            scope = {**scope, "scheme": "https" if scope["type"] == "http" else "wss"}
        await self.app(scope, receive, send)


app = Starlette(routes=[Route("/", home, name="home"), Route("/login", login)],
                middleware=[Middleware(HTTPSRedirectMiddleware)])
if os.environ.get("ARR") == "1":
    app.add_middleware(ArrSSL)  # outermost: added last

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), proxy_headers=True,
                forwarded_allow_ips="*" if os.environ.get("FIX") == "1" else "127.0.0.1", log_level="warning")
