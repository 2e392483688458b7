/*
 * lib/community.ts - the app's one store and who is calling.
 *
 * The store is opened once per server process (kept on globalThis so that
 * dev-mode reloads reuse it) from COMMUNITY_DB, a libcommunity URI such as
 * "sqlite:///srv/community/community.db". Every call runs on the libuv
 * thread pool inside the addon, so server components, server actions and
 * route handlers simply await it.
 *
 * The session token from auth.login / members.signup lives in an HttpOnly
 * cookie; it is passed to the library as the actor, which checks it.
 */
import path from 'node:path';
import { cookies } from 'next/headers';
import {
  open, describe, type Actor, type CommunityError, type Event as CommunityEvent, type Member,
  type Result, type SearchHit, type Store,
} from '@libcommunity/node';

export const SESSION_COOKIE = 'cm_session';

/** The database URI: COMMUNITY_DB, or community.db in the working directory. */
export function databaseUri(): string {
  return process.env.COMMUNITY_DB ?? `sqlite://${path.join(process.cwd(), 'community.db')}`;
}

const holder = globalThis as typeof globalThis & { __communityStore?: Promise<Store> };

/** The process-wide store, opened on first use. */
export function getStore(): Promise<Store> {
  if (!holder.__communityStore) {
    // With COMMUNITY_REDIS (as the API hosts and workers have), this process's
    // writes reach their cached reads and theirs reach this one's.
    const redis = process.env.COMMUNITY_REDIS || undefined;
    const redisTimeoutMs = Number(process.env.COMMUNITY_REDIS_TIMEOUT_MS) || undefined;
    holder.__communityStore = open(databaseUri(), { redis, redisTimeoutMs }).catch((err: unknown) => {
      holder.__communityStore = undefined;
      throw err;
    });
  }
  return holder.__communityStore;
}

/** The caller's actor: their session token, or anonymous. */
export async function sessionActor(): Promise<Actor> {
  const token = (await cookies()).get(SESSION_COOKIE)?.value;
  return token ? { token } : undefined;
}

export function isCommunityError(e: unknown): e is CommunityError {
  return e instanceof Error && typeof (e as CommunityError).code === 'string'
    && (e as CommunityError).code.startsWith('CM_');
}

/** The signed-in member, or null (no cookie, or an expired/revoked session). */
export async function currentMember(): Promise<Member | null> {
  const actor = await sessionActor();
  if (!actor)
    return null;
  const store = await getStore();
  try {
    return await store.members.me({}, actor);
  } catch (e) {
    if (isCommunityError(e) && e.code === 'CM_EAUTH')
      return null;
    throw e;
  }
}

/* Roles from least to most trusted; an operation's role admits every role at or above it. */
const ROLE_ORDER = ['anonymous', 'member', 'organizer', 'moderator', 'admin'];

/** The roles that may create events, from events.create's declared role. */
export const organizerRoles: string[] = (() => {
  const op = describe().operations.find((o) => o.name === 'events.create');
  const from = ROLE_ORDER.indexOf(op?.role ?? 'organizer');
  return ROLE_ORDER.slice(from < 0 ? 2 : from);
})();

/** "organizers, moderators and admins" for messages. */
export function rolesText(roles: string[]): string {
  const plural = roles.map((r) => (r === 'admin' ? 'administrators' : `${r}s`));
  return plural.length < 2 ? plural.join('')
    : `${plural.slice(0, -1).join(', ')} and ${plural[plural.length - 1]}`;
}

export const canOrganize = (m: Member | null) => !!m && organizerRoles.includes(m.role);

/* ---------------------------------------------------------------------- */
/* Optional operations, discovered from the operation table.              */
/* ---------------------------------------------------------------------- */

type OpInfo = { name: string; fields: string[] };
const table = describe();

function findOp(candidates: string[]): OpInfo | undefined {
  for (const name of candidates) {
    const op = table.operations.find((o) => o.name === name);
    if (op)
      return { name, fields: Object.keys(op.input.properties) };
  }
  return undefined;
}

/** A semantic search operation, when the library has one. */
export const searchOp = findOp(['search.semantic']);
/** A recommendation operation ("events for you"), when the library has one. */
export const recommendOp = findOp([
  'events.recommended', 'events.recommend', 'events.for_you', 'recommendations.events',
]);

/** Full events for ranked hits ({type, id, score, summary}), in rank order. */
async function eventsOfHits(result: Result, actor: Actor): Promise<CommunityEvent[]> {
  const store = await getStore();
  const hits = ((result.items ?? []) as SearchHit[]).filter((h) => h.type === 'event');
  const events = await Promise.all(hits.map((h) =>
    store.events.get({ event_id: h.id }, actor).catch(() => null)));
  return events.filter((e): e is CommunityEvent => e !== null);
}

/** Search events: the semantic search op if present, else a title filter. */
export async function searchEvents(q: string, actor: Actor): Promise<{
  items: CommunityEvent[];
  mode: 'semantic' | 'title';
}> {
  const store = await getStore();
  if (searchOp) {
    const r = await store.exec(searchOp.name, { query: q, types: ['events'], limit: 20 }, actor);
    return { items: await eventsOfHits(r, actor), mode: 'semantic' };
  }
  const r = await store.events.list({ q, limit: 50 }, actor);
  return { items: r.items, mode: 'title' };
}

/** "Events for you", or null when the library cannot recommend. */
export async function recommendedEvents(actor: Actor): Promise<CommunityEvent[] | null> {
  if (!recommendOp || !actor)
    return null;
  const store = await getStore();
  const input = recommendOp.fields.includes('limit') ? { limit: 5 } : {};
  return eventsOfHits(await store.exec(recommendOp.name, input, actor), actor);
}

export async function upcomingEvents(actor: Actor): Promise<CommunityEvent[]> {
  const store = await getStore();
  return (await store.events.list({ limit: 50 }, actor)).items;
}

/** "Sat 12 Dec 2026, 18:00 (Europe/Paris)" from the event's own wall clock. */
export function formatWhen(e: Pick<CommunityEvent, 'start_local' | 'timezone'>): string {
  const [date, time] = e.start_local.split('T');
  const d = new Date(`${date}T00:00:00Z`);
  const day = d.toLocaleDateString('en-GB', {
    weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC',
  });
  return `${day}, ${time.slice(0, 5)} (${e.timezone})`;
}
