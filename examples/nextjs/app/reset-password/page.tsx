/*
 * app/reset-password/page.tsx - "forgot password": without a token, ask for
 * a reset link by mail; with the link's ?token=, choose a new password.
 */
import Link from 'next/link';
import { EmailLinkForm, NewPasswordForm } from '../auth-forms';

export default async function ResetPasswordPage({ searchParams }: { searchParams: Promise<{ token?: string }> }) {
  const { token } = await searchParams;
  return token ? (
    <>
      <h1>Choose a new password</h1>
      <NewPasswordForm token={token} />
    </>
  ) : (
    <>
      <h1>Forgot your password?</h1>
      <p className="muted">We send a link to choose a new one to your address.</p>
      <EmailLinkForm kind="reset" />
      <p className="muted"><Link href="/login">Back to log in</Link></p>
    </>
  );
}
