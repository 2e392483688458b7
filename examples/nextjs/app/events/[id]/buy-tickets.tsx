'use client';
/*
 * app/events/[id]/buy-tickets.tsx - the event's ticket types with their
 * prices and a Buy form each (app/shop-actions.ts: a hold, then the payment
 * provider's checkout page).
 */
import { useActionState } from 'react';
import { buyTickets, type ShopState } from '../../shop-actions';

export type TypeView = {
  id: number; name: string; description: string; price: string; free: boolean;
  available: number | null; perOrderMax: number;
};

const initial: ShopState = {};

function BuyForm({ t, signedIn }: { t: TypeView; signedIn: boolean }) {
  const [state, action, busy] = useActionState(buyTickets.bind(null, t.id), initial);
  const soldOut = t.available !== null && t.available <= 0;
  const max = Math.max(1, Math.min(t.perOrderMax, t.available ?? t.perOrderMax));
  return (
    <li data-testid="ticket-type">
      <strong data-testid="ticket-type-name">{t.name}</strong> ·{' '}
      <span data-testid="ticket-type-price">{t.price}</span>
      {t.available !== null && <span className="muted"> · {t.available} left</span>}
      {t.description && <p className="muted">{t.description}</p>}
      {signedIn && !soldOut && (
        <form action={action}>
          <label>
            Quantity{' '}
            <input type="number" name="quantity" min={1} max={max} defaultValue={1} />
          </label>{' '}
          <button type="submit" disabled={busy} aria-label={`Buy ${t.name}`}>
            {t.free ? 'Get tickets' : 'Buy'}
          </button>
        </form>
      )}
      {soldOut && <p className="muted">Sold out.</p>}
      {state.error && <p className="error" role="alert" data-testid="buy-error">{state.error}</p>}
    </li>
  );
}

export function BuyTickets({ types, signedIn }: { types: TypeView[]; signedIn: boolean }) {
  return (
    <section className="card" data-testid="tickets">
      <h2>Tickets</h2>
      <ul>
        {types.map((t) => <BuyForm key={t.id} t={t} signedIn={signedIn} />)}
      </ul>
      {!signedIn && <p className="muted">Log in to buy tickets.</p>}
    </section>
  );
}
