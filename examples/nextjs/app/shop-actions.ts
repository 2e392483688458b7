'use server';
/*
 * app/shop-actions.ts - server actions that pay through the payment
 * provider's hosted checkout page: buy tickets (orders.create, then
 * orders.checkout) and subscribe to a membership tier
 * (memberships.subscribe). The library opens the checkout session at the
 * provider and answers its page; the browser is sent there, pays, and the
 * provider sends it back to `return_url` on this app while its signed
 * webhook (app/api/payments/webhook) tells the library what was paid.
 */
import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { getStore, isCommunityError, sessionActor } from '@/lib/community';

export type ShopState = { error?: string };

/** This app's own origin, for the provider's return URL: APP_URL when set
 * (behind a proxy that rewrites Host), else the request's Host. */
async function appOrigin(): Promise<string> {
  if (process.env.APP_URL)
    return process.env.APP_URL.replace(/\/+$/, '');
  const h = await headers();
  const proto = h.get('x-forwarded-proto')?.split(',')[0]?.trim() || 'http';
  return `${proto}://${h.get('host') ?? 'localhost'}`;
}

function problem(e: unknown): ShopState {
  if (isCommunityError(e)) {
    if (e.code === 'CM_EAUTH')
      return { error: 'Your session has expired. Log in again.' };
    if (e.code === 'CM_ECONSTRAINT' && e.field === 'quantity')
      return { error: 'Not enough tickets are left.' };
    const m = e.field && e.message.startsWith(`${e.field}: `) ? e.message.slice(e.field.length + 2) : e.message;
    return { error: m };
  }
  throw e;
}

/** Buy `quantity` tickets of one type: a free order is paid at once and goes
 * straight to its ticket page; a paid one holds the seats and goes to the
 * provider's checkout page, which returns to the same ticket page. */
export async function buyTickets(typeId: number, _prev: ShopState, fd: FormData): Promise<ShopState> {
  const quantity = Number(fd.get('quantity') ?? 1);
  let target: string;
  try {
    const [store, actor] = await Promise.all([getStore(), sessionActor()]);
    if (!actor)
      return { error: 'Log in to buy tickets.' };
    const order = await store.orders.create({ ticket_type_id: typeId, quantity }, actor);
    const page = `${await appOrigin()}/tickets/${order.id}`;
    if (order.state === 'paid') {
      target = page;
    } else {
      const c = await store.orders.checkout({ order_id: order.id, return_url: page }, actor);
      target = c.checkout_url;
    }
  } catch (e) {
    return problem(e);
  }
  redirect(target);
}

/** Subscribe to a tier: a free tier is active at once; a paid one goes to
 * the provider's checkout page, which returns to the membership page. */
export async function subscribe(tierId: number, _prev: ShopState, fd: FormData): Promise<ShopState> {
  const interval = fd.get('interval') === 'year' ? 'year' : 'month';
  let target = '/membership';
  try {
    const [store, actor] = await Promise.all([getStore(), sessionActor()]);
    if (!actor)
      return { error: 'Log in to become a member.' };
    const r = await store.memberships.subscribe({
      tier_id: tierId, interval, return_url: `${await appOrigin()}/membership`,
    }, actor);
    if (r.checkout_url)
      target = r.checkout_url;
  } catch (e) {
    return problem(e);
  }
  redirect(target);
}
