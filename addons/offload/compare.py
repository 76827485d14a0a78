"""Differential rules: the app's answer under the front end against its answers to reference requests."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace

from .exchange import Exchange
from .findings import Finding, redact_url, route
from .passive import embedded_urls, inspect

# Texts of CSRF, origin and host checks, as the frameworks answer them (each framework's source in the comment).
# A failure whose answer holds one of them is csrf-origin-rejected, whatever its status.
CSRF_TEXTS = re.compile("|".join([
    r"Origin checking failed", r"Referer checking failed", r"CSRF verification failed", r"CSRF cookie not set",
    # django/middleware/csrf.py REASON_*; django/views/csrf.py
    r"InvalidAuthenticityToken", r"The change you wanted was rejected",  # Rails: request_forgery_protection.rb,
    # public/422.html
    r"CSRF token mismatch", r"Page Expired",  # Laravel: VerifyCsrfToken -> TokenMismatchException, 419 view
    r"Cross-site (?:POST|PUT|PATCH|DELETE) form submissions are forbidden",  # @sveltejs/kit runtime/server/respond.js
    r"Invalid Server Actions request",  # next/dist/server/app-render/action-handler.js
    r"Invalid CSRF [Tt]oken", r"Could not verify the provided CSRF token",  # Spring Security CsrfFilter
    r"The CSRF token is invalid",  # Symfony form CsrfValidationListener
    r"invalid csrf token",  # csurf, @fastify/csrf-protection (lower case)
    r"invalid CSRF \(Cross Site Request Forgery\) token",  # Plug.CSRFProtection.InvalidCSRFTokenError (Phoenix)
    r"The CSRF token is missing", r"The CSRF session token is missing", r"The referrer does not match the host",
    # flask_wtf/csrf.py
    r"CSRF token invalid", r"referer invalid",  # gorilla/csrf
    r"antiforgery token",  # ASP.NET Core Antiforgery
    r"cross-origin request detected",  # Go net/http CrossOriginProtection
]), re.I)
CSRF_STATUSES = {419}  # Laravel's "Page Expired" status is its CSRF failure and nothing else
# Requests whose failure is an origin check by what they are: a Next.js Server Action (the Next-Action header a
# browser's fetch carries) is refused with a bare 500 when Origin does not match X-Forwarded-Host or Host; the text
# "Invalid Server Actions request" goes to the server's log only (next/dist/server/app-render/action-handler.js).
CSRF_REQUESTS = (("next-action", "Next.js Server Actions' origin check"),)

# Error texts frameworks print when they do not see HTTPS; quoted as evidence.
KNOWN_ERRORS = (
    "Cannot send secure cookie over unencrypted connection",  # koa cookies/index.js
    "Contradictory scheme headers",  # gunicorn/http/errors.py
    "UntrustedHost",  # Auth.js
)

Differential = Callable[[Exchange, Exchange], Iterator[Finding]]


def _finding(ex: Exchange, rule: str, subject: str, message: str, evidence: str, cause: str = "") -> Finding:
    return Finding(rule, ex.method, ex.route, subject, message, ex.shown_url, evidence, cause=cause)


def outcome(ex: Exchange) -> str:
    """A short description of a response: status, redirect target, cookies set (names only)."""
    text = str(ex.status)
    if ex.location:
        text += f" to {redact_url(ex.location)}"
    names = sorted(ex.set_names)
    if names:
        text += f", sets {', '.join(names)}"
    return text


def csrf_text(ex: Exchange) -> str:
    """The CSRF/origin check text an answer holds ("" if none); a 419 is one by its status."""
    m = CSRF_TEXTS.search(ex.body[:65536])
    if m:
        return m.group(0)
    if ex.status in CSRF_STATUSES:
        return f"status {ex.status}"
    return next((check for header, check in CSRF_REQUESTS if ex.request_header(header) is not None), "")


def _known_error(ex: Exchange) -> str:
    return next((text for text in KNOWN_ERRORS if text in ex.body), "")


def rejected(actual: Exchange, ref: Exchange, seen_as: str = "when the app sees HTTPS",
             cause: str = "") -> Iterator[Finding]:
    """A failure (4xx/5xx) under the front end where the reference succeeds (2xx/3xx), named by what refused it."""
    if actual.status < 400 or ref.status >= 400:
        return
    what = f"{actual.method} {route(actual.path)}"
    evidence = f"under the front end: {outcome(actual)}; {seen_as}: {outcome(ref)}"
    check = csrf_text(actual)
    if check:
        origin = actual.request_header("Origin")
        yield _finding(actual, "csrf-origin-rejected", "Origin" if origin else str(actual.status),
                       f"{what} is refused by a CSRF/origin check ({actual.status}, '{check}') behind the front "
                       f"end but accepted ({ref.status}) {seen_as}"
                       + (f": the browser's Origin {origin} does not match the origin the app believes it has."
                          if origin else "."), evidence, cause)
    elif actual.status >= 500:
        error = _known_error(actual)
        yield _finding(actual, "server-error-under-frontend", str(actual.status),
                       f"{what} fails with {actual.status} behind the front end but answers {ref.status} {seen_as}"
                       + (f" ('{error}')." if error else "."), evidence, cause)
    else:
        yield _finding(actual, "rejected-under-frontend", str(actual.status),
                       f"{what} is refused with {actual.status} behind the front end but answers {ref.status} "
                       f"{seen_as}.", evidence, cause)


def secure_cookie_dropped(actual: Exchange, ref: Exchange) -> Iterator[Finding]:
    if actual.status >= 400:
        return  # the failure itself is the finding
    for name in sorted(ref.set_names - actual.set_names):
        cookie = next(c for c in ref.cookies if c.name == name)
        yield _finding(actual, "secure-cookie-dropped", name,
                       f"{'secure ' if cookie.secure else ''}cookie {name} is dropped on {actual.method} "
                       f"{route(actual.path)}: the app does not treat this request as HTTPS under the front end; "
                       "it sets the cookie in a correct deployment (X-Forwarded-Proto: https).",
                       f"under the front end: {outcome(actual)}; seeing HTTPS: {outcome(ref)}")


def secure_attribute_dropped(actual: Exchange, ref: Exchange) -> Iterator[Finding]:
    """A cookie set in both answers, Secure only when the app sees HTTPS (express-session secure: 'auto'...)."""
    if actual.status >= 400:
        return
    secure = {c.name for c in ref.cookies if c.secure and not c.deleted}
    for name in sorted(secure & {c.name for c in actual.cookies if not c.secure and not c.deleted}):
        yield _finding(actual, "secure-attribute-dropped", name,
                       f"cookie {name} is set without Secure on {actual.method} {route(actual.path)} behind the "
                       "front end, and with Secure when the app sees HTTPS: the app decides Secure from the scheme "
                       "it believes, and does not see HTTPS here.",
                       f"under the front end: Set-Cookie: {name}=<value> (no Secure); seeing HTTPS: "
                       f"Set-Cookie: {name}=<value>; Secure")


def embedded_downgrade(actual: Exchange, ref: Exchange) -> Iterator[Finding]:
    """A URL inside the redirect (redirect_uri...) that is http:// under the front end and https:// when the app
    sees HTTPS, whatever its host (the passive rule knows only the public host)."""
    if not actual.location or not ref.location:
        return
    theirs = dict(embedded_urls(ref.location))
    for param, url in embedded_urls(actual.location):
        other = theirs.get(param, "")
        if url.lower().startswith("http://") and other.lower().startswith("https://"):
            yield _finding(actual, "insecure-redirect", param,
                           f"{actual.method} {route(actual.path)} redirects with {param}={redact_url(url)} behind "
                           f"the front end, and {redact_url(other)} when the app sees HTTPS: an OAuth provider "
                           "refuses it (redirect_uri mismatch) or sends the browser off HTTPS.",
                           f"under the front end: {outcome(actual)}; seeing HTTPS: {outcome(ref)}")


DIFFERENTIAL: tuple[Differential, ...] = (rejected, secure_cookie_dropped, secure_attribute_dropped,
                                          embedded_downgrade)


def compare(actual: Exchange, ref: Exchange | None = None, plain: Exchange | None = None) -> list[Finding]:
    """Findings from the app's answer under the front end (actual), a correct deployment's (ref: public Host,
    X-Forwarded-Proto: https; None when the front end already sends that) and a plain-HTTP deployment's (plain).

    When the front end's answer and the correct deployment's both fail and the plain-HTTP one succeeds, the app
    trusts no forwarded header at all: the failure is reported with that cause.
    """
    found = [f for rule in DIFFERENTIAL for f in rule(actual, ref)] if ref is not None else []
    if plain is not None and (ref is None or ref.status >= 400):
        found += rejected(actual, plain, "as plain HTTP with no front end", cause="no-proxy-trust")
    return found


# --- one problem, one finding ------------------------------------------------------------------------------------

PRIMARY = ("https-redirect-loop", "csrf-origin-rejected", "rejected-under-frontend", "server-error-under-frontend")
SIDE_EFFECTS = ("secure-cookie-dropped", "secure-attribute-dropped")


def fold(findings: list[Finding]) -> list[Finding]:
    """Side effects of a problem named once, as its evidence: on a route that loops or is refused, the cookies it
    drops are part of that failure; a cookie whose Secure depends on the scheme is not also 'never Secure'."""
    primary = {(f.method, f.route): f for f in findings if f.rule in PRIMARY}
    secure_dropped = {(f.method, f.route, f.subject) for f in findings if f.rule == "secure-attribute-dropped"}
    folded: dict[tuple[str, str], list[str]] = {}
    out = []
    for f in findings:
        key = (f.method, f.route)
        if f.rule in SIDE_EFFECTS and key in primary:
            folded.setdefault(key, []).append(f"{f.rule} {f.subject}")
        elif f.rule == "cookie-not-secure" and (f.method, f.route, f.subject) in secure_dropped:
            continue
        else:
            out.append(f)
    return [replace(f, evidence=f"{f.evidence}; also: {', '.join(folded[(f.method, f.route)])}")
            if f.rule in PRIMARY and (f.method, f.route) in folded and primary[(f.method, f.route)] is f else f
            for f in out]


def reconcile(passive: list[Finding], found: list[Finding], pending: frozenset[str]
              ) -> tuple[list[Finding], list[Finding], list[Finding]]:
    """What a comparison changes for one answer whose passive findings were reported at once, except the `pending`
    rules': (new findings to report, reported ones with new evidence, pending ones folded into another finding)."""
    found = fold(passive + found)
    reported = {(f.rule, f.subject): f for f in passive if f.rule not in pending}
    new = [f for f in found if (f.rule, f.subject) not in reported]
    amended = [f for f in found if (old := reported.get((f.rule, f.subject))) is not None
               and old.evidence != f.evidence]
    kept = {(f.rule, f.subject) for f in found}
    folded = [f for f in passive if f.rule in pending and (f.rule, f.subject) not in kept]
    return new, amended, folded


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
