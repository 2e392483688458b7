/* app/signup/page.tsx - create an account; signs in at once (session cookie). */
import Link from 'next/link';
import { SignupForm } from '../auth-forms';

export default async function SignupPage({ searchParams }: { searchParams: Promise<{ next?: string }> }) {
  const { next } = await searchParams;
  return (
    <>
      <h1>Sign up</h1>
      <SignupForm next={next} />
      <p className="muted">Already a member? <Link href="/login">Log in</Link></p>
    </>
  );
}
