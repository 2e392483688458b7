/* app/login/page.tsx - sign in with e-mail and password, or ask for a link by mail. */
import Link from 'next/link';
import { LoginForm } from '../auth-forms';

export default async function LoginPage({ searchParams }: { searchParams: Promise<{ next?: string; reset?: string }> }) {
  const { next, reset } = await searchParams;
  return (
    <>
      <h1>Log in</h1>
      {reset && <p className="ok" role="status" data-testid="reset-done">Your password is changed. Log in with it.</p>}
      <LoginForm next={next} />
      <p className="muted">
        <Link href="/reset-password">Forgot your password?</Link>
        {' · '}
        <Link href="/login/magic">E-mail me a sign-in link</Link>
      </p>
      <p className="muted">New here? <Link href="/signup">Sign up</Link></p>
    </>
  );
}
