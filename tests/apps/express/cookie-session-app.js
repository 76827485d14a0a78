// Express 5 + cookie-session with a Secure cookie, behind one trusted proxy. When Express does not see HTTPS,
// the `cookies` module throws "Cannot send secure cookie over unencrypted connection" and cookie-session
// swallows it (debug('error saving session')): no cookie, no error [frameworks.md 2.1].
'use strict';

const express = require('express');
const cookieSession = require('cookie-session');

const app = express();
app.set('trust proxy', 1);
app.use(cookieSession({ name: 'session', keys: ['offload-test-key'], secure: true, httpOnly: true, sameSite: 'lax' }));

app.get('/login', (req, res) => {
  req.session.user = 'demo';
  res.json({ loggedIn: true, secure: req.secure });
});
app.get('/me', (req, res) => (req.session.user ? res.json({ user: req.session.user }) : res.status(401).json({})));

const port = Number(process.env.PORT || 3000);
app.listen(port, '127.0.0.1', () => console.log(`cookie-session-app listening on ${port}`));
