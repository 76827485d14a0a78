// A form whose action is a Server Action. React renders it as
//   <form action="" encType="multipart/form-data" method="POST"><input type="hidden" name="$ACTION_ID_<id>"/>...
// so a test can scrape the id from GET / and submit it the way a browser without JavaScript does:
//   curl -H 'Origin: https://localhost:8443' -F '$ACTION_ID_<id>=' -F name=demo http://127.0.0.1:$PORT/
// -> 303 Location: /account?saved=demo; when the Origin's host matches neither X-Forwarded-Host nor Host: 500.
// With JavaScript the browser sends a fetch instead: header `Next-Action: <id>`, multipart body (-F '0=["$K1"]').
import { redirect } from 'next/navigation';

async function save(formData) {
  'use server';
  redirect(`/account?saved=${encodeURIComponent(formData.get('name') || '')}`);
}

export default function Home() {
  return (
    <main>
      <h1>offload Next.js test app</h1>
      <form action={save}>
        <input name="name" defaultValue="demo" />
        <button type="submit">Save</button>
      </form>
    </main>
  );
}
