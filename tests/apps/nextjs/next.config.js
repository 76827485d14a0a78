// offload test app: Next.js 16.4 (App Router, plain JS, React 19), built with `next build`, started with
//   PORT=<port> node node_modules/next/dist/bin/next start -H 127.0.0.1      (or: npm start)
// Routes:
//   GET  /                   a <form action={serverAction}>; a browser without JS POSTs multipart/form-data to /
//                            with a hidden `$ACTION_ID_<id>` field (with JS: a fetch with a `Next-Action: <id>` header)
//   GET  /login              307 to the absolute /account URL on the origin Next believes the request came to
//   GET  /login-request-url  307 to new URL('/account', request.url), the pattern in Next's own docs
//   GET  /oauth/start        307 to http://127.0.0.1:9/authorize?client_id=x&redirect_uri=<that origin>/oauth/callback
//   GET  /account, /oauth/callback   plain pages
// What goes wrong behind a TLS-terminating front end, and why:
// - Next believes HTTPS only from X-Forwarded-Proto (containing "https"; next/dist/server/lib/router-utils/
//   resolve-routes.js). Nothing reads X-ARR-SSL, so behind a front end that sends only X-ARR-SSL every absolute
//   URL is http://. There is no Next.js setting for it: the front end must send X-Forwarded-Proto.
// - request.url / request.nextUrl are always http(s)://localhost:<the port next listens on>, whatever Host or
//   X-Forwarded-Host say (by design: https://github.com/vercel/next.js/issues/37536), so /login-request-url leaks
//   the backend port under every front end; lib/origin.js reads X-Forwarded-Host / Host as the maintainers advise.
// - Server Actions compare the Origin header's host with X-Forwarded-Host, else Host, and abort when they differ
//   (next/dist/server/app-render/action-handler.js): behind a proxy that rewrites Host (nginx's default
//   `Host $proxy_host`) the action answers 500 and logs "Invalid Server Actions request."
//   https://nextjs.org/docs/app/guides/data-security#allowed-origins-advanced
// FIX=1 applies the fix Next.js documents for that last case: the browser's host in serverActions.allowedOrigins
// (PUBLIC_HOST, the host:port in the address bar; default localhost:8443). Read when `next start` starts: no rebuild.
// https://nextjs.org/docs/app/api-reference/config/next-config-js/serverActions#allowedorigins
// It changes nothing else: the redirects stay as they are (http:// under X-ARR-SSL, the backend host under nginx).
const fix = process.env.FIX === '1';

module.exports = {
  outputFileTracingRoot: __dirname, // tests/apps has its own lockfile; without this Next warns it guessed the root
  ...(fix && { experimental: { serverActions: { allowedOrigins: [process.env.PUBLIC_HOST || 'localhost:8443'] } } }),
};
