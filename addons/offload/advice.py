"""Fix advice: for each kind of problem and each framework, the exact change (facts: frameworks.md section 2)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .findings import Finding
from .profiles import HeaderRule, Profile

# The rules whose cause is "the app does not know the request was HTTPS".
SCHEME_RULES = {"secure-cookie-dropped", "https-redirect-loop", "insecure-redirect", "csrf-origin-rejected",
                "server-error-under-frontend", "insecure-absolute-url"}
COOKIE_RULES = {"samesite-none-without-secure", "cookie-prefix-violation", "cookie-not-secure"}


@dataclass(frozen=True)
class Context:
    """What the advice depends on besides the framework."""

    https_header: str  # what tells the app "HTTPS": "X-Forwarded-Proto", "X-ARR-SSL", "Forwarded" or "" (nothing)
    peer: str = ""  # the app's peer in production (e.g. 169.254.129.1), if known
    frontend_fix: str = ""  # what the front end itself can change (from the profile)


# "The app must trust the proxy's X-Forwarded-Proto" (the front end sends it).
_TRUST = {
    "Express": "app.set('trust proxy', 1) (one front end; or 'linklocal'/'uniquelocal'/its CIDR) before the session "
               "middleware, so req.secure follows X-Forwarded-Proto.",
    "Koa": "app.proxy = true, so ctx.secure follows X-Forwarded-Proto.",
    "Fastify": "Fastify({ trustProxy: '<front end CIDR>' }) (or true), so request.protocol follows X-Forwarded-Proto.",
    "Next.js": "Next.js believes X-Forwarded-Proto as sent; make sure exactly one value 'https' reaches it.",
    "Django": "SECURE_PROXY_SSL_HEADER = ('HTTP_X_FORWARDED_PROTO', 'https') in settings.py (only behind a front end "
              "that overwrites or strips the client's copy).",
    "Flask": "from werkzeug.middleware.proxy_fix import ProxyFix; app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, "
             "x_proto=1, x_host=1).",
    "FastAPI/Starlette (uvicorn)": "uvicorn --proxy-headers --forwarded-allow-ips='<front end address or CIDR>' "
                                   "(or FORWARDED_ALLOW_IPS); the default trusts only 127.0.0.1.",
    "gunicorn": "gunicorn --forwarded-allow-ips='<front end address or CIDR>' (or FORWARDED_ALLOW_IPS); the default "
                "trusts only 127.0.0.1,::1. X-Forwarded-Proto: https is in its secure_scheme_headers.",
    "Rails": "config.assume_ssl = true (Rails 7.1+) or let Rack read X-Forwarded-Proto; config.force_ssl then "
             "stops looping.",
    "ASP.NET Core": "app.UseForwardedHeaders() with ForwardedHeaders.XForwardedFor | XForwardedProto and the front end "
                    "in KnownIPNetworks (or ASPNETCORE_FORWARDEDHEADERS_ENABLED=true), before UseHttpsRedirection.",
    "Spring Boot": "server.forward-headers-strategy=native (locally the default is NONE; on Azure it is NATIVE) and "
                   "server.tomcat.remoteip.internal-proxies for the front end's address.",
    "Laravel": "->withMiddleware(fn ($m) => $m->trustProxies(at: '<front end CIDR>')) in bootstrap/app.php "
               "(Laravel 11+; TrustProxies::$proxies before).",
}

# "The front end only says x-arr-ssl": map it to what the framework reads, first thing in the chain.
_MAP_ARR_SSL = {
    "Express": "before the session middleware: app.use((req, res, next) => { if (req.headers['x-arr-ssl'] && "
               "!req.headers['x-forwarded-proto']) req.headers['x-forwarded-proto'] = 'https'; next(); }); with "
               "app.set('trust proxy', 1).",
    "Koa": "app.proxy = true and, first: app.use(async (ctx, next) => { if (ctx.get('x-arr-ssl') && "
           "!ctx.get('x-forwarded-proto')) ctx.req.headers['x-forwarded-proto'] = 'https'; await next(); }).",
    "Fastify": "trustProxy plus an onRequest hook: if (request.headers['x-arr-ssl'] && "
               "!request.headers['x-forwarded-proto']) request.headers['x-forwarded-proto'] = 'https'.",
    "Next.js": "Next.js reads only X-Forwarded-Proto (exact value 'https'): have the front end send it (see below); "
               "there is no Next.js setting for x-arr-ssl.",
    "Django": "a first middleware: if 'HTTP_X_ARR_SSL' in request.META: request.META['HTTP_X_FORWARDED_PROTO'] = "
              "'https', plus SECURE_PROXY_SSL_HEADER = ('HTTP_X_FORWARDED_PROTO', 'https'); x-arr-ssl's value is "
              "certificate text, so SECURE_PROXY_SSL_HEADER cannot match it directly.",
    "Flask": "a WSGI shim before ProxyFix: def app_(environ, start): environ.setdefault('HTTP_X_FORWARDED_PROTO', "
             "'https') if 'HTTP_X_ARR_SSL' in environ else None; return inner(environ, start).",
    "FastAPI/Starlette (uvicorn)": "an ASGI middleware that sets scope['scheme'] = 'https' when an x-arr-ssl header "
                                   "is present (uvicorn's proxy headers read only X-Forwarded-Proto).",
    "gunicorn": "gunicorn's secure_scheme_headers compare exact values and x-arr-ssl carries certificate text: map it "
                "in a WSGI middleware (environ['wsgi.url_scheme'] = 'https' when HTTP_X_ARR_SSL is set).",
    "Rails": "config.assume_ssl = true (Rails 7.1+): the one framework setting made for a front end like this.",
    "ASP.NET Core": "app.Use((ctx, next) => { if (ctx.Request.Headers.ContainsKey(\"X-ARR-SSL\")) "
                    "ctx.Request.Scheme = \"https\"; return next(); }); before UseHttpsRedirection.",
    "Spring Boot": "a servlet filter that wraps the request as secure when X-ARR-SSL is present "
                   "(RemoteIpValve's protocolHeaderHttpsValue cannot match certificate text).",
    "Laravel": "a middleware that calls URL::forceScheme('https') and $request->server->set('HTTPS', 'on') when "
               "the X-ARR-SSL header is present.",
}

# "The front end only sends RFC 7239 Forwarded" (frameworks.md 2: Rack and Spring's FRAMEWORK strategy read it).
_FORWARDED = {
    "Rails": "Rack reads Forwarded: proto=https; check that nothing strips it, and config.assume_ssl = true otherwise.",
    "Spring Boot": "server.forward-headers-strategy=framework (ForwardedHeaderFilter reads Forwarded).",
    "Express": "Express does not read Forwarded: map proto=https to X-Forwarded-Proto in a first middleware, with "
               "app.set('trust proxy', 1).",
    "Django": "Django does not read Forwarded: a first middleware that sets META['HTTP_X_FORWARDED_PROTO'] = "
              "'https' when Forwarded has proto=https, plus SECURE_PROXY_SSL_HEADER.",
}
_GENERIC_FORWARDED = ("the app does not read RFC 7239 Forwarded: map its proto=https to X-Forwarded-Proto in the "
                      "first middleware (and trust it), or have the proxy send X-Forwarded-Proto as well.")

_GENERIC_TRUST = ("trust the front end's X-Forwarded-Proto in the framework's proxy settings (only from the front "
                  "end's address), so the app knows the request was HTTPS.")
_GENERIC_MAP = ("treat a request carrying the front end's x-arr-ssl header as HTTPS (e.g. set X-Forwarded-Proto: "
                "https from it in the first middleware) and trust that header.")

_COOKIE = {
    "Express (express-session)": "session({ cookie: { secure: true, sameSite: 'lax' } }) with app.set('trust proxy', "
                                 "1); secure: 'auto' silently drops Secure when Express does not see HTTPS.",
    "Express (cookie-session)": "cookieSession({ secure: true }) with app.set('trust proxy', 1).",
    "Express": "res.cookie(name, value, { secure: true }) (with app.set('trust proxy', 1)).",
    "Koa": "ctx.cookies.set(name, value, { secure: true }) with app.proxy = true.",
    "Django": "SESSION_COOKIE_SECURE = True and CSRF_COOKIE_SECURE = True in settings.py.",
    "Flask": "app.config.update(SESSION_COOKIE_SECURE=True); response.set_cookie(..., secure=True).",
    "Rails": "config.force_ssl = true (marks cookies Secure) with config.assume_ssl = true behind the front end.",
    "ASP.NET Core": "CookieOptions { Secure = true } / options.Cookie.SecurePolicy = CookieSecurePolicy.Always.",
    "Spring Boot": "server.servlet.session.cookie.secure=true.",
    "Laravel": "'secure' => true in config/session.php (SESSION_SECURE_COOKIE=true).",
}

_LOOPBACK = {
    "FastAPI/Starlette (uvicorn)": "uvicorn --forwarded-allow-ips='{peer}' (or a CIDR such as 169.254.0.0/16; env "
                                   "FORWARDED_ALLOW_IPS): the default 127.0.0.1 is never the peer in production.",
    "gunicorn": "gunicorn --forwarded-allow-ips='{peer}' (env FORWARDED_ALLOW_IPS); the default is 127.0.0.1,::1.",
    "ASP.NET Core": "add the front end's network to ForwardedHeadersOptions.KnownIPNetworks (e.g. 169.254.0.0/16): "
                    "only loopback is known by default.",
    "Express": "app.set('trust proxy', 1) or 'linklocal' (169.254/16) rather than 'loopback'.",
    "Spring Boot": "server.tomcat.remoteip.internal-proxies must match {peer}.",
    "Laravel": "trustProxies(at: '{peer}') (or its CIDR).",
}
_GENERIC_LOOPBACK = ("trust forwarded headers from the front end's real address ({peer}), not only from loopback: "
                     "locally the proxy is 127.0.0.1, in production it is not.")

_HOST_LEAK = ("build absolute URLs from the request's public host (Host, or X-Forwarded-Host from a trusted front end) "
              "instead of a configured backend address; Django: USE_X_FORWARDED_HOST behind a front end that sets it; "
              "Express: req.get('host') with trust proxy.")

_IP_PORT = {
    "Express": "req.ip keeps the port ('203.0.113.7:50123'): rate limiters and logs see a new client per connection; "
               "normalise it, e.g. express-rate-limit keyGenerator: (req) => req.ip.replace(/:\\d+$/, '').",
    "Koa": "ctx.ip keeps the port: strip ':port' before rate limiting or logging (ctx.ip.replace(/:\\d+$/, '')).",
    "Fastify": "request.ip keeps the port: strip ':port' in an onRequest hook before rate limiting.",
    "Flask": "ProxyFix copies 'ip:port' into REMOTE_ADDR: strip the port in a WSGI shim before ProxyFix.",
}


_SPOOF = {
    "Express": "set 'trust proxy' to the front end's address, CIDR or hop count (e.g. 1, 'linklocal'), never true.",
    "Koa": "app.proxy = true trusts every peer: strip X-Forwarded-* at the front end, or check the peer in a "
           "middleware before trusting.",
    "Fastify": "trustProxy: the front end's CIDR, not true.",
    "Next.js": "Next.js believes X-Forwarded-* from anyone: make the front end overwrite them, and do not expose "
               "the app directly.",
    "Django": "SECURE_PROXY_SSL_HEADER and USE_X_FORWARDED_HOST trust every peer: use them only behind a front end "
              "that overwrites those headers, and never expose the app directly.",
    "Flask": "ProxyFix trusts the last N values with no peer check: x_for/x_proto/x_host must equal the number of "
             "proxies in front, and the app must not be reachable directly.",
    "FastAPI/Starlette (uvicorn)": "--forwarded-allow-ips: the front end's address or CIDR, never '*'.",
    "gunicorn": "--forwarded-allow-ips: the front end's address or CIDR, never '*'.",
    "Rails": "Rack takes the scheme from X-Forwarded-Proto from anyone: keep the app behind a front end that "
             "overwrites it; set config.action_dispatch.trusted_proxies for client IPs.",
    "ASP.NET Core": "ForwardedHeadersOptions.KnownIPNetworks/KnownProxies: only the front end's network "
                    "(ASPNETCORE_FORWARDEDHEADERS_ENABLED=true clears them and trusts everyone).",
    "Spring Boot": "server.tomcat.remoteip.internal-proxies: only the front end's addresses; the FRAMEWORK "
                   "strategy trusts everyone.",
    "Laravel": "trustProxies(at: '<front end CIDR>') rather than '*'.",
}
_GENERIC_SPOOF = ("trust X-Forwarded-* only from the front end's address; a client that reaches the app without it "
                  "must not be believed.")


def for_finding(rule: str, framework: str, ctx: Context) -> str:
    """The fix for one finding; framework "" gives generic advice."""
    base = framework.split(" (")[0] if framework.startswith("Express") else framework
    if rule in SCHEME_RULES:
        trust = _TRUST.get(base, _GENERIC_TRUST)
        if ctx.https_header == "X-Forwarded-Proto":
            return trust
        if ctx.https_header == "X-ARR-SSL":
            text = _MAP_ARR_SSL.get(base, _GENERIC_MAP)
        elif ctx.https_header == "Forwarded":
            text = _FORWARDED.get(base, _GENERIC_FORWARDED)
        else:
            text = "nothing in the forwarded request says HTTPS; make the front end send X-Forwarded-Proto, then " + trust
        return text + (f" Or at the front end: {ctx.frontend_fix}" if ctx.frontend_fix else "")
    if rule in COOKIE_RULES:
        text = _COOKIE.get(framework) or _COOKIE.get(base) or "add Secure to the cookie (and SameSite=Lax or None)."
        if rule == "cookie-prefix-violation":
            text = "__Secure- cookies need Secure; __Host- cookies need Secure, Path=/ and no Domain; " + text
        return text
    if rule == "trust-depends-on-loopback":
        return _LOOPBACK.get(base, _GENERIC_LOOPBACK).format(peer=ctx.peer or "the front end's address")
    if rule == "backend-host-leak":
        return _HOST_LEAK
    if rule == "trusts-spoofed-forwarding":
        return _SPOOF.get(base, _GENERIC_SPOOF)
    if rule == "client-ip-port":
        return _IP_PORT.get(base, "strip the ':port' from X-Forwarded-For entries before using them as client IPs.")
    return ""


def keeps_port_in_client_ip(framework: str) -> bool:
    """Frameworks that put X-Forwarded-For's 'ip:port' into their client IP unparsed (frameworks.md 2.1-2.3, 2.6)."""
    base = framework.split(" (")[0]
    return base in _IP_PORT


def context_for(profile: Profile, rules: tuple[HeaderRule, ...], peer: str = "") -> Context:
    """What the fixes depend on, for a profile's request rules (after frontend_xfp)."""
    return Context(https_signal(rules), peer or profile.peer, profile.fix)


def https_signal(rules: tuple[HeaderRule, ...]) -> str:
    """The header that tells the app a request was HTTPS, in the order frameworks prefer them."""
    for name in ("x-forwarded-proto", "x-arr-ssl", "forwarded"):
        found = [r for r in rules if r.key == name]
        if found and found[-1].client != "strip":
            return found[-1].name if name != "x-arr-ssl" else "X-ARR-SSL"
    return ""


def complete(finding: Finding, frontend: str, framework: str, ctx: Context) -> Finding:
    """A rule's finding with its front end, the framework guessed and the fix."""
    return replace(finding, frontend=frontend, framework=framework,
                   advice=for_finding(finding.rule, framework, ctx))


def ip_port_finding(profile: Profile, framework: str, xff: str) -> Finding | None:
    """client-ip-port: the front end writes ip:port into X-Forwarded-For and the framework keeps the port."""
    if not profile.xff_has_port or not keeps_port_in_client_ip(framework):
        return None
    return Finding("client-ip-port", "*", "*", framework,
                   f"{profile.name} sends X-Forwarded-For as ip:port and {framework} keeps the port in its client IP.",
                   evidence=f"X-Forwarded-For: {xff}")
