"""What of a path or URL may be shown or kept: routes with ids folded, tokens and credentials hidden, sizes bounded."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from urllib.parse import urlsplit

HIDDEN = "…"
MAX_SHOWN = 240  # a route, a redacted URL: longer ones keep their start and a hash of the whole
_CACHED = 512  # paths up to this length are cached (route() runs per flow); longer ones would fill the cache

# Path segments that are ids rather than routes: numbers, UUIDs, hex hashes, long opaque tokens with a digit.
_ID = re.compile(
    r"^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{12,}|"
    r"(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,})$", re.I)
# A JWT (or JWE): base64url parts joined by dots, the first a JSON header ('{"' is 'eyJ').
_JWT = re.compile(r"^eyJ[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*){1,4}$")
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9_~+=.%-]{16,}$")
# A bare query item or parameter name shown as it is: a plain word (flag, debug, next, page[size]).
_WORD = re.compile(r"^[a-z][a-z_-]{0,15}$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\[\]-]{0,39}$")


def is_token(segment: str) -> bool:
    """A path segment that is an id or may be a secret: numbers, UUIDs, hashes, JWTs, long high-entropy strings.

    A long segment counts as high-entropy when it mixes letters and digits, or upper and lower case in about equal
    measure (random base62/base64 does, readable slugs and camelCase names do not).
    """
    if _ID.match(segment) or _JWT.match(segment):
        return True
    if not _TOKEN_CHARS.match(segment):
        return False
    digits = sum(c.isdigit() for c in segment)
    upper = sum(c.isupper() for c in segment)
    lower = sum(c.islower() for c in segment)
    if digits and upper + lower:
        return True
    letters = upper + lower
    return letters > 0 and min(upper, lower) >= 0.3 * letters


def _segment(segment: str, placeholder: str) -> str:
    """One path segment as shown: ids and tokens replaced; matrix parameters (;jsessionid=...) keep only names."""
    base, sep, params = segment.partition(";")
    shown = placeholder if base and is_token(base) else base
    if sep:
        shown += ";" + ";".join(_parameter(p) for p in params.split(";"))
    return shown


def _parameter(item: str) -> str:
    """'name=value' -> 'name=…'; a bare item stays only if it is a plain word."""
    name, sep, _ = item.partition("=")
    if sep:
        return (name if _NAME.match(name) and not is_token(name) else HIDDEN) + "=" + HIDDEN
    return item if not item or _WORD.match(item) else HIDDEN


def bounded(text: str, limit: int = MAX_SHOWN) -> str:
    """Text at most about `limit` characters long: a long one keeps its start and a short hash of the whole."""
    if len(text) <= limit:
        return text
    digest = hashlib.blake2s(text.encode("utf-8", "surrogateescape"), digest_size=6).hexdigest()
    return f"{text[:limit - 16]}{HIDDEN}#{digest}"


def route(path: str) -> str:
    """'/users/42/orders/9f86d081884c7d65?x=1' -> '/users/{id}/orders/{id}': one route, one comparison.

    Ids, tokens and matrix parameter values are folded; the result is bounded in size (it is a key kept per route).
    """
    return _route(path) if len(path) <= _CACHED else _route.__wrapped__(path)


@lru_cache(maxsize=4096)
def _route(path: str) -> str:
    path = path.split("?", 1)[0].split("#", 1)[0] or "/"
    return bounded("/".join(_segment(seg, "{id}") for seg in path.split("/")))


def redact_url(url: str) -> str:
    """Keep scheme, host and the shape of path and query; hide credentials, tokens, ids and query values."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    out = f"{parts.scheme}:" if parts.scheme else ""
    if parts.netloc:
        userinfo, at, hostport = parts.netloc.rpartition("@")
        out += "//" + (f"{HIDDEN}@" if at else "") + hostport
    out += "/".join(_segment(seg, "{id}") for seg in parts.path.split("/"))
    if parts.query:
        out += "?" + "&".join(_parameter(p) for p in parts.query.split("&"))
    return bounded(out)


def strip_userinfo(url: str) -> tuple[str, bool]:
    """The URL without 'user:password@' in its authority, and whether there was one."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, False
    if "@" not in parts.netloc:
        return url, False
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl(), True
