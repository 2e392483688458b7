/*
 * sql_pay.c - SQLite statements of payments and memberships
 * (lib/core/ops_pay.c): membership tiers and their access table,
 * subscriptions, checkout sessions and the webhook inbox. The PostgreSQL
 * text is derived from it; the *.lock statements gain FOR UPDATE there
 * (lib/store/pg/sql_pg.c).
 */
#include "../backend.h"

/* 0 id, 1 slug, 2 name, 3 description, 4 currency, 5 monthly_price,
 * 6 yearly_price, 7 trial_days, 8 active, 9 created_at, 10 updated_at */
#define TIER_COLS                                                                                  \
    "t.id, t.slug, t.name, t.description, t.currency, t.monthly_price, t.yearly_price, "           \
    "t.trial_days, t.active, t.created_at, t.updated_at"

/* 0 id, 1 member_id, 2 tier_id, 3 tier slug, 4 tier name, 5 billing_interval,
 * 6 status, 7 reference, 8 provider_subscription_id, 9 provider_version,
 * 10 current_period_end, 11 past_due_since, 12 started_at, 13 ended_at,
 * 14 created_at, 15 updated_at, 16 trial_days of the tier */
#define SUB_COLS                                                                                   \
    "s.id, s.member_id, s.tier_id, t.slug, t.name, s.billing_interval, s.status, s.reference, "    \
    "s.provider_subscription_id, s.provider_version, s.current_period_end, s.past_due_since, "     \
    "s.started_at, s.ended_at, s.created_at, s.updated_at, t.trial_days"
#define SUB_FROM "FROM subscriptions s JOIN membership_tiers t ON t.id = s.tier_id "

/* In good standing at ?now with grace ?grace (s = subscriptions). */
#define GOOD(now, grace) CM__SQL_SUB_GOOD(now, grace)

/* 0 id, 1 provider_event_id, 2 type, 3 object_id, 4 event_created,
 * 5 deliveries, 6 outcome, 7 detail, 8 received_at, 9 processed_at */
#define EVENT_COLS                                                                                 \
    "id, provider_event_id, type, object_id, event_created, deliveries, outcome, detail, "         \
    "received_at, processed_at"

const cm__sql_entry cm__sqlite_sql_pay[] = {
    /* ?1 slug ?2 name ?3 description ?4 currency ?5 monthly ?6 yearly ?7 trial_days ?8 now */
    {"tier.insert",
     "INSERT INTO membership_tiers (slug, name, description, currency, monthly_price, "
     "yearly_price, trial_days, active, created_at, updated_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8) RETURNING id"},
    {"tier.get", "SELECT " TIER_COLS " FROM membership_tiers t WHERE t.id = ?1"},
    /* ?1 1: only active tiers */
    {"tier.list", "SELECT " TIER_COLS " FROM membership_tiers t WHERE (?1 = 0 OR t.active = 1) "
                  "ORDER BY t.monthly_price, t.yearly_price, t.id"},
    /* ?1 tier ?2 active ?3 now */
    {"tier.set_active", "UPDATE membership_tiers SET active = ?2, updated_at = ?3 WHERE id = ?1"},
    {"tier.access_list", "SELECT kind, target_id FROM tier_access WHERE tier_id = ?1 "
                         "ORDER BY kind, target_id"},
    {"tier.access_add", "INSERT INTO tier_access (tier_id, kind, target_id) VALUES (?1, ?2, ?3) "
                        "ON CONFLICT (tier_id, kind, target_id) DO NOTHING"},
    {"tier.access_remove",
     "DELETE FROM tier_access WHERE tier_id = ?1 AND kind = ?2 AND target_id = ?3"},
    /* ?1 member ?2 kind ?3 target ?4 now ?5 grace: 1 row when a subscription
     * in good standing unlocks the target */
    {"tier.grants", "SELECT 1 FROM subscriptions s JOIN tier_access a ON a.tier_id = s.tier_id "
                    "WHERE s.member_id = ?1 AND a.kind = ?2 AND a.target_id = ?3 AND " GOOD(
                        "?4", "?5") " LIMIT 1"},
    /* ?1 member ?2 tier slug ?3 now ?4 grace: 1 row when the member holds a
     * subscription in good standing to the tier of that slug */
    {"tier.holds_slug", "SELECT 1 " SUB_FROM
                        "WHERE s.member_id = ?1 AND t.slug = ?2 AND " GOOD("?3", "?4") " LIMIT 1"},

    /* ?1 member ?2 tier ?3 interval ?4 status ?5 reference ?6 now ?7 started_at */
    {"subscription.insert",
     "INSERT INTO subscriptions (member_id, tier_id, billing_interval, status, reference, "
     "started_at, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?7, ?6, ?6) RETURNING id"},
    {"subscription.get", "SELECT " SUB_COLS " " SUB_FROM "WHERE s.id = ?1"},
    {"subscription.lock", "SELECT id FROM subscriptions WHERE id = ?1"},
    {"subscription.find_provider",
     "SELECT id FROM subscriptions WHERE provider_subscription_id = ?1"},
    {"subscription.find_reference", "SELECT id FROM subscriptions WHERE reference = ?1"},
    /* ?1 member ?2 tier: the member's live subscription to the tier, if any */
    {"subscription.live", "SELECT id, status FROM subscriptions WHERE member_id = ?1 AND "
                          "tier_id = ?2 AND status IN ('incomplete', 'trialing', 'active', "
                          "'past_due') ORDER BY id DESC LIMIT 1"},
    /* ?1 member */
    {"subscription.mine",
     "SELECT " SUB_COLS " " SUB_FROM "WHERE s.member_id = ?1 ORDER BY s.id DESC LIMIT 100"},
    /* ?1 id ?2 status ?3 provider_version ?4 current_period_end ?5 past_due_since
     * ?6 started_at ?7 ended_at ?8 now */
    {"subscription.set_state",
     "UPDATE subscriptions SET status = ?2, provider_version = ?3, current_period_end = ?4, "
     "past_due_since = ?5, started_at = ?6, ended_at = ?7, updated_at = ?8 WHERE id = ?1"},
    /* ?1 id ?2 provider_subscription_id ?3 now: linked once */
    {"subscription.link", "UPDATE subscriptions SET provider_subscription_id = ?2, updated_at = ?3 "
                          "WHERE id = ?1 AND provider_subscription_id IS NULL"},
    /* ?1 now ?2 grace */
    {"subscription.count_active", "SELECT count(*) FROM subscriptions s WHERE " GOOD("?1", "?2")},

    /* (the provider answers the same session to the same Idempotency-Key:
     * recorded once) ?1 session ?2 purpose ?3 member ?4 subscription ?5 order ?6 amount
     * ?7 currency ?8 url ?9 now */
    {"checkout.insert",
     "INSERT INTO payment_checkouts (session_id, purpose, member_id, subscription_id, order_id, "
     "amount, currency, url, status, created_at, updated_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'open', ?9, ?9) "
     "ON CONFLICT (session_id) DO NOTHING"},
    /* 0 purpose 1 member 2 subscription 3 order 4 amount 5 currency 6 status */
    {"checkout.get", "SELECT purpose, member_id, subscription_id, order_id, amount, currency, "
                     "status FROM payment_checkouts WHERE session_id = ?1"},
    /* ?1 session ?2 status ?3 now: only an open session moves */
    {"checkout.set_status", "UPDATE payment_checkouts SET status = ?2, updated_at = ?3 "
                            "WHERE session_id = ?1 AND status = 'open'"},
    /* ?1 subscription: older incomplete subscriptions of the same member and
     * tier give way to a new checkout; ?2 member ?3 tier ?4 now */
    {"subscription.expire_incomplete",
     "UPDATE subscriptions SET status = 'incomplete_expired', updated_at = ?4 "
     "WHERE member_id = ?2 AND tier_id = ?3 AND status = 'incomplete' AND id <> ?1"},

    /* ?1 provider_event_id ?2 type ?3 object_id ?4 event_created ?5 payload ?6 now */
    {"payevent.insert",
     "INSERT INTO payment_events (provider_event_id, type, object_id, event_created, payload, "
     "deliveries, outcome, detail, received_at, processed_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5, 1, 'ignored', '', ?6, ?6) "
     "ON CONFLICT (provider_event_id) DO NOTHING RETURNING id"},
    /* a repeated delivery: ?1 provider_event_id */
    {"payevent.redelivered",
     "UPDATE payment_events SET deliveries = deliveries + 1 WHERE provider_event_id = ?1 "
     "RETURNING " EVENT_COLS},
    /* ?1 id ?2 outcome ?3 detail ?4 now */
    {"payevent.set_outcome",
     "UPDATE payment_events SET outcome = ?2, detail = ?3, processed_at = ?4 WHERE id = ?1"},
    {"payevent.get", "SELECT " EVENT_COLS ", payload FROM payment_events WHERE id = ?1"},
    /* ?1 before id ?2 type or NULL ?3 outcome or NULL ?4 limit */
    {"payevent.list", "SELECT " EVENT_COLS " FROM payment_events WHERE id < ?1 "
                      "AND (?2 IS NULL OR type = ?2) AND (?3 IS NULL OR outcome = ?3) "
                      "ORDER BY id DESC LIMIT ?4"},

    /* refunds owed at the provider, one per refund row of the ledger: ?1
     * order ?2 payment reference ?3 amount ?4 currency ?5 reason ?6 now ?7
     * the ledger row's reference */
    {"refund.insert",
     "INSERT INTO payment_refunds (order_id, payment_reference, amount, currency, "
     "reason, created_at, updated_at, ledger_reference) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7) "
     "ON CONFLICT (order_id, ledger_reference) DO NOTHING RETURNING id"},
    /* ?1 order ?2 ledger reference */
    {"refund.find", "SELECT id FROM payment_refunds WHERE order_id = ?1 AND ledger_reference = ?2"},
    /* The payment that paid order ?1: its first payment in the ledger that
     * was not refused (a refused payment has its automatic refund, named
     * "<reason>:<payment>" or "late:<payment>", in payment_refunds). */
    {"refund.paying_payment",
     "SELECT l.reference FROM ledger l WHERE l.order_id = ?1 AND l.kind = 'payment' "
     "AND NOT EXISTS (SELECT 1 FROM payment_refunds r WHERE r.order_id = l.order_id "
     "AND r.payment_reference = l.reference AND r.reason <> 'requested') "
     "ORDER BY l.id LIMIT 1"},
    /* ?1 after id ?2 limit */
    {"refund.pending",
     "SELECT id, payment_reference, amount, reason, attempts FROM payment_refunds "
     "WHERE status = 'pending' AND id > ?1 ORDER BY id LIMIT ?2"},
    /* ?1 id ?2 status ?3 provider refund id ?4 last error ?5 now */
    {"refund.set", "UPDATE payment_refunds SET status = ?2, provider_refund_id = ?3, "
                   "attempts = attempts + 1, last_error = ?4, updated_at = ?5 "
                   "WHERE id = ?1 AND status = 'pending'"},
    {"refund.count_pending", "SELECT count(*) FROM payment_refunds WHERE status = 'pending'"},
    /* 0 id, 1 order_id, 2 payment_reference, 3 amount, 4 currency, 5 reason,
     * 6 status, 7 provider_refund_id, 8 attempts, 9 last_error, 10 created_at,
     * 11 updated_at, 12 ledger_reference; ?1 before id ?2 status or NULL
     * ?3 limit */
    {"refund.list", "SELECT id, order_id, payment_reference, amount, currency, reason, status, "
                    "provider_refund_id, attempts, last_error, created_at, updated_at, "
                    "ledger_reference "
                    "FROM payment_refunds WHERE id < ?1 AND (?2 IS NULL OR status = ?2) "
                    "ORDER BY id DESC LIMIT ?3"},
    {NULL, NULL},
};
