"""Passive rules (the rule catalog's `inspect` half): small pure functions from one HTTPS exchange to findings."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from urllib.parse import parse_qsl, unquote, urlsplit

from .exchange import MAX_COOKIES, WIRE_LIMIT, Exchange, may_link, readable, same_origin_url
from .findings import Finding, redact_url, route
from .setcookie import SetCookie

Passive = Callable[[Exchange], Iterator[Finding]]

# Headers that carry URLs a browser follows or shows (Location is the redirect rules' business).
URL_HEADERS = ("Content-Location", "Link", "Refresh")
_URL_KEYS = tuple((name, name.lower()) for name in URL_HEADERS)
_LOCATION_KEYS = (("Location", "location"),) + _URL_KEYS


def same_host(a: str, b: str) -> bool:
    """Host names equal, ignoring case and default ports (http://host:80 is http://host)."""
    return _bare(a) == _bare(b)


def _bare(host: str) -> str:
    host = host.lower()
    return host[:-3] if host.endswith(":80") else host[:-4] if host.endswith(":443") else host


def _finding(ex: Exchange, rule: str, subject: str, message: str, evidence: str = "", level: str = "") -> Finding:
    return Finding(rule, ex.method, ex.route, subject, message, ex.shown_url, evidence, level=level)


def https_redirect_loop(ex: Exchange) -> Iterator[Finding]:
    """A redirect from an HTTPS URL to the very same https URL: the browser follows it forever."""
    target = ex.location and same_origin_url(ex.location, "https", ex.host)
    if target and target[0] == "https" and same_host(target[1], ex.host) and target[2] == ex.path:
        yield _finding(ex, "https-redirect-loop", redact_url(ex.location),
                       f"{ex.method} {route(ex.path)} answers {ex.status} redirecting to itself "
                       f"({redact_url(ex.location)}): the app thinks the HTTPS request was plain HTTP, so the "
                       "browser loops until 'too many redirects'.", f"{ex.status} Location: {redact_url(ex.location)}")


def insecure_redirect(ex: Exchange) -> Iterator[Finding]:
    """A redirect from HTTPS to http:// on the public host: the app builds its URL from the scheme it believes.
    Also URLs carried inside the redirect (an OAuth redirect_uri, a return_to): the provider or the next page sends
    the browser to them, or refuses them ("redirect_uri mismatch")."""
    location = ex.location
    if not location:
        return
    target = same_origin_url(location, "https", ex.host)
    if target and target[0] == "http" and same_host(target[1], ex.host):
        yield _finding(ex, "insecure-redirect", redact_url(location),
                       f"{ex.method} {route(ex.path)} redirects an HTTPS request to {redact_url(location)}: "
                       "the app builds http:// URLs because it does not see HTTPS.",
                       f"{ex.status} Location: {redact_url(location)}")
    for param, url in embedded_urls(location):
        parts = same_origin_url(url, "https", ex.host)
        if parts and parts[0] == "http" and same_host(parts[1], ex.host):
            yield _finding(ex, "insecure-redirect", param,
                           f"{ex.method} {route(ex.path)} redirects with {param}={redact_url(url)}: the app builds "
                           "this URL with http:// because it does not see HTTPS; an OAuth provider refuses it "
                           "(redirect_uri mismatch) or sends the browser off HTTPS.",
                           f"{ex.status} Location: {redact_url(location)} ({param}: {redact_url(url)})")


def wrong_host_redirect(ex: Exchange) -> Iterator[Finding]:
    """A redirect to the origin's host name the front end sent in Host (myapp.azurewebsites.net) instead of the
    public host the browser is at: the browser leaves the front end (or the app's cookies for the public host), and
    an OAuth provider refuses a redirect_uri with it."""
    origin, location = ex.origin, ex.location
    if not origin or not location:
        return
    target = same_origin_url(location, "https", ex.host)
    if target and same_host(target[1], origin):
        yield _finding(ex, "wrong-host-redirect", redact_url(location),
                       f"{ex.method} {route(ex.path)} redirects to {redact_url(location)}, the origin's host name "
                       f"the front end sent in Host, instead of the public host {ex.host}: the app builds URLs from "
                       "Host and does not read the forwarded host.", f"{ex.status} Location: {redact_url(location)}")
    for param, url in embedded_urls(location):
        parts = same_origin_url(url, "https", ex.host)
        if parts and same_host(parts[1], origin):
            yield _finding(ex, "wrong-host-redirect", param,
                           f"{ex.method} {route(ex.path)} redirects with {param}={redact_url(url)}, the origin's "
                           f"host name, instead of the public host {ex.host}: an OAuth provider refuses it "
                           "(redirect_uri mismatch) or sends the browser past the front end.",
                           f"{ex.status} Location: {redact_url(location)} ({param}: {redact_url(url)})")


def cookie_domain_mismatch(ex: Exchange) -> Iterator[Finding]:
    """A cookie whose Domain the public host does not domain-match (RFC 6265 5.3 step 6): the browser drops it."""
    public = _domain(ex.host)
    for cookie in ex.cookies:
        domain = cookie.attributes.get("domain", "").strip().lstrip(".").lower()
        if domain and not cookie.deleted and public != domain and not public.endswith("." + domain):
            yield _finding(ex, "cookie-domain-mismatch", cookie.name,
                           f"cookie {cookie.name} is set with Domain={domain} on {ex.method} {route(ex.path)}, but "
                           f"the browser is at {public}: it rejects the cookie (RFC 6265 5.3), so it is never sent "
                           f"back{' (' + domain + ' is the host name the app received)' if same_host(domain, _domain(ex.origin)) else ''}.",
                           f"Set-Cookie: {cookie.name}=<value>; Domain={cookie.attributes.get('domain', '')}")


def _domain(host: str) -> str:
    """The host name a cookie's Domain is matched against: no port, no brackets, lower case."""
    host = host.lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


_ABSOLUTE = re.compile(r"^https?://", re.I)
MAX_EMBEDDED = 32  # parameters looked at in one Location


def embedded_urls(location: str) -> list[tuple[str, str]]:
    """(parameter, absolute URL) pairs in a URL's query and fragment, each value percent-decoded up to twice."""
    if "?" not in location and "#" not in location:
        return []
    try:
        parts = urlsplit(location.strip())
    except ValueError:
        return []
    found = []
    for part in (parts.query, parts.fragment):
        if "=" not in part:
            continue
        for name, value in parse_qsl(part, keep_blank_values=False)[:MAX_EMBEDDED]:
            if not _ABSOLUTE.match(value) and "%3a" in value.lower():
                value = unquote(value)  # encoded twice (a return_to inside a redirect_uri...)
            if _ABSOLUTE.match(value):
                found.append((name[:100], value))
    return found


# The cookie rules judge one Set-Cookie line each: (rule, subject, message, evidence), no request in it.
Verdict = tuple[str, str, str, str]


def samesite_none_without_secure(c: SetCookie) -> Iterator[Verdict]:
    if c.samesite == "none" and not c.secure and not c.deleted:
        yield ("samesite-none-without-secure", c.name,
               f"cookie {c.name} is set with SameSite=None but without Secure: browsers reject it.",
               f"Set-Cookie: {c.name}=<value>; SameSite=None (no Secure)")


def cookie_prefix_violation(c: SetCookie) -> Iterator[Verdict]:
    lower = c.name.lower()
    problems = []
    if lower.startswith(("__secure-", "__host-")) and not c.secure:
        problems.append("no Secure")
    if lower.startswith("__host-"):
        if c.attributes.get("path") != "/":
            problems.append("Path is not /")
        if "domain" in c.attributes:
            problems.append("has a Domain")
    if problems:
        yield ("cookie-prefix-violation", c.name,
               f"cookie {c.name} breaks its prefix's rules ({', '.join(problems)}): browsers reject it.",
               f"Set-Cookie: {c.name}=<value>; {', '.join(problems)}")


def cookie_not_secure(c: SetCookie) -> Iterator[Verdict]:
    if not c.secure and not c.deleted and c.samesite != "none" and not c.name.lower().startswith(
            ("__secure-", "__host-")):  # those two are already errors above
        yield ("cookie-not-secure", c.name,
               f"cookie {c.name} is set on an HTTPS request without Secure: browsers would also send it over plain "
               "HTTP.", f"Set-Cookie: {c.name}=<value> (no Secure)")


COOKIE_RULES = (samesite_none_without_secure, cookie_prefix_violation, cookie_not_secure)


def cookie_rules(ex: Exchange) -> Iterator[Finding]:
    """The cookie rules on each Set-Cookie line the answer has (at most MAX_COOKIES)."""
    for line in ex.header_all("set-cookie")[:MAX_COOKIES]:
        for rule, subject, message, evidence in judge_cookie(line):
            yield _finding(ex, rule, subject, message, evidence)


def judge_cookie(line: str) -> tuple[Verdict, ...]:
    """What the cookie rules say of one Set-Cookie line. Apps send the same lines again and again (a preference, a
    session cookie until it changes), so verdicts are cached by line, except for long lines and those whose meaning
    depends on the clock (an Expires date)."""
    if len(line) > 512 or "expires" in line.lower():
        return _judge(line)
    return _judge_cached(line)


def _judge(line: str) -> tuple[Verdict, ...]:
    cookie = SetCookie.parse(line)
    if cookie is None:
        return ()
    return tuple(v for rule in COOKIE_RULES for v in rule(cookie))


_judge_cached = lru_cache(maxsize=1024)(_judge)


def loud_cookie(line: str) -> bool:
    """A Set-Cookie line some rule has something to say of: a cookie rule's verdict, or a Domain attribute (judged
    against the public host: cookie-domain-mismatch). Cached as judge_cookie is."""
    if len(line) > 512 or "expires" in line.lower():
        return _loud(line)
    return _loud_cached(line)


def _loud(line: str) -> bool:
    return bool(_judge(line)) or "domain=" in line.lower()


_loud_cached = lru_cache(maxsize=1024)(_loud)


@lru_cache(maxsize=64)
def _absolute_urls(host: str) -> re.Pattern:
    # http://host and its JSON-escaped form http:\/\/host, not followed by more host name characters.
    return re.compile(r"http:(?://|\\/\\/)" + re.escape(host) + r"(?![\w.-])", re.I)


def _url_headers(ex: Exchange, keys) -> list[tuple[str, str]]:
    """(name, value) of the headers among `keys` that the response has; usually none."""
    found = ex._by_name
    return [(name, value) for name, key in keys if key in found for value in found[key]]


def insecure_absolute_url(ex: Exchange) -> Iterator[Finding]:
    """http:// links to the public host in headers or a textual body: mixed content, or a way off HTTPS.

    Active mixed content (scripts, stylesheets, frames, form actions, URLs in JSON that scripts fetch) is blocked by
    browsers, so the page or the form breaks: an error. Passive content (images, media) and links: a warning."""
    headers = _url_headers(ex, _URL_KEYS)
    body = ex.body
    if not headers and "http:" not in body and "HTTP:" not in body:  # cheap test first: most pages hold none
        return
    pattern = _absolute_urls(ex.host)
    for name, value in headers:
        if pattern.search(value):
            yield _finding(ex, "insecure-absolute-url", f"{name} header",
                           f"{ex.method} {route(ex.path)} sends an http:// URL to its own host in {name} on an "
                           "HTTPS response.", f"{name}: {redact_url(value.split(';')[0].strip('<> '))}")
    if "http:" in body or "HTTP:" in body:
        json = "json" in (ex.header("content-type") or "").lower()
        first = None
        for n, m in enumerate(pattern.finditer(body)):
            kind = "JSON" if json else active_context(body, m.start())
            if kind or first is None:
                first = (m, kind)
            if kind or n >= MAX_MATCHES:
                break
        if first is None:
            return
        m, kind = first
        if kind:
            yield _finding(ex, "insecure-absolute-url", "body",
                           f"{ex.method} {route(ex.path)} loads http://{ex.host} URLs as active content "
                           f"({kind}) in an HTTPS page: browsers block active mixed content, so the page or the "
                           "form breaks.", f"{kind}: {_snippet(ex.body, m.start())}", level="error")
        else:
            yield _finding(ex, "insecure-absolute-url", "body",
                           f"{ex.method} {route(ex.path)} links to http://{ex.host} in its body on an HTTPS "
                           "response: browsers block or downgrade those links.",
                           _snippet(ex.body, m.start()))


MAX_MATCHES = 50  # http:// URLs classified per body
# The attribute an http:// URL stands in, when a browser loads it as active content (blocked on an HTTPS page):
# https://developer.mozilla.org/en-US/docs/Web/Security/Mixed_content and https://w3c.github.io/webappsec-mixed-content/
_ACTIVE = (
    (re.compile(r"<script\b[^<>]*\bsrc\s*=\s*[\"']?$", re.I), "script src"),
    (re.compile(r"<i?frame\b[^<>]*\bsrc\s*=\s*[\"']?$", re.I), "iframe src"),
    (re.compile(r"<(embed|object)\b[^<>]*\b(src|data)\s*=\s*[\"']?$", re.I), "embed/object"),
    (re.compile(r"<form\b[^<>]*\baction\s*=\s*[\"']?$", re.I), "form action"),
    (re.compile(r"<(button|input)\b[^<>]*\bformaction\s*=\s*[\"']?$", re.I), "form action"),
    (re.compile(r"<link\b(?=[^<>]*\brel\s*=\s*[\"']?[^\"'<>]*\b(stylesheet|preload|modulepreload|manifest)\b)"
                r"[^<>]*\bhref\s*=\s*[\"']?$", re.I), "stylesheet"),
    (re.compile(r"\b(fetch|open)\(\s*[\"'`]$|@import\s+(url\()?[\"']?$|\burl\(\s*[\"']?$", re.I), "script/style"),
)


def active_context(text: str, at: int) -> str:
    """What loads the URL at `at` as active content ("script src", "form action"...), or "" (link, image...)."""
    before = text[max(0, at - 300):at]
    tag = before.rfind("<")
    if tag >= 0 and ">" not in before[tag:]:  # inside a tag: rel="stylesheet" may come after href
        end = text.find(">", at, at + 600)
        whole = before[tag:] + (text[at:end] if end > 0 else "")
        if re.match(r"<link\b", whole, re.I) and re.search(
                r"\brel\s*=\s*[\"']?[^\"'<>]*\b(stylesheet|preload|modulepreload|manifest)\b", whole, re.I):
            return "stylesheet"
    for pattern, kind in _ACTIVE:
        if pattern.search(before):
            return kind
    return ""


@lru_cache(maxsize=64)
def _backend_urls(backends: tuple[str, ...], host: str) -> re.Pattern | None:
    names = [b for b in backends if not same_host(b, host)]
    if not names:
        return None
    return re.compile(r"(?://|\\/\\/)(" + "|".join(map(re.escape, names)) + r")(?![\w.-]|:\d)", re.I)


def backend_host_leak(ex: Exchange) -> Iterator[Finding]:
    """URLs with the app's own address (localhost:3000) that only work on the developer's machine."""
    headers = _url_headers(ex, _LOCATION_KEYS)
    location = ex.location
    if location and ("?" in location or "#" in location):
        for param, url in embedded_urls(location):
            parts = same_origin_url(url, "https", ex.host)
            if parts and parts[1].lower() in ex.backends and not same_host(parts[1], ex.host):
                yield _finding(ex, "backend-host-leak", param,
                               f"{ex.method} {route(ex.path)} redirects with {param}={redact_url(url)}, the app's "
                               f"internal address; behind the front end it must be {ex.host}.",
                               f"{ex.status} Location: {redact_url(location)} ({param}: {redact_url(url)})")
    names = ex.backends + (ex.origin,) if ex.origin else ex.backends
    if ex.origin and location:  # a redirect to the origin host is wrong-host-redirect's
        headers = [(k, v) for k, v in headers if k.lower() != "location" or not _at_host(v, ex.origin, ex.host)]
    body = ex.body
    in_body = False
    if body:
        for name in names:  # cheap test first
            if name in body:
                in_body = True
                break
    if not headers and not in_body:
        return
    pattern = _backend_urls(names, ex.host)
    if pattern is None:
        return
    for name, value in headers:
        if m := pattern.search(value):
            yield _finding(ex, "backend-host-leak", f"{name} header",
                           f"{ex.method} {route(ex.path)} puts {_what(m.group(1), ex)} in {name}; behind the front "
                           f"end users must see {ex.host}.",
                           f"{name}: {redact_url(value.split(';')[0].strip('<> '))}")
    if in_body:
        m = pattern.search(body)
        if m and ex.origin and location and same_host(m.group(1), ex.origin) and _at_host(location, ex.origin, ex.host):
            m = None  # a redirect's body repeating its Location: wrong-host-redirect's already
        if m:
            yield _finding(ex, "backend-host-leak", "body",
                           f"{ex.method} {route(ex.path)} links to {_what(m.group(1), ex)} in its body; behind the "
                           f"front end users must see {ex.host}.", _snippet(ex.body, m.start()))


def _what(name: str, ex: Exchange) -> str:
    if ex.origin and same_host(name, ex.origin):
        return f"the origin's host name {name} (the Host the front end sent)"
    return f"the app's internal address {name}"


def _at_host(url: str, host: str, public: str) -> bool:
    parts = same_origin_url(url, "https", public)
    return bool(parts and same_host(parts[1], host))


def _snippet(text: str, at: int) -> str:
    """The URL found in a body, redacted: never the text around it, which may hold anything (a CSRF token...)."""
    url = re.match(r"[^\s\"'<>()]{1,300}", text[at:])
    return redact_url(url.group(0).replace("\\/", "/")) if url else ""


PASSIVE: tuple[Passive, ...] = (
    https_redirect_loop, insecure_redirect, cookie_rules, insecure_absolute_url, backend_host_leak,
    wrong_host_redirect, cookie_domain_mismatch,
)


# Response headers any passive rule reads, besides Set-Cookie (see quiet()).
_URL_FIELDS = frozenset({b"location", b"content-location", b"link", b"refresh"})


def quiet(fields, body: bytes | None, backends: tuple[str, ...]) -> bool:
    """True when no passive rule can find anything in an answer, told from its raw header fields and body bytes
    without building an Exchange: no header that carries a URL, only Set-Cookie lines already judged clean (or
    clean now), and a body that holds neither 'http:' nor one of the app's own addresses. Most answers are like
    that. Keep in step with PASSIVE (a property test checks: quiet means inspect() finds nothing)."""
    content_type = None
    for name, value in fields:
        key = name.lower()
        if key in _URL_FIELDS:
            return False
        if key == b"set-cookie":
            if loud_cookie(value.decode("utf-8", "surrogateescape")):
                return False
        elif key == b"content-type":
            if content_type is None:
                content_type = value.decode("utf-8", "surrogateescape")
        elif key == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
            return False  # compressed: its text cannot be told from its bytes
    if body and len(body) <= WIRE_LIMIT and readable(content_type, body) and may_link(body, content_type, backends):
        return False
    return True


def inspect(ex: Exchange) -> list[Finding]:
    """All passive findings for one exchange; only requests that reached the front end over HTTPS are judged."""
    if ex.scheme != "https":
        return []
    return [f for rule in PASSIVE for f in rule(ex)]
