/*
 * ops_mail.c - bounces and complaints: mail.sns_receive takes what Amazon
 * SNS POSTs to an HTTP subscriber of the topic SES reports to.
 *
 * Before the transaction (prepare): the SNS signature is verified
 * (lib/mail/sns.c) with the certificate at SigningCertURL, which must lie
 * under a trusted prefix and chain to a trusted CA; the topic must be an
 * allowed one; a SubscriptionConfirmation is confirmed by fetching its
 * SubscribeURL (under the same prefixes). In the transaction: the SNS
 * MessageId is recorded (a message seen before has no second effect); an
 * SES Bounce or Complaint adds one mail_feedback row per recipient (kind =
 * the outbox template of the reported message) and, for a permanent bounce
 * or a complaint, puts the HMAC-SHA256 of the recipient's normalised
 * address (under the site key "suppression") on the suppression list,
 * which delivery (mail_deliver.c) consults. Rows written as a bare SHA-256
 * before the list was keyed are moved to their keyed hash whenever their
 * address comes up (delivery, a report, a lift).
 *
 * Configuration (environment, read per call):
 *   COMMUNITY_SNS_CERT_URL_PREFIXES  trusted URL prefixes (required: without
 *                                    it the operation answers CM_ENOTSUP)
 *   COMMUNITY_SNS_CA_FILE            CAs the certificate must chain to
 *                                    (default: the system's)
 *   COMMUNITY_SNS_TOPIC_ARNS         topics accepted (default: any)
 *   COMMUNITY_SNS_MAX_AGE_S          accepted distance of Timestamp from
 *                                    now (default 3600)
 */
#include "deliver_int.h"
#include "member_int.h"
#include "newsletter_int.h"
#include "../util/json.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_AGE_S 3600

static int64_t max_age_us(void)
{
    const char *v = getenv("COMMUNITY_SNS_MAX_AGE_S");
    long long s = v && *v ? strtoll(v, NULL, 10) : DEFAULT_MAX_AGE_S;
    if (s < 60 || s > 7 * 86400)
        s = DEFAULT_MAX_AGE_S;
    return (int64_t)s * 1000000;
}

static bool topic_allowed(const char *arn)
{
    const char *list = getenv("COMMUNITY_SNS_TOPIC_ARNS");
    if (!list || !*list)
        return true;
    size_t n = strlen(arn);
    for (const char *p = list; *p;) {
        p += strspn(p, " ,\t\n");
        size_t k = strcspn(p, " ,\t\n");
        if (k && k == n && strncmp(p, arn, n) == 0)
            return true;
        p += k;
    }
    return false;
}

static int sns_prepare(cm__ctx *ctx, json_t *in)
{
    (void)ctx;
    const char *prefixes = getenv("COMMUNITY_SNS_CERT_URL_PREFIXES");
    if (!prefixes || !*prefixes)
        return cm__error_set(CM_ENOTSUP, "SNS notifications are not configured "
                                         "(COMMUNITY_SNS_CERT_URL_PREFIXES is not set)");
    const char *arn = cm__json_str(in, "TopicArn");
    if (!topic_allowed(arn))
        return cm__error_set_field(CM_EPERM, "TopicArn", "SNS: topic %.200s is not accepted", arn);
    cm__sns_trust t = {prefixes, getenv("COMMUNITY_SNS_CA_FILE"), cm_now_us(), max_age_us()};
    int rc = cm__sns_verify(in, &t);
    if (rc) {
        cm__log(CM_LOG_WARN, "mail", "SNS message refused: %s", cm_error_message());
        return rc;
    }
    if (strcmp(cm__json_str(in, "Type"), "SubscriptionConfirmation") == 0) {
        const char *url = cm__json_str(in, "SubscribeURL");
        char *body = NULL;
        if ((rc = cm__sns_fetch(&body, NULL, url, prefixes))) {
            cm__log(CM_LOG_WARN, "mail", "SNS subscription to %.200s not confirmed: %s", arn,
                    cm_error_message());
            return rc;
        }
        cm__free(body);
        cm__log(CM_LOG_INFO, "mail", "SNS subscription to %.200s confirmed", arn);
        json_object_set_new(in, "_confirmed", json_true());
    }
    return CM_OK;
}

/* The bare address of "addr", "<addr>" or "Name <addr>", lower-cased, as
 * members' addresses are normalised, into norm. false when there is no
 * address. */
static bool addr_norm(char norm[256], const char *given)
{
    const char *a = given, *lt = strrchr(given, '<');
    size_t n = strlen(given);
    if (lt) {
        a = lt + 1;
        n = strcspn(a, ">");
    }
    while (n && (*a == ' ' || *a == '\t'))
        a++, n--;
    while (n && (a[n - 1] == ' ' || a[n - 1] == '\t'))
        n--;
    char raw[256];
    if (n == 0 || n >= sizeof raw || !memchr(a, '@', n))
        return false;
    memcpy(raw, a, n);
    raw[n] = 0;
    cm__email_normalize(norm, raw, 256);
    return true;
}

int cm__mail_addr_keys(char keyed[65], char legacy[65], cm__conn *conn, const char *addr)
{
    char norm[256];
    keyed[0] = legacy[0] = 0;
    if (!addr || !addr_norm(norm, addr))
        return CM_OK;
    unsigned char key[32], mac[crypto_auth_hmacsha256_BYTES];
    int rc = cm__site_key(key, conn, "suppression", true);
    if (rc)
        return rc;
    crypto_auth_hmacsha256(mac, (const unsigned char *)norm, strlen(norm), key);
    sodium_memzero(key, sizeof key);
    for (size_t i = 0; i < sizeof mac; i++)
        (void)snprintf(keyed + 2 * i, 3, "%02x", mac[i]);
    cm__token_hash(legacy, norm);
    return CM_OK;
}

int cm__mail_suppression_rekey(cm__conn *conn, const char *keyed, const char *legacy)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "mail.suppression_rekey");
    if (rc)
        return rc;
    cm__q_text(&q, 1, keyed);
    cm__q_text(&q, 2, legacy);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    /* the keyed row existed already: the legacy one goes */
    if (rc == CM_OK && (rc = cm__q_open(&q, conn, "mail.unsuppress")) == CM_OK) {
        cm__q_text(&q, 1, legacy);
        rc = cm__q_step(&q);
        cm__q_close(&q);
        rc = cm__ok(rc);
    }
    return rc;
}

/* The outbox row whose message_id is mid (angle brackets dropped): its id
 * and template. */
static int find_sent(cm__conn *conn, const char *mid, char *kind, size_t kn, int64_t *oid)
{
    if (!mid)
        return CM_OK;
    char bare[256];
    size_t n = strlen(mid);
    if (n >= 2 && mid[0] == '<' && mid[n - 1] == '>')
        mid++, n -= 2;
    if (n == 0 || n >= sizeof bare)
        return CM_OK;
    memcpy(bare, mid, n);
    bare[n] = 0;
    cm__q q;
    int rc = cm__q_open(&q, conn, "mail.by_message_id");
    if (rc)
        return rc;
    cm__q_text(&q, 1, bare);
    if ((rc = cm__q_step(&q)) == 1) {
        *oid = cm__q_col_int64(&q, 0);
        (void)snprintf(kind, kn, "%s", cm__q_col_text(&q, 1));
    }
    cm__q_close(&q);
    return cm__ok(rc);
}

/* The outbox template of the message SES reports on, or "unknown": by the
 * Message-ID header we wrote (mail sent over SMTP to a server that keeps
 * it), else by SES's own MessageId (mail sent through the SES API, which
 * records it). */
static int report_kind(cm__conn *conn, const json_t *mail, char *kind, size_t kn, int64_t *oid)
{
    (void)snprintf(kind, kn, "unknown");
    *oid = 0;
    int rc = find_sent(conn, cm__json_str(json_object_get(mail, "commonHeaders"), "messageId"),
                       kind, kn, oid);
    if (rc == CM_OK && *oid == 0)
        rc = find_sent(conn, cm__json_str(mail, "messageId"), kind, kn, oid);
    return rc;
}

/* One reported recipient: a feedback row, and a suppression when it is for
 * good. *suppressed counts the latter. */
static int record(cm__ctx *ctx, const char *type, bool permanent, const char *kind, int64_t oid,
                  const char *addr, int64_t *suppressed)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "mail.feedback_add");
    if (rc)
        return rc;
    cm__q_text(&q, 1, type);
    cm__q_int64(&q, 2, permanent);
    cm__q_text(&q, 3, kind);
    if (oid)
        cm__q_int64(&q, 4, oid);
    else
        cm__q_null(&q, 4);
    cm__q_int64(&q, 5, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    char hash[65], legacy[65];
    if (rc || !permanent || (rc = cm__mail_addr_keys(hash, legacy, ctx->conn, addr)) || !hash[0])
        return rc;
    if ((rc = cm__mail_suppression_rekey(ctx->conn, hash, legacy)) ||
        (rc = cm__q_open(&q, ctx->conn, "mail.suppress")))
        return rc;
    cm__q_text(&q, 1, hash);
    cm__q_text(&q, 2, type);
    cm__q_int64(&q, 3, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    if (rc == CM_OK)
        (*suppressed)++;
    return rc;
}

/* An SES notification (the Message of an SNS Notification): "Bounce" and
 * "Complaint" are recorded, other types (Delivery, Send, ...) ignored.
 * *event gets "bounce", "complaint" or NULL. */
static int ses_notification(cm__ctx *ctx, const char *message, const char **event,
                            int64_t *suppressed)
{
    *event = NULL;
    json_error_t jerr;
    json_t *n = json_loads(message, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(n)) {
        json_decref(n);
        return cm__error_set_field(CM_EINVAL, "Message",
                                   "SNS: Message is not an SES notification (JSON object)");
    }
    const char *type = cm__json_str(n, "notificationType");
    if (!type)
        type = cm__json_str(n, "eventType"); /* configuration-set event publishing */
    const char *list = NULL, *what = NULL;
    json_t *body = NULL;
    bool permanent = false;
    if (type && strcmp(type, "Bounce") == 0) {
        body = json_object_get(n, "bounce");
        list = "bouncedRecipients";
        what = "bounce";
        const char *bt = cm__json_str(body, "bounceType");
        permanent = bt && strcmp(bt, "Permanent") == 0;
    } else if (type && strcmp(type, "Complaint") == 0) {
        body = json_object_get(n, "complaint");
        list = "complainedRecipients";
        what = "complaint";
        /* "not-spam" feedback is the opposite of a complaint */
        const char *ft = cm__json_str(body, "complaintFeedbackType");
        permanent = !ft || strcmp(ft, "not-spam") != 0;
    }
    int rc = CM_OK;
    json_t *rcpts = list ? json_object_get(body, list) : NULL;
    if (list && !json_is_array(rcpts)) {
        rc = cm__error_set_field(CM_EINVAL, "Message", "SNS: the SES %s has no %s", what, list);
    } else if (list) {
        char kind[64];
        int64_t oid = 0;
        rc = report_kind(ctx->conn, json_object_get(n, "mail"), kind, sizeof kind, &oid);
        size_t i;
        json_t *r;
        json_array_foreach(rcpts, i, r)
        {
            const char *addr = cm__json_str(r, "emailAddress");
            if (rc == CM_OK && addr)
                rc = record(ctx, what, permanent, kind, oid, addr, suppressed);
        }
        *event = what;
    }
    json_decref(n);
    return rc;
}

static int op_sns_receive(cm__ctx *ctx, json_t *in, json_t **out)
{
    const char *type = cm__json_str(in, "Type");
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "mail.sns_seen");
    if (rc)
        return rc;
    cm__q_text(&q, 1, cm__json_str(in, "MessageId"));
    cm__q_int64(&q, 2, ctx->now);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    bool duplicate = rc == 0;
    /* MessageIds older than twice the window can no longer come back: a
     * replay of them fails the Timestamp check */
    if ((rc = cm__q_open(&q, ctx->conn, "mail.sns_forget")))
        return rc;
    cm__q_int64(&q, 1, ctx->now - 2 * max_age_us());
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    const char *event = NULL;
    int64_t suppressed = 0;
    if (rc == CM_OK && !duplicate && strcmp(type, "Notification") == 0)
        rc = ses_notification(ctx, cm__json_str(in, "Message"), &event, &suppressed);
    if (rc)
        return rc;
    ctx->target_type = "mail";
    *out = json_pack("{s:s, s:b, s:b, s:I}", "type", type, "duplicate", duplicate, "confirmed",
                     cm__json_bool(in, "_confirmed", false), "suppressed", (json_int_t)suppressed);
    if (*out)
        json_object_set_new(*out, "event", event ? json_string(event) : json_null());
    return *out ? CM_OK : cm__oom();
}

static const char *const sns_types[] = {"Notification", "SubscriptionConfirmation",
                                        "UnsubscribeConfirmation", NULL};

static const cm__field sns_fields[] = {
    CM__FIELD("Type", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 64,
              .doc = "Notification, SubscriptionConfirmation or UnsubscribeConfirmation"),
    CM__FIELD("MessageId", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 128,
              .doc = "SNS message id (a message seen before has no second effect)"),
    CM__FIELD("Token", CM__T_STRING, .max = 2048, .doc = "Subscription token"),
    CM__FIELD("TopicArn", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 1024,
              .doc = "Topic (COMMUNITY_SNS_TOPIC_ARNS may limit them)"),
    CM__FIELD("Subject", CM__T_STRING, .max = 1024, .doc = "Subject of a notification"),
    CM__FIELD("Message", CM__T_STRING, .flags = CM__REQUIRED, .max = 262144,
              .doc = "The SES notification (JSON text), or SNS's text"),
    CM__FIELD("Timestamp", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 64,
              .doc = "When SNS signed it (RFC 3339)"),
    CM__FIELD("SignatureVersion", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 8,
              .doc = "1 (SHA1withRSA) or 2 (SHA256withRSA)"),
    CM__FIELD("Signature", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 8192,
              .doc = "Base64 signature"),
    CM__FIELD("SigningCertURL", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 2048,
              .doc = "Certificate URL, under COMMUNITY_SNS_CERT_URL_PREFIXES"),
    CM__FIELD("SubscribeURL", CM__T_STRING, .max = 2048,
              .doc = "Fetched to confirm a subscription"),
    CM__FIELD("UnsubscribeURL", CM__T_STRING, .max = 2048, .doc = "Not used"),
    {.name = NULL},
};

static const char *const sns_events[] = {"bounce", "complaint", NULL};
static const cm__rfield sns_result_fields[] = {
    {"type", CM__R_ENUM, .values = sns_types, .doc = "The SNS message type"},
    {"duplicate", CM__R_BOOL, .doc = "The MessageId was handled before: nothing was done"},
    {"confirmed", CM__R_BOOL, .doc = "A subscription was confirmed"},
    {"event", CM__R_ENUM, .flags = CM__R_NULL, .values = sns_events,
     .doc = "The SES event recorded, or null"},
    {"suppressed", CM__R_INT, .doc = "Addresses put on the suppression list"},
    {NULL},
};
static const cm__shape sns_result = {.fields = sns_result_fields};

/* ---- mail.suppression_lift ---- */

static int op_suppression_lift(cm__ctx *ctx, json_t *in, json_t **out)
{
    char hash[65], legacy[65];
    int rc = cm__mail_addr_keys(hash, legacy, ctx->conn, cm__json_str(in, "email"));
    if (rc)
        return rc;
    if (!hash[0])
        return cm__error_set_field(CM_EINVAL, "email", "not an e-mail address");
    ctx->target_type = "mail_suppression";
    if ((rc = cm__mail_suppression_rekey(ctx->conn, hash, legacy)))
        return rc;
    cm__q q;
    rc = cm__q_open(&q, ctx->conn, "mail.unsuppress");
    if (rc)
        return rc;
    cm__q_text(&q, 1, hash);
    rc = cm__q_step(&q);
    json_t *o = NULL;
    if (rc == 1) {
        o = json_pack("{s:b,s:s,s:I}", "lifted", 1, "reason", cm__q_col_text(&q, 0), "reports",
                      (json_int_t)cm__q_col_int64(&q, 1));
        if (o) {
            cm__json_set_col_time(o, "first_reported_at", &q, 2);
            cm__json_set_col_time(o, "last_reported_at", &q, 3);
        }
    }
    cm__q_close(&q);
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    if (rc == 0)
        return cm__error_set_field(CM_ENOTFOUND, "email",
                                   "this address is not on the suppression list");
    if (!o)
        return cm__oom();
    *out = o;
    return CM_OK;
}

static const cm__field lift_fields[] = {
    CM__FIELD("email", CM__T_EMAIL, .flags = CM__REQUIRED,
              .doc = "The address to take off the suppression list (any case)"),
    {.name = NULL},
};
static const char *const lift_reasons[] = {"bounce", "complaint", NULL};
static const cm__rfield lift_result_fields[] = {
    {"lifted", CM__R_BOOL},
    {"reason", CM__R_ENUM, .values = lift_reasons, .doc = "Why it was suppressed"},
    {"reports", CM__R_INT, .doc = "How many reports SES had sent about it"},
    {"first_reported_at", CM__R_TIME},
    {"last_reported_at", CM__R_TIME},
    {NULL},
};
static const cm__shape lift_result = {.fields = lift_result_fields};

/* ---- mail.stats: what the hosts' metrics show ---- */

/* Upper bounds of the delivery latency buckets, in seconds. */
static const double latency_le[] = {0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 3600, 86400};
#define N_LE (sizeof latency_le / sizeof latency_le[0])

static json_t *kind_entry(json_t *kinds, const char *kind)
{
    json_t *k = json_object_get(kinds, kind);
    if (!k) {
        k = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "queued", 0, "pending", 0,
                      "sending", 0, "sent", 0, "failed", 0, "suppressed", 0, "bounced", 0,
                      "complained", 0);
        if (!k || json_object_set_new(kinds, kind, k))
            return NULL;
    }
    return k;
}

static int op_mail_stats(cm__ctx *ctx, json_t *in, json_t **out)
{
    (void)in;
    json_t *kinds = json_object(), *latency = json_object(), *le = json_array();
    int rc = kinds && latency && le ? CM_OK : cm__oom();
    for (size_t i = 0; rc == CM_OK && i < N_LE; i++)
        if (json_array_append_new(le, json_real(latency_le[i])))
            rc = cm__oom();
    cm__q q;
    if (rc == CM_OK && (rc = cm__q_open(&q, ctx->conn, "mail.kind_stats")) == CM_OK) {
        for (size_t i = 0; i < N_LE; i++)
            cm__q_int64(&q, (int)i + 1, (int64_t)(latency_le[i] * 1e6));
        static const char *const cols[] = {"queued", "pending", "sending",
                                           "sent",   "failed",  "suppressed"};
        while ((rc = cm__q_step(&q)) == 1) {
            const char *kind = cm__q_col_text(&q, 0);
            json_t *k = kind_entry(kinds, kind), *counts = json_array();
            if (!k || !counts) {
                json_decref(counts);
                rc = cm__oom();
                break;
            }
            for (int c = 0; c < 6; c++)
                json_object_set_new(k, cols[c], json_integer(cm__q_col_int64(&q, 1 + c)));
            for (size_t i = 0; i < N_LE; i++)
                json_array_append_new(counts, json_integer(cm__q_col_int64(&q, 7 + (int)i)));
            json_t *h = json_pack("{s:o, s:I, s:f}", "le_counts", counts, "count",
                                  (json_int_t)cm__q_col_int64(&q, 4), "sum_s",
                                  (double)cm__q_col_int64(&q, 7 + (int)N_LE) / 1e6);
            if (!h || json_object_set_new(latency, kind, h)) {
                rc = cm__oom();
                break;
            }
        }
        cm__q_close(&q);
        rc = cm__ok(rc);
    }
    if (rc == CM_OK && (rc = cm__q_open(&q, ctx->conn, "mail.feedback_stats")) == CM_OK) {
        while ((rc = cm__q_step(&q)) == 1) {
            json_t *k = kind_entry(kinds, cm__q_col_text(&q, 0));
            if (!k) {
                rc = cm__oom();
                break;
            }
            bool bounce = strcmp(cm__q_col_text(&q, 1), "bounce") == 0;
            json_object_set_new(k, bounce ? "bounced" : "complained",
                                json_integer(cm__q_col_int64(&q, 2)));
        }
        cm__q_close(&q);
        rc = cm__ok(rc);
    }
    if (rc == CM_OK) {
        *out = json_pack("{s:o, s:{s:o, s:o}}", "kinds", kinds, "latency", "le_s", le, "by_kind",
                         latency);
        return *out ? CM_OK : cm__oom();
    }
    json_decref(kinds);
    json_decref(latency);
    json_decref(le);
    return rc;
}

static const cm__rfield kind_stats_fields[] = {
    {"queued", CM__R_INT, .doc = "Outbox rows written"},
    {"pending", CM__R_INT, .doc = "Waiting to be sent (new or to be retried)"},
    {"sending", CM__R_INT, .doc = "Claimed by a worker"},
    {"sent", CM__R_INT, .doc = "Accepted by the server"},
    {"failed", CM__R_INT, .doc = "Given up (5xx, out of attempts, cannot be rendered)"},
    {"suppressed", CM__R_INT, .doc = "Not sent on purpose (suppression list, superseded link)"},
    {"bounced", CM__R_INT, .doc = "Recipients SES reported as bounced"},
    {"complained", CM__R_INT, .doc = "Recipients SES reported as complaining"},
    {NULL},
};
static const cm__shape kind_stats = {.name = "MailKindStats",
                                     .doc = "Mail of one kind (outbox template)",
                                     .fields = kind_stats_fields};
static const cm__rfield latency_hist_fields[] = {
    {"le_counts", CM__R_ARRAY, .items = CM__R_INT,
     .doc = "Sent mails delivered within each bound of le_s (cumulative)"},
    {"count", CM__R_INT, .doc = "Sent mails"},
    {"sum_s", CM__R_NUMBER, .doc = "Sum of their delivery latencies"},
    {NULL},
};
static const cm__shape latency_hist = {.name = "MailLatency",
                                       .doc = "Delivery latency (written to accepted) histogram",
                                       .fields = latency_hist_fields};
static const cm__rfield latency_fields[] = {
    {"le_s", CM__R_ARRAY, .items = CM__R_NUMBER, .doc = "Bucket upper bounds in seconds"},
    {"by_kind", CM__R_MAP, .shape = &latency_hist, .doc = "Kind to its histogram"},
    {NULL},
};
static const cm__shape latency_shape = {.fields = latency_fields};
static const cm__rfield mail_stats_fields[] = {
    {"kinds", CM__R_MAP, .shape = &kind_stats, .doc = "Kind (outbox template) to its counts"},
    {"latency", CM__R_OBJECT, .shape = &latency_shape},
    {NULL},
};
static const cm__shape mail_stats_result = {.fields = mail_stats_fields};

const cm__op cm__mail_ops[] = {
    {
        .name = "mail.stats",
        .summary = "Mail per kind: queued, sent, failed, suppressed, bounced, complained; "
                   "delivery latency",
        .role = CM_ROLE_ADMIN,
        .http_method = "GET",
        .http_path = "/v1/metrics/mail",
        .fn = op_mail_stats,
        .result = &mail_stats_result,
    },
    {
        .name = "mail.sns_receive",
        .summary = "Take an Amazon SNS message about SES bounces and complaints (signature "
                   "verified)",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/mail/sns",
        .http_text_body = true,
        .fields = sns_fields,
        .prepare = sns_prepare,
        .fn = op_sns_receive,
        .result = &sns_result,
    },
    {
        .name = "mail.suppression_lift",
        .summary = "Take an address off the suppression list (after a bounce or complaint), so "
                   "that mail is sent to it again",
        .role = CM_ROLE_ADMIN,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/mail/suppressions/lift",
        .fields = lift_fields,
        .fn = op_suppression_lift,
        .result = &lift_result,
    },
    {.name = NULL},
};
