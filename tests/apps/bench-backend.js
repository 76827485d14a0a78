// A fast backend for scripts/bench: every path answers a small HTML page with a Secure session cookie, the way a
// typical app page looks to offload's rules (a textual body to scan, a cookie to parse).
'use strict';

const http = require('http');

const body = Buffer.from('<!doctype html><title>bench</title><ul>' +
  Array.from({ length: 20 }, (_, i) => `<li><a href="/items/${i}">item ${i}</a></li>`).join('') + '</ul>');
http.createServer((req, res) => {
  res.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': body.length,
    'Set-Cookie': 'sid=bench; Path=/; HttpOnly; Secure; SameSite=Lax',
  });
  res.end(body);
}).listen(Number(process.env.PORT || 3000), '127.0.0.1');
