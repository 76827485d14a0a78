"""A plain ASGI app under uvicorn with its default proxy trust (--forwarded-allow-ips 127.0.0.1) [frameworks.md 2.7].

    python -m uvicorn asgi_app:app --host 127.0.0.1 --port PORT [--forwarded-allow-ips CIDR]

It redirects plain HTTP to HTTPS and sets a Secure session cookie on HTTPS. Behind a front end connecting from
169.254.129.1, uvicorn ignores X-Forwarded-Proto (the peer is not 127.0.0.1): the redirect loops.
"""


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    headers = dict(scope["headers"])
    host = headers.get(b"host", b"localhost").decode()
    if scope["scheme"] != "https":
        location = f"https://{host}{scope['path']}"
        await send({"type": "http.response.start", "status": 307, "headers": [(b"location", location.encode())]})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"text/plain"),
        (b"set-cookie", b"sid=offload-test; Path=/; HttpOnly; Secure; SameSite=Lax"),
    ]})
    await send({"type": "http.response.body", "body": b"hello over https"})
