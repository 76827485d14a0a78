// A form action. Before it runs, SvelteKit's CSRF check (kit.csrf.checkOrigin, on by default) answers 403
// "Cross-site POST form submissions are forbidden" unless the Origin header equals url.origin, and adapter-node
// builds url.origin as https://<Host> unless PROTOCOL_HEADER / HOST_HEADER / ORIGIN say otherwise.
import { redirect } from '@sveltejs/kit';

export const actions = {
	default: async ({ request }) => {
		const data = await request.formData();
		redirect(303, `/account?saved=${encodeURIComponent(data.get('name') ?? '')}`);
	}
};
