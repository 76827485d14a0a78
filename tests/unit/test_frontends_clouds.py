"""The cloud front ends (DigitalOcean App Platform, AWS CloudFront, AWS API Gateway, Google App Engine): the headers
each adds, what survives of a client's forged copies, the Host the app gets, their own redirects and response headers.

The expectations are written from the front ends' documentation and captured dumps (each profile's [sources]), not
read back from the profile files.
"""

import re

import pytest

from offload.forward import Client, Incoming, forward, respond
from offload.profiles import load_profile

HOST = "shop.example.com"
IP, PORT = "203.0.113.7", 50123
UPSTREAM = "127.0.0.1:3000"
CLOUDS = ["digitalocean-app-platform", "aws-cloudfront", "aws-api-gateway", "google-app-engine"]
CF_ID = r"[0-9a-f]{32}"  # CloudFront's edge server id in Via
AMZ_CF_ID = r"[A-Za-z0-9+/_-]{48,54}=="  # X-Amz-Cf-Id: base64, ending '=='
TRACE_ROOT = r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}"

# name -> the front end's headers for an HTTPS request with no forwarding headers of its own: (name, format) in order
ADDED = {
    # Captured App Platform requests (benpate/hannibal 2024, calcom/synclinear.com#91 2023), by name: Cloudflare's
    # Accept-Encoding and CDN-Loop, the client in do-connecting-ip, X-Forwarded-For '<client>,<Cloudflare edge>'.
    "digitalocean-app-platform": [("Accept-Encoding", "gzip, br"), ("CDN-Loop", "cloudflare; loops=1"),
                                  ("do-connecting-ip", IP), ("X-Forwarded-For", rf"{IP},\d+\.\d+\.\d+\.\d+"),
                                  ("X-Forwarded-Proto", "https")],
    # The Lambda@Edge origin-request example: X-Forwarded-For, then Via: <viewer's version> <32 hex>.cloudfront.net;
    # X-Amz-Cf-Id on every origin request. No X-Forwarded-Proto.
    "aws-cloudfront": [("X-Forwarded-For", IP), ("Via", rf"1\.1 {CF_ID}\.cloudfront\.net \(CloudFront\)"),
                       ("X-Amz-Cf-Id", AMZ_CF_ID)],
    # A logged request behind an HTTP API and a VPC link: X-Forwarded-Port and X-Amzn-Trace-Id, then Forwarded and
    # Via at the end; no X-Forwarded-For, no X-Forwarded-Proto.
    "aws-api-gateway": [("X-Forwarded-Port", "443"), ("X-Amzn-Trace-Id", TRACE_ROOT),
                        ("Forwarded", f"for={IP};host={HOST};proto=https"), ("Via", "HTTP/1.1 AmazonAPIGateway")],
    # App Engine in the wire order of a 2022 capture; X-Forwarded-For "<client>, 169.254.1.1".
    "google-app-engine": [("X-Forwarded-For", rf"{re.escape(IP)}, 169\.254\.1\.1"), ("X-Forwarded-Proto", "https"),
                          ("Forwarded", f'for="{re.escape(IP)}";proto=https'),
                          ("X-Cloud-Trace-Context", r"[0-9a-f]{32}/\d+"), ("X-Appengine-Country", "[A-Z]{2}"),
                          ("X-Appengine-City", r"[a-z ]+"), ("X-Appengine-CityLatLong", r"-?\d+\.\d+,-?\d+\.\d+"),
                          ("X-Appengine-Region", r"[a-z0-9]{1,3}"), ("Traceparent", "00-[0-9a-f]{32}-[0-9a-f]{16}-00"),
                          ("X-Appengine-Timeout-Ms", r"\d+"), ("X-Appengine-Https", "on"), ("X-Appengine-User-IP", IP),
                          ("X-Appengine-Api-Ticket", "[A-Za-z0-9+/]+=*"), ("X-Appengine-Request-Log-Id", "[0-9a-f]+"),
                          ("X-Appengine-Default-Version-Hostname", r"[a-z0-9.-]+\.appspot\.com")],
}
CLIENT_HEADERS = [("Host", HOST), ("Accept", "*/*"), ("Accept-Encoding", "gzip")]


def run(name, headers=CLIENT_HEADERS, scheme="https", ip=IP):
    incoming = Incoming(scheme, HOST, "/cart?id=7", list(headers), Client(ip, PORT, "1.3"), upstream=UPSTREAM)
    return forward(load_profile(name), incoming)


def answer(name, app_headers=(), scheme="https"):
    """The forwarded request and the response headers the client gets."""
    p = load_profile(name)
    incoming = Incoming(scheme, HOST, "/", [], Client(IP, PORT), upstream=UPSTREAM)
    fwd = forward(p, incoming)
    return fwd, dict(respond(p, incoming, fwd.values, list(app_headers), set()))


def test_every_cloud_has_expectations_here():
    assert set(ADDED) == set(CLOUDS)


@pytest.mark.parametrize("name", CLOUDS)
def test_headers_added_in_order_and_format(name):
    got = run(name)
    added = [(k, v) for k, v in got.headers if (k, v) not in CLIENT_HEADERS]
    assert [k for k, _ in added] == [k for k, _ in ADDED[name]], name
    for (k, v), (_, pattern) in zip(added, ADDED[name]):
        assert re.fullmatch(pattern, v), f"{name} {k}: {v!r} !~ {pattern!r}"


@pytest.mark.parametrize("name, host", [
    ("digitalocean-app-platform", HOST), ("aws-api-gateway", HOST), ("google-app-engine", HOST),
    # "CloudFront sets the value to the domain name of the origin": here, the app's own address
    ("aws-cloudfront", UPSTREAM),
])
def test_the_host_the_app_gets(name, host):
    assert run(name).host == host


@pytest.mark.parametrize("name", ["aws-cloudfront", "aws-api-gateway"])
def test_aws_front_ends_send_no_x_forwarded_proto(name):
    assert "x-forwarded-proto" not in {k.lower() for k, _ in run(name).headers}


def test_api_gateway_sends_no_x_forwarded_for():
    # "does set Forwarded header not X-Forwarded-For"; the logged request has neither X-Forwarded-For nor -Proto
    assert "x-forwarded-for" not in {k.lower() for k, _ in run("aws-api-gateway").headers}


# What a client's forged copy turns into: (header, forged value, what the app sees)
SPOOFING = {
    # the docs: do-connecting-ip is where the client is; X-Forwarded-For is the ingress's, not the client's
    "digitalocean-app-platform": [("do-connecting-ip", "1.1.1.1", [IP]), ("X-Forwarded-Proto", "http", ["https"])],
    # "If the viewer request includes X-Forwarded-For ... appends [the IP] to the end": 192.0.2.4,192.0.2.3,192.0.2.2;
    # X-Forwarded-Proto and X-Real-IP: "CloudFront removes the header"; "removes all X-Edge-* headers"
    "aws-cloudfront": [("X-Forwarded-For", "1.1.1.1", [f"1.1.1.1,{IP}"]), ("X-Forwarded-Proto", "https", []),
                       ("X-Real-IP", "1.1.1.1", []), ("X-Edge-Origin-Shield", "1", [])],
    # App Engine-specific names and X-Google-* are removed or replaced; a forged X-Appengine-User-Ip was replaced
    "google-app-engine": [("X-Appengine-User-IP", "0.1.0.2", [IP]), ("X-Appengine-Cron", "true", []),
                          ("X-Appengine-Queuename", "example-queue", []), ("X-Google-Thing", "1", []),
                          ("X-Forwarded-For", "1.1.1.1", [f"1.1.1.1, {IP}, 169.254.1.1"]),
                          ("X-Forwarded-Proto", "http", ["https"])],
}


@pytest.mark.parametrize("name, header, forged, seen", [
    (name, *case) for name, cases in sorted(SPOOFING.items()) for case in cases])
def test_what_survives_of_a_clients_forged_header(name, header, forged, seen):
    got = run(name, CLIENT_HEADERS + [(header, forged)]).headers
    assert [v for k, v in got if k.lower() == header.lower()] == seen


def test_digitalocean_puts_the_cloudflare_edge_last_so_one_trusted_hop_is_not_the_client():
    got = dict(run("digitalocean-app-platform", CLIENT_HEADERS + [("X-Forwarded-For", "1.1.1.1")]).headers)
    assert got["X-Forwarded-For"] == f"1.1.1.1,{IP},108.162.221.54"


def test_app_engine_keeps_a_lookalike_name():
    # "Only exact, case-insensitive matches are removed ... X-Appengine-Cntry will not"
    got = run("google-app-engine", CLIENT_HEADERS + [("X-Appengine-Cntry", "XX")]).headers
    assert ("X-Appengine-Cntry", "XX") in got


def test_api_gateway_quotes_an_ipv6_client_in_forwarded():
    assert dict(run("aws-api-gateway", ip="2001:db8::17").headers)["Forwarded"].startswith('for="[2001:db8::17]";')


@pytest.mark.parametrize("name, expected", [
    ("google-app-engine", {"X-Appengine-Https": "off", "X-Forwarded-Proto": "http"}),
    ("aws-api-gateway", {"X-Forwarded-Port": "80", "Forwarded": f"for={IP};host={HOST};proto=http"}),
])
def test_plain_http_requests(name, expected):
    got = dict(run(name, scheme="http").headers)
    for k, v in expected.items():
        assert got[k] == v


@pytest.mark.parametrize("name, code", [
    # CloudFront "Redirect HTTP to HTTPS": 301; App Engine's secure: always: 302 unless redirect_http_response_code;
    # API Gateway has HTTPS endpoints only (nothing to redirect)
    ("aws-cloudfront", 301), ("google-app-engine", 302), ("digitalocean-app-platform", 301), ("aws-api-gateway", 0),
])
def test_front_ends_that_redirect_plain_http_themselves(name, code):
    assert load_profile(name).https_redirect == code


@pytest.mark.parametrize("name, expected", [
    ("aws-cloudfront", {"X-Cache": "Miss from cloudfront", "X-Amz-Cf-Pop": "PHX50-C2"}),
    ("google-app-engine", {"Server": "Google Frontend"}),
])
def test_response_headers(name, expected):
    _, out = answer(name, [("Server", "uvicorn")])
    for k, v in expected.items():
        assert out[k] == v


def test_cloudfront_answers_with_the_same_edge_and_request_id():
    fwd, out = answer("aws-cloudfront")
    sent = dict(fwd.headers)
    assert out["X-Amz-Cf-Id"] == sent["X-Amz-Cf-Id"]
    edge = re.fullmatch(rf"1\.1 ({CF_ID})\.cloudfront\.net \(CloudFront\)", sent["Via"]).group(1)
    assert out["Via"] == f"1.1 {edge}.cloudfront.net (CloudFront)"


def test_app_engine_answers_with_the_requests_trace_id():
    fwd, out = answer("google-app-engine")
    trace = dict(fwd.headers)["X-Cloud-Trace-Context"].split("/")[0]
    assert out["X-Cloud-Trace-Context"] == f"{trace};o=1"


def test_api_gateway_answers_with_a_request_id():
    _, out = answer("aws-api-gateway")
    assert re.fullmatch(r"[A-Za-z0-9_-]{15}=", out["apigw-requestid"])


@pytest.mark.parametrize("name, signal", [
    ("digitalocean-app-platform", "X-Forwarded-Proto"), ("google-app-engine", "X-Forwarded-Proto"),
    ("aws-api-gateway", "Forwarded"), ("aws-cloudfront", ""),
])
def test_the_https_signal_the_advice_builds_on(name, signal):
    from offload.advice import https_signal
    assert https_signal(load_profile(name).request) == signal


def test_cloudfront_names_a_fix_at_the_front_end():
    assert "X-Forwarded-Proto: https" in load_profile("aws-cloudfront").fix


@pytest.mark.parametrize("version, written", [("1.1", "1.1"), ("2", "2.0"), ("3", "3.0")])
def test_cloudfronts_via_carries_the_viewers_http_version_as_major_minor(version, written):
    incoming = Incoming("https", HOST, "/", [], Client(IP, PORT), http_version=version, upstream=UPSTREAM)
    assert dict(forward(load_profile("aws-cloudfront"), incoming).headers)["Via"].startswith(f"{written} ")
