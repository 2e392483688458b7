/*
 * app/events/[id]/page.tsx - one event: when, where, going and waitlist
 * counts, the caller's RSVP with RSVP (or "Join waitlist" when full) / cancel
 * buttons, and the ticket types on sale with a Buy button each.
 */
import Link from 'next/link';
import { notFound } from 'next/navigation';
import type { Event as CommunityEvent } from '@libcommunity/node';
import {
  currentMember, formatWhen, getStore, isCommunityError, sessionActor,
} from '@/lib/community';
import { RsvpButtons } from './rsvp-buttons';
import { BuyTickets, type TypeView } from './buy-tickets';
import { money } from '../../money';

export default async function EventPage({ params }: { params: Promise<{ id: string }> }) {
  const id = Number((await params).id);
  if (!Number.isSafeInteger(id) || id < 1)
    notFound();
  const store = await getStore();
  const [actor, me] = await Promise.all([sessionActor(), currentMember()]);
  let ev: CommunityEvent;
  try {
    ev = await store.events.get({ event_id: id }, me ? actor : undefined);
  } catch (e) {
    if (isCommunityError(e) && e.code === 'CM_ENOTFOUND')
      notFound();
    throw e;
  }
  const c = ev.counts;
  /* the types this caller may buy (tier-only types are left out for others) */
  const types: TypeView[] = (await store.ticket_types.list({ event_id: id }, me ? actor : undefined))
    .items.filter((t) => t.active)
    .map((t) => ({
      id: t.id, name: t.name, description: t.description, free: t.price_minor === 0,
      price: t.price_minor === 0 ? 'free' : money(t.price_minor, t.currency),
      available: t.available ?? null, perOrderMax: t.per_order_max,
    }));
  return (
    <article>
      <h1 data-testid="event-title">{ev.title}</h1>
      <p className="muted">
        {formatWhen(ev)} · {ev.format.replace('_', ' ')}{ev.venue ? ` · ${ev.venue}` : ''}
        {ev.status !== 'published' && <> · <span className="badge">{ev.status}</span></>}
      </p>
      {ev.description && <p>{ev.description}</p>}
      {c && (
        <div className="counts">
          <div data-testid="going"><strong>{c.going_seats}</strong>going</div>
          <div data-testid="waitlist"><strong>{c.waitlisted}</strong>on the waitlist</div>
          <div data-testid="seats-left"><strong>{c.seats_left ?? '∞'}</strong>seats left</div>
        </div>
      )}
      {ev.online_url && <p>Join online: <a href={ev.online_url}>{ev.online_url}</a></p>}
      {me ? (
        <RsvpButtons eventId={ev.id} status={ev.my_rsvp ?? null}
          full={c != null && c.seats_left != null && c.seats_left <= 0} />
      ) : (
        <p><Link href={`/login?next=/events/${ev.id}`}>Log in</Link> or{' '}
          <Link href={`/signup?next=/events/${ev.id}`}>sign up</Link> to RSVP.</p>
      )}
      {types.length > 0 && <BuyTickets types={types} signedIn={!!me} />}
      {ev.organizers && ev.organizers.length > 0 && (
        <p className="muted">Organized by {ev.organizers.map((o) => o.name).join(', ')}</p>
      )}
    </article>
  );
}
