"""Property tests (hypothesis): odd and malformed input never raises, and nothing changes that the profile does not
name. Bodies are never touched."""

import asyncio
import fnmatch
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mitmproxy import http
from mitmproxy.test import taddons, tflow, tutils

from harness import hook
from offload.addon import Offload, as_text
from offload.compare import compare, compare_peer
from offload.diagnose import Diagnose
from offload.exchange import Exchange, decode_body, from_answer
from offload.findings import redact_url, route
from offload.forward import Client, Incoming, forward
from offload.passive import inspect
from offload.profiles import load_profile, profile_names
from offload.setcookie import SetCookie

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOKEN = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
# Header values as mitmproxy hands them over: any byte, decoded as UTF-8 with surrogateescape.
raw_bytes = st.binary(max_size=200)
names = st.one_of(
    st.text(TOKEN, min_size=1, max_size=20),
    st.sampled_from(["Host", "X-Forwarded-For", "x-forwarded-proto", "X-ARR-SSL", "CLIENT-IP", "Cookie",
                     "Forwarded", "X-FD-HealthProbe", "X_Under", "Proxy", "Via", "X-Request-Id", "Set-Cookie",
                     "Location", "Link", "Refresh", "Content-Type", "X-Forwarded-Host"]),
)
# One event loop, never closed, for the examples that run the addon: each mitmproxy master installs a log handler
# that hands log lines to its loop, and the handlers of earlier examples stay installed; a closed loop there would
# fail a later example for a reason that is not offload's.
_LOOP = asyncio.new_event_loop()


def in_loop(coro):
    return _LOOP.run_until_complete(coro)


headers = st.lists(st.tuples(names, raw_bytes.map(as_text)), max_size=25)
ips = st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str))
clients = st.builds(Client, ips, st.integers(0, 65535), st.sampled_from(["", "1.2", "1.3"]))
text = st.text(max_size=300)
set_cookie_lines = st.one_of(
    text,
    st.builds(lambda n, v, attrs: f"{n}={v}" + "".join(f"; {a}" for a in attrs),
              st.text(TOKEN, max_size=12), st.text(max_size=30),
              st.lists(st.sampled_from(["Secure", "HttpOnly", "SameSite=None", "SameSite=Lax", "Path=/",
                                        "Domain=x.example", "Max-Age=0", "Max-Age=-1", "Max-Age=abc",
                                        "Expires=Thu, 01 Jan 1970 00:00:00 GMT", "Expires=not a date",
                                        "Expires=Fri, 31 Dec 9999 23:59:59 GMT", "secure", "SECURE", "Path",
                                        "=", ";;"]), max_size=8)),
    st.just("a=" + "x" * 100_000),
)


@SETTINGS
@given(st.sampled_from(profile_names()), headers, clients, st.sampled_from(["https", "http"]), text, text)
def test_forward_never_raises_and_leaves_what_the_profile_does_not_name(name, sent, client, scheme, host, path):
    profile = load_profile(name)
    out = forward(profile, Incoming(scheme, host or "h", path, sent, client, upstream="127.0.0.1:3000"))
    named = {r.key for r in profile.request}
    patterns = [r.key for r in profile.request if r.wildcard]
    copied = {r.copy_from.lower() for r in profile.request if r.copy_from}

    def untouched(n: str, v: str) -> bool:
        k = n.lower()
        return (k not in named and k not in copied and not any(fnmatch.fnmatchcase(k, p) for p in patterns)
                and not (profile.drop_empty and not v.strip()))

    kept = [h for h in sent if untouched(*h)]
    assert [h for h in out.headers if untouched(*h)] == kept  # same headers, same order, same values
    for n, _ in out.headers:
        assert n.lower() in named or any(h[0] == n for h in sent)  # nothing appears from nowhere


@SETTINGS
@given(st.sampled_from(profile_names()), st.sampled_from(["profile", "on", "off"]), headers,
       st.sampled_from(["https", "http"]))
def test_the_fast_path_gives_exactly_what_the_general_one_gives(name, xfp, sent, scheme):
    from offload.forward import _apply, apply, template_values, with_xfp_policy
    profile = load_profile(name)
    rules = with_xfp_policy(profile, xfp)
    values = template_values(Incoming(scheme, "h", "/", sent, Client("203.0.113.7", 1)))
    keys = [k.lower() for k, _ in sent]
    assert apply(rules, sent, scheme, values) == _apply(rules, sent, keys, scheme, values)
    assert apply(rules, [], scheme, values) == _apply(rules, [], [], scheme, values)


FRESH = {"guid", "guid_head", "hex4", "hex8", "hex12", "hex16", "hex24", "hex32", "uint64", "b64", "b64url", "ulid", "unix_s", "unix_ms",
         "unix_us", "unix_hex", "utc_basic"}  # new per request


@SETTINGS
@given(st.sampled_from(profile_names()), st.sampled_from(["profile", "on", "off"]), headers,
       st.sampled_from(["https", "http"]))
def test_the_addon_sends_exactly_what_forward_gives(name, xfp, sent, scheme):
    """The glue's own fast path (headers appended straight as bytes) against the pure forward()."""
    in_loop(_addon_sends_what_forward_gives(name, xfp, sent, scheme))


async def _addon_sends_what_forward_gives(name, xfp, sent, scheme):
    emulation = Offload()
    with taddons.context(emulation) as tctx:
        tctx.configure(emulation, frontend=name, frontend_xfp=xfp, frontend_scheme=scheme)
        sent = [("Host", "myapp.example")] + [h for h in sent if h[0].lower() != "host"]
        f = tflow.tflow(req=tutils.treq(headers=http.Headers([(k.encode(), v.encode("utf-8", "surrogateescape"))
                                                              for k, v in sent])))
        f.client_conn.peername = ("203.0.113.7", 50123)
        incoming = emulation.incoming(f)
        emulation.requestheaders(f)
        if f.response is not None:  # the front end's own redirect: the app sees nothing
            return
        out = forward(emulation.profile, incoming, emulation.rules, emulation.needed)
        expected = [(k, out.host if k.lower() == "host" else v) for k, v in out.headers]  # nginx: the upstream's
        got = [(as_text(k), as_text(v)) for k, v in f.request.headers.fields]
        fresh = {r.key for r in emulation.rules if r.value is not None and r.value.names & FRESH}
        assert [k for k, _ in got] == [k for k, _ in expected]
        assert [(k, v) for k, v in got if k.lower() not in fresh] == \
            [(k, v) for k, v in expected if k.lower() not in fresh]


def exchanges():
    return st.builds(
        Exchange,
        st.sampled_from(["GET", "POST", "HEAD"]), st.sampled_from(["https", "http"]),
        st.one_of(st.just("myapp.example"), text), text, st.integers(100, 599),
        st.lists(st.one_of(st.tuples(st.just("Set-Cookie"), set_cookie_lines),
                           st.tuples(st.sampled_from(["Location", "Link", "Refresh", "Content-Location",
                                                      "X-Powered-By", "Server"]), text),
                           st.tuples(names, text)), max_size=12).map(tuple),
        text, st.just(("127.0.0.1:3000", "localhost:3000")),
        st.lists(st.tuples(names, text), max_size=5).map(tuple),
    )


@SETTINGS
@given(exchanges(), exchanges())
def test_the_rules_never_raise(a, b):
    for f in inspect(a) + compare(a, b) + compare_peer(a, b, "169.254.129.1"):
        assert f.rule and f.message


@SETTINGS
@given(set_cookie_lines)
def test_set_cookie_parsing_never_raises(line):
    cookie = SetCookie.parse(line)
    if cookie is not None:
        assert cookie.name and isinstance(cookie.deleted, bool) and isinstance(cookie.secure, bool)


@SETTINGS
@given(st.binary(max_size=2000), st.one_of(st.none(), text, st.sampled_from(
    ["text/html; charset=utf-8", "application/json", "text/html; charset=nonsense", "text/plain; charset=utf-16"])))
def test_decoding_bodies_never_raises(body, content_type):
    assert isinstance(decode_body(body, content_type), str)
    assert isinstance(from_answer(Exchange("GET", "https", "h", "/", 200, ()), 200, (), body).body, str)


@SETTINGS
@given(text)
def test_routes_and_redaction_never_raise(value):
    assert route(value).startswith("/") or route(value) == "" or isinstance(route(value), str)
    assert isinstance(redact_url(value), str)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(profile_names()), st.binary(max_size=5000), st.binary(max_size=5000),
       st.lists(st.tuples(names, raw_bytes), max_size=10), st.sampled_from(["https", "auto", "http"]))
def test_the_addon_never_touches_bodies(name, request_body, response_body, response_headers, scheme):
    in_loop(_never_touches_bodies(name, request_body, response_body, response_headers, scheme))


async def _never_touches_bodies(name, request_body, response_body, response_headers, scheme):
    emulation = Offload()
    diagnose = Diagnose(emulation)
    with taddons.context(emulation, diagnose) as tctx:
        tctx.configure(emulation, frontend=name, frontend_scheme=scheme, frontend_compare="off")
        f = tflow.tflow(req=tutils.treq(content=request_body))
        emulation.requestheaders(f)
        if f.response is None:  # not answered by the front end's own redirect
            f.response = tutils.tresp(content=response_body, headers=http.Headers(
                [(k.encode(), v) for k, v in response_headers]))
            hook(emulation, "responseheaders", f)
            diagnose.response(f)
            assert f.response.raw_content == response_body
        assert f.request.raw_content == request_body


BODIES = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"", b"<a href='http://myapp.example/x'>x</a>", b'{"u": "http:\\/\\/myapp.example\\/x"}',
                     b"<a href='//127.0.0.1:3000/x'>", b"<a href='//localhost:3000/x'>", b"HTTP://MYAPP.EXAMPLE/",
                     b"<p>no links</p>", "<a href='http://myapp.example/'>ü</a>".encode("utf-16"),
                     "<a href='http://myapp.example/'>ü</a>".encode("latin-1")]),
)
CONTENT_TYPES = st.sampled_from([None, "text/html", "text/html; charset=utf-16", "text/html; charset=latin-1",
                                 "application/json", "image/png", "text/plain; charset=punycode"])


FLAGGED_HEADERS = st.sampled_from([
    ("Location", "http://myapp.example/x"), ("Location", "https://myapp.example/"), ("Location", "/"),
    ("Location", "http://localhost:3000/x"), ("Link", "<http://myapp.example/a>; rel=preload"),
    ("Refresh", "0; url=http://myapp.example/"), ("Content-Location", "//127.0.0.1:3000/x"),
    ("Set-Cookie", "a=1; SameSite=None"), ("Set-Cookie", "__Host-a=1; Path=/x; Secure"), ("Set-Cookie", "a=1"),
    ("Set-Cookie", "a=1; Secure"), ("Set-Cookie", "a=; Expires=Thu, 01 Jan 1970 00:00:00 GMT")])


@SETTINGS
@given(st.lists(st.one_of(st.tuples(names, text), FLAGGED_HEADERS), max_size=8), BODIES, CONTENT_TYPES,
       st.sampled_from([None, "gzip", "identity", "br"]), st.integers(100, 599))
def test_a_quiet_answer_is_one_where_the_rules_find_nothing(headers, body, content_type, encoding, status):
    """quiet() lets the addon skip building an Exchange: it must never skip an answer a passive rule would flag."""
    in_loop(_quiet_means_nothing_found(headers, body, content_type, encoding, status))


async def _quiet_means_nothing_found(headers, body, content_type, encoding, status):
    import gzip

    from offload.diagnose import Diagnose as Diag
    from offload.exchange import backend_names
    from offload.passive import quiet

    emulation = Offload()
    diagnose = Diag(emulation)
    with taddons.context(emulation, diagnose) as tctx:
        tctx.configure(emulation, frontend_compare="off")
        f = tflow.tflow(req=tutils.treq(host="127.0.0.1", port=3000,
                                        headers=http.Headers([(b"Host", b"myapp.example")])))
        emulation.requestheaders(f)
        fields = [(k.encode(), v.encode("utf-8", "surrogateescape")) for k, v in headers]
        if content_type:
            fields.append((b"Content-Type", content_type.encode()))
        if encoding:
            fields.append((b"Content-Encoding", encoding.encode()))
            if encoding == "gzip":
                body = gzip.compress(body)
        f.response = tutils.tresp(status_code=status, headers=http.Headers(fields), content=body)
        hook(emulation, "responseheaders", f)
        state = emulation.state(f)
        if quiet(state.app_headers, f.response.raw_content, backend_names("127.0.0.1", 3000)):
            assert inspect(diagnose.exchange(f, state, full=True)) == []
