"""The reference client against servers in the test's own event loop: answers read right, misbehaviour named, deadlines
kept; and the scheduler that decides which flows get a reference request."""

import asyncio
import time

import pytest

from offload.reference import MAX_HEADERS, BadAnswer, Target, send
from offload.scheduler import Scheduler


async def serve(reply: bytes | None = None, handler=None):
    async def default(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(reply)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handler or default, "127.0.0.1", 0)
    return server, Target("localhost", server.sockets[0].getsockname()[1], address="127.0.0.1")


async def answer_to(reply: bytes, method: str = "GET", timeout: float = 2.0):
    server, target = await serve(reply)
    async with server:
        return await send(target, method, "/x", [("Host", "myapp.example")], timeout=timeout)


async def test_a_plain_answer_with_content_length():
    a = await answer_to(b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 5\r\n\r\nhello")
    assert a.status == 200 and a.body == b"hello"
    assert [v for k, v in a.headers if k == "Set-Cookie"] == ["a=1", "b=2"]


async def test_a_chunked_answer_and_one_read_to_the_close():
    chunked = await answer_to(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n")
    assert chunked.body == b"hello world"
    closed = await answer_to(b"HTTP/1.0 200 OK\r\n\r\nuntil the end")
    assert closed.body == b"until the end"


async def test_interim_answers_are_skipped_and_head_has_no_body():
    a = await answer_to(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
    assert a.status == 204 and a.body == b""
    head = await answer_to(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", method="HEAD")
    assert head.status == 200 and head.body == b""


async def test_the_request_is_sent_as_given_with_its_own_framing():
    got = {}

    async def capture(reader, writer):
        got["head"] = await reader.readuntil(b"\r\n\r\n")
        got["body"] = await reader.readexactly(4)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        writer.close()

    server, target = await serve(handler=capture)
    async with server:
        await send(target, "POST", "/p?q=1", [("Host", "myapp.example"), ("Cookie", "a=1"), ("cookie", "b=2"),
                                              ("Transfer-Encoding", "chunked"), ("X-Arr-Ssl", "x")], b"body")
    head = got["head"].decode()
    assert head.startswith("POST /p?q=1 HTTP/1.1\r\nHost: myapp.example\r\n")
    assert "Cookie: a=1; b=2\r\n" in head and "Content-Length: 4\r\n" in head and "Transfer-Encoding" not in head
    assert "Accept-Encoding: identity" in head and "Connection: close" in head and got["body"] == b"body"


@pytest.mark.parametrize("reply, message", [
    (b"\x16\x03\x01 garbage\r\n\r\n", "not HTTP/1.x"),
    (b"<html>HTTP/0.9</html>\n", "not HTTP/1.x"),
    (b"", "closed before the answer began"),
    (b"HTTP/1.1 200 OK\r\nContent-Ty", "closed in the middle of its header"),
    (b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS + 1)) + b"\r\n",
     f"more than {MAX_HEADERS} header fields"),
    (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", "longer than 64 KiB"),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size is not hexadecimal"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort", "cut short in the middle of a chunk"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nten bytes.", "cut short (10 of 100 bytes"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", "not one valid number"),
])
async def test_misbehaviour_is_one_clear_sentence(reply, message):
    with pytest.raises(BadAnswer, match=message.replace("(", r"\(")):
        await answer_to(reply)


async def test_the_deadline_covers_the_whole_answer_not_each_read():
    async def trickle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n" + b"x" * 50:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.1)
        writer.close()

    server, target = await serve(handler=trickle)
    async with server:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="no complete answer within 0.5 s"):
            await send(target, "GET", "/", [("Host", "h")], timeout=0.5)
        assert time.monotonic() - started < 1.5


async def test_an_app_that_is_not_there_is_an_os_error():
    with pytest.raises(OSError):
        await send(Target("127.0.0.1", 9, address="127.0.0.1"), "GET", "/", [("Host", "h")], timeout=2)


# --- the scheduler ------------------------------------------------------------------------------------------------

async def test_a_key_is_compared_once_and_at_most_four_run_at_once():
    s = Scheduler(limit=4)
    release = asyncio.Event()
    for i in range(4):
        assert s.claim(("legacy", "GET", f"/r{i}"))
        s.start(f"GET /r{i}", release.wait())
    assert not s.claim(("legacy", "GET", "/r0"))  # already compared
    assert not s.claim(("legacy", "GET", "/r9")) and s.busy == 1  # busy: skipped and counted, not claimed
    release.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not s.running and s.claim(("legacy", "GET", "/r9"))  # compared on a later request
    assert s.claim(("heroku", "GET", "/r0"))  # another front end compares the same route afresh


async def test_settle_cancels_what_outlives_the_timeout_and_names_it():
    s = Scheduler()
    s.claim("k")
    s.start("GET /slow", asyncio.sleep(60))
    started = time.monotonic()
    assert await s.settle(0.2) == ["GET /slow"]
    assert time.monotonic() - started < 1.5 and not s.running


def test_the_summary_says_what_was_not_compared():
    s = Scheduler(limit=0, max_keys=1)
    s.claim("a")
    s.failure("GET /x", "no complete answer within 5 s")
    lines = s.summary()
    assert any("not compared while 0 comparisons were running" in line for line in lines)
    assert any("GET /x: no complete answer within 5 s" in line for line in lines)


async def test_an_unexpected_error_in_a_comparison_is_counted_not_raised():
    async def broken():
        raise RuntimeError("a bug")

    s = Scheduler()
    s.start("GET /x", broken())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert s.failures == 1 and s.failed == ["GET /x: RuntimeError: a bug"] and not s.running
