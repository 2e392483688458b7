/*
 * test_sns.c - mail.sns_receive: Amazon SNS messages about SES bounces and
 * complaints, signed here with a certificate from a test CA made with the
 * openssl command at start (and a second, untrusted CA), served as file://
 * URLs under the trusted prefix. Valid messages (SignatureVersion 1 and 2)
 * feed the suppression list, which delivery honours (nothing reaches the
 * test SMTP server for a suppressed address); tampered messages, a
 * certificate URL outside the prefix, a certificate from another CA,
 * replays and unknown types change nothing. The list holds keyed hashes;
 * rows of the older bare SHA-256 form are keyed as their address comes up.
 * Runs on SQLite, and on
 * PostgreSQL as pg-mail_sns.
 */
#include "fixtures.h"
#include "fx_sink.h"

#include <community/mail.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char PKI[256];    /* the test CA, certificates and keys */
static char PREFIX[300]; /* file://PKI/trusted/ */
static fx_sink S;

/* Run a set-up command (outside any test): a failure ends the run. */
static void sh(const char *cmd)
{
    if (system(cmd) != 0) {
        printf("Bail out! failed: %s\n", cmd);
        exit(1);
    }
}

/* Made once per run: ca (trusted), signer (issued by ca), rogue-ca and
 * rogue (issued by rogue-ca); the certificates the messages name live in
 * PKI/trusted/ (the configured prefix), one copy of signer in PKI/other/. */
static void make_pki(void)
{
    snprintf(PKI, sizeof PKI, "/tmp/cm_sns_XXXXXX");
    if (!mkdtemp(PKI)) {
        printf("Bail out! cannot make a temporary directory\n");
        exit(1);
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "set -e; cd '%s'; mkdir trusted other; "
             "for ca in ca rogue-ca; do openssl req -x509 -newkey rsa:2048 -nodes -keyout $ca.key "
             "-out $ca.pem -days 2 -subj \"/CN=test $ca\" 2>/dev/null; done; "
             "for c in signer:ca rogue:rogue-ca; do n=${c%%%%:*}; i=${c##*:}; "
             "openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr "
             "-subj /CN=sns.amazonaws.com 2>/dev/null; "
             "openssl x509 -req -in $n.csr -CA $i.pem -CAkey $i.key -CAcreateserial -days 2 "
             "-out trusted/$n.pem 2>/dev/null; done; cp trusted/signer.pem other/signer.pem",
             PKI);
    sh(cmd);
    snprintf(PREFIX, sizeof PREFIX, "file://%s/trusted/", PKI);
}

static void setup(void)
{
    fx_setup();
    fx_sink_start(&S, NULL);
    setenv("COMMUNITY_SNS_CERT_URL_PREFIXES", PREFIX, 1);
    char ca[300];
    snprintf(ca, sizeof ca, "%s/ca.pem", PKI);
    setenv("COMMUNITY_SNS_CA_FILE", ca, 1);
    unsetenv("COMMUNITY_SNS_TOPIC_ARNS");
}

static void teardown(void)
{
    fx_sink_stop(&S);
    fx_teardown();
}

/* ---- building signed messages ---- */

static const char *TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-feedback";

static void now_rfc3339(char *buf, size_t n, int64_t offset_s)
{
    time_t t = time(NULL) + (time_t)offset_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%S.123Z", &tm);
}

/* The string SNS signs, built here from AWS's documentation independently
 * of lib/mail/sns.c. */
static char *string_to_sign(json_t *m)
{
    static const char *const notif[] = {"Message",  "MessageId", "Subject", "Timestamp",
                                        "TopicArn", "Type",      NULL};
    static const char *const conf[] = {"Message", "MessageId", "SubscribeURL", "Timestamp",
                                       "Token",   "TopicArn",  "Type",         NULL};
    const char *type = json_string_value(json_object_get(m, "Type"));
    const char *const *keys = strcmp(type, "Notification") == 0 ? notif : conf;
    size_t cap = 1 << 16, len = 0;
    char *s = malloc(cap);
    ck_assert(s != NULL);
    s[0] = 0;
    for (size_t i = 0; keys[i]; i++) {
        const char *v = json_string_value(json_object_get(m, keys[i]));
        if (!v)
            continue;
        len += (size_t)snprintf(s + len, cap - len, "%s\n%s\n", keys[i], v);
        ck_assert(len < cap);
    }
    return s;
}

/* Sign m with PKI/<signer>.key (version "1" SHA1withRSA, "2" SHA256withRSA)
 * and name PKI/<dir>/<signer>.pem as its certificate. */
static void sign(json_t *m, const char *version, const char *signer, const char *dir)
{
    char path[400], url[500];
    snprintf(path, sizeof path, "%s/%s.key", PKI, signer);
    FILE *f = fopen(path, "r");
    ck_assert(f != NULL);
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert(key != NULL);
    json_object_set_new(m, "SignatureVersion", json_string(version));
    snprintf(url, sizeof url, "file://%s/%s/%s.pem", PKI, dir, signer);
    json_object_set_new(m, "SigningCertURL", json_string(url));
    char *text = string_to_sign(m);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char sig[512];
    size_t siglen = sizeof sig;
    ck_assert(EVP_DigestSignInit(c, NULL, strcmp(version, "1") == 0 ? EVP_sha1() : EVP_sha256(),
                                 NULL, key) == 1);
    ck_assert(EVP_DigestSign(c, sig, &siglen, (unsigned char *)text, strlen(text)) == 1);
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(key);
    free(text);
    char b64[1024];
    EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen);
    json_object_set_new(m, "Signature", json_string(b64));
}

static int seq;

/* An SNS Notification carrying an SES notification (bounce or complaint)
 * about message `mid` to `rcpt`, with Timestamp now + offset_s. */
static json_t *ses(const char *what, const char *rcpt, const char *mid, int64_t offset_s)
{
    json_t *n;
    if (strcmp(what, "complaint") == 0)
        n = json_pack("{s:s, s:{s:[{s:s}], s:s}}", "notificationType", "Complaint", "complaint",
                      "complainedRecipients", "emailAddress", rcpt, "complaintFeedbackType",
                      "abuse");
    else
        n = json_pack("{s:s, s:{s:s, s:[{s:s}]}}", "notificationType", "Bounce", "bounce",
                      "bounceType", strcmp(what, "transient") == 0 ? "Transient" : "Permanent",
                      "bouncedRecipients", "emailAddress", rcpt);
    if (mid)
        json_object_set_new(n, "mail", json_pack("{s:{s:s}}", "commonHeaders", "messageId", mid));
    char *msg = json_dumps(n, JSON_COMPACT);
    json_decref(n);
    char ts[40], id[64];
    now_rfc3339(ts, sizeof ts, offset_s);
    snprintf(id, sizeof id, "6f0d5c1a-0000-4000-8000-%012d", ++seq);
    json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "Type", "Notification", "MessageId", id,
                          "TopicArn", TOPIC, "Message", msg, "Timestamp", ts, "UnsubscribeURL",
                          "https://sns.example/unsubscribe");
    free(msg);
    return m;
}

/* Run mail.sns_receive with m (kept) as the anonymous caller. */
static int receive(json_t **out, json_t *m)
{
    char *s = json_dumps(m, JSON_COMPACT);
    int rc = fx_exec_raw(out, NULL, "mail.sns_receive", s);
    free(s);
    return rc;
}

static long long suppressions(void)
{
    return fx_count("SELECT count(*) FROM mail_suppression");
}

static long long feedback(void)
{
    return fx_count("SELECT count(*) FROM mail_feedback");
}

static cm_mailer *mailer(void)
{
    char uri[128];
    fx_sink_uri(uri, sizeof uri, &S, "/?timeout_ms=5000");
    cm_mailer_options o = CM_MAILER_OPTIONS_INIT;
    o.smtp_uri = uri;
    o.from = "Night Owls <noreply@owls.example>";
    o.lease_ms = 20000;
    cm_mailer *m = NULL;
    ck_assert_ok(cm_mailer_open(&m, FX.store, &o));
    return m;
}

static void outbox(const char *to)
{
    char sql[400];
    snprintf(sql, sizeof sql,
             "INSERT INTO email_outbox (to_addr, template, payload, created_at) "
             "VALUES ('%s', 'password_reset', '{\"token\":\"t\"}', 1)",
             to);
    fx_sql(sql);
}

/* The bare SHA-256 hex of s: how the suppression list keyed an address
 * before it used a keyed hash. */
static void sha256_hex(char out[65], const char *s)
{
    unsigned char h[32];
    unsigned int n = 0;
    ck_assert(EVP_Digest(s, strlen(s), h, &n, EVP_sha256(), NULL) == 1 && n == 32);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* A suppression row as written before the list was keyed. */
static void legacy_suppression(const char *addr, const char *reason)
{
    char hash[65], sql[300];
    sha256_hex(hash, addr);
    snprintf(sql, sizeof sql,
             "INSERT INTO mail_suppression (addr_hash, reason, created_at, updated_at) VALUES "
             "('%s', '%s', 1, 1)",
             hash, reason);
    fx_sql(sql);
}

static long long rows_with_bare_hash(const char *addr)
{
    char hash[65], sql[200];
    sha256_hex(hash, addr);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM mail_suppression WHERE addr_hash = '%s'", hash);
    return fx_count(sql);
}

/* ---- tests ---- */

START_TEST(permanent_bounce_v1_suppresses_and_delivery_skips)
{
    /* a mail was sent and SES reports it bounced: the kind is its template */
    cm_mailer *m = mailer();
    outbox("Gone@Example.com");
    uint32_t sent = 0;
    ck_assert_ok(cm_mailer_run(&sent, m, 0));
    ck_assert_uint_eq(sent, 1);
    char mid[200];
    snprintf(mid, sizeof mid, "<%s>", fx_text("SELECT message_id FROM email_outbox"));

    json_t *msg = ses("bounce", "gone@example.com", mid, 0), *out = NULL;
    sign(msg, "1", "signer", "trusted");
    ck_assert_msg(receive(&out, msg) == CM_OK, "%s", cm_error_message());
    ck_assert_str_eq(fx_str(out, "event"), "bounce");
    ck_assert_int_eq(fx_int(out, "suppressed"), 1);
    ck_assert(json_is_false(json_object_get(out, "duplicate")));
    json_decref(out);
    json_decref(msg);
    ck_assert_int_eq(
        fx_count("SELECT count(*) FROM mail_feedback WHERE type = 'bounce' AND "
                 "kind = 'password_reset' AND permanent = 1 AND outbox_id IS NOT NULL"),
        1);
    /* a hash is stored, never the address */
    ck_assert_int_eq(suppressions(), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM mail_suppression WHERE addr_hash LIKE '%@%' "
                              "OR length(addr_hash) <> 64"),
                     0);
    /* a keyed hash: not the bare SHA-256 anyone can compute from a list of
     * addresses */
    ck_assert_int_eq(rows_with_bare_hash("gone@example.com"), 0);

    /* new mail to the address, in any case, is never sent */
    outbox("GONE@example.com");
    outbox("other@example.com");
    ck_assert_ok(cm_mailer_run(&sent, m, 0));
    ck_assert_uint_eq(sent, 1);
    ck_assert_uint_eq(fx_sink_count(&S), 2);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE to_addr = "
                              "'GONE@example.com' AND status = 'suppressed' AND last_error LIKE "
                              "'suppressed%bounce%'"),
                     1);
    json_t *env = fx_sink_envelopes(&S);
    ck_assert_str_eq(
        json_string_value(json_array_get(json_object_get(json_array_get(env, 1), "rcpt_tos"), 0)),
        "other@example.com");
    json_decref(env);
    cm_mailer_close(m);
}
END_TEST

START_TEST(complaint_v2_suppresses_and_outlives_the_member)
{
    cm_actor *a = fx_member("carla@example.com", "member");
    json_int_t id = fx_id_of(a);
    cm_actor_free(a);
    json_t *msg = ses("complaint", "Carla <carla@example.com>", NULL, 0), *out = NULL;
    sign(msg, "2", "signer", "trusted");
    ck_assert_msg(receive(&out, msg) == CM_OK, "%s", cm_error_message());
    ck_assert_str_eq(fx_str(out, "event"), "complaint");
    ck_assert_int_eq(fx_int(out, "suppressed"), 1);
    json_decref(out);
    json_decref(msg);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM mail_feedback WHERE type = 'complaint' AND "
                              "kind = 'unknown'"),
                     1);
    /* the member goes; the suppression stays */
    char sql[200];
    snprintf(sql, sizeof sql, "DELETE FROM members WHERE id = %lld", (long long)id);
    fx_sql(sql);
    ck_assert_int_eq(suppressions(), 1);
    cm_mailer *m = mailer();
    outbox("carla@example.com");
    uint32_t sent = 9;
    ck_assert_ok(cm_mailer_run(&sent, m, 0));
    ck_assert_uint_eq(sent, 0);
    ck_assert_uint_eq(fx_sink_count(&S), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE status = 'suppressed'"), 1);
    cm_mailer_close(m);
}
END_TEST

/* Password resets are suppressed too (docs/email.md says why); an admin
 * lifts the suppression, and the next reset link arrives. */
START_TEST(an_admin_lifts_a_suppression)
{
    cm_actor *dora = fx_member("dora@example.com", "member");
    cm_actor *org = fx_member("org@example.com", "organizer");
    cm_actor *admin = fx_member("admin@example.com", "admin");
    json_t *msg = ses("bounce", "Dora@example.com", NULL, 0), *out = NULL;
    sign(msg, "2", "signer", "trusted");
    ck_assert_ok(receive(&out, msg));
    json_decref(out);
    json_decref(msg);
    ck_assert_int_eq(suppressions(), 1);

    /* a reset link asked for now is not sent */
    cm_mailer *m = mailer();
    ck_assert_ok(
        fx_exec(NULL, NULL, "auth.password_reset_request", "{s:s}", "email", "dora@example.com"));
    uint32_t sent = 9;
    ck_assert_ok(cm_mailer_run(&sent, m, 0));
    ck_assert_uint_eq(sent, 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE template = "
                              "'password_reset' AND status = 'suppressed' AND last_error LIKE "
                              "'suppressed%bounce%'"),
                     1);

    /* only admins lift; the address must be on the list */
    ck_assert_int_eq(
        fx_exec(NULL, dora, "mail.suppression_lift", "{s:s}", "email", "dora@example.com"),
        CM_EPERM);
    ck_assert_int_eq(
        fx_exec(NULL, org, "mail.suppression_lift", "{s:s}", "email", "dora@example.com"),
        CM_EPERM);
    ck_assert_int_eq(
        fx_exec(NULL, admin, "mail.suppression_lift", "{s:s}", "email", "nobody@example.com"),
        CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "email");
    ck_assert_int_eq(suppressions(), 1);
    ck_assert_ok(
        fx_exec(&out, admin, "mail.suppression_lift", "{s:s}", "email", "DORA@Example.com"));
    ck_assert(json_is_true(json_object_get(out, "lifted")));
    ck_assert_str_eq(fx_str(out, "reason"), "bounce");
    ck_assert_int_eq(fx_int(out, "reports"), 1);
    json_decref(out);
    ck_assert_int_eq(suppressions(), 0);
    /* audited: who lifted one, and when (the list keeps no address, nor does the log) */
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE op = 'mail.suppression_lift' AND actor_id = "
             "%lld AND target_type = 'mail_suppression'",
             (long long)fx_id_of(admin));
    ck_assert_int_eq(fx_count(sql), 1);

    /* the next link arrives */
    ck_assert_ok(
        fx_exec(NULL, NULL, "auth.password_reset_request", "{s:s}", "email", "dora@example.com"));
    ck_assert_ok(cm_mailer_run(&sent, m, 0));
    ck_assert_uint_eq(sent, 1);
    json_t *env = fx_sink_envelopes(&S);
    ck_assert_str_eq(
        json_string_value(json_array_get(json_object_get(json_array_get(env, 0), "rcpt_tos"), 0)),
        "dora@example.com");
    json_decref(env);
    cm_mailer_close(m);
    cm_actor_free(dora);
    cm_actor_free(org);
    cm_actor_free(admin);
}
END_TEST

/* Mail sent through the SES API keeps SES's MessageId: a report that names
 * only it (SES replaced our Message-ID header) still finds the kind. */
START_TEST(reports_match_the_ses_message_id)
{
    fx_sql("INSERT INTO email_outbox (to_addr, template, payload, created_at, status, "
           "message_id) VALUES ('ann@example.com', 'magic_link', '{\"token\":\"t\"}', 1, "
           "'sent', '010201900000abcd-1234-5678-0000-000000000000-000000')");
    json_t *msg = ses("bounce", "ann@example.com", "<0102019-other@eu-west-1.amazonses.com>", 0);
    json_t *n = json_loads(json_string_value(json_object_get(msg, "Message")), 0, NULL);
    json_object_set_new(json_object_get(n, "mail"), "messageId",
                        json_string("010201900000abcd-1234-5678-0000-000000000000-000000"));
    char *text = json_dumps(n, JSON_COMPACT);
    json_object_set_new(msg, "Message", json_string(text));
    free(text);
    json_decref(n);
    sign(msg, "2", "signer", "trusted");
    json_t *out = NULL;
    ck_assert_msg(receive(&out, msg) == CM_OK, "%s", cm_error_message());
    json_decref(out);
    json_decref(msg);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM mail_feedback WHERE kind = 'magic_link' AND "
                              "outbox_id IS NOT NULL"),
                     1);
}
END_TEST

START_TEST(transient_bounce_is_counted_not_suppressed)
{
    json_t *msg = ses("transient", "full@example.com", NULL, 0), *out = NULL;
    sign(msg, "2", "signer", "trusted");
    ck_assert_ok(receive(&out, msg));
    ck_assert_int_eq(fx_int(out, "suppressed"), 0);
    json_decref(out);
    json_decref(msg);
    ck_assert_int_eq(suppressions(), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM mail_feedback WHERE permanent = 0"), 1);
}
END_TEST

START_TEST(tampered_messages_are_refused)
{
    static const char *const fields[] = {"Message", "MessageId", "Timestamp", "TopicArn", NULL};
    for (size_t i = 0; fields[i]; i++) {
        json_t *msg = ses("bounce", "ana@example.com", NULL, 0);
        sign(msg, i % 2 ? "1" : "2", "signer", "trusted");
        const char *v = json_string_value(json_object_get(msg, fields[i]));
        char *changed = malloc(strlen(v) + 2);
        ck_assert(changed != NULL);
        strcpy(changed, v);
        changed[0] ^= 1; /* one bit */
        json_object_set_new(msg, fields[i], json_string(changed));
        free(changed);
        ck_assert_int_eq(receive(NULL, msg), CM_EAUTH);
        json_decref(msg);
    }
    /* a signature over another message */
    json_t *a = ses("bounce", "ana@example.com", NULL, 0),
           *b = ses("bounce", "bo@example.com", NULL, 0);
    sign(a, "2", "signer", "trusted");
    sign(b, "2", "signer", "trusted");
    json_object_set(a, "Signature", json_object_get(b, "Signature"));
    ck_assert_int_eq(receive(NULL, a), CM_EAUTH);
    /* a version that does not match the signature */
    json_object_set_new(b, "SignatureVersion", json_string("1"));
    ck_assert_int_eq(receive(NULL, b), CM_EAUTH);
    json_object_set_new(b, "SignatureVersion", json_string("3"));
    ck_assert_int_eq(receive(NULL, b), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "SignatureVersion");
    json_object_set_new(b, "Signature", json_string("not base64!"));
    json_object_set_new(b, "SignatureVersion", json_string("2"));
    ck_assert_int_eq(receive(NULL, b), CM_EINVAL);
    json_decref(a);
    json_decref(b);
    ck_assert_int_eq(suppressions(), 0);
    ck_assert_int_eq(feedback(), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM mail_sns_seen"), 0);
}
END_TEST

START_TEST(wrong_certificate_urls_are_refused)
{
    json_t *msg = ses("bounce", "ana@example.com", NULL, 0);
    /* the right certificate, outside the trusted prefix */
    sign(msg, "2", "signer", "other");
    ck_assert_int_eq(receive(NULL, msg), CM_EPERM);
    /* look-alike URLs */
    static const char *const urls[][2] = {
        {"file://", "/trusted/../other/signer.pem"},
        {"file://", "/trusted%2F..%2Fother/signer.pem"},
        {"http://", "/trusted/signer.pem"},
        {"file://", "/trustedX/signer.pem"},
        {NULL, NULL},
    };
    for (size_t i = 0; urls[i][0]; i++) {
        char url[500];
        snprintf(url, sizeof url, "%s%s%s", urls[i][0], PKI, urls[i][1]);
        json_object_set_new(msg, "SigningCertURL", json_string(url));
        ck_assert_int_eq(receive(NULL, msg), CM_EPERM);
    }
    /* under the prefix, but issued by a CA we do not trust */
    sign(msg, "2", "rogue", "trusted");
    ck_assert_int_eq(receive(NULL, msg), CM_EAUTH);
    ck_assert_msg(strstr(cm_error_message(), "not trusted") != NULL, "%s", cm_error_message());
    /* a certificate that is not there */
    char url[500];
    snprintf(url, sizeof url, "file://%s/trusted/missing.pem", PKI);
    json_object_set_new(msg, "SigningCertURL", json_string(url));
    ck_assert_int_eq(receive(NULL, msg), CM_EIO);
    /* an operator who did not configure the endpoint accepts nothing */
    unsetenv("COMMUNITY_SNS_CERT_URL_PREFIXES");
    sign(msg, "2", "signer", "trusted");
    ck_assert_int_eq(receive(NULL, msg), CM_ENOTSUP);
    json_decref(msg);
    ck_assert_int_eq(suppressions(), 0);
    ck_assert_int_eq(feedback(), 0);
}
END_TEST

START_TEST(replays_have_no_second_effect)
{
    json_t *msg = ses("bounce", "ana@example.com", NULL, 0), *out = NULL;
    sign(msg, "2", "signer", "trusted");
    ck_assert_ok(receive(&out, msg));
    json_decref(out);
    /* SNS delivering the same message again, or someone replaying it */
    ck_assert_ok(receive(&out, msg));
    ck_assert(json_is_true(json_object_get(out, "duplicate")));
    ck_assert(json_is_null(json_object_get(out, "event")));
    json_decref(out);
    ck_assert_int_eq(feedback(), 1);
    ck_assert_int_eq(fx_count("SELECT reports FROM mail_suppression"), 1);
    json_decref(msg);
    /* a message signed two hours ago (outside the window), never seen */
    msg = ses("complaint", "bo@example.com", NULL, -7200);
    sign(msg, "2", "signer", "trusted");
    ck_assert_int_eq(receive(NULL, msg), CM_EAUTH);
    ck_assert_str_eq(cm_error_field(), "Timestamp");
    json_decref(msg);
    /* or one from the future */
    msg = ses("complaint", "bo@example.com", NULL, 7200);
    sign(msg, "2", "signer", "trusted");
    ck_assert_int_eq(receive(NULL, msg), CM_EAUTH);
    json_decref(msg);
    ck_assert_int_eq(feedback(), 1);
}
END_TEST

START_TEST(unknown_types_and_topics_are_refused)
{
    json_t *msg = ses("bounce", "ana@example.com", NULL, 0);
    json_object_set_new(msg, "Type", json_string("Notice"));
    sign(msg, "2", "signer", "trusted");
    ck_assert_int_eq(receive(NULL, msg), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "Type");
    /* members SNS never sends */
    json_object_set_new(msg, "Type", json_string("Notification"));
    json_object_set_new(msg, "Extra", json_string("x"));
    ck_assert_int_eq(receive(NULL, msg), CM_EINVAL);
    json_object_del(msg, "Extra");
    /* a topic other than the configured ones */
    setenv("COMMUNITY_SNS_TOPIC_ARNS", "arn:aws:sns:eu-west-1:123456789012:other", 1);
    sign(msg, "2", "signer", "trusted");
    ck_assert_int_eq(receive(NULL, msg), CM_EPERM);
    ck_assert_str_eq(cm_error_field(), "TopicArn");
    /* a signed notification whose Message is not an SES notification */
    unsetenv("COMMUNITY_SNS_TOPIC_ARNS");
    json_object_set_new(msg, "Message", json_string("hello"));
    sign(msg, "2", "signer", "trusted");
    ck_assert_int_eq(receive(NULL, msg), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "Message");
    /* an SES event type we do not act on is taken and ignored */
    json_object_set_new(msg, "Message", json_string("{\"notificationType\":\"Delivery\"}"));
    sign(msg, "2", "signer", "trusted");
    json_t *out = NULL;
    ck_assert_ok(receive(&out, msg));
    ck_assert(json_is_null(json_object_get(out, "event")));
    json_decref(out);
    json_decref(msg);
    ck_assert_int_eq(feedback(), 0);
}
END_TEST

START_TEST(subscription_is_confirmed_through_the_trusted_prefix)
{
    char url[500], ts[40];
    snprintf(url, sizeof url, "file://%s/trusted/signer.pem", PKI); /* any readable URL */
    now_rfc3339(ts, sizeof ts, 0);
    json_t *msg =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Type", "SubscriptionConfirmation",
                  "MessageId", "c0ffee-1", "Token", "tok", "TopicArn", TOPIC, "Message",
                  "You have chosen to subscribe", "SubscribeURL", url, "Timestamp", ts);
    sign(msg, "1", "signer", "trusted");
    json_t *out = NULL;
    ck_assert_msg(receive(&out, msg) == CM_OK, "%s", cm_error_message());
    ck_assert(json_is_true(json_object_get(out, "confirmed")));
    json_decref(out);
    /* a SubscribeURL elsewhere is not fetched */
    snprintf(url, sizeof url, "file://%s/other/signer.pem", PKI);
    json_object_set_new(msg, "SubscribeURL", json_string(url));
    json_object_set_new(msg, "MessageId", json_string("c0ffee-2"));
    sign(msg, "1", "signer", "trusted");
    ck_assert_int_eq(receive(NULL, msg), CM_EPERM);
    json_decref(msg);
}
END_TEST

START_TEST(stats_count_per_kind)
{
    cm_mailer *m = mailer();
    outbox("ana@example.com");
    outbox("bo@example.com");
    fx_sql("INSERT INTO email_outbox (to_addr, template, payload, created_at) VALUES "
           "('cy@example.com', 'magic_link', '{\"token\":\"t\"}', 1)");
    uint32_t sent = 0;
    ck_assert_ok(cm_mailer_run(&sent, m, 2));
    ck_assert_uint_eq(sent, 2);
    cm_mailer_close(m);
    /* known latencies: 0.3 s and 20 s */
    fx_sql("UPDATE email_outbox SET created_at = 1000000, sent_at = 1300000 WHERE to_addr = "
           "'ana@example.com'");
    fx_sql("UPDATE email_outbox SET created_at = 1000000, sent_at = 21000000 WHERE to_addr = "
           "'bo@example.com'");
    char mid[200];
    snprintf(mid, sizeof mid, "<%s>",
             fx_text("SELECT message_id FROM email_outbox WHERE to_addr = 'bo@example.com'"));
    json_t *msg = ses("bounce", "bo@example.com", mid, 0),
           *c = ses("complaint", "x@example.com", NULL, 0);
    sign(msg, "2", "signer", "trusted");
    sign(c, "2", "signer", "trusted");
    ck_assert_ok(receive(NULL, msg));
    ck_assert_ok(receive(NULL, c));
    json_decref(msg);
    json_decref(c);

    cm_actor *admin = fx_member("root@example.com", "admin");
    json_t *out = NULL;
    ck_assert_ok(fx_exec(&out, admin, "mail.stats", "{}"));
    json_t *k = json_object_get(json_object_get(out, "kinds"), "password_reset");
    ck_assert_int_eq(fx_int(k, "queued"), 2);
    ck_assert_int_eq(fx_int(k, "sent"), 2);
    ck_assert_int_eq(fx_int(k, "bounced"), 1);
    ck_assert_int_eq(fx_int(k, "complained"), 0);
    json_t *ml = json_object_get(json_object_get(out, "kinds"), "magic_link");
    ck_assert_int_eq(fx_int(ml, "pending"), 1);
    ck_assert_int_eq(fx_int(ml, "queued"), 1);
    json_t *u = json_object_get(json_object_get(out, "kinds"), "unknown");
    ck_assert_int_eq(fx_int(u, "complained"), 1);
    ck_assert_int_eq(fx_int(u, "queued"), 0);
    json_t *lat = json_object_get(out, "latency");
    json_t *h = json_object_get(json_object_get(lat, "by_kind"), "password_reset");
    ck_assert_int_eq(fx_int(h, "count"), 2);
    ck_assert(json_number_value(json_object_get(h, "sum_s")) > 20.29 &&
              json_number_value(json_object_get(h, "sum_s")) < 20.31);
    /* le_s: 0.1 0.5 1 5 15 30 ... */
    json_t *le = json_object_get(h, "le_counts");
    ck_assert_int_eq(json_integer_value(json_array_get(le, 0)), 0);
    ck_assert_int_eq(json_integer_value(json_array_get(le, 1)), 1);
    ck_assert_int_eq(json_integer_value(json_array_get(le, 4)), 1);
    ck_assert_int_eq(json_integer_value(json_array_get(le, 5)), 2);
    ck_assert(json_real_value(json_array_get(json_object_get(lat, "le_s"), 4)) == 15.0);
    json_decref(out);
    /* members cannot read it */
    cm_actor *mem = fx_member("mem@example.com", "member");
    ck_assert_int_eq(fx_exec(NULL, mem, "mail.stats", "{}"), CM_EPERM);
    cm_actor_free(mem);
    cm_actor_free(admin);
}
END_TEST

/* Rows written as a bare SHA-256 (before the list was keyed) still
 * suppress, and take the keyed hash as soon as their address comes up:
 * delivery, a new report, a lift. */
START_TEST(legacy_rows_are_keyed_when_their_address_comes_up)
{
    legacy_suppression("old@example.com", "bounce");
    legacy_suppression("again@example.com", "complaint");
    legacy_suppression("lift@example.com", "bounce");
    ck_assert_int_eq(suppressions(), 3);
    /* delivery: suppressed, and the row keyed */
    cm_mailer *m = mailer();
    outbox("Old@Example.com");
    uint32_t sent = 9;
    ck_assert_ok(cm_mailer_run(&sent, m, 0));
    ck_assert_uint_eq(sent, 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE status = 'suppressed' AND "
                              "last_error = 'suppressed: the address reported a bounce'"),
                     1);
    ck_assert_int_eq(rows_with_bare_hash("old@example.com"), 0);
    ck_assert_int_eq(suppressions(), 3);
    /* and still suppresses once keyed */
    outbox("old@example.com");
    ck_assert_ok(cm_mailer_run(&sent, m, 0));
    ck_assert_uint_eq(sent, 0);
    ck_assert_uint_eq(fx_sink_count(&S), 0);
    cm_mailer_close(m);
    /* a new report: one row, keyed, the reports added up */
    json_t *msg = ses("bounce", "again@example.com", NULL, 0), *out = NULL;
    sign(msg, "2", "signer", "trusted");
    ck_assert_ok(receive(&out, msg));
    json_decref(out);
    json_decref(msg);
    ck_assert_int_eq(rows_with_bare_hash("again@example.com"), 0);
    ck_assert_int_eq(suppressions(), 3);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM mail_suppression WHERE reports = 2 AND "
                              "reason = 'bounce'"),
                     1);
    /* a lift finds the legacy row */
    cm_actor *admin = fx_member("admin@example.com", "admin");
    ck_assert_ok(
        fx_exec(&out, admin, "mail.suppression_lift", "{s:s}", "email", "LIFT@example.com"));
    ck_assert(json_is_true(json_object_get(out, "lifted")));
    json_decref(out);
    ck_assert_int_eq(suppressions(), 2);
    /* every row keyed now: none holds a bare SHA-256 */
    ck_assert_int_eq(rows_with_bare_hash("old@example.com") +
                         rows_with_bare_hash("again@example.com") +
                         rows_with_bare_hash("lift@example.com"),
                     0);
    cm_actor_free(admin);
}
END_TEST

int main(void)
{
    fx_sink_require();
    make_pki();
    Suite *su = suite_create("mail_sns");
    TCase *tc = tcase_create("sns");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, permanent_bounce_v1_suppresses_and_delivery_skips);
    tcase_add_test(tc, complaint_v2_suppresses_and_outlives_the_member);
    tcase_add_test(tc, an_admin_lifts_a_suppression);
    tcase_add_test(tc, reports_match_the_ses_message_id);
    tcase_add_test(tc, transient_bounce_is_counted_not_suppressed);
    tcase_add_test(tc, tampered_messages_are_refused);
    tcase_add_test(tc, wrong_certificate_urls_are_refused);
    tcase_add_test(tc, replays_have_no_second_effect);
    tcase_add_test(tc, unknown_types_and_topics_are_refused);
    tcase_add_test(tc, subscription_is_confirmed_through_the_trusted_prefix);
    tcase_add_test(tc, stats_count_per_kind);
    tcase_add_test(tc, legacy_rows_are_keyed_when_their_address_comes_up);
    suite_add_tcase(su, tc);
    int rc = fx_run(su);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", PKI);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", PKI);
    return rc;
}
