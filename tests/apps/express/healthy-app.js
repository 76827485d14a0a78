// A correctly configured Express + express-session app for an HTTPS-only deployment behind any TLS-terminating
// front end: it trusts forwarded headers only from its front end (TRUST_PROXY, default 127.0.0.1: the proxy in
// these tests), reads X-Forwarded-Proto, and, when the front end says nothing about the scheme (x-arr-ssl only,
// a bare nginx, RFC 7239 Forwarded only), assumes HTTPS, as Rails' config.assume_ssl does.
'use strict';

const express = require('express');
const session = require('express-session');

const app = express();
const trust = process.env.TRUST_PROXY || '127.0.0.1';
app.set('trust proxy', trust === 'true' ? true : trust);
app.use((req, res, next) => {
  if (!req.headers['x-forwarded-proto']) req.headers['x-forwarded-proto'] = 'https'; // HTTPS-only deployment
  next();
});
app.use(session({
  secret: 'offload-test-secret', resave: false, saveUninitialized: false,
  cookie: { secure: true, httpOnly: true, sameSite: 'lax' },
}));
app.get('/login', (req, res) => {
  req.session.user = 'demo';
  res.json({ loggedIn: true });
});
app.get('/me', (req, res) => (req.session.user ? res.json({ user: req.session.user }) : res.status(401).json({})));

const port = Number(process.env.PORT || 3000);
app.listen(port, '127.0.0.1', () => console.log(`healthy-app listening on ${port}`));
