"""Fidelity through the real mitmdump: every captured dump in tests/fixtures/dumps, replayed as the same request
(scheme, public host, path) through mitmdump with the dump's built-in profile, reaches an echo app with the dump's
header names (in order where the dump's order is trustworthy) and value formats, and nothing else from the front end;
and so does a profile `offload profile from-dump` made from that dump."""

import json
import re
import subprocess
import sys

import pytest

from dumps import DUMPS, check, differences, dump_profiles, front_end_headers, read_dump, sent
from harness import mitmdump, python_app
from offload.profiles import load_profile

pytestmark = pytest.mark.integration
PEER = "127.0.0.1"  # the client as mitmdump sees this test


@pytest.fixture(scope="module")
def echo():
    with python_app(["echo_app.py", "{port}"]) as app:
        yield app


def as_client(value: str, ip: str) -> str:
    """A value with the client's address (and port) in a fixed form, so the dump's client and this test's compare."""
    return re.sub(rf"(?<![\d.]){re.escape(ip)}(:\d+)?(?![\d.])", lambda m: "203.0.113.1" + (":1" if m[1] else ""),
                  value)


def replay(dump, profile, echo, confdir):
    """The dump's request (scheme, public host, path) through mitmdump with `profile`: how the front end's headers
    the app received differ from the dump's (names, order, value formats)."""
    inputs, expected, ordered = read_dump(dump)
    sets = [f"frontend={profile}", f"frontend_scheme={inputs['scheme']}", f"frontend_host={inputs['host']}"]
    if inputs["scheme"] == "http":
        sets.append("frontend_redirect=off")  # the dump was a plain-HTTP request the front end let through
    version = inputs.get("http", "1.1")  # the dump's client spoke HTTP/2 to the front end where Via says so
    with mitmdump(echo.port, *sets, confdir=confdir) as proxy:
        # curl sends only Host, User-Agent and Accept of its own, as the dumps' clients did
        done = subprocess.run(["curl", "-sSk", "--http1.1" if version == "1.1" else "--http2", "--max-time", "20",
                               *[a for k, v in sent(dump) for a in ("-H", f"{k}: {v}")], "-o", "-",
                               "-w", "\n%{http_code} %{http_version}", f"https://127.0.0.1:{proxy.port}{inputs['path']}"],
                              capture_output=True, text=True, timeout=30)
    body, _, status = done.stdout.rpartition("\n")
    assert status == f"200 {version}", (done.stdout[-300:], done.stderr)
    seen = json.loads(body)
    assert seen["path"] == inputs["path"]
    rules = {r.key for r in load_profile(str(profile)).request if r.client != "strip"}
    got = [(k, as_client(v, PEER)) for k, v in front_end_headers(seen["headers"], rules, expected)]
    client_ip = inputs["client"].rsplit(":", 1)[0]
    wanted = [(k, v.replace(re.escape(client_ip), re.escape(as_client(client_ip, client_ip))) if v.startswith("~")
               else as_client(v, client_ip)) for k, v in expected]
    return got, wanted, ordered


@pytest.mark.parametrize("dump, profile", dump_profiles())
def test_a_captured_dump_through_the_real_mitmdump(dump, profile, echo, confdir):
    got, wanted, ordered = replay(dump, profile, echo, confdir)
    check(dump, differences(wanted, got, ordered))


@pytest.mark.parametrize("dump", [d for d, _ in dump_profiles()])
def test_a_profile_made_from_each_dump_through_the_real_mitmdump(dump, echo, confdir, tmp_path):
    """offload profile from-dump, then the dump's request through mitmdump with that profile: the dump again."""
    profile = tmp_path / "from-dump.toml"
    subprocess.run([sys.executable, "-m", "offload", "profile", "from-dump", str(DUMPS / dump), "-o", str(profile)],
                   check=True, timeout=60, capture_output=True)
    got, wanted, _ = replay(dump, profile, echo, confdir)
    assert differences(wanted, got, ordered=True, patterns=False) == {}
