'use server';
/*
 * app/actions.ts - server actions: sign up, log in, log out, RSVP, cancel,
 * create an event. Each one passes the caller's session to the library,
 * which does every check (input schema, role, per-event permissions).
 */
import { cookies, headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { revalidatePath } from 'next/cache';
import type { EventsCreateInput, Session } from '@libcommunity/node';
import { getStore, isCommunityError, sessionActor, SESSION_COOKIE } from '@/lib/community';
import { safeNextPath, secureCookieProblem } from '@/lib/safety';

/** What a form action returns: an error (and its field), a success note, the
 * submitted values (so a failed submission keeps what was typed; never the
 * password) and, after an RSVP, the waitlist position. */
export type FormState = {
  error?: string;
  field?: string;
  ok?: string;
  values?: Record<string, string>;
  position?: number | null;
};

const str = (fd: FormData, k: string) => {
  const v = fd.get(k);
  return typeof v === 'string' ? v.trim() : '';
};

/** The submitted text fields, without secrets, to refill the form. */
function kept(fd: FormData): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of fd.entries())
    if (typeof v === 'string' && k !== 'password' && !k.startsWith('$'))
      out[k] = v;
  return out;
}

/** A library error as a form message. The library's message starts with the
 * field name ("end_local: ..."); the form names the field itself, so that
 * prefix is dropped. `context` picks the wording of CM_EAUTH. */
function failure(e: unknown, fd: FormData | null, context: 'login' | 'session' = 'session'): FormState {
  if (isCommunityError(e)) {
    const messages: Record<string, string> = {
      CM_EEXISTS: 'An account with this e-mail address already exists.',
      CM_EAUTH: context === 'login'
        ? 'Wrong e-mail address or password.'
        : 'Your session has expired. Log in again.',
      CM_EPERM: 'You are not allowed to do this.',
    };
    let message = messages[e.code] ?? e.message;
    if (e.field && message.startsWith(`${e.field}: `))
      message = message.slice(e.field.length + 2);
    return { error: message, field: e.field || undefined, values: fd ? kept(fd) : undefined };
  }
  throw e;
}

/** Whether the session cookie is marked Secure: COOKIE_SECURE=1|0, else in production. */
function secureCookies(): boolean {
  if (process.env.COOKIE_SECURE !== undefined)
    return process.env.COOKIE_SECURE === '1';
  return process.env.NODE_ENV === 'production';
}

/** Before signing in: a Secure cookie sent over plain HTTP to a host other
 * than localhost is dropped by the browser, so the sign-in would seem to work
 * and then be lost. Refuse it with an explanation instead. */
async function cookieProblem(fd: FormData): Promise<FormState | null> {
  if (!secureCookies())
    return null;
  const h = await headers();
  const problem = secureCookieProblem({
    host: h.get('host'), origin: h.get('origin'), forwardedProto: h.get('x-forwarded-proto'),
  });
  return problem ? { error: problem, values: kept(fd) } : null;
}

async function startSession(session: Session | undefined) {
  if (!session)
    return;
  (await cookies()).set(SESSION_COOKIE, session.token, {
    httpOnly: true,
    sameSite: 'lax',
    path: '/',
    secure: secureCookies(),
    expires: new Date(session.expires_at),
  });
}

/** Where to go after signing in: a same-origin relative path only. */
function nextPath(fd: FormData): string {
  return safeNextPath(str(fd, 'next'));
}

export async function signup(_prev: FormState, fd: FormData): Promise<FormState> {
  const refused = await cookieProblem(fd);
  if (refused)
    return refused;
  try {
    const store = await getStore();
    const r = await store.members.signup({
      email: str(fd, 'email'), name: str(fd, 'name'), password: String(fd.get('password') ?? ''),
    });
    await startSession(r.session);
  } catch (e) {
    return failure(e, fd);
  }
  redirect(nextPath(fd));
}

export async function login(_prev: FormState, fd: FormData): Promise<FormState> {
  const refused = await cookieProblem(fd);
  if (refused)
    return refused;
  try {
    const store = await getStore();
    const r = await store.auth.login({
      email: str(fd, 'email'), password: String(fd.get('password') ?? ''),
    });
    await startSession(r.session);
  } catch (e) {
    return failure(e, fd, 'login');
  }
  redirect(nextPath(fd));
}

export async function logout(): Promise<void> {
  const jar = await cookies();
  const token = jar.get(SESSION_COOKIE)?.value;
  if (token) {
    const store = await getStore();
    await store.auth.logout({ token }, { token }).catch(() => undefined);
  }
  jar.delete(SESSION_COOKIE);
  redirect('/');
}

export async function rsvp(eventId: number, _prev: FormState, _fd: FormData): Promise<FormState> {
  try {
    const store = await getStore();
    const r = await store.rsvps.add({ event_id: eventId }, await sessionActor()) as {
      status: string; waitlist_position?: number | null;
    };
    revalidatePath(`/events/${eventId}`);
    return r.status === 'waitlisted'
      ? { ok: 'You are on the waitlist.', position: r.waitlist_position ?? null }
      : { ok: 'You are going.' };
  } catch (e) {
    return failure(e, null);
  }
}

export async function cancelRsvp(eventId: number, _prev: FormState, _fd: FormData): Promise<FormState> {
  try {
    const store = await getStore();
    await store.rsvps.cancel({ event_id: eventId }, await sessionActor());
    revalidatePath(`/events/${eventId}`);
    return { ok: 'Your RSVP is cancelled.' };
  } catch (e) {
    return failure(e, null);
  }
}

export async function createEvent(_prev: FormState, fd: FormData): Promise<FormState> {
  let id: number;
  try {
    const store = await getStore();
    const input: EventsCreateInput = {
      title: str(fd, 'title'),
      format: (str(fd, 'format') || 'in_person') as EventsCreateInput['format'],
      start_local: str(fd, 'start_local'),
      end_local: str(fd, 'end_local'),
      timezone: str(fd, 'timezone') || 'UTC',
      publish: true,
    };
    if (str(fd, 'description'))
      input.description = str(fd, 'description');
    if (str(fd, 'venue'))
      input.venue = str(fd, 'venue');
    if (str(fd, 'online_url'))
      input.online_url = str(fd, 'online_url');
    if (str(fd, 'capacity'))
      input.capacity = Number(str(fd, 'capacity'));
    const ev = await store.events.create(input, await sessionActor());
    id = ev.id;
  } catch (e) {
    return failure(e, fd);
  }
  revalidatePath('/');
  redirect(`/events/${id}`);
}

/** "Forgot password": the library always answers the same (whether the
 * address belongs to a member is not revealed) and queues the mail, which a
 * worker (`community worker --smtp ...`) delivers. */
export async function requestPasswordReset(_prev: FormState, fd: FormData): Promise<FormState> {
  try {
    const store = await getStore();
    await store.auth.password_reset_request({ email: str(fd, 'email') });
  } catch (e) {
    return failure(e, fd);
  }
  return { ok: 'If an account uses this address, a link to choose a new password is on its way.' };
}

/** The link's second step: a new password for the token (every session of
 * the member ends), then sign in with it. */
export async function resetPassword(_prev: FormState, fd: FormData): Promise<FormState> {
  try {
    const store = await getStore();
    await store.auth.password_reset({
      token: str(fd, 'token'), new_password: String(fd.get('password') ?? ''),
    });
  } catch (e) {
    if (isCommunityError(e) && e.code === 'CM_EAUTH')
      return { error: 'This link is no longer valid. Ask for a new one.' };
    return failure(e, null);
  }
  redirect('/login?reset=1');
}

/** "E-mail me a sign-in link". */
export async function requestMagicLink(_prev: FormState, fd: FormData): Promise<FormState> {
  try {
    const store = await getStore();
    await store.auth.magic_link_request({ email: str(fd, 'email') });
  } catch (e) {
    return failure(e, fd);
  }
  return { ok: 'If an account uses this address, a sign-in link is on its way.' };
}

/** Sign in with the link's token. A button press, not the page load, uses
 * the token: mail scanners that open links do not sign anyone in. */
export async function magicLogin(_prev: FormState, fd: FormData): Promise<FormState> {
  const refused = await cookieProblem(fd);
  if (refused)
    return refused;
  try {
    const store = await getStore();
    const r = await store.auth.magic_link_login({ token: str(fd, 'token') });
    await startSession(r.session);
  } catch (e) {
    if (isCommunityError(e) && e.code === 'CM_EAUTH')
      return { error: 'This link is no longer valid. Ask for a new one.' };
    return failure(e, null);
  }
  redirect('/');
}
