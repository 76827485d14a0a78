// The origin Next.js believes the request came to. request.url / request.nextUrl always carry the address
// `next start` listens on (http(s)://localhost:PORT, by design: https://github.com/vercel/next.js/issues/37536),
// and the maintainers' advice there is to read X-Forwarded-Host / Host yourself. The scheme stays Next's own:
// request.nextUrl.protocol is https: only when X-Forwarded-Proto contains "https" (X-ARR-SSL is not read).
export function publicOrigin(request) {
  const host = request.headers.get('x-forwarded-host')?.split(',')[0].trim() || request.headers.get('host');
  return `${request.nextUrl.protocol}//${host}`;
}
