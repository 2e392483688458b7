/*
 * test_rsvp.c - RSVPs through cm_exec: seats and guests, the FIFO
 * waitlist and its promotion, re-RSVPs, cancellation, the attendee list,
 * "my RSVPs", input validation, 16 threads racing for 100 seats, and
 * allocation-failure walking (a counting allocator installed first thing
 * in main()).
 */
#include "fixtures.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-01-01T00:00:00Z: every test runs on this fixed clock. */
#define T0 1767225600000000LL
#define DAY (24 * 3600000000LL)

/* ---- helpers ---- */

static void setup(void)
{
    fx_setup();
    fx_clock_set(T0);
}

/* shorthands for the fixtures helpers */
#define S fx_str
#define I fx_int
#define id_of fx_id_of

/* A published UTC event (draft when publish is 0); capacity < 0: unlimited. */
static json_int_t mk_event(const cm_actor *a, const char *start, const char *end,
                           json_int_t capacity, int publish)
{
    json_t *in = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "title", start, "format", "online",
                           "online_url", "https://meet.example/x", "start_local", start,
                           "end_local", end, "timezone", "UTC", "publish", publish);
    if (capacity >= 0)
        json_object_set_new(in, "capacity", json_integer(capacity));
    char *s = json_dumps(in, JSON_COMPACT);
    json_decref(in);
    json_t *r;
    int rc = fx_exec_raw(&r, a, "events.create", s);
    free(s);
    ck_assert_msg(rc == 0, "events.create: %s (%s)", cm_error_message(), cm_error_field());
    json_int_t id = I(r, "id");
    json_decref(r);
    return id;
}

static json_int_t std_event(const cm_actor *org, json_int_t capacity)
{
    return mk_event(org, "2026-05-01T18:00", "2026-05-01T20:00", capacity, 1);
}

/* rsvps.add as a, returns the RSVP's status ("going", "waitlisted", ...). */
static const char *rsvp(const cm_actor *a, json_int_t event, int guests)
{
    static char status[32];
    json_t *r;
    ck_assert_ok(fx_exec(&r, a, "rsvps.add", "{s:I,s:i}", "event_id", event, "guests", guests));
    snprintf(status, sizeof status, "%s", S(r, "status"));
    json_decref(r);
    return status;
}

/* fx_count of a printf-formatted query. */
static long long q1(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long q1(const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return fx_count(sql);
}

/* The status of a member's RSVP for event, as "status/seats/seq" ("none"). */
static const char *row(json_int_t event, const cm_actor *a)
{
    static char buf[64];
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT status || '/' || seats || '/' || coalesce(waitlist_seq, 0) FROM rsvps "
             "WHERE event_id = %lld AND member_id = %lld",
             (long long)event, (long long)cm_actor_member_id(a));
    const char *t = fx_text(sql);
    snprintf(buf, sizeof buf, "%s", *t ? t : "none");
    return buf;
}

/* "seats_taken/waitlist_count" of an event. */
static const char *seats(json_int_t event)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "%lld/%lld",
             q1("SELECT seats_taken FROM events WHERE id = %lld", event),
             q1("SELECT waitlist_count FROM events WHERE id = %lld", event));
    return buf;
}

/* ---- tests ---- */

START_TEST(rsvp_with_guests_and_counts)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    json_int_t ev = std_event(org, 10);
    json_t *r;
    ck_assert_ok(fx_exec(&r, m, "rsvps.add", "{s:I,s:i}", "event_id", ev, "guests", 2));
    ck_assert_str_eq(S(r, "status"), "going");
    ck_assert_int_eq(I(r, "guests"), 2);
    ck_assert_int_eq(I(r, "seats"), 3);
    ck_assert_int_eq(I(r, "event_id"), ev);
    ck_assert_int_eq(I(r, "member_id"), id_of(m));
    ck_assert(json_is_null(json_object_get(r, "waitlist_position")));
    json_int_t rid = I(r, "id");
    json_decref(r);
    ck_assert_int_eq(q1("SELECT count(*) FROM audit_log WHERE op = 'rsvps.add' AND target_type "
                        "= 'rsvp' AND target_id = %lld",
                        rid),
                     1);
    ck_assert_ok(fx_exec(&r, m, "events.get", "{s:I}", "event_id", ev));
    json_t *c = json_object_get(r, "counts");
    ck_assert_int_eq(I(c, "capacity"), 10);
    ck_assert_int_eq(I(c, "going_seats"), 3);
    ck_assert_int_eq(I(c, "waitlisted"), 0);
    ck_assert_int_eq(I(c, "seats_left"), 7);
    ck_assert_str_eq(S(r, "my_rsvp"), "going");
    json_decref(r);
    ck_assert_int_eq(fx_count("SELECT value FROM metric_counters WHERE name = 'rsvps'"), 1);
    /* default: going, no guests; a change is not a new RSVP */
    ck_assert_ok(fx_exec(&r, m, "rsvps.add", "{s:I}", "event_id", ev));
    ck_assert_int_eq(I(r, "seats"), 1);
    ck_assert_int_eq(I(r, "id"), rid);
    json_decref(r);
    ck_assert_str_eq(seats(ev), "1/0");
    ck_assert_int_eq(fx_count("SELECT value FROM metric_counters WHERE name = 'rsvps'"), 1);
    ck_assert_ok(fx_exec(&r, m, "rsvps.add", "{s:I,s:s}", "event_id", ev, "status", "not_going"));
    ck_assert_str_eq(S(r, "status"), "not_going");
    ck_assert_int_eq(I(r, "seats"), 0);
    json_decref(r);
    ck_assert_str_eq(seats(ev), "0/0");
    ck_assert_str_eq(rsvp(m, ev, 0), "going"); /* back: counts as a new RSVP */
    ck_assert_int_eq(fx_count("SELECT value FROM metric_counters WHERE name = 'rsvps'"), 2);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM rsvps"), 1);
    /* unlimited events never run out */
    json_int_t open = std_event(org, -1);
    ck_assert_str_eq(rsvp(m, open, 10), "going");
    ck_assert_str_eq(seats(open), "11/0");
    cm_actor_free(org);
    cm_actor_free(m);
}
END_TEST

START_TEST(waitlist_is_fifo_and_fair)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *b = fx_member("b@example.org", "member");
    cm_actor *c = fx_member("c@example.org", "member");
    json_int_t ev = std_event(org, 3);
    ck_assert_str_eq(rsvp(a, ev, 1), "going"); /* 2 seats */
    json_t *r;
    ck_assert_ok(fx_exec(&r, b, "rsvps.add", "{s:I,s:i}", "event_id", ev, "guests", 1));
    ck_assert_str_eq(S(r, "status"), "waitlisted"); /* needs 2, 1 left */
    ck_assert_int_eq(I(r, "waitlist_position"), 1);
    ck_assert_int_eq(I(r, "seats"), 0);
    json_decref(r);
    /* one seat is free, but b waits for it: c queues behind b */
    ck_assert_ok(fx_exec(&r, c, "rsvps.add", "{s:I}", "event_id", ev));
    ck_assert_str_eq(S(r, "status"), "waitlisted");
    ck_assert_int_eq(I(r, "waitlist_position"), 2);
    json_decref(r);
    ck_assert_str_eq(seats(ev), "2/2");
    ck_assert_int_eq(fx_count("SELECT value FROM metric_counters WHERE name = 'rsvps'"), 3);
    ck_assert_ok(fx_exec(&r, b, "events.get", "{s:I}", "event_id", ev));
    ck_assert_str_eq(S(r, "my_rsvp"), "waitlisted");
    ck_assert_int_eq(I(json_object_get(r, "counts"), "waitlisted"), 2);
    ck_assert_int_eq(I(json_object_get(r, "counts"), "seats_left"), 1);
    ck_assert_ptr_null(json_object_get(r, "online_url")); /* not going yet */
    json_decref(r);
    /* a cancels: b (2 seats) then c (1 seat) move up, in that order */
    ck_assert_ok(fx_exec(&r, a, "rsvps.cancel", "{s:I}", "event_id", ev));
    ck_assert_str_eq(S(r, "status"), "cancelled");
    json_decref(r);
    ck_assert_str_eq(row(ev, a), "cancelled/0/0");
    ck_assert_str_eq(row(ev, b), "going/2/0");
    ck_assert_str_eq(row(ev, c), "going/1/0");
    ck_assert_str_eq(seats(ev), "3/0");
    /* each promotion enqueued its notice job (the worker writes the e-mail) */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs WHERE kind = "
                              "'platform.waitlist_promoted'"),
                     2);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox"), 0);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM jobs WHERE payload LIKE '%%\"member_id\":%lld}' AND "
             "dedupe_key LIKE 'waitlist:%%:1'",
             (long long)id_of(b));
    ck_assert_int_eq(fx_count(sql), 1);
    ck_assert_ok(fx_exec(&r, c, "events.get", "{s:I}", "event_id", ev));
    ck_assert_str_eq(S(r, "online_url"), "https://meet.example/x");
    json_decref(r);
    cm_actor_free(org);
    cm_actor_free(a);
    cm_actor_free(b);
    cm_actor_free(c);
}
END_TEST

START_TEST(promotion_stops_at_the_first_that_does_not_fit)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *e = fx_member("e@example.org", "member");
    cm_actor *b = fx_member("b@example.org", "member");
    cm_actor *c = fx_member("c@example.org", "member");
    json_int_t ev = std_event(org, 3);
    ck_assert_str_eq(rsvp(a, ev, 0), "going");
    ck_assert_str_eq(rsvp(e, ev, 0), "going");
    ck_assert_str_eq(rsvp(b, ev, 2), "waitlisted"); /* needs 3 */
    ck_assert_str_eq(rsvp(c, ev, 0), "waitlisted"); /* would fit, but b is first */
    ck_assert_ok(fx_exec(NULL, a, "rsvps.cancel", "{s:I}", "event_id", ev));
    /* 2 free: b needs 3, so nobody moves (strict FIFO, c does not jump ahead) */
    ck_assert_str_eq(row(ev, b), "waitlisted/0/1");
    ck_assert_str_eq(row(ev, c), "waitlisted/0/2");
    ck_assert_str_eq(seats(ev), "1/2");
    ck_assert_ok(fx_exec(NULL, e, "rsvps.cancel", "{s:I}", "event_id", ev));
    ck_assert_str_eq(row(ev, b), "going/3/0");
    ck_assert_str_eq(row(ev, c), "waitlisted/0/2");
    ck_assert_str_eq(seats(ev), "3/1");
    /* the head bringing fewer guests lets the queue move */
    ck_assert_str_eq(rsvp(b, ev, 1), "going");
    ck_assert_str_eq(row(ev, c), "going/1/0");
    ck_assert_str_eq(seats(ev), "3/0");
    cm_actor_free(org);
    cm_actor_free(a);
    cm_actor_free(e);
    cm_actor_free(b);
    cm_actor_free(c);
}
END_TEST

START_TEST(more_guests_never_oversell)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *b = fx_member("b@example.org", "member");
    cm_actor *c = fx_member("c@example.org", "member");
    json_int_t ev = std_event(org, 4);
    ck_assert_str_eq(rsvp(a, ev, 1), "going");
    ck_assert_str_eq(rsvp(b, ev, 1), "going");
    long long audit = fx_count("SELECT count(*) FROM audit_log");
    /* full: growing fails and leaves the RSVP (and its seats) as they were */
    ck_assert_int_eq(fx_exec(NULL, a, "rsvps.add", "{s:I,s:i}", "event_id", ev, "guests", 3),
                     CM_ECONSTRAINT);
    ck_assert_str_eq(cm_error_field(), "guests");
    ck_assert_str_eq(row(ev, a), "going/2/0");
    ck_assert_str_eq(seats(ev), "4/0");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM audit_log"), audit);
    ck_assert_ok(fx_exec(NULL, b, "rsvps.cancel", "{s:I}", "event_id", ev));
    ck_assert_str_eq(rsvp(a, ev, 3), "going");
    ck_assert_str_eq(row(ev, a), "going/4/0");
    ck_assert_str_eq(seats(ev), "4/0");
    /* c waits for one seat; a bringing fewer guests frees it */
    ck_assert_str_eq(rsvp(c, ev, 0), "waitlisted");
    ck_assert_str_eq(rsvp(a, ev, 2), "going");
    ck_assert_str_eq(row(ev, c), "going/1/0");
    ck_assert_str_eq(seats(ev), "4/0");
    /* b queues for 3 seats; a drops to 1 seat: 2 free, but b is waiting, so a cannot
     * take one of them back */
    ck_assert_str_eq(rsvp(b, ev, 2), "waitlisted");
    ck_assert_str_eq(rsvp(a, ev, 0), "going");
    ck_assert_str_eq(seats(ev), "2/1");
    ck_assert_int_eq(fx_exec(NULL, a, "rsvps.add", "{s:I,s:i}", "event_id", ev, "guests", 1),
                     CM_ECONSTRAINT);
    ck_assert_str_eq(row(ev, a), "going/1/0");
    /* a waitlisted member changing guests keeps the place in the queue */
    ck_assert_str_eq(rsvp(b, ev, 5), "waitlisted");
    ck_assert_str_eq(row(ev, b), "waitlisted/0/2");
    ck_assert_str_eq(rsvp(b, ev, 1), "going"); /* now fits: promoted at once */
    ck_assert_str_eq(seats(ev), "4/0");
    cm_actor_free(org);
    cm_actor_free(a);
    cm_actor_free(b);
    cm_actor_free(c);
}
END_TEST

START_TEST(not_going_and_capacity_changes_serve_the_waitlist)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *b = fx_member("b@example.org", "member");
    cm_actor *c = fx_member("c@example.org", "member");
    cm_actor *d = fx_member("d@example.org", "member");
    json_int_t ev = std_event(org, 1);
    ck_assert_str_eq(rsvp(a, ev, 0), "going");
    ck_assert_str_eq(rsvp(b, ev, 0), "waitlisted");
    ck_assert_str_eq(rsvp(c, ev, 0), "waitlisted");
    ck_assert_str_eq(rsvp(d, ev, 0), "waitlisted");
    /* a waitlisted member saying no leaves the queue */
    ck_assert_ok(fx_exec(NULL, c, "rsvps.add", "{s:I,s:s}", "event_id", ev, "status", "not_going"));
    ck_assert_str_eq(row(ev, c), "not_going/0/0");
    ck_assert_str_eq(seats(ev), "1/2");
    /* going -> not going frees the seat for the head */
    ck_assert_ok(fx_exec(NULL, a, "rsvps.add", "{s:I,s:s}", "event_id", ev, "status", "not_going"));
    ck_assert_str_eq(row(ev, b), "going/1/0");
    ck_assert_str_eq(seats(ev), "1/1");
    /* raising the capacity promotes; removing the limit promotes everybody */
    ck_assert_ok(fx_exec(NULL, c, "rsvps.add", "{s:I}", "event_id", ev));
    ck_assert_str_eq(row(ev, c), "waitlisted/0/4"); /* a new place at the back */
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "events.update", "{s:I,s:i}", "event_id", ev, "capacity", 2));
    ck_assert_int_eq(I(json_object_get(r, "counts"), "going_seats"), 2);
    ck_assert_int_eq(I(json_object_get(r, "counts"), "waitlisted"), 1);
    json_decref(r);
    ck_assert_str_eq(row(ev, d), "going/1/0");
    ck_assert_str_eq(row(ev, c), "waitlisted/0/4");
    ck_assert_ok(fx_exec(NULL, org, "events.update", "{s:I,s:n}", "event_id", ev, "capacity"));
    ck_assert_str_eq(row(ev, c), "going/1/0");
    ck_assert_str_eq(seats(ev), "3/0");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs WHERE kind = "
                              "'platform.waitlist_promoted'"),
                     3);
    cm_actor_free(org);
    cm_actor_free(a);
    cm_actor_free(b);
    cm_actor_free(c);
    cm_actor_free(d);
}
END_TEST

START_TEST(bad_rsvp_input_is_rejected_and_changes_nothing)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    json_int_t ev = std_event(org, 5);
    long long audit = fx_count("SELECT count(*) FROM audit_log");
    char ok[64];
    snprintf(ok, sizeof ok, "\"event_id\":%lld", (long long)ev);
    struct {
        char json[160];
        const char *field;
    } cases[] = {
        {"{}", "event_id"},
        {"{\"event_id\":null}", "event_id"},
        {"{\"event_id\":0}", "event_id"},
        {"{\"event_id\":-3}", "event_id"},
        {"{\"event_id\":\"1\"}", "event_id"},
        {"{\"event_id\":1.0}", "event_id"},
        {"", "guests"},
        {"", "guests"},
        {"", "guests"},
        {"", "guests"},
        {"", "status"},
        {"", "status"},
        {"", "status"},
        {"", "seats"},
        {"", ""},
        {"", ""},
    };
    snprintf(cases[6].json, 160, "{%s,\"guests\":11}", ok);
    snprintf(cases[7].json, 160, "{%s,\"guests\":-1}", ok);
    snprintf(cases[8].json, 160, "{%s,\"guests\":\"2\"}", ok);
    snprintf(cases[9].json, 160, "{%s,\"guests\":true}", ok);
    snprintf(cases[10].json, 160, "{%s,\"status\":\"maybe\"}", ok);
    snprintf(cases[11].json, 160, "{%s,\"status\":\"waitlisted\"}", ok);
    snprintf(cases[12].json, 160, "{%s,\"status\":1}", ok);
    snprintf(cases[13].json, 160, "{%s,\"seats\":1}", ok);
    snprintf(cases[14].json, 160, "{%s,\"status\":\"going\xff\"}", ok); /* invalid UTF-8 */
    snprintf(cases[15].json, 160, "[%s]", ok);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = fx_exec_raw(NULL, m, "rsvps.add", cases[i].json);
        ck_assert_msg(rc == CM_EINVAL, "case %zu (%s): %s", i, cases[i].json, cm_status_name(rc));
        ck_assert_msg(strcmp(cm_error_field(), cases[i].field) == 0,
                      "case %zu: field '%s', expected '%s'", i, cm_error_field(), cases[i].field);
    }
    ck_assert_int_eq(fx_exec(NULL, m, "rsvps.cancel", "{s:I,s:i}", "event_id", ev, "member_id", 0),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "member_id");
    ck_assert_int_eq(fx_exec(NULL, org, "rsvps.list", "{s:I,s:s}", "event_id", ev, "status", "all"),
                     CM_EINVAL);
    ck_assert_int_eq(
        fx_exec(NULL, org, "rsvps.list", "{s:I,s:s}", "event_id", ev, "cursor", "c1.zz"),
        CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "cursor");
    ck_assert_int_eq(fx_exec(NULL, m, "rsvps.mine", "{s:i}", "limit", 1000), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "limit");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM rsvps"), 0);
    ck_assert_str_eq(seats(ev), "0/0");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM audit_log"), audit);
    cm_actor_free(org);
    cm_actor_free(m);
}
END_TEST

START_TEST(rsvp_needs_an_open_event_and_a_member)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    json_int_t draft = mk_event(org, "2026-05-01T18:00", "2026-05-01T20:00", 5, 0);
    json_int_t gone = std_event(org, 5);
    json_int_t soon = mk_event(org, "2026-01-01T10:00", "2026-01-01T12:00", 5, 1);
    ck_assert_ok(fx_exec(NULL, org, "events.cancel", "{s:I}", "event_id", gone));
    ck_assert_int_eq(fx_exec(NULL, NULL, "rsvps.add", "{s:I}", "event_id", soon), CM_EAUTH);
    ck_assert_int_eq(fx_exec(NULL, FX.sys, "rsvps.add", "{s:I}", "event_id", soon), CM_EAUTH);
    ck_assert_int_eq(fx_exec(NULL, m, "rsvps.add", "{s:I}", "event_id", draft), CM_ENOTFOUND);
    ck_assert_int_eq(fx_exec(NULL, org, "rsvps.add", "{s:I}", "event_id", draft), CM_ECONSTRAINT);
    ck_assert_str_eq(cm_error_field(), "event_id");
    ck_assert_int_eq(fx_exec(NULL, m, "rsvps.add", "{s:I}", "event_id", gone), CM_ECONSTRAINT);
    ck_assert_str_eq(cm_error_field(), "event_id");
    ck_assert_int_eq(fx_exec(NULL, m, "rsvps.add", "{s:I}", "event_id", (json_int_t)12345),
                     CM_ENOTFOUND);
    /* started but not ended: still fine; ended: closed */
    fx_clock_set(T0 + 11 * 3600000000LL);
    ck_assert_str_eq(rsvp(m, soon, 0), "going");
    fx_clock_set(T0 + 12 * 3600000000LL);
    ck_assert_int_eq(fx_exec(NULL, m, "rsvps.add", "{s:I,s:i}", "event_id", soon, "guests", 1),
                     CM_ECONSTRAINT);
    ck_assert_str_eq(cm_error_field(), "event_id");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM rsvps"), 1);
    ck_assert_str_eq(row(soon, m), "going/1/0");
    cm_actor_free(org);
    cm_actor_free(m);
}
END_TEST

START_TEST(cancel_rules)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *b = fx_member("b@example.org", "member");
    cm_actor *mod = fx_member("mod@example.org", "moderator");
    json_int_t ev = std_event(org, 5);
    ck_assert_int_eq(fx_exec(NULL, a, "rsvps.cancel", "{s:I}", "event_id", ev), CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "event_id");
    ck_assert_str_eq(rsvp(a, ev, 2), "going");
    ck_assert_str_eq(rsvp(b, ev, 0), "going");
    ck_assert_int_eq(
        fx_exec(NULL, b, "rsvps.cancel", "{s:I,s:I}", "event_id", ev, "member_id", id_of(a)),
        CM_EPERM);
    ck_assert_str_eq(cm_error_field(), "member_id");
    ck_assert_str_eq(row(ev, a), "going/3/0");
    ck_assert_ok(
        fx_exec(NULL, org, "rsvps.cancel", "{s:I,s:I}", "event_id", ev, "member_id", id_of(a)));
    ck_assert_str_eq(row(ev, a), "cancelled/0/0");
    ck_assert_str_eq(seats(ev), "1/0");
    ck_assert_ok(
        fx_exec(NULL, mod, "rsvps.cancel", "{s:I,s:I}", "event_id", ev, "member_id", id_of(b)));
    ck_assert_ok(
        fx_exec(NULL, FX.sys, "rsvps.cancel", "{s:I,s:I}", "event_id", ev, "member_id", id_of(b)));
    ck_assert_int_eq(fx_exec(NULL, FX.sys, "rsvps.cancel", "{s:I}", "event_id", ev), CM_EINVAL);
    ck_assert_str_eq(seats(ev), "0/0");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM audit_log WHERE op = 'rsvps.cancel' AND "
                              "target_type = 'rsvp'"),
                     3);
    cm_actor_free(org);
    cm_actor_free(a);
    cm_actor_free(b);
    cm_actor_free(mod);
}
END_TEST

/* "name:status:position" of each item, space-separated. */
static void attendees(char *buf, size_t cap, json_t *r)
{
    buf[0] = 0;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(r, "items"), i, it)
    {
        size_t n = strlen(buf);
        json_t *pos = json_object_get(it, "waitlist_position");
        snprintf(buf + n, cap - n, "%s%c:%s:%lld", n ? " " : "",
                 S(json_object_get(it, "member"), "name")[0], S(it, "status"),
                 json_is_integer(pos) ? (long long)json_integer_value(pos) : 0LL);
    }
}

START_TEST(attendee_list_for_organizers)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *m[7];
    const char *names[] = {"a@x.org", "b@x.org", "c@x.org", "d@x.org",
                           "e@x.org", "f@x.org", "g@x.org"};
    for (int i = 0; i < 7; i++)
        m[i] = fx_member(names[i], "member");
    json_int_t ev = std_event(org, 2);
    ck_assert_str_eq(rsvp(m[1], ev, 0), "going");
    ck_assert_str_eq(rsvp(m[0], ev, 0), "going");
    ck_assert_str_eq(rsvp(m[4], ev, 0), "waitlisted");
    ck_assert_str_eq(rsvp(m[2], ev, 0), "waitlisted");
    ck_assert_str_eq(rsvp(m[3], ev, 0), "waitlisted");
    ck_assert_ok(
        fx_exec(NULL, m[5], "rsvps.add", "{s:I,s:s}", "event_id", ev, "status", "not_going"));
    ck_assert_str_eq(rsvp(m[6], ev, 0), "waitlisted");
    ck_assert_ok(fx_exec(NULL, m[6], "rsvps.cancel", "{s:I}", "event_id", ev));
    json_t *r;
    ck_assert_int_eq(fx_exec(NULL, m[0], "rsvps.list", "{s:I}", "event_id", ev), CM_EPERM);
    ck_assert_int_eq(fx_exec(NULL, NULL, "rsvps.list", "{s:I}", "event_id", ev), CM_EAUTH);
    char buf[512], all[1024] = "";
    char cursor[64] = "";
    int pages = 0;
    do {
        if (cursor[0])
            ck_assert_ok(fx_exec(&r, org, "rsvps.list", "{s:I,s:i,s:s}", "event_id", ev, "limit", 3,
                                 "cursor", cursor));
        else
            ck_assert_ok(fx_exec(&r, org, "rsvps.list", "{s:I,s:i}", "event_id", ev, "limit", 3));
        attendees(buf, sizeof buf, r);
        size_t n = strlen(all);
        snprintf(all + n, sizeof all - n, "%s%s", n ? " " : "", buf);
        json_t *nc = json_object_get(r, "next_cursor");
        snprintf(cursor, sizeof cursor, "%s", json_is_string(nc) ? json_string_value(nc) : "");
        json_decref(r);
        pages++;
    } while (cursor[0] && pages < 10);
    ck_assert_str_eq(all, "b:going:0 a:going:0 e:waitlisted:1 c:waitlisted:2 d:waitlisted:3 "
                          "f:not_going:0 g:cancelled:0");
    ck_assert_int_eq(pages, 3);
    /* the waitlist alone, two at a time: positions carry on across pages */
    ck_assert_ok(fx_exec(&r, org, "rsvps.list", "{s:I,s:s,s:i}", "event_id", ev, "status",
                         "waitlisted", "limit", 2));
    attendees(buf, sizeof buf, r);
    ck_assert_str_eq(buf, "e:waitlisted:1 c:waitlisted:2");
    snprintf(cursor, sizeof cursor, "%s", S(r, "next_cursor"));
    json_decref(r);
    ck_assert_ok(fx_exec(&r, org, "rsvps.list", "{s:I,s:s,s:i,s:s}", "event_id", ev, "status",
                         "waitlisted", "limit", 2, "cursor", cursor));
    attendees(buf, sizeof buf, r);
    ck_assert_str_eq(buf, "d:waitlisted:3");
    ck_assert(json_is_null(json_object_get(r, "next_cursor")));
    json_decref(r);
    cm_actor_free(org);
    for (int i = 0; i < 7; i++)
        cm_actor_free(m[i]);
}
END_TEST

START_TEST(my_rsvps_upcoming_first)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    cm_actor *other = fx_member("o@example.org", "member");
    json_int_t early = mk_event(org, "2026-01-02T10:00", "2026-01-02T11:00", -1, 1);
    json_int_t later = mk_event(org, "2026-03-01T10:00", "2026-03-01T11:00", 1, 1);
    json_int_t mid = mk_event(org, "2026-02-01T10:00", "2026-02-01T11:00", -1, 1);
    json_int_t earliest = mk_event(org, "2026-01-01T12:00", "2026-01-01T13:00", -1, 1);
    ck_assert_str_eq(rsvp(other, later, 0), "going");
    ck_assert_str_eq(rsvp(m, earliest, 0), "going");
    ck_assert_str_eq(rsvp(m, early, 0), "going");
    ck_assert_str_eq(rsvp(m, later, 0), "waitlisted");
    ck_assert_ok(
        fx_exec(NULL, m, "rsvps.add", "{s:I,s:s}", "event_id", mid, "status", "not_going"));
    /* a day later the first two have ended: upcoming first (soonest first), then the
     * past (latest first) */
    fx_clock_set(T0 + 2 * DAY);
    char order[256] = "", cursor[64] = "";
    int pages = 0;
    json_t *r;
    do {
        if (cursor[0])
            ck_assert_ok(fx_exec(&r, m, "rsvps.mine", "{s:i,s:s}", "limit", 3, "cursor", cursor));
        else
            ck_assert_ok(fx_exec(&r, m, "rsvps.mine", "{s:i}", "limit", 3));
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(r, "items"), i, it)
        {
            json_t *e = json_object_get(it, "event");
            json_int_t id = I(e, "id");
            size_t n = strlen(order);
            snprintf(order + n, sizeof order - n, "%s%s:%s", n ? " " : "",
                     id == early      ? "early"
                     : id == later    ? "later"
                     : id == mid      ? "mid"
                     : id == earliest ? "earliest"
                                      : "?",
                     S(it, "status"));
            /* the link only for what the member is going to */
            ck_assert_int_eq(json_object_get(e, "online_url") != NULL,
                             strcmp(S(it, "status"), "going") == 0);
        }
        json_t *nc = json_object_get(r, "next_cursor");
        snprintf(cursor, sizeof cursor, "%s", json_is_string(nc) ? json_string_value(nc) : "");
        json_decref(r);
        pages++;
    } while (cursor[0] && pages < 10);
    ck_assert_str_eq(order, "mid:not_going later:waitlisted early:going earliest:going");
    ck_assert_int_eq(pages, 2);
    ck_assert_ok(fx_exec(&r, m, "rsvps.mine", "{s:s}", "status", "waitlisted"));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 1);
    json_decref(r);
    ck_assert_int_eq(fx_exec(NULL, FX.sys, "rsvps.mine", "{}"), CM_EAUTH);
    ck_assert_int_eq(fx_exec(NULL, NULL, "rsvps.mine", "{}"), CM_EAUTH);
    cm_actor_free(org);
    cm_actor_free(m);
    cm_actor_free(other);
}
END_TEST

START_TEST(the_database_refuses_overselling)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    json_int_t ev = std_event(org, 2);
    ck_assert_str_eq(rsvp(m, ev, 1), "going");
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE events SET seats_taken = seats_taken + 1 WHERE id = %lld",
             (long long)ev);
    ck_assert_int_eq(fx_try_sql(sql), CM_ECONSTRAINT);
    snprintf(sql, sizeof sql, "UPDATE events SET capacity = 1 WHERE id = %lld", (long long)ev);
    ck_assert_int_eq(fx_try_sql(sql), CM_ECONSTRAINT);
    ck_assert_str_eq(seats(ev), "2/0");
    cm_actor_free(org);
    cm_actor_free(m);
}
END_TEST

/* ---- 16 threads x 500 members race for 100 seats ---- */

#define THREADS 16
#define PER_THREAD 500
#define CROWD (THREADS * PER_THREAD)

static cm_actor *crowd[CROWD];
static int crowd_rc[CROWD];
static char crowd_status[CROWD]; /* 'g'oing, 'w'aitlisted */
static json_int_t crowd_event;

static void *crowd_worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    char in[64];
    snprintf(in, sizeof in, "{\"event_id\":%lld}", (long long)crowd_event);
    for (int i = t * PER_THREAD; i < (t + 1) * PER_THREAD; i++) {
        char *out = NULL;
        crowd_rc[i] = cm_exec(&out, FX.store, crowd[i], "rsvps.add", in, strlen(in));
        if (crowd_rc[i] == 0)
            crowd_status[i] = strstr(out, "\"status\":\"going\"")        ? 'g'
                              : strstr(out, "\"status\":\"waitlisted\"") ? 'w'
                                                                         : '?';
        cm_free(out);
    }
    return NULL;
}

/* Concurrent cancellations: thread t cancels the RSVPs of quitters[t][0..4]. */
#define QUITS_PER_THREAD 5
static int quitters[THREADS][QUITS_PER_THREAD];
static int quit_rc[THREADS][QUITS_PER_THREAD];

static void *quit_worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    char in[64];
    snprintf(in, sizeof in, "{\"event_id\":%lld}", (long long)crowd_event);
    for (int i = 0; i < QUITS_PER_THREAD; i++) {
        char *out = NULL;
        quit_rc[t][i] =
            cm_exec(&out, FX.store, crowd[quitters[t][i]], "rsvps.cancel", in, strlen(in));
        cm_free(out);
    }
    return NULL;
}

START_TEST(concurrent_rsvps_never_oversell_and_keep_fifo)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    crowd_event = std_event(org, 100);
    /* 8000 members in one statement (sign-up itself is test_member's business) */
    char ins[512];
    snprintf(ins, sizeof ins,
             "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
             "INSERT INTO members (email, email_norm, name, created_at, updated_at) "
             "SELECT 'm' || (10000 + i) || '@example.org', 'm' || (10000 + i) || "
             "'@example.org', 'Member ' || i, %lld, %lld FROM n ORDER BY i",
             CROWD - 1, T0, T0);
    fx_sql(ins);
    json_int_t first = (json_int_t)fx_count("SELECT id FROM members WHERE email = "
                                            "'m10000@example.org'");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM members WHERE email LIKE 'm1%@example.org'"),
                     CROWD);
    ck_assert_int_eq(fx_count("SELECT id FROM members WHERE email = 'm17999@example.org'"),
                     first + CROWD - 1);
    for (int i = 0; i < CROWD; i++)
        ck_assert_ok(cm_actor_for_member(&crowd[i], FX.store, first + i));
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, crowd_worker, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    int going = 0, waiting = 0;
    for (int i = 0; i < CROWD; i++) {
        ck_assert_msg(crowd_rc[i] == 0, "attempt %d: %s", i, cm_status_name(crowd_rc[i]));
        going += crowd_status[i] == 'g';
        waiting += crowd_status[i] == 'w';
    }
    ck_assert_int_eq(going, 100);
    ck_assert_int_eq(waiting, CROWD - 100);
    long long ev = crowd_event;
    ck_assert_int_eq(
        q1("SELECT count(*) FROM rsvps WHERE event_id = %lld AND status = 'going'", ev), 100);
    ck_assert_int_eq(q1("SELECT sum(seats) FROM rsvps WHERE event_id = %lld", ev), 100);
    ck_assert_int_eq(q1("SELECT seats_taken FROM events WHERE id = %lld", ev), 100);
    ck_assert_int_eq(q1("SELECT count(*) FROM rsvps WHERE event_id = %lld AND status = "
                        "'waitlisted'",
                        ev),
                     CROWD - 100);
    ck_assert_int_eq(q1("SELECT waitlist_count FROM events WHERE id = %lld", ev), CROWD - 100);
    /* the waitlist is numbered 1..7900 without gaps or repeats, in the order the RSVPs
     * were stored (row ids grow in commit order) */
    ck_assert_int_eq(q1("SELECT count(DISTINCT waitlist_seq) FROM rsvps WHERE event_id = %lld "
                        "AND status = 'waitlisted' AND waitlist_seq BETWEEN 1 AND 7900",
                        ev),
                     CROWD - 100);
    ck_assert_int_eq(q1("SELECT count(*) FROM (SELECT waitlist_seq, lag(waitlist_seq) OVER "
                        "(ORDER BY id) AS prev FROM rsvps WHERE event_id = %lld AND status = "
                        "'waitlisted') AS w WHERE prev >= waitlist_seq",
                        ev),
                     0);
    ck_assert_int_eq(q1("SELECT count(*) FROM rsvps g, (SELECT min(id) AS first FROM rsvps "
                        "WHERE event_id = %lld AND status = 'waitlisted') w WHERE g.status = "
                        "'going' AND g.id > w.first",
                        ev),
                     0);
    ck_assert_int_eq(fx_count("SELECT value FROM metric_counters WHERE name = 'rsvps'"), CROWD);
    /* cancel going RSVPs one by one: each promotes exactly the head of the queue */
    json_int_t first_member = cm_actor_member_id(crowd[0]);
    for (int k = 0; k < 100; k++) {
        long long head = q1("SELECT id FROM rsvps WHERE event_id = %lld AND status = "
                            "'waitlisted' ORDER BY waitlist_seq LIMIT 1",
                            ev);
        long long head_seq = q1("SELECT waitlist_seq FROM rsvps WHERE id = %lld", head);
        long long victim = q1("SELECT member_id FROM rsvps WHERE event_id = %lld AND status = "
                              "'going' ORDER BY id LIMIT 1",
                              ev);
        ck_assert_ok(fx_exec(NULL, crowd[victim - first_member], "rsvps.cancel", "{s:I}",
                             "event_id", (json_int_t)ev));
        ck_assert_int_eq(q1("SELECT count(*) FROM rsvps WHERE id = %lld AND status = 'going' "
                            "AND seats = 1 AND waitlist_seq IS NULL",
                            head),
                         1);
        ck_assert_int_eq(q1("SELECT count(*) FROM rsvps WHERE event_id = %lld AND status = "
                            "'going'",
                            ev),
                         100);
        ck_assert_int_eq(q1("SELECT seats_taken FROM events WHERE id = %lld", ev), 100);
        ck_assert_int_eq(q1("SELECT waitlist_count FROM events WHERE id = %lld", ev),
                         CROWD - 100 - k - 1);
        ck_assert_int_eq(q1("SELECT count(*) FROM rsvps WHERE event_id = %lld AND status = "
                            "'waitlisted'",
                            ev),
                         CROWD - 100 - k - 1);
        ck_assert_int_eq(q1("SELECT min(waitlist_seq) FROM rsvps WHERE event_id = %lld AND "
                            "status = 'waitlisted'",
                            ev),
                         head_seq + 1);
        char key[64];
        snprintf(key, sizeof key, "waitlist:%lld:%lld", head, head_seq);
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM jobs WHERE dedupe_key = '%s'", key);
        ck_assert_int_eq(fx_count(sql), 1);
    }
    ck_assert_int_eq(fx_count("SELECT count(*) FROM rsvps WHERE status = 'cancelled'"), 100);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs"), 100);
    /* 80 going RSVPs cancelled at once from 16 threads: exactly the next 80 in line
     * move up, each once, and the counters stay in step */
    long long head_seq = q1("SELECT min(waitlist_seq) FROM rsvps WHERE event_id = %lld AND "
                            "status = 'waitlisted'",
                            ev);
    for (int k = 0; k < THREADS * QUITS_PER_THREAD; k++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT member_id FROM rsvps WHERE event_id = %lld AND status = 'going' "
                 "ORDER BY id LIMIT 1 OFFSET %d",
                 ev, k);
        quitters[k % THREADS][k / THREADS] = (int)(fx_count(sql) - first_member);
    }
    pthread_t qt[THREADS];
    for (int t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_create(&qt[t], NULL, quit_worker, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(qt[t], NULL);
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < QUITS_PER_THREAD; i++)
            ck_assert_msg(quit_rc[t][i] == 0, "cancel %d/%d: %s", t, i,
                          cm_status_name(quit_rc[t][i]));
    int quits = THREADS * QUITS_PER_THREAD;
    ck_assert_int_eq(
        q1("SELECT count(*) FROM rsvps WHERE event_id = %lld AND status = 'going'", ev), 100);
    ck_assert_int_eq(q1("SELECT sum(seats) FROM rsvps WHERE event_id = %lld", ev), 100);
    ck_assert_int_eq(q1("SELECT seats_taken FROM events WHERE id = %lld", ev), 100);
    ck_assert_int_eq(q1("SELECT waitlist_count FROM events WHERE id = %lld", ev),
                     CROWD - 200 - quits);
    ck_assert_int_eq(q1("SELECT count(*) FROM rsvps WHERE event_id = %lld AND status = "
                        "'waitlisted'",
                        ev),
                     CROWD - 200 - quits);
    ck_assert_int_eq(q1("SELECT min(waitlist_seq) FROM rsvps WHERE event_id = %lld AND "
                        "status = 'waitlisted'",
                        ev),
                     head_seq + quits);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs"), 100 + quits);
    ck_assert_int_eq(fx_count("SELECT count(DISTINCT dedupe_key) FROM jobs"), 100 + quits);
    for (int i = 0; i < CROWD; i++)
        cm_actor_free(crowd[i]);
    cm_actor_free(org);
}
END_TEST

/* One member changing their RSVP from 16 threads at once (double submits,
 * several devices): whatever order wins, the event's counters must match
 * the one row. */
static const cm_actor *flipper;

static void *flip_worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < 40; i++) {
        char in[96];
        int k = t * 40 + i;
        snprintf(in, sizeof in, "{\"event_id\":%lld,\"guests\":%d,\"status\":\"%s\"}",
                 (long long)crowd_event, k % 4, k % 3 == 0 ? "not_going" : "going");
        char *out = NULL;
        int rc = cm_exec(&out, FX.store, flipper, "rsvps.add", in, strlen(in));
        cm_free(out);
        if (rc != 0 && rc != CM_ECONSTRAINT) /* not enough seats is a fine answer */
            return (void *)(intptr_t)rc;
    }
    return NULL;
}

START_TEST(one_member_from_many_threads_keeps_counters_in_step)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    cm_actor *other = fx_member("o@example.org", "member");
    crowd_event = std_event(org, 4);
    flipper = m;
    ck_assert_str_eq(rsvp(other, crowd_event, 0), "going");
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, flip_worker, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++) {
        void *res;
        pthread_join(th[t], &res);
        ck_assert_msg(res == NULL, "thread %d: %s", t, cm_status_name((int)(intptr_t)res));
    }
    long long ev = crowd_event;
    ck_assert_int_eq(q1("SELECT count(*) FROM rsvps WHERE event_id = %lld", ev), 2);
    ck_assert_int_eq(q1("SELECT seats_taken FROM events WHERE id = %lld", ev),
                     q1("SELECT sum(seats) FROM rsvps WHERE event_id = %lld", ev));
    ck_assert_int_eq(q1("SELECT waitlist_count FROM events WHERE id = %lld", ev),
                     q1("SELECT count(*) FROM rsvps WHERE event_id = %lld AND status = "
                        "'waitlisted'",
                        ev));
    ck_assert_int_le(q1("SELECT seats_taken FROM events WHERE id = %lld", ev), 4);
    cm_actor_free(org);
    cm_actor_free(m);
    cm_actor_free(other);
}
END_TEST

/* ---- allocation failures leave the database as it was ---- */

/* Everything an RSVP can touch, in one string. */
static void snapshot(char *buf, size_t cap)
{
    snprintf(buf, cap, "%lld|%lld|%lld|%lld|%lld|%lld|%lld|%lld|%lld",
             fx_count("SELECT count(*) FROM rsvps"),
             fx_count("SELECT coalesce(sum(seats * 1000 + guests * 10 + coalesce(waitlist_seq, "
                      "0)), 0) FROM rsvps"),
             fx_count("SELECT count(*) FROM rsvps WHERE status = 'going'"),
             fx_count("SELECT coalesce(sum(seats_taken * 1000 + waitlist_count * 10 + "
                      "waitlist_last_seq), 0) FROM events"),
             fx_count("SELECT count(*) FROM email_outbox"), fx_count("SELECT count(*) FROM jobs"),
             fx_count("SELECT count(*) FROM audit_log"),
             fx_count("SELECT coalesce(sum(value), 0) FROM metric_counters"),
             fx_count("SELECT coalesce(sum(updated_at % 1000003), 0) FROM rsvps"));
}

/* Run op as a with allocation N failing for N = 1, 2, ... until it succeeds;
 * each failure must be an error that changed nothing. Returns the result. */
static json_t *walk(const cm_actor *a, const char *op, const char *json, int *failures)
{
    char before[256], after[256];
    snapshot(before, sizeof before);
    *failures = 0;
    for (long n = 1; n < 10000; n++) {
        char *out = NULL;
        fx_alloc_arm(n);
        int rc = cm_exec(&out, FX.store, a, op, json, strlen(json));
        long injected = fx_alloc_disarm();
        if (rc == 0) {
            json_t *r = json_loads(out, 0, NULL);
            cm_free(out);
            ck_assert_ptr_nonnull(r);
            return r;
        }
        ck_assert_ptr_null(out);
        ck_assert_msg(injected == 1, "%s failed at N=%ld without an injected failure: %s", op, n,
                      cm_error_message());
        ck_assert_msg(rc == CM_ENOMEM, "%s at N=%ld: %s (%s)", op, n, cm_status_name(rc),
                      cm_error_message());
        snapshot(after, sizeof after);
        ck_assert_msg(strcmp(before, after) == 0,
                      "%s failed at N=%ld (%s) but changed the database: %s -> %s", op, n,
                      cm_status_name(rc), before, after);
        (*failures)++;
    }
    ck_abort_msg("%s never succeeded", op);
    return NULL;
}

START_TEST(allocation_failures_change_nothing)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *b = fx_member("b@example.org", "member");
    json_int_t ev = std_event(org, 1);
    char in[64];
    snprintf(in, sizeof in, "{\"event_id\":%lld}", (long long)ev);
    int failures;
    /* a going RSVP */
    json_t *r = walk(a, "rsvps.add", in, &failures);
    ck_assert_int_ge(failures, 1);
    ck_assert_str_eq(S(r, "status"), "going");
    json_decref(r);
    ck_assert_str_eq(row(ev, a), "going/1/0");
    ck_assert_str_eq(seats(ev), "1/0");
    /* a waitlisted one */
    r = walk(b, "rsvps.add", in, &failures);
    ck_assert_int_ge(failures, 1);
    ck_assert_str_eq(S(r, "status"), "waitlisted");
    json_decref(r);
    ck_assert_str_eq(row(ev, b), "waitlisted/0/1");
    ck_assert_str_eq(seats(ev), "1/1");
    /* a cancellation that promotes and enqueues the notice job */
    r = walk(a, "rsvps.cancel", in, &failures);
    ck_assert_int_ge(failures, 1);
    json_decref(r);
    ck_assert_str_eq(row(ev, a), "cancelled/0/0");
    ck_assert_str_eq(row(ev, b), "going/1/0");
    ck_assert_str_eq(seats(ev), "1/0");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs"), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM rsvps"), 2);
    cm_actor_free(org);
    cm_actor_free(a);
    cm_actor_free(b);
}
END_TEST

START_TEST(ops_are_described)
{
    char *doc = NULL;
    ck_assert_ok(cm_ops_describe(&doc));
    const char *names[] = {"rsvps.add", "rsvps.cancel", "rsvps.list", "rsvps.mine"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "\"name\":\"%s\"", names[i]);
        ck_assert_msg(strstr(doc, needle) != NULL, "%s is not described", names[i]);
    }
    cm_free(doc);
}
END_TEST

int main(void)
{
    /* Before anything else allocates: every library allocation from here on can be
     * made to fail. */
    if (fx_alloc_install() != CM_OK)
        return EXIT_FAILURE;

    Suite *s = suite_create("rsvp");
    TCase *tc = tcase_create("rsvps");
    tcase_add_checked_fixture(tc, setup, fx_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, rsvp_with_guests_and_counts);
    tcase_add_test(tc, waitlist_is_fifo_and_fair);
    tcase_add_test(tc, promotion_stops_at_the_first_that_does_not_fit);
    tcase_add_test(tc, more_guests_never_oversell);
    tcase_add_test(tc, not_going_and_capacity_changes_serve_the_waitlist);
    tcase_add_test(tc, bad_rsvp_input_is_rejected_and_changes_nothing);
    tcase_add_test(tc, rsvp_needs_an_open_event_and_a_member);
    tcase_add_test(tc, cancel_rules);
    tcase_add_test(tc, attendee_list_for_organizers);
    tcase_add_test(tc, my_rsvps_upcoming_first);
    tcase_add_test(tc, the_database_refuses_overselling);
    tcase_add_test(tc, allocation_failures_change_nothing);
    tcase_add_test(tc, ops_are_described);
    suite_add_tcase(s, tc);
    TCase *tc_race = tcase_create("race");
    tcase_add_checked_fixture(tc_race, setup, fx_teardown);
    tcase_set_timeout(tc_race, 600);
    tcase_add_test(tc_race, concurrent_rsvps_never_oversell_and_keep_fifo);
    tcase_add_test(tc_race, one_member_from_many_threads_keeps_counters_in_step);
    suite_add_tcase(s, tc_race);
    return fx_run(s);
}
