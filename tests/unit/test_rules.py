"""The rule catalog on plain Exchanges: every rule fires on its problem and stays quiet on a healthy answer."""

import pytest

from offload.compare import compare, compare_peer, fold, reconcile
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
    assert decode_body(b"http://x", "image/png") == ""
    # No Content-Type at all: a short answer is read as text (SvelteKit's 403), a long or binary one is not.
    assert decode_body(b"Cross-site POST form submissions are forbidden", None).startswith("Cross-site")
    assert decode_body(b"http://x" * 1000, None) == "" and decode_body(b"http://x\0", None) == ""
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


# --- URLs inside a redirect, mixed content --------------------------------------------------------------------

PROVIDER = "https://login.provider.example/authorize?client_id=abc&response_type=code"


def test_oauth_redirect_uri_built_with_http_is_an_insecure_redirect_named_by_its_parameter():
    location = f"{PROVIDER}&redirect_uri=http%3A%2F%2F{HOST}%2Fauth%2Fcallback&state=xyz"
    found = inspect(ex(302, [("Location", location)]))
    assert rules(found) == {("insecure-redirect", "redirect_uri")}
    assert "redirect_uri mismatch" in found[0].message and "xyz" not in repr(found)  # the state value is hidden


@pytest.mark.parametrize("location", [
    f"/login?next=http%253A%252F%252F{HOST}%252Faccount",  # encoded twice
    f"https://{HOST}/sso#return_to=http%3A%2F%2F{HOST}%2Fhome",  # in the fragment
])
def test_embedded_urls_decoded_twice_and_in_fragments(location):
    assert {r for r, _ in rules(inspect(ex(302, [("Location", location)])))} == {"insecure-redirect"}


def test_embedded_https_or_other_hosts_are_fine_and_backend_addresses_leak():
    assert inspect(ex(302, [("Location", f"{PROVIDER}&redirect_uri=https%3A%2F%2F{HOST}%2Fcb")])) == []
    assert inspect(ex(302, [("Location", f"{PROVIDER}&redirect_uri=http%3A%2F%2Fother.example%2Fcb")])) == []
    leak = inspect(ex(302, [("Location", f"{PROVIDER}&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb")]))
    assert rules(leak) == {("backend-host-leak", "redirect_uri")}


@pytest.mark.parametrize("body, kind", [
    (f'<script src="http://{HOST}/app.js"></script>', "script src"),
    (f'<link href="http://{HOST}/site.css" rel="stylesheet">', "stylesheet"),
    (f"<link rel='stylesheet' href='http://{HOST}/site.css'>", "stylesheet"),
    (f'<iframe width=3 src="http://{HOST}/embed"></iframe>', "iframe src"),
    (f'<form method="post" action="http://{HOST}/login">', "form action"),
    (f'<script>fetch("http://{HOST}/api/items")</script>', "script/style"),
])
def test_active_mixed_content_is_an_error(body, kind):
    found = inspect(ex(body=f"<p>hello</p>{body}"))
    assert [(f.rule, f.severity) for f in found] == [("insecure-absolute-url", "error")]
    assert kind in found[0].evidence


@pytest.mark.parametrize("body", [
    f'<img src="http://{HOST}/logo.png">', f'<a href="http://{HOST}/next">next</a>',
    f'<video src="http://{HOST}/v.mp4"></video>', f'<link rel="canonical" href="http://{HOST}/">',
])
def test_passive_mixed_content_and_links_stay_warnings(body):
    assert [(f.rule, f.severity) for f in inspect(ex(body=body))] == [("insecure-absolute-url", "warning")]


def test_urls_in_json_are_fetched_by_scripts_so_an_error():
    found = inspect(ex(headers=[("Content-Type", "application/json")], body=f'{{"next_url": "http://{HOST}/t?p=2"}}'))
    assert [f.severity for f in found] == ["error"]


def test_one_active_url_among_many_links_makes_the_error():
    body = "".join(f'<a href="http://{HOST}/{i}">{i}</a>' for i in range(20)) + f'<script src="http://{HOST}/a.js">'
    assert [f.severity for f in inspect(ex(body=body))] == ["error"]


# --- differential ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("status, body, rule", [
    (422, "<h1>The change you wanted was rejected.</h1>", "csrf-origin-rejected"),  # Rails public/422.html
    (419, "Page Expired", "csrf-origin-rejected"),  # Laravel
    (419, "", "csrf-origin-rejected"),  # 419 is Laravel's CSRF status
    (403, "Cross-site POST form submissions are forbidden", "csrf-origin-rejected"),  # SvelteKit
    (500, "Error: Invalid Server Actions request.", "csrf-origin-rejected"),  # Next.js, a 500 yet a CSRF check
    (403, "Invalid CSRF token found for https://x/login", "csrf-origin-rejected"),  # Spring Security
    (403, "Forbidden", "rejected-under-frontend"),
    (400, "Bad Request", "rejected-under-frontend"),
    (502, "", "server-error-under-frontend"),
])
def test_rejections_are_named_by_what_refused_them(status, body, rule):
    actual = ex(status, method="POST", path="/submit", body=body)
    assert {r for r, _ in rules(compare(actual, ex(302, [("Location", "/done")], method="POST", path="/submit")))} \
        == {rule}


def test_no_rejection_when_the_reference_fails_too_or_the_front_end_succeeds():
    assert compare(ex(404), ex(404)) == [] and compare(ex(200), ex(403)) == []


def test_secure_attribute_dropped_is_told_apart_from_never_secure():
    actual = ex(200, [("Set-Cookie", "sid=1; Path=/; HttpOnly")])
    ref = ex(200, [("Set-Cookie", "sid=2; Path=/; HttpOnly; Secure")])
    found = fold(inspect(actual) + compare(actual, ref))
    assert rules(found) == {("secure-attribute-dropped", "sid")}  # not also cookie-not-secure
    never = ex(200, [("Set-Cookie", "sid=1; Path=/")])
    assert rules(fold(inspect(never) + compare(never, never))) == {("cookie-not-secure", "sid")}


def test_embedded_url_downgrade_whatever_the_host():
    actual = ex(302, [("Location", f"{PROVIDER}&redirect_uri=http%3A%2F%2Fpublic.example%2Fcb")])
    ref = ex(302, [("Location", f"{PROVIDER}&redirect_uri=https%3A%2F%2Fpublic.example%2Fcb")])
    assert rules(compare(actual, ref)) == {("insecure-redirect", "redirect_uri")}


def test_an_app_that_trusts_no_proxy_fails_everywhere_but_as_plain_http():
    post = dict(method="POST", path="/form", request_headers=[("Origin", f"https://{HOST}")])
    actual = ex(403, body="Cross-site POST form submissions are forbidden", **post)
    plain = ex(303, [("Location", "/form")], **post)
    found = compare(actual, ref=None, plain=plain)  # the front end already sends X-Forwarded-Proto: https
    assert [(f.rule, f.cause) for f in found] == [("csrf-origin-rejected", "no-proxy-trust")]
    assert compare(actual, ref=ex(303, **post), plain=plain)[0].cause == ""  # the reference works: trusting fixes it
    assert compare(actual, ref=None, plain=ex(403, **post)) == []  # fails as plain HTTP too: not the front end


def test_a_loop_folds_its_side_effects_into_one_finding():
    actual = ex(301, [("Location", f"https://{HOST}/login")])
    ref = ex(200, [("Set-Cookie", "sid=1; Secure")])
    found = fold(inspect(actual) + compare(actual, ref))
    assert rules(found) == {("https-redirect-loop", f"https://{HOST}/login")}
    assert "secure-cookie-dropped sid" in found[0].evidence



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


def test_after_a_comparison_only_what_changed_is_reported():
    """Passive findings were reported at once, except a cookie without Secure, which waited for the comparison."""
    actual = ex(301, [("Location", f"https://{HOST}/login"), ("Set-Cookie", "pref=1; Path=/"),
                      ("Set-Cookie", "d=1; Path=/")])
    ref = ex(200, [("Set-Cookie", "sid=1; Secure"), ("Set-Cookie", "pref=1; Path=/; Secure"),
                   ("Set-Cookie", "d=1; Path=/")])
    passive = inspect(actual)
    new, amended, folded = reconcile(passive, compare(actual, ref), frozenset({"cookie-not-secure"}))
    assert rules(new) == {("cookie-not-secure", "d")}  # the loop was reported already; pref is part of the loop
    assert rules(amended) == {("https-redirect-loop", f"https://{HOST}/login")}
    assert "secure-cookie-dropped sid" in amended[0].evidence
    assert rules(folded) == {("cookie-not-secure", "pref")}
