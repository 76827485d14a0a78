// NestJS 12 (@nestjs/core + @nestjs/common + @nestjs/platform-express, Express 5 underneath) with express-session
// and a Secure session cookie, as https://docs.nestjs.com/techniques/session shows. Plain JS: the decorators are
// called by hand instead of with TypeScript's @ syntax.
//
//   PORT=3000 node nest-app.js          listens on 127.0.0.1:3000, plain HTTP
//   FIX=1 PORT=3000 node nest-app.js    app.set('trust proxy', 'loopback') on the NestExpressApplication, the
//                                       code Nest documents: https://docs.nestjs.com/security/rate-limiting#proxies
//                                       (and the hint in https://docs.nestjs.com/techniques/session: "If you have
//                                       your node.js behind a proxy and are using secure: true, you need to set
//                                       "trust proxy" in express.")
//
// Routes: GET /login  puts a user in the session (cookie `connect.sid`, Secure) and returns JSON {loggedIn, secure}
//         GET /me     200 {user} when the session cookie came back, else Nest's 401 {"message":"Unauthorized",...}
//         GET /seen   what Express saw under Nest: req.secure, req.protocol, req.ip, headers (JSON)
//
// What goes wrong: Express only believes X-Forwarded-Proto with 'trust proxy' set, so behind any front end
// req.secure is false and express-session refuses to set the Secure cookie, silently (express-session index.js:
// "not secured" debug line only): 200 OK, no Set-Cookie, and the next request is logged out. The documented fix
// reads X-Forwarded-Proto only; a front end that sends just X-ARR-SSL still gets no cookie (that needs a middleware
// mapping x-arr-ssl to X-Forwarded-Proto: https, as in ../express/session-app.js SEED_FIX).
'use strict';

require('reflect-metadata');
const { NestFactory } = require('@nestjs/core');
const { Controller, Get, Module, Req, UnauthorizedException } = require('@nestjs/common');
const session = require('express-session');

const fix = process.env.FIX === '1';

class AppController {
  login(req) {
    req.session.user = 'demo';
    return { loggedIn: true, secure: req.secure };
  }

  me(req) {
    if (!req.session.user) throw new UnauthorizedException();
    return { user: req.session.user };
  }

  seen(req) {
    return { secure: req.secure, protocol: req.protocol, ip: req.ip, peer: req.socket.remoteAddress, headers: req.headers };
  }
}
// What `@Controller() class AppController { @Get('login') login(@Req() req) {...} }` compiles to.
for (const [method, path] of [['login', 'login'], ['me', 'me'], ['seen', 'seen']]) {
  const descriptor = Object.getOwnPropertyDescriptor(AppController.prototype, method);
  Req()(AppController.prototype, method, 0);
  Get(path)(AppController.prototype, method, descriptor);
}
Controller()(AppController);

class AppModule {}
Module({ controllers: [AppController] })(AppModule);

async function main() {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  if (fix) app.set('trust proxy', 'loopback');
  // ARR=1 (with FIX=1): the fix offload advises for a front end that sends only x-arr-ssl, before the session.
  if (process.env.ARR === '1') {
    app.use((req, res, next) => { if (req.headers['x-arr-ssl'] && !req.headers['x-forwarded-proto']) req.headers['x-forwarded-proto'] = 'https'; next(); });
  }
  app.use(session({
    secret: 'offload-test-secret',
    resave: false,
    saveUninitialized: false,
    cookie: { secure: true, httpOnly: true, sameSite: 'lax' },
  }));
  const port = Number(process.env.PORT || 3000);
  await app.listen(port, '127.0.0.1');
  console.log(`nest-app listening on ${port} (FIX=${fix ? 1 : 0})`);
}

main().catch((err) => { console.error(err); process.exit(1); });
