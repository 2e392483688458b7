/* app/not-found.tsx - shown for unknown pages and events. */
import Link from 'next/link';

export default function NotFound() {
  return (
    <>
      <h1>Not found</h1>
      <p><Link href="/">Back to the events</Link></p>
    </>
  );
}
