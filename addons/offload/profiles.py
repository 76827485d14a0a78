"""Front-end profiles: one TOML file per front end, parsed once into plain frozen values."""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass, field
from functools import cache
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
    "tls_version": "1.2 or 1.3: the client's TLS version at the front end",
    "affinity": "64 hex digits derived from the domain (ARR instance id)",
}


class ProfileError(ValueError):
    """A profile file is missing or does not follow the schema."""


@dataclass(frozen=True)
class Value:
    """A header or cookie value: a constant, or a template drawing on TEMPLATE_VARS."""

    text: str
    names: frozenset[str] = frozenset()
    template: string.Template | None = field(default=None, compare=False, repr=False)

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
        return cls(text, names, template)

    def render(self, values: dict[str, str]) -> str:
        if self.template is None:
            return self.text
        return self.template.substitute(values)


@dataclass(frozen=True)
class HeaderRule:
    """One request header the front end adds, overwrites, appends to or strips."""

    name: str
    value: Value | None
    when: str = "any"
    client: str = "set"
    source: str = ""
    note: str = ""

    @property
    def key(self) -> str:
        return self.name.lower()

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
    https_redirect: int = 0
    peer: str = ""
    host: str = "keep"
    sources: dict[str, str] = field(default_factory=dict)
    not_emulated: tuple[str, ...] = ()
    fix: str = ""  # what can be changed at the front end itself when the app does not see HTTPS

    @property
    def variables(self) -> frozenset[str]:
        """Template values this profile's request headers need."""
        names: set[str] = set()
        for rule in self.request:
            if rule.value:
                names |= rule.value.names
        return frozenset(names)

    @property
    def xff_has_port(self) -> bool:
        """X-Forwarded-For entries written as ip:port (Azure App Service, App Gateway)."""
        rule = self.rule("X-Forwarded-For")
        return bool(rule and rule.value and "client_ip_port" in rule.value.names)

    def rule(self, header: str) -> HeaderRule | None:
        """The last rule for a header name (case-insensitive), if any."""
        found = [r for r in self.request if r.key == header.lower()]
        return found[-1] if found else None


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


@cache
def load_profile(name: str) -> Profile:
    """Load a profile by name, following `extends`. Raises ProfileError naming the valid profiles."""
    path = PROFILE_DIR / f"{name}.toml"
    if not path.is_file():
        raise ProfileError(f"unknown front end {name!r}; valid: {', '.join(profile_names())}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(f"{path.name}: {e}") from e
    return parse_profile(name, data)


def parse_profile(name: str, data: dict) -> Profile:
    where = f"profile {name}"
    known = {"summary", "extends", "https_redirect", "peer", "host", "sources", "request", "response",
             "not_emulated", "fix"}
    unknown = set(data) - known
    if unknown:
        raise ProfileError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    base = load_profile(data["extends"]) if "extends" in data else None
    summary = _require(data, "summary", str, where)
    rules = [_header_rule(h, f"{where} header #{i + 1}") for i, h in
             enumerate(data.get("request", {}).get("headers", []))]
    cookies = [_cookie_rule(c, f"{where} cookie #{i + 1}") for i, c in
               enumerate(data.get("response", {}).get("cookies", []))]
    sources = dict(base.sources) if base else {}
    sources.update(data.get("sources", {}))
    host = data.get("host", base.host if base else "keep")
    if host not in ("keep",):
        raise ProfileError(f"{where}: host must be 'keep', not {host!r}")
    return Profile(
        name=name,
        summary=summary,
        request=(base.request if base else ()) + tuple(rules),
        cookies=tuple(cookies) if "response" in data or not base else base.cookies,
        https_redirect=int(data.get("https_redirect", base.https_redirect if base else 0)),
        peer=data.get("peer", base.peer if base else ""),
        host=host,
        sources=sources,
        not_emulated=tuple(data.get("not_emulated", base.not_emulated if base else ())),
        fix=data.get("fix", base.fix if base else ""),
    )


def _header_rule(h: dict, where: str) -> HeaderRule:
    name = _require(h, "name", str, where)
    where = f"{where} ({name})"
    client = _choice(h, "client", CLIENT_MODES, where)
    when = _choice(h, "when", WHEN, where)
    if client == "strip":
        value = None
    else:
        value = Value.parse(_require(h, "value", str, where), where)
    return HeaderRule(name, value, when, client, _require(h, "source", str, where), h.get("note", ""))


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
        raise ProfileError(f"{where}: {key!r} must be a {kind.__name__}")
    return d[key]
