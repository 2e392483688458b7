'use server';
/*
 * app/preferences/actions.ts - the mail preferences page's server action:
 * save the three categories, or unsubscribe from the category of the
 * mail's link. With the link's token (no sign-in needed) the token is the
 * authority; without it, the session cookie.
 */
import type { MailPreferences } from '@libcommunity/node';
import { getStore, isCommunityError, sessionActor } from '@/lib/community';

export type Categories = MailPreferences['preferences'];
export type Category = keyof Categories;

/** What the action returns: a note or an error, and the member's categories as now stored. */
export type PrefsState = { ok?: string; error?: string; prefs?: Categories };

const NAMES: Record<Category, string> = {
  newsletters: 'newsletters',
  event_reminders: 'event reminders',
  waitlist_news: 'waitlist news',
};

export async function updatePreferences(_prev: PrefsState, fd: FormData): Promise<PrefsState> {
  const raw = fd.get('token');
  const token = typeof raw === 'string' && raw ? raw : undefined;
  const actor = token ? undefined : await sessionActor();
  try {
    const store = await getStore();
    if (fd.get('intent') === 'unsubscribe' && token) {
      const r = await store.mail.unsubscribe({ token });
      const now = await store.mail.preferences_get({ token });
      return { ok: `You are unsubscribed: you will no longer get ${NAMES[r.category]}.`, prefs: now.preferences };
    }
    const now = await store.mail.preferences_set({
      ...(token ? { token } : {}),
      newsletters: fd.get('newsletters') === 'on',
      event_reminders: fd.get('event_reminders') === 'on',
      waitlist_news: fd.get('waitlist_news') === 'on',
    }, actor);
    return { ok: 'Your choices are saved.', prefs: now.preferences };
  } catch (e) {
    if (isCommunityError(e)) {
      if (e.code === 'CM_EINVAL' && e.field === 'token')
        return { error: 'This link is not valid. Use the link of a recent mail, or log in.' };
      if (e.code === 'CM_EAUTH')
        return { error: 'Your session has expired. Log in again.' };
      return { error: e.message };
    }
    throw e;
  }
}
