"""The seed story end to end: the real mitmdump with the addon in front of a real Express 5 + express-session app."""


import pytest

from harness import Browser, mitmdump, node_app, seen_header

pytestmark = pytest.mark.integration

SESSION = "connect.sid"
CLIENTS = [pytest.param(True, id="tls-client"), pytest.param(False, id="plain-client")]


@pytest.fixture(scope="module")
def app():
    with node_app("express/session-app.js") as p:
        yield p


@pytest.fixture(scope="module")
def fixed_app():
    """The same app with the seed's middleware: x-arr-ssl => X-Forwarded-Proto: https."""
    with node_app("express/session-app.js", SEED_FIX="1") as p:
        yield p


def login(proxy, confdir, tls):
    browser = Browser(proxy.port, tls=tls, confdir=confdir if tls else None)
    reply = browser.get("/login", headers={"Accept": "application/json"})
    assert reply.status == 200, reply.body
    return browser, reply, reply.json()["seen"]


@pytest.mark.parametrize("tls", CLIENTS)
def test_default_profile_express_session_drops_its_secure_cookie(app, confdir, tls):
    with mitmdump(app.port, confdir=confdir) as proxy:
        browser, reply, seen = login(proxy, confdir, tls)
        assert reply.set_cookie(SESSION) is None
        assert seen_header(seen, "x-arr-ssl") and not seen_header(seen, "x-forwarded-proto")
        assert seen["secure"] is False and seen["protocol"] == "http"
        assert browser.get("/me").status == 401  # the user is not logged in after logging in
    assert "offload: emulating azure-windows-legacy" in proxy.output


@pytest.mark.parametrize("tls", CLIENTS)
def test_frontend_xfp_on_the_session_cookie_arrives_with_secure(app, confdir, tls):
    with mitmdump(app.port, "frontend_xfp=on", confdir=confdir) as proxy:
        browser, reply, seen = login(proxy, confdir, tls)
        cookie = reply.set_cookie(SESSION)
        assert cookie and "; Secure" in cookie
        assert seen_header(seen, "x-forwarded-proto") == ["https"] and seen["secure"] is True
        if tls:  # a browser keeps a Secure cookie only from an https:// origin
            assert browser.get("/me").json()["user"] == "demo"


def test_the_seeds_middleware_fixes_it_under_the_default_profile(fixed_app, confdir):
    with mitmdump(fixed_app.port, confdir=confdir) as proxy:
        browser, reply, seen = login(proxy, confdir, True)
        assert "; Secure" in reply.set_cookie(SESSION)
        assert seen["secure"] is True and not seen_header(seen, "x-forwarded-proto")  # the app's own fix
        assert browser.get("/me").status == 200


def test_scheme_auto_plain_client_gets_no_x_arr_ssl(app, confdir):
    with mitmdump(app.port, "frontend_scheme=auto", confdir=confdir) as proxy:
        _, _, plain = login(proxy, confdir, False)
        _, _, tls = login(proxy, confdir, True)
    assert not seen_header(plain, "x-arr-ssl")
    assert seen_header(tls, "x-arr-ssl")


def test_the_app_sees_the_host_the_client_used_or_frontend_host(app, confdir):
    with mitmdump(app.port, confdir=confdir) as proxy:
        _, _, seen = login(proxy, confdir, True)
        assert seen_header(seen, "host") == [f"localhost:{proxy.port}"]
    with mitmdump(app.port, "frontend_host=myapp.azurewebsites.net", confdir=confdir) as proxy:
        _, _, seen = login(proxy, confdir, True)
        assert seen_header(seen, "host") == ["myapp.azurewebsites.net"]
        assert seen_header(seen, "disguised-host") == ["myapp.azurewebsites.net"]


def test_frontend_peer_the_app_sees_connections_from_that_address(app, confdir, peer_address):
    with mitmdump(app.port, f"frontend_peer={peer_address}", "frontend=azure-appservice", confdir=confdir) as p:
        _, _, seen = login(p, confdir, True)
    assert seen["peer"] in (peer_address, f"::ffff:{peer_address}")


@pytest.mark.parametrize("tls", CLIENTS)
def test_appservice_the_session_cookie_arrives_and_affinity_cookies_are_added(app, confdir, tls):
    with mitmdump(app.port, "frontend=azure-appservice", confdir=confdir) as proxy:
        browser, reply, seen = login(proxy, confdir, tls)
    assert "; Secure" in reply.set_cookie(SESSION)
    assert "Secure" in reply.set_cookie("ARRAffinity") and "SameSite=None" in reply.set_cookie("ARRAffinitySameSite")
    assert seen_header(seen, "x-forwarded-proto") == ["https"] and seen["secure"] is True


def test_a_misspelt_option_is_reported_not_silently_ignored(app, confdir):
    with mitmdump(app.port, "frontend_xpf=on", confdir=confdir) as proxy:
        pass
    assert "offload: unknown option frontend_xpf ignored; did you mean frontend_xfp?" in proxy.output
