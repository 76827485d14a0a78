// An OAuth 2 client in Node: Express 5 + passport 0.7 + passport-oauth2 1.8 with a relative callbackURL, the way
// most "Login with X" apps are written. The provider (http://127.0.0.1:9) is not running: the redirect is what
// matters.
//
//   PORT=3000 node oauth-app.js          listens on 127.0.0.1:3000, plain HTTP
//   FIX=1 PORT=3000 node oauth-app.js    app.set('trust proxy', 1), Express's documented setting behind a proxy:
//                                        https://expressjs.com/en/guide/behind-proxies.html ; passport-oauth2 reads
//                                        it itself (lib/utils.js originalURL: `if (app.get('trust proxy'))
//                                        options.proxy = true`), so the strategy's own `proxy: true` is not needed.
//
// Routes: GET /auth/login     302 to http://127.0.0.1:9/authorize?response_type=code&redirect_uri=...&client_id=...
//         GET /auth/callback  passport's callback: ?error=access_denied -> 401 Unauthorized; ?code=... -> 500
//                             "Failed to obtain access token" (nothing listens on :9)
//         GET /seen           what Express saw: req.secure, req.protocol, req.hostname, headers (JSON)
//
// What goes wrong: passport-oauth2 resolves the relative callbackURL against utils.originalURL(req), which uses
// https only for a TLS socket or, when the proxy is trusted, X-Forwarded-Proto: https; the host is Host, or
// X-Forwarded-Host when trusted. Behind a TLS front end without trust the provider is sent
// redirect_uri=http%3A%2F%2Fhost%2Fauth%2Fcallback: a real provider answers redirect_uri_mismatch (or sends the
// user back over http). X-ARR-SSL alone is never read: a front end that sends only X-ARR-SSL needs a middleware
// mapping it to X-Forwarded-Proto: https, or an absolute https callbackURL.
'use strict';

const express = require('express');
const passport = require('passport');
const OAuth2Strategy = require('passport-oauth2');

const fix = process.env.FIX === '1';
const app = express();
if (fix) app.set('trust proxy', 1);

passport.use(new OAuth2Strategy({
  authorizationURL: 'http://127.0.0.1:9/authorize',
  tokenURL: 'http://127.0.0.1:9/token',
  clientID: 'offload-test-client',
  clientSecret: 'offload-test-secret',
  callbackURL: '/auth/callback',
  scope: 'openid profile',
}, (accessToken, refreshToken, profile, done) => done(null, { id: 'demo' })));
app.use(passport.initialize());

app.get('/auth/login', passport.authenticate('oauth2', { session: false }));
app.get('/auth/callback', passport.authenticate('oauth2', { session: false }), (req, res) => res.json({ user: req.user }));
app.get('/seen', (req, res) => res.json({
  secure: req.secure, protocol: req.protocol, hostname: req.hostname, ip: req.ip, headers: req.headers,
}));

const port = Number(process.env.PORT || 3000);
app.listen(port, '127.0.0.1', () => console.log(`oauth-app listening on ${port} (FIX=${fix ? 1 : 0})`));
