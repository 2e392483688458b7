/*
 * test_deliver.c - cm_mailer: outbox rows delivered to a real SMTP server
 * (tests/fixtures/smtp_sink.py) exactly once, with their rendered content, retries with
 * backoff on 4xx, permanent failure on 5xx, rows that can never be sent,
 * lapsed leases taken over, the shared rate limit, and delivery through a
 * scheduler. Runs on SQLite, and on PostgreSQL as pg-mail_deliver.
 */
#include "fixtures.h"
#include "fx_sink.h"

#include <community/mail.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define T0 INT64_C(1767225600000000) /* 2026-01-01T00:00:00Z */
#define SEC INT64_C(1000000)

static fx_sink S;
static cm_mailer *M;

static void open_mailer(uint32_t rate, uint32_t max_attempts)
{
    char uri[128];
    fx_sink_uri(uri, sizeof uri, &S, "/?timeout_ms=5000");
    cm_mailer_options o = CM_MAILER_OPTIONS_INIT;
    o.smtp_uri = uri;
    o.from = "Night Owls <noreply@owls.example>";
    o.public_url = "https://owls.example/";
    o.site_name = "Night Owls";
    o.rate_per_s = rate;
    o.max_attempts = max_attempts;
    o.lease_ms = 20000;
    o.retry_ms = 1000;
    o.batch = 5;
    ck_assert_ok(cm_mailer_open(&M, FX.store, &o));
}

static void setup(void)
{
    fx_setup();
    fx_clock_set(T0);
    fx_sink_start(&S, NULL);
    open_mailer(0, 3);
}

static void teardown(void)
{
    cm_mailer_close(M);
    M = NULL;
    fx_sink_stop(&S);
    fx_clock_real();
    fx_teardown();
}

static uint32_t run(void)
{
    uint32_t sent = 99;
    ck_assert_ok(cm_mailer_run(&sent, M, 0));
    return sent;
}

static const char *hdr1(json_t *j, const char *name)
{
    return json_string_value(
        json_array_get(json_object_get(json_object_get(j, "headers"), name), 0));
}

static json_t *part(json_t *j, size_t i)
{
    return json_array_get(json_object_get(j, "parts"), i);
}

static const char *body(json_t *j, size_t i)
{
    return json_string_value(json_object_get(part(j, i), "body"));
}

static void outbox(const char *to, const char *tmpl, const char *payload)
{
    char sql[600];
    snprintf(sql, sizeof sql,
             "INSERT INTO email_outbox (to_addr, template, payload, created_at) "
             "VALUES ('%s', '%s', '%s', %lld)",
             to, tmpl, payload, (long long)T0);
    fx_sql(sql);
}

START_TEST(password_reset_is_sent_once)
{
    cm_actor_free(fx_member("ana@example.com", "member"));
    ck_assert_ok(
        fx_exec(NULL, NULL, "auth.password_reset_request", "{s:s}", "email", "ana@example.com"));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE status = 'pending'"), 1);
    ck_assert_uint_eq(run(), 1);
    ck_assert_uint_eq(run(), 0); /* nothing twice */
    json_t *all = fx_sink_messages(&S);
    ck_assert_uint_eq(json_array_size(all), 1);
    json_t *j = json_array_get(all, 0);
    ck_assert_str_eq(hdr1(j, "subject"), "Reset your Night Owls password");
    ck_assert_str_eq(hdr1(j, "from"), "Night Owls <noreply@owls.example>");
    ck_assert_str_eq(hdr1(j, "auto-submitted"), "auto-generated");
    json_t *env = json_object_get(j, "envelope");
    ck_assert_str_eq(json_string_value(json_object_get(env, "mail_from")), "noreply@owls.example");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(env, "rcpt_tos"), 0)),
                     "ana@example.com");
    /* the link carries the token that was issued (its hash is stored) */
    const char *text = body(j, 0);
    const char *link = strstr(text, "https://owls.example/reset-password?token=cmr_");
    ck_assert_msg(link != NULL, "%s", text);
    ck_assert(strstr(body(j, 1), "<a href=\"https://owls.example/reset-password?token=cmr_"));
    char token[128];
    ck_assert(sscanf(link, "https://owls.example/reset-password?token=%127[^\n]", token) == 1);
    ck_assert_ok(fx_exec(NULL, NULL, "auth.password_reset", "{s:s,s:s}", "token", token,
                         "new_password", "a new long password 42"));
    /* the row says what happened, and the Message-ID is the header's */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE status = 'sent' AND "
                              "smtp_code = 250 AND attempts = 1 AND sent_at IS NOT NULL AND "
                              "lease_until IS NULL"),
                     1);
    char want[300];
    snprintf(want, sizeof want, "<%s>", fx_text("SELECT message_id FROM email_outbox"));
    ck_assert_str_eq(hdr1(j, "message-id"), want);
    json_decref(all);
    char *st = NULL;
    ck_assert_ok(cm_mail_stats(&st, FX.store));
    ck_assert_str_eq(st, "{\"pending\":0,\"sending\":0,\"sent\":1,\"failed\":0,\"suppressed\":0}");
    cm_free(st);
}
END_TEST

/* An allocation that fails while rows are claimed fails the run with
 * CM_ENOMEM: it is not lost to the next row's step, which used to leave a
 * claimed row without its recipient or template (a NULL dereference when it
 * was rendered). Walks N = 1, 2, ... until the run succeeds. */
START_TEST(claiming_survives_allocation_failures)
{
    outbox("ana@example.com", "password_reset", "{\"token\":\"cmr_a\",\"name\":\"Ana\"}");
    outbox("bo@example.com", "password_reset", "{\"token\":\"cmr_b\",\"name\":\"Bo\"}");
    outbox("cy@example.com", "password_reset", "{\"token\":\"cmr_c\",\"name\":\"Cy\"}");
    for (long n = 1; n < 5000; n++) {
        uint32_t sent = 0;
        fx_alloc_arm(n);
        int rc = cm_mailer_run(&sent, M, 0);
        long injected = fx_alloc_disarm();
        if (rc == CM_OK && injected == 0)
            break;
        ck_assert_msg(rc == CM_OK || rc == CM_ENOMEM, "N=%ld: %s (%s)", n, cm_status_name(rc),
                      cm_error_message());
    }
}
END_TEST

START_TEST(event_cancellation_carries_a_calendar_cancel)
{
    cm_actor *org = fx_member("org@example.com", "organizer");
    cm_actor *zoe = fx_member("zoe@example.com", "member");
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "events.create", "{s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "title",
                         "Owls & <Friends>", "format", "in_person", "venue", "Hall 2, Lyon",
                         "start_local", "2026-05-01T18:00", "end_local", "2026-05-01T20:00",
                         "timezone", "Europe/Paris", "publish", 1));
    json_int_t ev = json_integer_value(json_object_get(json_object_get(r, "event"), "id"));
    if (!ev)
        ev = json_integer_value(json_object_get(r, "id"));
    json_decref(r);
    ck_assert_ok(fx_exec(NULL, zoe, "rsvps.add", "{s:I}", "event_id", ev));
    ck_assert_ok(fx_exec(NULL, org, "events.cancel", "{s:I}", "event_id", ev));
    cm_actor_free(org);
    cm_actor_free(zoe);
    ck_assert_uint_eq(run(), 1);
    json_t *all = fx_sink_messages(&S);
    json_t *j = json_array_get(all, 0);
    ck_assert_str_eq(hdr1(j, "subject"), "Cancelled: Owls & <Friends>");
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "multipart/mixed");
    ck_assert(strstr(body(j, 0), "Owls & <Friends>, planned on 2026-05-01 at 18:00 "
                                 "(Europe/Paris), has been cancelled."));
    ck_assert(strstr(body(j, 1), "<b>Owls &amp; &lt;Friends&gt;</b>")); /* escaped in HTML */
    json_t *cal = part(j, 2);
    ck_assert_str_eq(json_string_value(json_object_get(cal, "type")), "text/calendar");
    ck_assert_str_eq(json_string_value(json_object_get(cal, "method")), "CANCEL");
    const char *ics = json_string_value(json_object_get(cal, "body"));
    ck_assert(strstr(ics, "DTSTART:20260501T160000Z\n")); /* 18:00 in Paris, summer time */
    ck_assert(strstr(ics, "STATUS:CANCELLED\n"));
    ck_assert(strstr(ics, "LOCATION:Hall 2\\, Lyon\n"));
    json_t *to = json_array_get(json_object_get(j, "to"), 0);
    ck_assert_str_eq(json_string_value(json_array_get(to, 1)), "zoe@example.com");
    json_decref(all);
}
END_TEST

START_TEST(temporary_refusals_back_off_then_fail)
{
    outbox("reject4@example.com", "magic_link", "{\"token\":\"cml_x\"}");
    ck_assert_uint_eq(run(), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE status = 'pending' AND "
                              "attempts = 1 AND smtp_code = 451 AND last_error LIKE '%451%'"),
                     1);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM email_outbox WHERE next_attempt_at = %lld",
             (long long)(T0 + SEC)); /* retry_ms 1000 */
    ck_assert_int_eq(fx_count(sql), 1);
    ck_assert_uint_eq(run(), 0); /* not due yet: nothing tried */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE attempts = 1"), 1);
    fx_clock_advance(SEC);
    ck_assert_uint_eq(run(), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM email_outbox WHERE attempts = 2 AND "
             "next_attempt_at = %lld",
             (long long)(T0 + 3 * SEC)); /* doubled */
    ck_assert_int_eq(fx_count(sql), 1);
    fx_clock_advance(2 * SEC);
    ck_assert_uint_eq(run(), 0); /* third and last attempt */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE status = 'failed' AND "
                              "attempts = 3 AND smtp_code = 451"),
                     1);
    fx_clock_advance(3600 * SEC);
    ck_assert_uint_eq(run(), 0);
    ck_assert_uint_eq(fx_sink_count(&S), 0);
}
END_TEST

START_TEST(permanent_refusals_and_unsendable_rows_fail_at_once)
{
    outbox("reject5@example.com", "magic_link", "{\"token\":\"cml_a\"}");
    outbox("not an address", "magic_link", "{\"token\":\"cml_b\"}");
    outbox("ok@example.com", "no_such_template", "{}");
    outbox("ok@example.com", "magic_link", "{\"no_token\":1}");
    outbox("ok@example.com", "event_reminder_1h", "{\"event_id\":999}");
    outbox("good@example.com", "magic_link", "{\"token\":\"cml_c\"}");
    ck_assert_uint_eq(run(), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE status = 'failed' AND "
                              "attempts = 1"),
                     5);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE to_addr = "
                              "'reject5@example.com' AND smtp_code = 550"),
                     1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE to_addr = 'not an "
                              "address' AND last_error LIKE '%not a valid e-mail address%'"),
                     1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE last_error LIKE "
                              "'%no template named no_such_template%'"),
                     1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE last_error LIKE "
                              "'%event 999 not found%'"),
                     1);
    json_t *all = fx_sink_messages(&S);
    ck_assert_uint_eq(json_array_size(all), 1);
    ck_assert_str_eq(hdr1(json_array_get(all, 0), "to"), "good@example.com");
    json_decref(all);
    ck_assert_uint_eq(run(), 0);
}
END_TEST

START_TEST(lapsed_lease_is_taken_over_and_live_lease_is_not)
{
    outbox("a@example.com", "magic_link", "{\"token\":\"cml_1\"}");
    outbox("b@example.com", "magic_link", "{\"token\":\"cml_2\"}");
    char sql[300];
    /* a: its worker died (lease lapsed); b: another worker is sending it */
    snprintf(sql, sizeof sql,
             "UPDATE email_outbox SET status = 'sending', attempts = 1, lease_token = 7, "
             "lease_until = %lld WHERE to_addr = 'a@example.com'",
             (long long)(T0 - 1));
    fx_sql(sql);
    snprintf(sql, sizeof sql,
             "UPDATE email_outbox SET status = 'sending', attempts = 1, lease_token = 3, "
             "lease_until = %lld WHERE to_addr = 'b@example.com'",
             (long long)(T0 + 10 * SEC));
    fx_sql(sql);
    ck_assert_uint_eq(run(), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE to_addr = 'a@example.com' "
                              "AND status = 'sent' AND attempts = 2 AND lease_token = 8"),
                     1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE to_addr = 'b@example.com' "
                              "AND status = 'sending'"),
                     1);
    /* when b's lease lapses, b is sent too */
    fx_clock_advance(11 * SEC);
    ck_assert_uint_eq(run(), 1);
    ck_assert_uint_eq(fx_sink_count(&S), 2);
    /* a row claimed more often than max_attempts (a mail that keeps killing
     * its worker) fails without being sent again */
    outbox("c@example.com", "magic_link", "{\"token\":\"cml_3\"}");
    snprintf(sql, sizeof sql,
             "UPDATE email_outbox SET status = 'sending', attempts = 3, lease_until = %lld "
             "WHERE to_addr = 'c@example.com'",
             (long long)(T0));
    fx_sql(sql);
    ck_assert_uint_eq(run(), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE to_addr = 'c@example.com' "
                              "AND status = 'failed' AND last_error = 'gave up after 3 attempts'"),
                     1);
    ck_assert_uint_eq(fx_sink_count(&S), 2);
}
END_TEST

START_TEST(rate_limit_spaces_sends_across_mailers)
{
    cm_mailer_close(M);
    open_mailer(50, 3); /* 20 ms apart */
    cm_mailer *m2;
    char uri[128];
    fx_sink_uri(uri, sizeof uri, &S, NULL);
    cm_mailer_options o = CM_MAILER_OPTIONS_INIT;
    o.smtp_uri = uri;
    o.from = "noreply@owls.example";
    o.rate_per_s = 50;
    ck_assert_ok(cm_mailer_open(&m2, FX.store, &o));
    fx_clock_real();
    for (int i = 0; i < 12; i++) {
        char to[64];
        snprintf(to, sizeof to, "r%d@example.com", i);
        outbox(to, "magic_link", "{\"token\":\"cml_r\"}");
    }
    int64_t start = cm_now_us();
    uint32_t a = 0, b = 0;
    ck_assert_ok(cm_mailer_run(&a, M, 6));
    ck_assert_ok(cm_mailer_run(&b, m2, 0));
    ck_assert_uint_eq(a + b, 12);
    /* 12 reservations of 20 ms each from one shared slot counter: the next
     * free slot is at least 12 * 20 ms after the first one */
    long long tat = atoll(fx_text("SELECT tat FROM mail_rate WHERE name = 'smtp'"));
    ck_assert_int_ge(tat - start, 12 * 20000);
    cm_mailer_close(m2);
    ck_assert_uint_eq(fx_sink_count(&S), 12);
}
END_TEST

START_TEST(options_are_checked)
{
    cm_mailer *m = (cm_mailer *)1;
    cm_mailer_options o = CM_MAILER_OPTIONS_INIT;
    o.smtp_uri = "smtp://u:TopSecret@host/?bogus=1";
    o.from = "noreply@owls.example";
    ck_assert_int_eq(cm_mailer_open(&m, FX.store, &o), CM_EINVAL);
    ck_assert(m == NULL);
    ck_assert_str_eq(cm_error_field(), "smtp");
    ck_assert(strstr(cm_error_message(), "TopSecret") == NULL);
    o.smtp_uri = "smtp://host";
    o.from = "Eve <not an address>";
    ck_assert_int_eq(cm_mailer_open(&m, FX.store, &o), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "from");
    o.from = "noreply@owls.example";
    o.public_url = "ftp://x";
    ck_assert_int_eq(cm_mailer_open(&m, FX.store, &o), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "public_url");
    o.public_url = NULL;
    o.lease_ms = 5000; /* not above the 60 s SMTP timeout */
    ck_assert_int_eq(cm_mailer_open(&m, FX.store, &o), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "lease_ms");
    o.lease_ms = 0;
    o.batch = 501;
    ck_assert_int_eq(cm_mailer_open(&m, FX.store, &o), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "batch");
}
END_TEST

START_TEST(scheduler_delivers)
{
    fx_clock_real();
    cm_scheduler_options so = CM_SCHEDULER_OPTIONS_INIT;
    so.poll_ms = 20;
    so.heartbeat_ms = 200;
    cm_scheduler *s;
    ck_assert_ok(cm_scheduler_open(&s, FX.store, &so));
    ck_assert_ok(cm_mailer_attach(M, s));
    ck_assert_ok(cm_scheduler_start(s));
    for (int i = 0; i < 30; i++) {
        char to[64];
        snprintf(to, sizeof to, "s%d@example.com", i);
        outbox(to, "magic_link", "{\"token\":\"cml_s\"}");
    }
    for (int i = 0; i < 3000 && fx_count("SELECT count(*) FROM email_outbox WHERE status = "
                                         "'sent'") < 30;
         i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    ck_assert_ok(cm_scheduler_stop(s, 10 * SEC));
    cm_scheduler_close(s, NULL, NULL);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE status = 'sent'"), 30);
    ck_assert_uint_eq(fx_sink_count(&S), 30);
}
END_TEST

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fputs(text, f);
    fclose(f);
}

START_TEST(operator_templates_replace_parts)
{
    char dir[400], path[500], uri[128];
    snprintf(dir, sizeof dir, "%s/templates", FX.dir);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/magic_link.subject", dir);
    write_file(path, "Sign in to {{site}} now\n");
    snprintf(path, sizeof path, "%s/magic_link.html", dir);
    write_file(path, "<p>Hi {{name}}: <a href=\"{{link}}\">go</a></p>\n");
    fx_sink_uri(uri, sizeof uri, &S, NULL);
    cm_mailer_options o = CM_MAILER_OPTIONS_INIT;
    o.smtp_uri = uri;
    o.from = "noreply@owls.example";
    o.site_name = "Night <Owls>";
    o.templates_dir = dir;
    cm_mailer *m;
    ck_assert_ok(cm_mailer_open(&m, FX.store, &o));
    outbox("ana@example.com", "magic_link", "{\"token\":\"cml_z\"}");
    uint32_t sent = 0;
    ck_assert_ok(cm_mailer_run(&sent, m, 0));
    ck_assert_uint_eq(sent, 1);
    cm_mailer_close(m);
    json_t *all = fx_sink_messages(&S);
    json_t *j = json_array_get(all, 0);
    ck_assert_str_eq(hdr1(j, "subject"), "Sign in to Night <Owls> now");
    ck_assert_str_eq(body(j, 1), "<p>Hi there: <a href=\"http://localhost:3000/login/magic?"
                                 "token=cml_z\">go</a></p>\n");
    ck_assert(strstr(body(j, 0), "Open this link to sign in to Night <Owls>")); /* built-in */
    json_decref(all);
    /* a template that cannot render is refused when the mailer opens */
    snprintf(path, sizeof path, "%s/password_reset.txt", dir);
    write_file(path, "Hello {{nmae}}\n");
    ck_assert_int_eq(cm_mailer_open(&m, FX.store, &o), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "templates_dir");
    ck_assert_msg(strstr(cm_error_message(), "password_reset.txt") &&
                      strstr(cm_error_message(), "unknown variable nmae"),
                  "%s", cm_error_message());
    o.templates_dir = "/nonexistent/dir";
    ck_assert_int_eq(cm_mailer_open(&m, FX.store, &o), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "templates_dir");
}
END_TEST

/* The token a request returned to the system actor, or "" when none. */
static void request(char *token, size_t n, const char *op, const char *email)
{
    json_t *r = NULL;
    ck_assert_ok(fx_exec(&r, FX.sys, op, "{s:s}", "email", email));
    const char *t = json_string_value(json_object_get(r, "token"));
    snprintf(token, n, "%s", t ? t : "");
    json_decref(r);
}

START_TEST(token_mails_are_limited_and_superseded)
{
    cm_actor_free(fx_member("ana@example.com", "member"));
    char first[128], tok[128];
    request(first, sizeof first, "auth.magic_link_request", "ana@example.com");
    request(tok, sizeof tok, "auth.magic_link_request", "ana@example.com");
    ck_assert(first[0] && tok[0]);
    /* the newer link supersedes the older: its mail is not sent, it no
     * longer signs in */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE status = 'suppressed' "
                              "AND last_error = 'superseded by a newer link'"),
                     1);
    ck_assert_int_eq(fx_exec(NULL, NULL, "auth.magic_link_login", "{s:s}", "token", first),
                     CM_EAUTH);
    /* five per hour and kind: the sixth and seventh requests issue nothing */
    for (int i = 0; i < 3; i++)
        request(tok, sizeof tok, "auth.magic_link_request", "ana@example.com");
    ck_assert(tok[0]);
    char last[128];
    snprintf(last, sizeof last, "%s", tok);
    for (int i = 0; i < 2; i++) {
        request(tok, sizeof tok, "auth.magic_link_request", "ana@example.com");
        ck_assert_str_eq(tok, "");
    }
    ck_assert_int_eq(fx_count("SELECT count(*) FROM auth_tokens WHERE kind = 'magic_link'"), 5);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox"), 5);
    /* another kind has its own count */
    request(tok, sizeof tok, "auth.password_reset_request", "ana@example.com");
    ck_assert(tok[0]);
    /* one mail per kind goes out: the latest link */
    ck_assert_uint_eq(run(), 2);
    json_t *all = fx_sink_messages(&S);
    ck_assert_uint_eq(json_array_size(all), 2);
    int found = 0;
    for (size_t i = 0; i < 2; i++)
        found += strstr(body(json_array_get(all, i), 0), last) != NULL;
    ck_assert_int_eq(found, 1);
    json_decref(all);
    /* an hour later the count starts again */
    fx_clock_advance(3600 * SEC + 1);
    request(tok, sizeof tok, "auth.magic_link_request", "ana@example.com");
    ck_assert(tok[0]);
    ck_assert_ok(fx_exec(NULL, NULL, "auth.magic_link_login", "{s:s}", "token", tok));
    /* a suspended member is sent nothing */
    fx_sql("UPDATE members SET status = 'suspended'");
    long long before = fx_count("SELECT count(*) FROM email_outbox");
    request(tok, sizeof tok, "auth.password_reset_request", "ana@example.com");
    ck_assert_str_eq(tok, "");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox"), before);
}
END_TEST

int main(void)
{
    if (fx_alloc_install() != CM_OK)
        return EXIT_FAILURE;
    fx_sink_require();
    Suite *su = suite_create("mail_deliver");
    TCase *tc = tcase_create("deliver");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, password_reset_is_sent_once);
    tcase_add_test(tc, claiming_survives_allocation_failures);
    tcase_add_test(tc, event_cancellation_carries_a_calendar_cancel);
    tcase_add_test(tc, temporary_refusals_back_off_then_fail);
    tcase_add_test(tc, permanent_refusals_and_unsendable_rows_fail_at_once);
    tcase_add_test(tc, lapsed_lease_is_taken_over_and_live_lease_is_not);
    tcase_add_test(tc, rate_limit_spaces_sends_across_mailers);
    tcase_add_test(tc, options_are_checked);
    tcase_add_test(tc, scheduler_delivers);
    tcase_add_test(tc, token_mails_are_limited_and_superseded);
    tcase_add_test(tc, operator_templates_replace_parts);
    suite_add_tcase(su, tc);
    return fx_run(su);
}
