// Sets a cookie with SvelteKit's defaults (httpOnly, sameSite=lax, and Secure unless url is http://localhost)
// and redirects to the absolute /account URL on the origin SvelteKit believes the request came to.
import { redirect } from '@sveltejs/kit';

export function GET({ cookies, url }) {
	cookies.set('session', 'demo', { path: '/' });
	redirect(303, new URL('/account', url.origin).href);
}
