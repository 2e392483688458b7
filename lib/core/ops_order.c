/*
 * ops_order.c - orders: reserve tickets (a hold with a TTL, or a paid order
 * at once when the tickets are free), read an order, the member's orders,
 * cancel a hold, confirm a payment (the payment layer, admins), refund
 * (the event's organizers, admins) and expire the holds whose time is up.
 * The state machine, seats and ledger live in order.c.
 *
 * Idempotency (pretix semantics): orders.create takes an optional
 * idempotency_key, unique per member. The same key with the same request
 * (ticket type, quantity, hold) answers with the order it created, in its
 * current state; the same key with another request is CM_ECONFLICT (field
 * idempotency_key). The key is stored with the order, in the order's own
 * transaction, so a retry after a crash either finds the order or creates
 * it. Payments and refunds are idempotent by their reference (order.c).
 */
#include "commerce_int.h"
#include "pay_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* The ticket type fields an order needs. */
typedef struct tt_info {
    int64_t id, event_id, price_minor, sales_start, sales_end, per_order_max, per_member_max;
    bool has_start, has_end, has_member_max, active, has_tier;
    char currency[4], tier[256];
} tt_info;

static int tt_info_get(tt_info *t, cm__conn *conn, int64_t id)
{
    memset(t, 0, sizeof *t);
    t->id = id;
    cm__q q;
    int rc = cm__q_open(&q, conn, "ticket_type.get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    if (rc == 1) {
        t->event_id = cm__q_col_int64(&q, 1);
        t->price_minor = cm__q_col_int64(&q, 4);
        (void)snprintf(t->currency, sizeof t->currency, "%s", cm__q_col_text(&q, 5));
        if ((t->has_start = !cm__q_is_null(&q, 6)))
            t->sales_start = cm__q_col_int64(&q, 6);
        if ((t->has_end = !cm__q_is_null(&q, 7)))
            t->sales_end = cm__q_col_int64(&q, 7);
        t->per_order_max = cm__q_col_int64(&q, 10);
        if ((t->has_member_max = !cm__q_is_null(&q, 11)))
            t->per_member_max = cm__q_col_int64(&q, 11);
        if ((t->has_tier = !cm__q_is_null(&q, 12)))
            (void)snprintf(t->tier, sizeof t->tier, "%s", cm__q_col_text(&q, 12));
        t->active = cm__q_col_int64(&q, 13) != 0;
    }
    cm__q_close(&q);
    if (rc == 0)
        return cm__error_set_field(CM_ENOTFOUND, "ticket_type_id",
                                   "ticket_type_id: ticket type %lld not found", (long long)id);
    return cm__ok(rc);
}

/* A hash of what an order request asks for (its idempotency identity). */
static void request_hash(char out[65], int64_t tt, int64_t quantity, int64_t hold_us)
{
    char buf[96];
    int n = snprintf(buf, sizeof buf, "orders.create:%lld:%lld:%lld", (long long)tt,
                     (long long)quantity, (long long)hold_us);
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)buf, (unsigned long long)n);
    for (size_t i = 0; i < sizeof h; i++)
        (void)snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static int order_out(json_t **out, cm__ctx *ctx, int64_t id, bool with_tickets)
{
    cm__order o;
    int rc = cm__order_load(&o, ctx->conn, id);
    return rc ? rc : cm__order_json(out, ctx->conn, &o, with_tickets);
}

/* Take n seats of the event's pool (after the RSVP waitlist: seats go to
 * it first) and of the type's sub-quota. */
static int take_seats(cm__ctx *ctx, int64_t event_id, int64_t tt, int64_t n)
{
    static const char *const stmts[] = {"event.seats_take", "ticket_type.take"};
    for (int i = 0; i < 2; i++) {
        cm__q q;
        int rc = cm__q_open(&q, ctx->conn, stmts[i]);
        if (rc)
            return rc;
        cm__q_int64(&q, 1, i == 0 ? event_id : tt);
        cm__q_int64(&q, 2, n);
        if (i == 0)
            cm__q_int64(&q, 3, 1);
        rc = cm__q_step(&q);
        int64_t changed = rc == 0 ? cm__q_changes(&q) : 0;
        cm__q_close(&q);
        if (rc < 0)
            return rc;
        if (changed != 1)
            return cm__error_set_field(CM_ECONSTRAINT, "quantity",
                                       i == 0 ? "quantity: sold out (not %lld seats left)"
                                              : "quantity: not %lld tickets of this type left",
                                       (long long)n);
    }
    return CM_OK;
}

/* The order the member made with idempotency key `key`: *id 0 when none;
 * CM_ECONFLICT when the key was used for another request. */
static int find_by_key(int64_t *id, cm__ctx *ctx, const char *key, const char *hash)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "order.by_key");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, ctx->actor->member_id);
    cm__q_text(&q, 2, key);
    rc = cm__q_step(&q);
    bool same = false;
    *id = 0;
    if (rc == 1) {
        *id = cm__q_col_int64(&q, 0);
        same = strcmp(cm__q_col_text(&q, 1), hash) == 0;
    }
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (*id && !same)
        return cm__error_set_field(CM_ECONFLICT, "idempotency_key",
                                   "idempotency_key: used before for another order request");
    return CM_OK;
}

/* The checks of an order of `quantity` tickets of type t for the caller. */
static int check_order(cm__ctx *ctx, const cm__event *ev, const tt_info *t, int64_t quantity)
{
    bool allowed = t->active;
    int rc;
    if (allowed && t->has_tier && !ev->manage &&
        (rc = cm__ticket_tier_allows(&allowed, ctx, ev, t->tier, t->id)))
        return rc;
    if (!allowed)
        return cm__error_set_field(CM_ENOTFOUND, "ticket_type_id",
                                   "ticket_type_id: ticket type %lld not found", (long long)t->id);
    if (strcmp(ev->status, "published") != 0)
        return cm__error_set_field(CM_ECONSTRAINT, "ticket_type_id",
                                   "ticket_type_id: the event is %s", ev->status);
    if (ev->end_at <= ctx->now)
        return cm__error_set_field(CM_ECONSTRAINT, "ticket_type_id",
                                   "ticket_type_id: the event has ended");
    if (t->has_start && ctx->now < t->sales_start)
        return cm__error_set_field(CM_ECONSTRAINT, "ticket_type_id",
                                   "ticket_type_id: sales have not started");
    if (t->has_end && ctx->now >= t->sales_end)
        return cm__error_set_field(CM_ECONSTRAINT, "ticket_type_id",
                                   "ticket_type_id: sales have ended");
    if (quantity > t->per_order_max)
        return cm__error_set_field(CM_ECONSTRAINT, "quantity",
                                   "quantity: at most %lld of this type per order",
                                   (long long)t->per_order_max);
    if (!t->has_member_max)
        return CM_OK;
    cm__q q;
    rc = cm__q_open(&q, ctx->conn, "order.member_count");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, t->id);
    cm__q_int64(&q, 2, ctx->actor->member_id);
    rc = cm__q_step(&q);
    int64_t held = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if ((rc = cm__ok(rc)))
        return rc;
    if (held + quantity > t->per_member_max)
        return cm__error_set_field(CM_ECONSTRAINT, "quantity",
                                   "quantity: at most %lld of this type per member (you hold "
                                   "%lld)",
                                   (long long)t->per_member_max, (long long)held);
    return CM_OK;
}

static int op_create(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t me = ctx->actor->member_id;
    if (!me)
        return cm__error_set(CM_EAUTH, "orders.create needs a member, not the system actor");
    int64_t quantity = cm__json_int(in, "quantity", 1);
    int64_t hold_us = cm__json_int(in, "hold_minutes", CM__ORDER_HOLD_US / 60000000) * 60000000;
    const char *key = cm__json_str(in, "idempotency_key");
    tt_info t;
    int rc = tt_info_get(&t, ctx->conn, cm__json_int(in, "ticket_type_id", 0));
    cm__event ev;
    if (rc || (rc = cm__event_lock(ctx, t.event_id)))
        return rc;
    if ((rc = cm__event_load(&ev, NULL, ctx, t.event_id)))
        return rc == CM_ENOTFOUND ? cm__error_set_field(CM_ENOTFOUND, "ticket_type_id",
                                                        "ticket_type_id: ticket type %lld not "
                                                        "found",
                                                        (long long)t.id)
                                  : rc;
    char hash[65];
    request_hash(hash, t.id, quantity, hold_us);
    int64_t id = 0;
    if (key && (rc = find_by_key(&id, ctx, key, hash)))
        return rc;
    if (id) { /* a retry: the same answer, the order as it is now */
        ctx->target_type = "order";
        ctx->target_id = id;
        return order_out(out, ctx, id, true);
    }
    /* Holds that ended give their seats back before we count them. */
    if ((rc = check_order(ctx, &ev, &t, quantity)) ||
        (rc = cm__order_expire_holds(ctx->conn, ctx->now, ev.id, INT64_MAX, NULL)) ||
        (rc = take_seats(ctx, ev.id, t.id, quantity)))
        return rc;
    bool free_order = t.price_minor == 0;
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "order.insert")))
        return rc;
    cm__q_int64(&q, 1, ev.id);
    cm__q_int64(&q, 2, me);
    cm__q_int64(&q, 3, t.id);
    cm__q_int64(&q, 4, quantity);
    cm__q_int64(&q, 5, t.price_minor);
    cm__q_text(&q, 6, t.currency);
    cm__q_text(&q, 7, free_order ? "paid" : "reserved");
    cm__q_int64(&q, 8, ctx->now + hold_us);
    cm__q_text(&q, 9, key);
    cm__q_text(&q, 10, key ? hash : NULL);
    cm__q_int64(&q, 11, ctx->now);
    if (free_order)
        cm__q_int64(&q, 12, ctx->now);
    else
        cm__q_null(&q, 12);
    cm__q_int64(&q, 13, quantity * t.price_minor);
    rc = cm__q_step(&q);
    id = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if ((rc = cm__ok(rc)))
        return rc;
    if (free_order) {
        cm__order o;
        if ((rc = cm__order_load(&o, ctx->conn, id)) ||
            (rc = cm__order_issue_tickets(ctx->conn, &o, ctx->now)) ||
            (rc = cm__metric_add(ctx->conn, "ticket_purchases", 1)) ||
            (rc = cm__metric_add(ctx->conn, "tickets_sold", quantity)))
            return rc;
    }
    ctx->target_type = "order";
    ctx->target_id = id;
    return order_out(out, ctx, id, true);
}

/* Load an order the caller may see: its buyer, the event's organizers,
 * staff. *manage tells whether the caller manages the event. */
static int load_visible(cm__order *o, bool *manage, cm__ctx *ctx, int64_t id)
{
    int rc = cm__order_load(o, ctx->conn, id);
    if (rc)
        return rc;
    cm__event ev;
    *manage = false;
    if ((rc = cm__event_load(&ev, NULL, ctx, o->event_id)) == CM_OK)
        *manage = ev.manage;
    else if (rc != CM_ENOTFOUND)
        return rc;
    if (o->member_id != ctx->actor->member_id && !*manage)
        return cm__error_set_field(CM_ENOTFOUND, "order_id", "order_id: order %lld not found",
                                   (long long)id);
    return CM_OK;
}

static int op_get(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__order o;
    bool manage;
    int rc = load_visible(&o, &manage, ctx, cm__json_int(in, "order_id", 0));
    return rc ? rc : cm__order_json(out, ctx->conn, &o, true);
}

static int op_mine(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t me = ctx->actor->member_id;
    if (!me)
        return cm__error_set(CM_EAUTH, "orders.mine needs a member, not the system actor");
    int64_t before = 0, unused;
    int rc;
    const char *cursor = cm__json_str(in, "cursor");
    if (cursor && (rc = cm__cursor_decode(&before, &unused, cursor)))
        return rc;
    int64_t limit = cm__json_int(in, "limit", 20);
    int64_t ids[101];
    json_t *extra = json_array(); /* [event title, type name] per order */
    size_t n = 0;
    bool more = false;
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "order.mine")) == CM_OK) {
        cm__q_int64(&q, 1, me);
        if (cursor)
            cm__q_int64(&q, 2, before);
        else
            cm__q_null(&q, 2);
        cm__q_int64(&q, 3, limit + 1);
        while ((rc = cm__q_step(&q)) == 1) {
            if ((int64_t)n == limit) {
                more = true;
                break;
            }
            ids[n++] = cm__q_col_int64(&q, 0);
            json_array_append_new(
                extra, json_pack("[s,s]", cm__q_col_text(&q, 18), cm__q_col_text(&q, 19)));
        }
        cm__q_close(&q);
        rc = cm__ok(rc);
    }
    /* the orders' ledgers and tickets once the listing's statement is closed */
    json_t *items = json_array();
    for (size_t i = 0; rc == CM_OK && i < n; i++) {
        json_t *j = NULL;
        if ((rc = order_out(&j, ctx, ids[i], true)))
            break;
        json_t *x = json_array_get(extra, i);
        json_object_set(j, "event_title", json_array_get(x, 0));
        json_object_set(j, "ticket_type_name", json_array_get(x, 1));
        json_array_append_new(items, j);
    }
    json_decref(extra);
    if (rc) {
        json_decref(items);
        return rc;
    }
    *out = cm__page(items, more, n ? ids[n - 1] : 0, 0);
    return CM_OK;
}

static int op_cancel(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = cm__json_int(in, "order_id", 0);
    cm__order o;
    bool manage;
    int rc = load_visible(&o, &manage, ctx, id);
    if (rc || (rc = cm__order_lock(&o, ctx->conn, id)))
        return rc;
    if (o.state == CM__ORDER_PAID && o.total_minor > 0)
        return cm__error_set_field(CM_ECONSTRAINT, "order_id",
                                   "order_id: order %lld is paid; it is cancelled by a refund",
                                   (long long)id);
    if ((o.state == CM__ORDER_RESERVED || o.state == CM__ORDER_PENDING_PAYMENT) &&
        o.expires_at <= ctx->now)
        rc = cm__order_transition(&o, ctx->conn, ctx->now, CM__ORDER_EXPIRED);
    else
        rc = cm__order_transition(&o, ctx->conn, ctx->now, CM__ORDER_CANCELLED);
    if (rc)
        return rc;
    ctx->target_type = "order";
    ctx->target_id = id;
    return cm__order_json(out, ctx->conn, &o, true);
}

static const char *const outcome_names[] = {"paid", "replay", "refunded", NULL};

static int op_confirm_payment(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__pay_outcome oc;
    cm__order o;
    int rc =
        cm__order_confirm_payment(&oc, &o, ctx->conn, ctx->now, cm__json_int(in, "order_id", 0),
                                  cm__json_int(in, "amount_minor", 0), cm__json_str(in, "currency"),
                                  cm__json_str(in, "reference"));
    json_t *j = NULL;
    if (rc || (rc = cm__order_json(&j, ctx->conn, &o, true)))
        return rc;
    ctx->target_type = "order";
    ctx->target_id = o.id;
    *out = json_pack("{s:s,s:o}", "outcome", outcome_names[oc], "order", j);
    return CM_OK;
}

static int op_refund(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = cm__json_int(in, "order_id", 0);
    cm__order o;
    bool manage;
    int rc = load_visible(&o, &manage, ctx, id);
    if (rc)
        return rc;
    if (!manage && !cm__actor_at_least(ctx, CM_ROLE_ADMIN))
        return cm__error_set_field(CM_EPERM, "order_id",
                                   "order_id: only the event's organizers and admins refund");
    int64_t amount = cm__json_int(in, "amount_minor", o.paid_minor - o.refunded_minor);
    bool replay = false;
    json_t *j = NULL;
    const char *reference = cm__json_str(in, "reference");
    int64_t owed = 0;
    /* paid at the provider: the money goes back there, owed in the
     * transaction that records the refund (a replay owes nothing more) and
     * sent by payments.send_refunds (docs/payments.md) */
    if ((rc = cm__order_refund(&replay, &o, ctx->conn, ctx->now, id, amount, reference,
                               cm__json_str(in, "reason"), ctx->actor->member_id)) ||
        (!replay &&
         (rc = cm__pay_refund_requested(&owed, ctx->conn, ctx->now, o.id, o.payment_provider,
                                        o.currency, reference, amount))) ||
        (rc = cm__order_json(&j, ctx->conn, &o, true)))
        return rc;
    ctx->target_type = "order";
    ctx->target_id = id;
    *out = json_pack("{s:b,s:o}", "replay", replay, "order", j);
    return CM_OK;
}

static int op_expire_holds(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t n = 0;
    int rc = cm__order_expire_holds(ctx->conn, ctx->now, 0, cm__json_int(in, "limit", 1000), &n);
    if (rc)
        return rc;
    *out = json_pack("{s:I}", "expired", (json_int_t)n);
    return CM_OK;
}

/* ---- declarations ---- */

static const cm__field create_fields[] = {
    CM__FIELD("ticket_type_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Ticket type id"),
    CM__FIELD("quantity", CM__T_INT, .min = 1, .max = CM__ORDER_MAX_QUANTITY,
              .doc = "Tickets (seats) in the order (default 1)"),
    CM__FIELD("hold_minutes", CM__T_INT, .min = 1, .max = 1440,
              .doc = "How long the seats are held for payment (default 15)"),
    CM__FIELD("idempotency_key", CM__T_STRING, .min = 1, .max = 255,
              .doc = "Retry key: the same key and request give the same order"),
    {.name = NULL},
};

static const cm__field id_fields[] = {
    CM__FIELD("order_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Order id"),
    {.name = NULL},
};

static const cm__field mine_fields[] = {
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = 100, .doc = "Page size (default 20)"),
    CM__FIELD("cursor", CM__T_CURSOR, .doc = "next_cursor of the previous page"),
    {.name = NULL},
};

static const cm__field confirm_fields[] = {
    CM__FIELD("order_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Order id"),
    CM__FIELD("amount_minor", CM__T_INT, .flags = CM__REQUIRED, .min = 1, .max = 10000000000,
              .doc = "Amount paid in minor units (must equal the order's total)"),
    CM__FIELD("currency", CM__T_STRING, .flags = CM__REQUIRED, .min = 3, .max = 3,
              .doc = "ISO 4217 code of the payment"),
    CM__FIELD("reference", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 255,
              .doc = "The provider's payment id (idempotency key of the payment)"),
    {.name = NULL},
};

static const cm__field refund_fields[] = {
    CM__FIELD("order_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Order id"),
    CM__FIELD("amount_minor", CM__T_INT, .min = 1, .max = 10000000000,
              .doc = "Amount to refund in minor units (default: all that is left)"),
    CM__FIELD("reference", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 255,
              .doc = "Idempotency key of this refund"),
    CM__FIELD("reason", CM__T_STRING, .max = 500, .doc = "Why (kept in the ledger)"),
    {.name = NULL},
};

static const cm__field expire_fields[] = {
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = 100000,
              .doc = "Most holds to expire in this call (default 1000)"),
    {.name = NULL},
};

static const char *const state_values[] = {
    "reserved", "pending_payment", "paid",    "partially_refunded",
    "refunded", "cancelled",       "expired", NULL,
};

static const cm__rfield ledger_fields[] = {
    {"id", CM__R_INT},
    {"kind", CM__R_STRING, .doc = "payment or refund"},
    {"amount_minor", CM__R_INT, .doc = "Positive; kind says the direction"},
    {"currency", CM__R_STRING},
    {"reference", CM__R_STRING},
    {"reason", CM__R_STRING},
    {"at", CM__R_TIME},
    {NULL},
};
static const cm__shape ledger_shape = {
    .name = "LedgerEntry", .doc = "One money movement of an order", .fields = ledger_fields};

static const cm__rfield ticket_fields[] = {
    {"id", CM__R_INT},
    {"serial", CM__R_INT, .doc = "1..quantity within the order"},
    {"code", CM__R_STRING, .doc = "Signed check-in code (verify with checkin.key)"},
    {"status", CM__R_STRING, .doc = "valid or void"},
    {"checked_in_at", CM__R_TIME, .flags = CM__R_NULL},
    {NULL},
};
static const cm__shape ticket_shape = {
    .name = "Ticket", .doc = "One seat of a paid order", .fields = ticket_fields};

static const cm__rfield order_fields[] = {
    {"id", CM__R_INT},
    {"event_id", CM__R_INT},
    {"member_id", CM__R_INT},
    {"ticket_type_id", CM__R_INT},
    {"quantity", CM__R_INT},
    {"unit_price_minor", CM__R_INT},
    {"total_minor", CM__R_INT},
    {"currency", CM__R_STRING},
    {"state", CM__R_ENUM, .values = state_values},
    {"paid_minor", CM__R_INT, .doc = "Sum of the ledger's payments"},
    {"refunded_minor", CM__R_INT, .doc = "Sum of the ledger's refunds"},
    {"expires_at", CM__R_TIME, .doc = "End of the hold (reserved, pending_payment)"},
    {"created_at", CM__R_TIME},
    {"updated_at", CM__R_TIME},
    {"paid_at", CM__R_TIME, .flags = CM__R_NULL},
    {"payment_provider", CM__R_STRING, .flags = CM__R_NULL},
    {"ledger", CM__R_ARRAY, .shape = &ledger_shape},
    {"tickets", CM__R_ARRAY, .flags = CM__R_OPT, .shape = &ticket_shape},
    {"event_title", CM__R_STRING, .flags = CM__R_OPT},
    {"ticket_type_name", CM__R_STRING, .flags = CM__R_OPT},
    {NULL},
};
const cm__shape cm__shape_order = {
    .name = "Order", .doc = "A ticket order with its ledger and tickets", .fields = order_fields};

CM__PAGE(mine_page, cm__shape_order);

static const char *const outcome_values[] = {"paid", "replay", "refunded", NULL};
static const cm__rfield confirm_result_fields[] = {
    {"outcome", CM__R_ENUM, .values = outcome_values,
     .doc = "paid; replay (recorded before); refunded (the hold had ended)"},
    {"order", CM__R_OBJECT, .shape = &cm__shape_order},
    {NULL},
};
static const cm__shape confirm_result = {.fields = confirm_result_fields};
static const cm__rfield refund_result_fields[] = {
    {"replay", CM__R_BOOL, .doc = "true: this refund was recorded before"},
    {"order", CM__R_OBJECT, .shape = &cm__shape_order},
    {NULL},
};
static const cm__shape refund_result = {.fields = refund_result_fields};
static const cm__rfield expire_result_fields[] = {
    {"expired", CM__R_INT, .doc = "Holds expired (their seats released)"},
    {NULL},
};
static const cm__shape expire_result = {.fields = expire_result_fields};

const cm__op cm__order_ops[] = {
    {
        .name = "orders.create",
        .summary = "Reserve tickets: a hold awaiting payment, or a paid order when free",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/ticket-types/{ticket_type_id}/orders",
        .fields = create_fields,
        .fn = op_create,
        .result = &cm__shape_order,
    },
    {
        .name = "orders.get",
        .summary = "An order with its ledger and tickets (its buyer, the event's organizers)",
        .role = CM_ROLE_MEMBER,
        .http_method = "GET",
        .http_path = "/v1/orders/{order_id}",
        .fields = id_fields,
        .fn = op_get,
        .result = &cm__shape_order,
    },
    {
        .name = "orders.mine",
        .summary = "Your orders and tickets, newest first",
        .role = CM_ROLE_MEMBER,
        .http_method = "GET",
        .http_path = "/v1/me/orders",
        .fields = mine_fields,
        .fn = op_mine,
        .result = &mine_page,
    },
    {
        .name = "orders.cancel",
        .summary = "Cancel an order awaiting payment (or a free one); its seats are released",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "DELETE",
        .http_path = "/v1/orders/{order_id}",
        .fields = id_fields,
        .fn = op_cancel,
        .result = &cm__shape_order,
    },
    {
        .name = "orders.confirm_payment",
        .summary = "Record a provider's payment of an order (the payment layer, admins)",
        .role = CM_ROLE_ADMIN,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/orders/{order_id}/payments",
        .fields = confirm_fields,
        .fn = op_confirm_payment,
        .result = &confirm_result,
    },
    {
        .name = "orders.refund",
        .summary = "Refund part or all of a paid order (the event's organizers, admins); paid "
                   "at the provider, the money goes back there (payments.refunds)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/orders/{order_id}/refunds",
        .fields = refund_fields,
        .fn = op_refund,
        .result = &refund_result,
    },
    {
        .name = "orders.expire_holds",
        .summary = "Expire the ticket holds whose time is up (a platform job does it every "
                   "minute)",
        .role = CM_ROLE_ADMIN,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/orders/expire-holds",
        .fields = expire_fields,
        .fn = op_expire_holds,
        .result = &expire_result,
    },
    {.name = NULL},
};
