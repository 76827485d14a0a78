"""Reference requests: the same request sent straight to the app, with one thing changed, on a total deadline.

A small asyncio HTTP/1.1 client, for the addon's comparisons and for `offload probe`. It uses no thread (the
default executor is mitmproxy's, which it needs for name resolution), connects to an address it is given, reads at
most BODY_LIMIT bytes of body, gives up at a deadline that covers connect, header and body, and turns any answer it
cannot read into BadAnswer with one clear sentence.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import re
import socket
import ssl
import sys
from dataclasses import dataclass

from .exchange import BODY_LIMIT

# Hop-by-hop and framing headers: the client writes its own.
_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade", "content-length",
        "trailer", "accept-encoding"}
TIMEOUT = 5.0  # seconds for a whole exchange: connect, send, status, headers and body
MAX_LINE = 64 * 1024  # bytes in one header line (as Python's http.client)
MAX_HEADERS = 100  # header fields in an answer (as Python's http.client)
MAX_HEAD = 256 * 1024  # bytes of status line and headers together
_STATUS = re.compile(rb"^HTTP/1\.[01] ([1-9]\d\d)(?:[ \t][^\r\n]*)?\r?\n$")
_CHUNK = re.compile(rb"^([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n$")


class BadAnswer(Exception):
    """The server answered something offload cannot read as HTTP/1.x, or cut its answer short."""


@dataclass(frozen=True)
class Target:
    """Where the app listens: `host` names it (Host, SNI); `address`, when given, is the IP to connect to."""

    host: str
    port: int
    tls: bool = False
    address: str | None = None


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


async def send(target: Target, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b"",
               source: str | None = None, timeout: float = TIMEOUT) -> Answer:
    """Send one request and read the answer (body up to BODY_LIMIT) within `timeout` seconds in all.

    Raises TimeoutError past the deadline, OSError when the app cannot be reached, BadAnswer for an answer that is
    not HTTP/1.x or is cut short.
    """
    try:
        async with asyncio.timeout(timeout):
            return await _exchange(target, method, path, headers, body, source)
    except TimeoutError:
        raise TimeoutError(f"no complete answer within {timeout:g} s") from None


async def _exchange(target: Target, method: str, path: str, headers, body: bytes, source: str | None) -> Answer:
    context = ssl._create_unverified_context() if target.tls else None  # the app's own certificate, on this machine
    reader, writer = await asyncio.open_connection(
        target.address or target.host, target.port, ssl=context, server_hostname=target.host if context else None,
        local_addr=(source, 0) if source else None, limit=MAX_LINE)
    try:
        writer.write(_request(method, path, headers, body))
        await writer.drain()
        return await _answer(reader, method)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass


def _request(method: str, path: str, headers, body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in http1_headers(headers)]
    lines.append("Accept-Encoding: identity")  # the rules read the body's text
    if body or method.upper() in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


async def _line(reader: asyncio.StreamReader, what: str) -> bytes:
    try:
        line = await reader.readline()
    except ValueError:  # asyncio's limit: no line end within MAX_LINE bytes
        raise BadAnswer(f"a line of its {what} is longer than {MAX_LINE // 1024} KiB") from None
    if not line.endswith(b"\n"):
        raise BadAnswer("the connection closed before the answer began" if not line and what == "status line"
                        else f"the connection closed in the middle of its {what}")
    return line


async def _answer(reader: asyncio.StreamReader, method: str) -> Answer:
    for _ in range(10):  # interim 1xx answers (100 Continue, 103 Early Hints) come before the real one
        status_line = await _line(reader, "status line")
        m = _STATUS.match(status_line)
        if not m:
            raise BadAnswer("its answer is not HTTP/1.x (no valid status line: HTTP/0.9 or another protocol)")
        status = int(m.group(1))
        headers = await _headers(reader)
        if not 100 <= status < 200 or status == 101:
            break
    else:
        raise BadAnswer("it sent only interim (1xx) answers")
    if method.upper() == "HEAD" or status in (101, 204, 304) or 100 <= status < 200:
        return Answer(status, headers, b"")
    return Answer(status, headers, await _body(reader, headers))


async def _headers(reader: asyncio.StreamReader) -> tuple[tuple[str, str], ...]:
    fields: list[tuple[str, str]] = []
    size = 0
    while True:
        line = await _line(reader, "header")
        if line in (b"\r\n", b"\n"):
            return tuple(fields)
        size += len(line)
        if size > MAX_HEAD:
            raise BadAnswer(f"its header is larger than {MAX_HEAD // 1024} KiB")
        if len(fields) >= MAX_HEADERS:
            raise BadAnswer(f"it sent more than {MAX_HEADERS} header fields")
        name, sep, value = line.partition(b":")
        if not sep or not name or name[:1] in b" \t" or name != name.rstrip():
            raise BadAnswer("a header line is malformed (no 'name: value')")
        fields.append((name.decode("utf-8", "surrogateescape"),
                       value.strip().decode("utf-8", "surrogateescape")))


def _framing(headers) -> tuple[bool, int | None]:
    """(chunked, content length) from the answer's headers; BadAnswer if they contradict themselves."""
    encodings = [v.strip().lower() for k, v in headers if k.lower() == "transfer-encoding" for v in v.split(",")]
    if encodings:
        if encodings[-1] != "chunked":
            return False, None  # read until the connection closes (RFC 9112 6.3)
        return True, None
    lengths = {v.strip() for k, v in headers if k.lower() == "content-length" for v in v.split(",")}
    if not lengths:
        return False, None
    if len(lengths) > 1 or not all(c.isdigit() for c in next(iter(lengths))) or len(next(iter(lengths))) > 18:
        raise BadAnswer("its Content-Length is not one valid number")
    return False, int(lengths.pop())


async def _body(reader: asyncio.StreamReader, headers) -> bytes:
    chunked, length = _framing(headers)
    if chunked:
        return await _chunks(reader)
    if length is not None:
        try:
            return await reader.readexactly(min(length, BODY_LIMIT))
        except asyncio.IncompleteReadError as e:
            raise BadAnswer(f"the answer was cut short ({len(e.partial)} of {length} bytes of body)") from None
    return await reader.read(BODY_LIMIT)


async def _chunks(reader: asyncio.StreamReader) -> bytes:
    data = bytearray()
    while len(data) < BODY_LIMIT:
        size_line = await _line(reader, "chunked body")
        m = _CHUNK.match(size_line)
        if not m:
            raise BadAnswer("its chunked body is malformed (a chunk size is not hexadecimal)")
        size = int(m.group(1), 16)
        if size == 0:
            break
        try:
            data += await reader.readexactly(min(size, BODY_LIMIT - len(data) + 1))
        except asyncio.IncompleteReadError:
            raise BadAnswer("the answer was cut short in the middle of a chunk") from None
        if len(data) > BODY_LIMIT:
            break
        if (await _line(reader, "chunked body")).strip():
            raise BadAnswer("its chunked body is malformed (no line end after a chunk)")
    return bytes(data[:BODY_LIMIT])


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
