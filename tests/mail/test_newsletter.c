/*
 * test_newsletter.c - newsletters and mail preferences end to end: composed
 * through the operations, their delivery rows written by the platform's
 * fill jobs (a real scheduler), sent by cm_mailer to a real SMTP server
 * (tests/fixtures/smtp_sink.py) and read back. Audiences (subscribers, a group, an
 * event, a membership tier), pause / resume / cancel, progress, opt-outs (signed one-click
 * links and preferences), bad input. Runs on SQLite, and on PostgreSQL as
 * pg-mail_newsletter.
 */
#include "fixtures.h"
#include "fx_sink.h"

#include <community/mail.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SEC INT64_C(1000000)

static fx_sink S;
static cm_mailer *M;
static cm_actor *ORG, *ADMIN;

static void setup(void)
{
    fx_setup();
    fx_sink_start(&S, NULL);
    char uri[128];
    fx_sink_uri(uri, sizeof uri, &S, "/?timeout_ms=5000");
    cm_mailer_options o = CM_MAILER_OPTIONS_INIT;
    o.smtp_uri = uri;
    o.from = "Night Owls <news@owls.example>";
    o.public_url = "https://owls.example/";
    o.api_url = "https://api.owls.example";
    o.site_name = "Night Owls";
    o.lease_ms = 20000;
    o.batch = 50;
    ck_assert_ok(cm_mailer_open(&M, FX.store, &o));
    ORG = fx_member("org@example.com", "organizer");
    ADMIN = fx_member("admin@example.com", "admin");
}

static void teardown(void)
{
    cm_mailer_close(M);
    M = NULL;
    cm_actor_free(ORG);
    cm_actor_free(ADMIN);
    fx_sink_stop(&S);
    fx_teardown();
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Run the platform's jobs until no newsletter fill job is live. */
static void fill(void)
{
    cm_scheduler_options so = CM_SCHEDULER_OPTIONS_INIT;
    so.poll_ms = 20;
    so.heartbeat_ms = 200;
    so.flags = CM_SCHEDULER_PLATFORM_JOBS;
    cm_scheduler *s;
    ck_assert_ok(cm_scheduler_open(&s, FX.store, &so));
    ck_assert_ok(cm_scheduler_start(s));
    for (int i = 0; i < 3000 && fx_count("SELECT count(*) FROM jobs WHERE kind = "
                                         "'platform.newsletter_fill' AND state IN "
                                         "('delayed', 'queued', 'running')") > 0;
         i++)
        sleep_ms(10);
    ck_assert_ok(cm_scheduler_stop(s, 10 * SEC));
    cm_scheduler_close(s, NULL, NULL);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs WHERE kind = "
                              "'platform.newsletter_fill' AND state IN ('queued', 'running')"),
                     0);
}

static uint32_t deliver(uint32_t max)
{
    uint32_t sent = 0;
    ck_assert_ok(cm_mailer_run(&sent, M, max));
    return sent;
}

static const char *hdr1(json_t *j, const char *name)
{
    return json_string_value(
        json_array_get(json_object_get(json_object_get(j, "headers"), name), 0));
}

static const char *body(json_t *j, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(j, "parts"), i), "body"));
}

/* A member who opted in to newsletters (signed in, through the op). */
static cm_actor *subscriber(const char *email)
{
    cm_actor *a = fx_member(email, "member");
    ck_assert_ok(fx_exec(NULL, a, "mail.preferences_set", "{s:b}", "newsletters", 1));
    return a;
}

/* n members bulk1..bulkn@example.com, opted in, through SQL. */
static void bulk_subscribers(int n)
{
    char sql[800];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
             "INSERT INTO members (email, email_norm, name, created_at, updated_at) "
             "SELECT 'bulk' || i || '@example.com', 'bulk' || i || '@example.com', "
             "'Bulk ' || i, 0, 0 FROM n",
             n);
    fx_sql(sql);
    fx_sql("INSERT INTO mail_prefs (member_id, category, subscribed, updated_at) "
           "SELECT id, 'newsletters', 1, 0 FROM members WHERE email LIKE 'bulk%'");
}

static json_int_t compose(const cm_actor *a, const char *subject, const char *md,
                          const char *audience, const char *idfield, json_int_t id)
{
    json_t *in = json_pack("{s:s,s:s,s:s}", "subject", subject, "body", md, "audience", audience);
    if (idfield)
        json_object_set_new(in, idfield, json_integer(id));
    json_t *r = NULL;
    int rc = fx_exec_obj(&r, a, "newsletters.create", in);
    ck_assert_msg(rc == 0, "newsletters.create: %s (%s)", cm_error_message(), cm_error_field());
    ck_assert_str_eq(fx_str(r, "status"), "draft");
    json_int_t nid = fx_int(r, "id");
    json_decref(r);
    return nid;
}

/* newsletters.<verb> as ORG; returns the result's status. */
static const char *act(const char *verb, json_int_t id)
{
    static char status[32];
    char op[64];
    snprintf(op, sizeof op, "newsletters.%s", verb);
    json_t *r = NULL;
    int rc = fx_exec(&r, ORG, op, "{s:I}", "newsletter_id", id);
    ck_assert_msg(rc == 0, "%s: %s", op, cm_error_message());
    snprintf(status, sizeof status, "%s", fx_str(r, "status"));
    json_decref(r);
    return status;
}

/* progress.<k> of newsletter id. */
static long long progress(json_int_t id, const char *k)
{
    json_t *r = NULL;
    ck_assert_ok(fx_exec(&r, ORG, "newsletters.get", "{s:I}", "newsletter_id", id));
    json_t *v_ = json_object_get(json_object_get(r, "progress"), k);
    long long v = json_is_boolean(v_) ? json_is_true(v_) : json_integer_value(v_);
    json_decref(r);
    return v;
}

static const char *status_of(json_int_t id)
{
    static char st[32];
    json_t *r = NULL;
    ck_assert_ok(fx_exec(&r, ORG, "newsletters.get", "{s:I}", "newsletter_id", id));
    snprintf(st, sizeof st, "%s", fx_str(r, "status"));
    json_decref(r);
    return st;
}

START_TEST(subscribers_get_it_once_with_safe_html_and_one_click)
{
    cm_actor *a = subscriber("ana@example.com"), *b = subscriber("bo@example.com");
    cm_actor *c = fx_member("cy@example.com", "member"); /* never opted in */
    cm_actor *d = subscriber("di@example.com");
    fx_sql("UPDATE members SET status = 'suspended' WHERE email = 'di@example.com'");
    json_int_t id = compose(ORG, "News from the Owls — été",
                            "# Hello\n\n**Bold** news & more <script>alert(1)</script>\n\n"
                            "[ok](https://owls.example/x) [bad](javascript:alert(1))\n",
                            "subscribers", NULL, 0);
    ck_assert_str_eq(act("send", id), "sending");
    fill();
    ck_assert_int_eq(progress(id, "queued"), 2);
    ck_assert_int_eq(progress(id, "pending"), 2);
    ck_assert(progress(id, "audience_done"));
    ck_assert_uint_eq(deliver(0), 2);
    ck_assert_uint_eq(deliver(0), 0);
    ck_assert_str_eq(status_of(id), "sent");
    ck_assert_int_eq(progress(id, "sent"), 2);
    json_t *all = fx_sink_messages(&S);
    ck_assert_uint_eq(json_array_size(all), 2);
    json_t *m = json_array_get(all, 0);
    ck_assert_str_eq(hdr1(m, "subject"), "News from the Owls — été");
    ck_assert_str_eq(hdr1(m, "precedence"), "bulk");
    const char *lu = hdr1(m, "list-unsubscribe");
    ck_assert_msg(lu && strstr(lu, "<https://api.owls.example/v1/mail/unsubscribe/"), "%s",
                  lu ? lu : "(none)");
    ck_assert_str_eq(hdr1(m, "list-unsubscribe-post"), "List-Unsubscribe=One-Click");
    const char *text = body(m, 0), *html = body(m, 1);
    ck_assert(strstr(text, "**Bold** news"));
    ck_assert(strstr(text, "https://owls.example/preferences?token="));
    ck_assert_msg(strstr(html, "<h1>Hello</h1>") && strstr(html, "<strong>Bold</strong>"), "%s",
                  html);
    ck_assert_msg(!strstr(html, "<script") && !strstr(html, "javascript:"), "%s", html);
    ck_assert(strstr(html, "&amp; more"));
    ck_assert(strstr(html, "<a href=\"https://owls.example/x\">ok</a>"));
    /* the one-click link turns newsletters off, without signing in */
    char token[200];
    ck_assert(sscanf(lu, " <https://api.owls.example/v1/mail/unsubscribe/%199[^>]>", token) == 1);
    json_t *r = NULL;
    ck_assert_ok(fx_exec(&r, NULL, "mail.unsubscribe", "{s:s}", "token", token));
    ck_assert_str_eq(fx_str(r, "category"), "newsletters");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, NULL, "mail.preferences_get", "{s:s}", "token", token));
    json_t *p = json_object_get(r, "preferences");
    ck_assert(json_is_false(json_object_get(p, "newsletters")));
    ck_assert(json_is_true(json_object_get(p, "event_reminders")));
    json_decref(r);
    json_decref(all);
    cm_actor_free(a);
    cm_actor_free(b);
    cm_actor_free(c);
    cm_actor_free(d);
}
END_TEST

START_TEST(group_and_event_audiences)
{
    cm_actor *m1 = fx_member("m1@example.com", "member"),
             *m2 = fx_member("m2@example.com", "member");
    cm_actor *m3 = fx_member("m3@example.com", "member");
    json_t *r = NULL;
    ck_assert_ok(fx_exec(&r, ORG, "groups.create", "{s:s,s:s,s:s,s:s,s:s}", "slug", "owls", "name",
                         "Owls", "kind", "chapter", "join_policy", "open", "visibility", "public"));
    json_int_t gid = fx_int(r, "id");
    json_decref(r);
    ck_assert_ok(fx_exec(NULL, m1, "groups.join", "{s:I}", "group_id", gid));
    ck_assert_ok(fx_exec(NULL, m2, "groups.join", "{s:I}", "group_id", gid));
    /* m2 turned newsletters off: the row is written, and suppressed */
    ck_assert_ok(fx_exec(NULL, m2, "mail.preferences_set", "{s:b}", "newsletters", 0));
    json_int_t g = compose(ORG, "Group news", "Hi *group*", "group", "group_id", gid);
    ck_assert_str_eq(act("send", g), "sending");
    json_t *in =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "title", "Owl walk", "format", "online",
                  "online_url", "https://meet.example/x", "start_local", "2031-05-01T18:00",
                  "end_local", "2031-05-01T20:00", "timezone", "UTC", "publish", 1);
    ck_assert_ok(fx_exec_obj(&r, ORG, "events.create", in));
    json_int_t eid = fx_int(r, "id");
    json_decref(r);
    ck_assert_ok(fx_exec(NULL, m3, "rsvps.add", "{s:I,s:i}", "event_id", eid, "guests", 0));
    json_int_t e = compose(ORG, "Event news", "See you", "event", "event_id", eid);
    ck_assert_str_eq(act("send", e), "sending");
    fill();
    deliver(0);
    /* the group's owner (ORG) and m1 get the group's; m2 is suppressed */
    ck_assert_int_eq(progress(g, "queued"), 3);
    ck_assert_int_eq(progress(g, "sent"), 2);
    ck_assert_int_eq(progress(g, "suppressed"), 1);
    ck_assert_int_eq(progress(e, "sent"), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE to_addr = 'm2@example.com' "
                              "AND status = 'suppressed' AND last_error = 'unsubscribed from "
                              "newsletters'"),
                     1);
    json_t *env = fx_sink_envelopes(&S);
    ck_assert_uint_eq(json_array_size(env), 3);
    json_decref(env);
    /* who may write to whom */
    ck_assert_int_eq(fx_exec(NULL, m1, "newsletters.create", "{s:s,s:s,s:s}", "subject", "x",
                             "body", "y", "audience", "subscribers"),
                     CM_EPERM);
    cm_actor *org2 = fx_member("org2@example.com", "organizer");
    ck_assert_int_eq(fx_exec(NULL, org2, "newsletters.create", "{s:s,s:s,s:s,s:I}", "subject", "x",
                             "body", "y", "audience", "group", "group_id", gid),
                     CM_EPERM);
    ck_assert_int_eq(fx_exec(NULL, org2, "newsletters.create", "{s:s,s:s,s:s,s:I}", "subject", "x",
                             "body", "y", "audience", "event", "event_id", eid),
                     CM_EPERM);
    ck_assert_int_eq(fx_exec(NULL, org2, "newsletters.get", "{s:I}", "newsletter_id", g),
                     CM_ENOTFOUND);
    ck_assert_ok(fx_exec(NULL, ADMIN, "newsletters.get", "{s:I}", "newsletter_id", g));
    ck_assert_ok(fx_exec(&r, ORG, "newsletters.list", "{}"));
    ck_assert_uint_eq(json_array_size(json_object_get(r, "items")), 2);
    json_decref(r);
    cm_actor_free(org2);
    cm_actor_free(m1);
    cm_actor_free(m2);
    cm_actor_free(m3);
}
END_TEST

START_TEST(pause_resume_cancel)
{
    bulk_subscribers(1200); /* more than one fill batch (500) */
    json_int_t id = compose(ORG, "Big news", "Body", "subscribers", NULL, 0);
    /* scheduled in the future: nothing is written yet; pausing holds it */
    json_t *r = NULL;
    ck_assert_ok(fx_exec(&r, ORG, "newsletters.send", "{s:I,s:s}", "newsletter_id", id, "send_at",
                         "2099-01-01T00:00:00Z"));
    ck_assert_str_eq(fx_str(r, "status"), "scheduled");
    json_decref(r);
    ck_assert_str_eq(act("pause", id), "paused");
    ck_assert_str_eq(act("resume", id), "scheduled");
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.send", "{s:I}", "newsletter_id", id),
                     CM_ECONFLICT);
    /* start it now (moving its time), then write every row */
    ck_assert_ok(fx_exec(&r, ORG, "newsletters.update", "{s:I,s:s}", "newsletter_id", id, "send_at",
                         "2000-01-01T00:00:00Z"));
    json_decref(r);
    fill();
    ck_assert_str_eq(status_of(id), "sending");
    ck_assert_int_eq(progress(id, "queued"), 1200);
    ck_assert(progress(id, "audience_done"));
    ck_assert_uint_eq(deliver(100), 100);
    /* paused: nothing more leaves */
    ck_assert_str_eq(act("pause", id), "paused");
    ck_assert_uint_eq(deliver(0), 0);
    ck_assert_int_eq(progress(id, "pending"), 1100);
    /* resumed: it goes on */
    ck_assert_str_eq(act("resume", id), "sending");
    ck_assert_uint_eq(deliver(100), 100);
    ck_assert_int_eq(progress(id, "sent"), 200);
    /* cancelled: the rest is dropped */
    ck_assert_str_eq(act("cancel", id), "cancelled");
    ck_assert_uint_eq(deliver(0), 0);
    ck_assert_int_eq(progress(id, "cancelled"), 1000);
    ck_assert_int_eq(progress(id, "pending"), 0);
    ck_assert_int_eq(progress(id, "sent"), 200);
    ck_assert_uint_eq(fx_sink_count(&S), 200);
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.resume", "{s:I}", "newsletter_id", id),
                     CM_ECONFLICT);
    /* every recipient at most once */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM (SELECT member_id FROM email_outbox WHERE "
                              "newsletter_id IS NOT NULL GROUP BY member_id HAVING count(*) > 1) "
                              "d"),
                     0);
}
END_TEST

#define LIVE_FILL_JOBS                                                                             \
    "SELECT count(*) FROM jobs WHERE kind = 'platform.newsletter_fill' AND state IN "              \
    "('delayed', 'queued', 'running')"

START_TEST(scheduled_send_at_moves_until_it_starts)
{
    bulk_subscribers(3);
    json_int_t id = compose(ORG, "Draft subject", "Body", "subscribers", NULL, 0);
    json_t *r = NULL;
    /* a draft has no time yet: newsletters.send gives it */
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.update", "{s:I,s:s}", "newsletter_id", id,
                             "send_at", "2098-06-01T00:00:00Z"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "send_at");
    ck_assert_ok(fx_exec(&r, ORG, "newsletters.send", "{s:I,s:s}", "newsletter_id", id, "send_at",
                         "2099-01-01T00:00:00Z"));
    json_decref(r);
    /* earlier: one job waits, for the new time; the subject changes too */
    ck_assert_ok(fx_exec(&r, ORG, "newsletters.update", "{s:I,s:s,s:s}", "newsletter_id", id,
                         "send_at", "2098-06-01T00:00:00Z", "subject", "Final subject"));
    ck_assert_str_eq(fx_str(r, "status"), "scheduled");
    ck_assert_str_eq(fx_str(r, "send_at"), "2098-06-01T00:00:00Z");
    json_decref(r);
    ck_assert_int_eq(fx_count(LIVE_FILL_JOBS), 1);
    ck_assert_int_eq(fx_count(LIVE_FILL_JOBS " AND run_at = 4052419200000000"), 1);
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.update", "{s:I,s:s}", "newsletter_id", id,
                             "send_at", "tomorrow"),
                     CM_EINVAL);
    /* now (a time in the past): it starts at once, once */
    ck_assert_ok(fx_exec(&r, ORG, "newsletters.update", "{s:I,s:s}", "newsletter_id", id, "send_at",
                         "2001-01-01T00:00:00Z"));
    json_decref(r);
    ck_assert_int_eq(fx_count(LIVE_FILL_JOBS), 1);
    fill();
    ck_assert_str_eq(status_of(id), "sending");
    ck_assert_int_eq(progress(id, "queued"), 3);
    ck_assert_uint_eq(deliver(0), 3);
    json_t *msgs = fx_sink_messages(&S);
    ck_assert_uint_eq(json_array_size(msgs), 3);
    ck_assert_str_eq(hdr1(json_array_get(msgs, 0), "subject"), "Final subject");
    json_decref(msgs);
    /* started: its time and content are settled */
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.update", "{s:I,s:s}", "newsletter_id", id,
                             "send_at", "2099-01-01T00:00:00Z"),
                     CM_ECONFLICT);
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.update", "{s:I,s:s}", "newsletter_id", id,
                             "subject", "Too late"),
                     CM_ECONFLICT);
    ck_assert_str_eq(status_of(id), "sent");

    /* A start job whose time was changed while it waited does nothing,
     * even when a scheduler runs it anyway. */
    json_int_t id2 = compose(ORG, "Second", "Body", "subscribers", NULL, 0);
    ck_assert_ok(fx_exec(&r, ORG, "newsletters.send", "{s:I,s:s}", "newsletter_id", id2, "send_at",
                         "2099-01-01T00:00:00Z"));
    json_decref(r);
    fx_sql("UPDATE newsletters SET send_at = 4052419200000000 WHERE status = 'scheduled'");
    fx_sql("UPDATE jobs SET run_at = 0, state = 'queued' WHERE kind = 'platform.newsletter_fill' "
           "AND state = 'delayed'");
    fill();
    ck_assert_str_eq(status_of(id2), "scheduled");
    ck_assert_int_eq(progress(id2, "queued"), 0);
}
END_TEST

START_TEST(pausing_while_writing_rows)
{
    bulk_subscribers(1100);
    json_int_t id = compose(ORG, "News", "Body", "subscribers", NULL, 0);
    ck_assert_str_eq(act("send", id), "sending");
    ck_assert_str_eq(act("pause", id), "paused"); /* before the first batch */
    fill();
    ck_assert_int_eq(progress(id, "queued"), 0);
    ck_assert_str_eq(act("resume", id), "sending");
    fill();
    ck_assert_int_eq(progress(id, "queued"), 1100);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE newsletter_id IS NOT NULL"),
                     1100);
}
END_TEST

/* ---- a newsletter cancelled while one of its rows is being sent ---- */

static void *deliver_thread(void *arg)
{
    uint32_t *sent = arg;
    ck_assert_ok(cm_mailer_run(sent, M, 0));
    return NULL;
}

/* Wait (up to 60 s) until the sink holds a message (DIR/held). */
static void wait_held(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/held", S.dir);
    for (int i = 0; i < 6000 && access(path, F_OK) != 0; i++)
        sleep_ms(10);
    ck_assert_msg(access(path, F_OK) == 0, "the SMTP server never got the held message");
}

static void release_held(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/release", S.dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
}

START_TEST(cancelled_while_sending_ends_final)
{
    /* Two subscribers; the server holds the message to hold4 until the
     * newsletter is cancelled, then refuses it for now (451). */
    cm_actor *a = subscriber("amy@example.com"), *h = subscriber("hold4@example.com");
    json_int_t id = compose(ORG, "News", "Body", "subscribers", NULL, 0);
    ck_assert_str_eq(act("send", id), "sending");
    fill();
    ck_assert_int_eq(progress(id, "queued"), 2);
    uint32_t sent = 0;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, deliver_thread, &sent), 0);
    wait_held();
    ck_assert_str_eq(act("cancel", id), "cancelled");
    release_held();
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_uint_eq(sent, 1); /* amy's, claimed before the cancel */
    /* the refused row is not left pending: it is dropped like the pending
     * rows the cancel dropped, and counted with them */
    ck_assert_int_eq(progress(id, "pending"), 0);
    ck_assert_int_eq(progress(id, "sending"), 0);
    ck_assert_int_eq(progress(id, "sent"), 1);
    ck_assert_int_eq(progress(id, "cancelled"), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE status IN ('pending', "
                              "'sending')"),
                     0);
    ck_assert_str_eq(status_of(id), "cancelled");

    /* A row whose worker died while sending it (a lapsed lease), of a
     * newsletter cancelled since, is dropped when claimed again, not sent. */
    json_int_t id2 = compose(ORG, "More news", "Body", "subscribers", NULL, 0);
    ck_assert_str_eq(act("send", id2), "sending");
    fill();
    ck_assert_int_eq(progress(id2, "queued"), 2);
    fx_sql("UPDATE email_outbox SET status = 'sending', lease_until = 1, attempts = 1, "
           "lease_token = lease_token + 1 WHERE newsletter_id IS NOT NULL AND status = 'pending' "
           "AND to_addr = 'amy@example.com'");
    ck_assert_str_eq(act("cancel", id2), "cancelled");
    ck_assert_int_eq(progress(id2, "cancelled"), 1); /* hold4's pending row */
    ck_assert_uint_eq(deliver(0), 0);
    ck_assert_int_eq(progress(id2, "sending"), 0);
    ck_assert_int_eq(progress(id2, "cancelled"), 2);
    ck_assert_uint_eq(fx_sink_count(&S), 1);
    cm_actor_free(a);
    cm_actor_free(h);
}
END_TEST

START_TEST(bad_input_is_refused_clearly)
{
    int rc = fx_exec(NULL, ORG, "newsletters.create", "{s:s,s:s,s:s}", "subject",
                     "Hi\r\nBcc: all@example.com", "body", "x", "audience", "subscribers");
    ck_assert_int_eq(rc, CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "subject");
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.create", "{s:s,s:s,s:s}", "subject", "a\nb",
                             "body", "x", "audience", "subscribers"),
                     CM_EINVAL);
    /* oversize body */
    size_t big = 200001;
    char *md = malloc(big + 1);
    memset(md, 'a', big);
    md[big] = 0;
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.create", "{s:s,s:s,s:s}", "subject", "x",
                             "body", md, "audience", "subscribers"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "body");
    /* pathological Markdown renders, it does not crash or hang */
    size_t n = 100000;
    for (size_t i = 0; i < n; i++)
        md[i] = "[>*_`<\\"[i % 7]; /* unbalanced brackets, quotes, emphasis */
    md[n] = 0;
    json_int_t id = compose(ORG, "Odd", md, "subscribers", NULL, 0);
    memset(md, '>', 50000); /* 50000 nested block quotes: the HTML would be over 1 MiB */
    md[50000] = 0;
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.create", "{s:s,s:s,s:s}", "subject", "x",
                             "body", md, "audience", "subscribers"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "body");
    md[20000] = 0; /* 20000 of them render */
    json_int_t id2 = compose(ORG, "Deep", md, "subscribers", NULL, 0);
    free(md);
    ck_assert_int_gt(id2, id);
    /* audience and state rules */
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.create", "{s:s,s:s,s:s}", "subject", "x",
                             "body", "y", "audience", "group"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "group_id");
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.create", "{s:s,s:s,s:s,s:I}", "subject", "x",
                             "body", "y", "audience", "subscribers", "group_id", 1),
                     CM_EINVAL);
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.create", "{s:s,s:s,s:s,s:I}", "subject", "x",
                             "body", "y", "audience", "event", "event_id", 999),
                     CM_ENOTFOUND);
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.pause", "{s:I}", "newsletter_id", id),
                     CM_ECONFLICT);
    json_t *r = NULL;
    ck_assert_ok(fx_exec(&r, ORG, "newsletters.update", "{s:I,s:s}", "newsletter_id", id, "subject",
                         "Better"));
    ck_assert_str_eq(fx_str(r, "subject"), "Better");
    json_decref(r);
    ck_assert_str_eq(act("send", id), "sending");
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.update", "{s:I,s:s}", "newsletter_id", id,
                             "subject", "Late"),
                     CM_ECONFLICT);
    /* tokens: malformed, tampered, for another category */
    static const char *const bad[] = {"x",
                                      "1.newsletters.",
                                      "abc.newsletters.AAAA",
                                      "99999999999999999999.newsletters.AAAA",
                                      "1.nope.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                      NULL};
    for (const char *const *t = bad; *t; t++) {
        ck_assert_int_eq(fx_exec(NULL, NULL, "mail.unsubscribe", "{s:s}", "token", *t), CM_EINVAL);
        ck_assert_str_eq(cm_error_field(), "token");
    }
    /* no member, no token: sign in first */
    ck_assert_int_eq(fx_exec(NULL, NULL, "mail.preferences_get", "{}"), CM_EAUTH);
}
END_TEST

START_TEST(tampered_tokens_are_refused)
{
    cm_actor *a = subscriber("ana@example.com");
    json_int_t id = compose(ORG, "One", "Body", "subscribers", NULL, 0);
    act("send", id);
    fill();
    ck_assert_uint_eq(deliver(0), 1);
    json_t *all = fx_sink_messages(&S);
    const char *lu = hdr1(json_array_get(all, 0), "list-unsubscribe");
    char token[200];
    ck_assert_msg(sscanf(lu, " <https://api.owls.example/v1/mail/unsubscribe/%199[^>]>", token) ==
                      1,
                  "%s", lu);
    json_decref(all);
    /* the same signature for another member or category does not verify */
    char other[260];
    const char *mac = strrchr(token, '.');
    snprintf(other, sizeof other, "%lld.newsletters%s", (long long)fx_id_of(ORG), mac);
    ck_assert_int_eq(fx_exec(NULL, NULL, "mail.unsubscribe", "{s:s}", "token", other), CM_EINVAL);
    snprintf(other, sizeof other, "%lld.event_reminders%s", (long long)fx_id_of(a), mac);
    ck_assert_int_eq(fx_exec(NULL, NULL, "mail.unsubscribe", "{s:s}", "token", other), CM_EINVAL);
    /* the token sets every category of its member */
    json_t *r = NULL;
    ck_assert_ok(fx_exec(&r, NULL, "mail.preferences_set", "{s:s,s:b,s:b}", "token", token,
                         "event_reminders", 0, "newsletters", 1));
    ck_assert(json_is_false(json_object_get(json_object_get(r, "preferences"), "event_reminders")));
    ck_assert_str_eq(fx_str(r, "email"), "ana@example.com");
    json_decref(r);
    cm_actor_free(a);
}
END_TEST

START_TEST(reminders_honour_the_category)
{
    cm_actor *a = fx_member("ana@example.com", "member");
    ck_assert_ok(fx_exec(NULL, a, "mail.preferences_set", "{s:b}", "waitlist_news", 0));
    char sql[400];
    snprintf(sql, sizeof sql,
             "INSERT INTO email_outbox (member_id, to_addr, template, payload, created_at) "
             "VALUES (%lld, 'ana@example.com', 'waitlist_promoted', '{\"event_id\":1}', 0)",
             (long long)fx_id_of(a));
    fx_sql(sql);
    ck_assert_uint_eq(deliver(0), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE status = 'suppressed' AND "
                              "last_error = 'unsubscribed from waitlist_news'"),
                     1);
    ck_assert_uint_eq(fx_sink_count(&S), 0);
    cm_actor_free(a);
}
END_TEST

/* ---- a membership tier as the audience ---- */

/* A member (opted in to newsletters unless optin is false) with a
 * subscription to tier in state status; past_due_since: seconds ago. */
static cm_actor *tier_member(const char *email, bool optin, json_int_t tier, const char *status,
                             long long past_due_ago_s)
{
    cm_actor *a = optin ? subscriber(email) : fx_member(email, "member");
    char sql[600], pds[40] = "NULL";
    if (past_due_ago_s)
        snprintf(pds, sizeof pds, "%lld", (long long)time(NULL) * SEC - past_due_ago_s * SEC);
    snprintf(sql, sizeof sql,
             "INSERT INTO subscriptions (member_id, tier_id, billing_interval, status, reference, "
             "past_due_since, created_at, updated_at) VALUES (%lld, %lld, 'month', '%s', "
             "'ref-%s', %s, 1, 1)",
             (long long)fx_id_of(a), (long long)tier, status, email, pds);
    fx_sql(sql);
    return a;
}

static json_int_t make_tier(const char *slug)
{
    json_t *r = NULL;
    ck_assert_ok(
        fx_exec(&r, ADMIN, "memberships.create_tier", "{s:s,s:s}", "slug", slug, "name", slug));
    json_int_t id = fx_int(r, "id");
    json_decref(r);
    return id;
}

START_TEST(tier_audience_is_members_in_good_standing_who_opted_in)
{
    json_int_t gold = make_tier("gold"), silver = make_tier("silver");
    /* the grace period is 3 days by default */
    cm_actor *ms[] = {
        tier_member("active@example.com", true, gold, "active", 0),
        tier_member("trial@example.com", true, gold, "trialing", 0),
        tier_member("grace@example.com", true, gold, "past_due", 86400),
        tier_member("late@example.com", true, gold, "past_due", 4 * 86400),
        tier_member("canceled@example.com", true, gold, "canceled", 0),
        tier_member("unpaid@example.com", true, gold, "unpaid", 0),
        tier_member("incomplete@example.com", true, gold, "incomplete", 0),
        tier_member("never@example.com", false, gold, "active", 0),
        tier_member("off@example.com", true, gold, "active", 0),
        tier_member("silver@example.com", true, silver, "active", 0),
    };
    ck_assert_ok(fx_exec(NULL, ms[8], "mail.preferences_set", "{s:b}", "newsletters", 0));
    cm_actor *plain = subscriber("plain@example.com"); /* opted in, no tier */
    json_t *r = NULL;
    ck_assert_ok(fx_exec(&r, ORG, "newsletters.create", "{s:s,s:s,s:s,s:I}", "subject",
                         "For gold members", "body", "Gold *only*", "audience", "tier", "tier_id",
                         gold));
    ck_assert_str_eq(fx_str(r, "audience"), "tier");
    ck_assert_int_eq(fx_int(r, "tier_id"), gold);
    ck_assert(json_is_null(json_object_get(r, "group_id")));
    json_int_t id = fx_int(r, "id");
    json_decref(r);
    ck_assert_str_eq(act("send", id), "sending");
    fill();
    ck_assert(progress(id, "audience_done"));
    ck_assert_int_eq(progress(id, "queued"), 3);
    ck_assert_uint_eq(deliver(0), 3);
    ck_assert_str_eq(status_of(id), "sent");
    json_t *env = fx_sink_envelopes(&S);
    ck_assert_uint_eq(json_array_size(env), 3);
    json_decref(env);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE newsletter_id IS NOT NULL "
                              "AND status = 'sent' AND to_addr IN ('active@example.com', "
                              "'trial@example.com', 'grace@example.com')"),
                     3);
    /* standing is read when the rows are written: the member whose grace
     * ran out since gets the next one, no more */
    char sql[300];
    snprintf(sql, sizeof sql,
             "UPDATE subscriptions SET past_due_since = %lld WHERE reference = "
             "'ref-grace@example.com'",
             (long long)time(NULL) * SEC - 5 * 86400 * SEC);
    fx_sql(sql);
    json_int_t id2 = compose(ORG, "Second", "Body", "tier", "tier_id", gold);
    act("send", id2);
    fill();
    ck_assert_int_eq(progress(id2, "queued"), 2);
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        cm_actor_free(ms[i]);
    cm_actor_free(plain);
}
END_TEST

START_TEST(tier_audience_input_is_checked)
{
    json_int_t gold = make_tier("gold");
    /* an unknown tier */
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.create", "{s:s,s:s,s:s,s:I}", "subject", "x",
                             "body", "y", "audience", "tier", "tier_id", gold + 1000),
                     CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "tier_id");
    /* tier_id is needed, and only with the tier audience */
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.create", "{s:s,s:s,s:s}", "subject", "x",
                             "body", "y", "audience", "tier"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "tier_id");
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.create", "{s:s,s:s,s:s,s:I}", "subject", "x",
                             "body", "y", "audience", "subscribers", "tier_id", gold),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "tier_id");
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.create", "{s:s,s:s,s:s,s:I,s:I}", "subject",
                             "x", "body", "y", "audience", "tier", "tier_id", gold, "group_id", 1),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "group_id");
    /* organizers and admins only */
    cm_actor *m = fx_member("m@example.com", "member");
    ck_assert_int_eq(fx_exec(NULL, m, "newsletters.create", "{s:s,s:s,s:s,s:I}", "subject", "x",
                             "body", "y", "audience", "tier", "tier_id", gold),
                     CM_EPERM);
    cm_actor_free(m);
    /* a draft moves to a tier and back; the tier is kept when other fields
     * change */
    json_int_t id = compose(ORG, "Draft", "Body", "subscribers", NULL, 0);
    json_t *r = NULL;
    ck_assert_ok(fx_exec(&r, ORG, "newsletters.update", "{s:I,s:s,s:I}", "newsletter_id", id,
                         "audience", "tier", "tier_id", gold));
    json_decref(r);
    ck_assert_ok(fx_exec(&r, ORG, "newsletters.update", "{s:I,s:s}", "newsletter_id", id, "subject",
                         "Renamed"));
    ck_assert_str_eq(fx_str(r, "audience"), "tier");
    ck_assert_int_eq(fx_int(r, "tier_id"), gold);
    json_decref(r);
    ck_assert_int_eq(fx_exec(NULL, ORG, "newsletters.update", "{s:I,s:I}", "newsletter_id", id,
                             "tier_id", gold + 1000),
                     CM_ENOTFOUND);
    ck_assert_ok(fx_exec(&r, ADMIN, "newsletters.update", "{s:I,s:s}", "newsletter_id", id,
                         "audience", "subscribers"));
    ck_assert(json_is_null(json_object_get(r, "tier_id")));
    json_decref(r);
    /* the database refuses an audience it does not know */
    ck_assert_int_eq(fx_try_sql("UPDATE newsletters SET audience = 'everyone'"), CM_ECONSTRAINT);
}
END_TEST

/* Migration 0016 widens the audience CHECK; run again on a database with
 * newsletters and their delivery rows, it keeps both (SQLite rebuilds the
 * table under the foreign key of email_outbox). */
/* Run the backend's migration 0016 file (CM_TEST_SRC: the source tree) in one
 * transaction, with SQLite's foreign keys on as the store runs them. */
static void apply_migration_0016(void)
{
    const char *src = getenv("CM_TEST_SRC");
    ck_assert_msg(src != NULL, "CM_TEST_SRC is not set");
    char path[1024];
    snprintf(path, sizeof path, "%s/lib/store/%s/migrations/0016_newsletter_tier.sql", src,
             fx_is_pg() ? "pg" : "sqlite");
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: cannot open", path);
    static char sql[64 * 1024];
    const char *head = fx_is_pg() ? "BEGIN;\n" : "PRAGMA foreign_keys = ON; BEGIN;\n";
    size_t n = strlen(head);
    memcpy(sql, head, n);
    n += fread(sql + n, 1, sizeof sql - n - 16, f);
    ck_assert_int_eq(ferror(f), 0);
    ck_assert_msg(feof(f), "%s: larger than the buffer", path);
    fclose(f);
    memcpy(sql + n, "\nCOMMIT;", sizeof "\nCOMMIT;");
    fx_sql(sql);
}

START_TEST(migration_0016_keeps_newsletters_and_their_rows)
{
    cm_actor *a = subscriber("ana@example.com"), *b = subscriber("bo@example.com");
    json_int_t id = compose(ORG, "Kept", "Body", "subscribers", NULL, 0);
    act("send", id);
    fill();
    ck_assert_uint_eq(deliver(1), 1);
    cm_mailer_close(M);
    M = NULL;
    cm_store_close(FX.store);
    FX.store = NULL;
    /* Migration 0016's own SQL, run again over the newsletter and its rows
     * (later migrations are applied too, so the migrator would not re-run it). */
    apply_migration_0016();
    ck_assert_ok(cm_store_open(&FX.store, FX.uri, NULL));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox o JOIN newsletters n ON "
                              "n.id = o.newsletter_id WHERE n.subject = 'Kept'"),
                     2);
    ck_assert_int_eq(progress(id, "sent"), 1);
    ck_assert_int_eq(progress(id, "pending"), 1);
    if (!fx_is_pg()) {
        ck_assert_int_eq(fx_count("SELECT count(*) FROM pragma_foreign_key_check"), 0);
        ck_assert_int_eq(fx_count("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                                  "name = 'newsletters_created'"),
                         1);
    }
    /* the foreign key still holds */
    const char *fk = fx_is_pg() ? "" : "PRAGMA foreign_keys = ON; ";
    char sql[200];
    snprintf(sql, sizeof sql,
             "%sUPDATE email_outbox SET newsletter_id = 999999 WHERE newsletter_id IS NOT NULL",
             fk);
    ck_assert_int_eq(fx_try_sql(sql), CM_ECONSTRAINT);
    json_int_t gold = make_tier("gold");
    json_int_t t = compose(ORG, "Tiered", "Body", "tier", "tier_id", gold);
    ck_assert_int_gt(t, id);
    cm_actor_free(a);
    cm_actor_free(b);
}
END_TEST

/* ---- tier access of kind newsletter: the archive ---- */

static int reads(const cm_actor *a, json_int_t id)
{
    return fx_exec(NULL, a, "newsletters.read", "{s:I}", "newsletter_id", id);
}

static size_t archive_size(const cm_actor *a)
{
    json_t *r = NULL;
    ck_assert_ok(fx_exec(&r, a, "newsletters.archive", "{}"));
    size_t n = json_array_size(json_object_get(r, "items"));
    json_decref(r);
    return n;
}

static void access_change(const char *op, json_int_t tier, json_int_t id)
{
    ck_assert_ok(fx_exec(NULL, ADMIN, op, "{s:I,s:s,s:I}", "tier_id", tier, "kind", "newsletter",
                         "target_id", id));
}

START_TEST(a_tier_unlocks_a_newsletter_in_the_archive)
{
    json_int_t gold = make_tier("gold"), silver = make_tier("silver");
    cm_actor *active = tier_member("active@example.com", false, gold, "active", 0);
    cm_actor *grace = tier_member("grace@example.com", false, gold, "past_due", 86400);
    cm_actor *late = tier_member("late@example.com", false, gold, "past_due", 4 * 86400);
    cm_actor *canceled = tier_member("canceled@example.com", false, gold, "canceled", 0);
    cm_actor *unpaid = tier_member("unpaid@example.com", false, gold, "unpaid", 0);
    cm_actor *other = tier_member("silver@example.com", false, silver, "active", 0);
    cm_actor *none = fx_member("none@example.com", "member");
    json_int_t id =
        compose(ORG, "Gold digest", "Hello *gold* <script>x</script>", "subscribers", NULL, 0);
    json_int_t open_one = compose(ORG, "For everyone", "Body", "subscribers", NULL, 0);
    access_change("memberships.grant_access", gold, id);
    /* not gone out yet: a draft is its author's (and admins') only */
    ck_assert_int_eq(reads(active, id), CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "newsletter_id");
    ck_assert_uint_eq(archive_size(active), 0);
    ck_assert_ok(reads(ORG, id));
    ck_assert_ok(reads(ADMIN, id));
    cm_actor *org2 = fx_member("org2@example.com", "organizer");
    ck_assert_int_eq(reads(org2, id), CM_ENOTFOUND);
    ck_assert_str_eq(act("send", id), "sending");
    ck_assert_str_eq(act("send", open_one), "sending");
    /* gone out: the members the tier grants read it, rendered safely */
    json_t *r = NULL;
    ck_assert_ok(fx_exec(&r, active, "newsletters.read", "{s:I}", "newsletter_id", id));
    ck_assert_str_eq(fx_str(r, "subject"), "Gold digest");
    ck_assert_msg(strstr(fx_str(r, "html"), "<em>gold</em>") &&
                      !strstr(fx_str(r, "html"), "<script"),
                  "%s", fx_str(r, "html"));
    json_decref(r);
    ck_assert_ok(reads(grace, id));
    /* past the grace period, canceled, unpaid, another tier, no tier: no */
    ck_assert_int_eq(reads(late, id), CM_ENOTFOUND);
    ck_assert_int_eq(reads(canceled, id), CM_ENOTFOUND);
    ck_assert_int_eq(reads(unpaid, id), CM_ENOTFOUND);
    ck_assert_int_eq(reads(other, id), CM_ENOTFOUND);
    ck_assert_int_eq(reads(none, id), CM_ENOTFOUND);
    ck_assert_int_eq(fx_exec(NULL, NULL, "newsletters.read", "{s:I}", "newsletter_id", id),
                     CM_EAUTH);
    /* a newsletter no tier unlocks is not in the archive */
    ck_assert_int_eq(reads(active, open_one), CM_ENOTFOUND);
    ck_assert_ok(fx_exec(&r, active, "newsletters.archive", "{}"));
    json_t *items = json_object_get(r, "items");
    ck_assert_uint_eq(json_array_size(items), 1);
    ck_assert_int_eq(fx_int(json_array_get(items, 0), "id"), id);
    ck_assert_str_eq(fx_str(json_array_get(items, 0), "subject"), "Gold digest");
    json_decref(r);
    ck_assert_uint_eq(archive_size(grace), 1);
    ck_assert_uint_eq(archive_size(late), 0);
    ck_assert_uint_eq(archive_size(canceled), 0);
    ck_assert_uint_eq(archive_size(other), 0);
    /* two tiers unlocking the same newsletter list it once; pages */
    access_change("memberships.grant_access", silver, id);
    access_change("memberships.grant_access", silver, open_one);
    fx_sql("INSERT INTO subscriptions (member_id, tier_id, billing_interval, status, reference, "
           "created_at, updated_at) SELECT member_id, (SELECT id FROM membership_tiers WHERE "
           "slug = 'silver'), 'month', 'active', 'ref-2', 1, 1 FROM subscriptions WHERE "
           "reference = 'ref-active@example.com'");
    ck_assert_uint_eq(archive_size(active), 2);
    ck_assert_ok(fx_exec(&r, active, "newsletters.archive", "{s:i}", "limit", 1));
    ck_assert_int_eq(fx_int(json_array_get(json_object_get(r, "items"), 0), "id"), open_one);
    const char *next = fx_str(r, "next_cursor");
    json_t *r2 = NULL;
    ck_assert_ok(
        fx_exec(&r2, active, "newsletters.archive", "{s:i,s:s}", "limit", 1, "cursor", next));
    ck_assert_int_eq(fx_int(json_array_get(json_object_get(r2, "items"), 0), "id"), id);
    ck_assert(json_is_null(json_object_get(r2, "next_cursor")));
    json_decref(r2);
    json_decref(r);
    /* the grant revoked, paused or cancelled: gone from the archive */
    access_change("memberships.revoke_access", gold, id);
    ck_assert_int_eq(reads(grace, id), CM_ENOTFOUND);
    ck_assert_ok(reads(active, id)); /* still through silver */
    ck_assert_str_eq(act("pause", id), "paused");
    ck_assert_int_eq(reads(active, id), CM_ENOTFOUND);
    ck_assert_uint_eq(archive_size(active), 1);
    ck_assert_str_eq(act("cancel", open_one), "cancelled");
    ck_assert_uint_eq(archive_size(active), 0);
    cm_actor *all[] = {active, grace, late, canceled, unpaid, other, none, org2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cm_actor_free(all[i]);
}
END_TEST

int main(void)
{
    fx_sink_require();
    Suite *su = suite_create("mail_newsletter");
    TCase *tc = tcase_create("newsletter");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, subscribers_get_it_once_with_safe_html_and_one_click);
    tcase_add_test(tc, group_and_event_audiences);
    tcase_add_test(tc, pause_resume_cancel);
    tcase_add_test(tc, scheduled_send_at_moves_until_it_starts);
    tcase_add_test(tc, pausing_while_writing_rows);
    tcase_add_test(tc, cancelled_while_sending_ends_final);
    tcase_add_test(tc, bad_input_is_refused_clearly);
    tcase_add_test(tc, tampered_tokens_are_refused);
    tcase_add_test(tc, reminders_honour_the_category);
    tcase_add_test(tc, tier_audience_is_members_in_good_standing_who_opted_in);
    tcase_add_test(tc, tier_audience_input_is_checked);
    tcase_add_test(tc, migration_0016_keeps_newsletters_and_their_rows);
    tcase_add_test(tc, a_tier_unlocks_a_newsletter_in_the_archive);
    suite_add_tcase(su, tc);
    return fx_run(su);
}
