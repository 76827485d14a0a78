"""Front-end profiles: one TOML file per front end, parsed once into plain frozen values."""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

PROFILE_DIR = Path(__file__).with_name("profiles")
DEFAULT_PROFILE = "azure-windows-legacy"

# What a front end does with the client's own copy of a header it handles.
CLIENT_MODES = {
    "set": "client copies removed; the front end's value added (cannot be spoofed)",
    "append": "', <value>' appended to the client's value (or the value alone if none)",
    "append-distinct": "as append, unless the client's value already ends with the value (iisnode)",
    "keep": "the client's value kept in place; the front end's value added only if absent",
    "strip": "client copies removed; nothing added",
}
WHEN = ("any", "https", "http")

# Values a template may use; forward.Incoming provides them per request.
TEMPLATE_VARS = {
    "client_ip": "the client's IP address",
    "client_port": "the client's TCP port",
    "client_ip_port": "ip:port, IPv6 as [addr]:port",
    "scheme": "https or http, as the request reached the front end",
    "host": "the Host the client used (or frontend_host), with any port",
    "domain": "that host without its port",
    "site": "the first label of the domain (App Service site name)",
    "path": "path and query as received",
    "guid": "a fresh lower-case GUID per request",
    "guid_head": "the first 18 characters of a fresh GUID: 8-4-4 hex digits (Render's request id)",
    "tls_version": "1.2 or 1.3: the client's TLS version at the front end",
    "affinity": "64 hex digits derived from the domain (ARR instance id)",
    "port": "443 or 80: the front end's listener port for the scheme",
    "http_version": "the client's HTTP version as Via writes it: 1.0, 1.1, 2 or 3",
    "http_major_minor": "the client's HTTP version as major.minor (Go's ProtoMajor.ProtoMinor): 1.0, 1.1, 2.0 or 3.0",
    "client_host": "the client's IP, IPv6 in brackets: 192.0.2.60 or [2001:db8::17]",
    "forwarded_for": "the client's IP as RFC 7239 writes it: 192.0.2.60, or \"[2001:db8::17]\" quoted",
    "hex4": "4 fresh random hex digits", "hex8": "8 fresh random hex digits", "hex12": "12 fresh random hex digits",
    "hex16": "16 fresh random hex digits", "hex24": "24 fresh random hex digits",
    "hex32": "32 fresh random hex digits", "uint64": "a fresh random unsigned 64-bit decimal",
    "b64": "32 fresh random base64 characters", "b64url": "22 fresh random base64url characters (16 bytes)",
    "ulid": "a fresh ULID: 26 Crockford base32 characters, the time first",
    "unix_s": "the time in Unix seconds", "utc_basic": "the UTC time as ISO 8601 basic: 20240711T031409Z", "unix_ms": "the time in Unix milliseconds",
    "unix_us": "the time in Unix microseconds", "unix_hex": "the time in Unix seconds as 8 hex digits",
}


class ProfileError(ValueError):
    """A profile file is missing or does not follow the schema."""


@dataclass(frozen=True)
class Value:
    """A header or cookie value: a constant, or a template drawing on TEMPLATE_VARS."""

    text: str
    names: frozenset[str] = frozenset()
    # The template split once into literal text and value names: rendering is a join, not a regex substitution.
    parts: tuple[tuple[bool, str], ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def parse(cls, text: str, where: str) -> Value:
        template = string.Template(text)
        if not template.is_valid():
            raise ProfileError(f"{where}: invalid template {text!r} (use ${{name}}; $$ for a dollar)")
        names = frozenset(template.get_identifiers())
        unknown = names - TEMPLATE_VARS.keys()
        if unknown:
            raise ProfileError(
                f"{where}: unknown template value(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(TEMPLATE_VARS)}"
            )
        if not names:
            return cls(template.substitute({}))
        return cls(text, names, _split(template))

    def render(self, values: dict[str, str]) -> str:
        if not self.parts:
            return self.text
        if len(self.parts) == 1:
            return values[self.parts[0][1]]
        return "".join(values[t] if is_name else t for is_name, t in self.parts)


def _split(template: string.Template) -> tuple[tuple[bool, str], ...]:
    """'for=${ip};x=$$' -> ((False, 'for='), (True, 'ip'), (False, ';x=$'))"""
    parts: list[tuple[bool, str]] = []
    pos = 0
    for m in template.pattern.finditer(template.template):
        if m.start() > pos:
            parts.append((False, template.template[pos:m.start()]))
        if m.group("escaped") is not None:
            parts.append((False, template.delimiter))
        else:
            parts.append((True, m.group("named") or m.group("braced")))
        pos = m.end()
    if pos < len(template.template):
        parts.append((False, template.template[pos:]))
    return tuple(parts)


@dataclass(frozen=True)
class HeaderRule:
    """One request header the front end adds, overwrites, appends to or strips."""

    name: str  # a strip rule may use * as a wildcard (X-FD-*)
    value: Value | None
    when: str = "any"
    client: str = "set"
    source: str = ""
    note: str = ""
    separator: str = ", "  # between appended values (Cloudflare and CloudFront write no space)
    copy_from: str = ""  # the value is the client's own copy of this header; no copy, no header
    key: str = field(init=False, repr=False, compare=False)  # the lower-case name
    wildcard: bool = field(init=False, repr=False, compare=False)  # a strip rule over a family of names
    # The header as mitmproxy stores it: the name's bytes, and the value's when it is a constant.
    name_bytes: bytes = field(init=False, repr=False, compare=False)
    value_bytes: bytes | None = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "key", self.name.lower())
        object.__setattr__(self, "wildcard", "*" in self.name)
        object.__setattr__(self, "name_bytes", self.name.encode("utf-8", "surrogateescape"))
        constant = self.value is not None and not self.value.parts
        object.__setattr__(self, "value_bytes",
                           self.value.text.encode("utf-8", "surrogateescape") if constant else None)

    def field(self, values: dict[str, str]) -> tuple[bytes, bytes]:
        """The header this rule writes, as bytes (the name and value mitmproxy keeps)."""
        value = self.value_bytes
        if value is None:
            value = self.value.render(values).encode("utf-8", "surrogateescape")
        return self.name_bytes, value

    def applies(self, scheme: str) -> bool:
        return self.when == "any" or self.when == scheme


@dataclass(frozen=True)
class CookieRule:
    """A cookie the front end adds to responses (e.g. ARR affinity)."""

    name: str
    value: Value
    attributes: Value
    when: str = "any"
    source: str = ""


@dataclass(frozen=True)
class Profile:
    """What one front end does to traffic between the client and the app."""

    name: str
    summary: str
    request: tuple[HeaderRule, ...]
    cookies: tuple[CookieRule, ...] = ()
    response: tuple[HeaderRule, ...] = ()  # response headers the front end sets (Server: cloudflare...)
    https_redirect: int = 0
    peer: str = ""
    host: str = "keep"  # keep: the client's Host; upstream: the app's address (nginx's default $proxy_host)
    drop_empty: bool = False  # empty-valued request headers are not passed on (nginx)
    sources: dict[str, str] = field(default_factory=dict)
    not_emulated: tuple[str, ...] = ()
    fix: str = ""  # what can be changed at the front end itself when the app does not see HTTPS
    # The Host this front end sends when its origin's host name is not preserved (Front Door and App Gateway in front
    # of App Service by default): frontend_origin_host=profile uses it. Empty: the front end keeps the client's Host.
    origin_host: Value | None = None
    egress: str = ""  # the address it connects to the next hop from (in its documented ranges): a chain's hop IP
    hops: tuple[Profile, ...] = ()  # a chain (cloudflare+azure-appservice), outermost first; () for one front end

    @cached_property
    def variables(self) -> frozenset[str]:
        """Template values this profile needs for one request and its response."""
        return needed_values(self.request + self.response) | frozenset().union(
            *(c.value.names | c.attributes.names for c in self.cookies))

    @cached_property
    def cookie_variables(self) -> frozenset[str]:
        """Template values the front end's own cookies draw on."""
        return frozenset().union(*(c.value.names | c.attributes.names for c in self.cookies))

    @property
    def xff_has_port(self) -> bool:
        """X-Forwarded-For entries written as ip:port (Azure App Service, App Gateway)."""
        rule = self.rule("X-Forwarded-For")
        return bool(rule and rule.value and "client_ip_port" in rule.value.names)

    def rule(self, header: str) -> HeaderRule | None:
        """The last rule for a header name (case-insensitive), if any."""
        found = [r for r in self.request if r.key == header.lower()]
        return found[-1] if found else None


def needed_values(rules) -> frozenset[str]:
    return frozenset().union(*(r.value.names for r in rules if r.value))


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def is_file_name(name: str) -> bool:
    """A user's own profile is named by its path: anything ending in .toml or holding a folder separator."""
    return name.endswith(".toml") or "/" in name or "\\" in name


CHAIN = "+"
# A hop with no egress address of its own connects from TEST-NET-2 (RFC 5737): 198.51.100.11 for the first hop...
HOP_FALLBACK = "198.51.100.{}"


@cache
def load_profile(name: str) -> Profile:
    """Load a profile by name (or a user's profile by its path), following `extends`; `a+b` is a chain of front
    ends, outermost first. Raises ProfileError naming the valid profiles, or the file, line and key of a mistake."""
    if CHAIN in name:
        return load_chain(name)
    if is_file_name(name):
        return load_profile_file(Path(name))
    path = PROFILE_DIR / f"{name}.toml"
    if not path.is_file():
        raise ProfileError(f"unknown front end {name!r}; valid: {', '.join(profile_names())}, or the path of a "
                           "profile file ending in .toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(f"{path.name}: {e}") from e
    return parse_profile(name, data)


def load_chain(name: str) -> Profile:
    """Front ends in front of front ends: each hop applies its profile to what the hop before it sent."""
    names = [n.strip() for n in name.split(CHAIN)]
    if any(not n for n in names):
        raise ProfileError(f"{name!r}: a chain names its front ends joined by '+', outermost first, e.g. "
                           "cloudflare+azure-appservice")
    seen = set()
    for n in names:
        if n in seen:
            raise ProfileError(f"{name!r}: {n} appears twice; a request that passes the same front end again is a "
                               "loop (the real front ends refuse it: X-Azure-RequestChain, CDN-Loop)")
        seen.add(n)
    hops = tuple(load_profile(n) for n in names)
    response, cookies = (), ()
    for hop in reversed(hops):  # the app's answer passes the innermost front end first
        response += hop.response
        cookies += hop.cookies
    sources = {f"{hop.name} {k}": v for hop in hops for k, v in hop.sources.items()}
    return Profile(
        name=CHAIN.join(h.name for h in hops),
        summary=" -> ".join(h.name for h in hops) + ": " + "; then ".join(h.summary for h in hops),
        request=tuple(r for hop in hops for r in hop.request),
        cookies=cookies,
        response=response,
        https_redirect=hops[0].https_redirect,
        peer=hops[-1].peer,
        host=hops[-1].host,
        sources=sources,
        not_emulated=tuple(f"{hop.name}: {line}" for hop in hops for line in hop.not_emulated),
        fix=hops[-1].fix,
        hops=hops,
    )


def load_profile_file(path: Path) -> Profile:
    """A user's own profile file (the same schema as the built-in ones), checked with the file's line numbers."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(f"{path}: no such profile file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ProfileError(f"{path}: cannot be read as a UTF-8 profile file ({e})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(f"{path}: not valid TOML: {e}") from None
    return parse_profile(path.stem, data, str(path), _Lines(text))


class _Lines:
    """Where things are in a profile file's text, for errors (tomllib keeps no positions)."""

    def __init__(self, text: str):
        self.lines = text.splitlines()

    def key(self, key: str) -> str:
        return self._find(lambda line: line.split("=")[0].strip().strip('"') == key and "=" in line)

    def table(self, header: str, index: int) -> str:
        found = [i for i, line in enumerate(self.lines) if line.strip() == f"[[{header}]]"]
        return f", line {found[index] + 1}" if index < len(found) else ""

    def _find(self, test) -> str:
        return next((f", line {i + 1}" for i, line in enumerate(self.lines) if test(line)), "")


class _NoLines(_Lines):
    def __init__(self):
        self.lines = []


TOP_KEYS = ("summary", "extends", "https_redirect", "peer", "host", "origin_host", "egress", "sources", "request",
            "response", "not_emulated", "fix")


def parse_profile(name: str, data: dict, where: str | None = None, lines: _Lines | None = None) -> Profile:
    where = where or f"profile {name}"
    lines = lines or _NoLines()
    _known_keys(data, set(TOP_KEYS), where, lines)
    if "extends" in data:
        if not isinstance(data["extends"], str) or is_file_name(data["extends"]):
            raise ProfileError(f"{where}{lines.key('extends')}: extends must name a built-in profile: "
                               f"{', '.join(profile_names())}")
    try:
        base = load_profile(data["extends"]) if "extends" in data else None
    except ProfileError as e:
        raise ProfileError(f"{where}{lines.key('extends')}: extends: {e}") from None
    summary = _require(data, "summary", str, where + lines.key("summary"))
    request, response = data.get("request", {}), data.get("response", {})
    _known_keys(request, {"headers", "drop_empty"}, f"{where} [request]", lines)
    _known_keys(response, {"headers", "cookies"}, f"{where} [response]", lines)
    rules = [_header_rule(h, f"{where}{lines.table('request.headers', i)}: request header #{i + 1}")
             for i, h in enumerate(_tables(request, "headers", where))]
    response_rules = [_header_rule(h, f"{where}{lines.table('response.headers', i)}: response header #{i + 1}")
                      for i, h in enumerate(_tables(response, "headers", where))]
    cookies = [_cookie_rule(c, f"{where}{lines.table('response.cookies', i)}: cookie #{i + 1}")
               for i, c in enumerate(_tables(response, "cookies", where))]
    for key, kind in (("https_redirect", int), ("peer", str), ("fix", str), ("host", str), ("origin_host", str),
                      ("egress", str)):
        if key in data and (not isinstance(data[key], kind) or isinstance(data[key], bool)):
            raise ProfileError(f"{where}{lines.key(key)}: {key} must be a{'n integer' if kind is int else ' string'}")
    if data.get("https_redirect", 0) not in (0, 301, 302, 307, 308):
        raise ProfileError(f"{where}{lines.key('https_redirect')}: https_redirect must be 0 (none), 301, 302, 307 "
                           f"or 308, not {data['https_redirect']!r}")
    sources = dict(base.sources) if base else {}
    sources.update(data.get("sources", {}))
    host = data.get("host", base.host if base else "keep")
    if host not in ("keep", "upstream"):
        raise ProfileError(f"{where}{lines.key('host')}: host must be 'keep' or 'upstream', not {host!r}")
    return Profile(
        name=name,
        summary=summary,
        request=(base.request if base else ()) + tuple(rules),
        response=(base.response if base else ()) + tuple(response_rules),
        cookies=tuple(cookies) if "cookies" in response or not base else base.cookies,
        drop_empty=bool(request.get("drop_empty", base.drop_empty if base else False)),
        https_redirect=int(data.get("https_redirect", base.https_redirect if base else 0)),
        peer=data.get("peer", base.peer if base else ""),
        host=host,
        sources=sources,
        not_emulated=tuple(data.get("not_emulated", base.not_emulated if base else ())),
        fix=data.get("fix", base.fix if base else ""),
        origin_host=Value.parse(data["origin_host"], f"{where}{lines.key('origin_host')}: origin_host")
        if data.get("origin_host") else (base.origin_host if base else None),
        egress=data.get("egress", base.egress if base else ""),
    )


def _header_rule(h: dict, where: str) -> HeaderRule:
    name = _require(h, "name", str, where)
    where = f"{where} ({name})"
    _known_keys(h, {"name", "value", "when", "client", "source", "note", "separator", "copy_from"}, where)
    client = _choice(h, "client", CLIENT_MODES, where)
    when = _choice(h, "when", WHEN, where)
    if "*" in name and client != "strip":
        raise ProfileError(f"{where}: only a strip rule may name headers with a wildcard")
    copy_from = h.get("copy_from", "")
    if client == "strip":
        value = None
    elif copy_from:
        value = Value("")  # filled from the client's header per request
    else:
        value = Value.parse(_require(h, "value", str, where), where)
    return HeaderRule(name, value, when, client, _require(h, "source", str, where), h.get("note", ""),
                      h.get("separator", ", "), copy_from)


def _cookie_rule(c: dict, where: str) -> CookieRule:
    name = _require(c, "name", str, where)
    where = f"{where} ({name})"
    when = _choice(c, "when", WHEN, where)
    return CookieRule(
        name,
        Value.parse(_require(c, "value", str, where), where),
        Value.parse(c.get("attributes", ""), where),
        when,
        _require(c, "source", str, where),
    )


def _tables(d: dict, key: str, where: str) -> list[dict]:
    items = d.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ProfileError(f"{where}: {key} must be an array of tables ([[...{key}]])")
    return items


def _known_keys(d: dict, known: set[str], where: str, lines: _Lines | None = None) -> None:
    if not isinstance(d, dict):
        raise ProfileError(f"{where}: must be a table")
    unknown = sorted(set(d) - known)
    if unknown:
        at = lines.key(unknown[0]) if lines else ""
        raise ProfileError(f"{where}{at}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                           f"allowed: {', '.join(sorted(known))}")


def _choice(d: dict, key: str, allowed, where: str) -> str:
    """An enumerated field; its first allowed value is the default."""
    value = d.get(key, next(iter(allowed)))
    if value not in allowed:
        raise ProfileError(f"{where}: {key} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _require(d: dict, key: str, kind: type, where: str):
    if key not in d:
        raise ProfileError(f"{where}: missing {key!r}")
    if not isinstance(d[key], kind):
        raise ProfileError(f"{where}: {key!r} must be a {'string' if kind is str else kind.__name__}")
    return d[key]
