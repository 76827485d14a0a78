// The seed's app: Express 5 + express-session with a Secure session cookie, behind one trusted proxy.
// This is what the Azure docs and the express-session README tell you to do [frameworks.md 2.1]; on the
// 2013-2017 App Service front end it still loses its session, because nothing sends X-Forwarded-Proto.
//
//   PORT=3000 node session-app.js             listens on 127.0.0.1:3000
//   SEED_FIX=1 node session-app.js            adds the seed's middleware: x-arr-ssl => X-Forwarded-Proto: https
//
// Routes: GET /            a page with a login form
//         GET|POST /login  starts a session (the cookie is only sent when Express sees HTTPS)
//         GET /me          200 with the user when the session cookie came back, else 401
//         GET /seen        what the app saw: headers, socket peer, req.secure, req.protocol, req.ip (JSON)
'use strict';

const express = require('express');
const session = require('express-session');

const app = express();
app.set('trust proxy', 1); // "trust first proxy", express-session README (cookie.secure)

if (process.env.SEED_FIX === '1') {
  // The fix users wrote for App Service on Windows: the front end says HTTPS only through x-arr-ssl,
  // so turn it into the header Express understands (maintainer's advice, expressjs/session#469).
  app.use((req, res, next) => {
    if (req.headers['x-arr-ssl'] && !req.headers['x-forwarded-proto']) {
      req.headers['x-forwarded-proto'] = 'https';
    }
    next();
  });
}

app.use(session({
  secret: 'offload-demo-secret',
  resave: false,
  saveUninitialized: false,
  cookie: { secure: true, httpOnly: true, sameSite: 'lax' },
}));

function seen(req) {
  return {
    peer: req.socket.remoteAddress,
    secure: req.secure,
    protocol: req.protocol,
    ip: req.ip,
    headers: req.rawHeaders.reduce((pairs, v, i, a) => (i % 2 ? pairs : pairs.concat([[v, a[i + 1]]])), []),
  };
}

app.get('/', (req, res) => {
  res.type('html').send(`<!doctype html><title>offload demo</title>
<h1>offload demo app</h1>
<p>${req.session.user ? `Logged in as ${req.session.user}.` : 'Not logged in.'}</p>
<form method="get" action="/login"><button>Log in</button></form>
<p><a href="/me">/me</a> &middot; <a href="/seen">/seen</a></p>`);
});

function login(req, res) {
  req.session.user = 'demo';
  if (req.accepts(['json', 'html']) === 'html') return res.redirect(303, '/'); // a browser goes back home
  res.json({ loggedIn: true, seen: seen(req) });
}
app.get('/login', login);
app.post('/login', login);

app.get('/me', (req, res) => {
  if (!req.session.user) return res.status(401).json({ error: 'not logged in', seen: seen(req) });
  res.json({ user: req.session.user, seen: seen(req) });
});

app.get('/seen', (req, res) => res.json(seen(req)));

const port = Number(process.env.PORT || 3000);
const host = process.env.HOST || '127.0.0.1';
app.listen(port, host, () => console.log(`session-app listening on http://${host}:${port}`));
