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


def nextjs(**env) -> Process:
    require((APPS / "nextjs" / ".next").is_dir(), "Next.js app not built (scripts/test runs npm ci and npm run build)")
    port = free_port()
    p = Process("app-nextjs", ["node", "node_modules/next/dist/bin/next", "start", "-H", "127.0.0.1", "-p", str(port)],
                {"PORT": str(port), "NEXT_TELEMETRY_DISABLED": "1", **env}, APPS / "nextjs")
    p.port = port  # type: ignore[attr-defined]
    return p.start().wait_ready(port)


def sveltekit(**env) -> Process:
    require((APPS / "sveltekit" / "build").is_dir(), "SvelteKit app not built (scripts/test runs npm run build)")
    return node_app("sveltekit/start.js", **env)


def server_action(browser: Browser, port: int):
    """What a browser with JavaScript sends for a Next.js form bound to a Server Action: a fetch POST with the
    action's id in Next-Action (read from the page, it changes with every build)."""
    html = browser.get("/", headers={"Accept": "text/html"}).body.decode()
    action = re.search(r'name="\$ACTION_ID_([0-9a-f]+)"', html).group(1)
    boundary = "offloadboundary"
    body = f'--{boundary}\r\nContent-Disposition: form-data; name="0"\r\n\r\n["$K1"]\r\n--{boundary}--\r\n'
    browser.request("POST", "/", body=body.encode(), headers={
        "Next-Action": action, "Accept": "text/x-component", "Origin": f"https://localhost:{port}",
        "Content-Type": f"multipart/form-data; boundary={boundary}"})


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
    elsewhere: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # the same app behind other front ends


LEGACY, APPSERVICE, NGINX = "azure-windows-legacy", "azure-appservice", "nginx-default"
ALL = ("frontend_compare=all",)

CASES = [
    Case("Express + express-session", node("express/session-app.js"), LEGACY, visit("/login", "/me"),
         {}, {"SEED_FIX": "1"}, {("secure-cookie-dropped", "connect.sid")}, "Express (express-session)",
         "req.headers['x-forwarded-proto'] = 'https'", elsewhere={APPSERVICE: set(), NGINX: {
             ("secure-cookie-dropped", "connect.sid")}}),
    Case("Koa + koa-session", node("koa/session-app.js"), LEGACY, visit("/login"),
         {}, {"SEED_FIX": "1"}, {("server-error-under-frontend", "500")}, "Koa", "ctx.req.headers['x-forwarded-proto']"),
    Case("Fastify + @fastify/session", node("more/fastify-app.js"), LEGACY, visit("/login", "/me", "/favicon.ico"),
         {"FIX": "1"}, {"FIX": "1", "ARR": "1"},
         {("secure-cookie-dropped", "sessionId"), ("secure-attribute-dropped", "theme")}, "Fastify",
         "request.raw.headers['x-forwarded-proto'] = 'https'", elsewhere={APPSERVICE: set()}),
    Case("hapi", node("more/hapi-app.js"), APPSERVICE, visit("/account", "/login", "/favicon.ico"),
         {}, {"FIX": "1"},
         {("insecure-redirect", "http://{proxy}/login?next=…"), ("insecure-redirect", "next"),
          ("insecure-absolute-url", "body")}, "hapi",
         "request.setUrl", elsewhere={LEGACY: {("insecure-redirect", "http://{proxy}/login?next=…"),
                                               ("insecure-redirect", "next"), ("insecure-absolute-url", "body")}}),
    Case("NestJS + express-session", node("more/nest-app.js"), LEGACY, visit("/login", "/me", "/favicon.ico"),
         {"FIX": "1"}, {"FIX": "1", "ARR": "1"}, {("secure-cookie-dropped", "connect.sid")}, "NestJS",
         "req.headers['x-forwarded-proto'] = 'https'", elsewhere={APPSERVICE: set()}),
    Case("OAuth client: passport-oauth2 (Express)", node("more/oauth-app.js"), APPSERVICE, visit("/auth/login"),
         {}, {"FIX": "1"}, {("insecure-redirect", "redirect_uri")}, "Express", "app.set('trust proxy', 1)"),
    Case("Django (CSRF, trusts no proxy)", python(DJANGO), APPSERVICE,
         visit(form("/form", "/submit", token="csrfmiddlewaretoken")), {"PROXY_SSL_HEADER": "0"}, {},
         {("csrf-origin-rejected", "Origin")}, "Django", "SECURE_PROXY_SSL_HEADER", sets=ALL,
         elsewhere={LEGACY: {("csrf-origin-rejected", "Origin")}}),
    Case("Flask + ProxyFix", python(["flask_app.py", "{port}"]), LEGACY, visit("/login", "/"),
         {}, {"SEED_FIX": "1"}, {("insecure-redirect", "http://{proxy}/"), ("insecure-absolute-url", "body")},
         "Flask", "HTTP_X_FORWARDED_PROTO='https'"),
    Case("Tornado", python(["tornado_app.py"]), APPSERVICE, visit("/account", "/login"),
         {}, {"FIX": "1"}, {("insecure-redirect", "next"), ("cookie-not-secure", "user")}, "Tornado",
         "xheaders=True", elsewhere={LEGACY: {("insecure-redirect", "next"), ("cookie-not-secure", "user")}}),
    Case("Tornado behind an x-arr-ssl front end", python(["tornado_app.py"]), LEGACY, visit("/account", "/login"),
         {}, {"ARR": "1"}, {("insecure-redirect", "next"), ("cookie-not-secure", "user")}, "Tornado",
         "protocol='https'"),
    Case("Django (Host rewritten)", python(DJANGO), NGINX, visit(form("/form", "/submit", token="csrfmiddlewaretoken")),
         {}, {"CSRF_TRUSTED_ORIGINS": "https://{proxy}"}, {("csrf-origin-rejected", "Origin")}, "Django",
         "CSRF_TRUSTED_ORIGINS", sets=ALL),
    Case("Starlette + HTTPSRedirectMiddleware (uvicorn)", python(["starlette_app.py"]), LEGACY, visit("/login", "/"),
         {}, {"ARR": "1"},
         {("https-redirect-loop", "https://{proxy}/login"), ("https-redirect-loop", "https://{proxy}/")},
         "FastAPI/Starlette (uvicorn)", "class ArrSSL", elsewhere={APPSERVICE: set()}),
    Case("OAuth client: Authlib (Flask)", python(["oauth_app.py"]), APPSERVICE, visit("/login"),
         {}, {"FIX": "1"}, {("insecure-redirect", "redirect_uri"), ("cookie-not-secure", "session")}, "Flask",
         "ProxyFix", remaining={("cookie-not-secure", "session")},
         elsewhere={LEGACY: {("insecure-redirect", "redirect_uri"), ("cookie-not-secure", "session")}}),
    Case("Datasette (self-hosted, force_https_urls)", python(["datasette_app.py"]), LEGACY,
         visit("/offload/colours", "/offload/colours.json"), {}, {"FIX": "1"},
         {("insecure-absolute-url", "body"), ("insecure-absolute-url", "Link header")}, "Datasette",
         "force_https_urls 1"),
    Case("Rails 6.1 (CSRF origin check, url_for)", rails, LEGACY,
         visit("/login", "/oauth/start", form("/form", "/submit", token="authenticity_token")),
         {}, {"FIX": "1"},
         {("csrf-origin-rejected", "Origin"), ("insecure-redirect", "redirect_uri"),
          ("cookie-not-secure", "_offload_rails_session")}, "Rails", "insert_before 0, ArrSslIsHttps",
         remaining={("cookie-not-secure", "_offload_rails_session")}, sets=ALL,
         elsewhere={APPSERVICE: {("cookie-not-secure", "_offload_rails_session")}}),
    Case("Rails 6.1 with force_ssl", rails, LEGACY, visit("/login", "/account"),
         {"FORCE_SSL": "1"}, {"FORCE_SSL": "1", "FIX": "1"},
         {("https-redirect-loop", "https://{proxy}/login"), ("https-redirect-loop", "https://{proxy}/account")},
         "Rails", "insert_before 0, ArrSslIsHttps", elsewhere={APPSERVICE: set()}),
    Case("Next.js Server Actions (Host rewritten)", nextjs, NGINX, visit(server_action), {},
         {"FIX": "1", "PUBLIC_HOST": "{proxy}"}, {("csrf-origin-rejected", "Origin")}, "Next.js", "allowedOrigins",
         sets=ALL, elsewhere={LEGACY: set(), APPSERVICE: set()}),
    Case("SvelteKit + adapter-node (Host rewritten)", sveltekit, NGINX,
         visit("/login", form("/form", "/form", fields={"name": "demo"})), {}, {"ORIGIN": "https://{proxy}"},
         {("csrf-origin-rejected", "Origin"), ("backend-host-leak", "Location header")}, "SvelteKit",
         "ORIGIN=https://<public host>", sets=ALL, elsewhere={LEGACY: set(), APPSERVICE: set()}),
]


def public(env: dict[str, str], port: int) -> dict[str, str]:
    """An app's environment with {proxy} as the public host (the proxy's)."""
    return {k: v.replace("{proxy}", f"localhost:{port}") for k, v in env.items()}


def problems(run, port: int) -> set[tuple[str, str]]:
    return {(rule, subject.replace(f"localhost:{port}", "{proxy}")) for rule, subject in run.problems()}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_framework_matrix(case: Case, confdir, tmp_path):
    sets = (f"frontend={case.frontend}", *case.sets)
    port = free_port()
    with case.start(**public(case.bug, port)) as app:
        run = diagnose(app.port, case.actions, *sets, confdir=confdir, folder=tmp_path / "bug", port=port)
        for frontend, expected in case.elsewhere.items():  # the same app as deployed, behind another front end
            other = diagnose(app.port, case.actions, f"frontend={frontend}", *case.sets, confdir=confdir,
                             folder=tmp_path / frontend, port=port)
            assert problems(other, port) == expected, other.output
    bugs = [f for f in run.report["findings"]
            if f["severity"] != "info" and (f["rule"], f["subject"]) not in case.remaining]
    assert {f["framework"] for f in bugs} == {case.framework}, run.output
    assert all(case.advice in f["advice"] for f in bugs), [f["advice"] for f in bugs]
    port = free_port()
    with case.start(**public(case.fix, port)) as app:
        fixed = diagnose(app.port, case.actions, *sets, confdir=confdir, folder=tmp_path / "fixed", port=port)
    assert problems(fixed, port) == case.remaining, fixed.output
