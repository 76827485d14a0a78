"""offload profile from-dump: a profile file from a captured dump of the headers your real front end sent your app."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

# Headers a browser or client sends itself: not the front end's (RFC 9110, Fetch's forbidden and CORS-safelisted
# names, and the usual client extras).
CLIENT_HEADERS = frozenset({
    "host", "user-agent", "accept", "accept-encoding", "accept-language", "accept-charset", "cookie",
    "authorization", "content-type", "content-length", "content-encoding", "origin", "referer", "connection",
    "upgrade-insecure-requests", "cache-control", "pragma", "dnt", "priority", "te", "x-requested-with",
    "keep-alive", "expect", "range", "upgrade", "if-none-match", "if-modified-since", "if-match",
    "if-unmodified-since", "if-range", "transfer-encoding", "postman-token",
})
MAX_DUMP = 1 << 20  # a header dump is kilobytes; a megabyte is something else
_REQUEST_LINE = re.compile(r"^(?:> )?([A-Z]+) (\S+) HTTP/[\d.]+$")
_HEADER = re.compile(r"^(?:> )?([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*)$")
_IP = r"(?:\d{1,3}\.){3}\d{1,3}"
_HEX_ID = r"(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]"  # lower-case hex with a letter and a digit: an id


@dataclass
class Dump:
    headers: list[tuple[str, str]]
    host: str = ""
    path: str = ""
    client_ip: str = ""
    client_port: str = ""
    hints: dict[str, str] = field(default_factory=dict)
    sent: dict[str, str] = field(default_factory=dict)  # what the client itself sent (fixture format: # sent:)


def read_dump(text: str) -> Dump:
    """Headers from a raw header block, `curl -v` output, a JSON object of headers, or a HAR file or entry."""
    if len(text) > MAX_DUMP:
        raise ValueError(f"the dump is {len(text)} characters; a header dump is at most {MAX_DUMP}")
    stripped = text.strip()
    if not stripped:
        raise ValueError("the dump is empty")
    if stripped[0] in "{[":
        return _from_json(stripped)
    dump = Dump([])
    for line in stripped.splitlines():
        line = line.rstrip("\r")
        if line.startswith("# input:"):  # offload's own fixture format
            dump.hints = dict(kv.split("=", 1) for kv in line.split(":", 1)[1].split() if "=" in kv)
        elif line.startswith("# sent: ") and (m := _HEADER.match(line[8:])):
            dump.sent[m.group(1).lower()] = m.group(2).strip()
        elif line.startswith(("#", "* ", "< ", "{ ", "} ")) or not line.strip():
            continue
        elif m := _REQUEST_LINE.match(line):
            dump.path = m.group(2)
        elif m := _HEADER.match(line):
            dump.headers.append((m.group(1), m.group(2).strip()))
    return _complete(dump)


def _from_json(text: str) -> Dump:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"the dump looks like JSON but is not ({e})") from None
    if isinstance(data, dict) and "log" in data:  # a HAR file: its first entry
        entries = data.get("log", {}).get("entries") or []
        if not entries:
            raise ValueError("the HAR file has no entries")
        data = entries[0]
    if isinstance(data, dict) and isinstance(data.get("request"), dict):  # a HAR entry
        request = data["request"]
        headers = [(h.get("name", ""), str(h.get("value", ""))) for h in request.get("headers", [])
                   if isinstance(h, dict)]
        url = str(request.get("url", ""))
        path = re.sub(r"^https?://[^/]+", "", url) or "/"
        return _complete(Dump([h for h in headers if h[0]], path=path))
    if isinstance(data, dict) and isinstance(data.get("headers"), (dict, list)):  # {"headers": {...}} (httpbin)
        data = data["headers"]
    if isinstance(data, list) and all(isinstance(i, (list, tuple)) and len(i) == 2 for i in data):
        return _complete(Dump([(str(k), str(v)) for k, v in data]))
    if isinstance(data, dict):
        return _complete(Dump([(str(k), ", ".join(map(str, v)) if isinstance(v, list) else str(v))
                               for k, v in data.items()]))
    raise ValueError("the JSON dump must be an object of headers, {\"headers\": ...}, or a HAR file or entry")


def _complete(dump: Dump) -> Dump:
    if not dump.headers:
        raise ValueError("no headers found in the dump (expected 'Name: value' lines, curl -v output, a JSON object "
                         "of headers, or a HAR entry)")
    values = {k.lower(): v for k, v in dump.headers}
    dump.host = dump.hints.get("host") or values.get("host", "")
    dump.path = dump.hints.get("path") or dump.path
    client = dump.hints.get("client", "")
    if client:
        dump.client_ip, _, dump.client_port = client.rpartition(":")
    else:  # the leftmost X-Forwarded-For entry is the client, as front ends write it
        first = values.get("x-forwarded-for", "").split(",")[0].strip()
        m = re.fullmatch(rf"({_IP})(?::(\d+))?", first)
        if m:
            dump.client_ip, dump.client_port = m.group(1), m.group(2) or ""
    return dump


def template(value: str, dump: Dump, name: str = "") -> tuple[str, list[str]]:
    """A captured value as a profile template, and what was inferred (per-request values become template values)."""
    out = value.replace("$", "$$")
    found: list[str] = []

    def sub(pattern: str, name: str, replacement: str = "") -> None:
        nonlocal out
        new = re.sub(pattern, replacement or "${" + name + "}", out)
        if new != out:
            found.append(name)
            out = new

    sub(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "guid")
    if dump.client_ip:
        ip = re.escape(dump.client_ip)
        if dump.client_port:
            sub(rf"(?<![\d.]){ip}:{re.escape(dump.client_port)}(?!\d)", "client_ip_port")
        sub(rf"(?<![\d.]){ip}(?![\d.])", "client_ip")
        if dump.client_port:
            sub(rf"^{re.escape(dump.client_port)}$", "client_port")
    if dump.host:
        sub(rf"(?<![\w.-]){re.escape(dump.host)}(?![\w.-])", "host")
    if dump.path and len(dump.path) > 1:
        sub(rf"^{re.escape(dump.path)}$", "path")
        sub(rf"\$\{{host\}}{re.escape(dump.path)}$", "path", "${host}${path}")  # a URL of this request
    sub(r"^https?$", "scheme")
    sub(r"^https?(?=://\$\{host\})", "scheme")
    if name.lower() == "via":  # "1.1 vegur", "2 fly.io": the client's HTTP version
        sub(r"(?:^|(?<=, ))(?:1\.[01]|2|3)(?= )", "http_version")
    sub(r"(?<=Root=1-)[0-9a-f]{8}(?=-)", "unix_hex")  # AWS trace ids: Root=1-<epoch seconds in hex>-<24 hex>
    sub(r"(?<![0-9A-Za-z])[0-7][0-9A-HJKMNP-TV-Z]{25}(?![0-9A-Za-z])", "ulid")
    for digits in (32, 24, 16, 12, 8):  # random hex ids; a run of digits alone is a number, not an id
        sub(rf"(?<![0-9a-zA-Z]){_HEX_ID}{{{digits}}}(?![0-9a-zA-Z])", f"hex{digits}")
    sub(r"(?<![0-9A-Za-z+/_-])(?=[0-9A-Za-z_-]*[A-Z])(?=[0-9A-Za-z_-]*[a-z])(?=[0-9A-Za-z_-]*[0-9])"
        r"[0-9A-Za-z_-]{20,}(?![0-9A-Za-z+/=_-])", "b64url")
    sub(r"(?<![0-9A-Za-z+/_-])(?=[0-9A-Za-z+/]*[A-Z])(?=[0-9A-Za-z+/]*[a-z])(?=[0-9A-Za-z+/]*[0-9])"
        r"[0-9A-Za-z+/]{20,}={0,2}(?![0-9A-Za-z+/=_-])", "b64")
    sub(r"(?<![\d.])1[5-9]\d{14}(?![\d.])", "unix_us")  # Unix times from 2017 to 2033
    sub(r"(?<![\d.])1[5-9]\d{11}(?![\d.])", "unix_ms")
    sub(r"(?<![\d.])1[5-9]\d{8}(?![\d.])", "unix_s")
    return out, found


def _toml(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def to_profile(dump: Dump, source: str, name: str = "") -> str:
    """The profile file's text: the front end's headers in the dump's order, each marked with what was inferred."""
    # offload's own fixture format (# input: ...) lists only the front end's headers; any other dump has the
    # client's too, and a header a client sends itself is taken for the client's
    fixture = bool(dump.hints)
    added = [(k, v) for k, v in dump.headers if fixture or k.lower() not in CLIENT_HEADERS]
    if not added:
        raise ValueError("every header in the dump is one a client sends itself: nothing a front end added")
    left = sorted({k for k, _ in dump.headers} - {k for k, _ in added}, key=str.lower)
    lines = [f"# Made by offload profile from-dump from {source}: check it, then use it with --frontend.",
             "# [OBS D1] values as captured; [INF] what offload inferred (per-request values made template values)."]
    if left:
        lines.append(f"# Left out as the client's own: {', '.join(left)}. A front end may overwrite some (Cloudflare "
                     "sets Accept-Encoding and Connection): copy such a header in from the dump if yours does.")
    lines += [f"summary = {_toml(name or 'my front end, from a captured dump')}", "",
              "[sources]", f"D1 = {_toml('captured dump: ' + source)}"]
    for k, v in added:
        key = k.lower()
        client = "append" if key in ("x-forwarded-for", "via", "forwarded") else "set"
        own = dump.sent.get(key, "")
        if client == "append" and own and v.startswith(own) and v[len(own):][:1] == ",":
            v = v[len(own) + 1:].lstrip()  # the client's own value, which the front end appended to
        value, found = template(v, dump, k)
        notes = [f"{f} for a per-request value" for f in found]
        if client == "append":
            notes.append("appended to a client's copy, as front ends do with this header")
        lines += ["", "[[request.headers]]", f"name = {_toml(k)}", f"value = {_toml(value)}",
                  f"client = {_toml(client)}", 'source = "[OBS D1]"']
        if notes:
            lines.append(f"note = {_toml('[INF] ' + '; '.join(notes))}")
    return "\n".join(lines) + "\n"
