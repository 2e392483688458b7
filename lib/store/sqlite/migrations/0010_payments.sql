-- 0010_payments: membership tiers and what they unlock, subscriptions, the
-- checkout sessions opened at the payment provider and the webhook inbox
-- (lib/core/ops_pay.c, docs/payments.md). Times are INTEGER microseconds;
-- money is integer minor units with an ISO 4217 code.

-- A tier: free (both prices 0, currency '') or paid (a monthly and/or a
-- yearly price in one currency; 0 = not offered at that interval).
CREATE TABLE membership_tiers (
    id             INTEGER PRIMARY KEY,
    slug           TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    currency       TEXT NOT NULL DEFAULT '',
    monthly_price  INTEGER NOT NULL DEFAULT 0 CHECK (monthly_price >= 0),
    yearly_price   INTEGER NOT NULL DEFAULT 0 CHECK (yearly_price >= 0),
    trial_days     INTEGER NOT NULL DEFAULT 0 CHECK (trial_days >= 0),
    active         INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    CHECK ((monthly_price = 0 AND yearly_price = 0) OR length(currency) = 3)
);

-- What a tier unlocks: ticket types, private groups, newsletters (by id).
CREATE TABLE tier_access (
    tier_id    INTEGER NOT NULL REFERENCES membership_tiers(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('ticket_type', 'group', 'newsletter')),
    target_id  INTEGER NOT NULL,
    PRIMARY KEY (tier_id, kind, target_id)
);
CREATE INDEX tier_access_target ON tier_access(kind, target_id);

-- A member's subscription to a tier. status follows the provider's
-- subscription object ('incomplete' until its checkout completes; free
-- tiers start 'active'). reference: our name for it at the provider (the
-- checkout's client_reference_id and metadata cm_ref). provider_version:
-- the provider's creation time of the event whose object state was applied
-- last (older states are stale).
CREATE TABLE subscriptions (
    id                        INTEGER PRIMARY KEY,
    member_id                 INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    tier_id                   INTEGER NOT NULL REFERENCES membership_tiers(id),
    billing_interval          TEXT NOT NULL CHECK (billing_interval IN ('month', 'year', 'none')),
    status                    TEXT NOT NULL CHECK (status IN ('incomplete', 'trialing', 'active',
                                  'past_due', 'canceled', 'unpaid', 'incomplete_expired')),
    reference                 TEXT NOT NULL UNIQUE,
    provider_subscription_id  TEXT UNIQUE,
    provider_version          INTEGER NOT NULL DEFAULT 0,
    current_period_end        INTEGER,
    past_due_since            INTEGER,
    started_at                INTEGER,
    ended_at                  INTEGER,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
);
CREATE INDEX subscriptions_member ON subscriptions(member_id, status);

-- Checkout sessions opened at the provider: what each pays for.
CREATE TABLE payment_checkouts (
    session_id       TEXT PRIMARY KEY,
    purpose          TEXT NOT NULL CHECK (purpose IN ('subscription', 'order')),
    member_id        INTEGER REFERENCES members(id) ON DELETE SET NULL,
    subscription_id  INTEGER REFERENCES subscriptions(id) ON DELETE CASCADE,
    order_id         INTEGER,
    amount           INTEGER NOT NULL CHECK (amount >= 0),
    currency         TEXT NOT NULL,
    url              TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'complete', 'expired')),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX payment_checkouts_subscription ON payment_checkouts(subscription_id);

-- The webhook inbox: every verified provider event once (its raw body as
-- received), how often it was delivered and what processing made of it.
CREATE TABLE payment_events (
    id                 INTEGER PRIMARY KEY,
    provider_event_id  TEXT NOT NULL UNIQUE,
    type               TEXT NOT NULL,
    object_id          TEXT NOT NULL DEFAULT '',
    event_created      INTEGER NOT NULL,
    payload            TEXT NOT NULL,
    deliveries         INTEGER NOT NULL DEFAULT 1,
    outcome            TEXT NOT NULL CHECK (outcome IN ('applied', 'stale', 'ignored', 'unmatched')),
    detail             TEXT NOT NULL DEFAULT '',
    received_at        INTEGER NOT NULL,
    processed_at       INTEGER NOT NULL
);
CREATE INDEX payment_events_received ON payment_events(received_at);
