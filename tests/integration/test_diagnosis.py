"""Diagnosis end to end: real apps behind the real mitmdump; findings asserted in the JSON report and exit status."""

import re
import urllib.parse

import pytest

from harness import DJANGO, FLASK, UVICORN, Browser, diagnose, free_port, node_app, python_app
from offload.profiles import load_profile, profile_names

pytestmark = pytest.mark.integration

FIXED_XFP = "frontend_xfp=on"


def get(*paths, tls=True):
    """Actions: GET each path over one browser session (JSON preferred)."""
    def run(port):
        browser = Browser(port, tls=tls)
        for p in paths:
            browser.get(p, headers={"Accept": "application/json"})
    return run


def check(run, expected: set, status: int):
    """The expected (rule, subject) pairs are all found, with the exit status of frontend_fail_on=error."""
    assert expected <= run.found(), f"missing {expected - run.found()}; found {run.found()}\n{run.output}"
    assert run.status == status, run.output


def clean(run):
    assert run.problems() == set(), run.output
    assert run.status == 0, run.output


# --- Express + express-session: the seed --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def express_session():
    with node_app("express/session-app.js") as p:
        yield p


def test_express_session_secure_cookie_dropped_with_the_express_fix(express_session, confdir, tmp_path):
    har = tmp_path / "flows.har"
    run = diagnose(express_session.port, get("/login", "/login", "/me"), f"hardump={har}",
                   confdir=confdir, folder=tmp_path)
    check(run, {("secure-cookie-dropped", "connect.sid")}, 3)
    finding = next(f for f in run.report["findings"] if f["rule"] == "secure-cookie-dropped")
    assert finding["framework"] == "Express (express-session)"
    assert "x-arr-ssl" in finding["advice"] and "trust proxy" in finding["advice"]
    assert "enableXFF" in finding["advice"]  # the front-end side fix of this profile
    assert finding["severity"] == "error" and finding["frontend"] == "azure-windows-legacy"
    assert run.output.count("error secure-cookie-dropped") == 1  # named once, however often it happens
    assert har.exists()  # mitmproxy's own done work still happens with exit status 3
    assert re.search(r'<testcase classname="offload\.azure-windows-legacy\.secure-cookie-dropped" '
                     r'name="secure-cookie-dropped GET /login">\s*<failure type="error"', run.junit)
    assert run.report["summary"]["errors"] == 1 and run.report["summary"]["flows"] == 3


def test_express_session_fixed_by_frontend_xfp_on(express_session, confdir, tmp_path):
    clean(diagnose(express_session.port, get("/login", "/me"), FIXED_XFP, confdir=confdir, folder=tmp_path))


# --- Express + cookie-session ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cookie_session():
    with node_app("express/cookie-session-app.js") as p:
        yield p


def test_cookie_session_cookie_dropped_silently(cookie_session, confdir, tmp_path):
    run = diagnose(cookie_session.port, get("/login"), confdir=confdir, folder=tmp_path)
    check(run, {("secure-cookie-dropped", "session"), ("secure-cookie-dropped", "session.sig")}, 3)
    assert {f["framework"] for f in run.report["findings"] if f["rule"] == "secure-cookie-dropped"} == \
        {"Express (cookie-session)"}


def test_cookie_session_fixed_by_frontend_xfp_on(cookie_session, confdir, tmp_path):
    clean(diagnose(cookie_session.port, get("/login"), FIXED_XFP, confdir=confdir, folder=tmp_path))


# --- Koa + koa-session -------------------------------------------------------------------------------------------

def test_koa_session_server_error_under_frontend(confdir, tmp_path):
    with node_app("koa/session-app.js") as app:
        run = diagnose(app.port, get("/login"), confdir=confdir, folder=tmp_path)
    check(run, {("server-error-under-frontend", "500")}, 3)
    finding = next(f for f in run.report["findings"] if f["rule"] == "server-error-under-frontend")
    assert finding["framework"] == "Koa" and "app.proxy = true" in finding["advice"]


def test_koa_session_fixed_in_the_app(confdir, tmp_path):
    with node_app("koa/session-app.js", SEED_FIX="1") as app:
        clean(diagnose(app.port, get("/login"), confdir=confdir, folder=tmp_path))


# --- Express forcing HTTPS itself -------------------------------------------------------------------------------

def test_express_https_redirect_loop(confdir, tmp_path):
    with node_app("express/https-redirect-app.js") as app:
        ports = []
        run = diagnose(app.port, lambda port: (ports.append(port), get("/account")(port)),
                       confdir=confdir, folder=tmp_path)
    check(run, {("https-redirect-loop", f"https://localhost:{ports[0]}/account")}, 3)


def test_express_https_redirect_fixed_in_the_app(confdir, tmp_path):
    with node_app("express/https-redirect-app.js", SEED_FIX="1") as app:
        clean(diagnose(app.port, get("/account"), confdir=confdir, folder=tmp_path))


# --- Django ------------------------------------------------------------------------------------------------------

def test_django_ssl_redirect_loop(confdir, tmp_path):
    with python_app(DJANGO, SSL_REDIRECT="1") as app:
        run = diagnose(app.port, get("/account"), confdir=confdir, folder=tmp_path)
        assert any(rule == "https-redirect-loop" for rule, _ in run.found()), run.output
        assert run.status == 3
        fixed = diagnose(app.port, get("/account"), FIXED_XFP, confdir=confdir, folder=tmp_path / "fixed")
    clean(fixed)
    assert next(f for f in run.report["findings"] if f["rule"] == "https-redirect-loop")["framework"] == "Django"
    assert "offload: framework: Django (from " in run.output  # the exit summary says what the name rests on


def csrf_form_post(port):
    """A browser: GET the form (CSRF cookie and token), then POST it with the Origin a browser sends."""
    browser = Browser(port, tls=True)
    page = browser.get("/form").body.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    return browser.request("POST", "/submit", body=urllib.parse.urlencode({"csrfmiddlewaretoken": token}).encode(),
                           headers={"Content-Type": "application/x-www-form-urlencoded",
                                    "Origin": f"https://localhost:{port}",
                                    "Referer": f"https://localhost:{port}/form"}).status


def test_django_csrf_origin_rejected(confdir, tmp_path):
    with python_app(DJANGO) as app:
        run = diagnose(app.port, csrf_form_post, "frontend_compare=all", confdir=confdir, folder=tmp_path)
        check(run, {("csrf-origin-rejected", "Origin")}, 3)
        finding = next(f for f in run.report["findings"] if f["rule"] == "csrf-origin-rejected")
        assert finding["framework"] == "Django" and "SECURE_PROXY_SSL_HEADER" in finding["advice"]
        fixed = diagnose(app.port, csrf_form_post, "frontend_compare=all", FIXED_XFP, confdir=confdir,
                         folder=tmp_path / "fixed")
    clean(fixed)


def test_a_post_left_out_by_safe_comparisons_is_counted_and_the_option_named(confdir, tmp_path):
    """GET /form, POST /submit (refused), and the default frontend_compare=safe: the summary says why no error."""
    with python_app(DJANGO) as app:
        run = diagnose(app.port, csrf_form_post, confdir=confdir, folder=tmp_path)
    assert ("csrf-origin-rejected", "Origin") not in run.found()
    assert "1 request(s) (POST) not compared: frontend_compare=safe" in run.output
    assert "frontend_compare=all compares them too" in run.output


# --- Flask + ProxyFix --------------------------------------------------------------------------------------------

def test_flask_proxyfix_insecure_redirect_and_absolute_urls(confdir, tmp_path):
    with python_app(FLASK) as app:
        ports = []
        run = diagnose(app.port, lambda port: (ports.append(port), get("/login", "/")(port)),
                       confdir=confdir, folder=tmp_path)
        check(run, {("insecure-redirect", f"http://localhost:{ports[0]}/"), ("insecure-absolute-url", "body")}, 3)
        assert {f["framework"] for f in run.report["findings"] if f["rule"] == "insecure-redirect"} == {"Flask"}
        fixed = diagnose(app.port, get("/login", "/"), FIXED_XFP, confdir=confdir, folder=tmp_path / "fixed")
    clean(fixed)
    # ProxyFix copies the ip:port X-Forwarded-For entry into REMOTE_ADDR: advice, not a failure.
    assert ("client-ip-port", "Flask") in fixed.found("info")


# --- uvicorn: trust only from loopback ------------------------------------------------------------------------------

def test_uvicorn_default_trust_depends_on_loopback(confdir, tmp_path, peer_address):
    sets = ("frontend=azure-appservice", f"frontend_peer={peer_address}")
    with python_app(UVICORN) as app:
        run = diagnose(app.port, get("/"), *sets, confdir=confdir, folder=tmp_path)
    check(run, {("trust-depends-on-loopback", peer_address)}, 3)
    finding = next(f for f in run.report["findings"] if f["rule"] == "trust-depends-on-loopback")
    assert "--forwarded-allow-ips" in finding["advice"] and finding["framework"] == "FastAPI/Starlette (uvicorn)"
    with python_app(UVICORN + ["--forwarded-allow-ips", peer_address]) as app:
        clean(diagnose(app.port, get("/"), *sets, confdir=confdir, folder=tmp_path / "fixed"))


# --- correctly configured apps: no false positives under any profile ----------------------------------------------

@pytest.mark.parametrize("profile", profile_names())
def test_healthy_express_app_has_no_problems_under_any_profile(profile, confdir, tmp_path):
    with node_app("express/healthy-app.js") as app:
        run = diagnose(app.port, get("/login", "/me"), f"frontend={profile}", confdir=confdir, folder=tmp_path)
    clean(run)
    # Express keeps the port of an ip:port X-Forwarded-For in req.ip: the only advice, and only where it applies.
    expected = {("client-ip-port", "Express (express-session)")} if load_profile(profile).xff_has_port else set()
    assert run.found("info") == expected


@pytest.mark.parametrize("profile", profile_names())
def test_healthy_django_app_has_no_findings_at_all_under_any_profile(profile, confdir, tmp_path):
    port = free_port()
    posted = []

    def form_then_post(proxy_port):
        posted.append(csrf_form_post(proxy_port))

    with python_app(DJANGO, SSL_REDIRECT="1", ASSUME_HTTPS="1",
                    CSRF_TRUSTED_ORIGINS=f"https://localhost:{port}") as app:
        run = diagnose(app.port, form_then_post, f"frontend={profile}", "frontend_compare=all",
                       confdir=confdir, folder=tmp_path, port=port)
    assert run.report["findings"] == [], run.output
    assert run.status == 0 and run.report["summary"]["flows"] == 2
    assert posted == [200]  # the form really works behind this front end


# --- a front end that rewrites Host: the reference is a correct deployment, with the public Host ----------------

def test_a_host_dependent_failure_shows_under_a_front_end_that_rewrites_host(confdir, tmp_path):
    """nginx's default proxy_set_header Host $proxy_host: Django checks the browser's Origin against the Host it
    got (127.0.0.1:port), so the form fails; a correct deployment (public Host, X-Forwarded-Proto) is accepted."""
    with python_app(DJANGO) as app:
        run = diagnose(app.port, csrf_form_post, "frontend=nginx-default", "frontend_compare=all",
                       confdir=confdir, folder=tmp_path)
        check(run, {("csrf-origin-rejected", "Origin")}, 3)
        finding = next(f for f in run.report["findings"] if f["rule"] == "csrf-origin-rejected")
        assert "CSRF verification failed" in run.output and finding["framework"] == "Django"
        # The same app behind a front end that keeps Host and says https (ingress-nginx's defaults) is fine.
        clean(diagnose(app.port, csrf_form_post, "frontend=ingress-nginx", "frontend_compare=all",
                       confdir=confdir, folder=tmp_path / "kept"))
