"""Trust counting: does the app trust as many proxy hops as its front end (or chain of front ends) has?

An endpoint of the app that shows its idea of the client (frontend_echo=/path: JSON with an "ip" key, or the bare
address) is asked once, with the request the emulation forwards for a known client that also forged an
X-Forwarded-For entry. The address the app names says how many hops it trusts: the client's (right), a hop's or its
own peer's (too few), or the forged one (too many: anyone can pick their IP).
"""

from __future__ import annotations

import ipaddress
import json
import re

from .findings import Finding
from .forward import Client, Incoming, forward, hop_address
from .profiles import Profile

CLIENT = Client("203.0.113.7", 50123, "1.3")  # TEST-NET-3 (RFC 5737): never contacted
FORGED = "198.51.100.66"  # what the client forges in X-Forwarded-For (TEST-NET-2)
# JSON keys an echo endpoint names the client's address with (case and separators ignored).
IP_KEYS = ("ip", "clientip", "remoteaddr", "remoteip", "client", "realip", "requestip", "addr", "address")


def echo_headers(profile: Profile, rules, host: str, path: str, hop_ips: tuple[str, ...] = ()
                 ) -> list[tuple[str, str]]:
    """The request the emulation forwards for the known client with a forged X-Forwarded-For of its own."""
    incoming = Incoming("https", host, path, [("Host", host), ("X-Forwarded-For", FORGED)], CLIENT)
    fwd = forward(profile, incoming, rules, None, hop_ips)
    return [(k, fwd.host if k.lower() == "host" else v) for k, v in fwd.headers]


def seen_address(body: bytes) -> str:
    """The client address an echo endpoint's answer names ('' if none): a JSON key of IP_KEYS, or the bare text."""
    text = body[:65536].decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return _address(text)
    stack = [data]
    while stack:
        item = stack.pop(0)
        if isinstance(item, dict):
            for key, value in item.items():
                if re.sub(r"[^a-z]", "", str(key).lower()) in IP_KEYS and isinstance(value, str) and _address(value):
                    return _address(value)
            stack += [v for v in item.values() if isinstance(v, (dict, list))]
        elif isinstance(item, list):
            stack += [v for v in item if isinstance(v, (dict, list))]
    return ""


def _address(text: str) -> str:
    """An IP address, its ':port', brackets and IPv4-mapped prefix taken off; '' if the text is none."""
    text = text.strip().strip('"')
    m = re.fullmatch(r"\[?([0-9A-Fa-f:.]+?)\]?(?::\d{1,5})?", text)
    for candidate in ([m.group(1)] if m else []) + [text]:
        try:
            ip = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        mapped = getattr(ip, "ipv4_mapped", None)
        return str(mapped or ip)
    return ""


def forwarded_entries(headers: list[tuple[str, str]]) -> list[str]:
    """X-Forwarded-For's entries as the app receives them, addresses only."""
    values = [v for k, v in headers if k.lower() == "x-forwarded-for"]
    return [_address(e) or e.strip() for v in values for e in v.split(",") if e.strip()]


def judge(seen: str, profile: Profile, headers: list[tuple[str, str]], peer: str, hop_ips: tuple[str, ...] = ()
          ) -> Finding | None:
    """trusted-hops-mismatch, or None when the app names the client (or nothing that can be told apart)."""
    entries = forwarded_entries(headers)
    if not seen or seen == CLIENT.ip or CLIENT.ip not in entries:
        return None
    hops = len(entries) - entries.index(CLIENT.ip)  # the entries from the client to the last hop: trust this many
    front = " -> ".join(h.name for h in profile.hops) if profile.hops else profile.name
    evidence = f"X-Forwarded-For: {', '.join(entries)}; the app's client IP: {seen}"
    if seen == FORGED or (seen in entries and entries.index(seen) < entries.index(CLIENT.ip)):
        return Finding("trusted-hops-mismatch", "*", "*", "too many hops",
                       f"behind {front} the app takes {seen}, an address the client itself wrote in "
                       f"X-Forwarded-For, for the client's: it trusts more than the {hops} hop(s) of X-Forwarded-For "
                       "the front end writes, so anyone picks their own IP (rate limits, audit logs, allow lists).",
                       evidence=evidence, cause=str(hops))
    addresses = {hop_address(profile, i, hop_ips) for i in range(len(profile.hops) - 1)} if profile.hops else set()
    if seen in entries or seen in addresses or seen == peer or ipaddress.ip_address(seen).is_loopback:
        return Finding("trusted-hops-mismatch", "*", "*", "too few hops",
                       f"behind {front} the app takes {seen}, a front end's address, for the client's: it trusts "
                       f"fewer than the {hops} hop(s) of X-Forwarded-For the chain writes, so every user seems to "
                       "come from the same address.", evidence=evidence, cause=str(hops))
    return None


# The setting that trusts exactly N hops of X-Forwarded-For, per framework.
_HOPS = {
    "Express": "app.set('trust proxy', {n}) ({n} hops: the client is X-Forwarded-For entry {n} counted from the "
               "right; https://expressjs.com/en/guide/behind-proxies.html).",
    "NestJS": "app.set('trust proxy', {n}) on the Express adapter.",
    "Koa": "app.proxy = true and app.maxIpsCount = {n} (https://koajs.com/#settings).",
    "Flask": "ProxyFix(app.wsgi_app, x_for={n}, x_proto=1, x_host=1) "
             "(https://werkzeug.palletsprojects.com/en/stable/middleware/proxy_fix/).",
    "Django": "Django has no proxy setting for the client IP (REMOTE_ADDR is the peer): use django-ipware or read "
              "X-Forwarded-For entry {n} counted from the right in a middleware.",
    "ASP.NET Core": "ForwardedHeadersOptions.ForwardLimit = {n}, with every hop's network in KnownNetworks "
                    "(https://learn.microsoft.com/aspnet/core/host-and-deploy/proxy-load-balancer).",
    "FastAPI/Starlette (uvicorn)": "uvicorn --proxy-headers --forwarded-allow-ips='<the peer and every hop's "
                                   "address>': uvicorn takes the first untrusted entry from the right.",
    "Rails": "config.action_dispatch.trusted_proxies = ActionDispatch::RemoteIp::TRUSTED_PROXIES + [<every hop's "
             "network>] (https://guides.rubyonrails.org/configuring.html#config-action-dispatch-trusted-proxies).",
    "Spring Boot": "server.tomcat.remoteip.internal-proxies = <a pattern matching every hop's address>.",
}
_GENERIC_HOPS = ("trust exactly {n} hop(s) of X-Forwarded-For (the client is entry {n} counted from the right), or "
                 "list every hop's address as a trusted proxy.")


def advice_for(framework: str, hops: int) -> str:
    base = framework.split(" (")[0] if framework.startswith("Express") else framework
    return _HOPS.get(base, _GENERIC_HOPS).format(n=hops)
