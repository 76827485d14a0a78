// An app that misbehaves on purpose, for offload's fault tests (node's http module only).
//   GET  /echo/<anything>  a body derived from the path (sha256 hex of the path, 64 times): checkable by the client
//   GET  /download         5 MiB of deterministic bytes, streamed in 64 KiB chunks (chunked encoding)
//   POST /upload           answers the sha256 of the body it received
//   GET  /reset            sends headers and part of a body, then resets the connection
//   GET  /slow-reference   answers at once, but takes 3 s when X-Forwarded-Proto: https is set (offload's
//                          reference request under azure-windows-legacy); the Set-Cookie differs too
//   GET  /seen             the request headers it received, as JSON
'use strict';

const http = require('http');
const crypto = require('crypto');

const MIB = 1024 * 1024;
function chunk(i) {
  return crypto.createHash('sha512').update(`chunk-${i}`).digest().toString('hex').repeat(512).slice(0, 64 * 1024);
}

http.createServer((req, res) => {
  const url = req.url.split('?')[0];
  if (url.startsWith('/echo/')) {
    const body = crypto.createHash('sha256').update(url).digest('hex').repeat(64);
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
    return res.end(body);
  }
  if (url === '/download') {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    let i = 0;
    const more = () => {
      while (i < (5 * MIB) / (64 * 1024)) {
        if (!res.write(chunk(i++))) return res.once('drain', more);
      }
      res.end();
    };
    return more();
  }
  if (url === '/upload') {
    const hash = crypto.createHash('sha256');
    let size = 0;
    req.on('data', (d) => { hash.update(d); size += d.length; });
    return req.on('end', () => res.end(JSON.stringify({ size, sha256: hash.digest('hex') })));
  }
  if (url === '/reset') {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '100000' });
    res.write('x'.repeat(1000));
    return setTimeout(() => req.socket.resetAndDestroy(), 50);
  }
  if (url === '/slow-reference') {
    const reference = req.headers['x-forwarded-proto'] === 'https';
    return setTimeout(() => {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Set-Cookie': reference ? 'late=1; Secure' : 'early=1; Secure' });
      res.end('ok');
    }, reference ? 3000 : 0);
  }
  if (url === '/seen') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(JSON.stringify(req.rawHeaders));
  }
  res.writeHead(404);
  res.end();
}).listen(Number(process.env.PORT || 3000), '127.0.0.1');
