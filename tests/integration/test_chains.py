"""The chain bug through the real mitmdump: front ends in front of front ends, header by header against each hop's
profile, offload show for a chain, bad chains refused, and trust counting on real apps (Express, Flask) whose hop
count is right, too low or too high for the chain."""

import json
import re
import subprocess
import sys
import time

import pytest

from harness import Browser, diagnose, mitmdump, node_app, python_app
from offload.forward import Client, Incoming, forward
from offload.profiles import load_profile

pytestmark = pytest.mark.integration
PUBLIC = "www.contoso.com"
# Template values that follow from the request and the hop (the rest are fresh ids and times).
STABLE = {"client_ip", "client_port", "client_ip_port", "client_host", "forwarded_for", "scheme", "host", "domain",
          "site", "path", "tls_version", "port", "http_version", "http_major_minor", "affinity"}


def fresh(chain):
    """Headers whose values are made fresh per request (ids, times): compared by presence, not value."""
    return {r.key for hop in load_profile(chain).hops for r in hop.request if r.value and r.value.names - STABLE}


def same(value):
    return re.sub(r"(127\.0\.0\.1):\d+", r"\1:<port>", value)


@pytest.fixture(scope="module")
def echo():
    with python_app(["echo_app.py", "{port}"]) as app:
        yield app


def expected(chain, client_port):
    """What the chain's profiles say the app receives for curl's request from 127.0.0.1."""
    sent = [("Host", PUBLIC), ("User-Agent", "curl"), ("Accept", "*/*")]
    fwd = forward(load_profile(chain), Incoming("https", PUBLIC, "/hello", sent, Client("127.0.0.1", client_port,
                                                                                        "1.3")))
    return [(k, fwd.host if k.lower() == "host" else v) for k, v in fwd.headers if k.lower() not in ("user-agent",)]


@pytest.mark.parametrize("chain", ["cloudflare+azure-appservice", "azure-frontdoor+azure-appgateway+azure-appservice",
                                   "cloudflare+heroku"])
def test_a_chain_reaches_the_app_header_by_header_as_each_hops_profile_says(chain, echo, confdir):
    with mitmdump(echo.port, f"frontend={chain}", f"frontend_host={PUBLIC}", confdir=confdir) as proxy:
        done = subprocess.run(["curl", "-sSk", "--http1.1", "-A", "curl", "--max-time", "20",
                               f"https://127.0.0.1:{proxy.port}/hello"], capture_output=True, text=True, timeout=30)
        assert f"emulating {chain.replace('+', ' -> ')}" in proxy.output
    got = [(k, v) for k, v in json.loads(done.stdout)["headers"] if k.lower() != "user-agent"]
    want = expected(chain, 0)
    assert [k for k, _ in got] == [k for k, _ in want]
    skip = fresh(chain)
    for (name, value), (_, wanted) in zip(got, want):
        if name.lower() in skip:
            assert value, name
        else:
            assert same(value) == same(wanted), (name, value, wanted)


def test_offload_show_prints_a_chain_hop_by_hop():
    done = subprocess.run([sys.executable, "-m", "offload", "show", "cloudflare+azure-appservice"],
                          capture_output=True, text=True, timeout=60, env={"PATH": "", "NO_COLOR": "1"})
    out = done.stdout
    assert done.returncode == 0, done.stderr
    assert "Hop 1, cloudflare, passes to azure-appservice (from 172.71.150.252)" in out
    assert "+ CDN-Loop: cloudflare; loops=1" in out and "+ X-Forwarded-For: 203.0.113.7, 172.71.150.252:40000" in out


@pytest.mark.parametrize("chain, message", [
    ("cloudflare+cloudflare", "frontend: 'cloudflare+cloudflare': cloudflare appears twice"),
    ("cloudflare++heroku", "a chain names its front ends joined by '+'"),
    ("cloudflare+herokuu", "unknown front end 'herokuu'"),
])
def test_a_bad_chain_or_a_loop_stops_startup_with_exit_1(chain, message, echo, confdir):
    proxy = mitmdump(echo.port, f"frontend={chain}", confdir=confdir, wait=False)
    with proxy:
        assert proxy.proc.wait(20) == 1, proxy.output
    assert message in proxy.output and "Traceback" not in proxy.output


def whoami(port):
    Browser(port, tls=True).get("/whoami")
    time.sleep(1.0)  # the echo request runs beside the flow


@pytest.mark.parametrize("app, hops, verdict", [
    ("express", 1, "too few hops"), ("express", 2, None), ("express", 3, "too many hops"),
    ("flask", 1, "too few hops"), ("flask", 2, None),
])
def test_trust_counting_on_a_real_app_behind_two_hops(app, hops, verdict, confdir, tmp_path):
    start = (node_app("express/trust-app.js", TRUST_HOPS=str(hops)) if app == "express"
             else python_app(["trust_flask.py", "{port}"], TRUST_HOPS=str(hops)))
    with start as server:
        run = diagnose(server.port, whoami, "frontend=cloudflare+azure-appservice", "frontend_echo=/whoami",
                       confdir=confdir, folder=tmp_path)
    found = [f for f in run.report["findings"] if f["rule"] == "trusted-hops-mismatch"]
    assert [f["subject"] for f in found] == ([verdict] if verdict else []), run.output
    if verdict:
        fix = "app.set('trust proxy', 2)" if app == "express" else "x_for=2"
        assert fix in found[0]["advice"] and found[0]["severity"] == "error"
        assert "203.0.113.7" in found[0]["evidence"]


def test_three_hops_need_three(confdir, tmp_path):
    chain = "azure-frontdoor+azure-appgateway+azure-appservice"
    with node_app("express/trust-app.js", TRUST_HOPS="3") as server:
        right = diagnose(server.port, whoami, f"frontend={chain}", "frontend_echo=/whoami", confdir=confdir,
                         folder=tmp_path / "3")
    with node_app("express/trust-app.js", TRUST_HOPS="1") as server:
        wrong = diagnose(server.port, whoami, f"frontend={chain}", "frontend_echo=/whoami", confdir=confdir,
                         folder=tmp_path / "1")
    assert not [f for f in right.report["findings"] if f["rule"] == "trusted-hops-mismatch"]
    found = [f for f in wrong.report["findings"] if f["rule"] == "trusted-hops-mismatch"]
    assert len(found) == 1 and "app.set('trust proxy', 3)" in found[0]["advice"]


def test_the_probe_takes_chains_and_an_origin_host(tmp_path):
    with node_app("express/host-app.js") as app:
        done = subprocess.run([sys.executable, "-m", "offload", "probe", f"http://127.0.0.1:{app.port}/login",
                               "--frontend", "azure-frontdoor,cloudflare+azure-appservice", "--host", PUBLIC,
                               "--origin-host", "myapp.azurewebsites.net", "--json", "-"],
                              capture_output=True, text=True, timeout=60, env={"PATH": "", "NO_COLOR": "1"},
                              cwd=tmp_path)
    report = json.loads(done.stdout)
    assert done.returncode == 1 and report["frontends"] == ["azure-frontdoor", "cloudflare+azure-appservice"]
    found = {(f["rule"], f["frontend"]): f["advice"] for f in report["findings"] if f["severity"] == "error"}
    assert set(found) == {(rule, front) for rule in ("wrong-host-redirect", "cookie-domain-mismatch")
                          for front in ("azure-frontdoor", "cloudflare+azure-appservice")}
    assert "req.host" in found["wrong-host-redirect", "azure-frontdoor"]
    # Cloudflare passes the public host in no header: only the front end can give it back
    assert "passes the public host in no header" in found["wrong-host-redirect", "cloudflare+azure-appservice"]


@pytest.mark.parametrize("hops, verdict", [(1, "too few hops"), (2, None)])
def test_the_probe_counts_the_hops_an_app_trusts(hops, verdict, tmp_path):
    with node_app("express/trust-app.js", TRUST_HOPS=str(hops)) as app:
        done = subprocess.run([sys.executable, "-m", "offload", "probe", f"http://127.0.0.1:{app.port}/whoami",
                               "--frontend", "cloudflare+azure-appservice,heroku", "--echo", "/whoami", "--json", "-"],
                              capture_output=True, text=True, timeout=60, env={"PATH": "", "NO_COLOR": "1"},
                              cwd=tmp_path)
    report = json.loads(done.stdout)
    found = [(f["frontend"], f["subject"]) for f in report["findings"] if f["rule"] == "trusted-hops-mismatch"]
    # heroku alone is one hop: trust proxy 1 is right there, 2 trusts the client's own forged entry
    assert found == ([("cloudflare+azure-appservice", verdict)] if verdict else [("heroku", "too many hops")])
