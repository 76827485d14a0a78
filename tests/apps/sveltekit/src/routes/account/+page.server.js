export function load({ cookies, url }) {
	return { session: cookies.get('session') ?? null, saved: url.searchParams.get('saved'), origin: url.origin };
}
