/*
 * app/tickets/[order]/page.tsx - one order of the signed-in member: where
 * the payment provider's checkout page sends the buyer back. A paid order
 * shows its tickets with their check-in codes as QR images (tickets.qr); an
 * order whose payment has not arrived yet says so.
 */
import Link from 'next/link';
import { notFound, redirect } from 'next/navigation';
import type { Order } from '@libcommunity/node';
import { currentMember, getStore, isCommunityError, sessionActor } from '@/lib/community';
import { money } from '../../money';

const STATE_TEXT: Record<string, string> = {
  reserved: 'awaiting payment',
  pending_payment: 'payment in progress',
  paid: 'paid',
  partially_refunded: 'partially refunded',
  refunded: 'refunded',
  cancelled: 'cancelled',
  expired: 'expired (not paid in time)',
};

export default async function OrderPage({ params }: { params: Promise<{ order: string }> }) {
  const id = Number((await params).order);
  if (!Number.isSafeInteger(id) || id < 1)
    notFound();
  const me = await currentMember();
  if (!me)
    redirect(`/login?next=/tickets/${id}`);
  const [store, actor] = await Promise.all([getStore(), sessionActor()]);
  let o: Order;
  try {
    o = await store.orders.get({ order_id: id }, actor);
  } catch (e) {
    if (isCommunityError(e) && (e.code === 'CM_ENOTFOUND' || e.code === 'CM_EPERM'))
      notFound();
    throw e;
  }
  /* orders.get carries ids; the event and the ticket type give the names */
  const [ev, types] = await Promise.all([
    store.events.get({ event_id: o.event_id }, actor).catch(() => null),
    store.ticket_types.list({ event_id: o.event_id }, actor).catch(() => null),
  ]);
  const title = o.event_title ?? ev?.title ?? `Event ${o.event_id}`;
  const typeName = o.ticket_type_name ?? types?.items.find((t) => t.id === o.ticket_type_id)?.name ?? 'ticket';
  const valid = (o.tickets ?? []).filter((t) => t.status === 'valid');
  const qrs = await Promise.all(valid.map(async (t) => {
    const q = await store.tickets.qr({ ticket_id: t.id }, actor);
    return { ticket: t, src: `data:image/svg+xml;base64,${Buffer.from(q.qr_svg).toString('base64')}` };
  }));
  return (
    <article>
      <h1>
        Order {o.id}: <Link href={`/events/${o.event_id}`} data-testid="order-event">{title}</Link>
      </h1>
      <p>
        {o.quantity} × {typeName} ·{' '}
        {o.total_minor === 0 ? 'free' : money(o.total_minor, o.currency)} ·{' '}
        <span className="badge" data-testid="order-state">{STATE_TEXT[o.state] ?? o.state}</span>
      </p>
      {(o.state === 'reserved' || o.state === 'pending_payment') && (
        <p className="muted" data-testid="order-waiting">
          The payment has not reached us yet; this page shows your tickets once it has.
        </p>
      )}
      <div className="tickets">
        {qrs.map(({ ticket, src }) => (
          <figure key={ticket.id} data-testid="ticket">
            <img src={src} width={220} height={220} data-testid="ticket-qr"
              alt={`QR code of ticket ${ticket.serial} of ${o.quantity}`} />
            <figcaption>Ticket {ticket.serial}/{o.quantity}</figcaption>
          </figure>
        ))}
      </div>
      <p><Link href="/tickets">All my tickets</Link></p>
    </article>
  );
}
