"""Differential rules: the app's answer under the front end against its answer to a reference request."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .exchange import Exchange
from .findings import Finding, redact_url, route
from .passive import inspect

# Error texts frameworks print when they do not see HTTPS (frameworks.md 2.2, 2.4, 2.5); quoted as evidence.
KNOWN_ERRORS = (
    "Cannot send secure cookie over unencrypted connection",
    "Origin checking failed",
    "Referer checking failed",
    "CSRF verification failed",
    "Invalid Server Actions request",
    "Contradictory scheme headers",
)

Differential = Callable[[Exchange, Exchange], Iterator[Finding]]


def _finding(ex: Exchange, rule: str, subject: str, message: str, evidence: str) -> Finding:
    return Finding(rule, ex.method, ex.route, subject, message, ex.shown_url, evidence)


def _known_error(ex: Exchange) -> str:
    return next((text for text in KNOWN_ERRORS if text in ex.body), "")


def outcome(ex: Exchange) -> str:
    """A short description of a response: status, redirect target, cookies set (names only)."""
    text = str(ex.status)
    if ex.location:
        text += f" to {redact_url(ex.location)}"
    names = sorted(ex.set_names)
    if names:
        text += f", sets {', '.join(names)}"
    return text


def server_error_under_frontend(actual: Exchange, ref: Exchange) -> Iterator[Finding]:
    if actual.status >= 500 and ref.status < 400:
        error = _known_error(actual)
        yield _finding(actual, "server-error-under-frontend", str(actual.status),
                       f"{actual.method} {route(actual.path)} fails with {actual.status} behind the front end but "
                       f"answers {ref.status} when the app sees HTTPS"
                       + (f" ('{error}')." if error else "."),
                       f"under the front end: {outcome(actual)}; seeing HTTPS: {outcome(ref)}")


def csrf_origin_rejected(actual: Exchange, ref: Exchange) -> Iterator[Finding]:
    if actual.status == 403 and ref.status < 400:
        error = _known_error(actual)
        origin = actual.request_header("Origin")
        yield _finding(actual, "csrf-origin-rejected", "Origin" if origin else "403",
                       f"{actual.method} {route(actual.path)} is refused with 403 behind the front end but accepted "
                       f"({ref.status}) when the app sees HTTPS"
                       + (f": the browser's Origin {origin} does not match the http:// origin the app expects"
                          if origin else "") + (f" ('{error}')." if error else "."),
                       f"under the front end: {outcome(actual)}; seeing HTTPS: {outcome(ref)}")


def secure_cookie_dropped(actual: Exchange, ref: Exchange) -> Iterator[Finding]:
    if actual.status >= 400:
        return  # the failure itself is the finding (rules above)
    for name in sorted(ref.set_names - actual.set_names):
        cookie = next(c for c in ref.cookies if c.name == name)
        yield _finding(actual, "secure-cookie-dropped", name,
                       f"{'secure ' if cookie.secure else ''}cookie {name} is dropped on {actual.method} "
                       f"{route(actual.path)}: the app does not treat this request as HTTPS under the front end; "
                       "it sets the cookie when it sees X-Forwarded-Proto: https.",
                       f"under the front end: {outcome(actual)}; seeing HTTPS: {outcome(ref)}")


DIFFERENTIAL: tuple[Differential, ...] = (server_error_under_frontend, csrf_origin_rejected, secure_cookie_dropped)


def compare(actual: Exchange, ref: Exchange) -> list[Finding]:
    """Findings from the app's answer under the front end (actual) and with X-Forwarded-Proto: https (ref)."""
    return [f for rule in DIFFERENTIAL for f in rule(actual, ref)]


def _trouble(ex: Exchange, other: Exchange) -> int:
    """How much worse an answer is than the other one: passive findings, failures, cookies it lacks."""
    failed = ex.status >= 400 and other.status < 400
    return len(inspect(ex)) + failed + len(other.set_names - ex.set_names)


def compare_peer(actual: Exchange, loopback: Exchange, peer: str) -> list[Finding]:
    """trust-depends-on-loopback: the app answers worse when the front end connects from its production-like peer.

    Only "worse" counts: an app that trusts exactly the production peer answers a loopback request differently,
    and rightly so.
    """
    if _trouble(actual, loopback) <= _trouble(loopback, actual):
        return []
    return [_finding(actual, "trust-depends-on-loopback", peer,
                     f"{actual.method} {route(actual.path)} behaves differently when the front end connects from "
                     f"{peer} than from 127.0.0.1: the app trusts forwarded headers only from loopback, and in "
                     "production its peer is not loopback.",
                     f"from {peer}: {outcome(actual)}; from 127.0.0.1: {outcome(loopback)}")]
