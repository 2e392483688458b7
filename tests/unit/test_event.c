/*
 * test_event.c - events through cm_exec: create (input validation, time
 * zones and DST), visibility of drafts, private groups and online links,
 * update with optimistic concurrency, publish, cancel, co-organizers and
 * the upcoming list with filters and cursors.
 */
#include "fixtures.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-01-01T00:00:00Z: every test runs on this fixed clock. */
#define T0 1767225600000000LL
#define HOUR 3600000000LL

static void setup(void)
{
    fx_setup();
    fx_clock_set(T0);
}

/* shorthands for the fixtures helpers */
#define S fx_str
#define I fx_int
#define id_of fx_id_of
#define exec_obj fx_exec_obj

/* A Berlin event; capacity < 0 means unlimited. */
static json_int_t mk_event(const cm_actor *a, const char *title, const char *start, const char *end,
                           json_int_t capacity, int publish)
{
    json_t *in =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "title", title, "format", "in_person", "start_local",
                  start, "end_local", end, "timezone", "Europe/Berlin", "publish", publish);
    if (capacity >= 0)
        json_object_set_new(in, "capacity", json_integer(capacity));
    json_t *r;
    int rc = exec_obj(&r, a, "events.create", in);
    ck_assert_msg(rc == 0, "events.create: %s (%s)", cm_error_message(), cm_error_field());
    json_int_t id = I(r, "id");
    json_decref(r);
    return id;
}

/* fx_count of a printf-formatted query. */
static long long count1(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long count1(const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return fx_count(sql);
}

START_TEST(create_happy_path)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "events.create", "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i}", "title",
                         "C meetup", "description", "Talks about C11", "format", "hybrid", "venue",
                         "Room 1", "online_url", "https://meet.example/c", "start_local",
                         "2026-05-01T18:00", "end_local", "2026-05-01T21:30", "timezone",
                         "Europe/Berlin", "capacity", 40));
    ck_assert_str_eq(S(r, "title"), "C meetup");
    ck_assert_str_eq(S(r, "status"), "draft");
    ck_assert_str_eq(S(r, "format"), "hybrid");
    ck_assert_str_eq(S(r, "timezone"), "Europe/Berlin");
    ck_assert_str_eq(S(r, "start_local"), "2026-05-01T18:00:00");
    ck_assert_str_eq(S(r, "end_local"), "2026-05-01T21:30:00");
    ck_assert_str_eq(S(r, "start"), "2026-05-01T16:00:00Z"); /* CEST = UTC+2 */
    ck_assert_str_eq(S(r, "end"), "2026-05-01T19:30:00Z");
    ck_assert_str_eq(S(r, "online_url"), "https://meet.example/c"); /* organizer sees it */
    ck_assert_int_eq(I(r, "capacity"), 40);
    json_t *c = json_object_get(r, "counts");
    ck_assert_int_eq(I(c, "going_seats"), 0);
    ck_assert_int_eq(I(c, "waitlisted"), 0);
    ck_assert_int_eq(I(c, "seats_left"), 40);
    ck_assert(json_is_null(json_object_get(r, "my_rsvp")));
    ck_assert(json_is_true(json_object_get(r, "is_organizer")));
    ck_assert_int_eq(I(r, "version"), 1);
    json_t *orgs = json_object_get(r, "organizers");
    ck_assert_int_eq(json_array_size(orgs), 1);
    ck_assert_int_eq(I(json_array_get(orgs, 0), "id"), id_of(org));
    json_int_t id = I(r, "id");
    json_decref(r);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM event_organizers"), 1);
    ck_assert_int_eq(fx_count("SELECT value FROM metric_counters WHERE name = 'events_created'"),
                     1);
    ck_assert_int_eq(count1("SELECT count(*) FROM audit_log WHERE op = 'events.create' AND "
                            "target_type = 'event' AND target_id = %lld",
                            id),
                     1);
    /* unlimited capacity, published at once */
    ck_assert_ok(fx_exec(&r, org, "events.create", "{s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "title", "Open",
                         "format", "online", "online_url", "http://x.example", "start_local",
                         "2026-07-04T18:00", "end_local", "2026-07-04T19:00:30", "timezone",
                         "America/New_York", "publish", 1));
    ck_assert_str_eq(S(r, "status"), "published");
    ck_assert_str_eq(S(r, "start"), "2026-07-04T22:00:00Z"); /* EDT = UTC-4 */
    ck_assert_str_eq(S(r, "end"), "2026-07-04T23:00:30Z");
    ck_assert(json_is_null(json_object_get(r, "capacity")));
    ck_assert(json_is_null(json_object_get(json_object_get(r, "counts"), "seats_left")));
    ck_assert(json_is_string(json_object_get(r, "published_at")));
    json_decref(r);
    cm_actor_free(org);
}
END_TEST

START_TEST(create_needs_the_organizer_role)
{
    cm_actor *m = fx_member("m@example.org", "member");
    ck_assert_int_eq(fx_exec(NULL, m, "events.create", "{s:s,s:s,s:s,s:s,s:s}", "title", "x",
                             "format", "in_person", "start_local", "2026-05-01T18:00", "end_local",
                             "2026-05-01T19:00", "timezone", "UTC"),
                     CM_EPERM);
    ck_assert_int_eq(fx_exec(NULL, NULL, "events.create", "{s:s,s:s,s:s,s:s,s:s}", "title", "x",
                             "format", "in_person", "start_local", "2026-05-01T18:00", "end_local",
                             "2026-05-01T19:00", "timezone", "UTC"),
                     CM_EAUTH);
    /* the system actor has no member to be the organizer */
    ck_assert_int_eq(fx_exec(NULL, FX.sys, "events.create", "{s:s,s:s,s:s,s:s,s:s}", "title", "x",
                             "format", "in_person", "start_local", "2026-05-01T18:00", "end_local",
                             "2026-05-01T19:00", "timezone", "UTC"),
                     CM_EAUTH);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM events"), 0);
    cm_actor_free(m);
}
END_TEST

START_TEST(bad_create_input_is_rejected_and_changes_nothing)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    long long audit = fx_count("SELECT count(*) FROM audit_log");
#define OK_TIMES "\"start_local\":\"2026-05-01T18:00\",\"end_local\":\"2026-05-01T19:00\""
#define BASE "\"title\":\"t\",\"format\":\"in_person\",\"timezone\":\"Europe/Berlin\","
    struct {
        const char *json, *field;
        int code;
    } cases[] = {
        /* missing fields */
        {"{\"format\":\"in_person\",\"timezone\":\"UTC\"," OK_TIMES "}", "title", CM_EINVAL},
        {"{\"title\":\"t\",\"timezone\":\"UTC\"," OK_TIMES "}", "format", CM_EINVAL},
        {"{\"title\":\"t\",\"format\":\"online\",\"online_url\":\"https://x.y\"," OK_TIMES "}",
         "timezone", CM_EINVAL},
        {"{" BASE "\"end_local\":\"2026-05-01T19:00\"}", "start_local", CM_EINVAL},
        {"{" BASE "\"start_local\":\"2026-05-01T19:00\"}", "end_local", CM_EINVAL},
        {"{" BASE "\"title\":null," OK_TIMES "}", "", CM_EINVAL}, /* duplicate key */
        /* wrong types */
        {"{\"title\":42,\"format\":\"in_person\",\"timezone\":\"UTC\"," OK_TIMES "}", "title",
         CM_EINVAL},
        {"{" BASE OK_TIMES ",\"capacity\":\"10\"}", "capacity", CM_EINVAL},
        {"{" BASE OK_TIMES ",\"capacity\":1.5}", "capacity", CM_EINVAL},
        {"{" BASE OK_TIMES ",\"publish\":\"yes\"}", "publish", CM_EINVAL},
        {"{" BASE "\"start_local\":1746115200,\"end_local\":\"2026-05-01T19:00\"}", "start_local",
         CM_EINVAL},
        {"{" BASE OK_TIMES ",\"group_id\":\"7\"}", "group_id", CM_EINVAL},
        /* bounds and formats */
        {"{\"title\":\"\",\"format\":\"in_person\",\"timezone\":\"UTC\"," OK_TIMES "}", "title",
         CM_EINVAL},
        {"{" BASE OK_TIMES ",\"capacity\":-1}", "capacity", CM_EINVAL},
        {"{" BASE OK_TIMES ",\"capacity\":1000001}", "capacity", CM_EINVAL},
        {"{" BASE OK_TIMES ",\"group_id\":0}", "group_id", CM_EINVAL},
        {"{\"title\":\"t\",\"format\":\"zoom\",\"timezone\":\"UTC\"," OK_TIMES "}", "format",
         CM_EINVAL},
        {"{\"title\":\"t\",\"format\":\"in_person\",\"timezone\":\"Mars/Olympus\"," OK_TIMES "}",
         "timezone", CM_EINVAL},
        {"{\"title\":\"t\",\"format\":\"in_person\",\"timezone\":\"../etc/passwd\"," OK_TIMES "}",
         "timezone", CM_EINVAL},
        {"{" BASE "\"start_local\":\"2026-13-01T18:00\",\"end_local\":\"2026-05-01T19:00\"}",
         "start_local", CM_EINVAL},
        {"{" BASE "\"start_local\":\"2026-02-30T18:00\",\"end_local\":\"2026-05-01T19:00\"}",
         "start_local", CM_EINVAL},
        {"{" BASE "\"start_local\":\"2026-05-01T18:00Z\",\"end_local\":\"2026-05-01T19:00\"}",
         "start_local", CM_EINVAL},
        {"{" BASE "\"start_local\":\"tomorrow\",\"end_local\":\"2026-05-01T19:00\"}", "start_local",
         CM_EINVAL},
        /* end before (or at) start */
        {"{" BASE "\"start_local\":\"2026-05-01T18:00\",\"end_local\":\"2026-05-01T17:59\"}",
         "end_local", CM_EINVAL},
        {"{" BASE "\"start_local\":\"2026-05-01T18:00\",\"end_local\":\"2026-05-01T18:00:00\"}",
         "end_local", CM_EINVAL},
        /* online events need a link, and links are http(s) */
        {"{\"title\":\"t\",\"format\":\"online\",\"timezone\":\"UTC\"," OK_TIMES "}", "online_url",
         CM_EINVAL},
        {"{\"title\":\"t\",\"format\":\"hybrid\",\"online_url\":\"\",\"timezone\":\"UTC\"," OK_TIMES
         "}",
         "online_url", CM_EINVAL},
        {"{\"title\":\"t\",\"format\":\"online\",\"online_url\":\"ftp://x.y\","
         "\"timezone\":\"UTC\"," OK_TIMES "}",
         "online_url", CM_EINVAL},
        {"{\"title\":\"t\",\"format\":\"online\",\"online_url\":\"https://x y\","
         "\"timezone\":\"UTC\"," OK_TIMES "}",
         "online_url", CM_EINVAL},
        /* unknown fields, unknown group */
        {"{" BASE OK_TIMES ",\"status\":\"published\"}", "status", CM_EINVAL},
        {"{" BASE OK_TIMES ",\"group_id\":99}", "group_id", CM_ENOTFOUND},
        /* invalid UTF-8 (a bad byte, an encoded surrogate, an escaped lone surrogate,
         * NUL): refused by the JSON parser before any field is looked at */
        {"{\"title\":\"\xc3\x28\",\"format\":\"in_person\",\"timezone\":\"UTC\"," OK_TIMES "}", "",
         CM_EINVAL},
        {"{" BASE OK_TIMES ",\"description\":\"ok \xed\xa0\x80 surrogate\"}", "", CM_EINVAL},
        {"{" BASE OK_TIMES ",\"venue\":\"\\ud800\"}", "", CM_EINVAL},
        {"{" BASE OK_TIMES ",\"venue\":\"a\\u0000b\"}", "", CM_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = fx_exec_raw(NULL, org, "events.create", cases[i].json);
        ck_assert_msg(rc == cases[i].code, "case %zu: %s, expected %s (%s)", i, cm_status_name(rc),
                      cm_status_name(cases[i].code), cm_error_message());
        ck_assert_msg(strcmp(cm_error_field(), cases[i].field) == 0,
                      "case %zu: field '%s', expected '%s'", i, cm_error_field(), cases[i].field);
    }
    /* oversize strings (counted in characters, not bytes) */
    char big[20010 * 2];
    memset(big, 'a', 201);
    big[201] = 0;
    ck_assert_int_eq(fx_exec(NULL, org, "events.create", "{s:s,s:s,s:s,s:s,s:s}", "title", big,
                             "format", "in_person", "start_local", "2026-05-01T18:00", "end_local",
                             "2026-05-01T19:00", "timezone", "UTC"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "title");
    big[200] = 0; /* 200 x 2-byte characters: 400 bytes but allowed */
    for (int i = 0; i < 200; i++)
        memcpy(big + 2 * i, "\xc3\xa9", 2);
    big[400] = 0;
    ck_assert_ok(fx_exec(NULL, org, "events.create", "{s:s,s:s,s:s,s:s,s:s}", "title", big,
                         "format", "in_person", "start_local", "2026-05-01T18:00", "end_local",
                         "2026-05-01T19:00", "timezone", "UTC"));
    memset(big, 'd', 20001);
    big[20001] = 0;
    ck_assert_int_eq(fx_exec(NULL, org, "events.create", "{s:s,s:s,s:s,s:s,s:s,s:s}", "title", "t",
                             "description", big, "format", "in_person", "start_local",
                             "2026-05-01T18:00", "end_local", "2026-05-01T19:00", "timezone",
                             "UTC"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "description");
    /* only the one valid event above was stored */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM events"), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM event_organizers"), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM audit_log"), audit + 1);
    ck_assert_int_eq(fx_count("SELECT value FROM metric_counters WHERE name = 'events_created'"),
                     1);
    cm_actor_free(org);
#undef BASE
#undef OK_TIMES
}
END_TEST

START_TEST(dst_gap_is_refused_and_overlap_takes_the_first)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_t *r;
    /* Europe/Berlin springs forward on 2026-03-29 at 02:00 -> 03:00: 02:30 does not
     * exist. It is refused, naming the field, rather than moved. */
    ck_assert_int_eq(fx_exec(NULL, org, "events.create", "{s:s,s:s,s:s,s:s,s:s}", "title", "gap",
                             "format", "in_person", "start_local", "2026-03-29T02:30", "end_local",
                             "2026-03-29T03:15", "timezone", "Europe/Berlin"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "start_local");
    ck_assert_str_eq(cm_error_message(),
                     "start_local: 2026-03-29T02:30 does not exist in Europe/Berlin (DST gap)");
    ck_assert_int_eq(fx_exec(NULL, org, "events.create", "{s:s,s:s,s:s,s:s,s:s}", "title", "gap",
                             "format", "in_person", "start_local", "2027-03-14T01:00", "end_local",
                             "2027-03-14T02:59:59", "timezone", "America/New_York"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "end_local");
    ck_assert_str_eq(cm_error_message(), "end_local: 2027-03-14T02:59:59 does not exist in "
                                         "America/New_York (DST gap)");
    /* The first minute after the gap exists. */
    ck_assert_ok(fx_exec(&r, org, "events.create", "{s:s,s:s,s:s,s:s,s:s}", "title", "after",
                         "format", "in_person", "start_local", "2026-03-29T03:00", "end_local",
                         "2026-03-29T04:00", "timezone", "Europe/Berlin"));
    ck_assert_str_eq(S(r, "start"), "2026-03-29T01:00:00Z");
    ck_assert_str_eq(S(r, "start_local"), "2026-03-29T03:00:00");
    json_decref(r);
    /* 02:30 on 2027-03-14 exists in Berlin but not in New York (spring forward there):
     * moving the event by changing its zone is refused too. */
    json_int_t id = mk_event(org, "moved", "2027-03-14T02:30", "2027-03-14T04:00", 10, 1);
    ck_assert_int_eq(fx_exec(NULL, org, "events.update", "{s:I,s:s}", "event_id", id, "timezone",
                             "America/New_York"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "start_local");
    /* Falls back on 2026-10-25 at 03:00 -> 02:00: 02:30 happens twice; the first
     * (CEST, 00:30Z) is meant. The end at 03:30 CET is 02:30Z: a 2-hour event. */
    ck_assert_ok(fx_exec(&r, org, "events.create", "{s:s,s:s,s:s,s:s,s:s}", "title", "overlap",
                         "format", "in_person", "start_local", "2026-10-25T02:30", "end_local",
                         "2026-10-25T03:30", "timezone", "Europe/Berlin"));
    ck_assert_str_eq(S(r, "start"), "2026-10-25T00:30:00Z");
    ck_assert_str_eq(S(r, "start_local"), "2026-10-25T02:30:00");
    ck_assert_str_eq(S(r, "end"), "2026-10-25T02:30:00Z");
    json_decref(r);
    /* Southern hemisphere (DST in January), whole-day event crossing midnight */
    ck_assert_ok(fx_exec(&r, org, "events.create", "{s:s,s:s,s:s,s:s,s:s}", "title", "syd",
                         "format", "in_person", "start_local", "2026-01-10T22:00", "end_local",
                         "2026-01-11T02:00", "timezone", "Australia/Sydney"));
    ck_assert_str_eq(S(r, "start"), "2026-01-10T11:00:00Z"); /* AEDT = UTC+11 */
    ck_assert_str_eq(S(r, "end"), "2026-01-10T15:00:00Z");
    json_decref(r);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM events"), 4);
    cm_actor_free(org);
}
END_TEST

START_TEST(drafts_are_visible_to_organizers_and_staff_only)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *org2 = fx_member("org2@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    cm_actor *mod = fx_member("mod@example.org", "moderator");
    json_int_t id = mk_event(org, "Draft", "2026-05-01T18:00", "2026-05-01T19:00", 10, 0);
    json_t *r;
    ck_assert_int_eq(fx_exec(NULL, m, "events.get", "{s:I}", "event_id", id), CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "event_id");
    ck_assert_int_eq(fx_exec(NULL, NULL, "events.get", "{s:I}", "event_id", id), CM_ENOTFOUND);
    ck_assert_int_eq(fx_exec(NULL, org2, "events.get", "{s:I}", "event_id", id), CM_ENOTFOUND);
    /* hidden is hidden: not "permission denied" for edits either */
    ck_assert_int_eq(
        fx_exec(NULL, org2, "events.update", "{s:I,s:s}", "event_id", id, "title", "mine"),
        CM_ENOTFOUND);
    ck_assert_int_eq(fx_exec(NULL, org2, "events.publish", "{s:I}", "event_id", id), CM_ENOTFOUND);
    ck_assert_ok(fx_exec(&r, mod, "events.get", "{s:I}", "event_id", id));
    ck_assert_str_eq(S(r, "status"), "draft");
    json_decref(r);
    ck_assert_int_eq(fx_exec(NULL, m, "events.get", "{s:I}", "event_id", 999), CM_ENOTFOUND);
    /* published: everybody, even anonymous */
    ck_assert_ok(fx_exec(&r, org, "events.publish", "{s:I}", "event_id", id));
    ck_assert_str_eq(S(r, "status"), "published");
    ck_assert_int_eq(I(r, "version"), 2);
    json_decref(r);
    ck_assert_ok(fx_exec(&r, NULL, "events.get", "{s:I}", "event_id", id));
    ck_assert_str_eq(S(r, "title"), "Draft");
    ck_assert(json_is_false(json_object_get(r, "is_organizer")));
    json_decref(r);
    /* ... but only organizers and staff may change it */
    ck_assert_int_eq(
        fx_exec(NULL, org2, "events.update", "{s:I,s:s}", "event_id", id, "title", "mine"),
        CM_EPERM);
    ck_assert_str_eq(cm_error_field(), "event_id");
    ck_assert_int_eq(fx_exec(NULL, m, "events.cancel", "{s:I}", "event_id", id), CM_EPERM);
    ck_assert_int_eq(fx_exec(NULL, NULL, "events.cancel", "{s:I}", "event_id", id), CM_EAUTH);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM events WHERE title = 'Draft' AND "
                              "status = 'published'"),
                     1);
    cm_actor_free(org);
    cm_actor_free(org2);
    cm_actor_free(m);
    cm_actor_free(mod);
}
END_TEST

START_TEST(online_url_is_for_attendees_and_organizers)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    cm_actor *mod = fx_member("mod@example.org", "moderator");
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "events.create", "{s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "title",
                         "Webinar", "format", "online", "online_url", "https://meet.example/s",
                         "start_local", "2026-05-01T18:00", "end_local", "2026-05-01T19:00",
                         "timezone", "UTC", "publish", 1));
    json_int_t id = I(r, "id");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, NULL, "events.get", "{s:I}", "event_id", id));
    ck_assert_ptr_null(json_object_get(r, "online_url"));
    json_decref(r);
    ck_assert_ok(fx_exec(&r, m, "events.get", "{s:I}", "event_id", id));
    ck_assert_ptr_null(json_object_get(r, "online_url"));
    json_decref(r);
    ck_assert_ok(fx_exec(&r, m, "events.list", "{}"));
    ck_assert_ptr_null(
        json_object_get(json_array_get(json_object_get(r, "items"), 0), "online_url"));
    json_decref(r);
    ck_assert_ok(fx_exec(NULL, m, "rsvps.add", "{s:I}", "event_id", id));
    ck_assert_ok(fx_exec(&r, m, "events.get", "{s:I}", "event_id", id));
    ck_assert_str_eq(S(r, "online_url"), "https://meet.example/s");
    ck_assert_str_eq(S(r, "my_rsvp"), "going");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, mod, "events.get", "{s:I}", "event_id", id));
    ck_assert_str_eq(S(r, "online_url"), "https://meet.example/s");
    json_decref(r);
    /* not going any more: hidden again */
    ck_assert_ok(fx_exec(NULL, m, "rsvps.add", "{s:I,s:s}", "event_id", id, "status", "not_going"));
    ck_assert_ok(fx_exec(&r, m, "events.get", "{s:I}", "event_id", id));
    ck_assert_ptr_null(json_object_get(r, "online_url"));
    ck_assert_str_eq(S(r, "my_rsvp"), "not_going");
    json_decref(r);
    cm_actor_free(org);
    cm_actor_free(m);
    cm_actor_free(mod);
}
END_TEST

START_TEST(update_checks_version_permissions_and_values)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *mod = fx_member("mod@example.org", "moderator");
    json_int_t id = mk_event(org, "Old", "2026-05-01T18:00", "2026-05-01T20:00", 10, 1);
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "events.update", "{s:I,s:I,s:s,s:s}", "event_id", id, "version",
                         (json_int_t)1, "title", "New", "venue", "Hall"));
    ck_assert_str_eq(S(r, "title"), "New");
    ck_assert_str_eq(S(r, "venue"), "Hall");
    ck_assert_int_eq(I(r, "version"), 2);
    ck_assert_str_eq(S(r, "start"), "2026-05-01T16:00:00Z"); /* unchanged */
    json_decref(r);
    ck_assert_int_eq(count1("SELECT count(*) FROM audit_log WHERE op = 'events.update' AND "
                            "target_id = %lld",
                            id),
                     1);
    /* a stale version changes nothing */
    ck_assert_int_eq(fx_exec(NULL, org, "events.update", "{s:I,s:I,s:s}", "event_id", id, "version",
                             (json_int_t)1, "title", "Lost update"),
                     CM_ECONFLICT);
    ck_assert_str_eq(cm_error_field(), "version");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM events WHERE title = 'New' AND "
                              "version = 2"),
                     1);
    /* moving the time zone recomputes the instants from the same wall clock */
    ck_assert_ok(
        fx_exec(&r, mod, "events.update", "{s:I,s:s}", "event_id", id, "timezone", "Asia/Tokyo"));
    ck_assert_str_eq(S(r, "start"), "2026-05-01T09:00:00Z");
    ck_assert_str_eq(S(r, "start_local"), "2026-05-01T18:00:00");
    ck_assert_int_eq(I(r, "version"), 3);
    json_decref(r);
    ck_assert_ok(fx_exec(&r, org, "events.update", "{s:I,s:s}", "event_id", id, "end_local",
                         "2026-05-02T01:00"));
    ck_assert_str_eq(S(r, "end"), "2026-05-01T16:00:00Z");
    json_decref(r);
    /* bad values, each naming its field, each changing nothing */
    struct {
        const char *fmt_key, *value, *field;
        int code;
    } bad[] = {
        {"end_local", "2026-05-01T17:00", "end_local", CM_EINVAL},
        {"start_local", "2026-05-02T02:00", "end_local", CM_EINVAL},
        {"format", "online", "online_url", CM_EINVAL},
        {"timezone", "Nowhere/Land", "timezone", CM_EINVAL},
        {"title", "", "title", CM_EINVAL},
        {"online_url", "mailto:x@y.z", "online_url", CM_EINVAL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = fx_exec(NULL, org, "events.update", "{s:I,s:s}", "event_id", id, bad[i].fmt_key,
                         bad[i].value);
        ck_assert_msg(rc == bad[i].code, "case %zu: %s", i, cm_status_name(rc));
        ck_assert_msg(strcmp(cm_error_field(), bad[i].field) == 0, "case %zu: field %s", i,
                      cm_error_field());
    }
    ck_assert_int_eq(
        fx_exec(NULL, org, "events.update", "{s:I,s:i}", "event_id", id, "capacity", -5),
        CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "capacity");
    ck_assert_int_eq(fx_exec(NULL, org, "events.update", "{s:I,s:i}", "event_id", id, "version", 0),
                     CM_EINVAL);
    ck_assert_int_eq(fx_exec(NULL, org, "events.update", "{s:s}", "title", "x"), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "event_id");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM events WHERE version = 4 AND "
                              "format = 'in_person' AND timezone = 'Asia/Tokyo'"),
                     1);
    /* going online with a link works; capacity can't go below confirmed seats */
    ck_assert_ok(fx_exec(NULL, org, "events.update", "{s:I,s:s,s:s}", "event_id", id, "format",
                         "online", "online_url", "https://v.example"));
    cm_actor *a = fx_member("a@example.org", "member");
    ck_assert_ok(fx_exec(NULL, a, "rsvps.add", "{s:I,s:i}", "event_id", id, "guests", 2));
    ck_assert_int_eq(
        fx_exec(NULL, org, "events.update", "{s:I,s:i}", "event_id", id, "capacity", 2),
        CM_ECONSTRAINT);
    ck_assert_str_eq(cm_error_field(), "capacity");
    ck_assert_ok(fx_exec(&r, org, "events.update", "{s:I,s:i}", "event_id", id, "capacity", 3));
    ck_assert_int_eq(I(json_object_get(r, "counts"), "seats_left"), 0);
    json_decref(r);
    ck_assert_ok(fx_exec(&r, org, "events.update", "{s:I,s:n}", "event_id", id, "capacity"));
    ck_assert(json_is_null(json_object_get(r, "capacity")));
    json_decref(r);
    /* cancelled events are read-only */
    ck_assert_ok(fx_exec(NULL, org, "events.cancel", "{s:I}", "event_id", id));
    ck_assert_int_eq(
        fx_exec(NULL, org, "events.update", "{s:I,s:s}", "event_id", id, "title", "Back"),
        CM_ECONSTRAINT);
    ck_assert_int_eq(fx_exec(NULL, org, "events.publish", "{s:I}", "event_id", id), CM_ECONSTRAINT);
    cm_actor_free(a);
    cm_actor_free(org);
    cm_actor_free(mod);
}
END_TEST

START_TEST(cancel_keeps_the_event_readable_and_notifies_attendees)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *b = fx_member("b@example.org", "member");
    cm_actor *c = fx_member("c@example.org", "member");
    json_int_t id = mk_event(org, "Soon", "2026-05-01T18:00", "2026-05-01T20:00", 1, 1);
    ck_assert_ok(fx_exec(NULL, a, "rsvps.add", "{s:I}", "event_id", id));
    ck_assert_ok(fx_exec(NULL, b, "rsvps.add", "{s:I}", "event_id", id)); /* waitlisted */
    ck_assert_ok(fx_exec(NULL, c, "rsvps.add", "{s:I,s:s}", "event_id", id, "status", "not_going"));
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "events.cancel", "{s:I}", "event_id", id));
    ck_assert_str_eq(S(r, "status"), "cancelled");
    ck_assert(json_is_string(json_object_get(r, "cancelled_at")));
    json_decref(r);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE template = "
                              "'event_cancelled'"),
                     2);
    /* idempotent, and no second round of e-mails */
    ck_assert_ok(fx_exec(NULL, org, "events.cancel", "{s:I}", "event_id", id));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox"), 2);
    ck_assert_ok(fx_exec(&r, b, "events.get", "{s:I}", "event_id", id));
    ck_assert_str_eq(S(r, "status"), "cancelled");
    json_decref(r);
    /* still listed while upcoming, marked cancelled */
    ck_assert_ok(fx_exec(&r, NULL, "events.list", "{}"));
    ck_assert_str_eq(S(json_array_get(json_object_get(r, "items"), 0), "status"), "cancelled");
    json_decref(r);
    /* no new RSVPs */
    ck_assert_int_eq(fx_exec(NULL, c, "rsvps.add", "{s:I}", "event_id", id), CM_ECONSTRAINT);
    ck_assert_str_eq(cm_error_field(), "event_id");
    cm_actor_free(org);
    cm_actor_free(a);
    cm_actor_free(b);
    cm_actor_free(c);
}
END_TEST

START_TEST(co_organizers)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *co = fx_member("co@example.org", "member");
    cm_actor *x = fx_member("x@example.org", "member");
    json_int_t id = mk_event(org, "Draft", "2026-05-01T18:00", "2026-05-01T20:00", -1, 0);
    json_t *r;
    ck_assert_int_eq(fx_exec(NULL, co, "events.add_organizer", "{s:I,s:I}", "event_id", id,
                             "member_id", id_of(co)),
                     CM_ENOTFOUND);
    ck_assert_int_eq(fx_exec(NULL, org, "events.add_organizer", "{s:I,s:I}", "event_id", id,
                             "member_id", (json_int_t)999),
                     CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "member_id");
    ck_assert_ok(fx_exec(&r, org, "events.add_organizer", "{s:I,s:I}", "event_id", id, "member_id",
                         id_of(co)));
    ck_assert_int_eq(json_array_size(json_object_get(r, "organizers")), 2);
    json_decref(r);
    /* adding twice is harmless */
    ck_assert_ok(fx_exec(NULL, org, "events.add_organizer", "{s:I,s:I}", "event_id", id,
                         "member_id", id_of(co)));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM event_organizers"), 2);
    /* a plain member who co-organizes sees the draft, edits and publishes it */
    ck_assert_ok(fx_exec(&r, co, "events.update", "{s:I,s:s}", "event_id", id, "title", "By co"));
    ck_assert(json_is_true(json_object_get(r, "is_organizer")));
    json_decref(r);
    ck_assert_ok(fx_exec(NULL, co, "events.publish", "{s:I}", "event_id", id));
    ck_assert_int_eq(fx_exec(NULL, x, "events.add_organizer", "{s:I,s:I}", "event_id", id,
                             "member_id", id_of(x)),
                     CM_EPERM);
    ck_assert_ok(fx_exec(&r, co, "events.remove_organizer", "{s:I,s:I}", "event_id", id,
                         "member_id", id_of(org)));
    ck_assert_int_eq(json_array_size(json_object_get(r, "organizers")), 1);
    json_decref(r);
    ck_assert_int_eq(fx_exec(NULL, co, "events.remove_organizer", "{s:I,s:I}", "event_id", id,
                             "member_id", id_of(co)),
                     CM_ECONSTRAINT);
    ck_assert_str_eq(cm_error_field(), "member_id");
    ck_assert_int_eq(fx_exec(NULL, co, "events.remove_organizer", "{s:I,s:I}", "event_id", id,
                             "member_id", id_of(x)),
                     CM_ENOTFOUND);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM event_organizers"), 1);
    /* the former organizer lost the right to edit */
    ck_assert_int_eq(
        fx_exec(NULL, org, "events.update", "{s:I,s:s}", "event_id", id, "title", "Mine again"),
        CM_EPERM);
    cm_actor_free(org);
    cm_actor_free(co);
    cm_actor_free(x);
}
END_TEST

/* Append the titles of a list result to buf, space-separated. */
static void add_titles(char *buf, size_t cap, json_t *r)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r, "items"), i, e)
    {
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%s%s", n ? " " : "", S(e, "title"));
    }
}

/* The titles of a list result, space-separated. */
static void titles(char *buf, size_t cap, json_t *r)
{
    buf[0] = 0;
    add_titles(buf, cap, r);
}

START_TEST(list_upcoming_sorted_filtered_and_paged)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *org2 = fx_member("org2@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    mk_event(org, "Past", "2025-12-01T18:00", "2025-12-01T19:00", -1, 1);
    mk_event(org, "C", "2026-03-01T18:00", "2026-03-01T19:00", -1, 1);
    mk_event(org, "A", "2026-02-01T18:00", "2026-02-01T19:00", -1, 1);
    mk_event(org2, "B_100%", "2026-02-15T18:00", "2026-02-15T19:00", -1, 1);
    mk_event(org, "E same time", "2026-04-01T18:00", "2026-04-01T19:00", -1, 1);
    mk_event(org, "D same time", "2026-04-01T18:00", "2026-04-01T19:00", -1, 1);
    mk_event(org, "Draft", "2026-02-02T18:00", "2026-02-02T19:00", -1, 0);
    mk_event(org2, "Draft2", "2026-02-03T18:00", "2026-02-03T19:00", -1, 0);
    /* an event in progress (started, not ended) still counts as upcoming */
    fx_clock_set(T0 + 31LL * 24 * HOUR + 17 * HOUR + 30 * 60000000LL); /* Feb 1 17:30Z */
    json_t *r;
    char buf[512];
    ck_assert_ok(fx_exec(&r, m, "events.list", "{}"));
    titles(buf, sizeof buf, r);
    ck_assert_str_eq(buf, "A B_100% C E same time D same time");
    ck_assert(json_is_null(json_object_get(r, "next_cursor")));
    json_decref(r);
    fx_clock_set(T0);
    /* pages of 2 cover the same list exactly once */
    char all[512] = "";
    const char *cursor = NULL;
    char cur[64];
    int pages = 0;
    do {
        if (cursor)
            ck_assert_ok(
                fx_exec(&r, NULL, "events.list", "{s:i,s:s}", "limit", 2, "cursor", cursor));
        else
            ck_assert_ok(fx_exec(&r, NULL, "events.list", "{s:i}", "limit", 2));
        add_titles(all, sizeof all, r);
        json_t *nc = json_object_get(r, "next_cursor");
        cursor = NULL;
        if (json_is_string(nc)) {
            snprintf(cur, sizeof cur, "%s", json_string_value(nc));
            cursor = cur;
        }
        json_decref(r);
        pages++;
    } while (cursor && pages < 10);
    ck_assert_str_eq(all, "A B_100% C E same time D same time");
    ck_assert_int_eq(pages, 3);
    /* filters */
    ck_assert_ok(fx_exec(&r, m, "events.list", "{s:s}", "q", "same"));
    titles(buf, sizeof buf, r);
    ck_assert_str_eq(buf, "E same time D same time");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, m, "events.list", "{s:s}", "q", "b_100%")); /* % is literal */
    titles(buf, sizeof buf, r);
    ck_assert_str_eq(buf, "B_100%");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, m, "events.list", "{s:s}", "q", "0%"));
    titles(buf, sizeof buf, r);
    ck_assert_str_eq(buf, "B_100%");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, m, "events.list", "{s:s}", "q", "_"));
    titles(buf, sizeof buf, r);
    ck_assert_str_eq(buf, "B_100%");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, m, "events.list", "{s:I}", "organizer_id", id_of(org2)));
    titles(buf, sizeof buf, r);
    ck_assert_str_eq(buf, "B_100%");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, m, "events.list", "{s:s,s:s}", "from", "2026-02-10T00:00:00Z", "to",
                         "2026-03-02T00:00:00+01:00"));
    titles(buf, sizeof buf, r);
    ck_assert_str_eq(buf, "B_100% C");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, m, "events.list", "{s:s}", "from", "2025-01-01T00:00:00Z"));
    titles(buf, sizeof buf, r);
    ck_assert_str_eq(buf, "Past A B_100% C E same time D same time");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, m, "events.list", "{s:s}", "format", "online"));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 0);
    json_decref(r);
    /* drafts: only your own, only when asked */
    ck_assert_ok(fx_exec(&r, org, "events.list", "{s:b}", "include_drafts", 1));
    titles(buf, sizeof buf, r);
    ck_assert_str_eq(buf, "A Draft B_100% C E same time D same time");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, m, "events.list", "{s:b}", "include_drafts", 1));
    titles(buf, sizeof buf, r);
    ck_assert_str_eq(buf, "A B_100% C E same time D same time");
    json_decref(r);
    /* bad inputs */
    ck_assert_int_eq(fx_exec(NULL, m, "events.list", "{s:s}", "cursor", "bogus"), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "cursor");
    ck_assert_int_eq(fx_exec(NULL, m, "events.list", "{s:i}", "limit", 0), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "limit");
    ck_assert_int_eq(fx_exec(NULL, m, "events.list", "{s:i}", "limit", 101), CM_EINVAL);
    ck_assert_int_eq(fx_exec(NULL, m, "events.list", "{s:s}", "from", "2026-02-10"), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "from");
    ck_assert_int_eq(fx_exec(NULL, m, "events.list", "{s:s}", "format", "any"), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "format");
    cm_actor_free(org);
    cm_actor_free(org2);
    cm_actor_free(m);
}
END_TEST

START_TEST(private_group_events_are_for_group_members)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *in = fx_member("in@example.org", "member");
    cm_actor *out = fx_member("out@example.org", "member");
    cm_actor *pending = fx_member("pending@example.org", "member");
    cm_actor *org2 = fx_member("org2@example.org", "organizer");
    cm_actor *mod = fx_member("mod@example.org", "moderator");
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO groups (id, slug, name, kind, join_policy, visibility, created_by, "
             "created_at, updated_at) VALUES (1, 'sec', 'Secret', 'interest', 'invite', "
             "'private', %lld, 0, 0), (2, 'pub', 'Public', 'chapter', 'open', 'public', %lld, "
             "0, 0);"
             "INSERT INTO group_members (group_id, member_id, role, status, created_at, "
             "updated_at) VALUES (1, %lld, 'owner', 'active', 0, 0), "
             "(1, %lld, 'member', 'active', 0, 0), (1, %lld, 'member', 'pending', 0, 0), "
             "(2, %lld, 'owner', 'active', 0, 0);",
             (long long)id_of(org), (long long)id_of(org), (long long)id_of(org),
             (long long)id_of(in), (long long)id_of(pending), (long long)id_of(org));
    fx_sql(sql); /* groups are another module's business: the tests only need rows */
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "events.create", "{s:s,s:s,s:s,s:s,s:s,s:I,s:b}", "title",
                         "Secret meetup", "format", "in_person", "start_local", "2026-05-01T18:00",
                         "end_local", "2026-05-01T19:00", "timezone", "UTC", "group_id",
                         (json_int_t)1, "publish", 1));
    json_int_t id = I(r, "id");
    ck_assert_int_eq(I(r, "group_id"), 1);
    json_decref(r);
    mk_event(org, "Open meetup", "2026-05-02T18:00", "2026-05-02T19:00", -1, 1);
    /* members see it; outsiders, pending members and anonymous do not */
    ck_assert_ok(fx_exec(NULL, in, "events.get", "{s:I}", "event_id", id));
    ck_assert_ok(fx_exec(NULL, mod, "events.get", "{s:I}", "event_id", id));
    ck_assert_int_eq(fx_exec(NULL, out, "events.get", "{s:I}", "event_id", id), CM_ENOTFOUND);
    ck_assert_int_eq(fx_exec(NULL, pending, "events.get", "{s:I}", "event_id", id), CM_ENOTFOUND);
    ck_assert_int_eq(fx_exec(NULL, NULL, "events.get", "{s:I}", "event_id", id), CM_ENOTFOUND);
    ck_assert_int_eq(fx_exec(NULL, out, "rsvps.add", "{s:I}", "event_id", id), CM_ENOTFOUND);
    ck_assert_ok(fx_exec(NULL, in, "rsvps.add", "{s:I}", "event_id", id));
    char buf[256];
    ck_assert_ok(fx_exec(&r, out, "events.list", "{}"));
    titles(buf, sizeof buf, r);
    ck_assert_str_eq(buf, "Open meetup");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, out, "events.list", "{s:I}", "group_id", (json_int_t)1));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 0);
    json_decref(r);
    ck_assert_ok(fx_exec(&r, in, "events.list", "{}"));
    titles(buf, sizeof buf, r);
    ck_assert_str_eq(buf, "Secret meetup Open meetup");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, mod, "events.list", "{s:I}", "group_id", (json_int_t)1));
    titles(buf, sizeof buf, r);
    ck_assert_str_eq(buf, "Secret meetup");
    json_decref(r);
    /* creating in a group: hidden private group -> not found; public group but not a
     * member -> permission denied */
    ck_assert_int_eq(fx_exec(NULL, org2, "events.create", "{s:s,s:s,s:s,s:s,s:s,s:I}", "title", "x",
                             "format", "in_person", "start_local", "2026-05-01T18:00", "end_local",
                             "2026-05-01T19:00", "timezone", "UTC", "group_id", (json_int_t)1),
                     CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "group_id");
    ck_assert_int_eq(fx_exec(NULL, org2, "events.create", "{s:s,s:s,s:s,s:s,s:s,s:I}", "title", "x",
                             "format", "in_person", "start_local", "2026-05-01T18:00", "end_local",
                             "2026-05-01T19:00", "timezone", "UTC", "group_id", (json_int_t)2),
                     CM_EPERM);
    ck_assert_str_eq(cm_error_field(), "group_id");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM events"), 2);
    cm_actor_free(org);
    cm_actor_free(in);
    cm_actor_free(out);
    cm_actor_free(pending);
    cm_actor_free(org2);
    cm_actor_free(mod);
}
END_TEST

START_TEST(ops_are_described)
{
    char *doc = NULL;
    ck_assert_ok(cm_ops_describe(&doc));
    const char *names[] = {
        "events.create", "events.update", "events.publish",       "events.cancel",
        "events.get",    "events.list",   "events.add_organizer", "events.remove_organizer"};
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
    Suite *s = suite_create("event");
    TCase *tc = tcase_create("events");
    tcase_add_checked_fixture(tc, setup, fx_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, create_happy_path);
    tcase_add_test(tc, create_needs_the_organizer_role);
    tcase_add_test(tc, bad_create_input_is_rejected_and_changes_nothing);
    tcase_add_test(tc, dst_gap_is_refused_and_overlap_takes_the_first);
    tcase_add_test(tc, drafts_are_visible_to_organizers_and_staff_only);
    tcase_add_test(tc, online_url_is_for_attendees_and_organizers);
    tcase_add_test(tc, update_checks_version_permissions_and_values);
    tcase_add_test(tc, cancel_keeps_the_event_readable_and_notifies_attendees);
    tcase_add_test(tc, co_organizers);
    tcase_add_test(tc, list_upcoming_sorted_filtered_and_paged);
    tcase_add_test(tc, private_group_events_are_for_group_members);
    tcase_add_test(tc, ops_are_described);
    suite_add_tcase(s, tc);
    return fx_run(s);
}
