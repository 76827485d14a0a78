"""Misbehaving backends for the hostile tests and scripts/stress: raw asyncio servers whose every byte is chosen.

Each server runs on 127.0.0.1 in a thread of its own, answers one request per connection and closes it, and stops
with its `with` block. Nothing here waits for ever: every slow answer has an end (MAX_STALL seconds at most).
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
import zlib
from collections.abc import Awaitable, Callable

MAX_STALL = 60.0  # the longest any answer here dribbles on
MIB = 1024 * 1024

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

# Planted secrets: none of these may appear in anything offload writes.
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJTRUNSRVQtand0LTQ0MSJ9."
       "c2lnbmF0dXJlLVNFQ1JFVC1qd3QtNDQx")
SECRETS = {
    "jwt": JWT,
    "jsessionid": "SECRETjsess8A1C55F0",
    "bare": "SECRETbareQ7zXk2",
    "password": "SECRETpw-93f1",
}


class RawServer:
    """An asyncio TCP server on 127.0.0.1, in a thread: `handler(reader, writer)` answers each connection."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.connections = 0

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self.stop_event = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0, limit=4 * MIB)
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        async with server:
            await self.stop_event.wait()
        server.close()

    async def _handle(self, reader, writer) -> None:
        self.connections += 1
        try:
            await asyncio.wait_for(self.handler(reader, writer), MAX_STALL + 5)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    def __enter__(self) -> RawServer:
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("the test server did not start")
        return self

    def __exit__(self, *exc) -> None:
        if self.loop:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(5)


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str]]:
    """(method, path, headers with lower-case names) of one request; its body is read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length:
        await reader.readexactly(length)
    return method, path, headers


def answer(status: int, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    head = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers]
    head += [f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def bomb(encoding: str, size: int = 256 * MIB) -> bytes:
    """`size` bytes of zeros, compressed: a few hundred kilobytes (brotli, zstd: a few hundred bytes)."""
    zeros = b"\0" * MIB
    if encoding in ("gzip", "deflate"):
        c = zlib.compressobj(9, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
        return b"".join(c.compress(zeros) for _ in range(size // MIB)) + c.flush()
    if encoding == "br":
        import brotli
        c = brotli.Compressor(quality=5)
        return b"".join(c.process(zeros) for _ in range(size // MIB)) + c.finish()
    if encoding == "zstd":
        from offload.body import _zstd_module
        zstd = _zstd_module()  # backports.zstd with mitmproxy 12, zstandard with mitmproxy 11
        c = zstd.ZstdCompressor().compressobj() if zstd.__name__ == "zstandard" else zstd.ZstdCompressor()
        return b"".join(c.compress(zeros) for _ in range(size // MIB)) + c.flush()
    raise ValueError(encoding)


class HostileApp:
    """The app that streams, dribbles, bombs and plants secrets; it counts the requests it gets per path."""

    def __init__(self) -> None:
        self.hits: collections.Counter[str] = collections.Counter()
        self.references = 0  # requests carrying X-Forwarded-Proto: https (offload's reference requests)
        self.bombs: dict[str, bytes] = {}
        self.fixed: dict[str, tuple[list[tuple[str, str]], bytes]] = {}  # path -> (headers, body), served as is
        self.server = RawServer(self.handle)

    def __enter__(self) -> HostileApp:
        self.server.__enter__()
        self.port = self.server.port
        return self

    def __exit__(self, *exc) -> None:
        self.server.__exit__(*exc)

    async def handle(self, reader, writer) -> None:
        method, path, headers = await read_request(reader)
        self.hits[path.split("?")[0]] += 1
        reference = headers.get("x-forwarded-proto") == "https"
        self.references += reference
        host = headers.get("host", "localhost")
        parts = path.split("?")[0].split("/")
        kind = parts[1] if len(parts) > 1 else ""
        if path in self.fixed:
            writer.write(answer(200, *self.fixed[path]))
        elif kind == "events":  # server-sent events that never end (until MAX_STALL)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            await self._dribble(writer, lambda i: b"%x\r\ndata: %d\n\n\r\n" % (len(b"data: %d\n\n" % i), i), 0.5)
        elif kind == "trickle":  # a body of 60 bytes, one every half second
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 60\r\n\r\n")
            await self._dribble(writer, lambda i: b"x", 0.5, count=60)
        elif kind == "slowref":  # fast for the client; the reference request (seeing HTTPS) dribbles for ever
            if reference:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n")
                await self._dribble(writer, lambda i: b"x", 1.0)
            else:
                writer.write(answer(200, [("Content-Type", "text/plain")], b"ok"))
        elif kind == "bomb":  # /bomb/<encoding>
            encoding = parts[2]
            if encoding not in self.bombs:
                self.bombs[encoding] = bomb(encoding)
            writer.write(answer(200, [("Content-Type", "text/html"), ("Content-Encoding", encoding)],
                                self.bombs[encoding]))
        elif kind == "charset":  # /charset/<name>: a page that names a codec that is no text charset
            page = ("<p>ünïcödé http://example.org/ " + "x" * 60 + "</p>\n") * (MIB // 80)
            writer.write(answer(200, [("Content-Type", f"text/html; charset={parts[2]}")], page.encode()))
        elif kind == "cookies":  # /cookies/<n>: n Set-Cookie lines, none Secure
            n = int(parts[2])
            writer.write(answer(200, [("Content-Type", "text/plain")] + [("Set-Cookie", f"c{i}=v; Path=/")
                                                                         for i in range(n)], b"ok"))
        elif kind == "jwt":  # a token in the path, redirected to http:// with the token and a bare query token
            writer.write(answer(302, [("Location", f"http://{host}{path.split('?')[0]}?{SECRETS['bare']}")]))
        elif kind.startswith("matrix;"):  # /matrix;jsessionid=.../page: a cookie without Secure
            writer.write(answer(200, [("Set-Cookie", "pref=1; Path=/")], b"ok"))
        elif kind == "bare":  # /bare?<token>: a cookie without Secure
            writer.write(answer(200, [("Set-Cookie", "pref=1; Path=/")], b"ok"))
        elif kind == "userinfo":  # a redirect to http:// with credentials in it
            writer.write(answer(302, [("Location", f"http://admin:{SECRETS['password']}@{host}/x")]))
        else:  # /ok, /counted, /long/...: a small page
            writer.write(answer(200, [("Content-Type", "text/html")], b"<p>ok</p>"))
        await writer.drain()

    @staticmethod
    async def _dribble(writer, piece: Callable[[int], bytes], every: float, count: int | None = None) -> None:
        started, i = time.monotonic(), 0
        while time.monotonic() - started < MAX_STALL and (count is None or i < count):
            writer.write(piece(i))
            await writer.drain()
            i += 1
            await asyncio.sleep(every)
        if count is None:
            writer.transport.abort()


# --- servers that do not speak HTTP properly, for offload probe --------------------------------------------------

def _once(data: bytes) -> Handler:
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(data)
        await writer.drain()
    return handler


async def _trickle(reader, writer) -> None:
    await read_request(reader)
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(1.0)


BAD_SERVERS: dict[str, Handler] = {
    "garbage": _once(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 certainly not HTTP\r\n\r\n"),
    "http/0.9": _once(b"<html>an HTTP/0.9 answer: a body and no status line</html>\n"),
    "101 headers": _once(b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(101))
                         + b"Content-Length: 2\r\n\r\nok"),
    "a 100 KB header line": _once(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 100_000 + b"\r\n\r\n"),
    "a bad chunk": _once(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n0\r\n\r\n"),
    "1 byte a second": _trickle,
    "closed mid-header": _once(b"HTTP/1.1 200 OK\r\nContent-Type: text/ht"),
    "a truncated body": _once(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b"),
}
