"""Reference requests: the same request sent straight to the app (stdlib http.client), with one thing changed."""

from __future__ import annotations

import errno
import http.client
import ipaddress
import socket
import ssl
import sys
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


def check_source(value: str) -> str:
    """An IP address this machine can bind as the source of connections to the app; ValueError says why not."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError as e:
        raise ValueError(f"{value!r} is not an IP address (e.g. 169.254.129.1, App Service's peer on Linux)") from e
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((value, 0))
        except OSError as e:
            if e.errno == errno.EADDRNOTAVAIL:
                raise ValueError(
                    f"{value} is not an address of this machine, so connections to the app cannot come from it. "
                    f"Add it to the loopback interface first:\n  {add_address_command(address)}") from e
            raise ValueError(f"cannot bind {value}: {e}") from e
    return value


def add_address_command(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if sys.platform == "darwin":
        if address.version == 6:
            return f"sudo ifconfig lo0 inet6 alias {address}/128"
        return f"sudo ifconfig lo0 alias {address}/32"
    if address.version == 6:
        return f"sudo ip -6 addr add {address}/128 dev lo"
    return f"sudo ip addr add {address}/32 dev lo"
