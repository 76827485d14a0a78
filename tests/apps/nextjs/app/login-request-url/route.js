// The docs' own pattern, NextResponse.redirect(new URL('/account', request.url)): request.url is
// http(s)://localhost:<port next listens on>/..., whatever Host or X-Forwarded-Host says.
import { NextResponse } from 'next/server';

export function GET(request) {
  return NextResponse.redirect(new URL('/account', request.url));
}
