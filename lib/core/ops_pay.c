/*
 * ops_pay.c - membership tiers, subscriptions, checkout through the
 * payment provider and the webhook inbox (docs/payments.md).
 *
 * A paid subscription starts 'incomplete' with a checkout session opened
 * at the provider (in the operation's prepare hook, outside any lock);
 * from then on its state follows the provider's webhooks:
 *   - every delivery is verified (HMAC-SHA256 over "t.body", timestamp
 *     tolerance) and its raw body kept in payment_events, once per provider
 *     event id: a repeated delivery changes nothing and answers the stored
 *     outcome;
 *   - the state applied is the provider object's status, versioned by the
 *     event's creation time: an event older than the state already applied
 *     is 'stale' and changes nothing, whatever the arrival order; canceled
 *     and incomplete_expired are final;
 *   - checkout.session.completed only moves a subscription that no
 *     subscription event has described yet (incomplete -> active or
 *     trialing), so it never overrides a newer subscription state;
 *   - an event that names nothing known is kept as 'unmatched' and can be
 *     processed again later (payments.replay), e.g. once the row it
 *     names exists.
 * Access: a subscription is in good standing while trialing or active, or
 * past_due for less than the grace period; cm__tier_grants() answers
 * whether one unlocks a ticket type, group or newsletter.
 */
#include "pay_int.h"

#include "commerce_int.h"

#include <stdio.h>
#include <string.h>

#define SEC 1000000LL

static const char *const interval_values[] = {"month", "year", NULL};
static const char *const sub_interval_values[] = {"month", "year", "none", NULL};
static const char *const access_kind_values[] = {"ticket_type", "group", "newsletter", NULL};
static const char *const sub_status_values[] = {"incomplete",         "trialing", "active",
                                                "past_due",           "canceled", "unpaid",
                                                "incomplete_expired", NULL};
static const char *const outcome_values[] = {"applied", "stale", "ignored", "unmatched", NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (; s && *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

/* ---- tiers ---- */

static int tier_access_json(json_t **out, cm__ctx *ctx, int64_t tier_id)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "tier.access_list");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, tier_id);
    json_t *arr = json_array();
    while ((rc = cm__q_step(&q)) == 1) {
        json_t *o = json_object();
        cm__json_set_col_text(o, "kind", &q, 0);
        cm__json_set_col_int(o, "target_id", &q, 1);
        json_array_append_new(arr, o);
    }
    cm__q_close(&q);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return CM_OK;
}

/* The tier at q's current row (TIER_COLS of sql_pay.c) with its access list. */
static int tier_json(json_t **out, cm__ctx *ctx, cm__q *q)
{
    json_t *o = json_object();
    cm__json_set_col_int(o, "id", q, 0);
    cm__json_set_col_text(o, "slug", q, 1);
    cm__json_set_col_text(o, "name", q, 2);
    cm__json_set_col_text(o, "description", q, 3);
    cm__json_set_col_text(o, "currency", q, 4);
    cm__json_set_col_int(o, "monthly_price", q, 5);
    cm__json_set_col_int(o, "yearly_price", q, 6);
    cm__json_set_col_int(o, "trial_days", q, 7);
    json_object_set_new(o, "active", json_boolean(cm__q_col_int64(q, 8)));
    json_object_set_new(o, "free",
                        json_boolean(cm__q_col_int64(q, 5) == 0 && cm__q_col_int64(q, 6) == 0));
    cm__json_set_col_time(o, "created_at", q, 9);
    cm__json_set_col_time(o, "updated_at", q, 10);
    json_t *access = NULL;
    int rc = tier_access_json(&access, ctx, cm__q_col_int64(q, 0));
    if (rc) {
        json_decref(o);
        return rc;
    }
    json_object_set_new(o, "access", access);
    *out = o;
    return CM_OK;
}

typedef struct tier_row {
    int64_t id, monthly, yearly, trial_days;
    bool active;
    char name[256], currency[4];
} tier_row;

static int tier_load(tier_row *t, cm__conn *conn, int64_t id)
{
    memset(t, 0, sizeof *t);
    cm__q q;
    int rc = cm__q_open(&q, conn, "tier.get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    if (rc == 1) {
        t->id = id;
        snprintf(t->name, sizeof t->name, "%s", cm__q_col_text(&q, 2));
        snprintf(t->currency, sizeof t->currency, "%s", cm__q_col_text(&q, 4));
        t->monthly = cm__q_col_int64(&q, 5);
        t->yearly = cm__q_col_int64(&q, 6);
        t->trial_days = cm__q_col_int64(&q, 7);
        t->active = cm__q_col_int64(&q, 8) != 0;
    }
    cm__q_close(&q);
    if (rc == 0)
        return cm__error_set_field(CM_ENOTFOUND, "tier_id", "no membership tier %lld",
                                   (long long)id);
    return cm__ok(rc);
}

static int tier_get_json(json_t **out, cm__ctx *ctx, int64_t id)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "tier.get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    if (rc == 1)
        rc = tier_json(out, ctx, &q);
    else if (rc == 0)
        rc = cm__error_set_field(CM_ENOTFOUND, "tier_id", "no membership tier %lld", (long long)id);
    cm__q_close(&q);
    return rc;
}

static int op_tier_create(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t monthly = cm__json_int(in, "monthly_price", 0);
    int64_t yearly = cm__json_int(in, "yearly_price", 0);
    const char *cur = cm__json_str(in, "currency");
    char currency[4] = "";
    if (monthly || yearly) {
        if (!cur)
            return cm__error_set_field(CM_EINVAL, "currency", "a paid tier needs a currency");
        for (int i = 0; i < 3; i++) {
            if (cur[i] < 'A' || cur[i] > 'Z')
                return cm__error_set_field(CM_EINVAL, "currency",
                                           "currency must be an upper-case ISO 4217 code");
            currency[i] = cur[i];
        }
    } else if (cur && *cur) {
        return cm__error_set_field(CM_EINVAL, "currency", "a free tier has no currency");
    }
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "tier.insert");
    if (rc)
        return rc;
    cm__q_text(&q, 1, cm__json_str(in, "slug"));
    cm__q_text(&q, 2, cm__json_str(in, "name"));
    const char *desc = cm__json_str(in, "description");
    cm__q_text(&q, 3, desc ? desc : "");
    cm__q_text(&q, 4, currency);
    cm__q_int64(&q, 5, monthly);
    cm__q_int64(&q, 6, yearly);
    cm__q_int64(&q, 7, cm__json_int(in, "trial_days", 0));
    cm__q_int64(&q, 8, ctx->now);
    rc = cm__q_step(&q);
    int64_t id = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if (rc == CM_EEXISTS)
        return cm__error_set_field(CM_EEXISTS, "slug", "a tier with this slug exists");
    if (rc < 0)
        return rc;
    ctx->target_type = "membership_tier";
    ctx->target_id = id;
    return tier_get_json(out, ctx, id);
}

static int op_tier_list(cm__ctx *ctx, json_t *in, json_t **out)
{
    bool all = cm__json_bool(in, "include_inactive", false);
    if (all && !cm__actor_at_least(ctx, CM_ROLE_ADMIN))
        return cm__error_set_field(CM_EPERM, "include_inactive", "only admins list inactive tiers");
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "tier.list");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, all ? 0 : 1);
    json_t *items = json_array();
    while ((rc = cm__q_step(&q)) == 1) {
        json_t *t = NULL;
        if ((rc = tier_json(&t, ctx, &q)))
            break;
        json_array_append_new(items, t);
    }
    cm__q_close(&q);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return CM_OK;
}

static int op_tier_set_active(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = cm__json_int(in, "tier_id", 0);
    tier_row t;
    int rc = tier_load(&t, ctx->conn, id);
    if (rc)
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "tier.set_active")))
        return rc;
    cm__q_int64(&q, 1, id);
    cm__q_int64(&q, 2, cm__json_bool(in, "active", true));
    cm__q_int64(&q, 3, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    if (rc)
        return rc;
    ctx->target_type = "membership_tier";
    ctx->target_id = id;
    return tier_get_json(out, ctx, id);
}

static int access_change(cm__ctx *ctx, json_t *in, json_t **out, const char *stmt)
{
    int64_t id = cm__json_int(in, "tier_id", 0);
    tier_row t;
    int rc = tier_load(&t, ctx->conn, id);
    if (rc)
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, stmt)))
        return rc;
    cm__q_int64(&q, 1, id);
    cm__q_text(&q, 2, cm__json_str(in, "kind"));
    cm__q_int64(&q, 3, cm__json_int(in, "target_id", 0));
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    if (rc)
        return rc;
    ctx->target_type = "membership_tier";
    ctx->target_id = id;
    return tier_get_json(out, ctx, id);
}

static int op_access_grant(cm__ctx *ctx, json_t *in, json_t **out)
{
    return access_change(ctx, in, out, "tier.access_add");
}

static int op_access_revoke(cm__ctx *ctx, json_t *in, json_t **out)
{
    return access_change(ctx, in, out, "tier.access_remove");
}

/* ---- access ---- */

int cm__tier_grants(bool *out, cm__ctx *ctx, int64_t member_id, const char *kind, int64_t target_id)
{
    *out = false;
    if (!member_id)
        return CM_OK;
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "tier.grants");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, member_id);
    cm__q_text(&q, 2, kind);
    cm__q_int64(&q, 3, target_id);
    cm__q_int64(&q, 4, ctx->now);
    cm__q_int64(&q, 5, cm__pay_grace_us(ctx->store));
    rc = cm__q_step(&q);
    cm__q_close(&q);
    *out = rc == 1;
    return cm__ok(rc);
}

int cm__tier_holds(bool *out, cm__ctx *ctx, int64_t member_id, const char *slug)
{
    *out = false;
    if (!member_id || !slug)
        return CM_OK;
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "tier.holds_slug");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, member_id);
    cm__q_text(&q, 2, slug);
    cm__q_int64(&q, 3, ctx->now);
    cm__q_int64(&q, 4, cm__pay_grace_us(ctx->store));
    rc = cm__q_step(&q);
    cm__q_close(&q);
    *out = rc == 1;
    return cm__ok(rc);
}

static int op_access(cm__ctx *ctx, json_t *in, json_t **out)
{
    bool ok;
    int rc = cm__tier_grants(&ok, ctx, ctx->actor->member_id, cm__json_str(in, "kind"),
                             cm__json_int(in, "target_id", 0));
    if (rc)
        return rc;
    *out = json_pack("{s:b}", "allowed", ok);
    return CM_OK;
}

/* ---- subscriptions ---- */

static bool good_standing(const char *status, bool pds_null, int64_t past_due_since, int64_t now,
                          int64_t grace)
{
    if (strcmp(status, "trialing") == 0 || strcmp(status, "active") == 0)
        return true;
    return strcmp(status, "past_due") == 0 && !pds_null && past_due_since + grace > now;
}

/* The subscription at q's current row (SUB_COLS of sql_pay.c). */
static json_t *sub_json(cm__ctx *ctx, cm__q *q, int64_t grace)
{
    json_t *o = json_object();
    cm__json_set_col_int(o, "id", q, 0);
    cm__json_set_col_int(o, "member_id", q, 1);
    cm__json_set_col_int(o, "tier_id", q, 2);
    cm__json_set_col_text(o, "tier_slug", q, 3);
    cm__json_set_col_text(o, "tier_name", q, 4);
    cm__json_set_col_text(o, "interval", q, 5);
    cm__json_set_col_text(o, "status", q, 6);
    bool pds_null = cm__q_is_null(q, 11);
    int64_t pds = pds_null ? 0 : cm__q_col_int64(q, 11);
    json_object_set_new(
        o, "in_good_standing",
        json_boolean(good_standing(cm__q_col_text(q, 6), pds_null, pds, ctx->now, grace)));
    cm__json_set_col_time(o, "current_period_end", q, 10);
    cm__json_set_col_time(o, "past_due_since", q, 11);
    if (pds_null)
        json_object_set_new(o, "grace_ends_at", json_null());
    else
        cm__json_set_time(o, "grace_ends_at", pds + grace);
    cm__json_set_col_time(o, "started_at", q, 12);
    cm__json_set_col_time(o, "ended_at", q, 13);
    cm__json_set_col_time(o, "created_at", q, 14);
    cm__json_set_col_time(o, "updated_at", q, 15);
    return o;
}

static int sub_get_json(json_t **out, cm__ctx *ctx, int64_t id)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "subscription.get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    if (rc == 1)
        *out = sub_json(ctx, &q, cm__pay_grace_us(ctx->store));
    else if (rc == 0)
        rc = cm__error_set(CM_ENOTFOUND, "no subscription %lld", (long long)id);
    cm__q_close(&q);
    return cm__ok(rc);
}

/* Open a checkout session for req at the configured provider, outside any
 * transaction (a prepare hook), and note its id and URL in the input
 * (_session_id, _url) for the handler. The success and cancel URLs are the
 * input's return_url (the host's page; the provider appends nothing), else
 * the configured ones. */
static int open_checkout(cm__ctx *ctx, json_t *in, cm__checkout_req *req)
{
    cm__pay_settings s;
    int rc = cm__pay_settings_get(&s, ctx->store);
    if (rc)
        return rc;
    char ok_url[1024], cancel_url[1024];
    const char *ret = cm__json_str(in, "return_url");
    snprintf(ok_url, sizeof ok_url, "%s", ret ? ret : s.success_url ? s.success_url : "");
    snprintf(cancel_url, sizeof cancel_url, "%s", ret ? ret : s.cancel_url ? s.cancel_url : "");
    req->success_url = ok_url;
    req->cancel_url = cancel_url;
    cm__checkout_session cs;
    rc = cm__pay_stripe.checkout_create(&cs, &s.cfg, req);
    cm__pay_settings_dispose(&s);
    if (rc)
        return rc;
    json_object_set_new(in, "_session_id", json_string(cs.id));
    json_object_set_new(in, "_url", json_string(cs.url));
    cm__free(cs.url);
    return CM_OK;
}

/* What memberships.subscribe's prepare hook learnt (a read transaction). */
typedef struct sub_prep {
    int64_t tier_id;
    tier_row tier;
} sub_prep;

static int prep_read(cm__conn *conn, void *payload)
{
    sub_prep *p = payload;
    return tier_load(&p->tier, conn, p->tier_id);
}

/* prepare hook of memberships.subscribe: a paid tier's checkout session is
 * opened at the provider here, outside any transaction; the handler then
 * records it. The provider's Idempotency-Key is the subscription's
 * reference, fresh per call. */
static int subscribe_prepare(cm__ctx *ctx, json_t *in)
{
    sub_prep p = {.tier_id = cm__json_int(in, "tier_id", 0)};
    int rc = cm__store_run_tx(ctx->store, false, prep_read, &p);
    if (rc)
        return rc;
    if (!p.tier.active)
        return cm__error_set_field(CM_ENOTFOUND, "tier_id", "the tier is not offered");
    if (!p.tier.monthly && !p.tier.yearly)
        return CM_OK; /* free: nothing to pay */
    const char *interval = cm__json_str(in, "interval");
    if (!interval)
        interval = p.tier.monthly ? "month" : "year";
    int64_t amount = strcmp(interval, "month") == 0 ? p.tier.monthly : p.tier.yearly;
    if (!amount)
        return cm__error_set_field(CM_EINVAL, "interval", "this tier is not offered per %s",
                                   interval);
    char ref[64];
    if ((rc = cm__token_new(ref, "sub_")))
        return rc;
    cm__checkout_req req = {
        .mode = "subscription",
        .currency = p.tier.currency,
        .amount = amount,
        .quantity = 1,
        .interval = interval,
        .trial_days = (uint32_t)p.tier.trial_days,
        .product_name = p.tier.name,
        .reference = ref,
        .idempotency_key = ref,
        .meta_key = "cm_ref",
        .meta_value = ref,
    };
    if ((rc = open_checkout(ctx, in, &req)))
        return rc;
    json_object_set_new(in, "_reference", json_string(ref));
    json_object_set_new(in, "_interval", json_string(interval));
    json_object_set_new(in, "_amount", json_integer(amount));
    json_object_set_new(in, "_currency", json_string(p.tier.currency));
    return CM_OK;
}

static int op_subscribe(cm__ctx *ctx, json_t *in, json_t **out)
{
    int rc = cm__require_member(ctx);
    if (rc)
        return rc;
    int64_t tier_id = cm__json_int(in, "tier_id", 0), me = ctx->actor->member_id;
    tier_row t;
    if ((rc = tier_load(&t, ctx->conn, tier_id)))
        return rc;
    if (!t.active)
        return cm__error_set_field(CM_ENOTFOUND, "tier_id", "the tier is not offered");
    bool free_tier = !t.monthly && !t.yearly;
    const char *session = cm__json_str(in, "_session_id");
    if (!free_tier && !session)
        return cm__error_set(CM_EMISUSE, "memberships.subscribe ran without its prepare hook");
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "subscription.live")))
        return rc;
    cm__q_int64(&q, 1, me);
    cm__q_int64(&q, 2, tier_id);
    rc = cm__q_step(&q);
    bool live = rc == 1 && strcmp(cm__q_col_text(&q, 1), "incomplete") != 0;
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (live)
        return cm__error_set_field(CM_EEXISTS, "tier_id", "you already subscribe to this tier");
    char ref[64];
    const char *reference = cm__json_str(in, "_reference");
    if (!reference) {
        if ((rc = cm__token_new(ref, "sub_")))
            return rc;
        reference = ref;
    }
    if ((rc = cm__q_open(&q, ctx->conn, "subscription.insert")))
        return rc;
    cm__q_int64(&q, 1, me);
    cm__q_int64(&q, 2, tier_id);
    cm__q_text(&q, 3, free_tier ? "none" : cm__json_str(in, "_interval"));
    cm__q_text(&q, 4, free_tier ? "active" : "incomplete");
    cm__q_text(&q, 5, reference);
    cm__q_int64(&q, 6, ctx->now);
    if (free_tier)
        cm__q_int64(&q, 7, ctx->now);
    else
        cm__q_null(&q, 7);
    rc = cm__q_step(&q);
    int64_t id = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (free_tier && (rc = cm__metric_add(ctx->conn, "subscriptions", 1)))
        return rc;
    if (!free_tier) {
        /* an older unfinished checkout of the same tier gives way */
        if ((rc = cm__q_open(&q, ctx->conn, "subscription.expire_incomplete")))
            return rc;
        cm__q_int64(&q, 1, id);
        cm__q_int64(&q, 2, me);
        cm__q_int64(&q, 3, tier_id);
        cm__q_int64(&q, 4, ctx->now);
        rc = cm__ok(cm__q_step(&q));
        cm__q_close(&q);
        if (rc)
            return rc;
        if ((rc = cm__q_open(&q, ctx->conn, "checkout.insert")))
            return rc;
        cm__q_text(&q, 1, session);
        cm__q_text(&q, 2, "subscription");
        cm__q_int64(&q, 3, me);
        cm__q_int64(&q, 4, id);
        cm__q_null(&q, 5);
        cm__q_int64(&q, 6, cm__json_int(in, "_amount", 0));
        cm__q_text(&q, 7, cm__json_str(in, "_currency"));
        cm__q_text(&q, 8, cm__json_str(in, "_url"));
        cm__q_int64(&q, 9, ctx->now);
        rc = cm__ok(cm__q_step(&q));
        cm__q_close(&q);
        if (rc)
            return rc;
    }
    ctx->target_type = "subscription";
    ctx->target_id = id;
    json_t *sub = NULL;
    if ((rc = sub_get_json(&sub, ctx, id)))
        return rc;
    *out = json_pack("{s:o,s:o}", "subscription", sub, "checkout_url",
                     free_tier ? json_null() : json_string(cm__json_str(in, "_url")));
    return CM_OK;
}

/* What orders.checkout's prepare hook learnt. */
typedef struct order_prep {
    int64_t order_id, member_id;
    cm__order o;
    char event_title[256];
} order_prep;

static int order_prep_read(cm__conn *conn, void *payload)
{
    order_prep *p = payload;
    return cm__order_load(&p->o, conn, p->order_id);
}

/* prepare hook of orders.checkout: opens the checkout session for the
 * order's total outside any transaction. The provider's Idempotency-Key is
 * the order and its hold, so asking twice for one hold gives one session. */
static int order_checkout_prepare(cm__ctx *ctx, json_t *in)
{
    order_prep p = {.order_id = cm__json_int(in, "order_id", 0)};
    int rc = cm__store_run_tx(ctx->store, false, order_prep_read, &p);
    if (rc)
        return rc;
    if (p.o.member_id != ctx->actor->member_id)
        return cm__error_set_field(CM_ENOTFOUND, "order_id", "no order %lld of yours",
                                   (long long)p.order_id);
    if (p.o.state != CM__ORDER_RESERVED && p.o.state != CM__ORDER_PENDING_PAYMENT)
        return cm__error_set_field(CM_ECONSTRAINT, "order_id", "order %lld is %s, not a hold",
                                   (long long)p.order_id, cm__order_state_names[p.o.state]);
    if (p.o.expires_at <= ctx->now)
        return cm__error_set_field(CM_ECONSTRAINT, "order_id", "the hold of order %lld has ended",
                                   (long long)p.order_id);
    if (p.o.total_minor <= 0)
        return cm__error_set_field(CM_ECONSTRAINT, "order_id", "order %lld is free",
                                   (long long)p.order_id);
    char key[96], ref[48], name[64];
    snprintf(key, sizeof key, "cm-order-%lld-%lld", (long long)p.o.id, (long long)p.o.expires_at);
    snprintf(ref, sizeof ref, "order:%lld", (long long)p.o.id);
    snprintf(name, sizeof name, "Tickets, order %lld", (long long)p.o.id);
    cm__checkout_req req = {
        .mode = "payment",
        .currency = p.o.currency,
        .amount = p.o.unit_price_minor,
        .quantity = p.o.quantity,
        .product_name = name,
        .reference = ref,
        .idempotency_key = key,
        .meta_key = "cm_order",
        .meta_value = ref + 6,
    };
    return open_checkout(ctx, in, &req);
}

static int op_order_checkout(cm__ctx *ctx, json_t *in, json_t **out)
{
    const char *session = cm__json_str(in, "_session_id"), *url = cm__json_str(in, "_url");
    if (!session || !url)
        return cm__error_set(CM_EMISUSE, "orders.checkout ran without its prepare hook");
    int64_t id = cm__json_int(in, "order_id", 0);
    cm__order o;
    int rc = cm__order_load(&o, ctx->conn, id);
    if (rc)
        return rc;
    if (o.member_id != ctx->actor->member_id)
        return cm__error_set_field(CM_ENOTFOUND, "order_id", "no order %lld of yours",
                                   (long long)id);
    if ((rc = cm__order_begin_payment(&o, ctx->conn, ctx->now, id, "stripe", session)))
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "checkout.insert")))
        return rc;
    cm__q_text(&q, 1, session);
    cm__q_text(&q, 2, "order");
    cm__q_int64(&q, 3, o.member_id);
    cm__q_null(&q, 4);
    cm__q_int64(&q, 5, id);
    cm__q_int64(&q, 6, o.total_minor);
    cm__q_text(&q, 7, o.currency);
    cm__q_text(&q, 8, url);
    cm__q_int64(&q, 9, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    json_t *j = NULL;
    if (rc || (rc = cm__order_json(&j, ctx->conn, &o, false)))
        return rc;
    ctx->target_type = "order";
    ctx->target_id = id;
    *out = json_pack("{s:o,s:s}", "order", j, "checkout_url", url);
    return CM_OK;
}

static int op_mine(cm__ctx *ctx, json_t *in, json_t **out)
{
    (void)in;
    int rc = cm__require_member(ctx);
    if (rc)
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "subscription.mine")))
        return rc;
    cm__q_int64(&q, 1, ctx->actor->member_id);
    int64_t grace = cm__pay_grace_us(ctx->store);
    json_t *items = json_array();
    while ((rc = cm__q_step(&q)) == 1)
        json_array_append_new(items, sub_json(ctx, &q, grace));
    cm__q_close(&q);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return CM_OK;
}

/* ---- webhook processing ---- */

typedef struct sub_row {
    int64_t id, version, trial_days;
    char status[24];
    bool linked;
    int64_t period_end, past_due_since, started_at, ended_at; /* 0: NULL */
} sub_row;

/* Lock the subscription (FOR UPDATE on PostgreSQL) and load it. */
static int sub_lock(sub_row *r, cm__ctx *ctx, int64_t id)
{
    memset(r, 0, sizeof *r);
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "subscription.lock");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    if (rc || (rc = cm__q_open(&q, ctx->conn, "subscription.get")))
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    if (rc == 1) {
        r->id = id;
        snprintf(r->status, sizeof r->status, "%s", cm__q_col_text(&q, 6));
        r->linked = !cm__q_is_null(&q, 8);
        r->version = cm__q_col_int64(&q, 9);
        r->period_end = cm__q_is_null(&q, 10) ? 0 : cm__q_col_int64(&q, 10);
        r->past_due_since = cm__q_is_null(&q, 11) ? 0 : cm__q_col_int64(&q, 11);
        r->started_at = cm__q_is_null(&q, 12) ? 0 : cm__q_col_int64(&q, 12);
        r->ended_at = cm__q_is_null(&q, 13) ? 0 : cm__q_col_int64(&q, 13);
        r->trial_days = cm__q_col_int64(&q, 16);
    }
    cm__q_close(&q);
    if (rc == 0)
        return cm__error_set(CM_ENOTFOUND, "no subscription %lld", (long long)id);
    return cm__ok(rc);
}

static int bind_opt(cm__q *q, int idx, int64_t v)
{
    return v ? cm__q_int64(q, idx, v) : cm__q_null(q, idx);
}

/* Move r to `status` as of the provider's time `at` (microseconds), with
 * provider_version `version` and period end (0: keep). Counts a start
 * (metric "subscriptions") and an end after a start ("subscriptions_churned"). */
static int sub_set(cm__ctx *ctx, sub_row *r, const char *status, int64_t version, int64_t at,
                   int64_t period_end)
{
    bool good = strcmp(status, "trialing") == 0 || strcmp(status, "active") == 0;
    bool live = good || strcmp(status, "past_due") == 0;
    bool ended = !live && strcmp(status, "incomplete") != 0;
    int rc;
    if (good && !r->started_at) {
        r->started_at = ctx->now;
        if ((rc = cm__metric_add(ctx->conn, "subscriptions", 1)))
            return rc;
    }
    if (strcmp(status, "past_due") == 0) {
        if (strcmp(r->status, "past_due") != 0 || !r->past_due_since)
            r->past_due_since = at;
    } else {
        r->past_due_since = 0;
    }
    if (ended && r->started_at && !r->ended_at) {
        r->ended_at = ctx->now;
        if ((rc = cm__metric_add(ctx->conn, "subscriptions_churned", 1)))
            return rc;
    } else if (live) {
        r->ended_at = 0;
    }
    if (period_end)
        r->period_end = period_end;
    snprintf(r->status, sizeof r->status, "%s", status);
    r->version = version;
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "subscription.set_state")))
        return rc;
    cm__q_int64(&q, 1, r->id);
    cm__q_text(&q, 2, status);
    cm__q_int64(&q, 3, version);
    bind_opt(&q, 4, r->period_end);
    bind_opt(&q, 5, r->past_due_since);
    bind_opt(&q, 6, r->started_at);
    bind_opt(&q, 7, r->ended_at);
    cm__q_int64(&q, 8, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc;
}

/* Find a subscription by one statement taking one text parameter: its id
 * or 0. */
static int sub_find(int64_t *id, cm__ctx *ctx, const char *stmt, const char *key)
{
    *id = 0;
    if (!key || !*key)
        return CM_OK;
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, stmt);
    if (rc)
        return rc;
    cm__q_text(&q, 1, key);
    rc = cm__q_step(&q);
    if (rc == 1)
        *id = cm__q_col_int64(&q, 0);
    cm__q_close(&q);
    return cm__ok(rc);
}

static int sub_link(cm__ctx *ctx, int64_t id, const char *provider_id)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "subscription.link");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    cm__q_text(&q, 2, provider_id);
    cm__q_int64(&q, 3, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc;
}

typedef struct outcome {
    const char *what; /* applied, stale, ignored, unmatched */
    char detail[200];
} outcome;

#define OUTCOME(o, w, ...)                                                                         \
    do {                                                                                           \
        (o)->what = (w);                                                                           \
        snprintf((o)->detail, sizeof(o)->detail, __VA_ARGS__);                                     \
    } while (0)

typedef struct checkout_row {
    bool found;
    char purpose[16], status[16];
    int64_t subscription_id, order_id;
} checkout_row;

static int checkout_load(checkout_row *c, cm__ctx *ctx, const char *session)
{
    memset(c, 0, sizeof *c);
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "checkout.get");
    if (rc)
        return rc;
    cm__q_text(&q, 1, session);
    rc = cm__q_step(&q);
    if (rc == 1) {
        c->found = true;
        snprintf(c->purpose, sizeof c->purpose, "%s", cm__q_col_text(&q, 0));
        c->subscription_id = cm__q_is_null(&q, 2) ? 0 : cm__q_col_int64(&q, 2);
        c->order_id = cm__q_is_null(&q, 3) ? 0 : cm__q_col_int64(&q, 3);
        snprintf(c->status, sizeof c->status, "%s", cm__q_col_text(&q, 6));
    }
    cm__q_close(&q);
    return cm__ok(rc);
}

static int checkout_set(int64_t *changed, cm__ctx *ctx, const char *session, const char *status)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "checkout.set_status");
    if (rc)
        return rc;
    cm__q_text(&q, 1, session);
    cm__q_text(&q, 2, status);
    cm__q_int64(&q, 3, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    *changed = rc ? 0 : cm__q_changes(&q);
    cm__q_close(&q);
    return rc;
}

/* A refund owed at the provider for payment `ref` of order_id, for the
 * refund row `ledger_ref` of the ledger (written in the transaction that
 * records that row); *id receives its row id. */
static int refund_owed(int64_t *id, cm__conn *conn, int64_t now, int64_t order_id, const char *ref,
                       const char *ledger_ref, int64_t amount, const char *currency,
                       const char *reason)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "refund.insert");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, order_id);
    cm__q_text(&q, 2, ref);
    cm__q_int64(&q, 3, amount);
    cm__q_text(&q, 4, currency);
    cm__q_text(&q, 5, reason);
    cm__q_int64(&q, 6, now);
    cm__q_text(&q, 7, ledger_ref);
    rc = cm__q_step(&q);
    *id = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if (rc == 0) { /* owed before: the same ledger row again */
        if ((rc = cm__q_open(&q, conn, "refund.find")))
            return rc;
        cm__q_int64(&q, 1, order_id);
        cm__q_text(&q, 2, ledger_ref);
        rc = cm__q_step(&q);
        *id = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
        cm__q_close(&q);
    }
    return cm__ok(rc);
}

/* The ledger name of an automatic refund of payment `ref` (order.c). */
static void auto_ledger_ref(char out[300], const char *reason, const char *ref)
{
    (void)snprintf(out, 300, "%s:%s", strcmp(reason, "late_payment") == 0 ? "late" : reason, ref);
}

int cm__pay_refund_requested(int64_t *id, cm__conn *conn, int64_t now, int64_t order_id,
                             const char *provider, const char *currency, const char *ledger_ref,
                             int64_t amount)
{
    *id = 0;
    if (!provider || !provider[0])
        return CM_OK;
    cm__q q;
    int rc = cm__q_open(&q, conn, "refund.paying_payment");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, order_id);
    char ref[256] = "";
    rc = cm__q_step(&q);
    if (rc == 1)
        (void)snprintf(ref, sizeof ref, "%s", cm__q_col_text(&q, 0));
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (!ref[0]) /* paid without a payment in the ledger: nothing to give back there */
        return CM_OK;
    return refund_owed(id, conn, now, order_id, ref, ledger_ref, amount, currency, "requested");
}

/* checkout.session.completed of an order: the payment is recorded through
 * the commerce layer (cm__order_confirm_payment), keyed by the provider's
 * payment id, so the order is paid exactly once. A payment that cannot pay
 * the order (the hold had ended, another amount or currency than the
 * order's, or the order was paid already) is recorded with an equal refund
 * in the ledger and a refund owed at the provider (payment_refunds, sent
 * by cm__pay_send_refunds): the delivery succeeds, nothing is retried
 * forever, and admins see it in payments.refunds (docs/payments.md). */
static int order_paid(outcome *o, cm__ctx *ctx, json_t *obj, const checkout_row *c,
                      const char *session)
{
    const char *pay = cm__json_str(obj, "payment_status");
    if (!pay || strcmp(pay, "paid") != 0) {
        OUTCOME(o, "ignored", "payment_status %.40s: waiting for the payment",
                pay ? pay : "(none)");
        return CM_OK;
    }
    const char *cur = cm__json_str(obj, "currency"), *ref = cm__json_str(obj, "payment_intent");
    char currency[4] = "";
    for (int i = 0; cur && i < 3 && cur[i]; i++)
        currency[i] = (char)(cur[i] >= 'a' && cur[i] <= 'z' ? cur[i] - 32 : cur[i]);
    if (!ref || !*ref)
        ref = session;
    int64_t amount = cm__json_int(obj, "amount_total", -1);
    cm__pay_outcome oc;
    cm__order ord;
    int rc = cm__order_confirm_payment(&oc, &ord, ctx->conn, ctx->now, c->order_id, amount,
                                       currency, ref);
    const char *reason = NULL, *field = cm_error_field();
    if (rc == CM_EINVAL && field &&
        (strcmp(field, "amount_minor") == 0 || strcmp(field, "currency") == 0) && amount > 0 &&
        strlen(currency) == 3)
        reason = "amount_mismatch";
    else if (rc == CM_ECONSTRAINT && field && strcmp(field, "order_id") == 0)
        reason = "already_paid";
    if (reason) { /* a payment that cannot pay the order: accounted for and given back */
        char why[120];
        snprintf(why, sizeof why, "%s", cm_error_message());
        cm_error_clear();
        bool replay;
        int64_t refund = 0;
        char lref[300];
        auto_ledger_ref(lref, reason, ref);
        if ((rc = cm__order_refuse_payment(&replay, ctx->conn, ctx->now, c->order_id, amount,
                                           currency, ref, reason)) ||
            (rc = refund_owed(&refund, ctx->conn, ctx->now, c->order_id, ref, lref, amount,
                              currency, reason)))
            return rc;
        if (replay)
            OUTCOME(o, "stale", "order %lld: this payment was recorded before",
                    (long long)c->order_id);
        else
            OUTCOME(o, "applied",
                    "order %lld: payment refused (%.100s); recorded, refund %lld owed at the "
                    "provider",
                    (long long)c->order_id, why, (long long)refund);
        return CM_OK;
    }
    if (rc)
        return rc;
    if (oc == CM__PAY_REPLAY) {
        OUTCOME(o, "stale", "order %lld: this payment was recorded before", (long long)ord.id);
    } else if (oc == CM__PAY_REFUNDED) {
        int64_t refund = 0;
        char lref[300];
        auto_ledger_ref(lref, "late_payment", ref);
        if ((rc = refund_owed(&refund, ctx->conn, ctx->now, ord.id, ref, lref, amount, currency,
                              "late_payment")))
            return rc;
        OUTCOME(o, "applied",
                "order %lld: the hold had ended; the payment is refunded in the ledger, refund "
                "%lld owed at the provider",
                (long long)ord.id, (long long)refund);
    } else {
        OUTCOME(o, "applied", "order %lld is paid", (long long)ord.id);
    }
    return CM_OK;
}

static int on_checkout_completed(outcome *o, cm__ctx *ctx, json_t *obj)
{
    const char *session = cm__json_str(obj, "id");
    checkout_row c;
    int rc = checkout_load(&c, ctx, session);
    if (rc)
        return rc;
    if (!c.found) {
        OUTCOME(o, "unmatched", "no checkout session %.80s here", session);
        return CM_OK;
    }
    int64_t changed;
    if ((rc = checkout_set(&changed, ctx, session, "complete")))
        return rc;
    if (strcmp(c.purpose, "order") == 0)
        return order_paid(o, ctx, obj, &c, session);
    sub_row r;
    if ((rc = sub_lock(&r, ctx, c.subscription_id)))
        return rc;
    const char *provider_sub = cm__json_str(obj, "subscription");
    if (provider_sub && !r.linked && (rc = sub_link(ctx, r.id, provider_sub)))
        return rc;
    if (r.version != 0 || strcmp(r.status, "incomplete") != 0) {
        OUTCOME(o, "stale", "subscription %lld is %s (a later event described it)", (long long)r.id,
                r.status);
        return CM_OK;
    }
    const char *pay = cm__json_str(obj, "payment_status");
    const char *to = NULL;
    if (pay && strcmp(pay, "paid") == 0)
        to = r.trial_days ? "trialing" : "active";
    else if (pay && strcmp(pay, "no_payment_required") == 0)
        to = "trialing";
    if (!to) {
        OUTCOME(o, "ignored", "payment_status %.40s: waiting for the payment",
                pay ? pay : "(none)");
        return CM_OK;
    }
    int64_t at = cm__json_int(obj, "created", 0) * SEC;
    if ((rc = sub_set(ctx, &r, to, 0, at ? at : ctx->now, 0)))
        return rc;
    OUTCOME(o, "applied", "subscription %lld is %s", (long long)r.id, to);
    return CM_OK;
}

static int on_checkout_expired(outcome *o, cm__ctx *ctx, json_t *obj)
{
    const char *session = cm__json_str(obj, "id");
    checkout_row c;
    int rc = checkout_load(&c, ctx, session);
    if (rc)
        return rc;
    if (!c.found) {
        OUTCOME(o, "unmatched", "no checkout session %.80s here", session);
        return CM_OK;
    }
    int64_t changed;
    if ((rc = checkout_set(&changed, ctx, session, "expired")))
        return rc;
    if (!changed) {
        OUTCOME(o, "stale", "the checkout session is already %s", c.status);
        return CM_OK;
    }
    if (strcmp(c.purpose, "subscription") == 0) {
        sub_row r;
        if ((rc = sub_lock(&r, ctx, c.subscription_id)))
            return rc;
        if (strcmp(r.status, "incomplete") == 0 &&
            (rc = sub_set(ctx, &r, "incomplete_expired", r.version, ctx->now, 0)))
            return rc;
    }
    OUTCOME(o, "applied", "checkout session expired");
    return CM_OK;
}

static int on_subscription(outcome *o, cm__ctx *ctx, json_t *obj, bool deleted, int64_t version)
{
    const char *pid = cm__json_str(obj, "id");
    int64_t id;
    int rc = sub_find(&id, ctx, "subscription.find_provider", pid);
    if (!rc && !id) {
        const char *ref = cm__json_str(json_object_get(obj, "metadata"), "cm_ref");
        if ((rc = sub_find(&id, ctx, "subscription.find_reference", ref)))
            return rc;
        if (id && (rc = sub_link(ctx, id, pid)))
            return rc;
    }
    if (rc)
        return rc;
    if (!id) {
        OUTCOME(o, "unmatched", "no subscription %.80s here", pid ? pid : "(no id)");
        return CM_OK;
    }
    const char *status = deleted ? "canceled" : cm__json_str(obj, "status");
    if (status && strcmp(status, "paused") == 0)
        status = "unpaid"; /* no access, may come back */
    if (!status || !in_list(sub_status_values, status)) {
        OUTCOME(o, "ignored", "unknown subscription status %.40s", status ? status : "(none)");
        return CM_OK;
    }
    sub_row r;
    if ((rc = sub_lock(&r, ctx, id)))
        return rc;
    if (version < r.version) {
        OUTCOME(o, "stale", "subscription %lld already holds a newer state (%s)", (long long)id,
                r.status);
        return CM_OK;
    }
    if ((strcmp(r.status, "canceled") == 0 || strcmp(r.status, "incomplete_expired") == 0) &&
        strcmp(status, r.status) != 0) {
        OUTCOME(o, "stale", "subscription %lld is %s for good", (long long)id, r.status);
        return CM_OK;
    }
    json_t *pe = json_object_get(obj, "current_period_end");
    int64_t period_end = json_is_integer(pe) ? (int64_t)json_integer_value(pe) * SEC : 0;
    if ((rc = sub_set(ctx, &r, status, version, version, period_end)))
        return rc;
    OUTCOME(o, "applied", "subscription %lld is %s", (long long)id, status);
    return CM_OK;
}

/* Process one verified event (a parsed provider event object). */
static int process(outcome *o, cm__ctx *ctx, json_t *ev)
{
    const char *type = cm__json_str(ev, "type");
    json_t *obj = json_object_get(json_object_get(ev, "data"), "object");
    int64_t version = cm__json_int(ev, "created", 0) * SEC;
    if (!type || !json_is_object(obj)) {
        OUTCOME(o, "ignored", "no type or data.object");
        return CM_OK;
    }
    if (strcmp(type, "checkout.session.completed") == 0 ||
        strcmp(type, "checkout.session.async_payment_succeeded") == 0)
        return on_checkout_completed(o, ctx, obj);
    if (strcmp(type, "checkout.session.expired") == 0)
        return on_checkout_expired(o, ctx, obj);
    if (strcmp(type, "customer.subscription.created") == 0 ||
        strcmp(type, "customer.subscription.updated") == 0 ||
        strcmp(type, "customer.subscription.deleted") == 0)
        return on_subscription(o, ctx, obj, strcmp(type, "customer.subscription.deleted") == 0,
                               version);
    OUTCOME(o, "ignored", "event type %.60s is not handled", type);
    return CM_OK;
}

static int set_outcome(cm__ctx *ctx, int64_t id, const outcome *o)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "payevent.set_outcome");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    cm__q_text(&q, 2, o->what);
    cm__q_text(&q, 3, o->detail);
    cm__q_int64(&q, 4, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc;
}

/* The inbox row at q's current row (EVENT_COLS of sql_pay.c). */
static json_t *event_json(cm__q *q)
{
    json_t *o = json_object();
    cm__json_set_col_int(o, "id", q, 0);
    cm__json_set_col_text(o, "provider_event_id", q, 1);
    cm__json_set_col_text(o, "type", q, 2);
    cm__json_set_col_text(o, "object_id", q, 3);
    cm__json_set_col_time(o, "event_created", q, 4);
    cm__json_set_col_int(o, "deliveries", q, 5);
    cm__json_set_col_text(o, "outcome", q, 6);
    cm__json_set_col_text(o, "detail", q, 7);
    cm__json_set_col_time(o, "received_at", q, 8);
    cm__json_set_col_time(o, "processed_at", q, 9);
    return o;
}

static int event_get_json(json_t **out, json_t **payload, cm__ctx *ctx, int64_t id)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "payevent.get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    if (rc == 1) {
        *out = event_json(&q);
        if (payload) {
            json_error_t jerr;
            *payload = json_loads(cm__q_col_text(&q, 10), 0, &jerr);
        }
    } else if (rc == 0) {
        rc = cm__error_set_field(CM_ENOTFOUND, "event_id", "no payment event %lld", (long long)id);
    }
    cm__q_close(&q);
    return cm__ok(rc);
}

/* prepare hook of payments.webhook: the signature is checked before any
 * transaction, so a forged or stale delivery never takes the write lock.
 * "_verified" cannot come from a client (validation refuses unknown
 * fields). */
/* Process ev (NULL: a stored body that is not JSON) as inbox event id,
 * record the outcome, and answer the inbox row ("duplicate": false): the
 * common end of a first delivery and of a replay. */
static int apply_event(json_t **out, cm__ctx *ctx, int64_t id, json_t *ev)
{
    outcome o = {0};
    int rc = CM_OK;
    if (!ev)
        OUTCOME(&o, "ignored", "the stored body is not JSON");
    else
        rc = process(&o, ctx, ev);
    if (rc || (rc = set_outcome(ctx, id, &o)))
        return rc;
    ctx->target_type = "payment_event";
    ctx->target_id = id;
    if ((rc = event_get_json(out, NULL, ctx, id)))
        return rc;
    json_object_set_new(*out, "duplicate", json_false());
    return CM_OK;
}

static int webhook_prepare(cm__ctx *ctx, json_t *in)
{
    const char *payload = cm__json_str(in, "payload");
    cm__pay_settings s;
    int rc = cm__pay_settings_get(&s, ctx->store);
    if (rc)
        return rc;
    rc = cm__pay_stripe.verify(&s.cfg, payload, strlen(payload), cm__json_str(in, "signature"),
                               ctx->now, s.tolerance_s);
    cm__pay_settings_dispose(&s);
    if (rc) {
        cm__log(CM_LOG_WARN, "pay", "webhook refused: %s", cm_error_message());
        return rc;
    }
    json_object_set_new(in, "_verified", json_true());
    return CM_OK;
}

static int op_webhook(cm__ctx *ctx, json_t *in, json_t **out)
{
    if (!cm__json_bool(in, "_verified", false))
        return cm__error_set(CM_EMISUSE, "payments.webhook ran without its prepare hook");
    const char *payload = cm__json_str(in, "payload");
    size_t len = strlen(payload);
    int rc;
    json_error_t jerr;
    json_t *ev = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *eid = cm__json_str(ev, "id"), *type = cm__json_str(ev, "type");
    json_t *created = json_object_get(ev, "created");
    if (!eid || !*eid || !type || !json_is_integer(created)) {
        json_decref(ev);
        return cm__error_set_field(CM_EINVAL, "payload",
                                   "the event has no id, type or created time");
    }
    json_t *obj = json_object_get(json_object_get(ev, "data"), "object");
    const char *object_id = cm__json_str(obj, "id");
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "payevent.insert"))) {
        json_decref(ev);
        return rc;
    }
    cm__q_text(&q, 1, eid);
    cm__q_text(&q, 2, type);
    cm__q_text(&q, 3, object_id ? object_id : "");
    cm__q_int64(&q, 4, (int64_t)json_integer_value(created) * SEC);
    cm__q_textn(&q, 5, payload, len);
    cm__q_int64(&q, 6, ctx->now);
    rc = cm__q_step(&q);
    int64_t id = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if (rc < 0) {
        json_decref(ev);
        return rc;
    }
    if (!id) { /* delivered before: processed then, exactly once */
        if ((rc = cm__q_open(&q, ctx->conn, "payevent.redelivered"))) {
            json_decref(ev);
            return rc;
        }
        cm__q_text(&q, 1, eid);
        rc = cm__q_step(&q);
        json_decref(ev);
        json_t *row = rc == 1 ? event_json(&q) : NULL;
        if (row) {
            ctx->target_type = "payment_event";
            ctx->target_id = cm__q_col_int64(&q, 0);
        }
        cm__q_close(&q);
        if (!row)
            return rc < 0 ? rc : cm__error_set(CM_ERROR, "payment event vanished");
        json_object_set_new(row, "duplicate", json_true());
        *out = row;
        return CM_OK;
    }
    rc = apply_event(out, ctx, id, ev);
    json_decref(ev);
    return rc;
}

static json_t *event_row(cm__q *q, void *payload)
{
    (void)payload;
    return event_json(q);
}

static int op_events_list(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t before = INT64_MAX, unused;
    int rc;
    const char *cursor = cm__json_str(in, "cursor");
    if (cursor && (rc = cm__cursor_decode(&before, &unused, cursor)))
        return rc;
    int64_t limit = cm__json_int(in, "limit", 50);
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "payevent.list")))
        return rc;
    cm__q_int64(&q, 1, before);
    cm__q_text(&q, 2, cm__json_str(in, "type"));
    cm__q_text(&q, 3, cm__json_str(in, "outcome"));
    cm__q_int64(&q, 4, limit + 1);
    return cm__page_collect(out, &q, limit, 0, -1, event_row, NULL);
}

static int op_events_replay(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = cm__json_int(in, "event_id", 0);
    json_t *row = NULL, *ev = NULL;
    int rc = event_get_json(&row, &ev, ctx, id);
    if (rc)
        return rc;
    json_decref(row);
    rc = apply_event(out, ctx, id, ev);
    json_decref(ev);
    return rc;
}

/* ---- refunds owed at the provider ---- */

#define REFUND_MAX_ATTEMPTS 5

typedef struct refund_due {
    int64_t id, amount, attempts;
    char reference[256], reason[32];
} refund_due;

typedef struct refund_batch {
    int64_t after, limit;
    size_t n;
    refund_due *due;
} refund_batch;

static int refunds_read(cm__conn *conn, void *payload)
{
    refund_batch *b = payload;
    cm__q q;
    int rc = cm__q_open(&q, conn, "refund.pending");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, b->after);
    cm__q_int64(&q, 2, b->limit);
    b->n = 0;
    while ((rc = cm__q_step(&q)) == 1 && (int64_t)b->n < b->limit) {
        refund_due *d = &b->due[b->n++];
        d->id = cm__q_col_int64(&q, 0);
        snprintf(d->reference, sizeof d->reference, "%s", cm__q_col_text(&q, 1));
        d->amount = cm__q_col_int64(&q, 2);
        snprintf(d->reason, sizeof d->reason, "%s", cm__q_col_text(&q, 3));
        d->attempts = cm__q_col_int64(&q, 4);
    }
    cm__q_close(&q);
    return cm__ok(rc);
}

typedef struct refund_result {
    int64_t id;
    const char *status, *provider_id, *error;
} refund_result;

static int refund_write(cm__conn *conn, void *payload)
{
    const refund_result *r = payload;
    cm__q q;
    int rc = cm__q_open(&q, conn, "refund.set");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, r->id);
    cm__q_text(&q, 2, r->status);
    if (r->provider_id)
        cm__q_text(&q, 3, r->provider_id);
    else
        cm__q_null(&q, 3);
    cm__q_text(&q, 4, r->error ? r->error : "");
    cm__q_int64(&q, 5, cm_now_us());
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc;
}

int cm__pay_send_refunds(cm_store *store, int64_t limit, int64_t *sent, int64_t *failed)
{
    *sent = *failed = 0;
    refund_batch b = {.after = 0, .limit = limit > 0 && limit < 500 ? limit : 50};
    b.due = cm__calloc((size_t)b.limit, sizeof *b.due);
    if (!b.due)
        return cm__oom();
    int rc = cm__store_run_tx(store, false, refunds_read, &b);
    cm__pay_settings s;
    bool have_settings = false;
    if (rc == CM_OK && b.n) {
        if ((rc = cm__pay_settings_get(&s, store)) == CM_OK)
            have_settings = true;
    }
    for (size_t i = 0; rc == CM_OK && i < b.n; i++) {
        const refund_due *d = &b.due[i];
        char key[300], provider_id[128], error[256] = "";
        /* one key per refund row: an automatic refund is the only one of its
         * payment (its key predates requested refunds); a requested one is
         * one of several parts */
        if (strcmp(d->reason, "requested") == 0)
            snprintf(key, sizeof key, "cm-refund-%s-%lld", d->reference, (long long)d->id);
        else
            snprintf(key, sizeof key, "cm-refund-%s", d->reference);
        cm__refund_req req = {.payment = d->reference,
                              .amount = d->amount,
                              .reason = d->reason,
                              .idempotency_key = key};
        int prc = cm__pay_stripe.refund_create(provider_id, &s.cfg, &req);
        if (prc == CM_ENOMEM) {
            rc = prc;
            break;
        }
        refund_result r = {.id = d->id, .status = "sent", .provider_id = provider_id};
        if (prc) {
            snprintf(error, sizeof error, "%s", cm_error_message());
            cm_error_clear();
            r.provider_id = NULL;
            r.error = error;
            r.status = d->attempts + 1 >= REFUND_MAX_ATTEMPTS ? "failed" : "pending";
            cm__log(CM_LOG_WARN, "pay", "refund %lld (attempt %lld): %s", (long long)d->id,
                    (long long)d->attempts + 1, error);
        }
        if ((rc = cm__store_run_tx(store, true, refund_write, &r)))
            break;
        if (!prc)
            ++*sent;
        else if (strcmp(r.status, "failed") == 0)
            ++*failed;
    }
    if (have_settings)
        cm__pay_settings_dispose(&s);
    cm__free(b.due);
    return rc;
}

static int count_pending(int64_t *n, cm__conn *conn)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "refund.count_pending");
    if (rc)
        return rc;
    rc = cm__q_step(&q);
    *n = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    return cm__ok(rc);
}

/* prepare hook of payments.send_refunds: the provider is asked outside any
 * transaction; the handler reports. */
static int send_refunds_prepare(cm__ctx *ctx, json_t *in)
{
    int64_t sent, failed;
    int rc = cm__pay_send_refunds(ctx->store, cm__json_int(in, "limit", 50), &sent, &failed);
    if (rc)
        return rc;
    json_object_set_new(in, "_sent", json_integer(sent));
    json_object_set_new(in, "_failed", json_integer(failed));
    return CM_OK;
}

static int op_send_refunds(cm__ctx *ctx, json_t *in, json_t **out)
{
    if (!json_is_integer(json_object_get(in, "_sent")))
        return cm__error_set(CM_EMISUSE, "payments.send_refunds ran without its prepare hook");
    int64_t pending;
    int rc = count_pending(&pending, ctx->conn);
    if (rc)
        return rc;
    *out = json_pack("{s:I,s:I,s:I}", "sent", (json_int_t)cm__json_int(in, "_sent", 0), "failed",
                     (json_int_t)cm__json_int(in, "_failed", 0), "pending", (json_int_t)pending);
    return CM_OK;
}

static int op_refunds_list(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t before = INT64_MAX, unused;
    int rc;
    const char *cursor = cm__json_str(in, "cursor");
    if (cursor && (rc = cm__cursor_decode(&before, &unused, cursor)))
        return rc;
    int64_t limit = cm__json_int(in, "limit", 50);
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "refund.list")))
        return rc;
    cm__q_int64(&q, 1, before);
    cm__q_text(&q, 2, cm__json_str(in, "status"));
    cm__q_int64(&q, 3, limit + 1);
    json_t *items = json_array();
    int64_t last = 0;
    bool more = false;
    while ((rc = cm__q_step(&q)) == 1) {
        if ((int64_t)json_array_size(items) == limit) {
            more = true;
            break;
        }
        last = cm__q_col_int64(&q, 0);
        json_t *r = json_object();
        cm__json_set_col_int(r, "id", &q, 0);
        cm__json_set_col_int(r, "order_id", &q, 1);
        cm__json_set_col_text(r, "payment_reference", &q, 2);
        cm__json_set_col_int(r, "amount_minor", &q, 3);
        cm__json_set_col_text(r, "currency", &q, 4);
        cm__json_set_col_text(r, "reason", &q, 5);
        cm__json_set_col_text(r, "status", &q, 6);
        if (cm__q_is_null(&q, 7))
            json_object_set_new(r, "provider_refund_id", json_null());
        else
            cm__json_set_col_text(r, "provider_refund_id", &q, 7);
        cm__json_set_col_int(r, "attempts", &q, 8);
        cm__json_set_col_text(r, "last_error", &q, 9);
        cm__json_set_col_time(r, "created_at", &q, 10);
        cm__json_set_col_time(r, "updated_at", &q, 11);
        cm__json_set_col_text(r, "ledger_reference", &q, 12);
        json_array_append_new(items, r);
    }
    cm__q_close(&q);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = cm__page(items, more, last, 0);
    return CM_OK;
}

/* ---- declarations ---- */

static const cm__field tier_create_fields[] = {
    CM__FIELD("slug", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 64,
              .doc = "Unique short name"),
    CM__FIELD("name", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 200,
              .doc = "Shown to members"),
    CM__FIELD("description", CM__T_STRING, .max = 4000, .doc = "What the tier offers"),
    CM__FIELD("currency", CM__T_STRING, .min = 3, .max = 3,
              .doc = "ISO 4217 code (upper case) of a paid tier; none for a free tier"),
    CM__FIELD("monthly_price", CM__T_INT, .min = 0, .max = 100000000,
              .doc = "Price per month in minor units; 0: not offered monthly"),
    CM__FIELD("yearly_price", CM__T_INT, .min = 0, .max = 1000000000,
              .doc = "Price per year in minor units; 0: not offered yearly"),
    CM__FIELD("trial_days", CM__T_INT, .min = 0, .max = 730, .doc = "Free trial of a paid tier"),
    {.name = NULL},
};
static const cm__field tier_list_fields[] = {
    CM__FIELD("include_inactive", CM__T_BOOL, .doc = "Admins: also tiers no longer offered"),
    {.name = NULL},
};
static const cm__field tier_active_fields[] = {
    CM__FIELD("tier_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Tier id"),
    CM__FIELD("active", CM__T_BOOL, .flags = CM__REQUIRED,
              .doc = "Offered to new subscribers (existing subscriptions are kept)"),
    {.name = NULL},
};
static const cm__field access_fields[] = {
    CM__FIELD("tier_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Tier id"),
    CM__FIELD("kind", CM__T_ENUM, .flags = CM__REQUIRED, .values = access_kind_values,
              .doc = "What is unlocked"),
    CM__FIELD("target_id", CM__T_ID, .flags = CM__REQUIRED,
              .doc = "The ticket type, group or newsletter id"),
    {.name = NULL},
};
static const cm__field access_query_fields[] = {
    CM__FIELD("kind", CM__T_ENUM, .flags = CM__REQUIRED, .values = access_kind_values,
              .doc = "What to check"),
    CM__FIELD("target_id", CM__T_ID, .flags = CM__REQUIRED,
              .doc = "The ticket type, group or newsletter id"),
    {.name = NULL},
};
static const cm__field subscribe_fields[] = {
    CM__FIELD("tier_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Tier id"),
    CM__FIELD("interval", CM__T_ENUM, .values = interval_values,
              .doc = "Billing interval of a paid tier (default: monthly when offered)"),
    CM__FIELD("return_url", CM__T_URL,
              .doc = "Where the payment page sends the member back (default: the store's "
                     "configured success and cancel URLs)"),
    {.name = NULL},
};
static const cm__field order_checkout_fields[] = {
    CM__FIELD("order_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "The order (a hold) to pay"),
    CM__FIELD("return_url", CM__T_URL,
              .doc = "Where the payment page sends the buyer back (default: the store's "
                     "configured success and cancel URLs)"),
    {.name = NULL},
};
static const cm__field webhook_fields[] = {
    CM__FIELD("payload", CM__T_STRING, .flags = CM__REQUIRED, .min = 2, .max = 262144,
              .doc = "The request body exactly as received"),
    CM__FIELD("signature", CM__T_STRING, .max = 2048,
              .doc = "The Stripe-Signature header: t=<unix time>,v1=<hex HMAC-SHA256>"),
    {.name = NULL},
};
static const cm__field events_list_fields[] = {
    CM__FIELD("type", CM__T_STRING, .min = 1, .max = 100, .doc = "Only this event type"),
    CM__FIELD("outcome", CM__T_ENUM, .values = outcome_values, .doc = "Only this outcome"),
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = 500, .doc = "Page size (default 50)"),
    CM__FIELD("cursor", CM__T_CURSOR, .doc = "next_cursor of the previous page"),
    {.name = NULL},
};
static const char *const refund_status_values[] = {"pending", "sent", "failed", NULL};
static const char *const refund_reason_values[] = {"late_payment", "amount_mismatch",
                                                   "already_paid", "requested", NULL};
static const cm__field refunds_list_fields[] = {
    CM__FIELD("status", CM__T_ENUM, .values = refund_status_values, .doc = "Only this status"),
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = 500, .doc = "Page size (default 50)"),
    CM__FIELD("cursor", CM__T_CURSOR, .doc = "next_cursor of the previous page"),
    {.name = NULL},
};
static const cm__field send_refunds_fields[] = {
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = 500,
              .doc = "Most refunds to ask the provider for (default 50)"),
    {.name = NULL},
};
static const cm__field replay_fields[] = {
    CM__FIELD("event_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Inbox id of the event"),
    {.name = NULL},
};

static const cm__rfield access_entry_fields[] = {
    {"kind", CM__R_ENUM, .values = access_kind_values},
    {"target_id", CM__R_INT},
    {NULL},
};
static const cm__shape access_entry = {.fields = access_entry_fields};
static const cm__rfield tier_fields[] = {
    {"id", CM__R_INT},
    {"slug", CM__R_STRING},
    {"name", CM__R_STRING},
    {"description", CM__R_STRING},
    {"currency", CM__R_STRING, .doc = "ISO 4217; \"\" for a free tier"},
    {"monthly_price", CM__R_INT, .doc = "Minor units; 0: not offered monthly"},
    {"yearly_price", CM__R_INT, .doc = "Minor units; 0: not offered yearly"},
    {"trial_days", CM__R_INT},
    {"active", CM__R_BOOL, .doc = "Offered to new subscribers"},
    {"free", CM__R_BOOL},
    {"access", CM__R_ARRAY, .shape = &access_entry, .doc = "What the tier unlocks"},
    {"created_at", CM__R_TIME},
    {"updated_at", CM__R_TIME},
    {NULL},
};
static const cm__shape tier_shape = {
    .name = "MembershipTier", .doc = "A membership tier", .fields = tier_fields};
static const cm__rfield tier_list_result_fields[] = {
    {"items", CM__R_ARRAY, .shape = &tier_shape},
    {NULL},
};
static const cm__shape tier_list_result = {.fields = tier_list_result_fields};

static const cm__rfield sub_fields[] = {
    {"id", CM__R_INT},
    {"member_id", CM__R_INT},
    {"tier_id", CM__R_INT},
    {"tier_slug", CM__R_STRING},
    {"tier_name", CM__R_STRING},
    {"interval", CM__R_ENUM, .values = sub_interval_values, .doc = "none: a free tier"},
    {"status", CM__R_ENUM, .values = sub_status_values},
    {"in_good_standing", CM__R_BOOL,
     .doc = "trialing, active, or past_due within the grace period: the tier's access applies"},
    {"current_period_end", CM__R_TIME, .flags = CM__R_NULL},
    {"past_due_since", CM__R_TIME, .flags = CM__R_NULL},
    {"grace_ends_at", CM__R_TIME, .flags = CM__R_NULL,
     .doc = "While past_due: when access stops unless paid"},
    {"started_at", CM__R_TIME, .flags = CM__R_NULL},
    {"ended_at", CM__R_TIME, .flags = CM__R_NULL},
    {"created_at", CM__R_TIME},
    {"updated_at", CM__R_TIME},
    {NULL},
};
static const cm__shape sub_shape = {
    .name = "Subscription", .doc = "A member's subscription to a tier", .fields = sub_fields};
static const cm__rfield subscribe_result_fields[] = {
    {"subscription", CM__R_OBJECT, .shape = &sub_shape},
    {"checkout_url", CM__R_STRING, .flags = CM__R_NULL,
     .doc = "The provider's payment page to send the member to; null for a free tier"},
    {NULL},
};
static const cm__shape subscribe_result = {.fields = subscribe_result_fields};
static const cm__rfield order_checkout_result_fields[] = {
    {"order", CM__R_OBJECT, .shape = &cm__shape_order},
    {"checkout_url", CM__R_STRING, .doc = "The provider's payment page to send the buyer to"},
    {NULL},
};
static const cm__shape order_checkout_result = {.fields = order_checkout_result_fields};
static const cm__rfield mine_result_fields[] = {
    {"items", CM__R_ARRAY, .shape = &sub_shape},
    {NULL},
};
static const cm__shape mine_result = {.fields = mine_result_fields};
static const cm__rfield access_result_fields[] = {
    {"allowed", CM__R_BOOL},
    {NULL},
};
static const cm__shape access_result = {.fields = access_result_fields};

static const cm__rfield event_fields[] = {
    {"id", CM__R_INT, .doc = "Inbox id"},
    {"provider_event_id", CM__R_STRING},
    {"type", CM__R_STRING},
    {"object_id", CM__R_STRING, .doc = "The id of the event's data.object"},
    {"event_created", CM__R_TIME, .doc = "When the provider created the event"},
    {"deliveries", CM__R_INT, .doc = "How often the provider delivered it"},
    {"outcome", CM__R_ENUM, .values = outcome_values},
    {"detail", CM__R_STRING},
    {"received_at", CM__R_TIME},
    {"processed_at", CM__R_TIME},
    {"duplicate", CM__R_BOOL, .flags = CM__R_OPT,
     .doc = "This delivery repeated one already processed: nothing changed"},
    {NULL},
};
static const cm__shape event_shape = {
    .name = "PaymentEvent", .doc = "A provider event in the webhook inbox", .fields = event_fields};
CM__PAGE(event_page, event_shape);

static const cm__rfield refund_fields[] = {
    {"id", CM__R_INT},
    {"order_id", CM__R_INT},
    {"payment_reference", CM__R_STRING, .doc = "The provider's payment id"},
    {"amount_minor", CM__R_INT},
    {"currency", CM__R_STRING},
    {"reason", CM__R_ENUM, .values = refund_reason_values,
     .doc = "late_payment: the hold had ended; amount_mismatch: not the order's total or "
            "currency; already_paid: the order took another payment before; requested: "
            "orders.refund of an order paid at the provider"},
    {"ledger_reference", CM__R_STRING,
     .doc = "The refund row of the order's ledger it gives back (for requested: the "
            "reference given to orders.refund)"},
    {"status", CM__R_ENUM, .values = refund_status_values,
     .doc = "pending: to be asked for; sent: the provider took it; failed: gave up after 5 "
            "attempts (see last_error; refund it from the provider's dashboard)"},
    {"provider_refund_id", CM__R_STRING, .flags = CM__R_NULL},
    {"attempts", CM__R_INT},
    {"last_error", CM__R_STRING},
    {"created_at", CM__R_TIME},
    {"updated_at", CM__R_TIME},
    {NULL},
};
static const cm__shape refund_shape = {.name = "PaymentRefund",
                                       .doc = "A refund the library owes at the payment provider",
                                       .fields = refund_fields};
CM__PAGE(refund_page, refund_shape);
static const cm__rfield send_refunds_result_fields[] = {
    {"sent", CM__R_INT, .doc = "Refunds the provider took now"},
    {"failed", CM__R_INT, .doc = "Refunds given up now (5 failed attempts)"},
    {"pending", CM__R_INT, .doc = "Refunds still to ask for"},
    {NULL},
};
static const cm__shape send_refunds_result = {.fields = send_refunds_result_fields};

const cm__op cm__pay_ops[] = {
    {
        .name = "memberships.create_tier",
        .summary = "Create a membership tier (free, or paid monthly / yearly)",
        .role = CM_ROLE_ADMIN,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/membership-tiers",
        .fields = tier_create_fields,
        .fn = op_tier_create,
        .result = &tier_shape,
    },
    {
        .name = "memberships.tiers",
        .summary = "The membership tiers on offer, cheapest first",
        .role = CM_ROLE_ANONYMOUS,
        .http_method = "GET",
        .http_path = "/v1/membership-tiers",
        .fields = tier_list_fields,
        .fn = op_tier_list,
        .result = &tier_list_result,
    },
    {
        .name = "memberships.set_tier_active",
        .summary = "Offer a tier to new subscribers, or stop offering it",
        .role = CM_ROLE_ADMIN,
        .flags = CM__OP_WRITE,
        .http_method = "PUT",
        .http_path = "/v1/membership-tiers/{tier_id}/active",
        .fields = tier_active_fields,
        .fn = op_tier_set_active,
        .result = &tier_shape,
    },
    {
        .name = "memberships.grant_access",
        .summary = "Let a tier unlock a ticket type, private group or newsletter",
        .role = CM_ROLE_ADMIN,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/membership-tiers/{tier_id}/access",
        .fields = access_fields,
        .fn = op_access_grant,
        .result = &tier_shape,
    },
    {
        .name = "memberships.revoke_access",
        .summary = "Stop a tier unlocking a ticket type, private group or newsletter",
        .role = CM_ROLE_ADMIN,
        .flags = CM__OP_WRITE,
        .http_method = "DELETE",
        .http_path = "/v1/membership-tiers/{tier_id}/access",
        .fields = access_fields,
        .fn = op_access_revoke,
        .result = &tier_shape,
    },
    {
        .name = "memberships.subscribe",
        .summary = "Subscribe to a tier: free at once, paid through the provider's checkout page",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/memberships",
        .fields = subscribe_fields,
        .fn = op_subscribe,
        .prepare = subscribe_prepare,
        .result = &subscribe_result,
    },
    {
        .name = "memberships.mine",
        .summary = "My subscriptions, newest first",
        .role = CM_ROLE_MEMBER,
        .http_method = "GET",
        .http_path = "/v1/memberships/mine",
        .fn = op_mine,
        .result = &mine_result,
    },
    {
        .name = "memberships.access",
        .summary = "Does one of my subscriptions unlock this ticket type, group or newsletter?",
        .role = CM_ROLE_MEMBER,
        .http_method = "GET",
        .http_path = "/v1/memberships/access",
        .fields = access_query_fields,
        .fn = op_access,
        .result = &access_result,
    },
    {
        .name = "orders.checkout",
        .summary = "Pay a ticket order (a hold) on the provider's checkout page",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/orders/{order_id}/checkout",
        .fields = order_checkout_fields,
        .fn = op_order_checkout,
        .prepare = order_checkout_prepare,
        .result = &order_checkout_result,
    },
    {
        .name = "payments.webhook",
        .summary = "The payment provider's webhook: a signed event, processed exactly once",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/payments/webhook",
        .http_raw_body = "payload",
        .http_headers = (const char *const[]){"Stripe-Signature", "signature", NULL},
        .fields = webhook_fields,
        .fn = op_webhook,
        .prepare = webhook_prepare,
        .result = &event_shape,
    },
    {
        .name = "payments.events",
        .summary = "The webhook inbox, newest first",
        .role = CM_ROLE_ADMIN,
        .http_method = "GET",
        .http_path = "/v1/payments/events",
        .fields = events_list_fields,
        .fn = op_events_list,
        .result = &event_page,
    },
    {
        .name = "payments.replay",
        .summary = "Process a stored webhook event again (from its kept raw body)",
        .role = CM_ROLE_ADMIN,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/payments/events/{event_id}/replay",
        .fields = replay_fields,
        .fn = op_events_replay,
        .result = &event_shape,
    },
    {
        .name = "payments.refunds",
        .summary = "Refunds owed at the provider (late, mismatched or second payments), newest "
                   "first",
        .role = CM_ROLE_ADMIN,
        .http_method = "GET",
        .http_path = "/v1/payments/refunds",
        .fields = refunds_list_fields,
        .fn = op_refunds_list,
        .result = &refund_page,
    },
    {
        .name = "payments.send_refunds",
        .summary = "Ask the provider now for the pending refunds (the platform job does it every "
                   "minute)",
        .role = CM_ROLE_ADMIN,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/payments/refunds/send",
        .fields = send_refunds_fields,
        .fn = op_send_refunds,
        .prepare = send_refunds_prepare,
        .result = &send_refunds_result,
    },
    {.name = NULL},
};
