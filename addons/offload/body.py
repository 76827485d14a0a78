"""Bodies the rules read: decompressed incrementally to a bounded size, decoded only with real text charsets.

A body is evidence, never worth the proxy's time: 1.5 KB of brotli can expand to gigabytes, and a charset name is
whatever the app wrote (`charset=punycode` or `idna` are codecs, not text encodings). So decompression stops at
LIMIT bytes of output, an encoding offload does not know means "no body", and an unknown or exotic charset is read
as UTF-8 with replacement characters. Nothing here raises.
"""

from __future__ import annotations

import codecs
import io
import re
import zlib
from encodings.aliases import aliases
from functools import lru_cache

LIMIT = 512 * 1024  # bytes of decoded output the rules read

# Charsets that real pages are written in. Anything else (codecs such as punycode, idna, rot13, uu, base64) is not
# a text encoding and is never used to decode a body.
TEXT_CHARSETS = (
    "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "ascii", "latin-1",
    *(f"iso8859-{n}" for n in (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16)),
    *(f"cp{n}" for n in (1250, 1251, 1252, 1253, 1254, 1255, 1256, 1257, 1258, 437, 850, 866, 874, 932, 949, 950)),
    "koi8-r", "koi8-u", "mac-roman", "shift-jis", "euc-jp", "iso2022-jp", "gb2312", "gbk", "gb18030", "big5",
    "big5hkscs", "euc-kr", "tis-620",
)


def _spellings() -> dict[str, str]:
    """Every spelling of an allowed charset (its names and the standard library's aliases, any case, '-' or '_')
    -> the codec's own name. Only these fixed names are ever looked up, never the app's."""
    allowed = {codecs.lookup(c).name for c in TEXT_CHARSETS}
    out = {}
    for spelling in (*TEXT_CHARSETS, *aliases, *aliases.values()):
        try:
            name = codecs.lookup(spelling).name
        except LookupError:
            continue
        if name in allowed:
            out[_key(spelling)] = name
    return out


def _key(name: str) -> str:
    return name.strip().strip("\"'").lower().replace("_", "-")


_CHARSETS = _spellings()
_CHARSET = re.compile(r"charset\s*=\s*\"?([^\s;\"]{1,40})", re.I)


def charset_of(content_type: str | None) -> str:
    """The codec to read a body with: its declared charset if that is a real text charset, else UTF-8."""
    if not content_type:
        return "utf-8"
    return _charset_of(content_type) if len(content_type) <= 200 else _charset_of.__wrapped__(content_type)


@lru_cache(maxsize=128)  # an app sends a handful of content types
def _charset_of(content_type: str) -> str:
    m = _CHARSET.search(content_type)
    return _CHARSETS.get(_key(m.group(1)), "utf-8") if m else "utf-8"


def text(data: bytes, content_type: str | None) -> str:
    """The body's text (at most LIMIT bytes of it), never raising."""
    return data[:LIMIT].decode(charset_of(content_type), errors="replace")


def decompress(raw: bytes, content_encoding: str | None, limit: int = LIMIT) -> bytes | None:
    """The first `limit` bytes of the body with its Content-Encoding undone; None when an encoding is unknown,
    unsupported here or broken (the body rules are then skipped)."""
    data = raw
    for coding in reversed([c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]):
        if coding == "identity":
            continue
        decoder = _DECODERS.get(coding)
        if decoder is None:
            return None
        try:
            data = decoder(data, limit)
        except Exception:  # each library has its own error types; a broken body is simply not read
            return None
        if data is None:
            return None
    return data[:limit]


def _zlib(wbits: int):
    def decode(data: bytes, limit: int) -> bytes:
        return zlib.decompressobj(wbits).decompress(data, limit)
    return decode


def _deflate(data: bytes, limit: int) -> bytes:
    """'deflate' is meant to be zlib-wrapped; some servers send raw deflate (as mitmproxy, try both)."""
    try:
        return zlib.decompressobj(zlib.MAX_WBITS).decompress(data, limit)
    except zlib.error:
        return zlib.decompressobj(-zlib.MAX_WBITS).decompress(data, limit)


def _brotli(data: bytes, limit: int) -> bytes | None:
    try:
        import brotli
    except ImportError:
        return None
    try:
        # Brotli >= 1.2 stops producing output at the limit; older versions cannot be bounded: not read.
        return brotli.Decompressor().process(data, output_buffer_limit=limit)
    except TypeError:
        return None


def _zstd(data: bytes, limit: int) -> bytes | None:
    module = _zstd_module()
    if module is None:
        return None
    if module.__name__ == "zstandard":  # mitmproxy 11's zstd library
        return module.ZstdDecompressor().stream_reader(io.BytesIO(data)).read(limit)
    return module.ZstdDecompressor().decompress(data, max_length=limit)  # compression.zstd (3.14) and its backport


def _zstd_module():
    for name in ("compression.zstd", "backports.zstd", "zstandard"):
        try:
            return __import__(name, fromlist=["ZstdDecompressor"])
        except ImportError:
            continue
    return None


_DECODERS = {
    "gzip": _zlib(32 + zlib.MAX_WBITS), "x-gzip": _zlib(32 + zlib.MAX_WBITS),  # 32: gzip or zlib header
    "deflate": _deflate, "br": _brotli, "zstd": _zstd,
}
