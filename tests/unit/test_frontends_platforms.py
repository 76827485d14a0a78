"""The app platforms (Vercel, Netlify, Render, Railway): the headers each adds, what survives of a client's forged
copies, their own redirects and response headers.

The expectations are written from the platforms' documentation and captured dumps (each profile's [sources]), not
read back from the profile files.
"""

import re

import pytest

from offload.forward import Client, Incoming, forward, respond
from offload.profiles import load_profile

HOST = "shop.example.com"
IP, PORT = "203.0.113.7", 50123
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
MS = r"1\d{12}"  # Unix milliseconds
PLATFORMS = ["vercel", "netlify", "render", "railway"]

# name -> the platform's headers for an HTTPS request with no forwarding headers of its own: (name, format) in order
ADDED = {
    # Vercel request headers documentation, in its order; Forwarded and X-Vercel-Proxied-For from 2023-2025 dumps.
    # X-Vercel-Id: <region>::<5 base32>-<Unix ms>-<12 hex> (vercel dev; a 2025 dump). Then what only the dumps show.
    "vercel": [("X-Vercel-Id", rf"[a-z]{{3}}\d::[0-9a-v]{{5}}-{MS}-[0-9a-f]{{12}}"), ("X-Forwarded-Host", HOST),
               ("X-Forwarded-Proto", "https"), ("X-Forwarded-For", IP), ("X-Vercel-Forwarded-For", IP),
               ("X-Real-IP", IP), ("X-Vercel-Deployment-Url", r"[a-z0-9-]+\.vercel\.app"),
               ("X-Vercel-IP-Continent", "[A-Z]{2}"), ("X-Vercel-IP-Country", "[A-Z]{2}"),
               ("X-Vercel-IP-Country-Region", "[A-Z0-9]{1,3}"), ("X-Vercel-IP-City", r"[A-Za-z%0-9]+"),
               ("X-Vercel-IP-Latitude", r"-?\d+\.\d+"), ("X-Vercel-IP-Longitude", r"-?\d+\.\d+"),
               ("X-Vercel-IP-Timezone", r"[A-Za-z_]+/[A-Za-z_]+"), ("X-Vercel-IP-Postal-Code", r"\w+"),
               ("Forwarded", rf"for={IP};host={HOST};proto=https;sig=[A-Za-z0-9+/]+=*;exp=1\d{{9}}"),
               ("X-Vercel-Proxied-For", IP), ("X-Vercel-Proxy-Signature", "Bearer [0-9a-f]{64}"),
               ("X-Vercel-Proxy-Signature-Ts", r"1\d{9}"), ("X-Vercel-Ja4-Digest", r"t13d\d{4}h2_[0-9a-f]{12}_[0-9a-f]{12}"),
               ("X-Vercel-Internal-Ingress-Bucket", r"bucket\d+"), ("X-Vercel-IP-AS-Number", r"\d+"),
               ("Connection", "close")],
    # A Netlify Function's event.headers (2025, 2026), sorted by name as dumped; X-Forwarded-For '<client>, <AWS>'.
    "netlify": [("CDN-Loop", "netlify"), ("Netlify-Agent-Category", "browser"), ("Netlify-Invocation-Source", "client"),
                ("traceparent", r"00-[0-9a-f]{32}-[0-9a-f]{16}-01"), ("X-Country", "[A-Z]{2}"),
                ("X-Forwarded-For", rf"{IP}, \d+\.\d+\.\d+\.\d+"), ("X-Forwarded-Proto", "https"),
                ("X-Nf-Account-Id", "[0-9a-f]{24}"), ("X-Nf-Account-Tier", "account_type_[a-z]+"),
                ("X-Nf-Client-Connection-Ip", IP), ("X-Nf-Deploy-Context", "production"),
                ("X-Nf-Deploy-Id", "[0-9a-f]{24}"), ("X-Nf-Deploy-Published", "1"), ("X-Nf-Geo", "[A-Za-z0-9+/]+=*"),
                ("X-Nf-Request-Id", "0[0-9A-HJKMNP-TV-Z]{25}"), ("X-Nf-Request-Start", r"1\d{18}"),
                ("X-Nf-Site-Id", GUID), ("X-Nf-Trace-Span-Id", "[0-9a-f]{16}")],
    # Render (Cloudflare, then Render's proxy): sorted by name; X-Forwarded-For '<client>, <Cloudflare>, <10.x>';
    # X-Request-Start in microseconds; Rndr-Id 8-4-4 of a UUID v4 (the emulation sends the whole UUID).
    "render": [("CDN-Loop", "cloudflare; loops=1"), ("CF-Connecting-IP", IP), ("CF-IPCountry", "[A-Z]{2}"),
               ("CF-Ray", "[0-9a-f]{16}-[A-Z]{3}"), ("CF-Visitor", r'\{"scheme":"https"\}'),
               ("Render-Proxy-Ttl", "4"), ("Rndr-Id", r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}(-[0-9a-f-]+)?"),
               ("True-Client-IP", IP), ("X-Forwarded-For", rf"{IP}, \d+\.\d+\.\d+\.\d+, 10\.\d+\.\d+\.\d+"),
               ("X-Forwarded-Proto", "https"), ("X-Request-Start", r"1\d{15}")],
    # Railway's documented request headers, in the order of an observed request.
    "railway": [("X-Forwarded-For", IP), ("X-Forwarded-Host", HOST), ("X-Forwarded-Proto", "https"),
                ("X-Real-IP", IP), ("X-Railway-Edge", r"railway/[a-z0-9-]+"),
                ("X-Railway-Request-Id", r"[A-Za-z0-9_-]{22}"), ("X-Request-Start", MS)],
}
CLIENT_HEADERS = [("Host", HOST), ("Accept", "*/*"), ("Accept-Encoding", "gzip")]


def run(name, headers=CLIENT_HEADERS, scheme="https", ip=IP):
    incoming = Incoming(scheme, HOST, "/cart?id=7", list(headers), Client(ip, PORT, "1.3"), upstream="127.0.0.1:3000")
    return forward(load_profile(name), incoming)


def answer(name, app_headers=(), scheme="https"):
    """The forwarded request and the response headers the client gets."""
    p = load_profile(name)
    incoming = Incoming(scheme, HOST, "/", [], Client(IP, PORT))
    fwd = forward(p, incoming)
    return fwd, dict(respond(p, incoming, fwd.values, list(app_headers), set()))


def test_every_platform_has_expectations_here():
    assert set(ADDED) == set(PLATFORMS)


@pytest.mark.parametrize("name", PLATFORMS)
def test_headers_added_in_order_and_format(name):
    got = run(name)
    added = [(k, v) for k, v in got.headers if (k, v) not in CLIENT_HEADERS]
    assert [k for k, _ in added] == [k for k, _ in ADDED[name]], name
    for (k, v), (_, pattern) in zip(added, ADDED[name]):
        assert re.fullmatch(pattern, v), f"{name} {k}: {v!r} !~ {pattern!r}"
    assert got.host == HOST and got.headers[0] == ("Host", HOST)  # every platform passes the public host on


# What a client's forged copy turns into: (header, forged value, what the app sees)
SPOOFING = {
    # "we currently overwrite the X-Forwarded-For header and do not forward external IPs"
    "vercel": [("X-Forwarded-For", "1.1.1.1", [IP]), ("X-Real-IP", "1.1.1.1", [IP]),
               ("X-Vercel-Forwarded-For", "1.1.1.1", [IP]), ("X-Forwarded-Proto", "http", ["https"]),
               ("X-Forwarded-Host", "evil.test", [HOST]),
               ("Connection", "keep-alive", ["close"])],
    # the dump: a client's X-Forwarded-For kept, the connecting IP appended after ', '
    "netlify": [("X-Forwarded-For", "1.1.1.1", [f"1.1.1.1, {IP}, 3.127.101.13"]), ("X-Forwarded-Proto", "http", ["https"]),
                ("X-Nf-Client-Connection-Ip", "1.1.1.1", [IP])],
    # arcjet-js#5411: a forged 2.2.2.2 became "2.2.2.2,<client>, <Cloudflare>, <10.x>"; Cloudflare overwrites the rest
    "render": [("X-Forwarded-Proto", "http", ["https"]), ("CF-Connecting-IP", "1.1.1.1", [IP]),
               ("True-Client-IP", "1.1.1.1", [IP]), ("CF-Visitor", '{"scheme":"http"}', ['{"scheme":"https"}'])],
    # open-tag#107: forged X-Real-IP overwritten, forged X-Forwarded-For entries dropped; Railway overwrites XFH
    "railway": [("X-Real-IP", "6.6.6.6", [IP]), ("X-Forwarded-For", "7.7.7.7, 8.8.8.8", [IP]),
                ("X-Forwarded-Host", "evil.test", [HOST]), ("X-Forwarded-Proto", "http", ["https"])],
}


@pytest.mark.parametrize("name, header, forged, seen", [
    (name, *case) for name, cases in sorted(SPOOFING.items()) for case in cases])
def test_what_survives_of_a_clients_forged_header(name, header, forged, seen):
    got = run(name, CLIENT_HEADERS + [(header, forged)]).headers
    assert [v for k, v in got if k.lower() == header.lower()] == seen


def test_render_appends_to_a_forged_forwarded_for_without_a_space_then_with_spaces():
    value = dict(run("render", CLIENT_HEADERS + [("X-Forwarded-For", "2.2.2.2")]).headers)["X-Forwarded-For"]
    assert re.fullmatch(rf"2\.2\.2\.2,{re.escape(IP)}, \d+\.\d+\.\d+\.\d+, 10\.\d+\.\d+\.\d+", value)


def test_vercel_overwrites_a_forged_forwarded_and_signs_it():
    got = [v for k, v in run("vercel", CLIENT_HEADERS + [("Forwarded", "for=1.1.1.1;proto=http")]).headers
           if k == "Forwarded"]
    assert len(got) == 1 and got[0].startswith(f"for={IP};host={HOST};proto=https;sig=")


def test_vercel_quotes_an_ipv6_client_in_forwarded():
    got = dict(run("vercel", ip="2001:db8::17").headers)
    assert got["Forwarded"].startswith('for="[2001:db8::17]";') and got["X-Forwarded-For"] == "2001:db8::17"


def test_railway_says_https_whatever_the_scheme():
    # "X-Forwarded-Proto always indicates https"
    assert dict(run("railway", scheme="http").headers)["X-Forwarded-Proto"] == "https"


@pytest.mark.parametrize("name, code", [("vercel", 308), ("netlify", 301), ("render", 301), ("railway", 301)])
def test_platforms_redirect_plain_http_themselves(name, code):
    assert load_profile(name).https_redirect == code


@pytest.mark.parametrize("name, expected", [
    ("vercel", {"Server": "Vercel", "X-Vercel-Cache": "MISS", "Strict-Transport-Security": "max-age=63072000"}),
    ("netlify", {"Server": "Netlify", "Strict-Transport-Security": "max-age=31536000"}),
    ("render", {"Server": "cloudflare", "X-Render-Origin-Server": "uvicorn"}),
    ("railway", {"Server": "railway-edge", "X-Railway-Edge": "railway/us-west2"}),
])
def test_response_headers(name, expected):
    _, out = answer(name, [("Server", "uvicorn")])
    for k, v in expected.items():
        assert out[k] == v


def test_render_says_render_when_the_app_names_no_server():
    _, out = answer("render")
    assert out["X-Render-Origin-Server"] == "Render" and out["Server"] == "cloudflare"


def test_hsts_only_on_https_and_an_apps_own_kept():
    for name, default in [("vercel", "max-age=63072000"), ("netlify", "max-age=31536000")]:
        assert "Strict-Transport-Security" not in answer(name, scheme="http")[1]
        own = answer(name, [("Strict-Transport-Security", "max-age=60")])[1]
        assert own["Strict-Transport-Security"] == "max-age=60" != default


@pytest.mark.parametrize("name, header", [("netlify", "X-Nf-Request-Id"), ("render", "Rndr-Id"),
                                          ("railway", "X-Railway-Request-Id"), ("render", "CF-Ray")])
def test_the_response_repeats_the_requests_id(name, header):
    fwd, out = answer(name)
    assert out[header] == dict(fwd.headers)[header]


def test_vercel_response_id_names_the_function_region_too():
    fwd, out = answer("vercel")
    request_id = dict(fwd.headers)["X-Vercel-Id"]
    edge, rest = request_id.split("::", 1)
    assert re.fullmatch(rf"{edge}::[a-z]{{3}}\d::{re.escape(rest)}", out["X-Vercel-Id"])
