"""The pytest plugin (offload.pytest_plugin) end to end: an inner pytest run (pytester, in a subprocess) whose tests
use the `offload` fixture to put the real mitmdump in front of the real Express + express-session app."""

import importlib.metadata
import os
import textwrap

import pytest

from harness import ROOT, node_app

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]

INNER_TIMEOUT = 120  # seconds for one inner pytest run (each starts mitmdump at least once, about a second)


def plugin_args() -> list[str]:
    """-p offload.pytest_plugin, unless the pytest11 entry point is installed: pytest then loads the plugin itself,
    and naming the module again would register it twice ("Plugin already registered under a different name")."""
    installed = any(ep.value == "offload.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11"))
    return [] if installed else ["-p", "offload.pytest_plugin"]


@pytest.fixture(scope="module")
def app():
    with node_app("express/session-app.js") as p:
        yield f"http://127.0.0.1:{p.port}"


@pytest.fixture(scope="module")
def fixed_app():
    """The same app with the seed's fix: x-arr-ssl => X-Forwarded-Proto: https."""
    with node_app("express/session-app.js", SEED_FIX="1") as p:
        yield f"http://127.0.0.1:{p.port}"


@pytest.fixture
def run(pytester, monkeypatch):
    """Write an inner test module (APP_URL replaced) and run pytest on it in a subprocess with the plugin."""
    addons = str(ROOT / "addons")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [addons, os.environ.get("PYTHONPATH")])))
    monkeypatch.delenv("OFFLOAD_MITMDUMP", raising=False)

    def run(source: str, app_url: str, *args: str):
        pytester.makepyfile(test_inner=textwrap.dedent(source).replace("APP_URL", repr(app_url)))
        return pytester.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider", "-v", *args,
                                             timeout=INNER_TIMEOUT)

    return run


LOGIN = """
    import time
    JSON = {"Accept": "application/json"}

    def login(proxy):
        client = proxy.client()
        reply = client.get("/login", headers=JSON)
        assert reply.status == 200, reply.text
        return client
"""


def test_legacy_front_end_fails_naming_the_rule_and_the_cookie(run, app):
    result = run(LOGIN + """
    def test_login_sticks(offload):
        proxy = offload(APP_URL)
        assert proxy.frontend == "azure-windows-legacy" and proxy.url.startswith("https://localhost:")
        client = login(proxy)
        assert "connect.sid" not in client.cookies  # the app never sent it: it did not see HTTPS
        assert client.get("/me").status == 401
        deadline = time.monotonic() + 10  # the live report: the comparison runs in the background
        while not proxy.findings and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ("secure-cookie-dropped", "connect.sid") in {(f["rule"], f["subject"]) for f in proxy.findings}
        proxy.assert_clean()
    """, app)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*offload: 1 finding at or above error behind azure-windows-legacy (app http://127.0.0.1:*",
        "  error secure-cookie-dropped GET /login connect.sid: fix for Express*x-arr-ssl*",
    ])
    assert "Traceback" not in result.stdout.str()  # assert_clean fails with the findings, not a stack


def test_live_verdict_keeps_the_proxy_running_and_teardown_stops_it(run, app, pytester):
    pids = pytester.path / "pids"
    result = run(LOGIN + f"""
    import pytest

    def test_live(offload):
        proxy = offload(APP_URL)
        open({str(pids)!r}, "w").write(str(proxy.process.pid))
        login(proxy)
        with pytest.raises(pytest.fail.Exception, match="secure-cookie-dropped GET /login connect.sid"):
            proxy.assert_clean(stop=False)
        assert proxy.running
        assert proxy.client().get("/seen", headers=JSON).status == 200
        assert False, "left running for teardown"
    """, app)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([  # a test failing on its own assert shows offload's findings so far
        "*AssertionError: left running for teardown*",
        "*- offload findings -*",
        "offload: * finding* behind azure-windows-legacy (app http://127.0.0.1:*",
        "  error secure-cookie-dropped GET /login connect.sid: fix for Express*",
    ])
    pid = int(pids.read_text())
    with pytest.raises(ProcessLookupError):  # stopped at teardown (SIGTERM), not left behind
        os.kill(pid, 0)
    reports = list(pytester.path.glob("**/offload*/report.json"))
    assert reports, "mitmdump wrote its final report when stopped"


def test_app_service_passes_and_every_client_works(run, app):
    result = run(LOGIN + """
    import json, ssl, urllib.request

    def test_login_sticks(offload):
        proxy = offload(APP_URL, frontend="azure-appservice")
        client = login(proxy)
        assert "connect.sid" in client.cookies
        assert client.get("/me").json()["user"] == "demo"
        assert isinstance(proxy.ssl_context, ssl.SSLContext) and proxy.ca_file.endswith("mitmproxy-ca-cert.pem")
        with urllib.request.urlopen(proxy.url + "/seen", context=proxy.ssl_context, timeout=10) as r:
            seen = json.load(r)
        assert seen["secure"] is True and seen["protocol"] == "https"
        session = proxy.requests_session()
        assert session.get("/login", headers=JSON, timeout=10).status_code == 200
        assert session.get("/me", timeout=10).status_code == 200
        proxy.assert_clean()
        assert not proxy.running
    """, app)
    result.assert_outcomes(passed=1)


def test_fixed_app_passes_behind_the_legacy_front_end(run, fixed_app):
    result = run(LOGIN + """
    def test_login_sticks(offload):
        proxy = offload(APP_URL, compare="all", affinity=False)
        client = login(proxy)
        assert client.post("/login", data={"user": "demo"}, headers=JSON).status == 200
        assert client.get("/me").status == 200
        proxy.assert_clean(fail_on="warning")
    """, fixed_app)
    result.assert_outcomes(passed=1)


def test_frontend_option_runs_each_test_once_per_front_end(run, app):
    result = run(LOGIN + """
    def test_login_sticks(offload, offload_frontend):
        proxy = offload(APP_URL)
        assert proxy.frontend == offload_frontend
        login(proxy)
        proxy.assert_clean()
    """, app, "--offload-frontend", "azure-appservice", "--offload-frontend", "azure-windows-legacy")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "offload 0.1.0: front ends azure-appservice, azure-windows-legacy (each test using the offload fixture*",
    ])
    result.stdout.fnmatch_lines([
        "*test_login_sticks?azure-appservice? PASSED*",
        "*test_login_sticks?azure-windows-legacy? FAILED*",
    ])
    result.stdout.fnmatch_lines(["*error secure-cookie-dropped GET /login connect.sid: *"])


def test_fail_on_option_sets_assert_cleans_default(run, app):
    result = run(LOGIN + """
    def test_login(offload):
        proxy = offload(APP_URL)
        login(proxy)
        proxy.assert_clean()
        assert proxy.findings  # found, reported, not failed
    """, app, "--offload-fail-on", "never")
    result.assert_outcomes(passed=1)


def test_bad_options_give_a_clear_error(run, app, pytester):
    sleeper = pytester.path / "not-mitmdump"
    sleeper.write_text("#!/bin/sh\nexec sleep 30\n")
    sleeper.chmod(0o755)
    result = run(f"""
    import os
    import pytest
    from offload.pytest_plugin import OffloadError

    def test_bad_value(offload):
        offload(APP_URL, xfp="sideways")

    def test_misspelt_name(offload):
        offload(APP_URL, xpf="on")

    def test_reserved(offload):
        with pytest.raises(OffloadError, match="frontend_report is the plugin's own"):
            offload(APP_URL, report="elsewhere.json")

    def test_no_banner(offload, monkeypatch):
        monkeypatch.setenv("OFFLOAD_MITMDUMP", {str(sleeper)!r})
        with pytest.raises(OffloadError, match="did not print 'offload: emulating'.* within 1 s"):
            offload(APP_URL, start_timeout=1)
    """, app)
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines([
        ("E *OffloadError: offload (azure-windows-legacy in front of http://127.0.0.1:*): mitmdump exited with "
         "status 1 before it was ready:"),
        "E *error in script *: frontend_xfp: 'sideways' is not valid; allowed values: profile, on, off",
    ])
    result.stdout.fnmatch_lines([
        "E *OffloadError: offload (*): unknown option frontend_xpf ignored; did you mean frontend_xfp?",
    ])


def test_unknown_front_end_is_a_usage_error(run, app):
    result = run("def test_nothing(offload):\n    pass\n", app, "--offload-frontend", "azure-nowhere")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--offload-frontend: unknown front end 'azure-nowhere'; known: akamai, aws-alb, *"])
