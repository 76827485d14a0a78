// hapi 21 (@hapi/hapi 21.4) behind a TLS-terminating front end: a login cookie plus an absolute redirect.
//
//   PORT=3000 node hapi-app.js          listens on 127.0.0.1:3000, plain HTTP
//   FIX=1 PORT=3000 node hapi-app.js    adds an 'onRequest' extension that rebuilds the request URL from
//                                       X-Forwarded-Proto / X-Forwarded-Host with request.setUrl(), the documented
//                                       way to change request.url before routing (hapi has no trust-proxy option):
//     https://github.com/hapijs/hapi/blob/master/API.md#request.setUrl()  (hapi.dev/api, request.setUrl();
//     server.ext('onRequest') is API.md#server.ext.args())
//
// Routes: GET /login    sets the `session` cookie (server.state with hapi's defaults: isSecure true, HttpOnly,
//                       SameSite=Strict, base64json) and returns JSON {loggedIn, url}
//         GET /account  no `session` cookie: 302 to an absolute login URL built from request.url
//                       (`new URL('/login?next=' + request.url.href, request.url)`), else 200 HTML
//         GET /seen     what hapi saw: request.url.href, request.info.host, remoteAddress, headers (JSON)
//
// What goes wrong: hapi has no trust-proxy setting and never reads X-Forwarded-* (hapijs/hapi#4506, "Incorrect
// request.url.href", labelled support and closed). request.url is `${server.info.protocol}://${Host}${path}`
// (lib/request.js _parseUrl), and server.info.protocol is 'https' only when hapi itself has `tls`. So behind any
// front end every absolute URL the app builds is http://. The cookie is NOT affected: statehood writes `Secure`
// whenever isSecure is true (the default), whatever the protocol, so the browser keeps it on https (and only a
// plain-HTTP visit on a non-localhost name loses it). The fix trusts the headers blindly (hapi has no notion of
// a trusted peer), and a front end that sends only X-ARR-SSL is not covered by it: that needs the same extension
// to treat x-arr-ssl as https.
'use strict';

const Hapi = require('@hapi/hapi');

const fix = process.env.FIX === '1';

async function main() {
  const server = Hapi.server({ port: Number(process.env.PORT || 3000), host: '127.0.0.1' });
  server.state('session', { encoding: 'base64json', path: '/' }); // isSecure: true is hapi's default

  if (fix) {
    server.ext('onRequest', (request, h) => {
      const proto = request.headers['x-forwarded-proto'];
      if (proto) {
        const host = request.headers['x-forwarded-host'] || request.info.host;
        request.setUrl(`${proto.split(',')[0].trim()}://${host}${request.url.pathname}${request.url.search}`);
      }
      return h.continue;
    });
  }

  server.route({
    method: 'GET', path: '/login',
    handler: (request, h) => h.response({ loggedIn: true, url: request.url.href }).state('session', { user: 'demo' }),
  });
  server.route({
    method: 'GET', path: '/account',
    handler: (request, h) => {
      if (!request.state.session) {
        return h.redirect(new URL(`/login?next=${encodeURIComponent(request.url.href)}`, request.url).href);
      }
      return h.response(`<p>account of ${request.state.session.user}</p>`).type('text/html');
    },
  });
  server.route({
    method: 'GET', path: '/seen',
    handler: (request) => ({
      url: request.url.href, host: request.info.host, remoteAddress: request.info.remoteAddress,
      protocol: server.info.protocol, headers: request.headers,
    }),
  });

  await server.start();
  console.log(`hapi-app listening on ${server.info.port} (FIX=${fix ? 1 : 0})`);
}

main().catch((err) => { console.error(err); process.exit(1); });
