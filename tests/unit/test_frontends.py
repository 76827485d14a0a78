"""Every front end: the headers it adds (order and format), and what survives of a client's forged copies.

The expectations are written from the front ends' public documentation and captured dumps (each profile's
[sources]), not read back from the profile files.
"""

import re

import pytest

from offload.forward import Client, Incoming, forward, respond
from offload.profiles import load_profile, profile_names

HOST = "shop.example.com"
IP, PORT = "203.0.113.7", 50123
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
HEX = r"[0-9a-f]{%d}"

# name -> the front end's headers for an HTTPS request with no forwarding headers of its own: (name, format) in order
ADDED = {
    # the 2020 wire order (TruRating), Standard/Premium's values (ipsimple/platform 2024, Azure/AKS blog 2025)
    "azure-frontdoor": [("Via", r"HTTP/1\.1 Azure"), ("X-Forwarded-For", IP), ("X-Azure-ClientIP", IP),
                        ("X-Azure-Ref", r"20\d{6}T\d{6}Z-[0-9a-z]{48}"), ("X-Forwarded-Host", HOST),
                        ("X-Forwarded-Proto", "https"), ("X-Azure-RequestChainV2", r"hops=1"), ("X-Azure-SocketIP", IP),
                        ("X-Azure-FDID", GUID.replace("4[0-9a-f]{3}", "[0-9a-f]{4}").replace("[89ab]", "[0-9a-f]"))],
    # the arrival order of a 2021 capture (cpinotossi/cptdagw)
    "azure-appgateway": [("X-Forwarded-Proto", "https"), ("X-Forwarded-Port", "443"), ("X-Forwarded-For", f"{IP}:{PORT}"),
                         ("X-Original-URL", r"/cart\?id=7"), ("X-AppGW-Trace-Id", HEX % 32), ("X-Original-Host", HOST)],
    # the arrival order of a 2023 capture, values from 2025 ones; no X-Forwarded-Host (azure-container-apps#1623)
    "azure-containerapps": [("X-Forwarded-For", IP), ("x-envoy-external-address", IP), ("x-request-id", GUID),
                            ("x-envoy-expected-rq-timeout-ms", r"\d+"), ("x-k8se-app-name", "shop--[a-z0-9]+"),
                            ("x-k8se-app-namespace", "k8se-apps"), ("x-k8se-protocol", "http1"), ("x-k8se-app-kind", "web"),
                            ("x-ms-containerapp-name", "shop"), ("x-ms-containerapp-revision-name", "shop--[a-z0-9]+"),
                            ("x-arr-ssl", "true"), ("X-Forwarded-Proto", "https")],
    "heroku": [("X-Forwarded-For", IP), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Port", "443"),
               ("X-Request-Start", r"1\d{12}"), ("X-Request-Id", GUID), ("Via", r"1\.1 heroku-router")],
    "aws-alb": [("X-Forwarded-For", IP), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Port", "443"),
                ("X-Amzn-Trace-Id", r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}")],
    # the wire order of a 2025 capture (MystenLabs/sui pull_grafana_logs.rs); ;o=1 only on sampled requests
    "gcp-lb": [("X-Cloud-Trace-Context", r"[0-9a-f]{32}/\d+"), ("Via", r"1\.1 google"),
               ("X-Forwarded-For", rf"{IP}, \d+\.\d+\.\d+\.\d+"), ("X-Forwarded-Proto", "https")],
    "cloud-run": [("X-Forwarded-For", IP), ("X-Forwarded-Proto", "https"), ("Forwarded", f'for="{IP}";proto=https'),
                  ("X-Cloud-Trace-Context", r"[0-9a-f]{32}/\d+;o=1"), ("traceparent", r"00-[0-9a-f]{32}-[0-9a-f]{16}-01")],
    # the 2021 wire order of an origin's dump (uptoeleven/ultimo.gg), today's CDN-Loop (2024+ dumps)
    "cloudflare": [("Connection", "Keep-Alive"), ("CF-IPCountry", "[A-Z]{2}"), ("X-Forwarded-For", IP),
                   ("CF-Ray", r"[0-9a-f]{16}-[A-Z]{3}"), ("X-Forwarded-Proto", "https"),
                   ("CF-Visitor", r'\{"scheme":"https"\}'), ("CF-Connecting-IP", IP), ("CDN-Loop", "cloudflare; loops=1")],
    # X-Forwarded-For: the client, then the app's own IP (superfly/docs#1714; arcjet/arcjet-js#5412 dump)
    "fly": [("X-Request-Start", r"t=1\d{15}"), ("Fly-Client-IP", IP), ("X-Forwarded-For", IP + r", 66\.241\.124\.230"),
            ("Fly-Forwarded-Proto", "https"), ("X-Forwarded-Proto", "https"), ("Fly-Forwarded-Ssl", "on"),
            ("X-Forwarded-Ssl", "on"), ("Fly-Forwarded-Port", "443"), ("X-Forwarded-Port", "443"),
            ("Fly-Region", "[a-z]{3}"), ("Fly-Request-Id", "0[0-9A-HJKMNP-TV-Z]{25}-[a-z]{3}"), ("Via", r"1\.1 fly\.io"),
            ("Fly-Traceparent", "00-[0-9a-f]{32}-[0-9a-f]{16}-00"), ("Fly-Tracestate", "")],
    "nginx-default": [],
    "ingress-nginx": [("X-Request-ID", HEX % 32), ("X-Real-IP", IP), ("X-Forwarded-For", IP),
                      ("X-Forwarded-Host", HOST), ("X-Forwarded-Port", "443"), ("X-Forwarded-Proto", "https"),
                      ("X-Forwarded-Scheme", "https"), ("X-Scheme", "https")],
    "rfc7239": [("Forwarded", f'for={IP};host="{HOST}";proto=https')],
}
CLIENT_HEADERS = [("Host", HOST), ("Accept", "*/*"), ("Accept-Encoding", "gzip")]


def run(name, headers=CLIENT_HEADERS, scheme="https", ip=IP):
    incoming = Incoming(scheme, HOST, "/cart?id=7", list(headers), Client(ip, PORT, "1.3"), upstream="127.0.0.1:3000")
    return forward(load_profile(name), incoming)


# Front ends whose expectations live in their own test files (test_frontends_<group>.py).
ELSEWHERE = {"vercel", "netlify", "render", "railway", "digitalocean-app-platform", "aws-cloudfront", "aws-api-gateway",
             "google-app-engine", "traefik", "caddy", "haproxy", "akamai"}


def test_every_profile_has_expectations_here():
    assert set(ADDED) | {"azure-windows-legacy", "azure-windows-iisnode-xff", "azure-appservice",
                         "azure-appservice-windows"} | ELSEWHERE == \
        set(profile_names())


@pytest.mark.parametrize("name", sorted(ADDED))
def test_headers_added_in_order_and_format(name):
    got = run(name).headers
    client = [(k, v) for k, v in got if (k, v) in CLIENT_HEADERS]
    added = [(k, v) for k, v in got if (k, v) not in CLIENT_HEADERS and k != "Accept-Encoding"]
    assert [k for k, _ in added] == [k for k, _ in ADDED[name]], name
    for (k, v), (_, pattern) in zip(added, ADDED[name]):
        assert re.fullmatch(pattern, v), f"{name} {k}: {v!r} !~ {pattern!r}"
    assert client[0] == ("Host", HOST) or name == "nginx-default"


# What a client's forged copy turns into: (header, forged value, what the app sees)
SPOOFING = {
    "azure-frontdoor": [("X-Forwarded-Proto", "http", ["https"]), ("X-Forwarded-Host", "evil.test", [HOST]),
                        ("X-Forwarded-For", "1.1.1.1", [f"1.1.1.1, {IP}"]), ("X-FD-HealthProbe", "1", []),
                        ("X-Azure-ClientIP", "1.1.1.1", [IP])],
    "azure-appgateway": [("X-Forwarded-Proto", "http", ["https"]), ("X-Forwarded-For", "1.1.1.1",
                                                                    [f"1.1.1.1, {IP}:{PORT}"])],
    # X-Forwarded-For overwritten (MicrosoftDocs/azure-docs PR #125493); X-Forwarded-Host not touched [INF: Envoy's default]
    "azure-containerapps": [("X-Forwarded-Proto", "http", ["https"]), ("X-Forwarded-For", "1.1.1.1", [IP]),
                            ("X-Forwarded-Host", "evil.test", ["evil.test"])],
    "heroku": [("X-Forwarded-Proto", "http", ["https"]), ("X-Forwarded-For", "1.1.1.1", [f"1.1.1.1, {IP}"]),
               ("X-Request-Id", "mine", ["mine"])],
    "aws-alb": [("X-Forwarded-Proto", "http", ["https"]), ("X-Forwarded-For", "1.1.1.1", [f"1.1.1.1, {IP}"])],
    "gcp-lb": [("X-Forwarded-Proto", "http", ["https"]), ("X-Google-Thing", "1", [])],
    "cloud-run": [("Forwarded", "for=1.1.1.1;proto=http", [f'for="{IP}";proto=https']), ("X-Google-Thing", "1", [])],
    "cloudflare": [("X-Forwarded-Proto", "http", ["https"]), ("X-Forwarded-For", "1.1.1.1", [f"1.1.1.1,{IP}"]),
                   ("CF-Connecting-IP", "1.1.1.1", [IP]), ("CF-Visitor", '{"scheme":"http"}', ['{"scheme":"https"}'])],
    "fly": [("X-Forwarded-Proto", "http", ["https"]), ("X-Forwarded-Port", "8080", ["8080"]),
            ("X-Forwarded-Ssl", "off", ["on"]), ("Fly-Client-IP", "1.1.1.1", [IP]),
            ("X-Forwarded-For", "2.2.2.2", [f"2.2.2.2, {IP}, 66.241.124.230"])],  # as arcjet/arcjet-js#5412 saw
    "nginx-default": [("X-Forwarded-Proto", "https", ["https"]), ("X-Empty", "", []), ("X_Under", "1", [])],
    "ingress-nginx": [("X-Forwarded-Proto", "http", ["https"]), ("X-Forwarded-For", "1.1.1.1", [IP]),
                      ("X-Original-Forwarded-For", "2.2.2.2", []), ("Proxy", "http://evil.test", []),
                      ("X-Request-ID", "mine", ["mine"])],
    "rfc7239": [("Forwarded", "for=1.1.1.1", [f'for=1.1.1.1, for={IP};host="{HOST}";proto=https']),
                ("X-Forwarded-Proto", "https", ["https"])],
}


@pytest.mark.parametrize("name, header, forged, seen", [
    (name, *case) for name, cases in sorted(SPOOFING.items()) for case in cases])
def test_what_survives_of_a_clients_forged_header(name, header, forged, seen):
    got = run(name, CLIENT_HEADERS + [(header, forged)]).headers
    assert [v for k, v in got if k.lower() == header.lower()] == seen


def test_ingress_nginx_keeps_the_clients_forwarded_for_as_the_original():
    got = dict(run("ingress-nginx", CLIENT_HEADERS + [("X-Forwarded-For", "1.1.1.1")]).headers)
    assert got["X-Original-Forwarded-For"] == "1.1.1.1" and got["X-Forwarded-For"] == IP


def test_nginx_default_sends_the_upstream_as_host():
    assert run("nginx-default").host == "127.0.0.1:3000"


@pytest.mark.parametrize("name", ["cloud-run", "rfc7239"])
def test_ipv6_clients_in_forwarded_are_bracketed_and_quoted(name):
    value = dict(run(name, ip="2001:db8::17").headers)["Forwarded"]
    assert value.startswith('for="[2001:db8::17]"')


@pytest.mark.parametrize("name, scheme, expected", [
    ("fly", "http", [("X-Forwarded-Ssl", "off"), ("Fly-Forwarded-Ssl", "off"), ("X-Forwarded-Proto", "http"),
                     ("Fly-Forwarded-Proto", "http"), ("Fly-Forwarded-Port", "80")]),
    ("heroku", "http", [("X-Forwarded-Proto", "http"), ("X-Forwarded-Port", "80")]),
])
def test_plain_http_requests(name, scheme, expected):
    got = dict(run(name, scheme=scheme).headers)
    for k, v in expected:
        assert got[k] == v


@pytest.mark.parametrize("name, code", [
    ("azure-appservice", 301), ("azure-frontdoor", 301), ("azure-containerapps", 301), ("cloud-run", 302),
    ("fly", 301), ("ingress-nginx", 308), ("heroku", 0), ("aws-alb", 0), ("cloudflare", 0), ("nginx-default", 0),
])
def test_front_ends_that_redirect_plain_http_themselves(name, code):
    assert load_profile(name).https_redirect == code


@pytest.mark.parametrize("name, expected", [
    ("cloudflare", {"Server": "cloudflare"}), ("heroku", {"Server": "Heroku", "Via": "1.1 heroku-router"}),
    ("fly", {"Via": "1.1 fly.io"}), ("gcp-lb", {"Via": "1.1 google"}),
    ("ingress-nginx", {"Strict-Transport-Security": "max-age=31536000; includeSubDomains"}),
])
def test_response_headers(name, expected):
    p = load_profile(name)
    incoming = Incoming("https", HOST, "/", [], Client(IP, PORT))
    out = dict(respond(p, incoming, forward(p, incoming).values, [("Server", "uvicorn")], set()))
    for k, v in expected.items():
        assert out[k] == v


def test_cloudflare_and_front_door_repeat_the_requests_id_on_the_response():
    for name, header in [("cloudflare", "CF-Ray"), ("azure-frontdoor", "X-Azure-Ref")]:
        p = load_profile(name)
        incoming = Incoming("https", HOST, "/", [], Client(IP, PORT))
        fwd = forward(p, incoming)
        assert dict(respond(p, incoming, fwd.values, [], set()))[header] == dict(fwd.headers)[header]


def test_app_service_on_windows_has_the_windows_order_and_no_client_ip_headers():
    # the 2020-2021 Windows dumps (OrderCloud webhook mock, cagov Functions sample, TruRating behind Front Door)
    got = run("azure-appservice-windows").headers
    names = [k for k, _ in got if (k, _) not in CLIENT_HEADERS and k != "Accept-Encoding"]
    assert names == ["Max-Forwards", "X-WAWS-Unencoded-URL", "CLIENT-IP", "X-ARR-LOG-ID", "DISGUISED-HOST",
                     "X-SITE-DEPLOYMENT-ID", "WAS-DEFAULT-HOSTNAME", "X-Original-URL", "X-Forwarded-For", "X-ARR-SSL",
                     "X-Forwarded-Proto", "X-AppService-Proto", "X-Forwarded-TlsVersion"]
    linux = {k for k, _ in run("azure-appservice").headers}
    assert {"X-Client-IP", "X-Client-Port"} <= linux and not {"X-Client-IP", "X-Client-Port"} & set(names)
    assert dict(got)["X-Forwarded-For"] == f"{IP}:{PORT}"


def test_app_service_on_windows_keeps_an_upstream_scheme_and_says_nothing_of_tls_on_http():
    kept = run("azure-appservice-windows", CLIENT_HEADERS + [("X-Forwarded-Proto", "http")]).headers
    assert [v for k, v in kept if k == "X-Forwarded-Proto"] == ["http"]  # add-if-absent, as behind Front Door
    plain = {k for k, _ in run("azure-appservice-windows", scheme="http").headers}
    assert not plain & {"X-ARR-SSL", "X-Forwarded-Proto", "X-AppService-Proto", "X-Forwarded-TlsVersion"}
