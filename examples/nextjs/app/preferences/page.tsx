/*
 * app/preferences/page.tsx - which mail a member gets (mail.preferences_get
 * / mail.preferences_set): signed in, or without signing in from the link
 * of a mail (?token=..., the signed token of the mail's unsubscribe link),
 * which also offers one button to unsubscribe from that mail's category.
 */
import Link from 'next/link';
import type { MailPreferences } from '@libcommunity/node';
import { currentMember, getStore, isCommunityError, sessionActor } from '@/lib/community';
import { PreferencesForm } from './preferences-form';

export default async function PreferencesPage({ searchParams }: { searchParams: Promise<{ token?: string }> }) {
  const { token } = await searchParams;
  const store = await getStore();
  let prefs: MailPreferences;
  if (token) {
    try {
      prefs = await store.mail.preferences_get({ token });
    } catch (e) {
      if (isCommunityError(e) && (e.code === 'CM_EINVAL' || e.code === 'CM_ENOTFOUND')) {
        return (
          <>
            <h1>Mail preferences</h1>
            <p className="error" role="alert" data-testid="link-invalid">
              This link is not valid. Use the link of a recent mail, or{' '}
              <Link href="/login?next=/preferences">log in</Link> to choose which mail you get.
            </p>
          </>
        );
      }
      throw e;
    }
  } else {
    if (!(await currentMember())) {
      return (
        <>
          <h1>Mail preferences</h1>
          <p><Link href="/login?next=/preferences">Log in</Link> to choose which mail you get, or
            open the link at the bottom of one of our mails.</p>
        </>
      );
    }
    prefs = await store.mail.preferences_get({}, await sessionActor());
  }
  return (
    <>
      <h1>Mail preferences</h1>
      <p className="muted" data-testid="prefs-for">For {prefs.name} ({prefs.email})</p>
      <PreferencesForm token={token} initial={prefs.preferences} />
      <p className="muted">Password resets and sign-in links are always sent.</p>
    </>
  );
}
