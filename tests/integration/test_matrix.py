"""The framework matrix: real apps nobody here wrote the framework of, behind the real mitmdump.

For each app: under one front end, offload reports exactly the expected findings (no others), names the framework,
and advises a fix; the app started with exactly that fix (its FIX/ARR switch, which implements the advice's code)
then has none of them. The README's framework table is this list.
"""

from __future__ import annotations

import re
import shutil
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from harness import APPS, DJANGO, Browser, Process, diagnose, free_port, node_app, python_app, require

pytestmark = pytest.mark.integration


# --- how a browser uses each app --------------------------------------------------------------------------------

def visit(*steps):
    """Actions: each step a path to GET (as a browser: HTML first) or a form to fill in and POST."""
    def run(port):
        browser = Browser(port, tls=True)
        for step in steps:
            if isinstance(step, str):
                browser.get(step, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
            else:
                step(browser, port)
    return run


def form(page: str, action: str, token: str | None = None, fields: dict | None = None):
    """GET the form (its cookies and CSRF token, `token` being the hidden field's name), then POST it with the
    Origin and Referer a browser sends."""
    def post(browser: Browser, port: int):
        html = browser.get(page, headers={"Accept": "text/html"}).body.decode()
        data = dict(fields or {})
        if token:
            data[token] = re.search(rf'name="{token}" value="([^"]+)"', html).group(1)
        browser.request("POST", action, body=urllib.parse.urlencode(data).encode(),
                        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
                                 "Origin": f"https://localhost:{port}", "Referer": f"https://localhost:{port}{page}"})
    return post


# --- how each app starts -------------------------------------------------------------------------------------------

def node(script: str) -> Callable[..., Process]:
    return lambda **env: node_app(script, **env)


def python(args: list[str]) -> Callable[..., Process]:
    return lambda **env: python_app(args, **env)


def rails(**env) -> Process:
    require(shutil.which("rackup") is not None, "Rails: Debian's ruby-rails is not installed (.ci/run installs it)")
    port = free_port()
    p = Process("app-rails", ["rackup", "-E", "production", "-s", "webrick", "-o", "127.0.0.1", "-p", str(port),
                              str(APPS / "rails" / "config.ru")], {"PORT": str(port), **env}, APPS / "rails")
    p.port = port  # type: ignore[attr-defined]
    return p.start().wait_ready(port)


@dataclass
class Case:
    name: str  # the framework (and what of it), as the README table names it
    start: Callable[..., Process]
    frontend: str
    actions: Callable[[int], None]
    bug: dict[str, str]  # the app's environment as deployed with the bug
    fix: dict[str, str]  # the same with the fix offload advises applied
    expected: set[tuple[str, str]]  # (rule, subject) of every error and warning under the bug; {proxy}: host:port
    framework: str  # the name offload gives it
    advice: str  # the part of the advice the fix implements
    remaining: set[tuple[str, str]] = field(default_factory=set)  # real warnings the fix does not touch
    sets: tuple[str, ...] = ()


LEGACY, APPSERVICE = "azure-windows-legacy", "azure-appservice"
ALL = ("frontend_compare=all",)

CASES = [
    Case("Express + express-session", node("express/session-app.js"), LEGACY, visit("/login", "/me"),
         {}, {"SEED_FIX": "1"}, {("secure-cookie-dropped", "connect.sid")}, "Express (express-session)",
         "req.headers['x-forwarded-proto'] = 'https'"),
    Case("Koa + koa-session", node("koa/session-app.js"), LEGACY, visit("/login"),
         {}, {"SEED_FIX": "1"}, {("server-error-under-frontend", "500")}, "Koa", "ctx.req.headers['x-forwarded-proto']"),
    Case("Fastify + @fastify/session", node("more/fastify-app.js"), LEGACY, visit("/login", "/me", "/favicon.ico"),
         {"FIX": "1"}, {"FIX": "1", "ARR": "1"},
         {("secure-cookie-dropped", "sessionId"), ("secure-attribute-dropped", "theme")}, "Fastify",
         "request.raw.headers['x-forwarded-proto'] = 'https'"),
    Case("hapi", node("more/hapi-app.js"), APPSERVICE, visit("/account", "/login", "/favicon.ico"),
         {}, {"FIX": "1"},
         {("insecure-redirect", "http://{proxy}/login?next=…"), ("insecure-redirect", "next"),
          ("insecure-absolute-url", "body")}, "hapi",
         "request.setUrl"),
    Case("NestJS + express-session", node("more/nest-app.js"), LEGACY, visit("/login", "/me", "/favicon.ico"),
         {"FIX": "1"}, {"FIX": "1", "ARR": "1"}, {("secure-cookie-dropped", "connect.sid")}, "NestJS",
         "req.headers['x-forwarded-proto'] = 'https'"),
    Case("OAuth client: passport-oauth2 (Express)", node("more/oauth-app.js"), APPSERVICE, visit("/auth/login"),
         {}, {"FIX": "1"}, {("insecure-redirect", "redirect_uri")}, "Express", "app.set('trust proxy', 1)"),
    Case("Django (CSRF, trusts no proxy)", python(DJANGO), APPSERVICE,
         visit(form("/form", "/submit", token="csrfmiddlewaretoken")), {"PROXY_SSL_HEADER": "0"}, {},
         {("csrf-origin-rejected", "Origin")}, "Django", "SECURE_PROXY_SSL_HEADER", sets=ALL),
    Case("Flask + ProxyFix", python(["flask_app.py", "{port}"]), LEGACY, visit("/login", "/"),
         {}, {"SEED_FIX": "1"}, {("insecure-redirect", "http://{proxy}/"), ("insecure-absolute-url", "body")},
         "Flask", "HTTP_X_FORWARDED_PROTO='https'"),
    Case("Tornado", python(["tornado_app.py"]), APPSERVICE, visit("/account", "/login"),
         {}, {"FIX": "1"}, {("insecure-redirect", "next"), ("cookie-not-secure", "user")}, "Tornado",
         "xheaders=True"),
    Case("Starlette + HTTPSRedirectMiddleware (uvicorn)", python(["starlette_app.py"]), LEGACY, visit("/login", "/"),
         {}, {"ARR": "1"},
         {("https-redirect-loop", "https://{proxy}/login"), ("https-redirect-loop", "https://{proxy}/")},
         "FastAPI/Starlette (uvicorn)", "class ArrSSL"),
    Case("OAuth client: Authlib (Flask)", python(["oauth_app.py"]), APPSERVICE, visit("/login"),
         {}, {"FIX": "1"}, {("insecure-redirect", "redirect_uri"), ("cookie-not-secure", "session")}, "Flask",
         "ProxyFix", remaining={("cookie-not-secure", "session")}),
    Case("Datasette (self-hosted, force_https_urls)", python(["datasette_app.py"]), LEGACY,
         visit("/offload/colours", "/offload/colours.json"), {}, {"FIX": "1"},
         {("insecure-absolute-url", "body"), ("insecure-absolute-url", "Link header")}, "Datasette",
         "force_https_urls 1"),
    Case("Rails 6.1 (CSRF origin check, url_for)", rails, LEGACY,
         visit("/login", "/oauth/start", form("/form", "/submit", token="authenticity_token")),
         {}, {"FIX": "1"},
         {("csrf-origin-rejected", "Origin"), ("insecure-redirect", "redirect_uri"),
          ("cookie-not-secure", "_offload_rails_session")}, "Rails", "insert_before 0, ArrSslIsHttps",
         remaining={("cookie-not-secure", "_offload_rails_session")}, sets=ALL),
    Case("Rails 6.1 with force_ssl", rails, LEGACY, visit("/login", "/account"),
         {"FORCE_SSL": "1"}, {"FORCE_SSL": "1", "FIX": "1"},
         {("https-redirect-loop", "https://{proxy}/login"), ("https-redirect-loop", "https://{proxy}/account")},
         "Rails", "insert_before 0, ArrSslIsHttps"),
]


def problems(run, port: int) -> set[tuple[str, str]]:
    return {(rule, subject.replace(f"localhost:{port}", "{proxy}")) for rule, subject in run.problems()}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_framework_matrix(case: Case, confdir, tmp_path):
    sets = (f"frontend={case.frontend}", *case.sets)
    port = free_port()
    with case.start(**case.bug) as app:
        run = diagnose(app.port, case.actions, *sets, confdir=confdir, folder=tmp_path / "bug", port=port)
    assert problems(run, port) == case.expected, run.output
    bugs = [f for f in run.report["findings"]
            if f["severity"] != "info" and (f["rule"], f["subject"]) not in case.remaining]
    assert {f["framework"] for f in bugs} == {case.framework}, run.output
    assert all(case.advice in f["advice"] for f in bugs), [f["advice"] for f in bugs]
    port = free_port()
    with case.start(**case.fix) as app:
        fixed = diagnose(app.port, case.actions, *sets, confdir=confdir, folder=tmp_path / "fixed", port=port)
    assert problems(fixed, port) == case.remaining, fixed.output
