export default async function Account({ searchParams }) {
  const { saved } = await searchParams;
  return <p>your account{saved ? ` (saved ${saved})` : ''}</p>;
}
