"""The host bug in Starlette under uvicorn: request.url (and a cookie Domain) built from the Host the app received.

    PORT=8000 python host_starlette.py      (uvicorn --proxy-headers --forwarded-allow-ips '*')

Behind Azure Front Door (or Application Gateway) in front of App Service, Host is the origin's name
(myapp.azurewebsites.net) and the public host the browser is at arrives in X-Forwarded-Host. uvicorn's
--proxy-headers reads only X-Forwarded-For and X-Forwarded-Proto, so request.url and request.url.hostname carry the
origin's name: the app redirects to it, sets a cookie for a domain the browser rejects and links past the front end
(https://learn.microsoft.com/azure/architecture/best-practices/host-name-preservation).

The scheme is trusted correctly in both modes: proxy_headers=True, forwarded_allow_ips="*" (the front end's
X-Forwarded-Proto: https is believed).
HOST_FIX=1: ForwardedHost, a small ASGI middleware that replaces Host with X-Forwarded-Host, as ASP.NET Core's
ForwardedHeaders.XForwardedHost does (the fix offload advises: rewrite Host from X-Forwarded-Host in a middleware
you trust; only behind a front end that overwrites that header).

Routes: /login   302 to <request.url's scheme and host>/home, Set-Cookie sid=<random>; Domain=request.url.hostname
        /home    an HTML page with an absolute link to <request.url's scheme and host>/profile
        /whoami  what the app believes: {"ip", "scheme", "host"} (JSON)
"""

import os
import secrets

import uvicorn
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.routing import Route


def base(request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


async def login(request):
    response = RedirectResponse(f"{base(request)}/home", status_code=302)
    response.set_cookie("sid", secrets.token_hex(16), domain=request.url.hostname, path="/", secure=True,
                        httponly=True, samesite="lax")
    return response


async def home(request):
    return HTMLResponse(f'<p>Welcome. <a href="{base(request)}/profile">profile</a></p>')


async def profile(request):
    return HTMLResponse("<p>your profile</p>")


async def whoami(request):
    return JSONResponse({"ip": request.client.host if request.client else None, "scheme": request.url.scheme,
                         "host": request.url.netloc})


class ForwardedHost:
    """HOST_FIX=1: Host := the first X-Forwarded-Host value, when there is one (trust it only from the front end)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            forwarded = next((v for k, v in scope["headers"] if k == b"x-forwarded-host"), None)
            if forwarded:
                host = forwarded.split(b",", 1)[0].strip()
                scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"host"] + [(b"host", host)]}
        await self.app(scope, receive, send)


app = Starlette(routes=[Route("/login", login), Route("/home", home), Route("/profile", profile),
                        Route("/whoami", whoami)])
if os.environ.get("HOST_FIX") == "1":
    app.add_middleware(ForwardedHost)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), proxy_headers=True, forwarded_allow_ips="*",
                log_level="warning")
