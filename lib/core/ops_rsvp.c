/*
 * ops_rsvp.c - RSVPs: add or change (going / not going, guests), cancel,
 * the attendee list for organizers and the member's own RSVPs, and the
 * FIFO waitlist.
 *
 * Seats: an RSVP going holds 1 + guests seats. Seats are taken only by the
 * conditional UPDATE "event.seats_take" (and "event.waitlist_promote"),
 * which succeeds only when the seats fit under capacity, so the database
 * itself keeps "confirmed seats never exceed capacity" (with the CHECK on
 * events.seats_taken as a backstop); events.waitlist_count moves in the
 * same statements as the rows it counts.
 *
 * Queue fairness: while anyone is waiting, seats go to the waitlist first:
 * a new RSVP joins the back of the waitlist even when a few seats are free
 * (they are kept for the head, which may need more), and a member going
 * who asks for more guests gets CM_ECONSTRAINT "not enough seats" (field
 * guests) with the RSVP unchanged, rather than losing the seats already
 * held by being moved to the waitlist. Whenever seats free up (cancel, not
 * going, fewer guests, capacity raised) the waitlist is promoted in strict
 * FIFO order (waitlist_seq) while the head fits; the first that does not
 * fit stops the promotion.
 */
#include "event_int.h"

#include <stdio.h>
#include <string.h>

static const char *const add_status_values[] = {"going", "not_going", NULL};
static const char *const status_values[] = {"going", "waitlisted", "not_going", "cancelled", NULL};

typedef struct rsvp_row {
    bool found;
    int64_t id;
    char status[16];
    int64_t guests, seats, seq; /* seq 0: not waitlisted */
} rsvp_row;

static int rsvp_get(rsvp_row *r, cm__ctx *ctx, int64_t event_id, int64_t member_id)
{
    memset(r, 0, sizeof *r);
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "rsvp.get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, event_id);
    cm__q_int64(&q, 2, member_id);
    rc = cm__q_step(&q);
    if (rc == 1) {
        r->found = true;
        r->id = cm__q_col_int64(&q, 0);
        (void)snprintf(r->status, sizeof r->status, "%s", cm__q_col_text(&q, 1));
        r->guests = cm__q_col_int64(&q, 2);
        r->seats = cm__q_col_int64(&q, 3);
        r->seq = cm__q_is_null(&q, 4) ? 0 : cm__q_col_int64(&q, 4);
    }
    cm__q_close(&q);
    return cm__ok(rc);
}

/* Run one of the seat statements on events: "event.seats_take" (n, fifo),
 * "event.seats_release" (n), "event.waitlist_leave", "event.waitlist_promote"
 * (n). *changed (may be NULL) tells whether the event row was updated. */
static int seats_exec(cm__ctx *ctx, const char *stmt, int64_t event_id, int64_t n, int64_t fifo,
                      bool *changed)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, stmt);
    if (rc)
        return rc;
    cm__q_int64(&q, 1, event_id);
    if (strcmp(stmt, "event.waitlist_leave") != 0)
        cm__q_int64(&q, 2, n);
    if (strcmp(stmt, "event.seats_take") == 0)
        cm__q_int64(&q, 3, fifo);
    rc = cm__q_step(&q);
    int64_t c = rc == 0 ? cm__q_changes(&q) : 0;
    cm__q_close(&q);
    if (changed)
        *changed = c > 0;
    return cm__ok(rc);
}

/* Join the back of the waitlist: counts the RSVP and hands out its seq. */
static int waitlist_push(cm__ctx *ctx, int64_t event_id, int64_t *seq)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "event.waitlist_push");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, event_id);
    rc = cm__q_step(&q);
    if (rc == 1)
        *seq = cm__q_col_int64(&q, 0);
    cm__q_close(&q);
    if (rc == 0)
        return cm__error_set_field(CM_ENOTFOUND, "event_id", "event %lld not found",
                                   (long long)event_id);
    return cm__ok(rc);
}

static int rsvp_set(cm__ctx *ctx, int64_t id, const char *status, int64_t seats, int64_t seq)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "rsvp.set");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    cm__q_text(&q, 2, status);
    cm__q_int64(&q, 3, seats);
    if (seq)
        cm__q_int64(&q, 4, seq);
    else
        cm__q_null(&q, 4);
    cm__q_int64(&q, 5, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc;
}

static bool event_open(const cm__event *ev, int64_t now)
{
    return strcmp(ev->status, "published") == 0 && ev->end_at > now;
}

int cm__rsvp_promote(cm__ctx *ctx, const cm__event *ev, int64_t *promoted)
{
    int64_t n = 0;
    int rc = CM_OK;
    while (event_open(ev, ctx->now)) {
        cm__q q;
        if ((rc = cm__q_open(&q, ctx->conn, "rsvp.waitlist_head")))
            break;
        cm__q_int64(&q, 1, ev->id);
        rc = cm__q_step(&q);
        int64_t id = 0, member = 0, guests = 0, seq = 0;
        if (rc == 1) {
            id = cm__q_col_int64(&q, 0);
            member = cm__q_col_int64(&q, 1);
            guests = cm__q_col_int64(&q, 2);
            seq = cm__q_col_int64(&q, 3);
        }
        cm__q_close(&q);
        if (rc <= 0) {
            rc = cm__ok(rc);
            break;
        }
        bool took;
        int64_t need = 1 + guests;
        if ((rc = seats_exec(ctx, "event.waitlist_promote", ev->id, need, 0, &took)) || !took)
            break;
        if ((rc = rsvp_set(ctx, id, "going", need, 0)) ||
            (rc = cm__platform_notify_waitlist_promoted(ctx->conn, ev->id, member, id, seq)))
            break;
        n++;
    }
    if (promoted)
        *promoted = n;
    return rc;
}

/* The RSVP's JSON, with its 1-based waitlist place when waitlisted. */
static int rsvp_json(json_t **out, cm__ctx *ctx, int64_t id)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "rsvp.by_id");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    json_t *r = NULL;
    int64_t event_id = 0, seq = 0;
    if (rc == 1) {
        r = json_object();
        cm__json_set_col_int(r, "id", &q, 0);
        cm__json_set_col_int(r, "event_id", &q, 1);
        cm__json_set_col_int(r, "member_id", &q, 2);
        cm__json_set_col_text(r, "status", &q, 3);
        cm__json_set_col_int(r, "guests", &q, 4);
        cm__json_set_col_int(r, "seats", &q, 5);
        cm__json_set_col_time(r, "created_at", &q, 7);
        cm__json_set_col_time(r, "updated_at", &q, 8);
        event_id = cm__q_col_int64(&q, 1);
        seq = cm__q_is_null(&q, 6) ? 0 : cm__q_col_int64(&q, 6);
    }
    cm__q_close(&q);
    if (rc <= 0)
        return rc < 0 ? rc : cm__error_set(CM_ENOTFOUND, "rsvp %lld not found", (long long)id);
    json_object_set_new(r, "waitlist_position", json_null());
    if (seq) {
        if ((rc = cm__q_open(&q, ctx->conn, "rsvp.position"))) {
            json_decref(r);
            return rc;
        }
        cm__q_int64(&q, 1, event_id);
        cm__q_int64(&q, 2, seq);
        if ((rc = cm__q_step(&q)) == 1)
            json_object_set_new(r, "waitlist_position", json_integer(cm__q_col_int64(&q, 0)));
        cm__q_close(&q);
        if (rc < 0) {
            json_decref(r);
            return rc;
        }
    }
    *out = r;
    return CM_OK;
}

static int op_add(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t me = ctx->actor->member_id;
    if (!me)
        return cm__error_set(CM_EAUTH, "rsvps.add needs a member, not the system actor");
    cm__event ev;
    int64_t event_id = cm__json_int(in, "event_id", 0);
    int rc = cm__event_lock(ctx, event_id);
    if (rc || (rc = cm__event_load(&ev, NULL, ctx, event_id)))
        return rc;
    if (strcmp(ev.status, "draft") == 0)
        return cm__error_set_field(CM_ECONSTRAINT, "event_id",
                                   "event_id: the event is not published yet");
    if (strcmp(ev.status, "cancelled") == 0)
        return cm__error_set_field(CM_ECONSTRAINT, "event_id", "event_id: the event is cancelled");
    if (ev.end_at <= ctx->now)
        return cm__error_set_field(CM_ECONSTRAINT, "event_id", "event_id: the event has ended");
    int64_t guests = cm__json_int(in, "guests", 0);
    const char *want = cm__json_str(in, "status");
    bool going = !want || strcmp(want, "going") == 0;
    rsvp_row cur;
    if ((rc = rsvp_get(&cur, ctx, ev.id, me)))
        return rc;
    bool was_going = cur.found && strcmp(cur.status, "going") == 0;
    bool was_waiting = cur.found && strcmp(cur.status, "waitlisted") == 0;
    int64_t need = 1 + guests, seats = 0, seq = 0;
    const char *status;
    bool fresh = false, took = false;
    if (!going) {
        status = "not_going";
        if (was_going)
            rc = seats_exec(ctx, "event.seats_release", ev.id, cur.seats, 0, NULL);
        else if (was_waiting)
            rc = seats_exec(ctx, "event.waitlist_leave", ev.id, 0, 0, NULL);
    } else if (was_going) {
        status = "going";
        seats = need;
        if (need > cur.seats) {
            rc = seats_exec(ctx, "event.seats_take", ev.id, need - cur.seats, 1, &took);
            if (rc == CM_OK && !took)
                return cm__error_set_field(CM_ECONSTRAINT, "guests",
                                           "guests: not enough seats for %lld more (your RSVP "
                                           "is unchanged)",
                                           (long long)(need - cur.seats));
        } else if (need < cur.seats) {
            rc = seats_exec(ctx, "event.seats_release", ev.id, cur.seats - need, 0, NULL);
        }
    } else if (was_waiting) {
        status = "waitlisted"; /* keeps its place; promotion below re-checks the fit */
        seq = cur.seq;
    } else {
        fresh = true;
        rc = seats_exec(ctx, "event.seats_take", ev.id, need, 1, &took);
        if (rc == CM_OK && took) {
            status = "going";
            seats = need;
        } else {
            status = "waitlisted";
            if (rc == CM_OK)
                rc = waitlist_push(ctx, ev.id, &seq);
        }
    }
    if (rc)
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "rsvp.upsert")))
        return rc;
    cm__q_int64(&q, 1, ev.id);
    cm__q_int64(&q, 2, me);
    cm__q_text(&q, 3, status);
    cm__q_int64(&q, 4, guests);
    cm__q_int64(&q, 5, seats);
    if (seq)
        cm__q_int64(&q, 6, seq);
    else
        cm__q_null(&q, 6);
    cm__q_int64(&q, 7, ctx->now);
    rc = cm__q_step(&q);
    int64_t id = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (fresh && (rc = cm__metric_add(ctx->conn, "rsvps", 1)))
        return rc;
    if ((rc = cm__rsvp_promote(ctx, &ev, NULL)))
        return rc;
    ctx->target_type = "rsvp";
    ctx->target_id = id;
    return rsvp_json(out, ctx, id);
}

static int op_cancel(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t me = ctx->actor->member_id;
    int64_t member = cm__json_int(in, "member_id", me);
    if (!member)
        return cm__error_set_field(CM_EINVAL, "member_id",
                                   "member_id: required for the system actor");
    cm__event ev;
    int64_t event_id = cm__json_int(in, "event_id", 0);
    int rc = cm__event_lock(ctx, event_id);
    if (rc || (rc = cm__event_load(&ev, NULL, ctx, event_id)))
        return rc;
    if (member != me && !ev.manage)
        return cm__error_set_field(CM_EPERM, "member_id",
                                   "member_id: only the event's organizers may cancel another "
                                   "member's RSVP");
    rsvp_row cur;
    if ((rc = rsvp_get(&cur, ctx, ev.id, member)))
        return rc;
    if (!cur.found)
        return cm__error_set_field(CM_ENOTFOUND, "event_id",
                                   "event_id: no RSVP of member %lld for this event",
                                   (long long)member);
    if (strcmp(cur.status, "going") == 0)
        rc = seats_exec(ctx, "event.seats_release", ev.id, cur.seats, 0, NULL);
    else if (strcmp(cur.status, "waitlisted") == 0)
        rc = seats_exec(ctx, "event.waitlist_leave", ev.id, 0, 0, NULL);
    if (rc || (rc = rsvp_set(ctx, cur.id, "cancelled", 0, 0)) ||
        (rc = cm__rsvp_promote(ctx, &ev, NULL)))
        return rc;
    ctx->target_type = "rsvp";
    ctx->target_id = cur.id;
    return rsvp_json(out, ctx, cur.id);
}

int cm__rsvp_release(cm__ctx *ctx, int64_t event_id, int64_t member_id)
{
    static const cm_actor system_actor = {0, CM_ROLE_SYSTEM};
    cm__ctx sys = *ctx;
    sys.actor = &system_actor;
    cm__event ev;
    int rc = cm__event_lock(&sys, event_id);
    if (rc || (rc = cm__event_load(&ev, NULL, &sys, event_id)))
        return rc;
    rsvp_row cur;
    if ((rc = rsvp_get(&cur, &sys, ev.id, member_id)) || !cur.found)
        return rc;
    if (strcmp(cur.status, "going") == 0)
        rc = seats_exec(&sys, "event.seats_release", ev.id, cur.seats, 0, NULL);
    else if (strcmp(cur.status, "waitlisted") == 0)
        rc = seats_exec(&sys, "event.waitlist_leave", ev.id, 0, 0, NULL);
    else
        return CM_OK;
    if (rc || (rc = rsvp_set(&sys, cur.id, "cancelled", 0, 0)))
        return rc;
    return cm__rsvp_promote(&sys, &ev, NULL);
}

static void page_cursor(json_t *res, bool more, int64_t a, int64_t b)
{
    json_t *page = cm__page(json_array(), more, a, b);
    json_object_set(res, "next_cursor", json_object_get(page, "next_cursor"));
    json_decref(page);
}

static int op_list(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__event ev;
    int rc = cm__event_load(&ev, NULL, ctx, cm__json_int(in, "event_id", 0));
    if (rc || (rc = cm__event_require_manage(&ev, "list its attendees")))
        return rc;
    int64_t ca = 0, cb = 0;
    const char *cursor = cm__json_str(in, "cursor");
    if (cursor && (rc = cm__cursor_decode(&ca, &cb, cursor)))
        return rc;
    int64_t limit = cm__json_int(in, "limit", 50);
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "rsvp.list")))
        return rc;
    cm__q_int64(&q, 1, ev.id);
    cm__q_text(&q, 2, cm__json_str(in, "status"));
    if (cursor) {
        cm__q_int64(&q, 3, ca);
        cm__q_int64(&q, 4, cb);
    } else {
        cm__q_null(&q, 3);
        cm__q_null(&q, 4);
    }
    cm__q_int64(&q, 5, limit + 1);
    json_t *items = json_array();
    int64_t last_bucket = 0, last_key = 0, first_seq = 0;
    size_t first_waiting = 0;
    bool more = false;
    while ((rc = cm__q_step(&q)) == 1) {
        if ((int64_t)json_array_size(items) == limit) {
            more = true;
            break;
        }
        json_t *r = json_object(), *m = json_object();
        cm__json_set_col_int(r, "id", &q, 0);
        cm__json_set_col_int(m, "id", &q, 1);
        cm__json_set_col_text(m, "name", &q, 2);
        json_object_set_new(r, "member", m);
        cm__json_set_col_text(r, "status", &q, 3);
        cm__json_set_col_int(r, "guests", &q, 4);
        cm__json_set_col_int(r, "seats", &q, 5);
        json_object_set_new(r, "waitlist_position", json_null());
        cm__json_set_col_time(r, "created_at", &q, 7);
        cm__json_set_col_time(r, "updated_at", &q, 8);
        last_bucket = cm__q_col_int64(&q, 9);
        last_key = cm__q_col_int64(&q, 10);
        if (!first_seq && !cm__q_is_null(&q, 6)) {
            first_seq = cm__q_col_int64(&q, 6);
            first_waiting = json_array_size(items);
        }
        json_array_append_new(items, r);
    }
    cm__q_close(&q);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    if (first_seq) {
        /* Waitlisted rows come in queue order: number them from the first. */
        int64_t pos = 0;
        if ((rc = cm__q_open(&q, ctx->conn, "rsvp.position")) == CM_OK) {
            cm__q_int64(&q, 1, ev.id);
            cm__q_int64(&q, 2, first_seq);
            if ((rc = cm__q_step(&q)) == 1)
                pos = cm__q_col_int64(&q, 0);
            cm__q_close(&q);
        }
        if (rc < 0) {
            json_decref(items);
            return rc;
        }
        for (size_t i = first_waiting; i < json_array_size(items); i++) {
            json_t *r = json_array_get(items, i);
            if (strcmp(json_string_value(json_object_get(r, "status")), "waitlisted") != 0)
                break;
            json_object_set_new(r, "waitlist_position", json_integer(pos++));
        }
    }
    json_t *res = json_object();
    json_object_set_new(res, "event_id", json_integer(ev.id));
    json_object_set_new(res, "items", items);
    page_cursor(res, more, last_bucket, last_key);
    *out = res;
    return CM_OK;
}

static int op_mine(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t me = ctx->actor->member_id;
    if (!me)
        return cm__error_set(CM_EAUTH, "rsvps.mine needs a member, not the system actor");
    int rc;
    int64_t ca = 0, cb = 0;
    const char *cursor = cm__json_str(in, "cursor");
    if (cursor && (rc = cm__cursor_decode(&ca, &cb, cursor)))
        return rc;
    int64_t limit = cm__json_int(in, "limit", 20);
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "rsvp.mine")))
        return rc;
    cm__q_int64(&q, 1, me);
    cm__q_int64(&q, 2, ctx->now);
    cm__q_text(&q, 3, cm__json_str(in, "status"));
    if (cursor) {
        cm__q_int64(&q, 4, ca);
        cm__q_int64(&q, 5, cb);
    } else {
        cm__q_null(&q, 4);
        cm__q_null(&q, 5);
    }
    cm__q_int64(&q, 6, limit + 1);
    json_t *items = json_array();
    int64_t last_key = 0, last_id = 0;
    bool more = false;
    while ((rc = cm__q_step(&q)) == 1) {
        if ((int64_t)json_array_size(items) == limit) {
            more = true;
            break;
        }
        json_t *r = json_object(), *e = json_object();
        cm__json_set_col_int(r, "id", &q, 0);
        cm__json_set_col_int(r, "event_id", &q, 1);
        cm__json_set_col_text(r, "status", &q, 2);
        cm__json_set_col_int(r, "guests", &q, 3);
        cm__json_set_col_int(r, "seats", &q, 4);
        cm__json_set_col_time(r, "created_at", &q, 6);
        cm__json_set_col_time(r, "updated_at", &q, 7);
        cm__json_set_col_int(e, "id", &q, 1);
        cm__json_set_col_text(e, "title", &q, 8);
        cm__json_set_col_text(e, "status", &q, 9);
        cm__json_set_col_text(e, "format", &q, 10);
        cm__json_set_col_text(e, "timezone", &q, 11);
        cm__json_set_col_text(e, "start_local", &q, 12);
        cm__json_set_col_text(e, "end_local", &q, 13);
        cm__json_set_col_time(e, "start", &q, 14);
        cm__json_set_col_time(e, "end", &q, 15);
        if (strcmp(cm__q_col_text(&q, 2), "going") == 0 || cm__q_col_int64(&q, 17))
            cm__json_set_col_text(e, "online_url", &q, 16);
        json_object_set_new(r, "event", e);
        last_id = cm__q_col_int64(&q, 0);
        last_key = cm__q_col_int64(&q, 18);
        json_array_append_new(items, r);
    }
    cm__q_close(&q);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    json_t *res = json_object();
    json_object_set_new(res, "items", items);
    page_cursor(res, more, last_key, last_id);
    *out = res;
    return CM_OK;
}

static const cm__field add_fields[] = {
    CM__FIELD("event_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Event id"),
    CM__FIELD("guests", CM__T_INT, .max = CM__RSVP_MAX_GUESTS,
              .doc = "Guests you bring (0-10, default 0); each takes a seat"),
    CM__FIELD("status", CM__T_ENUM, .values = add_status_values,
              .doc = "going (default) or not_going"),
    {.name = NULL},
};

static const cm__field cancel_fields[] = {
    CM__FIELD("event_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Event id"),
    CM__FIELD("member_id", CM__T_ID,
              .doc = "Whose RSVP (the event's organizers and moderators; default: yours)"),
    {.name = NULL},
};

static const cm__field list_fields[] = {
    CM__FIELD("event_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Event id"),
    CM__FIELD("status", CM__T_ENUM, .values = status_values, .doc = "Only RSVPs with this status"),
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = 100, .doc = "Page size (default 50)"),
    CM__FIELD("cursor", CM__T_CURSOR, .doc = "next_cursor of the previous page"),
    {.name = NULL},
};

static const cm__field mine_fields[] = {
    CM__FIELD("status", CM__T_ENUM, .values = status_values, .doc = "Only RSVPs with this status"),
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = 100, .doc = "Page size (default 20)"),
    CM__FIELD("cursor", CM__T_CURSOR, .doc = "next_cursor of the previous page"),
    {.name = NULL},
};

static const cm__rfield list_result_fields[] = {
    {"event_id", CM__R_INT},
    CM__PAGE_FIELDS(cm__shape_rsvp_entry),
    {NULL},
};
static const cm__shape list_result = {.fields = list_result_fields};
CM__PAGE(mine_page, cm__shape_my_rsvp);

const cm__op cm__rsvp_ops[] = {
    {
        .name = "rsvps.add",
        .summary =
            "RSVP to a published event, or change your RSVP; waitlisted when the seats do not fit",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "PUT",
        .http_path = "/v1/events/{event_id}/rsvp",
        .fields = add_fields,
        .fn = op_add,
        .result = &cm__shape_rsvp,
    },
    {
        .name = "rsvps.cancel",
        .summary = "Cancel an RSVP (frees its seats and promotes the waitlist)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "DELETE",
        .http_path = "/v1/events/{event_id}/rsvp",
        .fields = cancel_fields,
        .fn = op_cancel,
        .result = &cm__shape_rsvp,
    },
    {
        .name = "rsvps.list",
        .summary = "An event's RSVPs: going, then the waitlist in order (organizers)",
        .role = CM_ROLE_MEMBER,
        .http_method = "GET",
        .http_path = "/v1/events/{event_id}/rsvps",
        .fields = list_fields,
        .fn = op_list,
        .result = &list_result,
    },
    {
        .name = "rsvps.mine",
        .summary = "Your RSVPs with their events, upcoming first",
        .role = CM_ROLE_MEMBER,
        .http_method = "GET",
        .http_path = "/v1/me/rsvps",
        .fields = mine_fields,
        .fn = op_mine,
        .result = &mine_page,
    },
    {.name = NULL},
};
