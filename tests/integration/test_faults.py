"""Faults with the real mitmdump: a dead or broken app, slow reference requests, big bodies, WebSockets, HTTP/2,
many connections, a script reload, and every bad option value."""

import asyncio
import hashlib
import http.client
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import ADDON, Browser, Process, free_port, mitmdump, mitmdump_path, node_app, require

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def app():
    with node_app("fault-app.js") as p:
        yield p


def expected_download() -> bytes:
    chunks = []
    for i in range(5 * MIB // (64 * 1024)):
        hexed = hashlib.sha512(f"chunk-{i}".encode()).digest().hex()
        chunks.append((hexed * 512)[:64 * 1024].encode())
    return b"".join(chunks)


def test_the_app_down_gives_502_and_the_addon_survives(confdir):
    port = free_port()
    with mitmdump(port, confdir=confdir) as proxy:
        reply = Browser(proxy.port, tls=True).get("/seen")
        assert reply.status == 502
        with node_app("fault-app.js", port=port):
            again = Browser(proxy.port, tls=True).get("/seen")
    assert again.status == 200 and "X-ARR-SSL" in json.loads(again.body)
    assert "Addon error" not in proxy.output and "Traceback" not in proxy.output


def test_the_app_resetting_mid_response(app, confdir):
    with mitmdump(app.port, confdir=confdir) as proxy:
        try:
            broken = Browser(proxy.port, tls=True).get("/reset")
            assert broken.status in (200, 502)
        except (http.client.HTTPException, OSError):
            pass  # the client sees its connection cut: what a reset must look like
        assert Browser(proxy.port, tls=True).get("/echo/after").status == 200
    assert "Addon error" not in proxy.output and "Traceback" not in proxy.output


def test_a_slow_reference_request_does_not_delay_the_client(app, confdir, tmp_path):
    report = tmp_path / "r.json"
    with mitmdump(app.port, f"frontend_report={report}", confdir=confdir) as proxy:
        started = time.monotonic()
        reply = Browser(proxy.port, tls=True).get("/slow-reference")
        elapsed = time.monotonic() - started
        assert reply.status == 200 and elapsed < 1.5, f"the client waited {elapsed:.2f}s"
        proxy.stop(timeout=20)  # the comparison still in flight finishes before the report is written
    found = {(f["rule"], f["subject"]) for f in json.loads(report.read_text())["findings"]}
    assert ("secure-cookie-dropped", "late") in found


def test_a_5_mib_streamed_download_and_upload_arrive_byte_identical(app, confdir):
    body = expected_download()
    with mitmdump(app.port, "stream_large_bodies=1m", confdir=confdir) as proxy:
        got = Browser(proxy.port, tls=True).get("/download", timeout=60)
        assert got.status == 200 and hashlib.sha256(got.body).hexdigest() == hashlib.sha256(body).hexdigest()
        sent = Browser(proxy.port, tls=True).request("POST", "/upload", body=body, timeout=60)
    assert json.loads(sent.body) == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def test_the_same_without_streaming(app, confdir):
    body = expected_download()
    with mitmdump(app.port, confdir=confdir) as proxy:
        got = Browser(proxy.port, tls=False).get("/download", timeout=60)
    assert got.body == body


def test_websocket_upgrade_carries_the_profiles_headers_and_messages_pass_intact(confdir):
    websockets = pytest.importorskip("websockets")
    from websockets.sync.client import connect

    seen = {}
    port = free_port()

    async def echo(ws):
        seen.update(ws.request.headers)
        async for message in ws:
            await ws.send(message)

    async def serve(stop: asyncio.Event):
        async with websockets.serve(echo, "127.0.0.1", port, max_size=None):
            await stop.wait()

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(stop),), daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if socket.socket().connect_ex(("127.0.0.1", port)) == 0:
                break
            time.sleep(0.05)
        big = bytes(range(256)) * 4096  # 1 MiB
        with mitmdump(port, confdir=confdir) as proxy:
            context = ssl._create_unverified_context()
            with connect(f"wss://localhost:{proxy.port}/chat", ssl=context, max_size=None) as ws:
                ws.send("hello ünïcode")
                assert ws.recv() == "hello ünïcode"
                ws.send(big)
                assert ws.recv() == big
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(5)
    headers = {k.lower(): v for k, v in seen.items()}
    assert headers["upgrade"].lower() == "websocket"
    assert "x-arr-ssl" in headers and headers["x-forwarded-for"].endswith(tuple("0123456789"))


def test_an_http2_client(app, confdir):
    curl = shutil.which("curl")
    require(bool(curl), "needs curl for an HTTP/2 client")
    with mitmdump(app.port, confdir=confdir) as proxy:
        done = subprocess.run([curl, "-sk", "--http2", "-w", "\n%{http_version}", f"https://localhost:{proxy.port}/seen"],
                              capture_output=True, text=True, timeout=20)
    body, version = done.stdout.rsplit("\n", 1)
    assert version == "2" and "X-ARR-SSL" in json.loads(body)


def test_200_concurrent_connections_every_body_identical_none_lost(app, confdir):
    connections, per_connection = 200, 8

    def client(n: int) -> list[bool]:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=60)
        results = []
        try:
            for i in range(per_connection):
                path = f"/echo/{n}-{i}"
                conn.request("GET", path)
                body = conn.getresponse().read()
                results.append(body == hashlib.sha256(path.encode()).hexdigest().encode() * 64)
        finally:
            conn.close()
        return results

    with mitmdump(app.port, confdir=confdir) as proxy, ThreadPoolExecutor(connections) as pool:
        results = [ok for batch in pool.map(client, range(connections)) for ok in batch]
    assert len(results) == connections * per_connection and all(results)
    assert "Addon error" not in proxy.output


def test_a_hot_reload_of_the_script_keeps_working_and_keeps_the_findings(confdir, tmp_path):
    script = tmp_path / "azure_arr.py"
    source = ADDON.read_text().replace(
        "_here = os.path.dirname(os.path.abspath(__file__))", f"_here = {str(ADDON.parent)!r}")
    script.write_text(source)
    report = tmp_path / "r.json"
    with node_app("express/session-app.js") as app:
        proxy = Process("mitmdump", [mitmdump_path(), "-s", str(script), "--mode",
                                     f"reverse:http://127.0.0.1:{app.port}@127.0.0.1:{(port := free_port())}",
                                     "--set", f"confdir={confdir}", "--set", f"frontend_report={report}"])
        with proxy:
            proxy.start().wait_ready(port, "offload: ")
            assert Browser(port, tls=True).get("/login").status == 200
            time.sleep(0.5)
            script.write_text(source + "\n# edited\n")
            deadline = time.monotonic() + 15
            while proxy.output.count("offload: emulating") < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert proxy.output.count("offload: emulating") == 2, proxy.output
            seen = Browser(port, tls=True).get("/seen").json()
            assert any(k.lower() == "x-arr-ssl" for k, _ in seen["headers"])
            proxy.stop(timeout=20)
    doc = json.loads(report.read_text())
    assert ("secure-cookie-dropped", "connect.sid") in {(f["rule"], f["subject"]) for f in doc["findings"]}
    assert doc["summary"]["flows"] == 2  # counted across the reload
    assert "Traceback" not in proxy.output


@pytest.mark.parametrize("option, message", [
    ("frontend=azure", "frontend: unknown front end 'azure'; valid: akamai, aws-alb"),
    ("frontend_scheme=tls", "frontend_scheme: 'tls' is not valid; allowed values: https, auto, http"),
    ("frontend_xfp=yes", "frontend_xfp: 'yes' is not valid; allowed values: profile, on, off"),
    ("frontend_host=https://x.example/", "frontend_host: 'https://x.example/' is not a host name"),
    ("frontend_peer=169.254.129", "frontend_peer: '169.254.129' is not an IP address"),
    ("frontend_peer=192.0.2.77", "frontend_peer: 192.0.2.77 is not an address of this machine"),
    ("frontend_affinity=yes", "frontend_affinity: 'yes' is not valid; allowed values: true, false"),
    ("frontend_compare=some", "frontend_compare: 'some' is not valid; allowed values: safe, all, off"),
    ("frontend_report=/nonexistent-dir/r.json", "frontend_report: folder /nonexistent-dir does not exist"),
    ("frontend_junit=/nonexistent-dir/r.xml", "frontend_junit: folder /nonexistent-dir does not exist"),
    ("frontend_fail_on=errors", "frontend_fail_on: 'errors' is not valid; allowed values: never, error, warning"),
])
def test_every_bad_option_value_stops_startup_with_exit_status_1(app, confdir, option, message):
    proxy = mitmdump(app.port, option, confdir=confdir, wait=False)
    with proxy:
        assert proxy.proc.wait(20) == 1, proxy.output
    assert message in proxy.output
    assert "Traceback" not in proxy.output, proxy.output
    assert len(proxy.output.strip().splitlines()) <= 5, proxy.output  # the peer error adds its fix on a line
