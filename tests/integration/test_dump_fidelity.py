"""Fidelity through the real mitmdump: every captured dump in tests/fixtures/dumps, replayed as the same request
(scheme, public host, path) through mitmdump with the dump's built-in profile, reaches an echo app with the dump's
header names (in order where the dump's order is trustworthy) and value formats, and nothing else from the front end."""

import re

import pytest

from dumps import differences, dump_profiles, read_dump
from harness import Browser, mitmdump, python_app
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


@pytest.mark.parametrize("dump, profile", dump_profiles())
def test_a_captured_dump_through_the_real_mitmdump(dump, profile, echo, confdir):
    inputs, expected, ordered = read_dump(dump)
    sets = [f"frontend={profile}", f"frontend_scheme={inputs['scheme']}", f"frontend_host={inputs['host']}"]
    if inputs["scheme"] == "http":
        sets.append("frontend_redirect=off")  # the dump was a plain-HTTP request the front end let through
    with mitmdump(echo.port, *sets, confdir=confdir) as proxy:
        reply = Browser(proxy.port, tls=True).get(inputs["path"])
    assert reply.status == 200, (reply.status, reply.body[:200])
    seen = reply.json()
    assert seen["path"] == inputs["path"]
    ours = {r.key for r in load_profile(profile).request if r.client != "strip"} | {k.lower() for k, _ in expected}
    got = [(k, as_client(v, PEER)) for k, v in seen["headers"] if k.lower() in ours - {"host"}]
    client_ip = inputs["client"].rsplit(":", 1)[0]
    wanted = [(k, v if v.startswith("~") else as_client(v, client_ip)) for k, v in expected]
    assert differences(wanted, got, ordered) == []
