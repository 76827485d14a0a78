"""forward(): the pure header rewrite, each client-copy mode and template value on its own."""

import re

import pytest

from offload.forward import (
    Client, Incoming, affinity_id, client_address, forward, host_domain, respond, with_xfp_policy,
)
from offload.profiles import load_profile, parse_profile

SOURCES = {"summary": "t", "sources": {"S1": "x"}}


def profile(*headers, **extra):
    return parse_profile("t", {**SOURCES, **extra, "request": {"headers": [{"source": "S1", **h} for h in headers]}})


def run(p, headers=(), scheme="https", client=Client("203.0.113.7", 50123, "1.3"), host="myapp.example", **kw):
    return forward(p, Incoming(scheme, host, "/a/b?c=1", list(headers), client, **kw)).headers


@pytest.mark.parametrize("mode, sent, expected", [
    ("set", [("X-A", "fake")], [("X-A", "v")]),
    ("append", [("X-A", "1.1.1.1")], [("X-A", "1.1.1.1, v")]),
    ("append", [("X-A", "a"), ("x-a", "b")], [("X-A", "a, b, v")]),
    ("append", [], [("X-A", "v")]),
    ("append-distinct", [("X-A", "1.1.1.1, v")], [("X-A", "1.1.1.1, v")]),
    ("append-distinct", [("X-A", "v:9")], [("X-A", "v:9, v")]),
    ("keep", [("X-A", "client")], [("X-A", "client")]),
    ("keep", [], [("X-A", "v")]),
])
def test_client_copy_modes(mode, sent, expected):
    assert run(profile({"name": "X-A", "value": "v", "client": mode}), sent) == expected


def test_strip_removes_every_client_copy_and_adds_nothing():
    p = profile({"name": "X-FD-HealthProbe", "client": "strip"})
    assert run(p, [("Accept", "*/*"), ("x-fd-healthprobe", "1"), ("X-FD-HealthProbe", "2")]) == [("Accept", "*/*")]


def test_client_headers_keep_their_order_and_front_end_headers_follow_in_rule_order():
    p = profile({"name": "X-B", "value": "b"}, {"name": "X-A", "value": "a"}, {"name": "X-C", "value": "c",
                                                                              "client": "keep"})
    sent = [("Host", "h"), ("X-C", "client"), ("X-A", "spoof"), ("Accept", "*/*")]
    assert run(p, sent) == [("Host", "h"), ("X-C", "client"), ("Accept", "*/*"), ("X-B", "b"), ("X-A", "a")]


def test_a_set_rule_for_https_only_still_removes_a_spoofed_copy_on_plain_http():
    p = profile({"name": "X-ARR-SSL", "value": "cert", "when": "https"})
    assert run(p, [("X-ARR-SSL", "fake")], scheme="http") == []
    assert run(p, [("X-ARR-SSL", "fake")], scheme="https") == [("X-ARR-SSL", "cert")]


def test_keep_and_append_rules_for_https_only_leave_client_copies_alone_on_plain_http():
    p = profile({"name": "X-Forwarded-Proto", "value": "https", "when": "https", "client": "keep"},
                {"name": "X-Forwarded-For", "value": "${client_ip}", "when": "https", "client": "append"})
    sent = [("X-Forwarded-Proto", "http"), ("X-Forwarded-For", "9.9.9.9")]
    assert run(p, sent, scheme="http") == sent


def test_a_later_rule_edits_the_front_ends_own_header_in_place():
    p = profile({"name": "X-Forwarded-For", "value": "${client_ip_port}", "client": "append"},
                {"name": "X-Other", "value": "o"},
                {"name": "X-Forwarded-For", "value": "${client_ip}", "client": "append-distinct"})
    assert run(p, [("X-Forwarded-For", "9.9.9.9")]) == [
        ("X-Forwarded-For", "9.9.9.9, 203.0.113.7:50123, 203.0.113.7"), ("X-Other", "o")]


def test_template_values():
    p = profile(*({"name": f"X-{n}", "value": f"${{{n}}}"} for n in
                  ["client_ip", "client_port", "client_ip_port", "scheme", "host", "domain", "site", "path", "guid",
                   "tls_version", "affinity"]))
    got = dict(run(p, host="myapp.azurewebsites.net:8443"))
    assert got["X-client_ip"] == "203.0.113.7" and got["X-client_port"] == "50123"
    assert got["X-client_ip_port"] == "203.0.113.7:50123"
    assert got["X-scheme"] == "https" and got["X-host"] == "myapp.azurewebsites.net:8443"
    assert got["X-domain"] == "myapp.azurewebsites.net" and got["X-site"] == "myapp"
    assert got["X-path"] == "/a/b?c=1" and got["X-tls_version"] == "1.3"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", got["X-guid"])
    assert re.fullmatch(r"[0-9a-f]{64}", got["X-affinity"])


def test_a_fresh_guid_per_request():
    p = profile({"name": "X-ARR-LOG-ID", "value": "${guid}"})
    assert run(p) != run(p)


def test_ipv6_clients_are_bracketed_with_their_port():
    p = profile({"name": "CLIENT-IP", "value": "${client_ip_port}"}, {"name": "X-IP", "value": "${client_ip}"})
    assert run(p, client=Client("2001:db8::17", 4711)) == [("CLIENT-IP", "[2001:db8::17]:4711"),
                                                           ("X-IP", "2001:db8::17")]


def test_without_tls_information_the_tls_version_defaults_to_1_2():
    p = profile({"name": "X-Forwarded-TlsVersion", "value": "${tls_version}"})
    assert run(p, client=Client("203.0.113.7", 1)) == [("X-Forwarded-TlsVersion", "1.2")]


@pytest.mark.parametrize("peer, expected", [
    (("127.0.0.1", 5), ("127.0.0.1", 5)),
    (("::ffff:10.1.2.3", 5, 0, 0), ("10.1.2.3", 5)),
    (("::1", 5, 0, 0), ("::1", 5)),
])
def test_client_address(peer, expected):
    assert client_address(peer) == expected


@pytest.mark.parametrize("host, domain", [
    ("myapp.example", "myapp.example"), ("myapp.example:8443", "myapp.example"), ("[::1]:8443", "::1"),
    ("::1", "::1"),
])
def test_host_domain(host, domain):
    assert host_domain(host) == domain


def test_xfp_policies():
    legacy = load_profile("azure-windows-legacy")
    assert with_xfp_policy(legacy, "profile") == legacy.request
    inc = Incoming("https", "h", "/", [("X-Forwarded-Proto", "http")], Client("203.0.113.7", 1))
    on = forward(legacy, inc, with_xfp_policy(legacy, "on")).headers
    assert ("X-Forwarded-Proto", "http") in on  # as iisnode: only if absent
    off = with_xfp_policy(load_profile("azure-appservice"), "off")
    assert [r.client for r in off if r.key == "x-forwarded-proto"] == ["strip"]
    with pytest.raises(ValueError, match="frontend_xfp must be one of profile, on, off"):
        with_xfp_policy(legacy, "yes")


def test_affinity_cookies_only_when_the_client_does_not_send_them_yet():
    p = load_profile("azure-appservice")
    inc = Incoming("https", "myapp.azurewebsites.net", "/", [], Client("203.0.113.7", 1))
    values = forward(p, inc).values
    lines = [v for k, v in respond(p, inc, values, [], set()) if k == "Set-Cookie"]
    assert [line.split("=", 1)[0] for line in lines] == ["ARRAffinity", "ARRAffinitySameSite"]
    assert respond(p, inc, values, [], {"ARRAffinity", "ARRAffinitySameSite"}) == []
    assert respond(p, inc, values, [], set(), affinity=False) == []
    assert affinity_id("myapp.azurewebsites.net") in lines[0]


def test_separator_copy_from_and_wildcard_strip():
    p = profile({"name": "X-Forwarded-For", "value": "${client_ip}", "client": "append", "separator": ","},
                {"name": "X-Original-Forwarded-For", "copy_from": "X-Forwarded-For"},
                {"name": "X-FD-*", "client": "strip"})
    got = run(p, [("X-Forwarded-For", "1.1.1.1"), ("X-FD-HealthProbe", "1"), ("x-fd-other", "2")])
    assert got == [("X-Forwarded-For", "1.1.1.1,203.0.113.7"), ("X-Original-Forwarded-For", "1.1.1.1")]
    assert run(p, [("X-Original-Forwarded-For", "spoof")]) == [("X-Forwarded-For", "203.0.113.7")]


def test_upstream_host_policy_and_empty_headers():
    p = parse_profile("t", {**SOURCES, "host": "upstream", "request": {"drop_empty": True}})
    inc = Incoming("https", "myapp.example", "/", [("Host", "myapp.example"), ("X-Empty", "")],
                   Client("203.0.113.7", 1), upstream="127.0.0.1:3000")
    fwd = forward(p, inc)
    assert fwd.host == "127.0.0.1:3000" and fwd.headers == [("Host", "myapp.example")]


def test_response_header_rules_reuse_the_requests_values():
    p = parse_profile("t", {**SOURCES, "request": {"headers": [
        {"name": "CF-Ray", "value": "${hex16}-SJC", "source": "S1"}]}, "response": {"headers": [
        {"name": "CF-Ray", "value": "${hex16}-SJC", "source": "S1"},
        {"name": "Server", "value": "cloudflare", "source": "S1"}]}})
    inc = Incoming("https", "h", "/", [], Client("203.0.113.7", 1))
    fwd = forward(p, inc)
    out = dict(respond(p, inc, fwd.values, [("Server", "uvicorn"), ("Content-Type", "text/plain")], set()))
    assert out == {"Content-Type": "text/plain", "CF-Ray": dict(fwd.headers)["CF-Ray"], "Server": "cloudflare"}
