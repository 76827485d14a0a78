"""An Exchange: one request as the front end received it and the app's answer, as plain values the rules read."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from urllib.parse import urlsplit

from . import body as bodies
from .redact import redact_url, route
from .setcookie import SetCookie, parse_all

# Bodies the rules read: textual and bounded, so a large download costs nothing.
BODY_LIMIT = bodies.LIMIT
WIRE_LIMIT = 4 * BODY_LIMIT  # larger bodies on the wire are downloads, not pages: not read at all
# Set-Cookie lines judged per response. Browsers keep about 180 cookies per domain (Chromium: 180, Firefox: 180),
# so lines past a few hundred in one answer are not cookies any browser keeps; judging them would only cost time.
MAX_COOKIES = 256
TEXTUAL = re.compile(r"^(text/|application/(json|[\w.+-]*\+json|xhtml\+xml|xml|javascript|ld\+json))", re.I)


@dataclass
class Exchange:
    """What the rules see: never a flow, never a cookie value. (Built per flow: not frozen, which costs 4x.)"""

    method: str
    scheme: str  # how the request reached the front end: "https" or "http"
    host: str  # the public host the client used (with any port)
    path: str  # path and query
    status: int
    headers: tuple[tuple[str, str], ...]  # the app's response headers, before the front end adds its own
    body: str = ""  # decoded text of a textual body, at most BODY_LIMIT characters; "" otherwise
    backends: tuple[str, ...] = ()  # host:port names of the app itself (the upstream), for backend-host-leak
    request_headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # as forwarded to the app
    # The Host the app received when the front end sent another than the public one (an origin host override,
    # frontend_origin_host): URLs to it are the host bug's evidence. "" when the public host reached the app.
    origin: str = ""

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}{self.path}"

    @cached_property
    def shown_url(self) -> str:
        """The URL as findings show it: credentials, tokens and query values hidden."""
        return redact_url(self.url)

    @cached_property
    def route(self) -> str:
        return route(self.path)

    @cached_property
    def _by_name(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for k, v in self.headers:
            index.setdefault(k.lower(), []).append(v)
        return index

    def header(self, name: str) -> str | None:
        """The first value of a header (any case; the rules' own constants are lower case, which is quickest)."""
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        values = self._by_name.get(name)
        if values is None and not name.islower():
            values = self._by_name.get(name.lower())
        return values or []

    def request_header(self, name: str) -> str | None:
        return next(iter(header_values(self.request_headers, name)), None)

    @cached_property
    def cookies(self) -> list[SetCookie]:
        return parse_all(self.header_all("set-cookie")[:MAX_COOKIES])

    @property
    def set_names(self) -> set[str]:
        """Names of the cookies this response sets (not those it deletes)."""
        return {c.name for c in self.cookies if not c.deleted}

    @property
    def location(self) -> str | None:
        return self.header("location") if 300 <= self.status < 400 else None


# The response headers the rules and the framework fingerprints read; the glue decodes only these.
READ = frozenset({"location", "set-cookie", "content-location", "link", "refresh", "content-type",
                  "content-encoding", "x-powered-by", "server"})


def header_values(headers: tuple[tuple[str, str], ...], name: str) -> list[str]:
    name = name.lower()
    return [v for k, v in headers if k.lower() == name]


def textual(content_type: str | None) -> bool:
    return bool(content_type and TEXTUAL.match(content_type.strip()))


# A short answer with no Content-Type at all is read as text (SvelteKit's 403 "Cross-site POST form submissions are
# forbidden", adapter-node's 400 "Bad Request" come so), as a browser sniffs it; a long one is a download.
SNIFF_LIMIT = 4096


def readable(content_type: str | None, raw: bytes) -> bool:
    """Whether the rules read this body: a textual type, or no type at all and a few bytes without a NUL."""
    if content_type is None:
        return len(raw) <= SNIFF_LIMIT and b"\0" not in raw
    return textual(content_type)


def decode_body(raw: bytes | None, content_type: str | None, content_encoding: str | None = None) -> str:
    """The text the rules search: only for textual types, decompressed and decoded within bounds, never raising."""
    if not raw or len(raw) > WIRE_LIMIT or not readable(content_type, raw):
        return ""
    data = bodies.decompress(raw, content_encoding) if content_encoding else raw
    return bodies.text(data, content_type) if data else ""


# Charsets that do not write ASCII text as ASCII bytes: their bodies are always decoded to be searched.
_WIDE = ("utf-16", "utf-32", "iso2022")


def may_link(raw: bytes, content_type: str | None, backends: tuple[str, ...]) -> bool:
    """Whether a body may hold what the URL rules look for ('http:' or one of the app's own addresses), told from
    its bytes without decoding; always True for a charset that does not write ASCII as ASCII."""
    if b"http:" in raw or b"HTTP:" in raw or any(name in raw for name in _as_bytes(backends)):
        return True
    return bodies.charset_of(content_type).startswith(_WIDE)


@lru_cache(maxsize=64)
def _as_bytes(names: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(name.encode("utf-8", "surrogateescape") for name in names)


def same_origin_url(url: str, scheme: str, host: str) -> tuple[str, str, str] | None:
    """(scheme, host, path) of an absolute or relative URL resolved against scheme://host; None if unparsable."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme and parts.scheme.lower() not in ("http", "https"):
        return None
    s = parts.scheme.lower() or scheme
    h = parts.netloc.rpartition("@")[2] if parts.netloc else host  # without user:password@
    path = parts.path or "/"
    if not parts.netloc and not path.startswith("/"):
        return None  # a relative path: resolving needs the base path; never a scheme change
    if parts.query:
        path += "?" + parts.query
    return s, h, path


@lru_cache(maxsize=64)
def backend_names(host: str, port: int) -> tuple[str, ...]:
    """The names an app on this machine may use for itself: 127.0.0.1:3000 is also localhost:3000."""
    names = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    if host in ("127.0.0.1", "localhost", "::1"):
        names += [n for n in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}") if n not in names]
    return tuple(names)


def from_answer(like: Exchange, status: int, headers: tuple[tuple[str, str], ...], body: bytes) -> Exchange:
    """The app's answer to a reference request for the same method, URL and front end as `like`."""
    headers = tuple(headers)
    content_type = next(iter(header_values(headers, "content-type")), None)
    encoding = ", ".join(header_values(headers, "content-encoding")) or None
    return Exchange(like.method, like.scheme, like.host, like.path, status, headers,
                    decode_body(body, content_type, encoding), like.backends, like.request_headers, like.origin)
