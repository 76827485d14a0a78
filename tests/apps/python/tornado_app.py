"""Tornado 6.x (tested 6.5) on its own HTTPServer, as `python tornado_app.py` (PORT, FIX from the environment).

Routes:
  /account  the page; without the signed "user" cookie it sends you to /login?next=<self.request.full_url()>
  /login    sets the signed "user" cookie (Secure only when self.request.protocol == "https", the usual Tornado
            idiom) and redirects to ?next= (default /account)
  /ws       WebSocket echo (Tornado's default check_origin: Origin's host must equal the Host header)

Behind a TLS-terminating front end Tornado still sees http: HTTPServer ignores X-Forwarded-Proto / X-Scheme /
X-Real-Ip / X-Forwarded-For unless started with xheaders=True
(https://www.tornadoweb.org/en/stable/httpserver.html#http-server). So request.protocol is "http": the cookie
goes out without Secure and full_url() (protocol + "://" + Host + uri) gives http://localhost:8443/account.
Tornado never reads X-Forwarded-Host nor X-ARR-SSL: a front end that rewrites Host (nginx's default
`proxy_set_header Host $proxy_host`) also makes /ws answer 403 "Cross origin websockets not allowed".

FIX=1: HTTPServer(app, xheaders=True), the documented setting for running behind a reverse proxy
(https://www.tornadoweb.org/en/stable/guide/running.html#running-behind-a-load-balancer). It does nothing for a
front end that sends only X-ARR-SSL: for that the httpserver page above documents HTTPServer(app, protocol="https")
("if Tornado is run behind an SSL-decoding proxy that does not set one of the supported xheaders"): ARR=1.
"""

import asyncio
import os
from urllib.parse import urlencode

import tornado.httpserver
import tornado.web
import tornado.websocket


class Account(tornado.web.RequestHandler):
    def get(self):
        user = self.get_signed_cookie("user")
        if not user:
            # Come back here after logging in: the absolute URL of this page.
            return self.redirect("/login?" + urlencode({"next": self.request.full_url()}))
        self.write(f"<p>Hello {user.decode()}. This page is {self.request.full_url()}</p>")


class Login(tornado.web.RequestHandler):
    def get(self):
        self.set_signed_cookie("user", "demo", httponly=True, samesite="Lax",
                               secure=self.request.protocol == "https")
        self.redirect(self.get_argument("next", "/account"))


class Echo(tornado.websocket.WebSocketHandler):
    def on_message(self, message):
        self.write_message(message)


async def main():
    app = tornado.web.Application([(r"/account", Account), (r"/login", Login), (r"/ws", Echo)],
                                  cookie_secret="offload-test-only")
    if os.environ.get("ARR") == "1":  # offload's advice for a front end that only sends X-ARR-SSL
        server = tornado.httpserver.HTTPServer(app, protocol='https')
    else:
        server = tornado.httpserver.HTTPServer(app, xheaders=os.environ.get("FIX") == "1")
    server.listen(int(os.environ["PORT"]), "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
