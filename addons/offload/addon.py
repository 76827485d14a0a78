"""The mitmproxy glue: options, hooks and the startup banner around the pure forwarding core."""

from __future__ import annotations

import difflib
import ipaddress
import logging
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

from mitmproxy import ctx, exceptions, http

from . import forward as fwd
from .profiles import DEFAULT_PROFILE, Profile, ProfileError, load_profile, needed_values, profile_names
from .reference import check_source

logger = logging.getLogger("offload")

SCHEMES = {
    "https": "every request reached the front end over HTTPS",
    "auto": "as the client actually connected to mitmproxy (TLS or not)",
    "http": "every request reached the front end over plain HTTP",
}
# Front ends whose HTTP->HTTPS redirect is a per-route setting (Front Door's "Redirect to HTTPS", a Fly custom
# domain, App Service's "HTTPS Only") let plain HTTP through when it is off.
REDIRECTS = {
    "profile": "plain HTTP is answered by the front end's redirect where the profile has one",
    "off": "no redirect: plain HTTP reaches the app, as when the route's redirect setting is off",
}
# mitmproxy's request.http_version -> the protocol-version token Via uses (RFC 9110 7.6.3).
VIA_VERSIONS = {"HTTP/1.0": "1.0", "HTTP/1.1": "1.1", "HTTP/2.0": "2", "HTTP/3": "3", "HTTP/3.0": "3"}
OPTION_PREFIX = "frontend"
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")


def check_deferred(loader, names) -> None:
    """Report a --set value mitmproxy cannot parse for one of our options (e.g. frontend_affinity=yes).

    mitmproxy parses such values only after load() and, for a script's options, then drops the whole script
    without a word (mitmproxy issue #8013). Parsing them here turns that into a startup error naming the option.
    """
    options = loader.master.options
    for name in names:
        value = options.deferred.get(name)
        raw = getattr(value, "val", None)
        if raw is None:
            continue
        try:
            options._parse_setval(options._options[name], raw)
        except (exceptions.OptionsError, ValueError, TypeError, AttributeError, KeyError):
            del options.deferred[name]
            kind = options._options[name].typespec
            allowed = "true, false" if kind is bool else getattr(kind, "__name__", str(kind))
            logger.error(f"{name}: {' '.join(raw)!r} is not valid; allowed values: {allowed}")


class OneLineOptionErrors(logging.Filter):
    """Turn the traceback mitmproxy logs for a script's bad option value into one line.

    mitmproxy's script loader logs an addon's OptionsError with its traceback (10-30 lines); offload's message
    already names the option, the bad value and the allowed values.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, exceptions.OptionsError) and str(error).startswith(OPTION_PREFIX):
            record.msg, record.args = f"{record.getMessage()}: {error}", ()
            record.exc_info, record.exc_text = None, None
        return True


def _install_filter() -> None:
    script_logger = logging.getLogger("mitmproxy.addons.script")
    for old in [f for f in script_logger.filters if type(f).__name__ == OneLineOptionErrors.__name__]:
        script_logger.removeFilter(old)  # a reloaded script brings its own copy of the class
    script_logger.addFilter(OneLineOptionErrors())


def parse_choice(option: str, value: str, allowed) -> str:
    if value not in allowed:
        raise exceptions.OptionsError(
            f"{option}: {value!r} is not valid; allowed values: {', '.join(allowed)}"
        )
    return value


def parse_host(value: str | None) -> str | None:
    """frontend_host: a public host name with an optional port, as a browser would send in Host."""
    if not value:
        return None
    if not _HOST.match(value):
        raise exceptions.OptionsError(
            f"frontend_host: {value!r} is not a host name; give a name with an optional port, "
            "e.g. myapp.azurewebsites.net or myapp.example:8443 (no scheme, no path)"
        )
    return value


def parse_origin_host(value: str | None, profile: Profile) -> str:
    """frontend_origin_host: the Host the app receives instead of the public one: a host name, or 'profile' for the
    front end's own default (Front Door and App Gateway in front of App Service: <site>.azurewebsites.net)."""
    if not value:
        return ""
    if value == "profile":
        if not any(p.origin_host is not None for p in (profile.hops or (profile,))):
            raise exceptions.OptionsError(
                f"frontend_origin_host: {profile.name} has no origin host of its own; give the origin's host name, "
                "e.g. myapp.azurewebsites.net (front ends with one: "
                f"{', '.join(n for n in profile_names() if load_profile(n).origin_host is not None)})")
        return value
    if not _HOST.match(value):
        raise exceptions.OptionsError(
            f"frontend_origin_host: {value!r} is not a host name; give a name with an optional port (e.g. "
            "myapp.azurewebsites.net), or 'profile' for the front end's own default")
    return value


def parse_hop_ips(value: str | None) -> tuple[str, ...]:
    """frontend_hop_ips: the addresses a chain's hops connect from, outermost first, comma-separated."""
    if not value:
        return ()
    out = []
    for part in value.split(","):
        try:
            out.append(str(ipaddress.ip_address(part.strip())))
        except ValueError:
            raise exceptions.OptionsError(
                f"frontend_hop_ips: {part.strip()!r} is not an IP address; give one address per hop, outermost "
                "first, e.g. 172.71.150.252,147.243.144.166") from None
    return tuple(out)


def parse_peer(value: str | None) -> str | None:
    """frontend_peer: an IP address this machine can bind as the source of connections to the app."""
    if not value:
        return None
    try:
        return check_source(value)
    except ValueError as e:
        raise exceptions.OptionsError(f"frontend_peer: {e}") from e


@dataclass
class FlowState:
    """What the emulation knows about one flow; kept beside the flow (not in flow.metadata, which -w saves)."""

    incoming: fwd.Incoming
    values: dict[str, str] | None = None  # the template values its request used; its response reuses them
    hop_values: tuple = ()  # a chain's: each hop's values
    app_headers: tuple | None = None  # the app's response header fields, before the front end added its own
    frontend_response: bool = False  # the front end answered itself (e.g. its HTTP->HTTPS redirect)


class Offload:
    """Emulate a TLS-terminating cloud front end in front of the app (mitmproxy reverse mode)."""

    def __init__(self) -> None:
        # Each flow's FlowState rides on the flow object under a name of this instance's own (a reloaded script's
        # new instance does not pick up its predecessor's): cheaper than a WeakKeyDictionary, which makes a weak
        # reference on every look-up, and unlike flow.metadata never saved with -w or copied into replays.
        self.state_name = f"_offload_state_{id(self):x}"
        self.profile: Profile = load_profile(DEFAULT_PROFILE)
        self.rules = self.last_rules = self.profile.request
        self.needed = self.profile.variables
        self.host: str | None = None
        self.origin = ""  # frontend_origin_host: "" keep, "profile", or a host name
        self.hop_ips: tuple[str, ...] = ()
        self.peer: str | None = None
        # Option values read per flow, kept here: reading ctx.options deep-copies the value every time.
        self.scheme = "https"
        self.affinity = True
        self.redirect = True  # frontend_redirect=profile: the front end answers plain HTTP itself, if its profile does
        self.signature: tuple = ()  # what the emulation is: comparisons are remembered per signature
        self.banner_parts: list[Callable[[], str]] = []  # other addons' parts of the startup line
        self.is_running = False
        self.cookie_cache: dict[tuple, tuple] = {}

    def load(self, loader):
        _install_filter()
        loader.add_option(
            "frontend", str, DEFAULT_PROFILE,
            f"Front end to emulate: {', '.join(profile_names())}; or the path of your own profile file (.toml); "
            "or a chain of them, outermost first: cloudflare+azure-appservice.",
        )
        loader.add_option(
            "frontend_scheme", str, "https",
            "How requests reached the front end: "
            + "; ".join(f"{k}: {v}" for k, v in SCHEMES.items()) + ".",
            choices=list(SCHEMES),
        )
        loader.add_option(
            "frontend_xfp", str, "profile",
            "X-Forwarded-Proto policy: " + "; ".join(f"{k}: {v}" for k, v in fwd.XFP_POLICIES.items()) + ".",
            choices=list(fwd.XFP_POLICIES),
        )
        loader.add_option(
            "frontend_host", Optional[str], None,
            "Public host name (and port) the app sees in Host; default: the Host the client used.",
        )
        loader.add_option(
            "frontend_origin_host", Optional[str], None,
            "Host the app receives when the front end does not preserve the public host name (an origin host "
            "override), e.g. myapp.azurewebsites.net; 'profile': the front end's own default. The public host goes "
            "where the front end puts it (X-Forwarded-Host, X-Original-Host...). Default: the public host is kept.",
        )
        loader.add_option(
            "frontend_hop_ips", Optional[str], None,
            "For a chain (frontend=a+b): the address each hop connects from, outermost first, comma-separated; "
            "default: each front end's documented egress address.",
        )
        loader.add_option(
            "frontend_peer", Optional[str], None,
            "Source IP for connections to the app, e.g. 169.254.129.1 (App Service on Linux); "
            "must be an address of this machine.",
        )
        loader.add_option(
            "frontend_affinity", bool, True,
            "Add the front end's affinity cookies (e.g. ARRAffinity) to responses, where the profile has them.",
        )
        loader.add_option(
            "frontend_redirect", str, "profile",
            "The front end's own HTTP->HTTPS redirect: " + "; ".join(f"{k}: {v}" for k, v in REDIRECTS.items()) + ".",
            choices=list(REDIRECTS),
        )
        check_deferred(loader, ["frontend_affinity"])

    def configure(self, updated):
        o = ctx.options
        if "frontend" in updated:
            try:
                self.profile = load_profile(o.frontend)
            except ProfileError as e:
                raise exceptions.OptionsError(f"frontend: {e}") from e
        if "frontend_scheme" in updated:
            self.scheme = parse_choice("frontend_scheme", o.frontend_scheme, SCHEMES)
        if "frontend_affinity" in updated:
            self.affinity = o.frontend_affinity
        if "frontend_redirect" in updated:
            self.redirect = parse_choice("frontend_redirect", o.frontend_redirect, REDIRECTS) == "profile"
        if "frontend_xfp" in updated:
            parse_choice("frontend_xfp", o.frontend_xfp, fwd.XFP_POLICIES)
        if "frontend_host" in updated:
            self.host = parse_host(o.frontend_host)
        if "frontend_peer" in updated:
            self.peer = parse_peer(o.frontend_peer)
        if updated & {"frontend", "frontend_origin_host"}:
            self.origin = parse_origin_host(o.frontend_origin_host, self.profile)
        if "frontend_hop_ips" in updated:
            self.hop_ips = parse_hop_ips(o.frontend_hop_ips)
        if updated & {"frontend", "frontend_xfp"}:
            if self.profile.hops:  # frontend_xfp stands for the innermost hop, whose headers the app reads
                self.last_rules = fwd.with_xfp_policy(self.profile.hops[-1], o.frontend_xfp)
                self.rules = tuple(r for hop in self.profile.hops[:-1] for r in hop.request) + self.last_rules
            else:
                self.rules = self.last_rules = fwd.with_xfp_policy(self.profile, o.frontend_xfp)
            self.needed = self.profile.variables | needed_values(self.rules)
        emulation = updated & {"frontend", "frontend_scheme", "frontend_xfp", "frontend_host", "frontend_peer",
                               "frontend_redirect", "frontend_origin_host", "frontend_hop_ips"}
        if emulation:
            self.signature = (self.profile.name, self.scheme, o.frontend_xfp, self.host, self.peer, self.redirect,
                              self.origin, self.hop_ips)
            if self.is_running:  # switched at runtime (mitmproxy's :set, mitmweb's options)
                logger.info(f"offload: now {self.banner()}")
        # mitmproxy skips a hook attribute that is falsy: no per-flow call where this front end has nothing to do.
        self._hook("responseheaders", bool(self.profile.response) or (self.affinity and bool(self.profile.cookies)))
        self._hook("server_connect", bool(self.peer))

    def running(self):
        # A front end passes the client's Host on; mitmproxy's reverse mode would replace it with the app's.
        if "keep_host_header" in ctx.options and not ctx.options.keep_host_header:
            ctx.options.keep_host_header = True
        ours = [k for k in ctx.options.keys() if k.startswith(OPTION_PREFIX)]
        for line in unknown_options(ctx.options.deferred, ours):
            logger.warning(f"offload: {line}")
        self.is_running = True
        logger.info(f"offload: {self.banner()}")
        defaults = [p for p in (self.profile.hops or (self.profile,)) if p.origin_host is not None]
        if defaults and not self.origin:
            logger.info(
                f"offload: {defaults[0].name} in front of App Service sends the origin's host name "
                f"({defaults[0].origin_host.text}) unless host name preservation is set up; to see what your app does "
                "then: --set frontend_origin_host=profile (or the origin's name)"
            )
        if self.profile.peer and not self.peer:
            logger.info(
                f"offload: the app sees connections from loopback; behind {self.profile.name} its peer is "
                f"{self.profile.peer} (--set frontend_peer={self.profile.peer})"
            )

    def _hook(self, name: str, wanted: bool) -> None:
        if wanted:
            self.__dict__.pop(name, None)  # the method again
        else:
            setattr(self, name, None)

    def banner(self) -> str:
        o = ctx.options
        xfp = {"profile": "as the profile", "on": "on (iisnode enableXFF)", "off": "off (stripped)"}[o.frontend_xfp]
        rule = self.profile.rule(fwd.XFP)
        if o.frontend_xfp == "profile":
            xfp += " (not sent)" if rule is None or rule.client == "strip" else f" ({rule.client}, on {rule.when})"
        front = " -> ".join(h.name for h in self.profile.hops) if self.profile.hops else self.profile.name
        parts = [f"emulating {front}", f"scheme {o.frontend_scheme}", f"X-Forwarded-Proto {xfp}"]
        if self.profile.hops:
            parts.append("hops from " + ", ".join(fwd.hop_address(self.profile, i, self.hop_ips)
                                                   for i in range(len(self.profile.hops) - 1)))
        if self.host:
            parts.append(f"host {self.host}")
        if self.origin:
            parts.append(f"origin host {self.origin if self.origin != 'profile' else 'as the profile'}")
        if self.peer:
            parts.append(f"peer {self.peer}")
        if self.profile.https_redirect and not self.redirect:
            parts.append("no HTTP->HTTPS redirect")
        parts += filter(None, (part() for part in self.banner_parts))
        listen = _listen_addresses()
        if listen:
            parts.append(f"listening on {listen}")
        return ", ".join(parts)

    def scheme_of(self, flow: http.HTTPFlow) -> str:
        mode = self.scheme
        if mode == "auto":
            return "https" if flow.client_conn.tls_established else "http"
        return mode

    def incoming(self, flow: http.HTTPFlow) -> fwd.Incoming:
        conn = flow.client_conn
        request = flow.request
        peer = conn.peername
        ip, port = fwd.client_address(peer) if peer[0].startswith("::ffff:") else (peer[0], peer[1])
        # mitmproxy keeps header bytes; UTF-8 with surrogateescape round-trips any byte unchanged (see as_bytes).
        headers = [(k.decode("utf-8", "surrogateescape"), v.decode("utf-8", "surrogateescape"))
                   for k, v in request.headers.fields]
        version = request.http_version  # a property that decodes bytes: read once
        host = self.host
        if not host:
            if version in ("HTTP/2.0", "HTTP/3"):
                host = request.host_header
            else:  # Host as the client sent it (keep_host_header)
                host = next((v for k, v in headers if k.lower() == "host"), None)
            if not host:
                listen_ip, listen_port = conn.sockname[:2]
                host = f"[{listen_ip}]:{listen_port}" if ":" in listen_ip else f"{listen_ip}:{listen_port}"
        tls = fwd.tls_version(conn.tls_version) if conn.timestamp_tls_setup is not None else ""
        return fwd.Incoming(
            self.scheme_of(flow), host, request.path, headers, fwd.Client(ip, port, tls),
            VIA_VERSIONS.get(version, "1.1"), f"{request.host}:{request.port}", self.origin,
        )

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or flow.is_replay:
            return
        incoming = self.incoming(flow)
        if self.profile.https_redirect and self.redirect and incoming.scheme == "http":
            # The front end answers plain HTTP itself; the app never sees the request.
            setattr(flow, self.state_name, FlowState(incoming, frontend_response=True))
            flow.response = http.Response.make(
                self.profile.https_redirect, b"", {"Location": f"https://{incoming.host}{incoming.path}"}
            )
            return
        hop_values = ()
        writes = None if self.profile.drop_empty or self.profile.hops else \
            fwd.appended(self.rules, incoming.scheme, incoming.headers)
        if writes is not None:  # the usual case: the front end's headers are appended, written straight as bytes
            values = fwd.template_values(incoming, self.needed)
            flow.request.headers.fields += tuple(r.field(values) for r in writes)
            host = fwd.forwarded_host(self.profile, incoming)
        else:
            forwarded = fwd.forward(self.profile, incoming, self.last_rules, self.needed, self.hop_ips)
            if forwarded.redirect and self.redirect:  # an inner hop answers the plain HTTP an outer one passed on
                setattr(flow, self.state_name, FlowState(incoming, frontend_response=True))
                code, location = forwarded.redirect
                flow.response = http.Response.make(code, b"", {"Location": location})
                return
            values, host, hop_values = forwarded.values, forwarded.host, forwarded.hop_values
            flow.request.headers.fields = reencode(forwarded.headers, incoming.headers, flow.request.headers.fields)
        setattr(flow, self.state_name, FlowState(incoming, values, hop_values=hop_values))
        if host != incoming.host or self.host:
            flow.request.host_header = host

    def state(self, flow: http.HTTPFlow) -> FlowState | None:
        return getattr(flow, self.state_name, None)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        state = getattr(flow, self.state_name, None)
        if state is None or state.frontend_response:
            return
        response = flow.response
        state.app_headers = response.headers.fields
        values = state.values or {}
        if self.profile.hops:  # a chain: every hop's response rules and cookies, innermost first
            sent = [(as_text(k), as_text(v)) for k, v in response.headers.fields]
            cookie = [v for k, v in state.incoming.headers if k.lower() == "cookie"]
            headers = fwd.respond(self.profile, state.incoming, values, sent,
                                  fwd.cookie_names(cookie) if cookie else set(), self.affinity, state.hop_values)
            response.headers.fields = reencode(headers, sent, response.headers.fields)
            return
        if self.profile.response:
            sent = [(as_text(k), as_text(v)) for k, v in response.headers.fields]
            headers = fwd.apply(self.profile.response, sent, state.incoming.scheme, values)
            response.headers.fields = reencode(headers, sent, response.headers.fields)
        if self.affinity and self.profile.cookies:
            cookie = [v for k, v in state.incoming.headers if k.lower() == "cookie"]
            fields = self.cookie_fields(state.incoming, values, fwd.cookie_names(cookie) if cookie else set())
            if fields:
                response.headers.fields += fields

    def cookie_fields(self, incoming: fwd.Incoming, values: dict[str, str], sent: set[str]) -> tuple:
        """The front end's Set-Cookie fields for this response; rendered once per host where they depend on the
        host alone (ARRAffinity does), as they are for every response."""
        names = frozenset(c.name for c in self.profile.cookies if c.name in sent) if sent else frozenset()
        key = (self.profile.name, incoming.scheme, incoming.host, names)
        fields = self.cookie_cache.get(key)
        if fields is None:
            lines = fwd.front_end_cookies(self.profile, incoming, values, sent)
            fields = tuple((b"Set-Cookie", as_bytes(line)) for line in lines)
            if self.profile.cookie_variables <= fwd.HOST_VALUES:
                if len(self.cookie_cache) >= 256:
                    self.cookie_cache.clear()
                self.cookie_cache[key] = fields
        return fields

    def server_connect(self, data) -> None:
        if self.peer:
            data.server.sockname = (self.peer, 0)


def unknown_options(deferred, known: list[str]) -> list[str]:
    """Warnings for --set names mitmproxy did not know (it ignores them silently): those with offload's prefix, and
    those close to one of offload's options (a misspelling)."""
    lines = []
    for name in sorted(deferred):
        close = _closest(name, known)
        if close:
            lines.append(f"unknown option {name} ignored; did you mean {close}?")
        elif name.startswith(OPTION_PREFIX):
            lines.append(f"unknown option {name} ignored; offload's options: {', '.join(sorted(known))}")
    return lines


def _closest(name: str, known: list[str]) -> str | None:
    prefix = OPTION_PREFIX + "_"
    if name.startswith(prefix):  # compare what follows the shared prefix: frontend_xpf is close to frontend_xfp
        tails = {k.removeprefix(prefix): k for k in known if k.startswith(prefix)}
        found = difflib.get_close_matches(name.removeprefix(prefix), list(tails), n=1, cutoff=0.6)
        return tails[found[0]] if found else None
    found = difflib.get_close_matches(name, known, n=1, cutoff=0.85)
    return found[0] if found else None


def as_bytes(text: str) -> bytes:
    # mitmproxy decodes header bytes as UTF-8 with surrogateescape; this round-trips any byte unchanged.
    return text.encode("utf-8", "surrogateescape")


def as_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def reencode(headers: fwd.Headers, sent: fwd.Headers, fields: tuple) -> tuple:
    """Header fields for mitmproxy: the original bytes for every header passed on unchanged (apply() keeps those
    very tuples), new bytes only for what the front end wrote."""
    n = len(sent)
    if len(headers) >= n and all(map(operator.is_, headers, sent)):  # the usual case: headers added at the end
        return tuple(fields) + tuple((as_bytes(k), as_bytes(v)) for k, v in headers[n:])
    originals = {id(pair): field for pair, field in zip(sent, fields)}
    return tuple(originals.get(id(h)) or (as_bytes(h[0]), as_bytes(h[1])) for h in headers)


def _listen_addresses() -> str:
    server = ctx.master.addons.get("proxyserver")
    try:
        addrs = server.listen_addrs() if server else []
    except Exception:  # not every master has listeners (tests, offline)
        addrs = []
    return ", ".join(f"[{a[0]}]:{a[1]}" if ":" in a[0] else f"{a[0]}:{a[1]}" for a in addrs)
