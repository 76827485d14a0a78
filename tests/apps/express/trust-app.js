// Express trusting a number of proxy hops, for offload's trust-counting tests.
//   PORT=3000 TRUST_HOPS=2 node trust-app.js
//   GET /whoami   the app's idea of the client: {"ip": req.ip, "protocol": req.protocol} (JSON)
// 'trust proxy' N: req.ip is the Nth X-Forwarded-For entry from the right (https://expressjs.com/en/guide/behind-proxies.html).
'use strict';

const express = require('express');

const app = express();
app.set('trust proxy', Number(process.env.TRUST_HOPS || 1));
app.get('/whoami', (req, res) => res.json({ ip: req.ip, protocol: req.protocol }));
app.listen(Number(process.env.PORT || 3000), '127.0.0.1');
