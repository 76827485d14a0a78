"""The host bug and the chain bug: an origin host override, chains of front ends hop by hop, and the host rules."""

import re

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons

from offload.addon import Offload
from offload.exchange import Exchange
from offload.forward import Client, Incoming, forward, respond
from offload.passive import cookie_domain_mismatch, inspect, quiet, wrong_host_redirect
from offload.profiles import ProfileError, load_profile
from test_addon import CLIENT_HEADERS, forwarded, make_flow

PUBLIC = "www.contoso.com"
ORIGIN = "myapp.azurewebsites.net"
CLIENT = Client("203.0.113.7", 50123, "1.3")


def request(profile, origin="", scheme="https", headers=()):
    incoming = Incoming(scheme, PUBLIC, "/login", [("Host", PUBLIC), *headers], CLIENT, upstream="127.0.0.1:3000",
                        origin_host=origin)
    return forward(load_profile(profile), incoming), incoming


def value(fwd, name):
    found = [v for k, v in fwd.headers if k.lower() == name.lower()]
    return found[0] if len(found) == 1 else found


# --- the origin host override -------------------------------------------------------------------------------------

@pytest.mark.parametrize("profile, public_header", [("azure-frontdoor", "X-Forwarded-Host"),
                                                    ("azure-appgateway", "X-Original-Host")])
def test_an_origin_host_override_sends_the_origin_in_host_and_the_public_host_where_the_front_end_puts_it(
        profile, public_header):
    fwd, _ = request(profile, ORIGIN)
    assert fwd.host == ORIGIN and value(fwd, public_header) == PUBLIC
    kept, _ = request(profile)
    assert kept.host == PUBLIC and value(kept, public_header) == PUBLIC


def test_the_profiles_own_origin_host_is_the_app_service_default_name():
    # MS Learn, host name preservation: App Service origins get <app>.azurewebsites.net by default
    assert request("azure-frontdoor", "profile")[0].host == "www.azurewebsites.net"
    assert request("cloudflare", "profile")[0].host == PUBLIC  # no origin host of its own: kept


# --- chains ----------------------------------------------------------------------------------------------------

def test_a_two_hop_chain_applies_each_profile_to_what_the_hop_before_sent():
    chain, _ = request("cloudflare+azure-appservice")
    first, _ = request("cloudflare")
    # everything Cloudflare sent reaches the app, App Service's headers after it
    cf = [(k, v) for k, v in first.headers if k.lower() not in ("cf-ray", "host")]
    assert all(h in chain.headers for h in cf if h[0] != "X-Forwarded-For")
    # X-Forwarded-For grows by a hop: Cloudflare's client, then App Service's client (Cloudflare's egress, ip:port)
    assert value(chain, "X-Forwarded-For") == "203.0.113.7, 172.71.150.252:40000"
    assert value(chain, "CLIENT-IP") == "172.71.150.252:40000" and value(chain, "X-Client-IP") == "172.71.150.252"
    # App Service keeps the X-Forwarded-Proto Cloudflare set, and says HTTPS its own way too
    assert value(chain, "X-Forwarded-Proto") == "https" and value(chain, "X-AppService-Proto") == "https"
    assert value(chain, "CF-Connecting-IP") == "203.0.113.7" and value(chain, "DISGUISED-HOST") == PUBLIC
    assert len(chain.hop_values) == 2


def test_a_three_hop_chain_with_origin_hosts_grows_x_forwarded_for_hop_by_hop():
    fwd, _ = request("azure-frontdoor+azure-appgateway+azure-appservice", "profile")
    assert value(fwd, "X-Forwarded-For") == "203.0.113.7, 147.243.144.166:40000, 10.0.1.4:40001"
    assert value(fwd, "X-Forwarded-Host") == PUBLIC  # Front Door's, passed on
    assert value(fwd, "X-Original-Host") == "www.azurewebsites.net"  # what App Gateway got in Host
    assert value(fwd, "DISGUISED-HOST") == "www.azurewebsites.net" and fwd.host == "www.azurewebsites.net"


def test_hop_addresses_can_be_given():
    incoming = Incoming("https", PUBLIC, "/", [("Host", PUBLIC)], CLIENT)
    fwd = forward(load_profile("cloudflare+azure-appservice"), incoming, hop_ips=("198.51.100.9",))
    assert value(fwd, "X-Forwarded-For") == "203.0.113.7, 198.51.100.9:40000"


def test_an_inner_hop_redirects_the_plain_http_an_outer_hop_passed_on():
    fwd, _ = request("cloudflare+azure-appservice", scheme="http")
    assert fwd.redirect == (301, f"https://{PUBLIC}/login")
    assert request("cloudflare+heroku", scheme="http")[0].redirect is None


def test_every_hops_response_headers_and_cookies_apply_with_the_host_each_hop_saw():
    fwd, incoming = request("azure-frontdoor+azure-appservice", ORIGIN)
    out = respond(load_profile("azure-frontdoor+azure-appservice"), incoming, fwd.values, [("Server", "app")],
                  set(), hop_values=fwd.hop_values)
    cookies = [v for k, v in out if k == "Set-Cookie"]
    assert cookies and all(f"Domain={ORIGIN}" in c for c in cookies)  # ARRAffinity names the host App Service got
    assert any(k == "X-Azure-Ref" for k, _ in out)  # Front Door's own response header


@pytest.mark.parametrize("name, message", [
    ("cloudflare+", "a chain names its front ends joined by '\\+'"),
    ("cloudflare+azure-appservice+cloudflare", "cloudflare appears twice"),
    ("cloudflare+nosuch", "unknown front end 'nosuch'"),
])
def test_bad_chains_and_loops_are_refused_clearly(name, message):
    with pytest.raises(ProfileError, match=message):
        load_profile(name)


# --- the addon ---------------------------------------------------------------------------------------------------

def test_the_addon_emulates_a_chain_and_names_it():
    a = Offload()
    with taddons.context(a) as tctx:
        tctx.configure(a, frontend="cloudflare+azure-appservice")
        headers = dict(forwarded(a, make_flow()))
        assert "emulating cloudflare -> azure-appservice" in a.banner() and "hops from 172.71.150.252" in a.banner()
    assert headers["CDN-Loop"] == "cloudflare; loops=1" and headers["X-ARR-LOG-ID"]
    assert re.fullmatch(r"203\.0\.113\.7, 172\.71\.150\.252:40000", headers["X-Forwarded-For"])


def test_the_addon_sends_the_origin_host_and_refuses_bad_values():
    a = Offload()
    with taddons.context(a) as tctx:
        tctx.configure(a, frontend="azure-frontdoor", frontend_origin_host=ORIGIN)
        flow = make_flow()
        a.requestheaders(flow)
        assert flow.request.host_header == ORIGIN
        assert dict(flow.request.headers.items(multi=True))["X-Forwarded-Host"] == dict(CLIENT_HEADERS)["Host"]
        with pytest.raises(exceptions.OptionsError, match="frontend_origin_host: 'not a host' is not a host name"):
            tctx.configure(a, frontend_origin_host="not a host")
        with pytest.raises(exceptions.OptionsError, match="cloudflare has no origin host of its own"):
            tctx.configure(a, frontend="cloudflare", frontend_origin_host="profile")
        with pytest.raises(exceptions.OptionsError, match="frontend_hop_ips: 'nope' is not an IP address"):
            tctx.configure(a, frontend_hop_ips="1.2.3.4,nope")


# --- the host rules ----------------------------------------------------------------------------------------------

def exchange(headers, body="", origin=ORIGIN, status=302):
    return Exchange("GET", "https", PUBLIC, "/login", status, tuple(headers), body, ("127.0.0.1:3000",), (), origin)


def test_a_redirect_to_the_origin_host_is_wrong_host_redirect():
    found = list(wrong_host_redirect(exchange([("Location", f"https://{ORIGIN}/home")])))
    assert [f.rule for f in found] == ["wrong-host-redirect"] and PUBLIC in found[0].message
    oauth = exchange([("Location", f"https://login.example/authorize?redirect_uri=https%3A%2F%2F{ORIGIN}%2Fcb")])
    assert [f.subject for f in wrong_host_redirect(oauth)] == ["redirect_uri"]
    assert not list(wrong_host_redirect(exchange([("Location", f"https://{PUBLIC}/home")])))
    assert not list(wrong_host_redirect(exchange([("Location", f"https://{ORIGIN}/home")], origin="")))


@pytest.mark.parametrize("domain, wrong", [(ORIGIN, True), (".azurewebsites.net", True), ("contoso.com", False),
                                           (".contoso.com", False), (PUBLIC, False), ("toso.com", True)])
def test_a_cookie_domain_the_public_host_does_not_match_is_rejected_by_browsers(domain, wrong):
    ex = exchange([("Set-Cookie", f"sid=s3cr3t; Domain={domain}; Path=/; Secure")], status=200)
    found = list(cookie_domain_mismatch(ex))
    assert bool(found) == wrong
    assert all("s3cr3t" not in f.message + f.evidence for f in found)


def test_links_to_the_origin_host_are_backend_host_leaks_and_answers_with_a_domain_are_not_quiet():
    ex = exchange([("Content-Type", "text/html")], f'<a href="https://{ORIGIN}/profile">p</a>', status=200)
    assert [(f.rule, f.subject) for f in inspect(ex)] == [("backend-host-leak", "body")]
    redirect = exchange([("Location", f"https://{ORIGIN}/home")])
    assert [f.rule for f in inspect(redirect)] == ["wrong-host-redirect"]  # one finding, not two
    assert not quiet(((b"Set-Cookie", b"a=1; Domain=x.example; Secure"),), None, ())


# --- trust counting ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body, seen", [
    (b'{"peer": "::1", "secure": true, "ip": "::ffff:203.0.113.7"}', "203.0.113.7"),
    (b'{"request": {"remote_addr": "172.71.150.252:40000"}}', "172.71.150.252"),
    (b'{"clientIp": "[2001:db8::7]:443"}', "2001:db8::7"),
    (b"198.51.100.66\n", "198.51.100.66"),
    (b'{"ip": "not an address"}', ""),
    (b"<html>hello</html>", ""),
])
def test_the_address_an_echo_endpoint_names(body, seen):
    from offload.trust import seen_address
    assert seen_address(body) == seen


@pytest.mark.parametrize("seen, verdict", [
    ("203.0.113.7", None), ("172.71.150.252", "too few hops"), ("127.0.0.1", "too few hops"),
    ("198.51.100.66", "too many hops"), ("192.0.2.200", None),
])
def test_the_hop_count_an_app_trusts_against_the_chain(seen, verdict):
    from offload.advice import for_finding, Context
    from offload.trust import echo_headers, judge
    chain = load_profile("cloudflare+azure-appservice")
    headers = echo_headers(chain, None, PUBLIC, "/whoami")
    assert [v for k, v in headers if k == "X-Forwarded-For"] == ["198.51.100.66,203.0.113.7, 172.71.150.252:40000"]
    finding = judge(seen, chain, headers, "127.0.0.1")
    assert (finding.subject if finding else None) == verdict
    if finding:  # the client is the second entry from the right: two hops
        assert for_finding(finding.rule, "Express", Context(""), finding.cause).startswith("app.set('trust proxy', 2)")
        assert "x_for=2" in for_finding(finding.rule, "Flask", Context(""), finding.cause)


def test_host_advice_names_the_frameworks_setting_and_the_front_ends_and_says_when_no_header_carries_the_host():
    from offload.advice import context_for, for_finding
    front_door = context_for(load_profile("azure-frontdoor"), load_profile("azure-frontdoor").request, "", True)
    text = for_finding("wrong-host-redirect", "FastAPI/Starlette (uvicorn)", front_door)
    assert "X-Forwarded-Host in a middleware" in text and "leave the origin host header blank" in text
    gateway = context_for(load_profile("azure-appgateway"), load_profile("azure-appgateway").request, "", True)
    assert "X-Original-Host" in for_finding("cookie-domain-mismatch", "Django", gateway)
    chain = load_profile("cloudflare+azure-appservice")
    text = for_finding("wrong-host-redirect", "Express", context_for(chain, chain.request, "", True))
    assert "passes the public host in no header" in text and "req.host" not in text


def test_a_redirects_body_repeating_its_location_is_not_a_second_finding():
    ex = exchange([("Location", f"https://{ORIGIN}/home"), ("Content-Type", "text/html")],
                  f'<p>Found. Redirecting to <a href="https://{ORIGIN}/home">https://{ORIGIN}/home</a></p>')
    assert [f.rule for f in inspect(ex)] == ["wrong-host-redirect"]
