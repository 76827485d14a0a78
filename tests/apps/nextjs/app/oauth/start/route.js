// An OAuth client's redirect_uri, built from the origin Next.js believes the request came to.
import { NextResponse } from 'next/server';
import { publicOrigin } from '../../../lib/origin';

export function GET(request) {
  const callback = encodeURIComponent(`${publicOrigin(request)}/oauth/callback`);
  return NextResponse.redirect(`http://127.0.0.1:9/authorize?client_id=x&redirect_uri=${callback}`);
}
