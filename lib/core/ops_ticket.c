/*
 * ops_ticket.c - ticket types of an event: create and change them (the
 * event's organizers), and list them with what is left (anyone who may see
 * the event). A type has a price in minor units of an ISO 4217 currency
 * (0: free), an optional sales window, an optional sub-quota inside the
 * event's capacity, per-order and per-member limits, and optionally a
 * membership tier that restricts who sees and buys it (ticket_access.c).
 */
#include "commerce_int.h"

#include <stdio.h>
#include <string.h>

/* A ticket type as stored ("ticket_type.get" row). */
typedef struct tt_row {
    int64_t id, event_id, price_minor, sales_start, sales_end, quantity, sold, per_order_max,
        per_member_max, created_at, updated_at;
    bool has_start, has_end, has_quantity, has_member_max, active;
    char name[512], description[8192], currency[4], tier[256];
    bool has_tier;
} tt_row;

static void tt_read(tt_row *t, cm__q *q)
{
    memset(t, 0, sizeof *t);
    t->id = cm__q_col_int64(q, 0);
    t->event_id = cm__q_col_int64(q, 1);
    (void)snprintf(t->name, sizeof t->name, "%s", cm__q_col_text(q, 2));
    (void)snprintf(t->description, sizeof t->description, "%s", cm__q_col_text(q, 3));
    t->price_minor = cm__q_col_int64(q, 4);
    (void)snprintf(t->currency, sizeof t->currency, "%s", cm__q_col_text(q, 5));
    if ((t->has_start = !cm__q_is_null(q, 6)))
        t->sales_start = cm__q_col_int64(q, 6);
    if ((t->has_end = !cm__q_is_null(q, 7)))
        t->sales_end = cm__q_col_int64(q, 7);
    if ((t->has_quantity = !cm__q_is_null(q, 8)))
        t->quantity = cm__q_col_int64(q, 8);
    t->sold = cm__q_col_int64(q, 9);
    t->per_order_max = cm__q_col_int64(q, 10);
    if ((t->has_member_max = !cm__q_is_null(q, 11)))
        t->per_member_max = cm__q_col_int64(q, 11);
    if ((t->has_tier = !cm__q_is_null(q, 12)))
        (void)snprintf(t->tier, sizeof t->tier, "%s", cm__q_col_text(q, 12));
    t->active = cm__q_col_int64(q, 13) != 0;
    t->created_at = cm__q_col_int64(q, 14);
    t->updated_at = cm__q_col_int64(q, 15);
}

static int tt_get(tt_row *t, cm__conn *conn, int64_t id)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "ticket_type.get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    if (rc == 1)
        tt_read(t, &q);
    cm__q_close(&q);
    if (rc == 0)
        return cm__error_set_field(CM_ENOTFOUND, "ticket_type_id",
                                   "ticket_type_id: ticket type %lld not found", (long long)id);
    return cm__ok(rc);
}

/* Seats of type t a buyer could take now (-1: no limit): its sub-quota and
 * the event's pool; 0 while the RSVP waitlist waits (seats go to it first). */
static int64_t tt_available(const tt_row *t, const cm__event *ev)
{
    int64_t left = -1;
    if (t->has_quantity)
        left = t->quantity - t->sold;
    if (ev->has_capacity) {
        int64_t ev_left = ev->capacity - ev->seats_taken;
        if (left < 0 || ev_left < left)
            left = ev_left;
    }
    if (ev->waitlist_count > 0)
        left = 0;
    return left < -1 ? 0 : left;
}

static json_t *tt_json(const tt_row *t, const cm__event *ev)
{
    json_t *r = json_object();
    json_object_set_new(r, "id", json_integer(t->id));
    json_object_set_new(r, "event_id", json_integer(t->event_id));
    json_object_set_new(r, "name", json_string(t->name));
    json_object_set_new(r, "description", json_string(t->description));
    json_object_set_new(r, "price_minor", json_integer(t->price_minor));
    json_object_set_new(r, "currency", json_string(t->currency));
    if (t->has_start)
        cm__json_set_time(r, "sales_start", t->sales_start);
    else
        json_object_set_new(r, "sales_start", json_null());
    if (t->has_end)
        cm__json_set_time(r, "sales_end", t->sales_end);
    else
        json_object_set_new(r, "sales_end", json_null());
    json_object_set_new(r, "quantity", t->has_quantity ? json_integer(t->quantity) : json_null());
    json_object_set_new(r, "sold", json_integer(t->sold));
    int64_t left = tt_available(t, ev);
    json_object_set_new(r, "available", left < 0 ? json_null() : json_integer(left));
    json_object_set_new(r, "per_order_max", json_integer(t->per_order_max));
    json_object_set_new(r, "per_member_max",
                        t->has_member_max ? json_integer(t->per_member_max) : json_null());
    json_object_set_new(r, "tier", t->has_tier ? json_string(t->tier) : json_null());
    json_object_set_new(r, "active", json_boolean(t->active));
    cm__json_set_time(r, "created_at", t->created_at);
    cm__json_set_time(r, "updated_at", t->updated_at);
    return r;
}

/* Apply the fields present in `in` to t and check them together. */
static int tt_apply(tt_row *t, json_t *in)
{
    const char *s;
    if ((s = cm__json_str(in, "name")))
        (void)snprintf(t->name, sizeof t->name, "%s", s);
    if ((s = cm__json_str(in, "description")))
        (void)snprintf(t->description, sizeof t->description, "%s", s);
    if (cm__json_has(in, "price_minor")) {
        t->price_minor = cm__json_int(in, "price_minor", 0);
        if (t->price_minor < 0)
            return cm__error_set_field(CM_EINVAL, "price_minor", "price_minor: must be >= 0");
    }
    if ((s = cm__json_str(in, "currency"))) {
        for (size_t i = 0; i < 3; i++)
            if (s[i] < 'A' || s[i] > 'Z')
                return cm__error_set_field(CM_EINVAL, "currency",
                                           "currency: an ISO 4217 code in capitals (EUR, USD)");
        (void)snprintf(t->currency, sizeof t->currency, "%s", s);
    }
    json_t *v;
    int rc;
    if ((v = json_object_get(in, "sales_start"))) {
        if ((t->has_start = !json_is_null(v)) &&
            (rc = cm__time_parse(&t->sales_start, json_string_value(v))))
            return cm__error_set_field(rc, "sales_start", "sales_start: not an RFC 3339 instant");
    }
    if ((v = json_object_get(in, "sales_end"))) {
        if ((t->has_end = !json_is_null(v)) &&
            (rc = cm__time_parse(&t->sales_end, json_string_value(v))))
            return cm__error_set_field(rc, "sales_end", "sales_end: not an RFC 3339 instant");
    }
    if (t->has_start && t->has_end && t->sales_end <= t->sales_start)
        return cm__error_set_field(CM_EINVAL, "sales_end", "sales_end: must be after sales_start");
    if ((v = json_object_get(in, "quantity"))) {
        if ((t->has_quantity = !json_is_null(v))) {
            t->quantity = json_integer_value(v);
            if (t->quantity < 0)
                return cm__error_set_field(CM_EINVAL, "quantity", "quantity: must be >= 0");
            if (t->quantity < t->sold)
                return cm__error_set_field(CM_ECONSTRAINT, "quantity",
                                           "quantity: %lld seats of this type are held already",
                                           (long long)t->sold);
        }
    }
    if (cm__json_has(in, "per_order_max"))
        t->per_order_max = cm__json_int(in, "per_order_max", 10);
    if ((v = json_object_get(in, "per_member_max")))
        if ((t->has_member_max = !json_is_null(v)))
            t->per_member_max = json_integer_value(v);
    if ((v = json_object_get(in, "tier")))
        if ((t->has_tier = !json_is_null(v)))
            (void)snprintf(t->tier, sizeof t->tier, "%s", json_string_value(v));
    if (cm__json_has(in, "active"))
        t->active = cm__json_bool(in, "active", true);
    return CM_OK;
}

static void tt_bind(cm__q *q, const tt_row *t, int first)
{
    /* name, description, price, currency, start, end, quantity, per_order, per_member, tier,
     * active: parameters first .. first + 10 */
    cm__q_text(q, first, t->name);
    cm__q_text(q, first + 1, t->description);
    cm__q_int64(q, first + 2, t->price_minor);
    cm__q_text(q, first + 3, t->currency);
    if (t->has_start)
        cm__q_int64(q, first + 4, t->sales_start);
    else
        cm__q_null(q, first + 4);
    if (t->has_end)
        cm__q_int64(q, first + 5, t->sales_end);
    else
        cm__q_null(q, first + 5);
    if (t->has_quantity)
        cm__q_int64(q, first + 6, t->quantity);
    else
        cm__q_null(q, first + 6);
    cm__q_int64(q, first + 7, t->per_order_max);
    if (t->has_member_max)
        cm__q_int64(q, first + 8, t->per_member_max);
    else
        cm__q_null(q, first + 8);
    if (t->has_tier)
        cm__q_text(q, first + 9, t->tier);
    else
        cm__q_null(q, first + 9);
    cm__q_int64(q, first + 10, t->active);
}

static int load_managed_event(cm__event *ev, cm__ctx *ctx, int64_t event_id, const char *what)
{
    int rc = cm__event_lock(ctx, event_id);
    if (rc || (rc = cm__event_load(ev, NULL, ctx, event_id)))
        return rc;
    return cm__event_require_manage(ev, what);
}

static int op_create(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__event ev;
    int rc = load_managed_event(&ev, ctx, cm__json_int(in, "event_id", 0), "sell its tickets");
    if (rc)
        return rc;
    tt_row t;
    memset(&t, 0, sizeof t);
    t.event_id = ev.id;
    t.per_order_max = 10;
    t.active = true;
    if ((rc = tt_apply(&t, in)))
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "ticket_type.insert")))
        return rc;
    cm__q_int64(&q, 1, ev.id);
    tt_bind(&q, &t, 2);
    cm__q_int64(&q, 13, ctx->now);
    rc = cm__q_step(&q);
    int64_t id = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    char pk[64]; /* the event's signing key exists from its first ticket type on */
    if ((rc = cm__ok(rc)) || (rc = tt_get(&t, ctx->conn, id)) ||
        (rc = cm__event_public_key(pk, ctx->conn, ev.id, ctx->now)))
        return rc;
    ctx->target_type = "ticket_type";
    ctx->target_id = id;
    *out = tt_json(&t, &ev);
    return CM_OK;
}

static int op_update(cm__ctx *ctx, json_t *in, json_t **out)
{
    tt_row t;
    int rc = tt_get(&t, ctx->conn, cm__json_int(in, "ticket_type_id", 0));
    cm__event ev;
    if (rc || (rc = load_managed_event(&ev, ctx, t.event_id, "change its tickets")) ||
        (rc = tt_get(&t, ctx->conn, t.id)) || (rc = tt_apply(&t, in)))
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "ticket_type.update")))
        return rc;
    cm__q_int64(&q, 1, t.id);
    tt_bind(&q, &t, 2);
    cm__q_int64(&q, 13, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    if (rc || (rc = tt_get(&t, ctx->conn, t.id)))
        return rc;
    ctx->target_type = "ticket_type";
    ctx->target_id = t.id;
    *out = tt_json(&t, &ev);
    return CM_OK;
}

static int op_list(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__event ev;
    int rc = cm__event_load(&ev, NULL, ctx, cm__json_int(in, "event_id", 0));
    if (rc)
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "ticket_type.list")))
        return rc;
    cm__q_int64(&q, 1, ev.id);
    json_t *items = json_array();
    tt_row *t = cm__malloc(sizeof *t);
    if (!t)
        rc = cm__oom();
    /* tier-restricted types are checked once the listing is closed: [index, tier, id] */
    json_t *tiered = json_array();
    while (t && (rc = cm__q_step(&q)) == 1) {
        tt_read(t, &q);
        if (!ev.manage && !t->active)
            continue;
        if (!ev.manage && t->has_tier)
            json_array_append_new(tiered, json_pack("[I,s,I]", (json_int_t)json_array_size(items),
                                                    t->tier, (json_int_t)t->id));
        json_array_append_new(items, tt_json(t, &ev));
    }
    cm__q_close(&q);
    cm__free(t);
    rc = cm__ok(rc);
    /* from the last, so that removing keeps the earlier indexes */
    for (size_t i = json_array_size(tiered); rc == CM_OK && i-- > 0;) {
        json_t *x = json_array_get(tiered, i);
        bool ok = false;
        rc = cm__ticket_tier_allows(&ok, ctx, &ev, json_string_value(json_array_get(x, 1)),
                                    (int64_t)json_integer_value(json_array_get(x, 2)));
        if (rc == CM_OK && !ok)
            json_array_remove(items, (size_t)json_integer_value(json_array_get(x, 0)));
    }
    json_decref(tiered);
    if (rc) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:I,s:o}", "event_id", (json_int_t)ev.id, "items", items);
    return CM_OK;
}

/* ---- declarations ---- */

#define TT_FIELDS                                                                                  \
    CM__FIELD("description", CM__T_STRING, .max = 2000, .doc = "What the ticket includes"),        \
        CM__FIELD("sales_start", CM__T_INSTANT,                                                    \
                  .doc = "Sales open at this instant (null: already open)"),                       \
        CM__FIELD("sales_end", CM__T_INSTANT,                                                      \
                  .doc = "Sales close at this instant (null: when the event ends)"),               \
        CM__FIELD("quantity", CM__T_INT, .max = CM__EVENT_MAX_CAPACITY,                            \
                  .doc = "Sub-quota of this type inside the event's capacity (null: none)"),       \
        CM__FIELD("per_order_max", CM__T_INT, .min = 1, .max = CM__ORDER_MAX_QUANTITY,             \
                  .doc = "Most tickets of this type in one order (default 10)"),                   \
        CM__FIELD("per_member_max", CM__T_INT, .min = 1, .max = CM__ORDER_MAX_QUANTITY,            \
                  .doc = "Most tickets of this type one member may hold (null: no limit)"),        \
        CM__FIELD("tier", CM__T_STRING, .min = 1, .max = 64,                                       \
                  .doc = "Only members of this membership tier see and buy it (null: everyone)"),  \
        CM__FIELD("active", CM__T_BOOL,                                                            \
                  .doc = "On sale (default true); inactive types are hidden")

static const cm__field create_fields[] = {
    CM__FIELD("event_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Event id"),
    CM__FIELD("name", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 100,
              .doc = "Name (1-100 characters)"),
    CM__FIELD("price_minor", CM__T_INT, .flags = CM__REQUIRED, .max = 100000000,
              .doc = "Price in minor units of the currency (cents); 0 is free"),
    CM__FIELD("currency", CM__T_STRING, .flags = CM__REQUIRED, .min = 3, .max = 3,
              .doc = "ISO 4217 currency code (EUR, USD, ...)"),
    TT_FIELDS,
    {.name = NULL},
};

static const cm__field update_fields[] = {
    CM__FIELD("ticket_type_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Ticket type id"),
    CM__FIELD("name", CM__T_STRING, .min = 1, .max = 100, .doc = "Name (1-100 characters)"),
    CM__FIELD("price_minor", CM__T_INT, .max = 100000000,
              .doc = "Price in minor units for orders from now on (0: free)"),
    CM__FIELD("currency", CM__T_STRING, .min = 3, .max = 3, .doc = "ISO 4217 currency code"),
    TT_FIELDS,
    {.name = NULL},
};

static const cm__field list_fields[] = {
    CM__FIELD("event_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Event id"),
    {.name = NULL},
};

static const cm__rfield tt_fields[] = {
    {"id", CM__R_INT},
    {"event_id", CM__R_INT},
    {"name", CM__R_STRING},
    {"description", CM__R_STRING},
    {"price_minor", CM__R_INT, .doc = "Minor units (cents); 0 is free"},
    {"currency", CM__R_STRING, .doc = "ISO 4217"},
    {"sales_start", CM__R_TIME, .flags = CM__R_NULL},
    {"sales_end", CM__R_TIME, .flags = CM__R_NULL},
    {"quantity", CM__R_INT, .flags = CM__R_NULL, .doc = "Sub-quota; null: the event's pool only"},
    {"sold", CM__R_INT, .doc = "Seats held by live orders of this type"},
    {"available", CM__R_INT, .flags = CM__R_NULL,
     .doc = "Seats a buyer could take now; null: no limit"},
    {"per_order_max", CM__R_INT},
    {"per_member_max", CM__R_INT, .flags = CM__R_NULL},
    {"tier", CM__R_STRING, .flags = CM__R_NULL},
    {"active", CM__R_BOOL},
    {"created_at", CM__R_TIME},
    {"updated_at", CM__R_TIME},
    {NULL},
};
static const cm__shape tt_shape = {
    .name = "TicketType", .doc = "A kind of ticket an event sells", .fields = tt_fields};
static const cm__rfield list_result_fields[] = {
    {"event_id", CM__R_INT},
    {"items", CM__R_ARRAY, .shape = &tt_shape},
    {NULL},
};
static const cm__shape list_result = {.fields = list_result_fields};

const cm__op cm__ticket_ops[] = {
    {
        .name = "ticket_types.create",
        .summary = "Sell a kind of ticket for an event (its organizers)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/events/{event_id}/ticket-types",
        .fields = create_fields,
        .fn = op_create,
        .result = &tt_shape,
    },
    {
        .name = "ticket_types.update",
        .summary = "Change a ticket type (price changes apply to new orders)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "PATCH",
        .http_path = "/v1/ticket-types/{ticket_type_id}",
        .fields = update_fields,
        .fn = op_update,
        .result = &tt_shape,
    },
    {
        .name = "ticket_types.list",
        .summary = "An event's ticket types with the seats left",
        .role = CM_ROLE_ANONYMOUS,
        .http_method = "GET",
        .http_path = "/v1/events/{event_id}/ticket-types",
        .fields = list_fields,
        .fn = op_list,
        .result = &list_result,
    },
    {.name = NULL},
};
