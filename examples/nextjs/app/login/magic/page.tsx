/*
 * app/login/magic/page.tsx - sign in without a password: without a token,
 * ask for a sign-in link by mail; with the link's ?token=, one button signs in.
 */
import Link from 'next/link';
import { EmailLinkForm, MagicLoginForm } from '../../auth-forms';

export default async function MagicLinkPage({ searchParams }: { searchParams: Promise<{ token?: string }> }) {
  const { token } = await searchParams;
  return token ? (
    <>
      <h1>Sign in</h1>
      <p className="muted">Use the link from your mail to sign in on this device.</p>
      <MagicLoginForm token={token} />
    </>
  ) : (
    <>
      <h1>E-mail me a sign-in link</h1>
      <EmailLinkForm kind="magic" />
      <p className="muted"><Link href="/login">Log in with a password</Link></p>
    </>
  );
}
