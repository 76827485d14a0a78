"""What the front end sends the app: a pure function from the client's request to the forwarded headers."""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from dataclasses import dataclass
from functools import lru_cache

from .profiles import CookieRule, HeaderRule, Profile, Value

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


@dataclass(frozen=True)
class Client:
    """The client's side of the connection, as the front end saw it."""

    ip: str
    port: int
    tls_version: str = ""  # "1.2" / "1.3"; "" when unknown or plain HTTP

    @property
    def ip_port(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class Incoming:
    """A request as it reached the front end."""

    scheme: str  # "https" or "http": how the client reached the front end
    host: str  # the Host the client used (the public host name)
    path: str  # path and query, as received
    headers: Headers
    client: Client


@dataclass(frozen=True)
class Forwarded:
    """The request as the front end hands it to the app."""

    host: str
    headers: Headers


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


def forward(rules: tuple[HeaderRule, ...], incoming: Incoming, needed: frozenset[str] | None = None) -> Forwarded:
    """Apply the front end's header rules to a request.

    The client's headers keep their order, minus those the front end takes over; the front end's headers follow
    in rule order, which is the order real front ends were observed to write them in. A client header that a
    "keep" rule leaves alone stays where the client put it.
    """
    values = template_values(incoming, needed)
    sent: dict[str, list[str]] = {}
    for name, value in incoming.headers:
        sent.setdefault(name.lower(), []).append(value)
    owned: dict[str, tuple[str, str | None]] = {}  # headers the front end took over: key -> (name, value or None)
    for rule in rules:
        key = rule.key
        if key in owned:
            current = owned[key][1]
        else:
            current = ", ".join(sent[key]) if key in sent else None
        applies = rule.applies(incoming.scheme)
        if rule.client == "strip" or (rule.client == "set" and not applies):
            owned[key] = (rule.name, None)
            continue
        if not applies or (rule.client == "keep" and current is not None):
            continue
        value = rule.value.render(values)
        if rule.client == "append" and current is not None:
            value = f"{current}, {value}"
        elif rule.client == "append-distinct" and current is not None:
            value = current if current.endswith(value) else f"{current}, {value}"
        if owned.get(key, (None, None))[1] is None:
            owned.pop(key, None)  # the front end writes it in this rule's position...
        owned[key] = (rule.name, value)  # ...or edits its own copy in place
    headers = [(n, v) for n, v in incoming.headers if n.lower() not in owned]
    headers += [(n, v) for n, v in owned.values() if v is not None]
    return Forwarded(incoming.host, headers)


def template_values(incoming: Incoming, needed: frozenset[str] | None = None) -> dict[str, str]:
    """The values profile templates draw on; `needed` limits the work to what the profile uses."""
    c = incoming.client
    domain = host_domain(incoming.host)
    values = {
        "client_ip": c.ip,
        "client_port": str(c.port),
        "client_ip_port": c.ip_port,
        "scheme": incoming.scheme,
        "host": incoming.host,
        "domain": domain,
        "site": domain.split(".", 1)[0],
        "path": incoming.path,
        "tls_version": c.tls_version or "1.2",
    }
    if needed is None or "guid" in needed:
        values["guid"] = str(uuid.uuid4())
    if needed is None or "affinity" in needed:
        values["affinity"] = affinity_id(domain)
    return values


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


def response_cookies(profile: Profile, incoming: Incoming, request_cookies: set[str]) -> list[str]:
    """Set-Cookie lines the front end adds to a response; a cookie the client already sends is not set again [INF]."""
    lines = []
    values: dict[str, str] | None = None
    for rule in profile.cookies:
        if not _cookie_applies(rule, incoming.scheme) or rule.name in request_cookies:
            continue
        if values is None:
            values = template_values(incoming, frozenset({"affinity"}))
        value, attrs = rule.value.render(values), rule.attributes.render(values)
        lines.append(f"{rule.name}={value};{attrs}" if attrs else f"{rule.name}={value}")
    return lines


def _cookie_applies(rule: CookieRule, scheme: str) -> bool:
    return rule.when == "any" or rule.when == scheme
