// Express 5 forcing HTTPS itself: `if (!req.secure) redirect to https://`. Behind a front end that does not
// send X-Forwarded-Proto the request never looks secure, so it redirects to its own https URL forever
// (express-sslify on Azure, frameworks.md 2.1). SEED_FIX=1 adds the x-arr-ssl middleware.
'use strict';

const express = require('express');

const app = express();
app.set('trust proxy', 1);
if (process.env.SEED_FIX === '1') {
  app.use((req, res, next) => {
    if (req.headers['x-arr-ssl'] && !req.headers['x-forwarded-proto']) req.headers['x-forwarded-proto'] = 'https';
    next();
  });
}
app.use((req, res, next) => {
  if (!req.secure) return res.redirect(301, `https://${req.get('host')}${req.originalUrl}`);
  next();
});
app.get('/account', (req, res) => res.type('html').send('<p>your account</p>'));

const port = Number(process.env.PORT || 3000);
app.listen(port, '127.0.0.1', () => console.log(`https-redirect-app listening on ${port}`));
