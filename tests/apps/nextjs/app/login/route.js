// /login -> 307 to the absolute URL of /account on the origin Next.js believes the request came to.
import { NextResponse } from 'next/server';
import { publicOrigin } from '../../lib/origin';

export function GET(request) {
  return NextResponse.redirect(new URL('/account', publicOrigin(request)));
}
