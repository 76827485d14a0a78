"""The rule catalog on plain Exchanges: every rule fires on its problem and stays quiet on a healthy answer."""

import pytest

from offload.compare import compare, compare_peer
from offload.exchange import Exchange, backend_names, decode_body
from offload.findings import RULES, route
from offload.passive import inspect

HOST = "myapp.azurewebsites.net"


def ex(status=200, headers=(), body="", method="GET", path="/login", scheme="https", host=HOST,
       backends=("127.0.0.1:3000", "localhost:3000"), request_headers=()):
    return Exchange(method, scheme, host, path, status, tuple(headers), body, tuple(backends), tuple(request_headers))


def rules(findings):
    return {(f.rule, f.subject) for f in findings}


# --- passive -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("location", [f"https://{HOST}/login", "/login", f"https://{HOST.upper()}:443/login"])
def test_https_redirect_loop(location):
    assert ("https-redirect-loop", location) in rules(inspect(ex(301, [("Location", location)])))


@pytest.mark.parametrize("location", [f"https://{HOST}/login/", "/dashboard", f"https://{HOST}/login?next=/",
                                      "https://login.microsoftonline.com/x"])
def test_a_redirect_elsewhere_is_no_loop(location):
    assert not any(f.rule == "https-redirect-loop" for f in inspect(ex(302, [("Location", location)])))


def test_insecure_redirect():
    found = inspect(ex(302, [("Location", f"http://{HOST}/home?code=secret123")]))
    assert rules(found) == {("insecure-redirect", f"http://{HOST}/home?code=…")}
    assert "secret123" not in repr(found)


def test_an_http_redirect_to_another_site_is_not_ours_to_judge():
    assert inspect(ex(302, [("Location", "http://example.org/")])) == []


def test_samesite_none_without_secure():
    assert ("samesite-none-without-secure", "pref") in rules(
        inspect(ex(headers=[("Set-Cookie", "pref=1; Path=/; SameSite=None")])))
    assert not inspect(ex(headers=[("Set-Cookie", "pref=1; Path=/; SameSite=None; Secure")]))


@pytest.mark.parametrize("line, problem", [
    ("__Secure-id=1; Path=/", "no Secure"),
    ("__Host-id=1; Secure; Path=/app", "Path is not /"),
    ("__Host-id=1; Secure; Path=/; Domain=myapp.azurewebsites.net", "has a Domain"),
    ("__host-id=1; Path=/", "no Secure"),  # browsers match prefixes case-insensitively
])
def test_cookie_prefix_violation(line, problem):
    found = [f for f in inspect(ex(headers=[("Set-Cookie", line)])) if f.rule == "cookie-prefix-violation"]
    assert len(found) == 1 and problem in found[0].message


def test_cookie_prefixes_used_correctly():
    assert inspect(ex(headers=[("Set-Cookie", "__Host-id=1; Secure; Path=/"),
                               ("Set-Cookie", "__Secure-id=1; Secure; Domain=myapp.azurewebsites.net")])) == []


def test_cookie_not_secure_but_not_for_deletions():
    assert rules(inspect(ex(headers=[("Set-Cookie", "sid=abc; Path=/; HttpOnly")]))) == {("cookie-not-secure", "sid")}
    assert inspect(ex(headers=[("Set-Cookie", "sid=; Path=/; Max-Age=0")])) == []
    assert inspect(ex(headers=[("Set-Cookie", "sid=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT")])) == []


def test_one_set_cookie_line_is_one_cookie_as_in_browsers():
    # mitmproxy's parser would split this line at the comma; a browser sees one cookie "a" (no Secure).
    assert rules(inspect(ex(headers=[("Set-Cookie", "a=1, b=2; Secure")]))) == set()
    assert rules(inspect(ex(headers=[("Set-Cookie", "a=x,y; Path=/")]))) == {("cookie-not-secure", "a")}


@pytest.mark.parametrize("body, content_type", [
    (f'<a href="http://{HOST}/profile">me</a>', "text/html"),
    (f'{{"next": "http:\\/\\/{HOST}\\/profile"}}', "application/json"),
])
def test_insecure_absolute_url_in_bodies(body, content_type):
    text = decode_body(body.encode(), content_type)
    assert rules(inspect(ex(body=text))) == {("insecure-absolute-url", "body")}


def test_insecure_absolute_url_in_headers_and_not_for_other_hosts():
    assert rules(inspect(ex(headers=[("Link", f"<http://{HOST}/style.css>; rel=preload")]))) == {
        ("insecure-absolute-url", "Link header")}
    assert inspect(ex(body=f'<a href="http://{HOST}.evil.example/">x</a> <a href="https://{HOST}/">y</a>')) == []


def test_only_textual_bodies_are_read():
    assert decode_body(b"http://x", "image/png") == "" and decode_body(b"http://x", None) == ""
    assert decode_body("café".encode("latin-1"), "text/html; charset=latin-1") == "café"


def test_backend_host_leak():
    found = inspect(ex(302, [("Location", "http://localhost:3000/home")]))
    assert ("backend-host-leak", "Location header") in rules(found)
    assert ("backend-host-leak", "body") in rules(inspect(ex(body='<img src="//127.0.0.1:3000/a.png">')))
    assert inspect(ex(body='<a href="http://localhost:30001/">other port</a>')) == []


def test_backend_names_cover_the_loopback_aliases():
    assert backend_names("127.0.0.1", 3000) == ("127.0.0.1:3000", "localhost:3000", "[::1]:3000")
    assert backend_names("app.internal", 80) == ("app.internal:80",)


def test_plain_http_requests_are_not_judged():
    assert inspect(ex(301, [("Location", f"http://{HOST}/login")], scheme="http")) == []


def test_a_healthy_https_answer_has_no_findings():
    healthy = ex(302, [("Location", "/dashboard"), ("Set-Cookie", "sid=abc; Path=/; Secure; HttpOnly")],
                 body=f'<a href="https://{HOST}/x">x</a>')
    assert inspect(healthy) == []


# --- differential ------------------------------------------------------------------------------------------------

def test_secure_cookie_dropped():
    actual = ex(200, [("X-Powered-By", "Express")])
    ref = ex(200, [("Set-Cookie", "connect.sid=s%3Asecret; Path=/; HttpOnly; Secure")])
    found = compare(actual, ref)
    assert rules(found) == {("secure-cookie-dropped", "connect.sid")}
    assert "secret" not in repr(found)


def test_server_error_under_frontend():
    actual = ex(500, body="Error: Cannot send secure cookie over unencrypted connection")
    found = compare(actual, ex(200, [("Set-Cookie", "koa.sess=1; Secure")]))
    assert rules(found) == {("server-error-under-frontend", "500")}
    assert "Cannot send secure cookie" in found[0].message


def test_csrf_origin_rejected():
    actual = ex(403, method="POST", path="/submit", request_headers=[("Origin", f"https://{HOST}")],
                body="CSRF verification failed. Request aborted.")
    assert rules(compare(actual, ex(200, method="POST", path="/submit"))) == {("csrf-origin-rejected", "Origin")}


def test_same_answers_mean_no_differential_findings():
    same = ex(200, [("Set-Cookie", "sid=1; Secure")])
    assert compare(same, same) == []
    assert compare(ex(403), ex(403)) == [] and compare(ex(500), ex(500)) == []


def test_trust_depends_on_loopback_only_when_the_peer_gets_the_worse_answer():
    from_peer = ex(307, [("Location", f"https://{HOST}/login")])
    from_loopback = ex(200, [("Set-Cookie", "sid=1; Secure")])
    assert rules(compare_peer(from_peer, from_loopback, "169.254.129.1")) == {
        ("trust-depends-on-loopback", "169.254.129.1")}
    # An app that trusts exactly the production peer answers loopback worse: that is not a problem.
    assert compare_peer(from_loopback, from_peer, "169.254.129.1") == []


def test_routes_fold_ids():
    assert route("/users/42/orders/9f86d081884c7d65?x=1") == "/users/{id}/orders/{id}"
    assert route("/a/0c4b1c0e-6a1f-4f6e-9c1e-2f1e8d6b7a55/edit") == "/a/{id}/edit"
    assert route("/docs/getting-started") == "/docs/getting-started"
    assert route("") == "/"


def test_every_catalog_rule_has_a_kind_and_severity():
    for rule in RULES.values():
        assert rule.kind in ("passive", "differential", "probe", "advice")
        assert rule.severity in ("info", "warning", "error")


def test_reference_requests_join_http2_cookie_crumbs_and_drop_hop_by_hop_headers():
    from offload.reference import http1_headers
    assert http1_headers([("host", "h"), ("cookie", "a=1"), ("connection", "x"), ("cookie", "b=2")]) == [
        ("host", "h"), ("Cookie", "a=1; b=2")]
