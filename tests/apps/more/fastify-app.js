// Fastify 5 (5.12) + @fastify/cookie 11 + @fastify/session 11, a session login behind a TLS-terminating front end.
//
//   PORT=3000 node fastify-app.js          listens on 127.0.0.1:3000, plain HTTP
//   FIX=1 PORT=3000 node fastify-app.js    Fastify({ trustProxy: true }), the fix Fastify and @fastify/session document:
//     https://fastify.dev/docs/latest/Reference/Server/#trustproxy
//     https://github.com/fastify/session#options ("If you are terminating HTTPs at the reverse proxy, you need to
//     add the `trustProxy` setting to your fastify instance if you want to use secure cookies.")
//
// Routes: GET /login  starts a session (cookie `sessionId`, secure: true, the plugin's default) and sets a `theme`
//                     cookie with secure: 'auto' (@fastify/cookie); JSON {loggedIn, protocol}
//         GET /me     200 {user} when the session cookie came back, else 401
//         GET /seen   what Fastify saw: request.protocol, host, ip, headers (JSON)
//
// What goes wrong: without trustProxy, request.protocol comes from the socket only (fastify/lib/request.js), so it
// is 'http' behind any front end. @fastify/session then skips the secure session cookie *silently*: onSend checks
// `session.cookie.secure === true && request.protocol !== 'https'` and just calls done() (index.js), no header,
// no log, 200. A `secure: 'auto'` cookie is sent but *without* Secure (@fastify/cookie index.js; @fastify/session
// lib/cookie.js also forces SameSite=Lax for 'auto'). trustProxy only reads X-Forwarded-Proto/-Host, so a front
// end that sends only X-ARR-SSL (old Azure App Service on Windows) needs one more step, e.g. an onRequest hook
// that sets request.raw.headers['x-forwarded-proto'] = 'https' when x-arr-ssl is present.
// Note: Fastify 5.12 ignores a hop count (`trustProxy: 1` trusts nothing, lib/request.js getTrustProxyFn).
'use strict';

const Fastify = require('fastify');

const fix = process.env.FIX === '1';
const app = Fastify(fix ? { trustProxy: true } : {});
// ARR=1 (with FIX=1): the fix offload advises for a front end that sends only x-arr-ssl (an onRequest hook first).
if (process.env.ARR === '1') {
  app.addHook('onRequest', async (request) => {
    if (request.headers['x-arr-ssl'] && !request.headers['x-forwarded-proto']) request.raw.headers['x-forwarded-proto'] = 'https';
  });
}

app.register(require('@fastify/cookie'));
app.register(require('@fastify/session'), {
  secret: 'offload-test-secret-at-least-32-characters-long',
  saveUninitialized: false,
  cookie: { secure: true, httpOnly: true, sameSite: 'lax' },
});

app.get('/login', async (request, reply) => {
  request.session.set('user', 'demo');
  reply.setCookie('theme', 'dark', { path: '/', secure: 'auto', httpOnly: true });
  return { loggedIn: true, protocol: request.protocol };
});
app.get('/me', async (request, reply) => {
  const user = request.session.get('user');
  if (!user) return reply.code(401).send({ error: 'not logged in' });
  return { user };
});
app.get('/seen', async (request) => ({
  protocol: request.protocol, host: request.host, ip: request.ip, peer: request.socket.remoteAddress,
  headers: request.headers,
}));

const port = Number(process.env.PORT || 3000);
app.listen({ port, host: '127.0.0.1' }).then(() => console.log(`fastify-app listening on ${port} (FIX=${fix ? 1 : 0})`));
