"""One Set-Cookie line, parsed the way a browser does (RFC 6265 section 5.2): one line is one cookie."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime


# A value signed by itsdangerous (Flask's session): base64 JSON ("eyJ", or ".eJ" zlib-compressed), a timestamp and a
# signature, dot-separated (itsdangerous/url_safe.py, timed.py).
_ITSDANGEROUS = re.compile(r"\.?eJ[\w-]+\.[\w-]+\.[\w-]+$|eyJ[\w-]*\.[\w-]+\.[\w-]+$")


@dataclass(slots=True)
class SetCookie:
    """The name and attributes of a cookie; the value is never kept (it may be a secret)."""

    name: str
    attributes: dict[str, str] = field(default_factory=dict)  # lower-case name -> value ("" for flags); last wins
    empty: bool = False  # the value was empty
    shape: str = ""  # what kind of value it is, for recognising frameworks ("itsdangerous"); never the value

    @classmethod
    def parse(cls, line: str) -> SetCookie | None:
        """None for a line a browser would ignore (no '=' in the name-value pair, or an empty name)."""
        pair, *parts = line.split(";")
        if "=" not in pair:
            return None
        name, value = pair.split("=", 1)
        name = name.strip()
        if not name:
            return None
        attributes: dict[str, str] = {}
        for part in parts:
            key, _, val = part.partition("=")
            key = key.strip().lower()
            if key:
                attributes[key] = val.strip()
        value = value.strip().strip('"')
        return cls(name, attributes, not value, "itsdangerous" if _ITSDANGEROUS.match(value) else "")

    @property
    def secure(self) -> bool:
        return "secure" in self.attributes

    @property
    def samesite(self) -> str:
        return self.attributes.get("samesite", "").lower()

    @property
    def deleted(self) -> bool:
        """A line that removes the cookie (Max-Age <= 0 or an Expires in the past) rather than setting it."""
        max_age = self.attributes.get("max-age")
        if max_age is not None:
            try:
                return int(max_age) <= 0
            except ValueError:
                pass  # a browser ignores a malformed Max-Age
        expires = self.attributes.get("expires")
        if expires:
            try:
                return parsedate_to_datetime(expires).timestamp() < time.time()
            except (TypeError, ValueError, IndexError, OverflowError):
                return False
        return False


def parse_all(lines) -> list[SetCookie]:
    return [c for c in map(SetCookie.parse, lines) if c is not None]
