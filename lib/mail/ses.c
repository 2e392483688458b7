/*
 * ses.c - the Amazon SES v2 sender behind the sender interface of mail.h:
 * each message is one SendEmail call (POST /v2/email/outbound-emails) with
 * the rendered message as raw MIME content, signed with AWS Signature
 * Version 4 (lib/util/sigv4.h) and sent with the internal HTTP client
 * (lib/util/http_client.h).
 *
 * The URI names the region and options; the credentials come from the
 * environment (lib/util/aws_creds.h): static keys (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) when set, else the ECS/EKS
 * container credentials endpoint (a task role), refreshed before they
 * expire. They never appear in a message: the HTTP client redacts the
 * Authorization and X-Amz-Security-Token headers, and the secret key is
 * listed as a secret of every request.
 *
 * Throttling (HTTP 429, TooManyRequestsException, ThrottlingException) and
 * 5xx answers are retried within the call, with exponential backoff and
 * jitter, while the message's time limit allows; then the outcome is a
 * temporary failure, which the mailer retries later. Other 4xx answers
 * are permanent, except refused credentials (CM_EAUTH) and an account that
 * may not send now (quota, paused sending), which are temporary.
 */
#include "mail_int.h"

#include "../util/aws_creds.h"
#include "../util/http_client.h"
#include "../util/json.h"
#include "../util/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SES_PATH "/v2/email/outbound-emails"
#define SES_TRIES 4 /* one call and up to three retries when throttled */

struct cm__mail_ses {
    char *region;
    char *url;  /* endpoint + SES_PATH */
    char *host; /* host[:port] as in the URL: the signed Host header */
    cm__aws_creds *creds;
    char *config_set;
    char *cafile;
    char *shown; /* "ses://region" for messages */
    long timeout_ms;
};

static int bad_uri(const char *shown, const char *why)
{
    return cm__error_set_field(CM_EINVAL, "smtp", "SES URI %s: %s", shown, why);
}

static char *dup_n(const char *s, size_t n)
{
    char *o = cm__malloc(n + 1);
    if (o) {
        memcpy(o, s, n);
        o[n] = 0;
    }
    return o;
}

static bool name_ok(const char *s, size_t n, const char *extra)
{
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr(extra, c)))
            return false;
    }
    return true;
}

/* Percent-decoding is not needed: option values are host names, names and
 * paths without reserved characters; '%' is refused. */
static int parse_query(cm__mail_ses *s, const char *q, char **endpoint)
{
    while (*q) {
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        if (!eq)
            return bad_uri(s->shown, "option without '='");
        size_t kn = (size_t)(eq - q), vn = n - kn - 1;
        const char *v = eq + 1;
        if (memchr(v, '%', vn))
            return bad_uri(s->shown, "percent escapes are not accepted in options");
        char **slot = NULL;
        if (kn == 8 && strncmp(q, "endpoint", 8) == 0) {
            if (!((vn > 7 && strncmp(v, "http://", 7) == 0) ||
                  (vn > 8 && strncmp(v, "https://", 8) == 0)))
                return bad_uri(s->shown, "endpoint must be an http:// or https:// URL");
            const char *hp = v + (v[4] == 's' ? 8 : 7);
            size_t hn = vn - (size_t)(hp - v);
            if (hn && hp[hn - 1] == '/')
                hn--;
            if (hn == 0 || !name_ok(hp, hn, ".-:[]"))
                return bad_uri(s->shown, "endpoint must be scheme://host[:port], without a path");
            slot = endpoint;
            vn = (size_t)(hp - v) + hn;
        } else if (kn == 17 && strncmp(q, "configuration_set", 17) == 0) {
            if (!name_ok(v, vn, "-_"))
                return bad_uri(s->shown, "configuration_set must be letters, digits, - and _");
            slot = &s->config_set;
        } else if (kn == 6 && strncmp(q, "cafile", 6) == 0) {
            if (vn == 0)
                return bad_uri(s->shown, "cafile is empty");
            slot = &s->cafile;
        } else if (kn == 10 && strncmp(q, "timeout_ms", 10) == 0) {
            char buf[16], *end;
            if (vn == 0 || vn >= sizeof buf)
                return bad_uri(s->shown, "timeout_ms must be 100..3600000");
            memcpy(buf, v, vn);
            buf[vn] = 0;
            long t = strtol(buf, &end, 10);
            if (*end || t < 100 || t > 3600000)
                return bad_uri(s->shown, "timeout_ms must be 100..3600000");
            s->timeout_ms = t;
        } else {
            return bad_uri(
                s->shown,
                "unknown option (known: endpoint, configuration_set, cafile, timeout_ms)");
        }
        if (slot) {
            cm__free(*slot);
            if (!(*slot = dup_n(v, vn)))
                return cm__oom();
        }
        q += n;
        if (*q == '&')
            q++;
    }
    return CM_OK;
}

int cm__mail_ses_open(cm__mail_ses **out, const char *uri)
{
    *out = NULL;
    cm__mail_ses *s = cm__calloc(1, sizeof *s);
    if (!s)
        return cm__oom();
    s->timeout_ms = 30000;
    const char *region = uri + 6; /* after "ses://" */
    size_t rn = strcspn(region, "/?#");
    char *endpoint = NULL;
    int rc = CM_OK;
    cm__buf b = {0};
    cm__buf_puts(&b, "ses://");
    cm__buf_put(&b, region, rn < 64 ? rn : 64);
    s->shown = b.p;
    if (!b.err && !name_ok(region, rn, "-"))
        rc = bad_uri(s->shown, "the region must be like eu-west-1");
    else if (b.err || !(s->region = dup_n(region, rn)))
        rc = cm__oom();
    if (rc == CM_OK) {
        const char *rest = region + rn;
        if (*rest == '/')
            rest++;
        if (*rest == '?')
            rc = parse_query(s, rest + 1, &endpoint);
        else if (*rest)
            rc = bad_uri(s->shown, "unexpected path (options go after '/?')");
    }
    if (rc == CM_OK) {
        cm__buf u = {0};
        if (endpoint) {
            cm__buf_puts(&u, endpoint);
        } else {
            cm__buf_puts(&u, "https://email.");
            cm__buf_puts(&u, s->region);
            cm__buf_puts(&u, ".amazonaws.com");
        }
        cm__buf_puts(&u, SES_PATH);
        s->url = u.p;
        if (u.err)
            rc = cm__oom();
    }
    if (rc == CM_OK) {
        const char *hp = strstr(s->url, "://") + 3;
        if (!(s->host = dup_n(hp, strcspn(hp, "/"))))
            rc = cm__oom();
    }
    if (rc == CM_OK) {
        const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
        if (!(ak && *ak && sk && *sk) && !cm__aws_creds_in_env())
            rc = bad_uri(s->shown, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
                                   "environment, or run with a task role "
                                   "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI)");
        else if ((rc = cm__aws_creds_open(&s->creds, ak, sk, getenv("AWS_SESSION_TOKEN"), "SES")) ==
                 CM_EINVAL) {
            char why[256];
            (void)snprintf(why, sizeof why, "%s", cm_error_message());
            rc = bad_uri(s->shown, why);
        }
    }
    cm__free(endpoint);
    if (rc) {
        cm__mail_ses_close(s);
        return rc;
    }
    *out = s;
    return CM_OK;
}

void cm__mail_ses_close(cm__mail_ses *s)
{
    if (!s)
        return;
    cm__free(s->region);
    cm__free(s->url);
    cm__free(s->host);
    cm__aws_creds_close(s->creds);
    cm__free(s->config_set);
    cm__free(s->cafile);
    cm__free(s->shown);
    cm__free(s);
}

int64_t cm__mail_ses_timeout_ms(const cm__mail_ses *s)
{
    return s->timeout_ms;
}

/* The SendEmail request body. */
static int request_body(char **out, const cm__mail_ses *s, const char *from,
                        const char *const *rcpt, size_t nrcpt, const char *data, size_t len)
{
    char *b64 = cm__malloc(4 * ((len + 2) / 3) + 1);
    if (!b64)
        return cm__oom();
    cm__mail_base64(b64, (const unsigned char *)data, len);
    json_t *to = json_array();
    for (size_t i = 0; i < nrcpt; i++)
        json_array_append_new(to, json_string(rcpt[i]));
    json_t *o = json_pack("{s:s, s:{s:o}, s:{s:{s:s}}}", "FromEmailAddress", from, "Destination",
                          "ToAddresses", to, "Content", "Raw", "Data", b64);
    cm__free(b64);
    if (!o)
        return cm__oom();
    if (s->config_set)
        json_object_set_new(o, "ConfigurationSetName", json_string(s->config_set));
    int rc = cm__json_dump(out, o);
    json_decref(o);
    return rc;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* One signed request; *resp filled (dispose it). */
static int perform(cm__http_response *resp, const cm__mail_ses *s, const char *body, size_t blen,
                   int64_t timeout_ms)
{
    *resp = (cm__http_response){0};
    cm__aws_key key;
    int rc = cm__aws_creds_get(&key, s->creds);
    if (rc)
        return rc;
    char amz_date[17], hash[65];
    cm__sigv4_amz_date(amz_date, cm_now_us());
    cm__sha256_hex(hash, body, blen);
    cm__sigv4_kv sh[] = {
        {"content-type", "application/json"},
        {"host", s->host},
        {"x-amz-date", amz_date},
        {"x-amz-security-token", key.token},
    };
    cm__sigv4_req r = {.method = "POST",
                       .path = SES_PATH,
                       .headers = sh,
                       .nheaders = key.token ? 4 : 3,
                       .payload_hash = hash,
                       .normalize_path = true};
    cm__sigv4_cred c = {key.access_key, key.secret_key, key.token, s->region, "ses"};
    char *auth = NULL;
    rc = cm__sigv4_authorization(&auth, &c, amz_date, &r);
    if (rc) {
        cm__aws_key_dispose(&key);
        return rc;
    }
    cm__buf h[5] = {{0}};
    cm__buf_puts(&h[0], "Content-Type: application/json");
    cm__buf_puts(&h[1], "Host: ");
    cm__buf_puts(&h[1], s->host);
    cm__buf_puts(&h[2], "X-Amz-Date: ");
    cm__buf_puts(&h[2], amz_date);
    cm__buf_puts(&h[3], "Authorization: ");
    cm__buf_puts(&h[3], auth);
    if (key.token) {
        cm__buf_puts(&h[4], "X-Amz-Security-Token: ");
        cm__buf_puts(&h[4], key.token);
    }
    bool err = false;
    for (int i = 0; i < 5; i++)
        err = err || h[i].err;
    const char *lines[5] = {h[0].p, h[1].p, h[2].p, h[3].p, h[4].p};
    const char *secrets[] = {key.secret_key, key.token, NULL};
    cm__http_request req = {.method = "POST",
                            .url = s->url,
                            .headers = lines,
                            .n_headers = key.token ? 5 : 4,
                            .secrets = secrets,
                            .body = body,
                            .body_len = blen,
                            .timeout_ms = (uint32_t)timeout_ms,
                            .max_response = 64 * 1024,
                            .ca_file = s->cafile,
                            .what = "SES"};
    rc = err ? cm__oom() : cm__http_perform(resp, &req);
    for (int i = 0; i < 5; i++)
        cm__free(h[i].p);
    if (auth) {
        memset(auth, 0, strlen(auth));
        cm__free(auth);
    }
    cm__aws_key_dispose(&key);
    return rc;
}

/* The error type of an SES answer ("TooManyRequestsException"), from the
 * x-amzn-ErrorType header or the body's "__type"/"code", into type; and
 * its message into msg. */
static void error_of(char *type, size_t tn, char *msg, size_t mn, const cm__http_response *resp)
{
    type[0] = msg[0] = 0;
    const char *t = cm__http_response_header(resp, "x-amzn-ErrorType");
    json_t *j = resp->body ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    if (!t && j) {
        t = json_string_value(json_object_get(j, "__type"));
        if (!t)
            t = json_string_value(json_object_get(j, "code"));
    }
    if (t) {
        const char *hash = strrchr(t, '#'); /* "aws.protocol#Name" */
        if (hash)
            t = hash + 1;
        size_t n = strcspn(t, ":");
        (void)snprintf(type, tn, "%.*s", (int)(n < tn ? n : tn - 1), t);
    }
    const char *m = j ? json_string_value(json_object_get(j, "message")) : NULL;
    if (!m && j)
        m = json_string_value(json_object_get(j, "Message"));
    cm__mail_shown(msg, mn, m ? m : "");
    json_decref(j);
}

static bool is_one_of(const char *t, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(t, *list) == 0)
            return true;
    return false;
}

static void result_set(cm__mail_result *res, long code, bool permanent, const char *detail)
{
    if (!res)
        return;
    res->smtp_code = (int32_t)code;
    res->permanent = permanent;
    res->provider_id[0] = 0;
    cm__mail_shown(res->detail, sizeof res->detail, detail);
}

int cm__mail_ses_send(cm__mail_ses *s, const char *from, const char *const *rcpt, size_t nrcpt,
                      const char *data, size_t len, cm__mail_result *res)
{
    static const char *const throttled[] = {"TooManyRequestsException", "ThrottlingException",
                                            "Throttling", "ThrottledException", NULL};
    static const char *const auth_errors[] = {
        "SignatureDoesNotMatch",      "InvalidSignatureException",
        "IncompleteSignature",        "UnrecognizedClientException",
        "InvalidClientTokenId",       "ExpiredToken",
        "ExpiredTokenException",      "AccessDeniedException",
        "MissingAuthenticationToken", NULL};
    /* the account may not send now: wait, do not fail the mail */
    static const char *const account_waits[] = {"LimitExceededException", "SendingPausedException",
                                                "AccountSuspendedException", NULL};
    char *body = NULL;
    int rc = request_body(&body, s, from, rcpt, nrcpt, data, len);
    if (rc)
        return rc;
    int64_t deadline = now_ms() + s->timeout_ms;
    char type[80], msg[160], why[260];
    long status = 0;
    for (int attempt = 0;; attempt++) {
        int64_t left = deadline - now_ms();
        if (left < 100)
            left = 100;
        cm__http_response resp = {0};
        rc = perform(&resp, s, body, strlen(body), left);
        if (rc) { /* transport: no answer */
            cm__http_response_dispose(&resp);
            result_set(res, 0, false, cm_error_message());
            break;
        }
        status = resp.status;
        if (status >= 200 && status <= 299) {
            result_set(res, status, false, "");
            json_t *j = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
            const char *id = json_string_value(json_object_get(j, "MessageId"));
            if (res && id && strlen(id) < sizeof res->provider_id &&
                strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") ==
                    strlen(id))
                (void)snprintf(res->provider_id, sizeof res->provider_id, "%s", id);
            json_decref(j);
            cm__http_response_dispose(&resp);
            break;
        }
        error_of(type, sizeof type, msg, sizeof msg, &resp);
        cm__http_response_dispose(&resp);
        (void)snprintf(why, sizeof why, "%s%s%s", type[0] ? type : "HTTP error", msg[0] ? ": " : "",
                       msg);
        bool retry = status == 429 || status >= 500 || is_one_of(type, throttled);
        if (retry && attempt + 1 < SES_TRIES) {
            /* 100, 200, 400 ms (and a random half of it on top), within the limit */
            int64_t wait = (int64_t)100 << attempt;
            uint32_t r = 0;
            (void)cm__random_bytes(&r, sizeof r);
            wait += (int64_t)(r % (uint32_t)(wait / 2 + 1));
            if (now_ms() + wait + 100 < deadline) {
                sleep_ms(wait);
                continue;
            }
        }
        bool auth = status == 401 || status == 403 || is_one_of(type, auth_errors);
        bool permanent =
            !retry && !auth && status >= 400 && status <= 499 && !is_one_of(type, account_waits);
        result_set(res, status, permanent, why);
        rc = cm__error_set(auth ? CM_EAUTH : CM_EIO, "SES %s: %s (HTTP %ld, %s)", s->shown, why,
                           status, permanent ? "permanent" : "temporary");
        break;
    }
    cm__free(body);
    if (rc && rc != CM_EAUTH && rc != CM_EIO && rc != CM_ENOMEM)
        rc = rc == CM_ETIMEOUT ? CM_ETIMEOUT : cm__http_error_recode(CM_EIO);
    return rc;
}
