/*
 * test_ses.c - the Amazon SES v2 sender (ses://, lib/mail/ses.c) against a
 * local stand-in of the SendEmail API (tests/fixtures/ses_standin.py) that
 * verifies every request's SigV4 signature with botocore and answers as SES
 * does: accepted, throttled (429 TooManyRequestsException), refused for
 * good (400 MessageRejected), refused for now (SendingPausedException, 5xx),
 * bad credentials (403). Through the sender interface and through the
 * mailer, which uses it like the SMTP sender. Production talks to the real
 * SES; the stand-in checks what it would check of our requests.
 */
#include "fixtures.h"
#include "fx_sink.h"
#include "mail/mail.h"

#include <community/mail.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AK "AKIDEXAMPLESTANDIN"
#define SK "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static fx_sink S;

static void start(const char *token)
{
    const char *args[] = {"--access-key",
                          AK,
                          "--secret-key",
                          SK,
                          "--region",
                          "eu-west-1",
                          token ? "--session-token" : NULL,
                          token,
                          NULL};
    fx_server_start(&S, "ses_standin.py", args);
    setenv("AWS_ACCESS_KEY_ID", AK, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SK, 1);
    unsetenv("AWS_SESSION_TOKEN");
}

static void setup(void)
{
    fx_setup();
    start(NULL);
}

static void teardown(void)
{
    fx_sink_stop(&S);
    fx_teardown();
}

static char *uri(char *buf, size_t n, const char *more)
{
    snprintf(buf, n, "ses://eu-west-1/?endpoint=http://127.0.0.1:%d%s", S.port, more ? more : "");
    return buf;
}

/* A rendered message to `to`. */
static char *message(size_t *len, const char *to)
{
    cm__mail_msg *m = NULL;
    ck_assert_ok(cm__mail_msg_new(&m));
    ck_assert_ok(cm__mail_set_from(m, "news@owls.example", "Night Owls"));
    ck_assert_ok(cm__mail_add_to(m, to, "Réka"));
    ck_assert_ok(cm__mail_set_subject(m, "Hello from SES — été"));
    ck_assert_ok(cm__mail_set_text(m, "Plain text body.\n"));
    ck_assert_ok(cm__mail_set_html(m, "<p>HTML body</p>"));
    char *raw = NULL;
    ck_assert_ok(cm__mail_render(&raw, len, m));
    cm__mail_msg_free(m);
    return raw;
}

static int send_to(cm__mail_sender *s, const char *to, cm__mail_result *res)
{
    size_t len = 0;
    char *raw = message(&len, to);
    const char *rcpt[] = {to};
    int rc = cm__mail_send(s, "news@owls.example", rcpt, 1, raw, len, res);
    cm__free(raw);
    return rc;
}

/* The stand-in's request log: [{status, error, signature_ok, to}, ...]. */
static json_t *requests(void)
{
    char path[320];
    snprintf(path, sizeof path, "%s/requests.jsonl", S.dir);
    json_t *a = json_array();
    FILE *f = fopen(path, "r");
    char line[4096];
    while (f && fgets(line, sizeof line, f))
        json_array_append_new(a, json_loads(line, 0, NULL));
    if (f)
        fclose(f);
    return a;
}

/* How many requests got status (0: any) for recipient to (NULL: any). */
static size_t count(int status, const char *to)
{
    json_t *a = requests(), *r;
    size_t i, n = 0;
    json_array_foreach(a, i, r)
    {
        const char *t = json_string_value(json_array_get(json_object_get(r, "to"), 0));
        if ((!status || json_integer_value(json_object_get(r, "status")) == status) &&
            (!to || (t && strcmp(t, to) == 0)))
            n++;
    }
    json_decref(a);
    return n;
}

static size_t bad_signatures(void)
{
    json_t *a = requests(), *r;
    size_t i, n = 0;
    json_array_foreach(a, i, r) n += json_is_false(json_object_get(r, "signature_ok"));
    json_decref(a);
    return n;
}

START_TEST(sends_signed_raw_mime)
{
    char u[200];
    cm__mail_sender *s = NULL;
    ck_assert_ok(cm__mail_sender_open(&s, uri(u, sizeof u, "&configuration_set=feedback")));
    cm__mail_result res;
    ck_assert_msg(send_to(s, "reka@example.com", &res) == CM_OK, "%s", cm_error_message());
    ck_assert_int_eq(res.smtp_code, 200);
    /* a second message on the same sender */
    ck_assert_ok(send_to(s, "second@example.com", &res));
    cm__mail_sender_close(s);
    ck_assert_uint_eq(count(200, NULL), 2);
    ck_assert_uint_eq(bad_signatures(), 0);
    /* what SES got is the message as rendered: parse it back */
    json_t *msgs = fx_sink_messages(&S);
    ck_assert_uint_eq(json_array_size(msgs), 2);
    json_t *m = json_array_get(msgs, 0);
    ck_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(json_object_get(m, "headers"), "subject"), 0)),
                     "Hello from SES — été");
    ck_assert_uint_eq(json_array_size(json_object_get(m, "parts")), 2);
    json_decref(msgs);
    char meta[320];
    snprintf(meta, sizeof meta, "%s/msgs/00000001.json", S.dir);
    json_t *j = json_load_file(meta, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "from")), "news@owls.example");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "to"), 0)),
                     "reka@example.com");
    ck_assert_str_eq(json_string_value(json_object_get(j, "configuration_set")), "feedback");
    json_decref(j);
}
END_TEST

START_TEST(temporary_credentials_are_signed)
{
    fx_sink_stop(&S);
    start("FQoGZXIvYXdzEXAMPLE//token+with/slashes=");
    char u[200];
    cm__mail_sender *s = NULL;
    cm__mail_result res;
    /* without the token the stand-in refuses, as SES does */
    ck_assert_ok(cm__mail_sender_open(&s, uri(u, sizeof u, NULL)));
    ck_assert_int_eq(send_to(s, "reka@example.com", &res), CM_EAUTH);
    ck_assert(!res.permanent);
    cm__mail_sender_close(s);
    setenv("AWS_SESSION_TOKEN", "FQoGZXIvYXdzEXAMPLE//token+with/slashes=", 1);
    ck_assert_ok(cm__mail_sender_open(&s, uri(u, sizeof u, NULL)));
    ck_assert_msg(send_to(s, "reka@example.com", &res) == CM_OK, "%s", cm_error_message());
    cm__mail_sender_close(s);
    ck_assert_uint_eq(count(200, NULL), 1);
    unsetenv("AWS_SESSION_TOKEN");
}
END_TEST

START_TEST(a_wrong_secret_is_refused_and_never_shown)
{
    setenv("AWS_SECRET_ACCESS_KEY", "wrongSECRETwrongSECRETwrongSECRETwrong000", 1);
    char u[200];
    cm__mail_sender *s = NULL;
    ck_assert_ok(cm__mail_sender_open(&s, uri(u, sizeof u, NULL)));
    cm__mail_result res;
    ck_assert_int_eq(send_to(s, "reka@example.com", &res), CM_EAUTH);
    ck_assert(!res.permanent); /* fix the credentials: the mail waits */
    ck_assert_int_eq(res.smtp_code, 403);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "SignatureDoesNotMatch"));
    ck_assert_ptr_null(strstr(cm_error_message(), "wrongSECRET"));
    ck_assert_ptr_null(strstr(res.detail, "wrongSECRET"));
    ck_assert_uint_eq(bad_signatures(), 1); /* the stand-in did check it */
    cm__mail_sender_close(s);
    /* an unknown access key */
    setenv("AWS_ACCESS_KEY_ID", "AKIDSOMEONEELSE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", SK, 1);
    ck_assert_ok(cm__mail_sender_open(&s, uri(u, sizeof u, NULL)));
    ck_assert_int_eq(send_to(s, "reka@example.com", &res), CM_EAUTH);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "UnrecognizedClientException"));
    ck_assert_ptr_null(strstr(cm_error_message(), SK));
    cm__mail_sender_close(s);
}
END_TEST

/* The container credentials endpoint (tests/fixtures/creds_standin.py)
 * started with args; AWS_CONTAINER_CREDENTIALS_FULL_URI and the
 * authorization token point to it, the static keys are unset. */
static fx_sink C;
#define CREDS_TOKEN "standin-authorization-token-1234"

static void creds_start(const char *lifetime)
{
    fx_sink_stop(&C);
    const char *args[] = {"--token", CREDS_TOKEN, "--lifetime", lifetime, NULL};
    fx_server_start(&C, "creds_standin.py", args);
    char full[128];
    snprintf(full, sizeof full, "http://127.0.0.1:%d/v2/credentials/task-role", C.port);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", full, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", CREDS_TOKEN, 1);
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
}

static void creds_stop(void)
{
    fx_sink_stop(&C);
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
}

/* How many credentials the endpoint handed out. */
static int creds_fetches(void)
{
    char path[320], line[256];
    snprintf(path, sizeof path, "%s/fetches.jsonl", C.dir);
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, "\"status\": 200") != NULL;
    if (f)
        fclose(f);
    return n;
}

/* The access key and session token message seq (1-based) was signed with. */
static void signed_with(int seq, const char *access_key, const char *token)
{
    char meta[320];
    snprintf(meta, sizeof meta, "%s/msgs/%08d.json", S.dir, seq);
    json_t *j = json_load_file(meta, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "access_key")), access_key);
    ck_assert_str_eq(json_string_value(json_object_get(j, "session_token")), token);
    json_decref(j);
}

START_TEST(task_role_credentials_are_fetched_cached_and_refreshed)
{
    fx_sink_stop(&S);
    const char *sargs[] = {"--rotating", NULL};
    fx_server_start(&S, "ses_standin.py", sargs);
    creds_start("3600");
    char u[200];
    cm__mail_sender *s = NULL;
    cm__mail_result res;
    ck_assert_msg(cm__mail_sender_open(&s, uri(u, sizeof u, NULL)) == CM_OK, "%s",
                  cm_error_message());
    ck_assert_int_eq(creds_fetches(), 0); /* nothing is fetched before the first send */
    ck_assert_msg(send_to(s, "reka@example.com", &res) == CM_OK, "%s", cm_error_message());
    ck_assert_ok(send_to(s, "second@example.com", &res));
    cm__mail_sender_close(s);
    /* an hour to go: fetched once, cached for the second message */
    ck_assert_int_eq(creds_fetches(), 1);
    signed_with(1, "ASIASTANDIN000001", "IQoJb3JpZ2luX2VjE000001//standin+session/token=");
    signed_with(2, "ASIASTANDIN000001", "IQoJb3JpZ2luX2VjE000001//standin+session/token=");

    /* credentials within 5 minutes of their Expiration are fetched again:
     * each message goes with the newest (the endpoint rotates them) */
    creds_start("120");
    ck_assert_ok(cm__mail_sender_open(&s, uri(u, sizeof u, NULL)));
    ck_assert_msg(send_to(s, "third@example.com", &res) == CM_OK, "%s", cm_error_message());
    ck_assert_ok(send_to(s, "fourth@example.com", &res));
    cm__mail_sender_close(s);
    ck_assert_int_eq(creds_fetches(), 2);
    signed_with(3, "ASIASTANDIN000001", "IQoJb3JpZ2luX2VjE000001//standin+session/token=");
    signed_with(4, "ASIASTANDIN000002", "IQoJb3JpZ2luX2VjE000002//standin+session/token=");
    ck_assert_uint_eq(bad_signatures(), 0);

    /* the token file wins over the token; a wrong one is refused by the
     * endpoint: a temporary failure that never shows the token */
    char tf[320];
    snprintf(tf, sizeof tf, "%s/token", C.dir);
    FILE *f = fopen(tf, "w");
    ck_assert_ptr_nonnull(f);
    fputs("wrong-token-wrong-token\n", f);
    fclose(f);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tf, 1);
    ck_assert_ok(cm__mail_sender_open(&s, uri(u, sizeof u, NULL)));
    ck_assert_int_eq(send_to(s, "fifth@example.com", &res), CM_EAUTH);
    ck_assert(!res.permanent);
    ck_assert_ptr_null(strstr(cm_error_message(), "wrong-token"));
    cm__mail_sender_close(s);
    /* the right one in the file */
    f = fopen(tf, "w");
    ck_assert_ptr_nonnull(f);
    fputs(CREDS_TOKEN "\n", f);
    fclose(f);
    ck_assert_ok(cm__mail_sender_open(&s, uri(u, sizeof u, NULL)));
    ck_assert_msg(send_to(s, "sixth@example.com", &res) == CM_OK, "%s", cm_error_message());
    cm__mail_sender_close(s);
    ck_assert_int_eq(creds_fetches(), 3);

    /* static keys, when set, win over the endpoint */
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    fx_sink_stop(&S);
    start(NULL);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/nothing-listens", 1);
    ck_assert_ok(cm__mail_sender_open(&s, uri(u, sizeof u, NULL)));
    ck_assert_msg(send_to(s, "seventh@example.com", &res) == CM_OK, "%s", cm_error_message());
    cm__mail_sender_close(s);
    ck_assert_int_eq(creds_fetches(), 3);

    /* plain http only to this machine or the ECS/EKS agents */
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://credentials.example.com/role", 1);
    ck_assert_int_eq(cm__mail_sender_open(&s, "ses://eu-west-1"), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "smtp");
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "AWS_CONTAINER_CREDENTIALS_FULL_URI"));
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "https://credentials.example.com/role", 1);
    ck_assert_ok(cm__mail_sender_open(&s, "ses://eu-west-1"));
    cm__mail_sender_close(s);
    creds_stop();
    setenv("AWS_ACCESS_KEY_ID", AK, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SK, 1);
}
END_TEST

START_TEST(throttling_is_retried_with_backoff)
{
    char u[200];
    cm__mail_sender *s = NULL;
    ck_assert_ok(cm__mail_sender_open(&s, uri(u, sizeof u, NULL)));
    cm__mail_result res;
    /* throttled twice, then accepted: one call, three requests */
    ck_assert_msg(send_to(s, "throttle2@example.com", &res) == CM_OK, "%s", cm_error_message());
    ck_assert_uint_eq(count(429, "throttle2@example.com"), 2);
    ck_assert_uint_eq(count(200, "throttle2@example.com"), 1);
    /* throttled on every try: a temporary failure after 4 requests */
    ck_assert_int_eq(send_to(s, "throttle@example.com", &res), CM_EIO);
    ck_assert(!res.permanent);
    ck_assert_int_eq(res.smtp_code, 429);
    ck_assert_ptr_nonnull(strstr(res.detail, "TooManyRequestsException"));
    ck_assert_uint_eq(count(429, "throttle@example.com"), 4);
    /* a 5xx is retried the same way */
    ck_assert_int_eq(send_to(s, "fail5@example.com", &res), CM_EIO);
    ck_assert(!res.permanent);
    ck_assert_uint_eq(count(500, "fail5@example.com"), 4);
    cm__mail_sender_close(s);
    ck_assert_uint_eq(bad_signatures(), 0);
}
END_TEST

START_TEST(refusals_permanent_and_temporary)
{
    char u[200];
    cm__mail_sender *s = NULL;
    ck_assert_ok(cm__mail_sender_open(&s, uri(u, sizeof u, NULL)));
    cm__mail_result res;
    ck_assert_int_eq(send_to(s, "reject@example.com", &res), CM_EIO);
    ck_assert(res.permanent);
    ck_assert_int_eq(res.smtp_code, 400);
    ck_assert_ptr_nonnull(strstr(res.detail, "MessageRejected"));
    ck_assert_uint_eq(count(0, "reject@example.com"), 1); /* not retried */
    /* the account may not send now: the mail waits */
    ck_assert_int_eq(send_to(s, "paused@example.com", &res), CM_EIO);
    ck_assert(!res.permanent);
    ck_assert_uint_eq(count(0, "paused@example.com"), 1);
    cm__mail_sender_close(s);
    /* nothing listening: temporary */
    fx_sink_stop(&S);
    ck_assert_ok(cm__mail_sender_open(&s, "ses://eu-west-1/?endpoint=http://127.0.0.1:9"));
    int rc = send_to(s, "reka@example.com", &res);
    ck_assert_msg(rc == CM_EIO || rc == CM_ETIMEOUT, "%d %s", rc, cm_error_message());
    ck_assert(!res.permanent);
    cm__mail_sender_close(s);
}
END_TEST

START_TEST(bad_uris_are_refused)
{
    cm__mail_sender *s = NULL;
    static const char *const bad[] = {
        "ses://",
        "ses://eu west 1",
        "ses://eu-west-1/path",
        "ses://eu-west-1/?color=blue",
        "ses://eu-west-1/?endpoint=ftp://host",
        "ses://eu-west-1/?endpoint=http://host/path",
        "ses://eu-west-1/?timeout_ms=5",
        "ses://eu-west-1/?configuration_set=a%20b",
        NULL,
    };
    for (size_t i = 0; bad[i]; i++) {
        ck_assert_msg(cm__mail_sender_open(&s, bad[i]) == CM_EINVAL, "%s", bad[i]);
        ck_assert_str_eq(cm_error_field(), "smtp");
        ck_assert_ptr_null(s);
    }
    /* credentials come from the environment only */
    unsetenv("AWS_SECRET_ACCESS_KEY");
    ck_assert_int_eq(cm__mail_sender_open(&s, "ses://eu-west-1"), CM_EINVAL);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "AWS_SECRET_ACCESS_KEY"));
    setenv("AWS_SECRET_ACCESS_KEY", SK, 1);
    ck_assert_ok(cm__mail_sender_open(&s, "ses://eu-west-1"));
    ck_assert_int_eq(cm__mail_sender_timeout_ms(s), 30000);
    cm__mail_sender_close(s);
}
END_TEST

/* The mailer uses the SES sender like the SMTP one: sent, retried later,
 * failed for good. */
START_TEST(the_mailer_delivers_through_ses)
{
    fx_sql("INSERT INTO email_outbox (to_addr, template, payload, created_at) VALUES "
           "('ok@example.com', 'password_reset', '{\"token\":\"t\"}', 1), "
           "('throttle@example.com', 'password_reset', '{\"token\":\"t\"}', 1), "
           "('reject@example.com', 'password_reset', '{\"token\":\"t\"}', 1)");
    char u[200];
    cm_mailer_options o = CM_MAILER_OPTIONS_INIT;
    o.smtp_uri = uri(u, sizeof u, "&timeout_ms=20000");
    o.from = "Night Owls <noreply@owls.example>";
    o.lease_ms = 60000;
    cm_mailer *m = NULL;
    ck_assert_msg(cm_mailer_open(&m, FX.store, &o) == CM_OK, "%s", cm_error_message());
    uint32_t sent = 0;
    ck_assert_ok(cm_mailer_run(&sent, m, 0));
    ck_assert_uint_eq(sent, 1);
    cm_mailer_close(m);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE to_addr = 'ok@example.com' "
                              "AND status = 'sent' AND smtp_code = 200"),
                     1);
    /* SES replaces the Message-ID header: its MessageId is kept, which its
     * bounce and complaint reports name */
    ck_assert_str_eq(fx_text("SELECT message_id FROM email_outbox WHERE to_addr = "
                             "'ok@example.com'"),
                     "0100019000000001-standin-000000");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE to_addr = "
                              "'throttle@example.com' AND status = 'pending' AND smtp_code = 429 "
                              "AND next_attempt_at > 0"),
                     1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE to_addr = "
                              "'reject@example.com' AND status = 'failed' AND smtp_code = 400 AND "
                              "last_error LIKE '%MessageRejected%'"),
                     1);
    ck_assert_uint_eq(bad_signatures(), 0);
}
END_TEST

int main(void)
{
    fx_sink_require();
    if (!fx_python_has("botocore")) {
        printf("1..0 # SKIP python3 without botocore (scripts/setup.sh installs "
               "python3-botocore)\n");
        return 0;
    }
    Suite *su = suite_create("mail_ses");
    TCase *tc = tcase_create("ses");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, sends_signed_raw_mime);
    tcase_add_test(tc, temporary_credentials_are_signed);
    tcase_add_test(tc, task_role_credentials_are_fetched_cached_and_refreshed);
    tcase_add_test(tc, a_wrong_secret_is_refused_and_never_shown);
    tcase_add_test(tc, throttling_is_retried_with_backoff);
    tcase_add_test(tc, refusals_permanent_and_temporary);
    tcase_add_test(tc, bad_uris_are_refused);
    tcase_add_test(tc, the_mailer_delivers_through_ses);
    suite_add_tcase(su, tc);
    return fx_run(su);
}
