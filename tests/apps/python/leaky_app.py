"""An app that gets everything wrong, with secrets everywhere, for offload's security tests (standard library only).

    python leaky_app.py PORT

Every answer carries SECRET-marked values (cookie values, tokens in URLs and bodies); offload must report every
problem without ever repeating one of them.
"""

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = "SECRET-7f3a9c"


class Leaky(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        host = self.headers.get("Host", "localhost")
        https = self.headers.get("X-Forwarded-Proto") == "https"
        path = self.path.split("?")[0]
        headers, status, body = [], 200, f"<p>hello {SECRET}</p>"
        if path == "/loop":
            status, headers = 301, [("Location", f"https://{host}/loop")]
        elif path == "/insecure":
            status, headers = 302, [("Location", f"http://{host}/next?token={SECRET}")]
        elif path == "/reset-link":
            status, headers = 302, [("Location", f"http://{host}/reset/Zx81kQ0pL2mN4bV7cX9aS3dF{SECRET}")]
        elif path == "/cookies":
            headers = [("Set-Cookie", f"a={SECRET}; Path=/; SameSite=None"), ("Set-Cookie", f"__Host-b={SECRET}"),
                       ("Set-Cookie", f"c={SECRET}; Path=/")]
        elif path == "/links":
            port = self.server.server_address[1]
            body = (f'<input type="hidden" name="csrf" value="{SECRET}"><a href="http://{host}/x?token={SECRET}">x</a>'
                    f'<img src="//127.0.0.1:{port}/leak?token={SECRET}">')
            headers = [("Link", f"<http://{host}/style.css?v={SECRET}>; rel=preload"), ("Content-Type", "text/html")]
        elif path == "/drop":
            headers = [("Set-Cookie", f"session={SECRET}; Path=/; Secure")] if https else []
        elif path == "/fail":
            status = 200 if https else 500
            body = "ok" if https else f"Error: Cannot send secure cookie over unencrypted connection {SECRET}"
        elif path == "/forbid":
            status = 200 if https else 403
            body = "ok" if https else f"<p>CSRF verification failed. Request aborted. {SECRET}</p>"
        elif path == "/reject":
            status = 200 if https else 400
        elif path == "/oauth":
            status = 302
            callback = f"{'https' if https else 'http'}%3A%2F%2F{host}%2Fcallback%3Fsecret%3D{SECRET}"
            headers = [("Location", f"https://provider.example/authorize?client_id={SECRET}&redirect_uri={callback}")]
        elif path == "/half-secure":
            headers = [("Set-Cookie", f"pref={SECRET}; Path=/{'; Secure' if https else ''}"),
                       ("Set-Cookie", f"d={SECRET}; Path=/")]
        data = body.encode()
        self.send_response(status)
        for k, v in headers + [("Content-Length", str(len(data)))]:
            self.send_header(k, v)
        if not any(k == "Content-Type" for k, _ in headers):
            self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Leaky).serve_forever()
