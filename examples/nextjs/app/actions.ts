'use server';
/*
 * app/actions.ts - server actions: sign up, log in, log out, RSVP, cancel,
 * create an event. Each one passes the caller's session to the library,
 * which does every check (input schema, role, per-event permissions).
 */
import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { revalidatePath } from 'next/cache';
import type { EventsCreateInput } from '@libcommunity/node';
import { getStore, isCommunityError, sessionActor, SESSION_COOKIE } from '@/lib/community';

export type FormState = { error?: string; field?: string; ok?: string };

const str = (fd: FormData, k: string) => {
  const v = fd.get(k);
  return typeof v === 'string' ? v.trim() : '';
};

function failure(e: unknown): FormState {
  if (isCommunityError(e)) {
    const messages: Record<string, string> = {
      CM_EEXISTS: 'An account with this e-mail address already exists.',
      CM_EAUTH: 'Wrong e-mail address or password, or your session has expired.',
      CM_EPERM: 'You are not allowed to do this.',
    };
    return { error: messages[e.code] ?? e.message, field: e.field };
  }
  throw e;
}

function secureCookies(): boolean {
  if (process.env.COOKIE_SECURE !== undefined)
    return process.env.COOKIE_SECURE === '1';
  return process.env.NODE_ENV === 'production';
}

async function startSession(session: { token: string; expires_at: string }) {
  (await cookies()).set(SESSION_COOKIE, session.token, {
    httpOnly: true,
    sameSite: 'lax',
    path: '/',
    secure: secureCookies(),
    expires: new Date(session.expires_at),
  });
}

/** Where to go after signing in: a local path only. */
function nextPath(fd: FormData): string {
  const next = str(fd, 'next');
  return next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

export async function signup(_prev: FormState, fd: FormData): Promise<FormState> {
  try {
    const store = await getStore();
    const r = await store.members.signup({
      email: str(fd, 'email'), name: str(fd, 'name'), password: String(fd.get('password') ?? ''),
    });
    await startSession(r.session);
  } catch (e) {
    return failure(e);
  }
  redirect(nextPath(fd));
}

export async function login(_prev: FormState, fd: FormData): Promise<FormState> {
  try {
    const store = await getStore();
    const r = await store.auth.login({
      email: str(fd, 'email'), password: String(fd.get('password') ?? ''),
    });
    await startSession(r.session);
  } catch (e) {
    return failure(e);
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
    const r = await store.rsvps.add({ event_id: eventId }, await sessionActor());
    revalidatePath(`/events/${eventId}`);
    return { ok: r.status === 'waitlisted' ? 'You are on the waitlist.' : 'You are going.' };
  } catch (e) {
    return failure(e);
  }
}

export async function cancelRsvp(eventId: number, _prev: FormState, _fd: FormData): Promise<FormState> {
  try {
    const store = await getStore();
    await store.rsvps.cancel({ event_id: eventId }, await sessionActor());
    revalidatePath(`/events/${eventId}`);
    return { ok: 'Your RSVP is cancelled.' };
  } catch (e) {
    return failure(e);
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
    return failure(e);
  }
  revalidatePath('/');
  redirect(`/events/${id}`);
}
