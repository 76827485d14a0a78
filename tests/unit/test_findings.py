"""Findings around the rules: fingerprints, advice, deduplication, the JSON and JUnit reports."""

import json
from xml.etree import ElementTree as ET

import pytest

from offload import advice
from offload.exchange import Exchange
from offload.findings import Finding, Findings, redact_url
from offload.recognize import LAYER, SIGNS, Recognizer, recognize
from offload.report import summary_lines, to_json, to_junit


def ex(headers=(), body=""):
    return Exchange("GET", "https", "myapp.example", "/", 200, tuple(headers), body)


@pytest.mark.parametrize("headers, body, framework", [
    ([("Set-Cookie", "connect.sid=x; Secure")], "", "Express (express-session)"),
    ([("Set-Cookie", "session=x"), ("Set-Cookie", "session.sig=y")], "", "Express (cookie-session)"),
    ([("Set-Cookie", "koa.sess=x")], "", "Koa"),
    ([("Set-Cookie", "sessionid=x")], "", "Django"),
    ([("Set-Cookie", "csrftoken=x"), ("Server", "WSGIServer/0.2 CPython/3.13.0")], "", "Django"),
    ([("Set-Cookie", "_gitlab_session=x"), ("X-Runtime", "0.01")], "", "GitLab"),  # the app over its framework
    ([("Set-Cookie", ".AspNetCore.Cookies=x")], "", "ASP.NET Core"),
    ([("Set-Cookie", "laravel_session=x")], "", "Laravel"),
    ([("X-Powered-By", "Next.js")], "", "Next.js"),
    ([("X-Powered-By", "Express")], "", "Express"),
    ([("Server", "uvicorn")], "", "FastAPI/Starlette (uvicorn)"),
    ([("Server", "TornadoServer/6.5")], "", "Tornado"),
    ([("Server", "Werkzeug/3.1 Python/3.13"), ("Set-Cookie", "session=x")], "", "Flask"),
    ([("Set-Cookie", "session=eyJ1c2VyIjoiZGVtbyJ9.aSl1Ig.c2lnbmF0dXJl")], "", ""),  # 1 + 2: not yet sure
    ([("Set-Cookie", "_shop_session=x"), ("X-Runtime", "0.004")], "", "Rails"),
    ([], '<script src="/_next/static/chunks/main.js"></script>', "Next.js"),
    ([], '<link href="/_app/immutable/entry/start.js" rel="modulepreload">', "SvelteKit"),
    ([], '<input type="hidden" name="csrfmiddlewaretoken" value="x">', "Django"),
])
def test_recognised_from_strong_or_combined_signs(headers, body, framework):
    assert recognize(ex(headers, body)) == framework


@pytest.mark.parametrize("headers, body", [
    ([("Set-Cookie", "session=x")], ""),  # Flask, cookie-session, SvelteKit apps, Next.js apps all use it
    ([("Set-Cookie", "JSESSIONID=x")], ""),  # any servlet container
    ([("Set-Cookie", "_shop_session=x")], ""),  # Rails-like, but any app may name a cookie so
    ([("Server", "Werkzeug/3.1 Python/3.13")], ""),  # the development server runs any WSGI app
    ([("Server", "nginx")], ""),
    ([("Set-Cookie", "sessionId=x")], ""),
    ([("Set-Cookie", "XSRF-TOKEN=x")], ""),  # Angular's convention too
    ([("Set-Cookie", "csrftoken=x")], ""),  # Django's, and starlette-csrf's default
])
def test_one_weak_or_medium_sign_names_nothing(headers, body):
    assert recognize(ex(headers, body)) == ""


def err(body, status=404, headers=()):
    return Exchange("GET", "https", "h", "/nope", status, tuple(headers), body)


@pytest.mark.parametrize("answer, framework", [  # one real sign each, as the running framework answers
    (err("<pre>Cannot GET /nope</pre>", headers=[("X-Powered-By", "Express")]), "Express"),
    (err('{"message":"Cannot GET /nope","error":"Not Found","statusCode":404}'), "NestJS"),
    (ex([("Set-Cookie", "koa.sess=x")]), "Koa"),
    (err('{"message":"Route GET:/nope not found","error":"Not Found","statusCode":404}'), "Fastify"),
    (err('{"statusCode":404,"error":"Not Found","message":"Not Found"}', headers=[("cache-control", "no-cache")]),
     "hapi"),
    (ex([("Vary", "rsc, next-router-state-tree, next-router-prefetch")]), "Next.js"),
    (ex([("x-powered-by", "Nuxt")]), "Nuxt"),
    (ex([("x-sveltekit-page", "true")]), "SvelteKit"),
    (ex(body="<script>window.__remixContext = {}</script>"), "Remix"),
    (err("<h1>Not Found</h1><p>The requested resource was not found on this server.</p>"), "Django"),
    (ex([("Server", "Werkzeug/3.1.9 Python/3.13.0"), ("Set-Cookie", "session=.eJx.aSl.c2ln")]), "Flask"),
    (err('{"detail":"Not Found"}'), "FastAPI/Starlette (uvicorn)"),
    (err("<html><title>404: Not Found</title><body>404: Not Found</body></html>"), "Tornado"),
    (ex(body='<meta name="csrf-param" content="authenticity_token" />'), "Rails"),
    (ex([("Set-Cookie", "rack.session=x")]), "Sinatra/Rack"),
    (ex([("Set-Cookie", "laravel_session=x")]), "Laravel"),
    (err("<h2>Oops! An Error Occurred</h2>", status=500), "Symfony"),
    (err("<h1>Whitelabel Error Page</h1>"), "Spring Boot"),
    (ex([("Server", "Kestrel")]), "ASP.NET Core"),
    (ex(body='<div data-phx-main data-phx-session="x">'), "Phoenix"),
    (err("404 page not found\n"), "Go net/http"),
])
def test_each_supported_framework_is_recognised_from_its_own_sign(answer, framework):
    assert recognize(answer) == framework


def test_every_sign_names_a_stack_with_a_layer():
    assert {s.name for s in SIGNS} <= set(LAYER)


def test_error_texts_count_only_on_failures():
    ok = Exchange("GET", "https", "h", "/", 200, (), "<pre>Cannot GET /x</pre> docs about Express errors")
    assert recognize(ok) == ""


def test_the_framework_wins_over_the_server_that_hosts_it():
    django = ex([("Server", "gunicorn"), ("Set-Cookie", "sessionid=x")])
    assert recognize(django) == "Django"
    assert recognize(ex([("Server", "gunicorn")])) == "gunicorn"
    datasette = ex([("Server", "uvicorn")], 'Powered by <a href="https://datasette.io/" title="Datasette">')
    assert recognize(datasette) == "Datasette"
    nest = Exchange("GET", "https", "h", "/x", 404, (("X-Powered-By", "Express"),),
                    '{"message":"Cannot GET /x","error":"Not Found","statusCode":404}')
    assert recognize(nest) == "NestJS"


def test_evidence_adds_up_across_the_app_one_name_for_all_routes():
    r = Recognizer()
    r.see([ex([("Set-Cookie", "session=x")])])
    assert r.name == ""
    r.see([ex([("Server", "Werkzeug/3.1 Python/3.13")])])
    assert r.name == "Flask"
    r.see([ex([("Server", "gunicorn")])])  # a later route served otherwise does not rename the app
    assert r.name == "Flask"


def test_the_summary_line_says_what_the_name_rests_on():
    r = Recognizer()
    assert "no sign of one" in r.explain()
    r.see([ex([("Set-Cookie", "session=x")])])
    assert r.explain() == "framework: not recognised (too little evidence: Flask 1/3); generic fixes are given"
    r.see([ex([("Server", "Werkzeug/3.1.9 Python/3.13.0")])])
    assert r.explain().startswith("framework: Flask (from ") and "cookie session" in r.explain()


def test_two_stacks_equally_sure_name_neither():
    assert recognize(ex([("Set-Cookie", "laravel_session=x"), ("Set-Cookie", "grafana_session=y")])) == "Grafana"
    assert recognize(ex([("Set-Cookie", "koa.sess=x"), ("Set-Cookie", "sessionid=y")])) == "Django"  # layers
    assert recognize(ex([("Set-Cookie", "koa.sess=x"), ("Server", "TornadoServer/6")])) == ""


def test_a_cookie_from_the_reference_answer_names_the_framework_the_dropped_answer_hides():
    assert recognize(ex([("X-Powered-By", "Express")]), ex([("Set-Cookie", "connect.sid=x")])) == \
        "Express (express-session)"


XARR = advice.Context("X-ARR-SSL", frontend_fix="turn on enableXFF.")
XFP = advice.Context("X-Forwarded-Proto", peer="169.254.129.1")


@pytest.mark.parametrize("framework, without_xfp, with_xfp", [
    ("Express (express-session)", "x-arr-ssl", "trust proxy"),
    ("Koa", "app.proxy = true", "app.proxy = true"),
    ("Django", "HTTP_X_ARR_SSL", "SECURE_PROXY_SSL_HEADER"),
    ("Flask", "HTTP_X_ARR_SSL", "ProxyFix"),
    ("Rails", "insert_before 0, ArrSslIsHttps", "Rack takes X-Forwarded-Proto as sent"),
    ("NestJS", "x-arr-ssl", "NestExpressApplication"),
    ("Tornado", "protocol='https'", "xheaders=True"),
    ("hapi", "x-arr-ssl", "request.setUrl"),
    ("SvelteKit", "ORIGIN=https://", "PROTOCOL_HEADER=x-forwarded-proto"),
    ("Datasette", "force_https_urls", "force_https_urls"),
    ("ASP.NET Core", "X-ARR-SSL", "KnownIPNetworks"),
    ("Spring Boot", "X-ARR-SSL", "forward-headers-strategy"),
    ("Laravel", "X-ARR-SSL", "trustProxies"),
    ("FastAPI/Starlette (uvicorn)", "x-arr-ssl", "--forwarded-allow-ips"),
    ("gunicorn", "HTTP_X_ARR_SSL", "--forwarded-allow-ips"),
    ("Fastify", "x-arr-ssl", "trustProxy"),
    ("Next.js", "X-Forwarded-Proto", "X-Forwarded-Proto"),
    ("", "x-arr-ssl", "X-Forwarded-Proto"),
])
def test_scheme_advice_depends_on_the_framework_and_on_what_the_front_end_sends(framework, without_xfp, with_xfp):
    assert without_xfp in advice.for_finding("secure-cookie-dropped", framework, XARR)
    assert "Or at the front end: turn on enableXFF." in advice.for_finding("https-redirect-loop", framework, XARR)
    assert with_xfp in advice.for_finding("insecure-redirect", framework, XFP)


def test_rails_advice_gives_each_version_its_own_fix():
    text = advice.for_finding("csrf-origin-rejected", "Rails", XARR)
    assert "Rails 7.1+: config.assume_ssl = true" in text and "Rails 6.1 and 7.0 (no assume_ssl)" in text
    forwarded = advice.for_finding("https-redirect-loop", "Rails", advice.Context("Forwarded"))
    assert "Rack 2.2 (Rails 6.1, 7.0) does not" in forwarded


@pytest.mark.parametrize("framework", ["Express (express-session)", "NestJS", "Koa", "Fastify", "Rails"])
def test_cookie_advice_never_recreates_the_seed_bug_under_a_front_end_the_app_does_not_understand(framework):
    """Secure cookies for an app that does not see HTTPS are dropped cookies: the scheme fix comes with them."""
    text = advice.for_finding("cookie-not-secure", framework, XARR)
    assert "x_arr_ssl" in text.lower().replace("-", "_") and "must also see HTTPS" in text
    assert "must also see HTTPS" not in advice.for_finding("cookie-not-secure", framework, XFP)


def test_well_known_apps_get_their_own_setting_first():
    assert advice.for_finding("insecure-absolute-url", "Datasette", XFP).startswith("datasette serve")
    assert "root_url" in advice.for_finding("insecure-redirect", "Grafana", XARR)
    assert "force_https_urls" in advice.for_finding("backend-host-leak", "Datasette", XFP)


def test_an_app_that_trusts_no_proxy_is_told_so():
    text = advice.for_finding("csrf-origin-rejected", "SvelteKit", XFP, cause="no-proxy-trust")
    assert text.startswith("the app believes no forwarded header at all") and "PROTOCOL_HEADER" in text


def test_spoof_advice_is_the_frameworks_own_not_its_servers():
    assert "SECURE_PROXY_SSL_HEADER" in advice.for_finding("trusts-spoofed-forwarding", "Django", XFP)
    assert "gunicorn" not in advice.for_finding("trusts-spoofed-forwarding", "Flask", XFP)


def test_loopback_advice_names_the_peer():
    text = advice.for_finding("trust-depends-on-loopback", "FastAPI/Starlette (uvicorn)", XFP)
    assert "--forwarded-allow-ips='169.254.129.1'" in text


def test_ip_port_advice_only_for_frameworks_that_keep_the_port():
    assert advice.keeps_port_in_client_ip("Express (express-session)") and advice.keeps_port_in_client_ip("Flask")
    assert not advice.keeps_port_in_client_ip("Django") and not advice.keeps_port_in_client_ip("")


def finding(rule="secure-cookie-dropped", route="/login", subject="connect.sid", frontend="azure-windows-legacy",
            **kw):
    return Finding(rule, "GET", route, subject, f"{rule} on {route}", f"https://myapp.example{route}", "ev",
                   frontend=frontend, **kw)


def test_findings_are_deduplicated_and_counted():
    store = Findings()
    assert store.add(finding()) is True
    assert store.add(finding()) is False
    assert store.add(finding(subject="other")) is True
    assert [(f.subject, f.count) for f in store.all()] == [("connect.sid", 2), ("other", 1)]


def test_findings_are_bounded():
    store = Findings(limit=3)
    for i in range(10):
        store.add(finding(route=f"/r{i}"))
    assert len(store.all()) == 3 and store.dropped == 7


@pytest.mark.parametrize("level, reached", [("never", False), ("error", False), ("warning", True)])
def test_fail_levels(level, reached):
    store = Findings()
    store.add(finding("cookie-not-secure", subject="sid"))
    store.add(finding("client-ip-port", subject="Express"))
    assert store.reaches(level) is reached


def test_redact_url_hides_query_values_and_tokens_in_paths():
    assert redact_url("https://h/cb?code=abc&state=xyz&flag") == "https://h/cb?code=…&state=…&flag"
    assert redact_url("https://h/reset/Zx81kQ0pL2mN4bV7cX9aS3dF") == "https://h/reset/{id}"
    assert redact_url("//127.0.0.1:3000/a?t=1") == "//127.0.0.1:3000/a?t=…"


def test_json_report_follows_the_contract():
    findings = [finding(framework="Express", advice="do x"),
                finding("cookie-not-secure", subject="pref")]
    doc = json.loads(json.dumps(to_json(findings, ["azure-windows-legacy"], 5)))
    assert doc["version"] == 1 and doc["tool"] == "offload" and doc["frontends"] == ["azure-windows-legacy"]
    assert set(doc["findings"][0]) == {"rule", "severity", "frontend", "method", "route", "url", "subject",
                                       "evidence", "framework", "advice", "count"}
    assert doc["summary"] == {"flows": 5, "errors": 1, "warnings": 1, "info": 0}


def test_junit_has_a_case_per_rule_and_route_failing_at_the_level():
    findings = [finding(), finding(subject="other"), finding("cookie-not-secure", subject="pref")]
    root = ET.fromstring(to_junit(findings, ["azure-windows-legacy"], "error"))
    suite = root.find("testsuite")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["secure-cookie-dropped GET /login"].find("failure").get("type") == "error"
    assert "other" in cases["secure-cookie-dropped GET /login"].find("failure").text  # both subjects, one case
    assert cases["cookie-not-secure GET /login"].find("failure") is None  # a warning below fail level
    assert cases["https-redirect-loop"].find("failure") is None  # a clean rule is a passing case
    assert suite.get("failures") == "1"
    assert root.get("failures") == "1" and suite.get("name") == "offload.azure-windows-legacy"
    warned = ET.fromstring(to_junit(findings, ["azure-windows-legacy"], "warning"))
    assert warned.get("failures") == "2"


def test_summary_table():
    lines = summary_lines([finding()], 3, "azure-windows-legacy")
    assert lines[0] == "offload summary (azure-windows-legacy): 3 flows, 1 errors, 0 warnings, 0 info"
    assert "secure-cookie-dropped" in lines[2] and "connect.sid" in lines[2]
    assert summary_lines([], 3, "x")[0].endswith("no problems found")


def test_the_https_signal_of_each_kind_of_front_end():
    from offload.profiles import load_profile
    signal = {n: advice.https_signal(load_profile(n).request) for n in
              ["azure-windows-legacy", "azure-appservice", "nginx-default", "rfc7239", "heroku"]}
    assert signal == {"azure-windows-legacy": "X-ARR-SSL", "azure-appservice": "X-Forwarded-Proto",
                      "nginx-default": "", "rfc7239": "Forwarded", "heroku": "X-Forwarded-Proto"}


def test_advice_when_the_front_end_says_nothing_or_only_forwarded():
    nothing = advice.for_finding("secure-cookie-dropped", "Express", advice.Context("", frontend_fix="add it."))
    assert nothing.startswith("nothing in the forwarded request says HTTPS") and nothing.endswith("add it.")
    assert "ForwardedHeaderFilter" in advice.for_finding("insecure-redirect", "Spring Boot",
                                                         advice.Context("Forwarded"))
