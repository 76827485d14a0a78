"""What the front end sends the app: a pure function from the client's request to the forwarded headers."""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import ipaddress
import random
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache

from .profiles import HOP_FALLBACK, HeaderRule, Profile, Value, needed_values

XFP = "X-Forwarded-Proto"
XFP_POLICIES = {
    "profile": "as the front end does",
    "on": "add X-Forwarded-Proto from the front end's scheme if absent, as iisnode enableXFF=true does",
    "off": "strip X-Forwarded-Proto, the client's copy included",
}
# frontend_xfp=on adds the header the way iisnode's enableXFF does [SRC iisnode chttpprotocol.cpp].
_XFP_ON = HeaderRule(XFP, Value.parse("${scheme}", "frontend_xfp"), "any", "keep", "frontend_xfp=on")
_XFP_OFF = HeaderRule(XFP, None, "any", "strip", "frontend_xfp=off")

Headers = list[tuple[str, str]]


# Per-flow values: plain slotted dataclasses (a frozen dataclass costs about four times as much to build).
@dataclass(slots=True)
class Client:
    """The client's side of the connection, as the front end saw it."""

    ip: str
    port: int
    tls_version: str = ""  # "1.2" / "1.3"; "" when unknown or plain HTTP

    @property
    def ip_port(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


@dataclass(slots=True)
class Incoming:
    """A request as it reached the front end."""

    scheme: str  # "https" or "http": how the client reached the front end
    host: str  # the Host the client used (the public host name)
    path: str  # path and query, as received
    headers: Headers
    client: Client
    http_version: str = "1.1"  # as Via writes it: 1.0, 1.1, 2, 3
    upstream: str = ""  # host:port of the app, for front ends that send it as Host (nginx)
    # The Host the front end sends instead of the client's (its origin's host name: frontend_origin_host), while
    # ${host} stays the public host; "profile": the profile's own origin_host; "": the client's Host is kept.
    origin_host: str = ""


@dataclass(slots=True)
class Forwarded:
    """The request as the front end hands it to the app, and the values it used (its response reuses them)."""

    host: str
    headers: Headers
    values: dict[str, str]
    hop_values: tuple[dict[str, str], ...] = ()  # a chain's: each hop's template values, outermost first
    redirect: tuple[int, str] | None = None  # a chain's inner hop that answers plain HTTP itself: (code, Location)


def client_address(peer: tuple) -> tuple[str, int]:
    """The (ip, port) a front end would report for a socket peer; IPv4-mapped IPv6 shown as IPv4."""
    ip, port = peer[0], int(peer[1])
    if ip.startswith("::ffff:"):
        mapped = ipaddress.IPv6Address(ip).ipv4_mapped
        if mapped:
            ip = str(mapped)
    return ip, port


def tls_version(name: str | None) -> str:
    """'TLSv1.3' -> '1.3'; front ends report the bare number."""
    if not name:
        return ""
    return name.removeprefix("TLSv")


def with_xfp_policy(profile: Profile, policy: str) -> tuple[HeaderRule, ...]:
    """The profile's request rules, adjusted by frontend_xfp."""
    if policy == "profile":
        return profile.request
    if policy == "on":
        return profile.request + (_XFP_ON,)
    if policy == "off":
        return tuple(r for r in profile.request if r.key != XFP.lower()) + (_XFP_OFF,)
    raise ValueError(f"frontend_xfp must be one of {', '.join(XFP_POLICIES)}, not {policy!r}")


def forward(profile: Profile, incoming: Incoming, rules: tuple[HeaderRule, ...] | None = None,
            needed: frozenset[str] | None = None, hop_ips: tuple[str, ...] = ()) -> Forwarded:
    """What the app receives: the client's request with the front end's header rules applied.

    `rules` replaces the profile's request rules (e.g. after frontend_xfp); `needed` limits the template values
    computed to those the rules use (all of them by default); `hop_ips` are a chain's hop addresses.
    """
    if profile.hops:
        return forward_chain(profile, incoming, rules, hop_ips)
    if needed is None:
        needed = profile.variables if rules is None else profile.variables | needed_values(rules)
    values = template_values(incoming, needed)
    headers = apply(profile.request if rules is None else rules, incoming.headers, incoming.scheme, values)
    if profile.drop_empty:
        headers = [(k, v) for k, v in headers if v.strip()]
    return Forwarded(forwarded_host(profile, incoming), headers, values)


def forwarded_host(profile: Profile, incoming: Incoming) -> str:
    """The Host the app receives: the client's; the origin's host name where the front end overrides it; or the
    upstream's address for front ends that send that (nginx's default)."""
    origin = incoming.origin_host
    if origin:
        if origin != "profile":
            return origin
        if profile.origin_host is not None:
            return profile.origin_host.render(template_values(incoming, profile.origin_host.names))
    return incoming.upstream if profile.host == "upstream" and incoming.upstream else incoming.host


def hop_address(chain: Profile, index: int, hop_ips: tuple[str, ...] = ()) -> str:
    """The address hop `index` of a chain connects to the next hop from: frontend_hop_ips, else the front end's own
    egress address (from its documented ranges), else a TEST-NET-2 address."""
    if index < len(hop_ips):
        return hop_ips[index]
    return chain.hops[index].egress or HOP_FALLBACK.format(11 + index)


def forward_chain(chain: Profile, incoming: Incoming, rules: tuple[HeaderRule, ...] | None = None,
                  hop_ips: tuple[str, ...] = ()) -> Forwarded:
    """Front ends in front of front ends: each hop applies its own profile to what the hop before it sent, with
    that hop's address as its client; `rules` (frontend_xfp) stand for the innermost hop's. The origin host
    override is the outermost hop's; frontend_origin_host=profile lets every hop with an origin_host use it."""
    current = incoming
    all_values: list[dict[str, str]] = []
    last = len(chain.hops) - 1
    redirect = None
    for i, hop in enumerate(chain.hops):
        hop_rules = rules if i == last and rules is not None else hop.request
        values = template_values(current, hop.variables | needed_values(hop_rules))
        all_values.append(values)
        if i and redirect is None and current.scheme == "http" and hop.https_redirect:
            redirect = (hop.https_redirect, f"https://{current.host}{current.path}")
        headers = apply(hop_rules, current.headers, current.scheme, values)
        if hop.drop_empty:
            headers = [(k, v) for k, v in headers if v.strip()]
        host = forwarded_host(hop, current)
        if i == last:
            return Forwarded(host, headers, values, tuple(all_values), redirect)
        headers = [(k, host) if k.lower() == "host" else (k, v) for k, v in headers]
        client = Client(hop_address(chain, i, hop_ips), 40000 + i, current.client.tls_version)
        current = Incoming(current.scheme, host, current.path, headers, client, current.http_version,
                           current.upstream, "profile" if current.origin_host == "profile" else "")
    raise ValueError("a chain has at least one hop")


def apply(rules: tuple[HeaderRule, ...], sent: Headers, scheme: str, values: dict[str, str]) -> Headers:
    """Apply header rules to a header list (a request's, or the app's response).

    The original headers keep their order, minus those the front end takes over; the front end's headers follow
    in rule order, which is the order real front ends were observed to write them in. A header that a "keep"
    rule leaves alone stays where it was.
    """
    writes = appended(rules, scheme, sent)
    if writes is not None:  # the usual case: same result as the general path, less work
        return sent + [(r.name, r.value.render(values)) for r in writes]
    return _apply(rules, sent, [name.lower() for name, _ in sent], scheme, values)


def appended(rules: tuple[HeaderRule, ...], scheme: str, sent: Headers) -> tuple[HeaderRule, ...] | None:
    """When the client sent none of the headers the rules handle (the usual case), the front end only appends: the
    rules whose headers are appended, in order. None when the general path is needed."""
    plan = _plan(rules, scheme)
    if not plan.simple:
        return None
    names = plan.names
    for name, _ in sent:
        key = name.lower()
        if key in names or (plan.wildcards and any(fnmatch.fnmatchcase(key, p) for p in plan.wildcards)):
            return None
    return plan.writes


@dataclass(frozen=True)
class _Plan:
    writes: tuple[HeaderRule, ...]  # the rules that write a header for this scheme, in order
    names: frozenset[str]  # every header name the rules read or write
    wildcards: tuple[str, ...]
    simple: bool  # each written header written once and not stripped again: the fast path is exact


_plans: dict[tuple[int, str], tuple[tuple, _Plan]] = {}


def _plan(rules: tuple[HeaderRule, ...], scheme: str) -> _Plan:
    cached = _plans.get((id(rules), scheme))
    if cached is not None and cached[0] is rules:
        return cached[1]
    writes = tuple(r for r in rules if not r.wildcard and r.client != "strip" and not r.copy_from
                   and r.when in ("any", scheme))
    written = [r.key for r in writes]
    stripped = {r.key for r in rules if r.client == "strip" and not r.wildcard}
    plan = _Plan(
        writes=writes,
        names=frozenset(r.key for r in rules if not r.wildcard) | {r.copy_from.lower() for r in rules if r.copy_from},
        wildcards=tuple(r.key for r in rules if r.wildcard),
        simple=len(set(written)) == len(written) and stripped.isdisjoint(written),
    )
    if len(_plans) > 256:
        _plans.clear()
    _plans[(id(rules), scheme)] = (rules, plan)
    return plan


def _apply(rules: tuple[HeaderRule, ...], sent: Headers, keys: list[str], scheme: str,
           values: dict[str, str]) -> Headers:
    by_key: dict[str, list[str]] = {}
    for key, (_, value) in zip(keys, sent):
        by_key.setdefault(key, []).append(value)
    owned: dict[str, tuple[str, str | None]] = {}  # headers the front end took over: key -> (name, value or None)
    for rule in rules:
        key, mode = rule.key, rule.client
        if rule.wildcard:  # a strip rule over a family of names (X-FD-*)
            for k in by_key:
                if fnmatch.fnmatchcase(k, key):
                    owned[k] = (k, None)
            continue
        if key in owned:
            current = owned[key][1]
        else:
            current = ", ".join(by_key[key]) if key in by_key else None
        applies = rule.when == "any" or rule.when == scheme
        if rule.copy_from:
            copied = by_key.get(rule.copy_from.lower())
            applies = applies and bool(copied)
        if mode == "strip":
            owned[key] = (rule.name, None)
            continue
        if not applies:
            if mode == "set" and (current is None or key not in owned):
                owned[key] = (rule.name, None)  # the client's copies go; an earlier rule's value stays
            continue
        if mode == "keep" and current is not None:
            continue
        value = ", ".join(copied) if rule.copy_from else rule.value.render(values)
        if current is not None:
            if mode == "append":
                value = f"{current}{rule.separator}{value}"
            elif mode == "append-distinct":
                value = current if current.endswith(value) else f"{current}{rule.separator}{value}"
        if key in owned and owned[key][1] is None:
            del owned[key]  # the front end writes it in this rule's position...
        owned[key] = (rule.name, value)  # ...or edits its own copy in place
    headers = [h for key, h in zip(keys, sent) if key not in owned]
    headers += [(n, v) for n, v in owned.values() if v is not None]
    return headers


def _ip_host(c: Client) -> str:
    return f"[{c.ip}]" if ":" in c.ip else c.ip


# Request ids and trace ids (X-ARR-LOG-ID, X-Amzn-Trace-Id...) only have to be unique, not secret: drawn from a
# generator seeded once from the OS, rather than a system call per request as uuid4() and secrets make.
_ids = random.Random(secrets.randbits(128))

# How each template value is made from a request: computed only when a profile uses it (this runs per request).
_VALUES = {
    "client_ip": lambda i: i.client.ip,
    "client_port": lambda i: str(i.client.port),
    "client_ip_port": lambda i: i.client.ip_port,
    "client_host": lambda i: _ip_host(i.client),
    "forwarded_for": lambda i: f'"{_ip_host(i.client)}"' if ":" in i.client.ip else i.client.ip,
    "scheme": lambda i: i.scheme,
    "host": lambda i: i.host,
    "domain": lambda i: host_domain(i.host),
    "site": lambda i: host_domain(i.host).split(".", 1)[0],
    "path": lambda i: i.path,
    "tls_version": lambda i: i.client.tls_version or "1.2",
    "port": lambda i: "443" if i.scheme == "https" else "80",
    "http_version": lambda i: i.http_version,
    "http_major_minor": lambda i: i.http_version if "." in i.http_version else i.http_version + ".0",
    "affinity": lambda i: affinity_id(host_domain(i.host)),
    # fresh per request
    "guid": lambda i: guid(),
    "guid_head": lambda i: guid()[:18],
    "hex4": lambda i: f"{_ids.getrandbits(16):04x}",
    "hex8": lambda i: f"{_ids.getrandbits(32):08x}",
    "hex12": lambda i: f"{_ids.getrandbits(48):012x}",
    "hex16": lambda i: f"{_ids.getrandbits(64):016x}",
    "hex24": lambda i: f"{_ids.getrandbits(96):024x}",
    "hex32": lambda i: f"{_ids.getrandbits(128):032x}",
    "uint64": lambda i: str(_ids.getrandbits(64)),
    "b64": lambda i: base64.b64encode(_ids.randbytes(24)).decode(),
    "b64url": lambda i: base64.urlsafe_b64encode(_ids.randbytes(16)).decode().rstrip("="),
    "ulid": lambda i: ulid(),
    "unix_s": lambda i: str(int(time.time())),
    "utc_basic": lambda i: time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
    "unix_ms": lambda i: str(int(time.time() * 1000)),
    "unix_us": lambda i: str(time.time_ns() // 1000),
    "unix_hex": lambda i: f"{int(time.time()):08x}",
}


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid() -> str:
    """A ULID (https://github.com/ulid/spec): 48 bits of Unix milliseconds then 80 random bits, in Crockford base32."""
    n = (int(time.time() * 1000) << 80) | _ids.getrandbits(80)
    return "".join(_CROCKFORD[(n >> shift) & 31] for shift in range(125, -1, -5))


def guid() -> str:
    """A random (version 4) GUID in lower case, as str(uuid.uuid4()) gives, at a fraction of its cost."""
    h = f"{_ids.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


# Template values that follow from the public host alone: a cookie drawing only on these is the same for every
# request to that host (the glue renders it once).
HOST_VALUES = frozenset({"host", "domain", "site", "affinity", "scheme", "port"})


# Of those, the ones made from the host name alone: made once per host (a request costs a dictionary copy).
_BY_HOST = ("domain", "site", "affinity")


def template_values(incoming: Incoming, needed: frozenset[str] | None = None) -> dict[str, str]:
    """The values profile templates draw on; `needed` limits the work to what the profile uses."""
    makers, by_host = _makers(needed)
    values = {name: make(incoming) for name, make in makers}
    if by_host:
        host = incoming.host
        values.update(_host_values(host, by_host) if len(host) <= 255 else _host_values.__wrapped__(host, by_host))
    return values


@lru_cache(maxsize=64)
def _makers(needed: frozenset[str] | None) -> tuple[tuple, tuple[str, ...]]:
    chosen = [name for name in _VALUES if needed is None or name in needed]
    return (tuple((name, _VALUES[name]) for name in chosen if name not in _BY_HOST),
            tuple(name for name in chosen if name in _BY_HOST))


@lru_cache(maxsize=256)
def _host_values(host: str, names: tuple[str, ...]) -> dict[str, str]:
    probe = Incoming("https", host, "/", [], Client("", 0))
    return {name: _VALUES[name](probe) for name in names}


@lru_cache(maxsize=256)
def host_domain(host: str) -> str:
    """'myapp.example:8443' -> 'myapp.example'; '[::1]:8443' -> '::1'."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


@lru_cache(maxsize=256)
def affinity_id(domain: str) -> str:
    """A stable 64-hex instance id, as ARR's affinity cookie carries [OBS ARRAffinity=<64 hex>]."""
    return hashlib.sha256(f"offload:{domain}".encode()).hexdigest()


def respond(profile: Profile, incoming: Incoming, values: dict[str, str], headers: Headers,
            request_cookies: set[str], affinity: bool = True, hop_values: tuple[dict[str, str], ...] = ()
            ) -> Headers:
    """The app's response headers as the client gets them: the front end's header rules and cookies applied (a
    chain's innermost hop first, each with its own values)."""
    if profile.hops and hop_values:
        out = list(headers)
        for hop, vals in reversed(list(zip(profile.hops, hop_values))):
            if hop.response:
                out = apply(hop.response, out, incoming.scheme, vals)
    else:
        out = apply(profile.response, headers, incoming.scheme, values) if profile.response else list(headers)
    if affinity:
        out += [("Set-Cookie", line)
                for line in front_end_cookies(profile, incoming, values, request_cookies, hop_values)]
    return out


def front_end_cookies(profile: Profile, incoming: Incoming, values: dict[str, str], request_cookies: set[str],
                      hop_values: tuple[dict[str, str], ...] = ()) -> list[str]:
    """Set-Cookie lines the front end adds; a cookie the client already sends is not set again [INF: ARR]. In a
    chain each hop's cookies draw on what that hop saw (an inner App Service's ARRAffinity names the host it got)."""
    pairs = [(hop, vals) for hop, vals in reversed(list(zip(profile.hops, hop_values)))] if profile.hops and \
        hop_values else [(profile, values)]
    lines = []
    for front, vals in pairs:
        for rule in front.cookies:
            if rule.when in ("any", incoming.scheme) and rule.name not in request_cookies:
                value, attrs = rule.value.render(vals), rule.attributes.render(vals)
                lines.append(f"{rule.name}={value};{attrs}" if attrs else f"{rule.name}={value}")
    return lines


def cookie_names(cookie_headers: list[str]) -> set[str]:
    """Names in Cookie request headers ('a=1; b=2'), without parsing values."""
    return {part.split("=", 1)[0].strip() for header in cookie_headers for part in header.split(";")}


def sample_headers(profile: Profile, host: str = "myapp.azurewebsites.net") -> Headers:
    """What a front end adds to a sample HTTPS request (a browser's GET /login from a documentation address), for
    reports that show each front end's headers."""
    sent = [("Host", host), ("User-Agent", "Mozilla/5.0"), ("Accept", "text/html")]
    incoming = Incoming("https", host, "/login", sent, Client("203.0.113.7", 50123, "1.3"), upstream="127.0.0.1:3000")
    fwd = forward(profile, incoming)
    return [(k, fwd.host if k.lower() == "host" else v) for k, v in fwd.headers if (k, v) not in sent]
