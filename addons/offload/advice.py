"""Fix advice: for each kind of problem and each framework, the exact change (facts: frameworks.md section 2)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .findings import Finding
from .profiles import HeaderRule, Profile

# The rules whose cause is "the app does not know the request was HTTPS".
SCHEME_RULES = {"secure-cookie-dropped", "https-redirect-loop", "insecure-redirect", "csrf-origin-rejected",
                "server-error-under-frontend", "insecure-absolute-url", "rejected-under-frontend",
                "secure-attribute-dropped"}
COOKIE_RULES = {"samesite-none-without-secure", "cookie-prefix-violation", "cookie-not-secure"}


@dataclass(frozen=True)
class Context:
    """What the advice depends on besides the framework."""

    https_header: str  # what tells the app "HTTPS": "X-Forwarded-Proto", "X-ARR-SSL", "Forwarded" or "" (nothing)
    peer: str = ""  # the app's peer in production (e.g. 169.254.129.1), if known
    frontend_fix: str = ""  # what the front end itself can change (from the profile)
    host_rewritten: bool = False  # the app gets the front end's upstream address in Host, not the public host
    origin_host: bool = False  # the app gets the origin's host name in Host (an origin host override)
    host_header: str = "X-Forwarded-Host"  # where the front end puts the public host
    frontend: str = ""  # the front end's name (a chain's innermost), for its own host fix


# "The app must trust the proxy's X-Forwarded-Proto" (the front end sends it).
_TRUST = {
    "Express": "app.set('trust proxy', 1) (one front end; or 'linklocal'/'uniquelocal'/its CIDR) before the session "
               "middleware, so req.secure follows X-Forwarded-Proto.",
    "NestJS": "app.set('trust proxy', 1) on the NestExpressApplication (NestFactory.create<NestExpressApplication>"
              "(AppModule)) before app.use(session(...)) (https://docs.nestjs.com/security/rate-limiting#proxies); "
              "with the Fastify adapter: new FastifyAdapter({ trustProxy: true }).",
    "Koa": "app.proxy = true, so ctx.secure follows X-Forwarded-Proto.",
    "Fastify": "Fastify({ trustProxy: true }) (or the front end's address or CIDR), so request.protocol follows "
               "X-Forwarded-Proto; a hop count such as 1 trusts nothing in Fastify 5 "
               "(https://fastify.dev/docs/latest/Reference/Server/#trustproxy).",
    "hapi": "hapi reads no X-Forwarded-* and has no trust setting: rebuild the URL in an onRequest extension "
            "(request.setUrl, https://hapi.dev/api/#-requestseturlurl-stripTrailingSlash): "
            "server.ext('onRequest', (request, h) => { const proto = request.headers['x-forwarded-proto']; if (proto) "
            "{ const host = request.headers['x-forwarded-host'] || request.info.host; request.setUrl(`${proto.split("
            "',')[0].trim()}://${host}${request.url.pathname}${request.url.search}`); } return h.continue; }); only "
            "behind a front end that overwrites X-Forwarded-Proto.",
    "SvelteKit": "adapter-node: PROTOCOL_HEADER=x-forwarded-proto HOST_HEADER=x-forwarded-host in the server's "
                 "environment (or ORIGIN=https://<public host>), so url.origin and the CSRF check see the public "
                 "https origin (https://svelte.dev/docs/kit/adapter-node#Environment-variables).",
    "Tornado": "HTTPServer(app, xheaders=True) (or app.listen(port, xheaders=True)): Tornado then takes the scheme from "
               "X-Forwarded-Proto/X-Scheme, from any peer (https://www.tornadoweb.org/en/stable/guide/running.html"
               "#running-behind-a-load-balancer).",
    "Symfony": "framework.trusted_proxies: '<front end CIDR>' and trusted_headers: ['x-forwarded-for', "
               "'x-forwarded-proto', 'x-forwarded-host'] in config/packages/framework.yaml "
               "(https://symfony.com/doc/current/deployment/proxies.html).",
    "Phoenix": "plug Plug.RewriteOn, [:x_forwarded_proto, :x_forwarded_host] early in the endpoint (only behind a "
               "front end that overwrites them), and url: [scheme: \"https\", port: 443] in the endpoint config.",
    "Sinatra/Rack": "Rack takes X-Forwarded-Proto as sent (first value, exactly 'https'): check that the front end's "
                    "value reaches the app unchanged.",
    "Next.js": "Next.js believes X-Forwarded-Proto as sent; make sure exactly one value 'https' reaches it.",
    "Django": "SECURE_PROXY_SSL_HEADER = ('HTTP_X_FORWARDED_PROTO', 'https') in settings.py (only behind a front end "
              "that overwrites or strips the client's copy).",
    "Flask": "from werkzeug.middleware.proxy_fix import ProxyFix; app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, "
             "x_proto=1, x_host=1).",
    "FastAPI/Starlette (uvicorn)": "uvicorn --proxy-headers --forwarded-allow-ips='<front end address or CIDR>' "
                                   "(or FORWARDED_ALLOW_IPS); the default trusts only 127.0.0.1.",
    "gunicorn": "gunicorn --forwarded-allow-ips='<front end address or CIDR>' (or FORWARDED_ALLOW_IPS); the default "
                "trusts only 127.0.0.1,::1. X-Forwarded-Proto: https is in its secure_scheme_headers.",
    "Rails": "Rack takes X-Forwarded-Proto as sent, with no setting (first value, exactly 'https'): check that the "
             "front end's value reaches the app unchanged; config.force_ssl = true then stops looping.",
    "ASP.NET Core": "app.UseForwardedHeaders() with ForwardedHeaders.XForwardedFor | XForwardedProto and the front end "
                    "in KnownIPNetworks (or ASPNETCORE_FORWARDEDHEADERS_ENABLED=true), before UseHttpsRedirection; "
                    "since 8.0.17 and 9.0.6 headers from a proxy outside KnownIPNetworks/KnownProxies are ignored "
                    "even with only XForwardedProto enabled (https://learn.microsoft.com/dotnet/core/compatibility/"
                    "aspnet-core/8.0/forwarded-headers-unknown-proxies).",
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
    "NestJS": "before app.use(session(...)): app.use((req, res, next) => { if (req.headers['x-arr-ssl'] && "
              "!req.headers['x-forwarded-proto']) req.headers['x-forwarded-proto'] = 'https'; next(); }); with "
              "app.set('trust proxy', 1) on the NestExpressApplication.",
    "Koa": "app.proxy = true and, first: app.use(async (ctx, next) => { if (ctx.get('x-arr-ssl') && "
           "!ctx.get('x-forwarded-proto')) ctx.req.headers['x-forwarded-proto'] = 'https'; await next(); }).",
    "Fastify": "Fastify({ trustProxy: true }) plus, first: fastify.addHook('onRequest', async (request) => { if "
               "(request.headers['x-arr-ssl'] && !request.headers['x-forwarded-proto']) "
               "request.raw.headers['x-forwarded-proto'] = 'https'; }).",
    "hapi": "an onRequest extension that rebuilds the URL as https when X-ARR-SSL is present: server.ext('onRequest', "
            "(request, h) => { if (request.headers['x-arr-ssl']) request.setUrl(`https://${request.info.host}"
            "${request.url.pathname}${request.url.search}`); return h.continue; }).",
    "SvelteKit": "adapter-node cannot read X-ARR-SSL: set ORIGIN=https://<public host> in the server's environment "
                 "(https://svelte.dev/docs/kit/adapter-node#Environment-variables).",
    "Tornado": "HTTPServer(app, protocol='https'): Tornado's setting for a proxy that sends none of the headers "
               "xheaders reads; every request then counts as https "
               "(https://www.tornadoweb.org/en/stable/httpserver.html).",
    "Next.js": "Next.js reads only X-Forwarded-Proto (exact value 'https'): have the front end send it (see below); "
               "there is no Next.js setting for x-arr-ssl.",
    "Django": "a first middleware: if 'HTTP_X_ARR_SSL' in request.META: request.META['HTTP_X_FORWARDED_PROTO'] = "
              "'https', plus SECURE_PROXY_SSL_HEADER = ('HTTP_X_FORWARDED_PROTO', 'https'); x-arr-ssl's value is "
              "certificate text, so SECURE_PROXY_SSL_HEADER cannot match it directly.",
    "Flask": "ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1) and around it a shim that turns X-ARR-SSL into "
             "X-Forwarded-Proto: inner = app.wsgi_app; app.wsgi_app = lambda env, start: inner(dict(env, "
             "HTTP_X_FORWARDED_PROTO='https') if 'HTTP_X_ARR_SSL' in env and 'HTTP_X_FORWARDED_PROTO' not in env "
             "else env, start).",
    "FastAPI/Starlette (uvicorn)": "an ASGI middleware that sets the scheme when X-ARR-SSL is present (uvicorn's proxy "
                                   "headers read only X-Forwarded-Proto): class ArrSSL: def __init__(self, app): "
                                   "self.app = app; async def __call__(self, scope, receive, send): if scope['type'] "
                                   "in ('http', 'websocket') and any(k == b'x-arr-ssl' for k, _ in scope['headers']):"
                                   " scope = {**scope, 'scheme': 'https' if scope['type'] == 'http' else 'wss'}; "
                                   "await self.app(scope, receive, send); then app.add_middleware(ArrSSL).",
    "gunicorn": "gunicorn's secure_scheme_headers compare exact values and x-arr-ssl carries certificate text: map it "
                "in a WSGI middleware (environ['wsgi.url_scheme'] = 'https' when HTTP_X_ARR_SSL is set).",
    "Rails": "Rails 7.1+: config.assume_ssl = true. Rails 6.1 and 7.0 (no assume_ssl): a first middleware in "
             "config/application.rb: class ArrSslIsHttps; def initialize(app); @app = app; end; def call(env); "
             "env['HTTPS'] = 'on' if env['HTTP_X_ARR_SSL']; @app.call(env); end; end and "
             "config.middleware.insert_before 0, ArrSslIsHttps.",
    "ASP.NET Core": "app.Use((ctx, next) => { if (ctx.Request.Headers.ContainsKey(\"X-ARR-SSL\")) "
                    "ctx.Request.Scheme = \"https\"; return next(); }); before UseHttpsRedirection.",
    "Spring Boot": "a servlet filter that wraps the request as secure when X-ARR-SSL is present "
                   "(RemoteIpValve's protocolHeaderHttpsValue cannot match certificate text).",
    "Laravel": "a middleware that calls URL::forceScheme('https') and $request->server->set('HTTPS', 'on') when "
               "the X-ARR-SSL header is present.",
}

# "The front end only sends RFC 7239 Forwarded" (frameworks.md 2: Rack and Spring's FRAMEWORK strategy read it).
_FORWARDED = {
    "Rails": "Rack 3 (Rails 7.1+) reads Forwarded: proto=https; Rack 2.2 (Rails 6.1, 7.0) does not: a first "
             "middleware setting env['HTTPS'] = 'on' when env['HTTP_FORWARDED'] has proto=https, or "
             "config.assume_ssl = true on 7.1+.",
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
    "NestJS": "session({ cookie: { secure: true, sameSite: 'lax' } }) with app.set('trust proxy', 1) on the "
              "NestExpressApplication.",
    "Koa": "ctx.cookies.set(name, value, { secure: true }) with app.proxy = true.",
    "Fastify": "cookie: { secure: true } (@fastify/session, @fastify/cookie) with Fastify({ trustProxy: true }).",
    "Tornado": "self.set_cookie(name, value, secure=True) (set_signed_cookie(..., secure=True)); a cookie made Secure "
               "only when self.request.protocol == 'https' also needs HTTPServer(app, xheaders=True) behind a front "
               "end (Tornado believes no forwarded header without it).",
    "hapi": "server.state(name, { isSecure: true }) (hapi's default).",
    "SvelteKit": "cookies.set(name, value, { path: '/', secure: true }) (SvelteKit's default outside http://localhost).",
    "Django": "SESSION_COOKIE_SECURE = True and CSRF_COOKIE_SECURE = True in settings.py.",
    "Flask": "app.config.update(SESSION_COOKIE_SECURE=True); response.set_cookie(..., secure=True).",
    "Rails": "config.force_ssl = true (marks the session cookie Secure; https://guides.rubyonrails.org/configuring.html"
             "#config-force-ssl).",
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
    "NestJS": "set 'trust proxy' to the front end's address, CIDR or hop count (e.g. 1, 'linklocal'), never true.",
    "Tornado": "xheaders=True trusts every peer: keep the app reachable only through the front end.",
    "SvelteKit": "PROTOCOL_HEADER/HOST_HEADER/ADDRESS_HEADER are believed from anyone: keep the app reachable only "
                 "through a front end that overwrites them.",
}
_GENERIC_SPOOF = ("trust X-Forwarded-* only from the front end's address; a client that reaches the app without it "
                  "must not be believed.")


# Well-known apps with a setting of their own for running behind a TLS front end: that setting comes first.
_APP_SETTING = {
    "Datasette": "datasette serve ... --setting force_https_urls 1 "
                 "(https://docs.datasette.io/en/stable/settings.html#force-https-urls).",
    "Jupyter Server": "c.ServerApp.trust_xheaders = True (or jupyter server --ServerApp.trust_xheaders=True) "
                      "(https://jupyter-server.readthedocs.io/en/latest/other/full-config.html).",
    "Grafana": "[server] root_url = https://<public host>/ in grafana.ini (or GF_SERVER_ROOT_URL) "
               "(https://grafana.com/docs/grafana/latest/setup-grafana/configure-grafana/#root_url).",
    "Gitea": "[server] ROOT_URL = https://<public host>/ in app.ini "
             "(https://docs.gitea.com/administration/config-cheat-sheet#server-server).",
    "Verdaccio": "VERDACCIO_PUBLIC_URL=https://<public host> in the server's environment "
                 "(https://verdaccio.org/docs/reverse-proxy).",
    "GitLab": "external_url 'https://<public host>' in /etc/gitlab/gitlab.rb, with nginx['listen_https'] = false "
              "behind a TLS-terminating proxy (https://docs.gitlab.com/omnibus/settings/ssl/#configure-a-reverse-proxy"
              "-or-load-balancer-ssl-termination).",
    "Nextcloud": "'overwriteprotocol' => 'https' (and 'trusted_proxies') in config/config.php "
                 "(https://docs.nextcloud.com/server/latest/admin_manual/configuration_server/reverse_proxy_configuration"
                 ".html).",
    "Keycloak": "KC_PROXY_HEADERS=xforwarded (--proxy-headers xforwarded) and KC_HOSTNAME=https://<public host> "
                "(https://www.keycloak.org/server/reverseproxy).",
    "Mattermost": "ServiceSettings.SiteURL = https://<public host> (System Console > Web Server > Site URL) "
                  "(https://docs.mattermost.com/configure/environment-configuration-settings.html#site-url).",
    "WordPress": "in wp-config.php, before the 'stop editing' line: if (($_SERVER['HTTP_X_FORWARDED_PROTO'] ?? '') "
                 "=== 'https') { $_SERVER['HTTPS'] = 'on'; } "
                 "(https://developer.wordpress.org/advanced-administration/security/https/).",
}

# Frameworks whose cookies lose Secure (or are not sent) when the app does not see HTTPS: a cookie fix alone would
# recreate the bug under a front end the app does not understand, so their cookie advice carries the scheme fix.
_COOKIE_NEEDS_SCHEME = {"Express", "NestJS", "Koa", "Fastify", "Rails", "Tornado", "SvelteKit", "hapi"}

# The app must know its public origin when the front end puts its own upstream address in Host (nginx's default).
_HOST = {
    "Next.js": "Server Actions compare the browser's Origin with X-Forwarded-Host or Host: have the front end keep Host "
               "(or send X-Forwarded-Host), or list the public host in next.config.js: experimental: { serverActions: "
               "{ allowedOrigins: ['<public host>'] } } (https://nextjs.org/docs/app/api-reference/config/next-config-js"
               "/serverActions#allowedorigins).",
    "SvelteKit": "adapter-node builds the origin from Host: set ORIGIN=https://<public host> in the server's "
                 "environment (https://svelte.dev/docs/kit/adapter-node#Environment-variables), or have the front end "
                 "send X-Forwarded-Proto/-Host and set PROTOCOL_HEADER/HOST_HEADER.",
    "Django": "CSRF_TRUSTED_ORIGINS = ['https://<public host>'] (Django checks Origin against the Host it gets), or "
              "USE_X_FORWARDED_HOST = True behind a front end that sends X-Forwarded-Host.",
    "Rails": "Rails checks Origin against request.base_url: have the front end keep Host (or send X-Forwarded-Host, "
             "which Rails reads).",
}
_GENERIC_HOST = ("the app builds its origin from the Host it receives, which this front end replaces with its upstream "
                 "address: have the front end keep the client's Host (or send X-Forwarded-Host and trust it).")
HOST_RULES = {"csrf-origin-rejected", "rejected-under-frontend", "server-error-under-frontend", "backend-host-leak"}

# The host bug: the front end sends the origin's host name in Host and the public one in X-Forwarded-Host (or
# X-Original-Host...). The app must build URLs and cookies from the forwarded host, and accept it.
_FORWARDED_HOST = {
    "Django": "USE_X_FORWARDED_HOST = True (Django then builds URLs from X-Forwarded-Host) and the public host in "
              "ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS = ['https://<public host>'] "
              "(https://docs.djangoproject.com/en/stable/ref/settings/#use-x-forwarded-host).",
    "Flask": "app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1) (werkzeug.middleware.proxy_fix: "
             "x_host trusts X-Forwarded-Host; https://werkzeug.palletsprojects.com/en/stable/middleware/proxy_fix/).",
    "Express": "app.set('trust proxy', 1) and build URLs from req.host (Express 5, with the port) and cookie "
               "domains from req.hostname, which then read X-Forwarded-Host "
               "(https://expressjs.com/en/guide/behind-proxies.html), never from req.get('host') or "
               "req.headers.host.",
    "NestJS": "app.set('trust proxy', 1) on the Express adapter and build URLs from req.host / req.hostname "
              "(X-Forwarded-Host), never from the Host header.",
    "ASP.NET Core": "ForwardedHeadersOptions { ForwardedHeaders = XForwardedFor | XForwardedProto | XForwardedHost } "
                    "with the front end in KnownProxies/KnownNetworks, and the public host in AllowedHosts "
                    "(https://learn.microsoft.com/aspnet/core/host-and-deploy/proxy-load-balancer).",
    "Rails": "Rails reads X-Forwarded-Host for request.host: add the public host to config.hosts "
             "(https://guides.rubyonrails.org/configuring.html#actiondispatch-hostauthorization); never configure "
             "a fixed default_url_options host of the origin.",
    "Spring Boot": "server.forward-headers-strategy=framework (ForwardedHeaderFilter reads X-Forwarded-Host) "
                   "(https://docs.spring.io/spring-boot/how-to/webserver.html#howto.webserver.use-behind-a-proxy-server).",
    "FastAPI/Starlette (uvicorn)": "uvicorn's --proxy-headers reads only X-Forwarded-For and -Proto: preserve the "
                                   "host name at the front end, or rewrite Host from X-Forwarded-Host in a middleware "
                                   "you trust (an ASGI middleware that sets the host header from x-forwarded-host).",
    "Laravel": "TrustProxies with Request::HEADER_X_FORWARDED_HOST in $headers "
               "(https://laravel.com/docs/requests#configuring-trusted-proxies).",
    "Tornado": "Tornado's xheaders read X-Real-IP and X-Scheme/X-Forwarded-Proto only: preserve the host name at the "
               "front end.",
}
_GENERIC_FORWARDED_HOST = ("build URLs, redirects and cookie domains from the forwarded host (X-Forwarded-Host from a "
                           "trusted front end), not from Host, and accept the public host in the app's host check.")
# Where the public host arrives, when it is not X-Forwarded-Host (App Gateway: X-Original-Host).
_OTHER_HOST_HEADER = ("this front end sends the public host as {header}, which frameworks do not read: copy it into "
                      "X-Forwarded-Host (a rewrite rule at the front end, or a middleware), then: ")
# Host name preservation at the front end: the fix that needs no app change.
_PRESERVE = {
    "azure-frontdoor": "leave the origin host header blank (the request's host name) and add the public host as a "
                       "custom domain of the App Service "
                       "(https://learn.microsoft.com/azure/architecture/best-practices/host-name-preservation).",
    "azure-appgateway": "turn off 'Pick host name from backend address' (override with the public host name) and add "
                        "it as a custom domain of the App Service "
                        "(https://learn.microsoft.com/azure/architecture/best-practices/host-name-preservation).",
}
_GENERIC_PRESERVE = "have the front end pass the client's Host on (host name preservation)."
HOST_CLASS = {"wrong-host-redirect", "cookie-domain-mismatch"}


_NO_HOST_HEADER = ("this front end passes the public host in no header, so no setting of the app can recover it: "
                   "configure the app's public URL explicitly (e.g. Django's CSRF_TRUSTED_ORIGINS and a fixed "
                   "site URL), or better")


def host_fix(base: str, ctx: Context) -> str:
    """How an app behind an origin host override gets the public host back."""
    if not ctx.host_header:
        return f"{_NO_HOST_HEADER} at the front end: {_PRESERVE.get(ctx.frontend, _GENERIC_PRESERVE)}"
    app = _FORWARDED_HOST.get(base, _GENERIC_FORWARDED_HOST)
    if ctx.host_header.lower() != "x-forwarded-host":
        app = _OTHER_HOST_HEADER.format(header=ctx.host_header) + app
    return f"{app} Or at the front end: {_PRESERVE.get(ctx.frontend, _GENERIC_PRESERVE)}"

_NO_TRUST = ("the app believes no forwarded header at all: it fails the same way when the front end sends "
             "X-Forwarded-Proto: https, and works only as plain HTTP. ")


def base_name(framework: str) -> str:
    """The framework without its variant: "Express (express-session)" is Express."""
    return framework.split(" (")[0] if framework.startswith("Express") else framework


def scheme_fix(base: str, ctx: Context) -> str:
    """How the app learns that a request was HTTPS, given what this front end sends."""
    front = f" Or at the front end: {ctx.frontend_fix}" if ctx.frontend_fix else ""
    if base in _APP_SETTING:
        return _APP_SETTING[base] + (front if ctx.https_header != "X-Forwarded-Proto" else "")
    trust = _TRUST.get(base, _GENERIC_TRUST)
    if ctx.https_header == "X-Forwarded-Proto":
        return trust
    if ctx.https_header == "X-ARR-SSL":
        text = _MAP_ARR_SSL.get(base, _GENERIC_MAP)
    elif ctx.https_header == "Forwarded":
        text = _FORWARDED.get(base, _GENERIC_FORWARDED)
    else:
        text = "nothing in the forwarded request says HTTPS; make the front end send X-Forwarded-Proto, then " + trust
    return text + front


def for_finding(rule: str, framework: str, ctx: Context, cause: str = "") -> str:
    """The fix for one finding; framework "" gives generic advice. Never one that recreates the problem under this
    front end (a Secure cookie for an app that does not see HTTPS here is a dropped cookie)."""
    base = base_name(framework)
    if rule in HOST_CLASS or (ctx.origin_host and rule in HOST_RULES):
        return host_fix(base, ctx)
    if ctx.host_rewritten and rule in HOST_RULES and base not in _APP_SETTING:
        return _HOST.get(base, _GENERIC_HOST) + (f" At the front end: {ctx.frontend_fix}" if ctx.frontend_fix else "")
    if rule in SCHEME_RULES:
        return (_NO_TRUST if cause == "no-proxy-trust" else "") + scheme_fix(base, ctx)
    if rule in COOKIE_RULES:
        text = _COOKIE.get(framework) or _COOKIE.get(base) or "add Secure to the cookie (and SameSite=Lax or None)."
        if rule == "cookie-prefix-violation":
            text = "__Secure- cookies need Secure; __Host- cookies need Secure, Path=/ and no Domain; " + text
        if base in _COOKIE_NEEDS_SCHEME and ctx.https_header != "X-Forwarded-Proto":
            text += " Behind this front end the app must also see HTTPS, or the cookie is dropped: " + \
                scheme_fix(base, ctx)
        return text
    if rule == "trust-depends-on-loopback":
        return _LOOPBACK.get(base, _GENERIC_LOOPBACK).format(peer=ctx.peer or "the front end's address")
    if rule == "backend-host-leak":
        return _APP_SETTING.get(base, _HOST_LEAK)
    if rule == "trusts-spoofed-forwarding":
        return _SPOOF.get(base, _GENERIC_SPOOF)
    if rule == "trusted-hops-mismatch":
        from .trust import advice_for  # trust builds on forward(); imported where needed
        return advice_for(framework, int(cause) if cause.isdigit() else 1)
    if rule == "client-ip-port":
        return _IP_PORT.get(base, "strip the ':port' from X-Forwarded-For entries before using them as client IPs.")
    return ""


def keeps_port_in_client_ip(framework: str) -> bool:
    """Frameworks that put X-Forwarded-For's 'ip:port' into their client IP unparsed (frameworks.md 2.1-2.3, 2.6)."""
    return base_name(framework) in _IP_PORT


def context_for(profile: Profile, rules: tuple[HeaderRule, ...], peer: str = "", origin_host: bool = False
                ) -> Context:
    """What the fixes depend on, for a profile's request rules (after frontend_xfp)."""
    front = profile.hops[0] if profile.hops else profile  # an origin override is the outermost hop's
    return Context(https_signal(rules), peer or profile.peer, profile.fix, profile.host == "upstream", origin_host,
                   public_host_header(front.request), front.name)


def public_host_header(rules: tuple[HeaderRule, ...]) -> str:
    """The header a front end puts the public host in (X-Forwarded-Host, X-Original-Host, DISGUISED-HOST...)."""
    for name in ("x-forwarded-host", "x-original-host", "disguised-host", "forwarded"):
        if any(r.key == name and r.client != "strip" and r.value and "host" in r.value.names for r in rules):
            return next(r.name for r in rules if r.key == name)
    return ""


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
                   advice=for_finding(finding.rule, framework, ctx, finding.cause))


def ip_port_finding(profile: Profile, framework: str, xff: str) -> Finding | None:
    """client-ip-port: the front end writes ip:port into X-Forwarded-For and the framework keeps the port."""
    if not profile.xff_has_port or not keeps_port_in_client_ip(framework):
        return None
    return Finding("client-ip-port", "*", "*", framework,
                   f"{profile.name} sends X-Forwarded-For as ip:port and {framework} keeps the port in its client IP.",
                   evidence=f"X-Forwarded-For: {xff}")
