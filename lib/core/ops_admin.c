/*
 * ops_admin.c - platform administration: the audit log and the business
 * metric counters.
 */
#include "pay_int.h"

static json_t *audit_row(cm__q *q, void *payload)
{
    (void)payload;
    json_t *row = json_object();
    cm__json_set_col_int(row, "id", q, 0);
    cm__json_set_col_time(row, "at", q, 1);
    cm__json_set_col_int(row, "actor_id", q, 2);
    cm__json_set_col_text(row, "actor_role", q, 3);
    cm__json_set_col_text(row, "op", q, 4);
    cm__json_set_col_text(row, "target_type", q, 5);
    cm__json_set_col_int(row, "target_id", q, 6);
    return row;
}

static int op_audit_list(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t before = INT64_MAX, unused;
    int rc;
    const char *cursor = cm__json_str(in, "cursor");
    if (cursor && (rc = cm__cursor_decode(&before, &unused, cursor)))
        return rc;
    int64_t limit = cm__json_int(in, "limit", 50);
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "audit.list")))
        return rc;
    cm__q_int64(&q, 1, before);
    cm__q_text(&q, 2, cm__json_str(in, "op"));
    if (cm__json_has(in, "actor_id"))
        cm__q_int64(&q, 3, cm__json_int(in, "actor_id", 0));
    else
        cm__q_null(&q, 3);
    cm__q_int64(&q, 4, limit + 1);
    return cm__page_collect(out, &q, limit, 0, -1, audit_row, NULL);
}

/* Counters every deployment reports, zero until first incremented.
 * "subscriptions" counts subscriptions that started (became trialing or
 * active), "subscriptions_churned" those that ended after starting. */
static const char *const known_metrics[] = {
    "signups",
    "events_created",
    "rsvps",
    "posts",
    "ticket_purchases",
    "tickets_sold",
    "subscriptions",
    "subscriptions_churned",
    "ai_requests",
    "assistant_requests",
    "assistant_tokens_in",
    "assistant_tokens_out",
    "assistant_tool_calls",
    "assistant_actions_confirmed",
    "assistant_actions_declined",
    NULL,
};

static int op_metrics(cm__ctx *ctx, json_t *in, json_t **out)
{
    (void)in;
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "metric.list");
    if (rc)
        return rc;
    json_t *counters = json_object();
    for (const char *const *k = known_metrics; *k; k++)
        json_object_set_new(counters, *k, json_integer(0));
    while ((rc = cm__q_step(&q)) == 1)
        json_object_set_new(counters, cm__q_col_text(&q, 0), json_integer(cm__q_col_int64(&q, 1)));
    cm__q_close(&q);
    /* a gauge: subscriptions in good standing now */
    if (rc >= 0 && (rc = cm__q_open(&q, ctx->conn, "subscription.count_active")) == CM_OK) {
        cm__q_int64(&q, 1, ctx->now);
        cm__q_int64(&q, 2, cm__pay_grace_us(ctx->store));
        if ((rc = cm__q_step(&q)) == 1)
            json_object_set_new(counters, "subscriptions_active",
                                json_integer(cm__q_col_int64(&q, 0)));
        cm__q_close(&q);
    }
    if (rc < 0) {
        json_decref(counters);
        return rc;
    }
    /* Revenue by currency, derived from the ledger of ticket orders. */
    json_t *revenue = json_object();
    if ((rc = cm__q_open(&q, ctx->conn, "ledger.revenue")) == CM_OK) {
        while ((rc = cm__q_step(&q)) == 1) {
            int64_t paid = cm__q_col_int64(&q, 1), refunded = cm__q_col_int64(&q, 2);
            json_object_set_new(revenue, cm__q_col_text(&q, 0),
                                json_pack("{s:I,s:I,s:I}", "paid_minor", (json_int_t)paid,
                                          "refunded_minor", (json_int_t)refunded, "net_minor",
                                          (json_int_t)(paid - refunded)));
        }
        cm__q_close(&q);
    }
    if (rc < 0) {
        json_decref(counters);
        json_decref(revenue);
        return rc;
    }
    *out = json_pack("{s:o,s:o}", "counters", counters, "revenue", revenue);
    return CM_OK;
}

static const cm__field audit_fields[] = {
    CM__FIELD("op", CM__T_STRING, .min = 1, .max = 64, .doc = "Only this operation"),
    CM__FIELD("actor_id", CM__T_ID, .doc = "Only this actor"),
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = 500, .doc = "Page size (default 50)"),
    CM__FIELD("cursor", CM__T_CURSOR, .doc = "next_cursor of the previous page"),
    {.name = NULL},
};

static const cm__rfield audit_entry_fields[] = {
    {"id", CM__R_INT},
    {"at", CM__R_TIME},
    {"actor_id", CM__R_INT, .flags = CM__R_NULL, .doc = "null: anonymous or system"},
    {"actor_role", CM__R_STRING},
    {"op", CM__R_STRING},
    {"target_type", CM__R_STRING, .doc = "\"\" when the operation names none"},
    {"target_id", CM__R_INT, .flags = CM__R_NULL},
    {NULL},
};
static const cm__shape audit_entry = {
    .name = "AuditEntry", .doc = "One audited mutation", .fields = audit_entry_fields};
CM__PAGE(audit_page, audit_entry);
static const cm__rfield revenue_fields[] = {
    {"paid_minor", CM__R_INT, .doc = "Payments received, minor units"},
    {"refunded_minor", CM__R_INT, .doc = "Refunds given, minor units"},
    {"net_minor", CM__R_INT, .doc = "paid_minor - refunded_minor"},
    {NULL},
};
static const cm__shape revenue_shape = {
    .name = "Revenue", .doc = "Ticket revenue in one currency", .fields = revenue_fields};
static const cm__rfield metrics_fields[] = {
    {"counters", CM__R_MAP, .items = CM__R_INT, .doc = "Counter name to value"},
    {"revenue", CM__R_MAP, .shape = &revenue_shape,
     .doc = "ISO 4217 currency to ticket revenue (from the ledger)"},
    {NULL},
};
static const cm__shape metrics_result = {.fields = metrics_fields};

const cm__op cm__admin_ops[] = {
    {
        .name = "audit.list",
        .summary = "The audit log of every mutation, newest first",
        .role = CM_ROLE_ADMIN,
        .http_method = "GET",
        .http_path = "/v1/audit",
        .fields = audit_fields,
        .fn = op_audit_list,
        .result = &audit_page,
    },
    {
        .name = "metrics.get",
        .summary = "Business counters (sign-ups, events created, RSVPs, posts, tickets, "
                   "subscriptions, ...) and revenue by currency",
        .role = CM_ROLE_MODERATOR,
        .http_method = "GET",
        .http_path = "/v1/metrics/business",
        .fn = op_metrics,
        .result = &metrics_result,
    },
    {.name = NULL},
};
