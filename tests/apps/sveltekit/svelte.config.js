import adapter from '@sveltejs/adapter-node';

// precompress off: nothing here is worth gzip/brotli copies, and it keeps the build short.
export default { kit: { adapter: adapter({ precompress: false }) } };
