"""Reference requests: the same request sent straight to the app (stdlib http.client), with one thing changed."""

from __future__ import annotations

import http.client
import ssl
from dataclasses import dataclass

from .exchange import BODY_LIMIT

# Hop-by-hop and framing headers: http.client writes its own.
_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade", "content-length",
        "trailer", "accept-encoding"}
TIMEOUT = 5.0


@dataclass(frozen=True)
class Target:
    """Where the app listens (the reverse-mode upstream)."""

    host: str
    port: int
    tls: bool = False


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def variant(headers: list[tuple[str, str]], set_: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The request headers with some replaced (all copies of a name removed, then the new value added)."""
    set_ = set_ or {}
    drop = {k.lower() for k in set_}
    out = [(k, v) for k, v in headers if k.lower() not in drop]
    out += list(set_.items())
    return out


def http1_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers fit for an HTTP/1.1 request: no hop-by-hop ones, and HTTP/2's cookie crumbs joined into one Cookie
    header with '; ' (RFC 9113 8.2.3), as mitmproxy does when it forwards an HTTP/2 request."""
    out = [(k, v) for k, v in headers if k.lower() not in _HOP and k.lower() != "cookie"]
    crumbs = [v for k, v in headers if k.lower() == "cookie"]
    if crumbs:
        out.append(("Cookie", "; ".join(crumbs)))
    return out


def send(target: Target, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b"",
         source: str | None = None, timeout: float = TIMEOUT) -> Answer:
    """Send one request to the app and read the answer (body up to BODY_LIMIT). Raises OSError/HTTPException."""
    source_address = (source, 0) if source else None
    if target.tls:
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, source_address=source_address,
            context=ssl._create_unverified_context(),  # the app's own certificate, on this machine
        )
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout, source_address=source_address)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in http1_headers(headers):
            conn.putheader(k, v.encode("utf-8", "surrogateescape"))
        conn.putheader("Accept-Encoding", "identity")  # the rules read the body's text
        if body or method.upper() in ("POST", "PUT", "PATCH"):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        data = resp.read(BODY_LIMIT) if method.upper() != "HEAD" else b""
        return Answer(resp.status, tuple(resp.getheaders()), data)
    finally:
        conn.close()
