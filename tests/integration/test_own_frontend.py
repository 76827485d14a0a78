"""Your own front end, end to end: a profile file given by its path to the real mitmdump and to offload probe."""

import json
import subprocess
import sys

import pytest

from harness import Browser, diagnose, mitmdump, node_app

pytestmark = pytest.mark.integration

# A company's load balancer that says HTTPS only with X-Forwarded-Ssl: on (which Express does not read).
SSL_ONLY = """\
summary = "our load balancer: X-Forwarded-For appended, X-Forwarded-Ssl: on for HTTPS"

[sources]
L1 = "the load balancer's configuration, ops wiki"

[[request.headers]]
name = "X-Forwarded-For"
value = "${client_ip}"
client = "append"
source = "[OBS L1]"

[[request.headers]]
name = "X-Forwarded-Ssl"
value = "on"
when = "https"
client = "set"
source = "[OBS L1]"
"""
WITH_XFP = SSL_ONLY + """
[[request.headers]]
name = "X-Forwarded-Proto"
value = "${scheme}"
client = "set"
source = "[OBS L1] added after the outage"
"""


@pytest.fixture(scope="module")
def seed_app():
    with node_app("express/session-app.js") as app:
        yield app


def test_the_addon_emulates_a_users_own_front_end(seed_app, confdir, tmp_path):
    profile = tmp_path / "our-lb.toml"
    profile.write_text(SSL_ONLY)
    run = diagnose(seed_app.port, lambda port: Browser(port, tls=True).get("/login"), f"frontend={profile}",
                   confdir=confdir, folder=tmp_path / "ssl-only")
    assert ("secure-cookie-dropped", "connect.sid") in run.found() and run.status == 3
    assert "offload: emulating our-lb" in run.output and run.report["frontends"] == ["our-lb"]
    profile.write_text(WITH_XFP)
    fixed = diagnose(seed_app.port, lambda port: Browser(port, tls=True).get("/login"), f"frontend={profile}",
                     confdir=confdir, folder=tmp_path / "xfp")
    assert fixed.problems() == set() and fixed.status == 0


def test_a_mistake_in_a_profile_file_stops_startup_with_exit_1_and_one_clear_line(seed_app, confdir, tmp_path):
    profile = tmp_path / "broken.toml"
    profile.write_text(SSL_ONLY.replace('client = "set"', 'client = "replace"'))
    proxy = mitmdump(seed_app.port, f"frontend={profile}", confdir=confdir, wait=False)
    with proxy:
        assert proxy.proc.wait(20) == 1, proxy.output
    assert (f"frontend: {profile}, line 12: request header #2 (X-Forwarded-Ssl): client must be one of set, append"
            in proxy.output), proxy.output
    assert "Traceback" not in proxy.output


def test_probe_takes_a_profile_file_beside_built_in_names(seed_app, tmp_path):
    profile = tmp_path / "our-lb.toml"
    profile.write_text(SSL_ONLY)
    done = subprocess.run([sys.executable, "-m", "offload", "probe", f"http://127.0.0.1:{seed_app.port}/login",
                           "--frontend", f"{profile},azure-appservice", "--json", "-"], capture_output=True,
                          text=True, timeout=60, env={"PATH": "", "NO_COLOR": "1"}, cwd=tmp_path)
    report = json.loads(done.stdout)
    assert done.returncode == 1 and report["frontends"] == ["our-lb", "azure-appservice"]
    assert {(f["rule"], f["frontend"]) for f in report["findings"] if f["severity"] == "error"} == {
        ("secure-cookie-dropped", "our-lb")}
