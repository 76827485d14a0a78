"""Stress figures for offload under hostile traffic, each against plain mitmdump in the same run where that applies.

1. Added latency per response of up to 2 MiB on the wire: pages, compression bombs, codecs that are no charsets,
   thousands of Set-Cookie lines (median of several requests each, the addon's time minus plain mitmdump's).
2. RSS growth of mitmdump over N unique 60 KB routes (default 10,000), with the addon and without.
3. Shutdown time with 16 slow reference requests in flight (SIGTERM to exit).
Goals (issue 9): < 100 ms added per response, < 50 MB growth over 10,000 routes, shutdown < settle timeout + 1 s.
Backends: tests/hostile.py, on 127.0.0.1 only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import re
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "addons"))
from harness import free_port, mitmdump  # noqa: E402
from hostile import MIB, HostileApp, bomb  # noqa: E402

from offload.session import SETTLE_TIMEOUT  # noqa: E402

GOALS = {"latency_ms": 100.0, "rss_mb": 50.0, "shutdown_s": SETTLE_TIMEOUT + 1.0}


def get(port: int, path: str) -> float:
    """Seconds for one GET read to its end (raw socket: http.client refuses more than 100 headers)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: myapp.example\r\nConnection: close\r\n\r\n".encode())
        while s.recv(1 << 16):
            pass
    return time.monotonic() - started


def rss_mb(pid: int) -> float:
    return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1)) / 1024


def heavy_responses(app: HostileApp) -> list[str]:
    """Register the heavy answers (each at most 2 MiB on the wire) and return their paths."""
    line = ("<p>ünïcödé <a href='http://myapp.example/x'>link</a> " + "x" * 60 + "</p>\n").encode()
    page = line * (2 * MIB // len(line))
    cases = {
        "/heavy/html-2mib": ([("Content-Type", "text/html; charset=utf-8")], page),
        "/heavy/gzip-2mib-page": ([("Content-Type", "text/html"), ("Content-Encoding", "gzip")], gzip.compress(page)),
        "/heavy/gzip-bomb-2gib": ([("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
                                  bomb("gzip", 2048 * MIB)),
        "/heavy/br-bomb-4gib": ([("Content-Type", "text/html"), ("Content-Encoding", "br")], bomb("br", 4096 * MIB)),
        "/heavy/zstd-bomb-4gib": ([("Content-Type", "text/html"), ("Content-Encoding", "zstd")],
                                  bomb("zstd", 4096 * MIB)),
        "/heavy/charset-punycode": ([("Content-Type", "text/html; charset=punycode")], page),
        "/heavy/charset-idna": ([("Content-Type", "text/html; charset=idna")], page),
        "/heavy/charset-utf-16": ([("Content-Type", "text/html; charset=utf-16")], page),
        "/heavy/20000-set-cookie": ([("Content-Type", "text/plain")]
                                    + [("Set-Cookie", f"c{i}=v; Path=/") for i in range(20_000)], b"ok"),
    }
    for path, (headers, body) in cases.items():
        assert len(body) <= 2 * MIB, (path, len(body))
        app.fixed[path] = (headers, body)
    return list(cases)


def latency(app: HostileApp, confdir: str, repeat: int) -> float:
    paths = heavy_responses(app)
    print(f"1. added latency per heavy response (median of {repeat}; addon minus plain mitmdump)", flush=True)
    plain_port, port = free_port(), free_port()
    worst = 0.0
    with mitmdump(app.port, "flow_detail=0", port=plain_port, confdir=confdir, addon=False), \
            mitmdump(app.port, "flow_detail=0", port=port, confdir=confdir) as proxy:
        for path in paths:
            plain = statistics.median(get(plain_port, path) for _ in range(repeat))
            addon = statistics.median(get(port, path) for _ in range(repeat))
            added = (addon - plain) * 1000
            worst = max(worst, added)
            headers, body = app.fixed[path]
            wire = len(body) + sum(len(k) + len(v) + 4 for k, v in headers)
            print(f"   {path:<28} {wire / 1024:8.0f} KiB on the wire: plain {plain * 1000:7.1f} ms, "
                  f"addon {addon * 1000:7.1f} ms, added {added:+7.1f} ms", flush=True)
        print(f"   mitmdump with the addon: RSS {rss_mb(proxy.proc.pid):.0f} MB after all of them")
    return worst


def memory(app: HostileApp, confdir: str, routes: int) -> dict[str, float]:
    print(f"\n2. RSS growth over {routes} unique 60 KB routes", flush=True)
    segment = "abcdefghij" * 6000  # letters: not an id, so each path is a route of its own
    growth = {}
    for name, addon in (("plain", False), ("addon", True)):
        port = free_port()
        with mitmdump(app.port, "flow_detail=0", port=port, confdir=confdir, addon=addon) as proxy:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

            def one(i: int) -> None:
                conn.request("GET", f"/long/{i}x{segment}")
                conn.getresponse().read()

            for i in range(100):
                one(i)
            time.sleep(1)
            before = rss_mb(proxy.proc.pid)
            started = time.monotonic()
            for i in range(100, 100 + routes):
                one(i)
            time.sleep(6 if addon else 1)  # the last comparisons finish
            growth[name] = rss_mb(proxy.proc.pid) - before
            conn.close()
            print(f"   {name:<6} {before:.0f} MB -> {before + growth[name]:.0f} MB ({growth[name]:+.1f} MB) "
                  f"in {time.monotonic() - started:.0f} s", flush=True)
    return growth


def shutdown(app: HostileApp, confdir: str) -> float:
    print("\n3. shutdown with 16 slow reference requests in flight", flush=True)
    port = free_port()
    with mitmdump(app.port, port=port, confdir=confdir) as proxy:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for name in "abcdefghijklmnop":  # 16 routes; their reference requests dribble for a minute
            conn.request("GET", f"/slowref/{name}")
            conn.getresponse().read()
        conn.close()
        time.sleep(0.5)
        started = time.monotonic()
        proxy.stop(timeout=60)
        elapsed = time.monotonic() - started
    cut = re.findall(r"offload: (\d+) comparison\(s\) still running .* were cut short", proxy.output)
    print(f"   SIGTERM to exit: {elapsed:.1f} s; references started by the app's count: {app.references}; "
          f"cut short at exit: {cut[0] if cut else 0}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/stress", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--routes", type=int, default=10_000, help="unique routes for the memory figure")
    parser.add_argument("--repeat", type=int, default=5, help="requests per heavy response")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as confdir, HostileApp() as app:
        worst = latency(app, confdir, args.repeat)
        growth = memory(app, confdir, args.routes)
        down = shutdown(app, confdir)
    figures = {"latency_ms": worst, "rss_mb": growth["addon"], "shutdown_s": down}
    met = sum(figures[k] < GOALS[k] for k in GOALS)
    print(f"\nstress summary: worst added latency {worst:+.0f} ms (goal < {GOALS['latency_ms']:.0f}); RSS growth over "
          f"{args.routes} routes {growth['addon']:+.1f} MB (plain mitmdump {growth['plain']:+.1f} MB; goal < "
          f"{GOALS['rss_mb']:.0f}); shutdown {down:.1f} s (goal < {GOALS['shutdown_s']:.0f}); {met}/3 goals met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
