"""Findings: the rule catalog, one Finding per problem, and their deduplicated, bounded store."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from .redact import bounded, redact_url, route  # noqa: F401 (route and redact_url are used from here too)

SEVERITIES = ("info", "warning", "error")
LEVEL = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str  # passive | differential | probe | advice
    severity: str
    title: str


RULES = {r.id: r for r in [
    Rule("secure-cookie-dropped", "differential", "error",
         "a cookie the app sets when it knows the request is HTTPS is missing under this front end"),
    Rule("https-redirect-loop", "passive", "error", "an HTTPS request is redirected to its own https URL"),
    Rule("insecure-redirect", "passive", "error", "an HTTPS request is redirected to an http:// URL"),
    Rule("csrf-origin-rejected", "differential", "error",
         "a CSRF or origin check rejects the request under the front end; a correct deployment is accepted"),
    Rule("server-error-under-frontend", "differential", "error",
         "5xx under the front end, success when the app sees HTTPS"),
    Rule("trust-depends-on-loopback", "differential", "error",
         "correct only when the app's peer is loopback; production peers are not"),
    Rule("samesite-none-without-secure", "passive", "error", "SameSite=None without Secure: browsers reject the cookie"),
    Rule("cookie-prefix-violation", "passive", "error",
         "__Secure-/__Host- cookie without the attributes its prefix requires"),
    Rule("cookie-not-secure", "passive", "warning", "a cookie set on an HTTPS request without Secure"),
    Rule("insecure-absolute-url", "passive", "warning", "http:// links to the public host in an HTTPS response"),
    Rule("backend-host-leak", "passive", "warning", "the app builds URLs with its internal host"),
    Rule("trusts-spoofed-forwarding", "probe", "warning",
         "the app believes X-Forwarded-* sent by an untrusted client"),
    Rule("client-ip-port", "advice", "info",
         "X-Forwarded-For carries ip:port and the framework keeps the port in its client IP"),
    Rule("rejected-under-frontend", "differential", "error",
         "4xx under the front end (not a CSRF/origin check), success in a correct deployment"),
    Rule("secure-attribute-dropped", "differential", "error",
         "a cookie the app sets with Secure when it sees HTTPS is set without it under the front end"),
    Rule("wrong-host-redirect", "passive", "error",
         "a redirect to the origin's host name (or another host) instead of the public host the browser is at"),
    Rule("cookie-domain-mismatch", "passive", "error",
         "a cookie whose Domain the public host does not match: the browser rejects it"),
    Rule("trusted-hops-mismatch", "probe", "error",
         "the app trusts fewer or more proxy hops than the chain has: its client IP is a hop's, or a forged one"),
]}


@dataclass(frozen=True)
class Finding:
    rule: str
    method: str
    route: str
    subject: str  # what the finding is about: a cookie name, a Location, a URL...
    message: str  # one sentence, no secrets
    url: str = ""
    evidence: str = ""
    frontend: str = ""
    framework: str = ""
    advice: str = ""
    count: int = 1
    level: str = ""  # the severity when it differs from the rule's (active mixed content is an error...)
    cause: str = ""  # why, when the advice depends on it: "no-proxy-trust" (the app believes no forwarded header)

    @property
    def severity(self) -> str:
        return self.level or RULES[self.rule].severity

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return self.frontend, self.rule, self.method, self.route, self.subject

    def line(self) -> str:
        """The one log line a developer reads."""
        text = f"{self.severity} {self.rule}: {self.message}"
        if self.advice:
            text += f" Fix{f' for {self.framework}' if self.framework else ''}: {self.advice}"
        return text

    def as_json(self) -> dict:
        return {
            "rule": self.rule, "severity": self.severity, "frontend": self.frontend, "method": self.method,
            "route": self.route, "url": self.url, "subject": self.subject, "evidence": self.evidence,
            "framework": self.framework, "advice": self.advice, "count": self.count,
        }


# --- aggregation ------------------------------------------------------------------------------------------------

FIELD_LIMIT = 2000  # characters of a finding's text fields: a 60 KB Location or Host is not kept whole


def _bounded(f: Finding) -> Finding:
    long = {k: bounded(getattr(f, k), FIELD_LIMIT) for k in ("method", "route", "subject", "message", "url", "evidence")
            if len(getattr(f, k)) > FIELD_LIMIT}
    return replace(f, **long) if long else f


@dataclass
class Findings:
    """Unique findings with counts; bounded, thread-safe, flows never kept."""

    limit: int = 1000
    items: dict[tuple, Finding] = field(default_factory=dict)
    dropped: int = 0
    flows: int = 0
    new: int = 0  # findings added as new so far
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, finding: Finding) -> bool:
        """Record a finding; True when it is new (and should be reported now)."""
        finding = _bounded(finding)
        with self._lock:
            old = self.items.get(finding.key)
            if old is not None:
                self.items[finding.key] = replace(old, count=old.count + 1)
                return False
            if len(self.items) >= self.limit:
                self.dropped += 1
                return False
            self.items[finding.key] = finding
            self.new += 1
            return True

    def amend(self, finding: Finding) -> None:
        """Give a kept finding new evidence (what was folded into it), its count unchanged."""
        finding = _bounded(finding)
        with self._lock:
            old = self.items.get(finding.key)
            if old is not None:
                self.items[finding.key] = replace(old, evidence=finding.evidence)

    def has_room(self, key: tuple) -> bool:
        """Would a finding with this key be kept (it is known, or there is room for a new one)?"""
        return key in self.items or len(self.items) < self.limit

    def all(self) -> list[Finding]:
        with self._lock:
            return sorted(self.items.values(),
                          key=lambda f: (-LEVEL[f.severity], f.rule, f.frontend, f.route, f.subject))

    def reaches(self, level: str) -> bool:
        """Any finding at or above a level: 'error', 'warning'; 'never' is never reached."""
        if level == "never":
            return False
        return any(LEVEL[f.severity] >= LEVEL[level] for f in self.all())
