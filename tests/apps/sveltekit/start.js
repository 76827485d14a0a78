// offload test app: SvelteKit 2.70 + @sveltejs/adapter-node 5.5 (Svelte 5, Vite 8), built with `vite build`,
// started with `PORT=<port> node start.js` (adapter-node's own server, build/index.js, on HOST=127.0.0.1).
// Routes:
//   GET  /form           a plain <form method="POST">; POST /form runs the default form action -> 303 /account
//   GET  /login          cookies.set('session', 'demo', { path: '/' }) with SvelteKit's defaults, then 303 to the
//                        absolute /account URL on url.origin
//   GET  /oauth/start    302 to http://127.0.0.1:9/authorize?client_id=x&redirect_uri=<url.origin>/oauth/callback
//   GET  /, /account, /oauth/callback   plain pages
// How adapter-node builds url.origin (build/handler.js, get_origin): ORIGIN if set, else
// `${PROTOCOL_HEADER's value || 'https'}://${HOST_HEADER's value || Host}`. Its default scheme is https, not http,
// so a front end that sends only X-ARR-SSL (and keeps Host) is fine. What goes wrong:
// - Host rewritten by the proxy (nginx's default `Host $proxy_host`): url.origin is https://127.0.0.1:<port>, so
//   absolute redirects and redirect_uri leak the backend address, and the CSRF check (kit.csrf, on by default)
//   answers 403 "Cross-site POST form submissions are forbidden" because Origin != url.origin.
//   https://svelte.dev/docs/kit/adapter-node#Environment-variables-ORIGIN-PROTOCOL_HEADER-HOST_HEADER-and-PORT_HEADER
// - Reached over plain http (no proxy): url.origin is still https://..., so the same 403, and the cookie is Secure
//   (SvelteKit's default is Secure unless url is http://localhost).
// FIX=1 sets adapter-node's documented PROTOCOL_HEADER=x-forwarded-proto HOST_HEADER=x-forwarded-host
// (https://svelte.dev/docs/kit/adapter-node). It helps only when the front end sends X-Forwarded-Host; it does not
// help nginx's default (no forwarded headers at all): that needs ORIGIN=https://<public host>, which adapter-node
// reads from the environment by itself. With FIX=1, a repeated or comma-listed X-Forwarded-Proto/-Host is a 400.
import process from 'node:process';

process.env.HOST ??= '127.0.0.1';
if (process.env.FIX === '1') {
	process.env.PROTOCOL_HEADER = 'x-forwarded-proto';
	process.env.HOST_HEADER = 'x-forwarded-host';
}
await import('./build/index.js');
