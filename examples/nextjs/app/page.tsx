/*
 * app/page.tsx - the home page: search box, "events for you" (when the
 * library has a recommendation operation and someone is signed in), and the
 * upcoming events. A server component: it awaits the store directly.
 */
import Link from 'next/link';
import type { Event as CommunityEvent } from '@libcommunity/node';
import {
  formatWhen, recommendedEvents, searchEvents, searchOp, sessionActor, upcomingEvents,
} from '@/lib/community';

function EventList({ events, testid }: { events: CommunityEvent[]; testid: string }) {
  if (!events.length)
    return <p className="muted" data-testid={`${testid}-empty`}>No events.</p>;
  return (
    <ul className="events" data-testid={testid}>
      {events.map((e) => (
        <li key={e.id}>
          <Link href={`/events/${e.id}`}>{e.title}</Link>
          <div className="muted">
            {formatWhen(e)}{e.venue ? ` · ${e.venue}` : ''}
            {e.counts && (
              <> · {e.counts.going_seats} going{e.counts.capacity != null ? ` of ${e.counts.capacity}` : ''}
                {e.counts.waitlisted ? `, ${e.counts.waitlisted} on the waitlist` : ''}</>
            )}
          </div>
        </li>
      ))}
    </ul>
  );
}

export default async function Home({ searchParams }: { searchParams: Promise<{ q?: string | string[] }> }) {
  const raw = (await searchParams).q;
  const q = (Array.isArray(raw) ? raw[0] : raw)?.trim() ?? '';
  const actor = await sessionActor();
  const [found, forYou, upcoming] = await Promise.all([
    q ? searchEvents(q, actor) : null,
    recommendedEvents(actor).catch(() => null),
    upcomingEvents(actor),
  ]);
  return (
    <>
      <form className="search" role="search" action="/">
        <input name="q" defaultValue={q} aria-label="Search events"
          placeholder={searchOp ? 'Search events by meaning, e.g. "outdoor coding"' : 'Search event titles'} />
        <button type="submit">Search</button>
      </form>
      {found && (
        <section>
          <h2>Results for “{q}” <span className="badge">{found.mode === 'semantic' ? 'semantic' : 'title match'}</span></h2>
          <EventList events={found.items} testid="search-results" />
        </section>
      )}
      {forYou && forYou.length > 0 && (
        <section>
          <h2>Events for you</h2>
          <EventList events={forYou} testid="for-you" />
        </section>
      )}
      <section>
        <h1>Upcoming events</h1>
        <EventList events={upcoming} testid="upcoming" />
      </section>
    </>
  );
}
