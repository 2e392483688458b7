/*
 * ops_checkin.c - check-in at the door: the event's public key (a door app
 * verifies ticket codes offline with it), single-use scans with a scan log,
 * and a ticket's code as a QR image (SVG, libqrencode).
 *
 * A ticket code is "CM1.<event>.<order>.<serial>.<nonce>.<signature>": the
 * Ed25519 signature (base64url, no padding) covers everything before its
 * dot, made with the event's secret key (order.c). checkin.scan verifies
 * the signature, then marks the ticket checked in with a conditional UPDATE
 * that only the first scan wins; every scan, whatever its result, is a row
 * of checkin_scans. A scan that finds nothing to admit still succeeds as an
 * operation (its row must commit) and says why in `result`.
 */
#include "commerce_int.h"

#include <errno.h>
#include <qrencode.h>
#include <stdio.h>
#include <string.h>

static int op_key(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__event ev;
    int rc = cm__event_load(&ev, NULL, ctx, cm__json_int(in, "event_id", 0));
    if (rc)
        return rc;
    char pk[64];
    bool found = false;
    if ((rc = cm__event_public_key_find(pk, &found, ctx->conn, ev.id)))
        return rc;
    if (!found)
        return cm__error_set_field(CM_ENOTFOUND, "event_id",
                                   "event_id: the event sells no tickets, so it has no key");
    *out = json_pack("{s:I,s:s,s:s,s:s}", "event_id", (json_int_t)ev.id, "algorithm", "Ed25519",
                     "public_key", pk, "code_format",
                     "CM1.<event>.<order>.<serial>.<nonce>.<signature>");
    return CM_OK;
}

static int scan_log(cm__ctx *ctx, int64_t event_id, int64_t ticket_id, const char *result)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "checkin.log");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, event_id);
    if (ticket_id)
        cm__q_int64(&q, 2, ticket_id);
    else
        cm__q_null(&q, 2);
    cm__q_text(&q, 3, result);
    if (ctx->actor->member_id)
        cm__q_int64(&q, 4, ctx->actor->member_id);
    else
        cm__q_null(&q, 4);
    cm__q_int64(&q, 5, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc;
}

static int op_scan(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__event ev;
    int64_t event_id = cm__json_int(in, "event_id", 0);
    int rc = cm__event_lock(ctx, event_id);
    if (rc || (rc = cm__event_load(&ev, NULL, ctx, event_id)) ||
        (rc = cm__event_require_manage(&ev, "check people in")))
        return rc;
    /* The code names its event: verify it with that event's key. */
    const char *code = cm__json_str(in, "code");
    long long named = 0;
    if (sscanf(code, "CM1.%lld.", &named) != 1 || named <= 0)
        named = ev.id;
    char pk[64];
    bool has_key = true;
    if ((rc = cm__event_public_key_find(pk, &has_key, ctx->conn, named)))
        return rc;
    json_t *res = json_object();
    const char *result = "invalid";
    int64_t code_event = 0, order_id = 0, serial = 0, ticket_id = 0;
    rc = has_key ? cm__ticket_code_verify(&code_event, &order_id, &serial, code, pk) : CM_EINVAL;
    if (rc == CM_EINVAL) {
        rc = CM_OK; /* a forged or mangled code */
    } else if (rc == CM_OK && code_event != ev.id) {
        result = "wrong_event"; /* genuine, for another event */
        order_id = 0;
    } else if (rc == CM_OK) {
        cm__q q;
        if ((rc = cm__q_open(&q, ctx->conn, "ticket.by_serial")))
            goto fail;
        cm__q_int64(&q, 1, order_id);
        cm__q_int64(&q, 2, serial);
        rc = cm__q_step(&q);
        char status[16] = "";
        bool first_seen = false;
        if (rc == 1) {
            ticket_id = cm__q_col_int64(&q, 0);
            (void)snprintf(status, sizeof status, "%s", cm__q_col_text(&q, 1));
            json_object_set_new(res, "ticket_id", json_integer(ticket_id));
            json_object_set_new(res, "order_id", json_integer(order_id));
            json_object_set_new(res, "holder",
                                json_pack("{s:I,s:s}", "id", (json_int_t)cm__q_col_int64(&q, 4),
                                          "name", cm__q_col_text(&q, 5)));
            if (!cm__q_is_null(&q, 2)) {
                first_seen = true;
                json_t *f = json_object();
                cm__json_set_col_time(f, "at", &q, 2);
                if (cm__q_is_null(&q, 3))
                    json_object_set_new(f, "by", json_null());
                else
                    json_object_set_new(f, "by",
                                        json_pack("{s:I,s:s}", "id",
                                                  (json_int_t)cm__q_col_int64(&q, 3), "name",
                                                  cm__q_col_text(&q, 6)));
                json_object_set_new(res, "first_scan", f);
            }
        }
        cm__q_close(&q);
        if (rc < 0)
            goto fail;
        rc = CM_OK;
        if (!ticket_id) {
            result = "invalid"; /* signed, but no such ticket (never issued) */
        } else if (strcmp(status, "valid") != 0) {
            result = "void";
        } else if (first_seen) {
            result = "duplicate";
        } else {
            if ((rc = cm__q_open(&q, ctx->conn, "ticket.check_in")))
                goto fail;
            cm__q_int64(&q, 1, ticket_id);
            cm__q_int64(&q, 2, ctx->now);
            if (ctx->actor->member_id)
                cm__q_int64(&q, 3, ctx->actor->member_id);
            else
                cm__q_null(&q, 3);
            rc = cm__q_step(&q);
            int64_t changed = rc == 0 ? cm__q_changes(&q) : 0;
            cm__q_close(&q);
            if ((rc = cm__ok(rc)))
                goto fail;
            result = changed == 1 ? "ok" : "duplicate";
        }
    }
    if (rc || (rc = scan_log(ctx, ev.id, ticket_id, result)))
        goto fail;
    json_object_set_new(res, "result", json_string(result));
    json_object_set_new(res, "event_id", json_integer(ev.id));
    cm__json_set_time(res, "at", ctx->now);
    ctx->target_type = "ticket";
    ctx->target_id = ticket_id;
    *out = res;
    return CM_OK;
fail:
    json_decref(res);
    return rc;
}

/* The QR symbol of text as an SVG document (module = 4 units, quiet zone 4). */
static int qr_svg(char **out, const char *text)
{
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr)
        return errno == ENOMEM ? cm__oom()
                               : cm__error_set(CM_ERROR, "the code does not fit a QR symbol");
    int w = qr->width, size = (w + 8) * 4;
    cm__buf b = {0};
    cm__buf_printf(&b,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                   "width=\"%d\" height=\"%d\" shape-rendering=\"crispEdges\">"
                   "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
                   size, size, size, size);
    for (int y = 0; y < w; y++)
        for (int x = 0; x < w; x++)
            if (qr->data[y * w + x] & 1)
                cm__buf_printf(&b, "M%d %dh4v4h-4z", (x + 4) * 4, (y + 4) * 4);
    cm__buf_puts(&b, "\"/></svg>");
    QRcode_free(qr);
    if (b.err) {
        cm__free(b.p);
        return b.err == CM_ENOMEM ? cm__oom() : cm__error_set(b.err, "cannot build the QR image");
    }
    *out = b.p;
    return CM_OK;
}

static int op_qr(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = cm__json_int(in, "ticket_id", 0);
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "ticket.get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    json_t *res = NULL;
    int64_t member = 0, event_id = 0;
    if (rc == 1) {
        member = cm__q_col_int64(&q, 3);
        event_id = cm__q_col_int64(&q, 2);
        res = json_object();
        cm__json_set_col_int(res, "ticket_id", &q, 0);
        cm__json_set_col_int(res, "order_id", &q, 1);
        cm__json_set_col_int(res, "event_id", &q, 2);
        cm__json_set_col_int(res, "serial", &q, 4);
        cm__json_set_col_text(res, "code", &q, 5);
        cm__json_set_col_text(res, "status", &q, 6);
        cm__json_set_col_text(res, "event_title", &q, 8);
        cm__json_set_col_text(res, "ticket_type_name", &q, 9);
    }
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    bool visible = rc == 1 && member == ctx->actor->member_id;
    if (rc == 1 && !visible) {
        cm__event ev;
        int erc = cm__event_load(&ev, NULL, ctx, event_id);
        if (erc && erc != CM_ENOTFOUND) {
            json_decref(res);
            return erc;
        }
        visible = erc == CM_OK && ev.manage;
    }
    if (!visible) {
        json_decref(res);
        return cm__error_set_field(CM_ENOTFOUND, "ticket_id", "ticket_id: ticket %lld not found",
                                   (long long)id);
    }
    char *svg = NULL;
    if ((rc = qr_svg(&svg, json_string_value(json_object_get(res, "code"))))) {
        json_decref(res);
        return rc;
    }
    json_object_set_new(res, "qr_svg", json_string(svg));
    cm__free(svg);
    *out = res;
    return CM_OK;
}

static const cm__field key_fields[] = {
    CM__FIELD("event_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Event id"),
    {.name = NULL},
};

static const cm__field scan_fields[] = {
    CM__FIELD("event_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "The event at whose door"),
    CM__FIELD("code", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 500,
              .doc = "The ticket's code as scanned"),
    {.name = NULL},
};

static const cm__field qr_fields[] = {
    CM__FIELD("ticket_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Ticket id"),
    {.name = NULL},
};

static const cm__rfield key_result_fields[] = {
    {"event_id", CM__R_INT},
    {"algorithm", CM__R_STRING, .doc = "Ed25519"},
    {"public_key", CM__R_STRING, .doc = "32 bytes, base64url without padding"},
    {"code_format", CM__R_STRING, .doc = "The signature covers everything before its dot"},
    {NULL},
};
static const cm__shape key_result = {.fields = key_result_fields};

static const char *const scan_results[] = {"ok",   "duplicate",   "invalid",
                                           "void", "wrong_event", NULL};
static const cm__rfield ref_fields[] = {
    {"id", CM__R_INT},
    {"name", CM__R_STRING},
    {NULL},
};
static const cm__shape ref_shape = {.fields = ref_fields};
static const cm__rfield first_fields[] = {
    {"at", CM__R_TIME},
    {"by", CM__R_OBJECT, .flags = CM__R_NULL, .shape = &ref_shape,
     .doc = "Who scanned it (null: the system)"},
    {NULL},
};
static const cm__shape first_shape = {.fields = first_fields};
static const cm__rfield scan_result_fields[] = {
    {"result", CM__R_ENUM, .values = scan_results,
     .doc = "ok: admit; duplicate: scanned before (see first_scan); invalid: not a genuine code "
            "of this event; void: refunded or cancelled; wrong_event: another event's ticket"},
    {"event_id", CM__R_INT},
    {"at", CM__R_TIME},
    {"ticket_id", CM__R_INT, .flags = CM__R_OPT},
    {"order_id", CM__R_INT, .flags = CM__R_OPT},
    {"holder", CM__R_OBJECT, .flags = CM__R_OPT, .shape = &ref_shape},
    {"first_scan", CM__R_OBJECT, .flags = CM__R_OPT, .shape = &first_shape,
     .doc = "When the ticket was first scanned, and by whom"},
    {NULL},
};
static const cm__shape scan_result = {.fields = scan_result_fields};

static const cm__rfield qr_result_fields[] = {
    {"ticket_id", CM__R_INT},
    {"order_id", CM__R_INT},
    {"event_id", CM__R_INT},
    {"serial", CM__R_INT},
    {"code", CM__R_STRING},
    {"status", CM__R_STRING, .doc = "valid or void"},
    {"event_title", CM__R_STRING},
    {"ticket_type_name", CM__R_STRING},
    {"qr_svg", CM__R_STRING, .doc = "The code as a QR symbol, an SVG document"},
    {NULL},
};
static const cm__shape qr_result = {.fields = qr_result_fields};

const cm__op cm__checkin_ops[] = {
    {
        .name = "checkin.key",
        .summary = "The event's Ed25519 public key, to verify ticket codes offline",
        .role = CM_ROLE_ANONYMOUS,
        .http_method = "GET",
        .http_path = "/v1/events/{event_id}/checkin-key",
        .fields = key_fields,
        .fn = op_key,
        .result = &key_result,
    },
    {
        .name = "checkin.scan",
        .summary = "Check a ticket in at the door: single use, every scan logged (organizers)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/events/{event_id}/checkins",
        .fields = scan_fields,
        .fn = op_scan,
        .result = &scan_result,
    },
    {
        .name = "tickets.qr",
        .summary = "A ticket's check-in code and its QR image (its holder, the organizers)",
        .role = CM_ROLE_MEMBER,
        .http_method = "GET",
        .http_path = "/v1/tickets/{ticket_id}/qr",
        .fields = qr_fields,
        .fn = op_qr,
        .result = &qr_result,
    },
    {.name = NULL},
};
