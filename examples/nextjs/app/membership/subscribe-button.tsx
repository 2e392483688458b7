'use client';
/*
 * app/membership/subscribe-button.tsx - one Subscribe button (a tier and a
 * billing interval), showing the library's answer when it refuses.
 */
import { useActionState } from 'react';
import { subscribe, type ShopState } from '../shop-actions';

const initial: ShopState = {};

export function SubscribeButton({ tierId, interval, label }: {
  tierId: number; interval: 'month' | 'year'; label: string;
}) {
  const [state, action, busy] = useActionState(subscribe.bind(null, tierId), initial);
  return (
    <form action={action}>
      <input type="hidden" name="interval" value={interval} />
      <button type="submit" disabled={busy}>{label}</button>
      {state.error && <p className="error" role="alert">{state.error}</p>}
    </form>
  );
}
