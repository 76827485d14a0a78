// The host bug in Express 5: an app that builds its absolute URLs and its cookie Domain from the Host header it
// received. Behind Azure Front Door (or Application Gateway) in front of App Service, Host is the origin's name
// (myapp.azurewebsites.net) and the public host the browser is at arrives in X-Forwarded-Host: the app redirects to
// the origin's name, sets a cookie for a domain the browser rejects and links past the front end.
// https://learn.microsoft.com/azure/architecture/best-practices/host-name-preservation
//
//   PORT=3000 node host-app.js                the mistake: req.get('host') (the Host header, whatever trust proxy says)
//   HOST_FIX=1 PORT=3000 node host-app.js     the fix offload advises: req.host / req.hostname, which read
//                                             X-Forwarded-Host under trust proxy (Express 5: req.host keeps the port)
//
// The scheme is trusted correctly in both modes: app.set('trust proxy', 1), so X-Forwarded-Proto: https is believed.
//
// Routes: GET /login   302 to <scheme>://<host>/home and Set-Cookie sid=<random>; Domain=<host without port>; ...
//         GET /home    an HTML page with an absolute link to <scheme>://<host>/profile
//         GET /whoami  what the app believes: {"ip", "scheme", "host"} (JSON)
'use strict';

const crypto = require('crypto');
const express = require('express');

const FIX = process.env.HOST_FIX === '1';

const app = express();
app.set('trust proxy', 1); // "trust first proxy": X-Forwarded-Proto, -For and -Host from the front end

// The host the app believes it is served at (with port, for URLs) and the name for a cookie's Domain.
function publicHost(req) {
  return FIX ? req.host : req.get('host');
}
function cookieDomain(req) {
  return FIX ? req.hostname : req.get('host').replace(/:\d+$/, '');
}

app.get('/login', (req, res) => {
  res.cookie('sid', crypto.randomBytes(16).toString('hex'), {
    domain: cookieDomain(req), path: '/', secure: true, httpOnly: true, sameSite: 'lax',
  });
  res.redirect(302, `${req.protocol}://${publicHost(req)}/home`);
});
app.get('/home', (req, res) => {
  res.type('html').send(`<p>Welcome. <a href="${req.protocol}://${publicHost(req)}/profile">profile</a></p>`);
});
app.get('/profile', (req, res) => res.type('html').send('<p>your profile</p>'));
app.get('/whoami', (req, res) => res.json({ ip: req.ip, scheme: req.protocol, host: publicHost(req) }));

const port = Number(process.env.PORT || 3000);
app.listen(port, '127.0.0.1', () => console.log(`host-app listening on ${port}${FIX ? ' (HOST_FIX)' : ''}`));
