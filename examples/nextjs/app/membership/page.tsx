/*
 * app/membership/page.tsx - membership tiers with their monthly and yearly
 * prices (memberships.tiers), a Subscribe button per price (checkout at the
 * payment provider for a paid tier, app/shop-actions.ts), and the signed-in
 * member's subscriptions (memberships.mine). The provider returns the member
 * here after paying; its webhook has updated the subscription by then.
 */
import Link from 'next/link';
import { currentMember, getStore, sessionActor } from '@/lib/community';
import { money } from '../money';
import { SubscribeButton } from './subscribe-button';

export const dynamic = 'force-dynamic';

const STATUS_TEXT: Record<string, string> = {
  incomplete: 'waiting for the payment',
  trialing: 'trial',
  active: 'active',
  past_due: 'payment overdue',
  canceled: 'canceled',
  unpaid: 'unpaid',
  incomplete_expired: 'checkout abandoned',
};

export default async function Membership() {
  const [store, actor, me] = await Promise.all([getStore(), sessionActor(), currentMember()]);
  const tiers = (await store.memberships.tiers({})).items;
  const mine = me ? (await store.memberships.mine({}, actor)).items : [];
  const current = mine.filter((s) => s.status !== 'incomplete_expired');
  const holds = new Set(current.filter((s) => s.in_good_standing).map((s) => s.tier_id));
  return (
    <>
      <h1>Membership</h1>
      {me && (
        <section className="card" data-testid="my-membership">
          <h2>Your membership</h2>
          {current.length === 0 && <p className="muted" data-testid="no-membership">You are not a member yet.</p>}
          {current.map((s) => (
            <p key={s.id} data-testid="subscription">
              <strong data-testid="subscription-tier">{s.tier_name}</strong> ·{' '}
              {s.interval === 'none' ? 'free' : s.interval === 'year' ? 'yearly' : 'monthly'} ·{' '}
              <span className="badge" data-testid="subscription-status">{STATUS_TEXT[s.status] ?? s.status}</span>
              {s.current_period_end && <> · renews {new Date(s.current_period_end).toDateString()}</>}
              {s.status === 'past_due' && s.grace_ends_at && <> · access until {new Date(s.grace_ends_at).toDateString()}</>}
            </p>
          ))}
        </section>
      )}
      {tiers.map((t) => (
        <section className="card" key={t.id} data-testid="tier">
          <h2 data-testid="tier-name">{t.name}</h2>
          {t.description && <p>{t.description}</p>}
          <p data-testid="tier-prices">
            {t.free ? 'free' : [
              t.monthly_price > 0 ? `${money(t.monthly_price, t.currency)} a month` : null,
              t.yearly_price > 0 ? `${money(t.yearly_price, t.currency)} a year` : null,
            ].filter(Boolean).join(' or ')}
            {t.trial_days > 0 && <> · {t.trial_days} days free</>}
          </p>
          {!me && <p><Link href="/login?next=/membership">Log in</Link> to become a member.</p>}
          {me && holds.has(t.id) && <p className="muted">You are a member of this tier.</p>}
          {me && !holds.has(t.id) && (
            t.free ? <SubscribeButton tierId={t.id} interval="month" label={`Join ${t.name}`} />
              : <>
                {t.monthly_price > 0 && <SubscribeButton tierId={t.id} interval="month" label={`Subscribe monthly to ${t.name}`} />}
                {t.yearly_price > 0 && <SubscribeButton tierId={t.id} interval="year" label={`Subscribe yearly to ${t.name}`} />}
              </>
          )}
        </section>
      ))}
    </>
  );
}
