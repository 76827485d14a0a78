"""Framework recognition: which framework (or well-known app) answered, from evidence gathered over the whole app.

Each sign is one thing a response can show (a header value, a cookie name, a body marker) with a weight: 3 when only
that framework produces it, 2 when it is typical but another stack could show it, 1 when it is shared (a cookie named
`session`). A name is given only when the signs seen for it add up to NAMED_AT, so no single weak or medium sign
names anything. Stacks are layered: a well-known app over the framework it is built with, a framework over the one it
extends (NestJS over Express), over the server that hosts it (Django over gunicorn, Next.js over Node): the highest
layer that is sure wins. Evidence is kept per app, not per route, so one run names one framework.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .exchange import Exchange

NAMED_AT = 3

# Layers, highest wins when sure.
SERVER, BASE, FRAMEWORK, APP = 0, 1, 2, 3


@dataclass(frozen=True)
class Sign:
    name: str  # the framework or app it points at
    where: str  # "header:<name>", "cookie", "cookie-value:<name>", "body", "body-error"
    pattern: re.Pattern
    weight: int
    variant: str = ""  # e.g. "express-session": shown in the name, "Express (express-session)"


def _s(name: str, where: str, pattern: str, weight: int, variant: str = "", flags: int = 0) -> Sign:
    return Sign(name, where, re.compile(pattern, flags), weight, variant)


# Layer of every name a sign can give.
LAYER = {
    "gunicorn": SERVER, "Puma": SERVER, "Node.js": SERVER,
    "Express": BASE, "Koa": BASE, "Fastify": BASE, "hapi": BASE, "FastAPI/Starlette (uvicorn)": BASE,
    "Tornado": BASE, "ASP.NET Core": BASE, "Spring Boot": BASE, "Go net/http": BASE, "Sinatra/Rack": BASE,
    "Symfony": BASE,
    "NestJS": FRAMEWORK, "Next.js": FRAMEWORK, "Nuxt": FRAMEWORK, "SvelteKit": FRAMEWORK, "Remix": FRAMEWORK,
    "Django": FRAMEWORK, "Flask": FRAMEWORK, "Rails": FRAMEWORK, "Laravel": FRAMEWORK, "Phoenix": FRAMEWORK,
    "Datasette": APP, "Jupyter Server": APP, "Grafana": APP, "Gitea": APP, "Verdaccio": APP, "WordPress": APP,
    "GitLab": APP, "Nextcloud": APP, "Keycloak": APP, "Mattermost": APP,
}

# Sources: the frameworks' own code (named per sign, checked against running apps); weights: 3 only this stack
# shows it, 2 typical but shared, 1 common.
SIGNS: tuple[Sign, ...] = (
    # Node
    _s("Express", "header:x-powered-by", r"^Express\b", 3),  # express/lib/application.js: x-powered-by
    _s("Express", "cookie", r"^connect\.sid$", 3, "express-session"),  # express-session default name
    _s("Express", "cookie", r"^(session|express:sess)\.sig$", 3, "cookie-session"),  # cookie-session signature
    _s("Express", "body-error", r"<pre>Cannot (GET|POST|HEAD|PUT|DELETE|PATCH|OPTIONS) /", 2),  # finalhandler
    _s("NestJS", "body-error", r'^\{"message":"Cannot (GET|POST|HEAD|PUT|DELETE|PATCH|OPTIONS) [^"]*",'
                               r'"error":"Not Found","statusCode":404\}$', 3),  # @nestjs/core RouterExplorer 404
    _s("Koa", "cookie", r"^koa[.:]sess(\.sig)?$", 3),  # koa-session default key
    _s("Koa", "body-error", r"Cannot send secure cookie over unencrypted connection", 3),  # cookies/index.js
    _s("Fastify", "body-error", r'"message":"Route (GET|POST|HEAD|PUT|DELETE|PATCH|OPTIONS):[^"]* not found"', 3),
    _s("Fastify", "cookie", r"^sessionId$", 2),  # @fastify/session default cookieName
    _s("Fastify", "header:keep-alive", r"^timeout=72$", 2),  # keepAliveTimeout 72000 ms (fastify.js)
    _s("hapi", "cookie", r"^crumb$", 2),  # @hapi/crumb
    _s("hapi", "body-error", r'^\{"statusCode":404,"error":"Not Found","message":"Not Found"\}$', 2),  # @hapi/boom
    # statehood writes Secure/HttpOnly/SameSite before Path (statehood/lib/index.js); hapi's default cache-control
    _s("hapi", "header:set-cookie", r"; HttpOnly; SameSite=(Strict|Lax|None); Path=", 1),
    _s("hapi", "header:cache-control", r"^no-cache$", 1),
    _s("Next.js", "header:x-powered-by", r"^Next\.js\b", 3),  # next/dist/server: poweredByHeader
    _s("Next.js", "body", r"/_next/static/|__NEXT_DATA__|self\.__next_f", 3),
    _s("Next.js", "header:x-nextjs-cache", r".", 3),
    _s("Next.js", "header:x-nextjs-prerender", r".", 3),
    _s("Next.js", "header:vary", r"next-router-state-tree", 3),  # App Router
    _s("Nuxt", "header:x-powered-by", r"^Nuxt\b", 3),  # nitro renderer
    _s("Nuxt", "body", r"__NUXT__|/_nuxt/", 3),
    _s("SvelteKit", "header:x-sveltekit-page", r"^true$", 3),  # kit runtime/server/page/render.js
    _s("SvelteKit", "body", r"__sveltekit_|/_app/immutable/|data-sveltekit-", 3),
    _s("SvelteKit", "body-error", r"Cross-site (POST|PUT|PATCH|DELETE) form submissions are forbidden", 3),
    _s("Remix", "body", r"__remixContext|__reactRouterContext", 3),
    # Python
    _s("Django", "cookie", r"^sessionid$", 3),  # django/conf/global_settings.py SESSION_COOKIE_NAME
    _s("Django", "cookie", r"^csrftoken$", 2),  # CSRF_COOKIE_NAME; starlette-csrf's default too
    _s("Django", "body-error", r"The requested resource was not found on this server\.", 3),  # views/defaults.py
    _s("Django", "body", r'name="csrfmiddlewaretoken"', 3),  # django/middleware/csrf.py
    _s("Django", "body-error", r"Origin checking failed|Referer checking failed|CSRF verification failed", 3),
    _s("Django", "header:server", r"^WSGIServer/.* CPython", 2),  # django runserver (wsgiref)
    # SecurityMiddleware's defaults (SECURE_REFERRER_POLICY, SECURE_CROSS_ORIGIN_OPENER_POLICY: django/conf/
    # global_settings.py); each alone is common, together with another sign they point at Django.
    _s("Django", "header:referrer-policy", r"^same-origin$", 1),
    _s("Django", "header:cross-origin-opener-policy", r"^same-origin$", 1),
    _s("Flask", "header:server", r"^Werkzeug/", 2),  # werkzeug/serving.py: the development server
    _s("Flask", "cookie", r"^session$", 1),
    _s("Flask", "body-error", r"The requested URL was not found on the server\.", 2),  # werkzeug NotFound
    # flask/sessions.py SecureCookieSessionInterface; Starlette's SessionMiddleware signs with itsdangerous too
    _s("Flask", "cookie-value:session", r"^itsdangerous$", 1),
    _s("gunicorn", "header:server", r"^gunicorn\b", 3),
    _s("FastAPI/Starlette (uvicorn)", "header:server", r"^uvicorn\b", 3),
    _s("FastAPI/Starlette (uvicorn)", "body-error", r'^\{"detail":"Not Found"\}$', 3),  # FastAPI's 404
    _s("Tornado", "header:server", r"^TornadoServer/", 3),  # tornado/web.py: RequestHandler.clear()
    _s("Tornado", "body-error", r"^<html><title>\d{3}: [^<]*</title>", 3),  # web.py write_error
    _s("Tornado", "cookie", r"^_xsrf$", 2),  # xsrf_cookies
    _s("Datasette", "body", r'Powered by <a href="https://datasette\.io/"', 3),  # datasette/templates/_footer.html
    _s("Datasette", "header:link", r'rel="alternate"; type="application/json\+datasette"', 3),
    _s("Jupyter Server", "body", r'jupyter-config-data|"baseUrl":\s*"/"', 2),
    _s("Jupyter Server", "cookie", r"^_xsrf$", 1),
    _s("Jupyter Server", "cookie", r"^username-[\w-]+$", 2),
    # Ruby
    _s("Rails", "body", r'<meta name="csrf-param" content="authenticity_token"', 3),  # csrf_meta_tags
    _s("Rails", "cookie", r"^_[\w-]+_session$", 2),  # session_store default key: _<app>_session
    _s("Rails", "header:x-runtime", r"^\d+\.\d+$", 2),  # Rack::Runtime, in Rails' default middleware
    _s("Rails", "body-error", r"rails-default-error-page|The change you wanted was rejected", 3),  # public/4xx.html
    _s("Puma", "header:server", r"^Puma\b", 3),
    _s("Sinatra/Rack", "header:x-cascade", r"^pass$", 3),
    _s("Sinatra/Rack", "cookie", r"^rack\.session$", 3),
    # PHP, JVM, .NET, Elixir, Go
    _s("Laravel", "cookie", r"^laravel_session$", 3),
    _s("Laravel", "cookie", r"^XSRF-TOKEN$", 1),
    _s("Laravel", "body-error", r"Page Expired|CSRF token mismatch", 2),
    _s("Symfony", "header:x-debug-token", r".", 3),
    _s("Symfony", "cookie", r"^sf_redirect$", 3),
    _s("Symfony", "body-error", r"Oops! An Error Occurred", 3),
    _s("Spring Boot", "cookie", r"^JSESSIONID$", 2),
    _s("Spring Boot", "body-error", r"Whitelabel Error Page", 3),
    _s("ASP.NET Core", "cookie", r"^\.AspNetCore\.", 3),
    _s("ASP.NET Core", "header:server", r"^Kestrel\b", 3),
    _s("ASP.NET Core", "header:x-powered-by", r"^ASP\.NET\b", 2),
    _s("ASP.NET Core", "body", r'name="__RequestVerificationToken"', 3),
    _s("Phoenix", "cookie", r"^_[\w-]+_key$", 1),
    _s("Phoenix", "body", r'data-phx-(main|session|static)|phx-socket|phx-track-static', 3),
    _s("Go net/http", "body-error", r"^404 page not found\n?$", 3),
    _s("Go net/http", "cookie", r"^_gorilla_csrf$", 3),
    _s("Grafana", "cookie", r"^grafana_session$", 3),
    _s("Gitea", "cookie", r"^i_like_gitea$", 3),
    _s("WordPress", "body", r'<meta name="generator" content="WordPress', 3),
    _s("WordPress", "header:link", r'rel="https://api\.w\.org/"', 3),
    _s("GitLab", "cookie", r"^_gitlab_session$", 3),
    _s("Nextcloud", "cookie", r"^(oc_sessionPassphrase|nc_sameSiteCookie\w*|__Host-nc_sameSiteCookie\w*)$", 3),
    _s("Keycloak", "cookie", r"^(AUTH_SESSION_ID|KC_RESTART|KEYCLOAK_\w+)$", 3),
    _s("Mattermost", "cookie", r"^(MMAUTHTOKEN|MMCSRF)$", 3),
)

# Header names signs read (besides Set-Cookie): the glue decodes these for the rules and the recognizer.
HEADERS = frozenset(s.where.split(":", 1)[1] for s in SIGNS if s.where.startswith("header:"))
_BY_WHERE: dict[str, tuple[Sign, ...]] = {}
for _sign in SIGNS:
    _BY_WHERE[_sign.where] = _BY_WHERE.get(_sign.where, ()) + (_sign,)


def signs_in(ex: Exchange) -> dict[Sign, str]:
    """Every sign one answer shows, with what showed it ("cookie connect.sid", "Server: gunicorn"...)."""
    found: dict[Sign, str] = {}
    for where, signs in _BY_WHERE.items():
        kind, _, name = where.partition(":")
        if kind == "header":
            for v in ex.header_all(name):
                found.update((s, f"{name}: {v[:40]}") for s in signs if s.pattern.search(v))
        elif kind in ("cookie", "cookie-value"):
            for c in ex.cookies:
                text = c.name if kind == "cookie" else c.shape if c.name == name else ""
                found.update((s, f"cookie {c.name}") for s in signs if text and s.pattern.search(text))
        elif kind == "body" and ex.body:
            found.update((s, f"page {m.group(0)[:40]!r}") for s in signs if (m := s.pattern.search(ex.body)))
        elif kind == "body-error" and ex.body and ex.status >= 400:
            found.update((s, f"{ex.status} page {m.group(0)[:40]!r}") for s in signs
                         if (m := s.pattern.search(ex.body[:4096])))
    return found


@dataclass
class Recognizer:
    """The evidence seen so far for one app, and the name it supports."""

    seen: dict[Sign, str] = field(default_factory=dict)  # each sign seen, with what first showed it

    def see(self, exchanges: Iterable[Exchange | None]) -> None:
        for ex in exchanges:
            if ex is not None:
                for sign, shown in signs_in(ex).items():
                    self.seen.setdefault(sign, shown)

    def scores(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.seen:
            out[s.name] = out.get(s.name, 0) + s.weight
        return out

    @property
    def name(self) -> str:
        """The recognised framework ("" when unsure), with the variant its signs show (express-session...)."""
        sure = {n: score for n, score in self.scores().items() if score >= NAMED_AT}
        if not sure:
            return ""
        top = max(LAYER[n] for n in sure)
        best = sorted(((score, n) for n, score in sure.items() if LAYER[n] == top), reverse=True)
        if len(best) > 1 and best[0][0] == best[1][0]:
            return ""  # two stacks equally sure: do not guess
        name = best[0][1]
        variants = sorted({s.variant for s in self.seen if s.name == name and s.variant})
        return f"{name} ({variants[0]})" if len(variants) == 1 else name

    def explain(self) -> str:
        """One line for the summary: the name and the evidence for it, or why there is none."""
        name = self.name
        if name:
            base = name.split(" (")[0]
            evidence = [shown for s, shown in self.seen.items() if s.name == base]
            return f"framework: {name} (from {', '.join(evidence[:4])}); its fixes are given"
        if not self.seen:
            return "framework: not recognised (no sign of one in the answers); generic fixes are given"
        scores = self.scores()
        guesses = ", ".join(f"{n} {scores[n]}/{NAMED_AT}" for n in sorted(scores, key=scores.get, reverse=True)[:3])
        return f"framework: not recognised (too little evidence: {guesses}); generic fixes are given"


def recognize(*exchanges: Exchange | None) -> str:
    """The framework these answers show on their own ("" when unsure)."""
    r = Recognizer()
    r.see(exchanges)
    return r.name
