"""The reverse proxies and the CDN (Traefik, Caddy, HAProxy, Akamai): the headers each adds, what survives of a
client's forged copies, their own redirects and response headers.

The expectations are written from the proxies' source code, documentation and captured dumps (each profile's
[sources]), and for Traefik, Caddy and HAProxy from their release binaries run with the configuration each profile
describes, not read back from the profile files.
"""

import re

import pytest

from offload.forward import Client, Incoming, forward, respond
from offload.profiles import load_profile

HOST = "shop.example.com"
IP, PORT = "203.0.113.7", 50123
PROXIES = ["traefik", "caddy", "haproxy", "akamai"]
# What curl sends: no Accept-Encoding, so the Go proxies' own gzip request shows.
CLIENT = [("Host", HOST), ("User-Agent", "curl/8.5.0"), ("Accept", "*/*")]

# name -> the front end's headers for an HTTPS request with no forwarding headers of its own: (name, format) in order
ADDED = {
    # Go's net/http writes the headers sorted by name; its transport adds Accept-Encoding: gzip last. The Traefik
    # docs' whoami dump over HTTPS; forwarded_header.go.
    "traefik": [("X-Forwarded-For", IP), ("X-Forwarded-Host", HOST), ("X-Forwarded-Port", "443"),
                ("X-Forwarded-Proto", "https"), ("X-Forwarded-Server", r"[\w.-]+"), ("X-Real-Ip", IP),
                ("Accept-Encoding", "gzip")],
    # reverseproxy.go: Via '<version> Caddy', X-Forwarded-For/-Proto/-Host; sorted by Go as for Traefik.
    "caddy": [("Via", r"1\.1 Caddy"), ("X-Forwarded-For", IP), ("X-Forwarded-Host", HOST),
              ("X-Forwarded-Proto", "https"), ("Accept-Encoding", "gzip")],
    # http-request rules run before option forwardfor appends its header.
    "haproxy": [("X-Forwarded-Proto", "https"), ("X-Forwarded-For", IP)],
    # Akamai's Origin Server defaults: True-Client-IP on; Via and X-Akamai-CONFIG-LOG-DETAIL seen in dumps; the
    # connecting IP appended to X-Forwarded-For. No X-Forwarded-Proto at all.
    # shalomc/HTTP-echo's 2016 dump (Accept-Encoding to Via), Akamai's documented True-Client-IP default.
    "akamai": [("Accept-Encoding", "gzip"), ("Akamai-Origin-Hop", "1"), ("Connection", "TE, keep-alive"),
               ("TE", r"chunked;q=1\.0"), ("True-Client-IP", IP), ("X-Akamai-CONFIG-LOG-DETAIL", "true"),
               ("Via", r"1\.1 akamai\.net\(ghost\) \(AkamaiGHost\)"), ("X-Forwarded-For", IP)],
}


def run(name, headers=CLIENT, scheme="https", ip=IP):
    incoming = Incoming(scheme, HOST, "/cart?id=7", list(headers), Client(ip, PORT, "1.3"), upstream="127.0.0.1:3000")
    return forward(load_profile(name), incoming)


def values(got, header):
    return [v for k, v in got.headers if k.lower() == header.lower()]


@pytest.mark.parametrize("name", PROXIES)
def test_headers_added_in_order_and_format(name):
    got = run(name)
    assert got.host == HOST  # Host passed through unchanged by all four
    added = [(k, v) for k, v in got.headers if (k, v) not in CLIENT]
    assert [k for k, _ in added] == [k for k, _ in ADDED[name]], name
    for (k, v), (_, pattern) in zip(added, ADDED[name]):
        assert re.fullmatch(pattern, v), f"{name} {k}: {v!r} !~ {pattern!r}"


# What a client's forged copy turns into: (header, forged value, what the app sees)
SPOOFING = {
    # No forwardedHeaders.trustedIPs: every X-Forwarded-* Traefik manages, X-Real-Ip and their underscore spellings
    # are deleted before Traefik sets its own; X-Forwarded-Scheme / X-Scheme and Forwarded pass in v3.7.
    "traefik": [("X-Forwarded-Proto", "http", ["https"]), ("X-Forwarded-For", "1.1.1.1", [IP]),
                ("X-Forwarded-Host", "evil.test", [HOST]), ("X-Forwarded-Port", "8080", ["443"]),
                ("X-Real-Ip", "1.1.1.1", [IP]), ("X-Forwarded-Prefix", "/evil", []), ("X-Forwarded-Uri", "/x", []),
                ("X-Forwarded-Tls-Client-Cert", "MIIB", []), ("X_Forwarded_Proto", "http", []),
                ("X-Forwarded-Scheme", "http", ["http"]), ("Forwarded", "proto=http", ["proto=http"]),
                ("Accept-Encoding", "br", ["br"])],
    # No trusted_proxies: X-Forwarded-For/-Proto/-Host ignored and set; the client's Via kept with Caddy's after it;
    # names with '_' or '.' dropped; X-Real-Ip and X-Forwarded-Port not touched.
    "caddy": [("X-Forwarded-Proto", "http", ["https"]), ("X-Forwarded-For", "1.1.1.1", [IP]),
              ("X-Forwarded-Host", "evil.test", [HOST]), ("Via", "1.1 other", ["1.1 other, 1.1 Caddy"]),
              ("X_Forwarded_Proto", "http", []), ("X.Dot", "1", []), ("X-Real-Ip", "1.1.1.1", ["1.1.1.1"]),
              ("X-Forwarded-Port", "8080", ["8080"]), ("Accept-Encoding", "br", ["br"])],
    # set-header removes the client's X-Forwarded-Proto on TLS; option forwardfor appends after the client's value.
    "haproxy": [("X-Forwarded-Proto", "http", ["https"]), ("X-Forwarded-For", "1.1.1.1", [f"1.1.1.1, {IP}"]),
                ("X-Forwarded-Host", "evil.test", ["evil.test"]), ("X_Forwarded_Proto", "http", ["http"])],
    # True-Client-IP: clients may not set it by default; X-Forwarded-For appended; X-Forwarded-Proto left alone.
    "akamai": [("True-Client-IP", "1.1.1.1", [IP]), ("X-Forwarded-For", "1.1.1.1", [f"1.1.1.1, {IP}"]),
               ("X-Forwarded-Proto", "https", ["https"]), ("X-Forwarded-Proto", "http", ["http"])],
}


@pytest.mark.parametrize("name, header, forged, seen", [
    (name, *case) for name, cases in sorted(SPOOFING.items()) for case in cases])
def test_what_survives_of_a_clients_forged_header(name, header, forged, seen):
    assert values(run(name, CLIENT + [(header, forged)]), header) == seen


def test_haproxy_passes_a_clients_x_forwarded_proto_over_plain_http():
    """`http-request set-header X-Forwarded-Proto https if { ssl_fc }` does nothing without TLS."""
    assert values(run("haproxy", CLIENT + [("X-Forwarded-Proto", "https")], scheme="http"), "X-Forwarded-Proto") == \
        ["https"]
    assert values(run("haproxy", scheme="http"), "X-Forwarded-Proto") == []
    assert values(run("haproxy", scheme="http"), "X-Forwarded-For") == [IP]


@pytest.mark.parametrize("name, expected", [
    ("traefik", {"X-Forwarded-Proto": "http", "X-Forwarded-Port": "80"}),
    ("caddy", {"X-Forwarded-Proto": "http", "Via": "1.1 Caddy"}),
])
def test_plain_http_requests(name, expected):
    got = dict(run(name, scheme="http").headers)
    for k, v in expected.items():
        assert got[k] == v


def test_akamai_tells_the_origin_nothing_about_https_and_the_fix_says_so():
    for scheme in ("https", "http"):
        names = {k.lower() for k, _ in run("akamai", scheme=scheme).headers}
        assert not names & {"x-forwarded-proto", "forwarded", "x-forwarded-ssl", "front-end-https"}
    assert "X-Forwarded-Proto" in load_profile("akamai").fix


@pytest.mark.parametrize("name", ["traefik", "caddy", "haproxy", "akamai"])
def test_ipv6_clients_are_written_bare(name):
    got = dict(run(name, ip="2001:db8::17").headers)
    assert got["X-Forwarded-For"] == "2001:db8::17"


@pytest.mark.parametrize("name, code", [("traefik", 0), ("caddy", 308), ("haproxy", 0), ("akamai", 0)])
def test_front_ends_that_redirect_plain_http_themselves(name, code):
    assert load_profile(name).https_redirect == code


def test_caddy_answers_with_via_and_keeps_the_apps_server():
    p = load_profile("caddy")
    incoming = Incoming("https", HOST, "/", [], Client(IP, PORT))
    out = respond(p, incoming, forward(p, incoming).values, [("Server", "uvicorn"), ("Via", "1.1 app")], set())
    got = dict(out)
    assert got["Server"] == "uvicorn" and got["Via"] == "1.1 app, 1.1 Caddy"


@pytest.mark.parametrize("name", ["traefik", "haproxy", "akamai"])
def test_no_response_headers_of_their_own(name):
    p = load_profile(name)
    incoming = Incoming("https", HOST, "/", [], Client(IP, PORT))
    app = [("Server", "uvicorn"), ("Content-Type", "text/plain")]
    assert list(respond(p, incoming, forward(p, incoming).values, app, set())) == app
