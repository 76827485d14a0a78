// Koa 3 + koa-session with a Secure cookie and app.proxy = true. When the request does not look secure,
// `cookies` throws "Cannot send secure cookie over unencrypted connection": HTTP 500 [frameworks.md 2.2].
'use strict';

const Koa = require('koa');
const { default: session } = require('koa-session');

const app = new Koa();
app.keys = ['offload-test-key'];
app.proxy = true;
if (process.env.SEED_FIX === '1') {
  app.use(async (ctx, next) => {
    if (ctx.get('x-arr-ssl') && !ctx.get('x-forwarded-proto')) ctx.req.headers['x-forwarded-proto'] = 'https';
    await next();
  });
}
app.use(session({ key: 'koa.sess', secure: true, httpOnly: true, sameSite: 'lax' }, app));
app.use(async (ctx) => {
  if (ctx.path === '/login') {
    ctx.session.user = 'demo';
    ctx.body = { loggedIn: true, secure: ctx.secure };
  } else {
    ctx.body = { user: ctx.session.user || null };
  }
});

const port = Number(process.env.PORT || 3000);
app.listen(port, '127.0.0.1', () => console.log(`koa session-app listening on ${port}`));
