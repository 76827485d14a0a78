"""The addon on mitmproxy's own test flows: what each Azure profile sends the app, and how options change it."""

import dataclasses
import logging
import re

import pytest
from mitmproxy import exceptions, http
from mitmproxy.test import taddons, tflow, tutils

from harness import hook
from offload.addon import Offload, parse_peer
from offload.reference import add_address_command

GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
IP_PORT = r"\d{1,3}(\.\d{1,3}){3}:\d{1,5}"
HEX64 = r"[0-9a-f]{64}"
# The 2016-2017 certificate strings [frontends.md 1.7: OBS S12, S13].
LEGACY_ARR_SSL = ("2048|256|C=US, S=Washington, L=Redmond, O=Microsoft Corporation, OU=Microsoft IT, "
                  "CN=Microsoft IT SSL SHA2|CN=*.azurewebsites.net")
# Today's form: <key bits>|<cipher bits>|<issuer DN>|<subject DN> [frontends.md 1.1: OBS S10, S19, S17].
MODERN_ARR_SSL = r"2048\|256\|CN=Microsoft Azure RSA TLS Issuing CA \d+, O=Microsoft Corporation, C=US\|CN=\*\.azurewebsites\.net, .+"

HOST = "myapp.azurewebsites.net"
CLIENT = ("203.0.113.7", 50123)

# What the app sees after the client's own headers: name -> value format, in the observed order.
LEGACY = {  # Windows order [frontends.md 1.1: OBS S15-S18]
    "Max-Forwards": r"10",
    "X-LiveUpgrade": r"1",
    "X-WAWS-Unencoded-URL": r"/login\?next=/",
    "CLIENT-IP": IP_PORT,
    "X-ARR-LOG-ID": GUID,
    "DISGUISED-HOST": re.escape(HOST),
    "X-SITE-DEPLOYMENT-ID": r"myapp",
    "WAS-DEFAULT-HOSTNAME": re.escape(HOST),
    "X-Original-URL": r"/login\?next=/",
    "X-Forwarded-For": IP_PORT,
    "X-ARR-SSL": re.escape(LEGACY_ARR_SSL),
}
APPSERVICE = {  # Linux order of 2025-2026 (AdobeDocs experience-manager-learn webhook.md; a 2026 Jotform webhook log)
    "Max-Forwards": r"10",
    "X-ARR-LOG-ID": GUID,
    "CLIENT-IP": IP_PORT,
    "DISGUISED-HOST": re.escape(HOST),
    "X-SITE-DEPLOYMENT-ID": r"myapp",
    "WAS-DEFAULT-HOSTNAME": re.escape(HOST),
    "X-Forwarded-Proto": r"https",
    "X-AppService-Proto": r"https",
    "X-ARR-SSL": MODERN_ARR_SSL,
    "X-Forwarded-TlsVersion": r"1\.[23]",
    "X-Forwarded-For": IP_PORT,
    "X-Original-URL": r"/login\?next=/",
    "X-WAWS-Unencoded-URL": r"/login\?next=/",
    "X-Client-IP": r"\d{1,3}(\.\d{1,3}){3}",
    "X-Client-Port": r"\d{1,5}",
}
IISNODE = {**LEGACY, "X-Forwarded-For": IP_PORT + r", \d{1,3}(\.\d{1,3}){3}", "X-Forwarded-Proto": "https"}
CLIENT_HEADERS = [("Host", HOST), ("User-Agent", "curl/8"), ("Accept", "*/*")]


def make_flow(headers=CLIENT_HEADERS, tls=True, path="/login?next=/", peer=CLIENT, http2=False) -> http.HTTPFlow:
    """A flow as mitmproxy's reverse mode hands it to requestheaders, with keep_host_header on."""
    f = tflow.tflow(req=tutils.treq(host="127.0.0.1", port=3000, path=path.encode(),
                                    headers=http.Headers([(k.encode(), v.encode()) for k, v in headers]),
                                    http_version=b"HTTP/2.0" if http2 else b"HTTP/1.1"))
    f.client_conn.peername = peer
    if tls:
        f.client_conn.tls_version = "TLSv1.3"
    else:
        f.client_conn.timestamp_tls_setup = None  # tclient_conn() pretends TLS otherwise
    return f


def forwarded(addon, flow) -> list[tuple[str, str]]:
    addon.requestheaders(flow)
    return list(flow.request.headers.items(multi=True))


def added(headers) -> list[tuple[str, str]]:
    """The headers after the client's own (the front end's), in order."""
    return headers[len(CLIENT_HEADERS):]


@pytest.mark.parametrize("name, expected", [
    ("azure-windows-legacy", LEGACY),
    ("azure-windows-iisnode-xff", IISNODE),
    ("azure-appservice", APPSERVICE),
])
def test_each_profile_adds_its_headers_in_the_observed_order_and_format(name, expected):
    a = Offload()
    with taddons.context(a) as tctx:
        tctx.configure(a, frontend=name)
        headers = forwarded(a, make_flow())
    assert headers[: len(CLIENT_HEADERS)] == CLIENT_HEADERS
    assert [k for k, _ in added(headers)] == list(expected)
    for k, v in added(headers):
        assert re.fullmatch(expected[k], v), f"{name}: {k}: {v!r} does not match {expected[k]!r}"


def test_legacy_front_end_sends_x_arr_ssl_but_no_x_forwarded_proto_the_seed_bug():
    a = Offload()
    with taddons.context(a):
        headers = dict(forwarded(a, make_flow()))
    assert headers["X-ARR-SSL"] == LEGACY_ARR_SSL
    assert not any(k.lower() == "x-forwarded-proto" for k in headers)
    assert headers["X-Forwarded-For"] == headers["CLIENT-IP"] == "203.0.113.7:50123"


@pytest.mark.parametrize("name", ["azure-windows-legacy", "azure-windows-iisnode-xff", "azure-appservice"])
def test_a_client_cannot_fake_platform_headers(name):
    spoofed = CLIENT_HEADERS + [("X-ARR-SSL", "fake"), ("CLIENT-IP", "1.1.1.1:1"), ("client-ip", "2.2.2.2"),
                                ("X-ARR-LOG-ID", "me"), ("DISGUISED-HOST", "evil.example"),
                                ("X-Original-URL", "/admin")]
    a = Offload()
    with taddons.context(a) as tctx:
        for scheme in ("https", "http"):
            tctx.configure(a, frontend=name, frontend_scheme=scheme)
            f = make_flow(spoofed, tls=scheme == "https")
            headers = forwarded(a, f)
            if f.response:  # the front end answered plain HTTP with its redirect: the app sees nothing
                assert scheme == "http" and f.response.status_code == 301
                continue
            values = [v for _, v in headers]
            for fake in ("fake", "1.1.1.1:1", "2.2.2.2", "me", "evil.example", "/admin"):
                assert fake not in values, f"{name} ({scheme}) let {fake!r} through"
            assert [v for k, v in headers if k.lower() == "client-ip"] == ["203.0.113.7:50123"]


@pytest.mark.parametrize("name, xff", [
    ("azure-windows-legacy", "198.51.100.1, 203.0.113.7:50123"),
    ("azure-windows-iisnode-xff", "198.51.100.1, 203.0.113.7:50123, 203.0.113.7"),
    ("azure-appservice", "198.51.100.1, 203.0.113.7:50123"),
])
def test_x_forwarded_for_is_appended_to_not_replaced(name, xff):
    a = Offload()
    with taddons.context(a) as tctx:
        tctx.configure(a, frontend=name)
        headers = forwarded(a, make_flow(CLIENT_HEADERS + [("X-Forwarded-For", "198.51.100.1")]))
    assert [v for k, v in headers if k == "X-Forwarded-For"] == [xff]


@pytest.mark.parametrize("name", ["azure-windows-iisnode-xff", "azure-appservice"])
def test_a_client_sent_x_forwarded_proto_survives_where_the_front_end_only_adds_it_if_absent(name):
    a = Offload()
    with taddons.context(a) as tctx:
        tctx.configure(a, frontend=name)
        headers = forwarded(a, make_flow(CLIENT_HEADERS + [("X-Forwarded-Proto", "http")]))
    assert [v for k, v in headers if k.lower() == "x-forwarded-proto"] == ["http"]


@pytest.mark.parametrize("name, https_only", [
    ("azure-windows-legacy", {"X-ARR-SSL"}),
    ("azure-windows-iisnode-xff", {"X-ARR-SSL"}),
    ("azure-appservice", {"X-Forwarded-Proto", "X-AppService-Proto", "X-ARR-SSL", "X-Forwarded-TlsVersion"}),
])
def test_plain_http_requests_get_no_https_headers(name, https_only):
    a = Offload()
    with taddons.context(a) as tctx:
        tctx.configure(a, frontend=name, frontend_scheme="http")
        f = make_flow(tls=True)  # the option wins over how the client connected
        names = {k for k, _ in forwarded(a, f)}
    assert not names & https_only
    if name == "azure-windows-iisnode-xff":  # iisnode adds X-Forwarded-Proto from IIS's HTTPS variable
        assert dict(f.request.headers)["X-Forwarded-Proto"] == "http"


@pytest.mark.parametrize("tls, arr_ssl", [(True, True), (False, False)])
def test_scheme_auto_follows_how_the_client_connected(tls, arr_ssl):
    a = Offload()
    with taddons.context(a) as tctx:
        tctx.configure(a, frontend_scheme="auto")
        assert ("X-ARR-SSL" in dict(forwarded(a, make_flow(tls=tls)))) is arr_ssl


def test_scheme_https_is_the_default_even_for_a_plain_client():
    a = Offload()
    with taddons.context(a):
        assert "X-ARR-SSL" in dict(forwarded(a, make_flow(tls=False)))


@pytest.mark.parametrize("name, policy, sent, expected", [
    ("azure-windows-legacy", "profile", None, []),
    ("azure-windows-legacy", "on", None, ["https"]),
    ("azure-windows-legacy", "on", "http", ["http"]),  # only if absent, as iisnode
    ("azure-windows-legacy", "off", "https", []),
    ("azure-appservice", "profile", None, ["https"]),
    ("azure-appservice", "off", None, []),
    ("azure-appservice", "off", "https", []),
    ("azure-windows-iisnode-xff", "off", None, []),
])
def test_frontend_xfp(name, policy, sent, expected):
    a = Offload()
    headers = CLIENT_HEADERS + ([("X-Forwarded-Proto", sent)] if sent else [])
    with taddons.context(a) as tctx:
        tctx.configure(a, frontend=name, frontend_xfp=policy)
        got = forwarded(a, make_flow(headers))
    assert [v for k, v in got if k.lower() == "x-forwarded-proto"] == expected


def test_frontend_host_is_what_the_app_sees_in_host_and_disguised_host():
    a = Offload()
    with taddons.context(a) as tctx:
        tctx.configure(a, frontend_host="shop.contoso.com")
        f = make_flow([("Host", "localhost:8443")])
        headers = dict(forwarded(a, f))
    assert f.request.host_header == "shop.contoso.com" == headers["Host"] == headers["DISGUISED-HOST"]
    assert headers["WAS-DEFAULT-HOSTNAME"] == "shop.azurewebsites.net"


def test_without_frontend_host_the_app_sees_the_host_the_client_used():
    a = Offload()
    with taddons.context(a):
        f = make_flow([("Host", "localhost:8443")])
        headers = dict(forwarded(a, f))
    assert headers["Host"] == headers["DISGUISED-HOST"] == "localhost:8443"


def test_http2_clients_keep_their_authority():
    a = Offload()
    with taddons.context(a):
        f = make_flow([("user-agent", "h2")], http2=True)
        f.request.authority = HOST
        forwarded(a, f)
    assert f.request.host_header == HOST and "Host" not in f.request.headers
    assert f.request.headers["DISGUISED-HOST"] == HOST


def test_replayed_flows_are_left_alone():
    a = Offload()
    with taddons.context(a):
        f = make_flow()
        f.is_replay = "request"
        assert forwarded(a, f) == CLIENT_HEADERS


def test_non_ascii_header_bytes_pass_through_unchanged():
    a = Offload()
    with taddons.context(a):
        f = make_flow()
        f.request.headers.fields += ((b"X-Name", b"caf\xc3\xa9 \xff"),)
        a.requestheaders(f)
    assert (b"X-Name", b"caf\xc3\xa9 \xff") in f.request.headers.fields


def test_appservice_redirects_plain_http_itself_and_the_app_never_sees_it():
    a = Offload()
    with taddons.context(a) as tctx:
        tctx.configure(a, frontend="azure-appservice", frontend_scheme="auto")
        f = make_flow(tls=False, path="/login?next=/")
        a.requestheaders(f)
    assert f.response.status_code == 301
    assert f.response.headers["Location"] == f"https://{HOST}/login?next=/"


@pytest.mark.parametrize("frontend", ["azure-frontdoor", "fly", "azure-appservice"])
def test_frontend_redirect_off_lets_plain_http_through_to_the_app(frontend):
    """Front Door's 'Redirect to HTTPS' and a Fly custom domain's are per-route settings: off, plain HTTP arrives."""
    a = Offload()
    with taddons.context(a) as tctx:
        tctx.configure(a, frontend=frontend, frontend_scheme="auto", frontend_redirect="off")
        f = make_flow(tls=False)
        a.requestheaders(f)
        assert f.response is None  # the request goes on to the app
        assert f.request.headers.get("X-Forwarded-Proto") in (None, "http")  # and says it was plain HTTP
        assert "no HTTP->HTTPS redirect" in a.banner()
        with pytest.raises(Exception, match="frontend_redirect: 'no' is not valid; allowed values: profile, off"):
            tctx.configure(a, frontend_redirect="no")


def test_legacy_front_end_does_not_redirect_plain_http():
    a = Offload()
    with taddons.context(a) as tctx:
        tctx.configure(a, frontend_scheme="auto")
        f = make_flow(tls=False)
        a.requestheaders(f)
    assert f.response is None


def respond(a, f):
    a.requestheaders(f)
    f.response = tutils.tresp()
    hook(a, "responseheaders", f)
    return f.response.headers.get_all("Set-Cookie")


@pytest.mark.parametrize("name, tls, expected", [
    ("azure-windows-legacy", True, [rf"ARRAffinity={HEX64};Path=/;Domain={re.escape(HOST)}"]),
    ("azure-appservice", True, [rf"ARRAffinity={HEX64};Path=/;HttpOnly;Secure;Domain={re.escape(HOST)}",
                                rf"ARRAffinitySameSite={HEX64};Path=/;HttpOnly;SameSite=None;Secure;Domain={re.escape(HOST)}"]),
    ("azure-appservice", False, [rf"ARRAffinity={HEX64};Path=/;HttpOnly;Domain={re.escape(HOST)}"]),
])
def test_affinity_cookies(name, tls, expected):
    a = Offload()
    with taddons.context(a) as tctx:
        tctx.configure(a, frontend=name, frontend_scheme="https" if tls else "http")
        if not tls:  # App Service would redirect plain HTTP: let this one through to see its cookie
            a.profile = dataclasses.replace(a.profile, https_redirect=0)
        lines = respond(a, make_flow())
    assert len(lines) == len(expected)
    for line, pattern in zip(lines, expected):
        assert re.fullmatch(pattern, line), line


def test_affinity_cookies_can_be_turned_off_and_are_not_set_twice():
    a = Offload()
    with taddons.context(a) as tctx:
        assert respond(a, make_flow(CLIENT_HEADERS + [("Cookie", "ARRAffinity=abc")])) == []
        tctx.configure(a, frontend_affinity=False)
        assert respond(a, make_flow()) == []


def test_the_apps_own_set_cookie_lines_are_kept():
    a = Offload()
    with taddons.context(a):
        f = make_flow()
        a.requestheaders(f)
        f.response = tutils.tresp()
        f.response.headers.add("Set-Cookie", "connect.sid=s%3Aabc; Path=/; HttpOnly; Secure")
        hook(a, "responseheaders", f)
    assert f.response.headers.get_all("Set-Cookie")[0] == "connect.sid=s%3Aabc; Path=/; HttpOnly; Secure"


@pytest.mark.parametrize("option, value, message", [
    ("frontend", "azure", r"frontend: unknown front end 'azure'; valid: .*azure-windows-legacy"),
    ("frontend_scheme", "tls", r"frontend_scheme: 'tls' is not valid; allowed values: https, auto, http"),
    ("frontend_xfp", "yes", r"frontend_xfp: 'yes' is not valid; allowed values: profile, on, off"),
    ("frontend_host", "https://myapp.example/", r"frontend_host: 'https://myapp.example/' is not a host name"),
    ("frontend_peer", "169.254.129", r"frontend_peer: '169.254.129' is not an IP address"),
])
def test_bad_option_values_stop_with_a_message_naming_the_option_and_allowed_values(option, value, message):
    a = Offload()
    with taddons.context(a) as tctx:
        with pytest.raises(exceptions.OptionsError, match=message):
            tctx.configure(a, **{option: value})


def test_an_unconfigured_peer_address_names_the_command_that_adds_it():
    # 192.0.2.0/24 is TEST-NET-1: never configured on a machine.
    with pytest.raises(exceptions.OptionsError, match=r"sudo ip addr add 192\.0\.2\.77/32 dev lo"):
        parse_peer("192.0.2.77")


def test_add_address_command_per_platform(monkeypatch):
    import ipaddress

    monkeypatch.setattr("sys.platform", "darwin")
    assert add_address_command(ipaddress.ip_address("169.254.129.1")) == "sudo ifconfig lo0 alias 169.254.129.1/32"
    monkeypatch.setattr("sys.platform", "linux")
    assert add_address_command(ipaddress.ip_address("fd00::1")) == "sudo ip -6 addr add fd00::1/128 dev lo"


def test_a_bindable_peer_becomes_the_source_address_of_connections_to_the_app():
    a = Offload()
    with taddons.context(a) as tctx:
        tctx.configure(a, frontend_peer="127.0.0.2")  # any 127/8 address is bindable on Linux

        class Data:
            server = tflow.tserver_conn()

        a.server_connect(Data)
    assert Data.server.sockname == ("127.0.0.2", 0)


def test_banner_names_profile_scheme_and_xfp_policy(caplog):
    caplog.set_level(logging.INFO)
    a = Offload()
    with taddons.context(a) as tctx:
        tctx.configure(a, frontend="azure-appservice", frontend_xfp="profile")
        a.running()
        tctx.configure(a, frontend="azure-windows-legacy", frontend_xfp="on", frontend_scheme="auto")
        a.running()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("offload: emulating")]
    assert lines[0].startswith("offload: emulating azure-appservice, scheme https, X-Forwarded-Proto as the profile")
    assert lines[1] == ("offload: emulating azure-windows-legacy, scheme auto, "
                        "X-Forwarded-Proto on (iisnode enableXFF)")
    assert "its peer is 169.254.129.1 (--set frontend_peer=169.254.129.1)" in caplog.text


def test_hooks_are_left_out_where_the_front_end_has_nothing_to_do():
    a = Offload()
    with taddons.context(a) as tctx:
        tctx.configure(a, frontend="aws-alb")  # no response headers, no cookies, no peer
        assert not a.responseheaders and not a.server_connect
        tctx.configure(a, frontend="azure-windows-legacy")  # ARRAffinity
        assert callable(a.responseheaders)
        tctx.configure(a, frontend_affinity=False)
        assert not a.responseheaders
        tctx.configure(a, frontend_peer="127.0.0.2")
        assert callable(a.server_connect)
