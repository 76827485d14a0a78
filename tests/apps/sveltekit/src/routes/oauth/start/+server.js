// An OAuth client's redirect_uri, built from url.origin (what adapter-node believes the request came to).
import { redirect } from '@sveltejs/kit';

export function GET({ url }) {
	const callback = encodeURIComponent(`${url.origin}/oauth/callback`);
	redirect(302, `http://127.0.0.1:9/authorize?client_id=x&redirect_uri=${callback}`);
}
