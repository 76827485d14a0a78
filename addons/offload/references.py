"""The reference requests a comparison sends besides the request itself: the same request as a correctly configured
deployment forwards it, and as a plain-HTTP deployment (no front end) would send it."""

from __future__ import annotations

from collections.abc import Iterable

from .reference import variant

Headers = list[tuple[str, str]]

# What a front end adds to say where a request came from; a plain-HTTP deployment sends none of them.
FORWARDING = frozenset({"forwarded", "x-arr-ssl", "x-real-ip", "x-client-ip", "x-client-port", "x-original-host",
                        "x-original-url", "x-original-proto", "front-end-https", "x-url-scheme", "x-scheme",
                        "disguised-host", "x-arr-log-id", "client-ip", "x-waws-unencoded-url", "x-appservice-proto",
                        "x-site-deployment-id", "was-default-hostname", "x-forwarded-tlsversion"})


def correct(headers: Headers, public_host: str) -> Headers | None:
    """The request as a correctly configured deployment hands it to the app: the public Host, X-Forwarded-Proto:
    https and X-Forwarded-Host: the public host, the profile's other headers as they are. None when the front end
    already sends exactly that (nothing to compare)."""
    want = {"Host": public_host, "X-Forwarded-Proto": "https", "X-Forwarded-Host": public_host}
    if all(_values(headers, name) == [value] for name, value in want.items()):
        return None
    return variant(headers, want)


def plain(headers: Headers, public_host: str, added: Iterable[str] = ()) -> Headers:
    """The request as a plain-HTTP deployment would send it: no forwarded headers (neither the well-known ones nor
    those the profile adds), the public Host, and a browser's Origin and Referer for http:// instead of https://."""
    drop = FORWARDING | {name.lower() for name in added}
    out = [(k, v) for k, v in headers
           if not (k.lower() in drop or k.lower().startswith("x-forwarded-") or k.lower() == "host")]
    secure, insecure = f"https://{public_host}", f"http://{public_host}"
    out = [(k, insecure + v[len(secure):] if k.lower() in ("origin", "referer") and _at(v, secure) else v)
           for k, v in out]
    return [("Host", public_host)] + out


def _values(headers: Headers, name: str) -> list[str]:
    name = name.lower()
    return [v for k, v in headers if k.lower() == name]


def _at(value: str, origin: str) -> bool:
    return value.lower() == origin.lower() or value.lower().startswith(origin.lower() + "/")
