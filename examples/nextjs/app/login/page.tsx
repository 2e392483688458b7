/* app/login/page.tsx - sign in with e-mail and password. */
import Link from 'next/link';
import { LoginForm } from '../auth-forms';

export default async function LoginPage({ searchParams }: { searchParams: Promise<{ next?: string }> }) {
  const { next } = await searchParams;
  return (
    <>
      <h1>Log in</h1>
      <LoginForm next={next} />
      <p className="muted">New here? <Link href="/signup">Sign up</Link></p>
    </>
  );
}
