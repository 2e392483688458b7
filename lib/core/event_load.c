/*
 * event_load.c - an event as the caller may see it: the visibility rules
 * (drafts, private groups), the JSON shape (online_url only for attendees
 * and organizers) and the "may manage" check shared by event and RSVP
 * operations.
 */
#include "event_int.h"
#include "pay_int.h"

#include <stdio.h>
#include <string.h>

/* Column numbers of "event.get" / "event.list" (see sql_event.c). */
enum {
    C_ID,
    C_TITLE,
    C_DESCRIPTION,
    C_STATUS,
    C_FORMAT,
    C_VENUE,
    C_ONLINE_URL,
    C_TIMEZONE,
    C_START_LOCAL,
    C_END_LOCAL,
    C_START_AT,
    C_END_AT,
    C_CAPACITY,
    C_SEATS_TAKEN,
    C_WAITLIST_COUNT,
    C_GROUP_ID,
    C_CREATED_BY,
    C_VERSION,
    C_CREATED_AT,
    C_UPDATED_AT,
    C_PUBLISHED_AT,
    C_CANCELLED_AT,
    C_MY_RSVP,
    C_IS_ORG,
    C_GROUP_VISIBILITY,
    C_IN_GROUP,
};

bool cm__event_staff(cm__ctx *ctx)
{
    return cm__actor_at_least(ctx, CM_ROLE_MODERATOR);
}

/* May the caller see the event in the current row? */
static bool row_visible(cm__q *q, cm__ctx *ctx)
{
    if (cm__event_staff(ctx) || cm__q_col_int64(q, C_IS_ORG))
        return true;
    if (strcmp(cm__q_col_text(q, C_STATUS), "draft") == 0)
        return false;
    if (cm__q_is_null(q, C_GROUP_VISIBILITY) ||
        strcmp(cm__q_col_text(q, C_GROUP_VISIBILITY), "public") == 0)
        return true;
    return cm__q_col_int64(q, C_IN_GROUP) != 0;
}

json_t *cm__event_json(cm__q *q, cm__ctx *ctx)
{
    json_t *e = json_object();
    bool manage = cm__event_staff(ctx) || cm__q_col_int64(q, C_IS_ORG);
    const char *mine = cm__q_is_null(q, C_MY_RSVP) ? NULL : cm__q_col_text(q, C_MY_RSVP);
    cm__json_set_col_int(e, "id", q, C_ID);
    cm__json_set_col_text(e, "title", q, C_TITLE);
    cm__json_set_col_text(e, "description", q, C_DESCRIPTION);
    cm__json_set_col_text(e, "status", q, C_STATUS);
    cm__json_set_col_text(e, "format", q, C_FORMAT);
    cm__json_set_col_text(e, "venue", q, C_VENUE);
    if (manage || (mine && strcmp(mine, "going") == 0))
        cm__json_set_col_text(e, "online_url", q, C_ONLINE_URL);
    cm__json_set_col_text(e, "timezone", q, C_TIMEZONE);
    cm__json_set_col_text(e, "start_local", q, C_START_LOCAL);
    cm__json_set_col_text(e, "end_local", q, C_END_LOCAL);
    cm__json_set_col_time(e, "start", q, C_START_AT);
    cm__json_set_col_time(e, "end", q, C_END_AT);
    cm__json_set_col_int(e, "capacity", q, C_CAPACITY);
    json_t *counts = json_object();
    cm__json_set_col_int(counts, "capacity", q, C_CAPACITY);
    cm__json_set_col_int(counts, "going_seats", q, C_SEATS_TAKEN);
    cm__json_set_col_int(counts, "waitlisted", q, C_WAITLIST_COUNT);
    if (cm__q_is_null(q, C_CAPACITY)) {
        json_object_set_new(counts, "seats_left", json_null());
    } else {
        int64_t left = cm__q_col_int64(q, C_CAPACITY) - cm__q_col_int64(q, C_SEATS_TAKEN);
        json_object_set_new(counts, "seats_left", json_integer(left > 0 ? left : 0));
    }
    json_object_set_new(e, "counts", counts);
    cm__json_set_col_int(e, "group_id", q, C_GROUP_ID);
    cm__json_set_col_int(e, "created_by", q, C_CREATED_BY);
    cm__json_set_col_int(e, "version", q, C_VERSION);
    cm__json_set_col_time(e, "created_at", q, C_CREATED_AT);
    cm__json_set_col_time(e, "updated_at", q, C_UPDATED_AT);
    cm__json_set_col_time(e, "published_at", q, C_PUBLISHED_AT);
    cm__json_set_col_time(e, "cancelled_at", q, C_CANCELLED_AT);
    json_object_set_new(e, "my_rsvp", mine ? json_string(mine) : json_null());
    json_object_set_new(e, "is_organizer", json_boolean(cm__q_col_int64(q, C_IS_ORG)));
    return e;
}

static void copy_col(char *dst, size_t cap, cm__q *q, int col)
{
    (void)snprintf(dst, cap, "%s", cm__q_col_text(q, col));
}

/* Fill ev from the current row. */
static void row_to_event(cm__event *ev, cm__q *q, cm__ctx *ctx)
{
    memset(ev, 0, sizeof *ev);
    ev->id = cm__q_col_int64(q, C_ID);
    copy_col(ev->status, sizeof ev->status, q, C_STATUS);
    copy_col(ev->format, sizeof ev->format, q, C_FORMAT);
    ev->has_capacity = !cm__q_is_null(q, C_CAPACITY);
    ev->capacity = cm__q_col_int64(q, C_CAPACITY);
    ev->seats_taken = cm__q_col_int64(q, C_SEATS_TAKEN);
    ev->waitlist_count = cm__q_col_int64(q, C_WAITLIST_COUNT);
    ev->start_at = cm__q_col_int64(q, C_START_AT);
    ev->end_at = cm__q_col_int64(q, C_END_AT);
    ev->group_id = cm__q_is_null(q, C_GROUP_ID) ? 0 : cm__q_col_int64(q, C_GROUP_ID);
    ev->version = cm__q_col_int64(q, C_VERSION);
    ev->has_online_url = cm__q_col_text(q, C_ONLINE_URL)[0] != '\0';
    copy_col(ev->timezone, sizeof ev->timezone, q, C_TIMEZONE);
    copy_col(ev->start_local, sizeof ev->start_local, q, C_START_LOCAL);
    copy_col(ev->end_local, sizeof ev->end_local, q, C_END_LOCAL);
    if (!cm__q_is_null(q, C_MY_RSVP))
        copy_col(ev->my_rsvp, sizeof ev->my_rsvp, q, C_MY_RSVP);
    ev->is_organizer = cm__q_col_int64(q, C_IS_ORG) != 0;
    ev->manage = ev->is_organizer || cm__event_staff(ctx);
}

int cm__event_load(cm__event *ev, json_t **json_out, cm__ctx *ctx, int64_t id)
{
    if (json_out)
        *json_out = NULL;
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "event.get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    cm__q_int64(&q, 2, ctx->actor->member_id);
    cm__q_int64(&q, 3, ctx->now);
    /* a store-less context (the system serving a waitlist) sees every event */
    cm__q_int64(&q, 4, ctx->store ? cm__pay_grace_us(ctx->store) : 0);
    rc = cm__q_step(&q);
    if (rc == 1 && row_visible(&q, ctx)) {
        row_to_event(ev, &q, ctx);
        if (json_out)
            *json_out = cm__event_json(&q, ctx);
        rc = CM_OK;
    } else if (rc >= 0) {
        rc = cm__error_set_field(CM_ENOTFOUND, "event_id", "event %lld not found", (long long)id);
    }
    cm__q_close(&q);
    return rc;
}

int cm__event_lock(cm__ctx *ctx, int64_t id)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "event.lock");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    return cm__ok(rc);
}

int cm__event_require_manage(const cm__event *ev, const char *what)
{
    if (ev->manage)
        return CM_OK;
    return cm__error_set_field(CM_EPERM, "event_id",
                               "event_id: only the event's organizers or moderators may %s", what);
}
