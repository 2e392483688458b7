/*
 * ops_event.c - event operations: create (as a draft or published), update
 * with optimistic concurrency, publish, cancel, get, list (upcoming, with
 * filters and cursor pagination) and co-organizers.
 *
 * Times: organizers give wall-clock start_local/end_local plus an IANA
 * zone; the UTC instants are computed once and stored beside them. A wall
 * time that falls in a DST gap (it does not exist, e.g. 02:30 on the
 * spring-forward night in Europe) is refused with CM_EINVAL naming the
 * field, rather than moved to a time the organizer did not choose. A
 * repeated wall time (fall back) means its first occurrence.
 */
#include "event_int.h"
#include "pay_int.h"

#include "ai/ai_int.h" /* cm__embed_sync */

#include <stdio.h>
#include <string.h>

static const char *const format_values[] = {"in_person", "online", "hybrid", NULL};

/* Wall-clock + zone -> UTC instant and the normalised wall-clock string. */
static int local_time(int64_t *at, char norm[32], const char *tz, const char *local,
                      const char *field)
{
    int y, mo, d, h, mi, s;
    if (cm__time_parse_local(&y, &mo, &d, &h, &mi, &s, local))
        return cm__error_set_field(CM_EINVAL, field,
                                   "%s: expected a local time like 2026-05-01T18:00", field);
    if (cm__time_local_to_utc(at, tz, y, mo, d, h, mi, s) || cm__time_utc_to_local(norm, tz, *at))
        return cm__error_set_field(CM_EINVAL, "timezone",
                                   "timezone: unknown time zone '%.64s' (use an IANA name "
                                   "such as Europe/Berlin)",
                                   tz);
    if (!cm__time_local_exists(tz, y, mo, d, h, mi, s))
        return cm__error_set_field(CM_EINVAL, field, "%s: %.32s does not exist in %.64s (DST gap)",
                                   field, local, tz);
    return CM_OK;
}

typedef struct event_times {
    int64_t start_at, end_at;
    char start_local[32], end_local[32];
} event_times;

/* Compute both instants; CM_EINVAL (field end_local) unless end > start. */
static int resolve_times(event_times *t, const char *tz, const char *start, const char *end)
{
    int rc = local_time(&t->start_at, t->start_local, tz, start, "start_local");
    if (rc || (rc = local_time(&t->end_at, t->end_local, tz, end, "end_local")))
        return rc;
    if (t->end_at <= t->start_at)
        return cm__error_set_field(CM_EINVAL, "end_local",
                                   "end_local: the event must end after it starts");
    return CM_OK;
}

static bool format_needs_url(const char *format)
{
    return strcmp(format, "online") == 0 || strcmp(format, "hybrid") == 0;
}

/* Add "organizers": [{id, name}] to an event's JSON. */
static int add_organizers(cm__ctx *ctx, json_t *event, int64_t id)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "event.organizers");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    json_t *list = json_array();
    while ((rc = cm__q_step(&q)) == 1) {
        json_t *o = json_object();
        cm__json_set_col_int(o, "id", &q, 0);
        cm__json_set_col_text(o, "name", &q, 1);
        json_array_append_new(list, o);
    }
    cm__q_close(&q);
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    json_object_set_new(event, "organizers", list);
    return CM_OK;
}

/* The event's JSON with its organizers, as the caller sees it. */
static int load_full(json_t **out, cm__ctx *ctx, int64_t id)
{
    cm__event ev;
    json_t *e;
    int rc = cm__event_load(&ev, &e, ctx, id);
    if (rc)
        return rc;
    if ((rc = add_organizers(ctx, e, id))) {
        json_decref(e);
        return rc;
    }
    *out = e;
    return CM_OK;
}

/* May the caller attach an event to group_id? It must exist and be visible
 * (CM_ENOTFOUND) and the caller must be an active member of it or staff
 * (CM_EPERM). */
static int check_group(cm__ctx *ctx, int64_t group_id)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "event.group_access");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, group_id);
    cm__q_int64(&q, 2, ctx->actor->member_id);
    rc = cm__q_step(&q);
    bool found = rc == 1, is_public = false, member = false;
    if (found) {
        is_public = strcmp(cm__q_col_text(&q, 0), "public") == 0;
        member = !cm__q_is_null(&q, 1);
    }
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    bool staff = cm__event_staff(ctx);
    if (!found || (!is_public && !member && !staff))
        return cm__error_set_field(CM_ENOTFOUND, "group_id", "group %lld not found",
                                   (long long)group_id);
    if (!member && !staff)
        return cm__error_set_field(CM_EPERM, "group_id",
                                   "group_id: only members of the group may create its events");
    return CM_OK;
}

static int op_create(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t me = ctx->actor->member_id;
    if (!me)
        return cm__error_set(CM_EAUTH, "events.create needs a member (the first organizer)");
    const char *format = cm__json_str(in, "format");
    const char *url = cm__json_str(in, "online_url");
    if (format_needs_url(format) && (!url || !*url))
        return cm__error_set_field(CM_EINVAL, "online_url",
                                   "online_url: required for online and hybrid events");
    event_times t;
    int rc = resolve_times(&t, cm__json_str(in, "timezone"), cm__json_str(in, "start_local"),
                           cm__json_str(in, "end_local"));
    if (rc)
        return rc;
    int64_t group_id = cm__json_int(in, "group_id", 0);
    if (group_id && (rc = check_group(ctx, group_id)))
        return rc;
    bool publish = cm__json_bool(in, "publish", false);
    const char *desc = cm__json_str(in, "description");
    const char *venue = cm__json_str(in, "venue");
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "event.insert")))
        return rc;
    cm__q_text(&q, 1, cm__json_str(in, "title"));
    cm__q_text(&q, 2, desc ? desc : "");
    cm__q_text(&q, 3, publish ? "published" : "draft");
    cm__q_text(&q, 4, format);
    cm__q_text(&q, 5, venue ? venue : "");
    cm__q_text(&q, 6, url ? url : "");
    cm__q_text(&q, 7, cm__json_str(in, "timezone"));
    cm__q_text(&q, 8, t.start_local);
    cm__q_text(&q, 9, t.end_local);
    cm__q_int64(&q, 10, t.start_at);
    cm__q_int64(&q, 11, t.end_at);
    if (cm__json_has(in, "capacity"))
        cm__q_int64(&q, 12, cm__json_int(in, "capacity", 0));
    else
        cm__q_null(&q, 12);
    if (group_id)
        cm__q_int64(&q, 13, group_id);
    else
        cm__q_null(&q, 13);
    cm__q_int64(&q, 14, me);
    cm__q_int64(&q, 15, ctx->now);
    if (publish)
        cm__q_int64(&q, 16, ctx->now);
    else
        cm__q_null(&q, 16);
    rc = cm__q_step(&q);
    int64_t id = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if ((rc = cm__q_open(&q, ctx->conn, "event.organizer_add")))
        return rc;
    cm__q_int64(&q, 1, id);
    cm__q_int64(&q, 2, me);
    cm__q_int64(&q, 3, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    if (rc || (rc = cm__metric_add(ctx->conn, "events_created", 1)) ||
        (rc = cm__embed_sync(ctx->conn, ctx->now, "event", id)))
        return rc;
    ctx->target_type = "event";
    ctx->target_id = id;
    return load_full(out, ctx, id);
}

/* Lock and load an event the caller may manage; it becomes the audit target. */
static int load_managed(cm__event *ev, cm__ctx *ctx, json_t *in, const char *what)
{
    int64_t id = cm__json_int(in, "event_id", 0);
    int rc = cm__event_lock(ctx, id);
    if (rc || (rc = cm__event_load(ev, NULL, ctx, id)) || (rc = cm__event_require_manage(ev, what)))
        return rc;
    ctx->target_type = "event";
    ctx->target_id = ev->id;
    return CM_OK;
}

static int op_update(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__event ev;
    int rc = load_managed(&ev, ctx, in, "edit it");
    if (rc)
        return rc;
    if (strcmp(ev.status, "cancelled") == 0)
        return cm__error_set_field(CM_ECONSTRAINT, "event_id",
                                   "event_id: a cancelled event cannot be edited");
    if (cm__json_has(in, "version") && cm__json_int(in, "version", 0) != ev.version)
        return cm__error_set_field(CM_ECONFLICT, "version",
                                   "version: the event was changed meanwhile (now version "
                                   "%lld): reload and retry",
                                   (long long)ev.version);
    const char *format = cm__json_str(in, "format");
    const char *url = cm__json_str(in, "online_url");
    bool url_set = url ? *url != '\0' : ev.has_online_url;
    if (format_needs_url(format ? format : ev.format) && !url_set)
        return cm__error_set_field(CM_EINVAL, "online_url",
                                   "online_url: required for online and hybrid events");
    const char *tz = cm__json_str(in, "timezone");
    const char *start = cm__json_str(in, "start_local");
    const char *end = cm__json_str(in, "end_local");
    event_times t = {ev.start_at, ev.end_at, "", ""};
    memcpy(t.start_local, ev.start_local, sizeof t.start_local);
    memcpy(t.end_local, ev.end_local, sizeof t.end_local);
    if ((tz || start || end) &&
        (rc = resolve_times(&t, tz ? tz : ev.timezone, start ? start : ev.start_local,
                            end ? end : ev.end_local)))
        return rc;
    /* capacity: absent keeps it, null removes the limit, a number sets it */
    json_t *cap = json_object_get(in, "capacity");
    bool cap_set = cap != NULL;
    if (cap && json_is_integer(cap) && json_integer_value(cap) < ev.seats_taken)
        return cm__error_set_field(CM_ECONSTRAINT, "capacity",
                                   "capacity: %lld seats are already confirmed",
                                   (long long)ev.seats_taken);
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "event.update")))
        return rc;
    cm__q_int64(&q, 1, ev.id);
    cm__q_text(&q, 2, cm__json_str(in, "title"));
    cm__q_text(&q, 3, cm__json_str(in, "description"));
    cm__q_text(&q, 4, format);
    cm__q_text(&q, 5, cm__json_str(in, "venue"));
    cm__q_text(&q, 6, url);
    cm__q_text(&q, 7, tz ? tz : ev.timezone);
    cm__q_text(&q, 8, t.start_local);
    cm__q_text(&q, 9, t.end_local);
    cm__q_int64(&q, 10, t.start_at);
    cm__q_int64(&q, 11, t.end_at);
    if (cap && json_is_integer(cap))
        cm__q_int64(&q, 12, json_integer_value(cap));
    else
        cm__q_null(&q, 12);
    cm__q_int64(&q, 13, cap_set);
    cm__q_int64(&q, 14, ctx->now);
    cm__q_int64(&q, 15, ev.version);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    if (rc < 0)
        return rc == CM_ECONSTRAINT ? cm__error_set_field(CM_ECONSTRAINT, "capacity",
                                                          "capacity: below the seats already "
                                                          "confirmed")
                                    : rc;
    if (rc == 0)
        return cm__error_set_field(CM_ECONFLICT, "version",
                                   "version: the event was changed meanwhile: reload and retry");
    if ((rc = cm__embed_sync(ctx->conn, ctx->now, "event", ev.id)))
        return rc;
    if (cap_set) {
        /* more room (or no limit any more): serve the waitlist */
        cm__event now_ev;
        if ((rc = cm__event_load(&now_ev, NULL, ctx, ev.id)) ||
            (rc = cm__rsvp_promote(ctx, &now_ev, NULL)))
            return rc;
    }
    return load_full(out, ctx, ev.id);
}

static int op_publish(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__event ev;
    int rc = load_managed(&ev, ctx, in, "publish it");
    if (rc)
        return rc;
    if (strcmp(ev.status, "cancelled") == 0)
        return cm__error_set_field(CM_ECONSTRAINT, "event_id",
                                   "event_id: a cancelled event cannot be published");
    if (strcmp(ev.status, "draft") == 0) {
        cm__q q;
        if ((rc = cm__q_open(&q, ctx->conn, "event.publish")))
            return rc;
        cm__q_int64(&q, 1, ev.id);
        cm__q_int64(&q, 2, ctx->now);
        rc = cm__ok(cm__q_step(&q));
        cm__q_close(&q);
        if (rc)
            return rc;
    }
    return load_full(out, ctx, ev.id);
}

static int op_cancel(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__event ev;
    int rc = load_managed(&ev, ctx, in, "cancel it");
    if (rc)
        return rc;
    if (strcmp(ev.status, "cancelled") != 0) {
        const char *ids[] = {"event.cancel", "event.cancel_notify"};
        for (size_t i = 0; i < 2 && rc == CM_OK; i++) {
            cm__q q;
            if ((rc = cm__q_open(&q, ctx->conn, ids[i])))
                return rc;
            cm__q_int64(&q, 1, ev.id);
            cm__q_int64(&q, 2, ctx->now);
            rc = cm__ok(cm__q_step(&q));
            cm__q_close(&q);
        }
        if (rc)
            return rc;
    }
    return load_full(out, ctx, ev.id);
}

static int op_get(cm__ctx *ctx, json_t *in, json_t **out)
{
    return load_full(out, ctx, cm__json_int(in, "event_id", 0));
}

/* "%<q>%" for LIKE on lower(title): ASCII lower-cased, with %, _ and \
 * escaped by '\'. q is at most 100 code points (400 bytes). */
static void like_pattern(char *dst, size_t cap, const char *q)
{
    size_t n = 0;
    dst[n++] = '%';
    for (; *q && n + 4 < cap; q++) {
        char c = *q;
        if (c == '%' || c == '_' || c == '\\')
            dst[n++] = '\\';
        dst[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    dst[n++] = '%';
    dst[n] = '\0';
}

static json_t *event_row(cm__q *q, void *payload)
{
    return cm__event_json(q, payload);
}

static int op_list(cm__ctx *ctx, json_t *in, json_t **out)
{
    int rc;
    int64_t ca = 0, cb = 0;
    const char *cursor = cm__json_str(in, "cursor");
    if (cursor && (rc = cm__cursor_decode(&ca, &cb, cursor)))
        return rc;
    int64_t from = ctx->now, to = 0;
    if (cm__json_has(in, "from") && cm__time_parse(&from, cm__json_str(in, "from")))
        return cm__error_set_field(CM_EINVAL, "from", "from: not an RFC 3339 time");
    if (cm__json_has(in, "to") && cm__time_parse(&to, cm__json_str(in, "to")))
        return cm__error_set_field(CM_EINVAL, "to", "to: not an RFC 3339 time");
    int64_t limit = cm__json_int(in, "limit", 20);
    const char *text = cm__json_str(in, "q");
    char pattern[1024];
    if (text)
        like_pattern(pattern, sizeof pattern, text);
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "event.list")))
        return rc;
    cm__q_int64(&q, 1, ctx->actor->member_id);
    cm__q_int64(&q, 2, cm__event_staff(ctx));
    cm__q_int64(&q, 3, cm__json_bool(in, "include_drafts", false));
    cm__q_int64(&q, 4, from);
    if (cm__json_has(in, "to"))
        cm__q_int64(&q, 5, to);
    else
        cm__q_null(&q, 5);
    cm__q_text(&q, 6, cm__json_str(in, "format"));
    if (cm__json_has(in, "group_id"))
        cm__q_int64(&q, 7, cm__json_int(in, "group_id", 0));
    else
        cm__q_null(&q, 7);
    if (cm__json_has(in, "organizer_id"))
        cm__q_int64(&q, 8, cm__json_int(in, "organizer_id", 0));
    else
        cm__q_null(&q, 8);
    cm__q_text(&q, 9, text ? pattern : NULL);
    if (cursor) {
        cm__q_int64(&q, 10, ca);
        cm__q_int64(&q, 11, cb);
    } else {
        cm__q_null(&q, 10);
        cm__q_null(&q, 11);
    }
    cm__q_int64(&q, 12, limit + 1);
    cm__q_int64(&q, 13, ctx->now);
    cm__q_int64(&q, 14, cm__pay_grace_us(ctx->store));
    return cm__page_collect(out, &q, limit, 10, 0, event_row, ctx);
}

static int op_add_organizer(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__event ev;
    int rc = load_managed(&ev, ctx, in, "add organizers");
    if (rc)
        return rc;
    int64_t member = cm__json_int(in, "member_id", 0);
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "event.member_active")))
        return rc;
    cm__q_int64(&q, 1, member);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return cm__error_set_field(CM_ENOTFOUND, "member_id", "member %lld not found",
                                   (long long)member);
    if ((rc = cm__q_open(&q, ctx->conn, "event.organizer_add")))
        return rc;
    cm__q_int64(&q, 1, ev.id);
    cm__q_int64(&q, 2, member);
    cm__q_int64(&q, 3, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc ? rc : load_full(out, ctx, ev.id);
}

static int op_remove_organizer(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__event ev;
    int rc = load_managed(&ev, ctx, in, "remove organizers");
    if (rc)
        return rc;
    int64_t member = cm__json_int(in, "member_id", 0);
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "event.organizer_count")))
        return rc;
    cm__q_int64(&q, 1, ev.id);
    rc = cm__q_step(&q);
    int64_t n = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if ((rc = cm__q_open(&q, ctx->conn, "event.organizer_remove")))
        return rc;
    cm__q_int64(&q, 1, ev.id);
    cm__q_int64(&q, 2, member);
    rc = cm__q_step(&q);
    int64_t removed = rc == 0 ? cm__q_changes(&q) : 0;
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (removed == 0)
        return cm__error_set_field(CM_ENOTFOUND, "member_id",
                                   "member_id: member %lld is not an organizer of this event",
                                   (long long)member);
    if (n <= 1) /* the transaction rolls the removal back */
        return cm__error_set_field(CM_ECONSTRAINT, "member_id",
                                   "member_id: an event needs at least one organizer");
    /* Not the whole event: a draft is no longer visible to an organizer who
     * removed themself. */
    json_t *res = json_pack("{s:I}", "event_id", (json_int_t)ev.id);
    if ((rc = add_organizers(ctx, res, ev.id))) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return CM_OK;
}

#define EVENT_BODY_FIELDS                                                                          \
    CM__FIELD("description", CM__T_STRING, .max = 20000,                                           \
              .doc = "Description (at most 20000 characters)"),                                    \
        CM__FIELD("venue", CM__T_STRING, .max = 500,                                               \
                  .doc = "Where (in-person and hybrid events)"),                                   \
        CM__FIELD(                                                                                 \
            "online_url", CM__T_URL, .max = 2048,                                                  \
            .doc = "http(s) link to join; required for online and hybrid events, shown only to "   \
                   "attendees going and organizers"),                                              \
        CM__FIELD("group_id", CM__T_ID,                                                            \
                  .doc = "Group hosting the event (private groups: members only)")

static const cm__field create_fields[] = {
    CM__FIELD("title", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 200,
              .doc = "Title (1-200 characters)"),
    CM__FIELD("format", CM__T_ENUM, .flags = CM__REQUIRED, .values = format_values,
              .doc = "in_person, online or hybrid"),
    CM__FIELD("start_local", CM__T_LOCALTIME, .flags = CM__REQUIRED,
              .doc = "Wall-clock start in the event's time zone, e.g. 2026-05-01T18:00"),
    CM__FIELD("end_local", CM__T_LOCALTIME, .flags = CM__REQUIRED,
              .doc = "Wall-clock end in the event's time zone (after the start)"),
    CM__FIELD("timezone", CM__T_TIMEZONE, .flags = CM__REQUIRED,
              .doc = "IANA time zone, e.g. Europe/Berlin"),
    CM__FIELD("capacity", CM__T_INT, .max = CM__EVENT_MAX_CAPACITY,
              .doc = "Seats (attendees plus guests); omit for unlimited"),
    CM__FIELD("publish", CM__T_BOOL, .doc = "Publish right away (default: create a draft)"),
    EVENT_BODY_FIELDS,
    {.name = NULL},
};

static const cm__field update_fields[] = {
    CM__FIELD("event_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Event id"),
    CM__FIELD("version", CM__T_INT, .min = 1,
              .doc = "The version you edited; CM_ECONFLICT when the event changed since"),
    CM__FIELD("title", CM__T_STRING, .min = 1, .max = 200, .doc = "Title (1-200 characters)"),
    CM__FIELD("format", CM__T_ENUM, .values = format_values, .doc = "in_person, online or hybrid"),
    CM__FIELD("start_local", CM__T_LOCALTIME, .doc = "Wall-clock start"),
    CM__FIELD("end_local", CM__T_LOCALTIME, .doc = "Wall-clock end"),
    CM__FIELD("timezone", CM__T_TIMEZONE, .doc = "IANA time zone"),
    CM__FIELD(
        "capacity", CM__T_INT, .max = CM__EVENT_MAX_CAPACITY,
        .doc = "Seats; null removes the limit; never below the seats already confirmed. Raising it "
               "promotes the waitlist"),
    CM__FIELD("description", CM__T_STRING, .max = 20000, .doc = "Description"),
    CM__FIELD("venue", CM__T_STRING, .max = 500, .doc = "Venue"),
    CM__FIELD("online_url", CM__T_URL, .max = 2048, .doc = "http(s) link to join"),
    {.name = NULL},
};

static const cm__field event_id_field[] = {
    CM__FIELD("event_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Event id"),
    {.name = NULL},
};

static const cm__field organizer_fields[] = {
    CM__FIELD("event_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Event id"),
    CM__FIELD("member_id", CM__T_ID, .flags = CM__REQUIRED,
              .doc = "Member to add or remove as organizer"),
    {.name = NULL},
};

static const cm__field list_fields[] = {
    CM__FIELD("from", CM__T_INSTANT, .doc = "Events ending after this instant (default: now)"),
    CM__FIELD("to", CM__T_INSTANT, .doc = "Events starting before this instant"),
    CM__FIELD("format", CM__T_ENUM, .values = format_values, .doc = "Only this format"),
    CM__FIELD("group_id", CM__T_ID, .doc = "Only this group's events"),
    CM__FIELD("organizer_id", CM__T_ID, .doc = "Only events this member organizes"),
    CM__FIELD("q", CM__T_STRING, .min = 1, .max = 100,
              .doc = "Title contains (case-insensitive for ASCII)"),
    CM__FIELD("include_drafts", CM__T_BOOL,
              .doc = "Also list drafts you organize (staff: all drafts)"),
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = 100, .doc = "Page size (default 20)"),
    CM__FIELD("cursor", CM__T_CURSOR, .doc = "next_cursor of the previous page"),
    {.name = NULL},
};

CM__PAGE(event_page, cm__shape_event);
static const cm__rfield organizers_fields[] = {
    {"event_id", CM__R_INT},
    {"organizers", CM__R_ARRAY, .shape = &cm__shape_member_ref},
    {NULL},
};
static const cm__shape organizers_result = {.fields = organizers_fields};

const cm__op cm__event_ops[] = {
    {
        .name = "events.create",
        .summary = "Create an event (a draft unless publish is true); you become its organizer",
        .role = CM_ROLE_ORGANIZER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/events",
        .fields = create_fields,
        .fn = op_create,
        .result = &cm__shape_event,
    },
    {
        .name = "events.update",
        .summary = "Edit an event (its organizers and moderators)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "PATCH",
        .http_path = "/v1/events/{event_id}",
        .fields = update_fields,
        .fn = op_update,
        .result = &cm__shape_event,
    },
    {
        .name = "events.publish",
        .summary = "Publish a draft event",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/events/{event_id}/publish",
        .fields = event_id_field,
        .fn = op_publish,
        .result = &cm__shape_event,
    },
    {
        .name = "events.cancel",
        .summary = "Cancel an event (it stays readable; attendees are notified)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/events/{event_id}/cancel",
        .fields = event_id_field,
        .fn = op_cancel,
        .result = &cm__shape_event,
    },
    {
        .name = "events.get",
        .summary = "An event with seat counts and your RSVP",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_CACHE,
        .http_method = "GET",
        .http_path = "/v1/events/{event_id}",
        .fields = event_id_field,
        .fn = op_get,
        .result = &cm__shape_event,
    },
    {
        .name = "events.list",
        .summary = "Upcoming events you may see, soonest first",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_CACHE,
        .http_method = "GET",
        .http_path = "/v1/events",
        .fields = list_fields,
        .fn = op_list,
        .result = &event_page,
    },
    {
        .name = "events.add_organizer",
        .summary = "Add a co-organizer to an event",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/events/{event_id}/organizers",
        .fields = organizer_fields,
        .fn = op_add_organizer,
        .result = &cm__shape_event,
    },
    {
        .name = "events.remove_organizer",
        .summary = "Remove a co-organizer (never the last one)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "DELETE",
        .http_path = "/v1/events/{event_id}/organizers/{member_id}",
        .fields = organizer_fields,
        .fn = op_remove_organizer,
        .result = &organizers_result,
    },
    {.name = NULL},
};
