/*
 * app/tickets/page.tsx - "My tickets": the signed-in member's orders
 * (orders.mine) and, for each valid ticket, its check-in code as a QR image
 * (tickets.qr returns an SVG document; it is shown through a data: URL, so
 * nothing of it runs as markup of the page).
 */
import Link from 'next/link';
import { redirect } from 'next/navigation';
import { currentMember, getStore, sessionActor } from '@/lib/community';
import { money } from '../money';

const STATE_TEXT: Record<string, string> = {
  reserved: 'awaiting payment',
  pending_payment: 'payment in progress',
  paid: 'paid',
  partially_refunded: 'partially refunded',
  refunded: 'refunded',
  cancelled: 'cancelled',
  expired: 'expired (not paid in time)',
};

export default async function MyTickets() {
  const me = await currentMember();
  if (!me)
    redirect('/login?next=/tickets');
  const [store, actor] = await Promise.all([getStore(), sessionActor()]);
  const orders = (await store.orders.mine({ limit: 50 }, actor)).items;
  const qrs = new Map<number, string>();
  await Promise.all(orders.flatMap((o) => (o.tickets ?? [])
    .filter((t) => t.status === 'valid')
    .map(async (t) => {
      const q = await store.tickets.qr({ ticket_id: t.id }, actor);
      qrs.set(t.id, `data:image/svg+xml;base64,${Buffer.from(q.qr_svg).toString('base64')}`);
    })));
  return (
    <>
      <h1>My tickets</h1>
      {orders.length === 0 && <p className="muted" data-testid="no-tickets">You have no tickets yet.</p>}
      {orders.map((o) => (
        <section className="card" key={o.id} data-testid="order">
          <h2>
            <Link href={`/events/${o.event_id}`}>{o.event_title}</Link>{' '}
            <Link href={`/tickets/${o.id}`} className="muted">(order {o.id})</Link>
          </h2>
          <p className="muted">
            {o.quantity} × {o.ticket_type_name} ·{' '}
            {o.total_minor === 0 ? 'free' : money(o.total_minor, o.currency)} ·{' '}
            <span className="badge" data-testid="order-state">{STATE_TEXT[o.state] ?? o.state}</span>
            {o.refunded_minor > 0 && <> · {money(o.refunded_minor, o.currency)} refunded</>}
          </p>
          <div className="tickets">
            {(o.tickets ?? []).map((t) => (
              <figure key={t.id} data-testid="ticket">
                {qrs.has(t.id) ? (
                  <img src={qrs.get(t.id)} width={180} height={180} data-testid="ticket-qr"
                    alt={`QR code of ticket ${t.serial} of ${o.quantity}`} />
                ) : (
                  <div className="void">void</div>
                )}
                <figcaption>
                  Ticket {t.serial}/{o.quantity}
                  {t.checked_in_at && <> · checked in</>}
                </figcaption>
              </figure>
            ))}
          </div>
        </section>
      ))}
    </>
  );
}
