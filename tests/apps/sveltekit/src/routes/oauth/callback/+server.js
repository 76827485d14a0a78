export function GET() {
	return new Response('callback reached\n', { headers: { 'content-type': 'text/plain' } });
}
