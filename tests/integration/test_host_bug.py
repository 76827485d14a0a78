"""The host bug end to end: real apps behind the real mitmdump with frontend_origin_host (docs/hosts-and-chains.md).

Front Door (or Application Gateway) in front of App Service sends the origin's host name in Host and the public host
in X-Forwarded-Host (X-Original-Host). Each app (tests/apps/express/host-app.js, tests/apps/python/host_*.py) trusts
the scheme correctly and, without HOST_FIX, builds its redirect, cookie Domain and links from Host: offload reports
exactly wrong-host-redirect, cookie-domain-mismatch and backend-host-leak with the framework's fix; with HOST_FIX=1
(that fix) nothing; with the host preserved at the front end nothing either, even for the mistaken app.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from harness import Browser, Process, diagnose, free_port, mitmdump, node_app, python_app

pytestmark = pytest.mark.integration

PUBLIC = "www.contoso.com"
ORIGIN = "myapp.azurewebsites.net"
FRONT_DOOR = ("frontend=azure-frontdoor", f"frontend_host={PUBLIC}")
OVERRIDE = f"frontend_origin_host={ORIGIN}"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}

# Every app's mistake under the override: the redirect, the cookie and the link on /home all carry the origin's name.
EXPECTED = {("wrong-host-redirect", f"https://{ORIGIN}/home"), ("cookie-domain-mismatch", "sid"),
            ("backend-host-leak", "body")}

# How each app starts, the framework offload names and the part of its advice the HOST_FIX switch implements.
APPS: dict[str, tuple[Callable[..., Process], str, str]] = {
    "Express": (lambda **env: node_app("express/host-app.js", **env), "Express", "req.host"),
    "Django": (lambda **env: python_app(["host_django.py", "runserver", "127.0.0.1:{port}", "--noreload"], **env),
               "Django", "USE_X_FORWARDED_HOST = True"),
    "Flask": (lambda **env: python_app(["host_flask.py", "{port}"], **env), "Flask", "x_host=1"),
    "Starlette": (lambda **env: python_app(["host_starlette.py"], **env), "FastAPI/Starlette (uvicorn)",
                  "rewrite Host from X-Forwarded-Host"),
}


@pytest.fixture(scope="module")
def app() -> Callable[[str, bool], Process]:
    """app(name, fixed): the app started once per module (HOST_FIX=1 when fixed), stopped at the module's end."""
    running: dict[tuple[str, bool], Process] = {}

    def get(name: str, fixed: bool = False) -> Process:
        if (name, fixed) not in running:
            running[name, fixed] = APPS[name][0](**({"HOST_FIX": "1"} if fixed else {}))
        return running[name, fixed]

    yield get
    for process in running.values():
        process.close()


def login_then_home(port: int) -> None:
    """A browser at the public host logs in, then opens the page it was redirected to."""
    browser = Browser(port, tls=True)
    browser.get("/login", headers=HTML)
    browser.get("/home", headers=HTML)


def error_and_warning_findings(run) -> list[dict]:
    return [f for f in run.report["findings"] if f["severity"] in ("error", "warning")]


@pytest.mark.parametrize("name", APPS)
def test_the_mistake_is_reported_with_the_frameworks_fix(name, app, confdir, tmp_path):
    _, framework, fix = APPS[name]
    run = diagnose(app(name).port, login_then_home, *FRONT_DOOR, OVERRIDE, confdir=confdir, folder=tmp_path)
    assert run.problems() == EXPECTED, run.output
    assert run.status == 3, run.output  # frontend_fail_on=error
    findings = error_and_warning_findings(run)
    assert {f["rule"]: f["severity"] for f in findings} == {
        "wrong-host-redirect": "error", "cookie-domain-mismatch": "error", "backend-host-leak": "warning"}
    assert {f["framework"] for f in findings} == {framework}, run.output
    for f in findings:
        assert "leave the origin host header blank" in f["advice"], f["advice"]  # Front Door's no-code fix
    without_fix = [(f["rule"], f["advice"]) for f in findings if fix not in f["advice"]]
    assert not without_fix, without_fix


@pytest.mark.parametrize("name", APPS)
def test_the_advised_fix_clears_every_finding(name, app, confdir, tmp_path):
    run = diagnose(app(name, fixed=True).port, login_then_home, *FRONT_DOOR, OVERRIDE, confdir=confdir,
                   folder=tmp_path)
    assert run.problems() == set(), run.output
    assert run.status == 0, run.output


@pytest.mark.parametrize("name", APPS)
def test_with_the_host_preserved_the_mistake_does_not_show(name, app, confdir, tmp_path):
    run = diagnose(app(name).port, login_then_home, *FRONT_DOOR, confdir=confdir, folder=tmp_path)
    assert run.problems() == set(), run.output
    assert run.status == 0, run.output


def test_app_gateway_puts_the_public_host_where_django_does_not_look(app, confdir, tmp_path):
    """USE_X_FORWARDED_HOST reads X-Forwarded-Host; App Gateway sends the public host as X-Original-Host."""
    run = diagnose(app("Django", fixed=True).port, login_then_home, "frontend=azure-appgateway",
                   f"frontend_host={PUBLIC}", OVERRIDE, confdir=confdir, folder=tmp_path)
    assert run.problems() == EXPECTED, run.output
    for f in error_and_warning_findings(run):
        assert f["framework"] == "Django", run.output
        assert "X-Original-Host" in f["advice"] and "USE_X_FORWARDED_HOST" in f["advice"], f["advice"]
        assert "Pick host name from backend address" in f["advice"], f["advice"]  # App Gateway's own setting


@pytest.mark.parametrize("chain, name", [("azure-frontdoor+azure-appservice", "Express"),
                                         ("azure-frontdoor+azure-appservice", "Django"),
                                         ("azure-frontdoor+azure-appgateway+azure-appservice", "Flask")])
def test_the_host_bug_through_a_chain(chain, name, app, confdir, tmp_path):
    """Front Door's origin host override passes through the inner hops: the same findings, the same fix. Behind the
    App Gateway the public host still travels in Front Door's X-Forwarded-Host, which the fixed app reads."""
    sets = (f"frontend={chain}", f"frontend_host={PUBLIC}", OVERRIDE)
    run = diagnose(app(name).port, login_then_home, *sets, confdir=confdir, folder=tmp_path / "mistake")
    assert run.problems() == EXPECTED, run.output
    assert f"emulating {chain.replace('+', ' -> ')}" in run.output
    fixed = diagnose(app(name, fixed=True).port, login_then_home, *sets, confdir=confdir, folder=tmp_path / "fixed")
    assert fixed.problems() == set() and fixed.status == 0, fixed.output


def test_origin_host_profile_sends_the_sites_azurewebsites_name(app, confdir, tmp_path):
    """frontend_origin_host=profile: Front Door's default origin host, <site>.azurewebsites.net, site being the
    public host's first label."""
    seen = {}

    def actions(port):
        browser = Browser(port, tls=True)
        seen.update(browser.get("/whoami", headers={"Accept": "application/json"}).json())
        browser.get("/login", headers=HTML)

    run = diagnose(app("Express").port, actions, *FRONT_DOOR, "frontend_origin_host=profile", confdir=confdir,
                   folder=tmp_path)
    assert seen["host"] == "www.azurewebsites.net", seen
    assert seen["scheme"] == "https", seen
    assert ("wrong-host-redirect", "https://www.azurewebsites.net/home") in run.problems(), run.output
    assert ("cookie-domain-mismatch", "sid") in run.problems(), run.output
    assert "origin host as the profile" in run.output, run.output  # the banner says what is emulated


def test_a_bad_origin_host_stops_startup_with_exit_1_and_one_clear_line(confdir):
    proxy = mitmdump(free_port(), "frontend=azure-frontdoor", "frontend_origin_host=not a host", confdir=confdir,
                     wait=False)
    with proxy:
        assert proxy.proc.wait(20) == 1, proxy.output
    lines = [line for line in proxy.output.splitlines() if "frontend_origin_host" in line]
    assert lines and "'not a host' is not a host name" in lines[0], proxy.output
    assert "Traceback" not in proxy.output, proxy.output


def test_the_report_keeps_cookie_values_out(app, confdir, tmp_path):
    """The sid value the app set never reaches the report or the log (only its name and Domain)."""
    values = []

    def actions(port):
        browser = Browser(port, tls=True)
        browser.get("/login", headers=HTML)
        values.extend(browser.cookies.values())

    run = diagnose(app("Express").port, actions, *FRONT_DOOR, OVERRIDE, confdir=confdir, folder=tmp_path)
    assert ("cookie-domain-mismatch", "sid") in run.problems(), run.output
    text = json.dumps(run.report) + run.output + run.junit
    assert values and not any(v in text for v in values)
