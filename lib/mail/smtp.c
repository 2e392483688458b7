/*
 * smtp.c - the SMTP sender over libcurl: a URI names the server, the
 * account and the TLS policy; one easy handle is kept per sender so that
 * consecutive messages reuse the connection (and its STARTTLS and AUTH).
 * The password is handed to curl through CURLOPT_PASSWORD, never placed in
 * the URL curl sees, and never written to an error or log message.
 */
#include "mail_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cm__mail_sender {
    cm__mail_ses *ses; /* ses:// (ses.c); the rest is unused then */
    CURL *h;
    char *url; /* scheme://host[:port]/helo, no credentials */
    char *user, *pass;
    char *cafile;
    char *shown; /* redacted URI for messages */
    bool smtps, require_tls;
    long timeout_ms;
};

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decode s[0..n) into a new string; NULL on bad escapes (errors are
 * reported by the caller) or out of memory (*oom set). */
static char *pct_decode(const char *s, size_t n, bool *oom)
{
    char *o = cm__malloc(n + 1);
    if (!o) {
        *oom = true;
        return NULL;
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int a = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
            int b = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
            if (a < 0 || b < 0 || (a == 0 && b == 0)) {
                cm__free(o);
                return NULL;
            }
            o[w++] = (char)(a * 16 + b);
            i += 2;
        } else {
            o[w++] = s[i];
        }
    }
    o[w] = 0;
    return o;
}

int cm__mail_uri_redact(char **out, const char *uri)
{
    *out = NULL;
    const char *sep = strstr(uri, "://");
    const char *auth = sep ? sep + 3 : uri;
    size_t alen = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth + alen; p++)
        if (*p == '@')
            at = p;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    cm__buf b = {0};
    if (colon) {
        cm__buf_put(&b, uri, (size_t)(colon - uri));
        cm__buf_puts(&b, ":***");
        cm__buf_puts(&b, at);
    } else {
        cm__buf_puts(&b, uri);
    }
    if (b.err) {
        cm__free(b.p);
        return cm__oom();
    }
    *out = b.p;
    return CM_OK;
}

static int bad_uri(cm__mail_sender *s, const char *why)
{
    return cm__error_set_field(CM_EINVAL, "smtp", "SMTP URI %s: %s", s->shown ? s->shown : "", why);
}

static int parse_query(cm__mail_sender *s, const char *q, char **helo)
{
    while (*q) {
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        if (!eq)
            return bad_uri(s, "option without '='");
        size_t kn = (size_t)(eq - q);
        bool oom = false;
        char *v = pct_decode(eq + 1, n - kn - 1, &oom);
        if (!v)
            return oom ? cm__oom() : bad_uri(s, "bad percent escape in an option");
        int rc = CM_OK;
        if (kn == 3 && strncmp(q, "tls", 3) == 0) {
            if (strcmp(v, "require") == 0)
                s->require_tls = true;
            else if (strcmp(v, "try") == 0)
                s->require_tls = false;
            else
                rc = bad_uri(s, "tls must be 'try' or 'require'");
        } else if (kn == 6 && strncmp(q, "cafile", 6) == 0) {
            cm__free(s->cafile);
            s->cafile = v;
            v = NULL;
        } else if (kn == 4 && strncmp(q, "helo", 4) == 0) {
            bool ok = *v && strlen(v) < 250;
            for (const char *p = v; *p; p++)
                ok = ok && (hexval(*p) >= 0 || (*p >= 'g' && *p <= 'z') ||
                            (*p >= 'G' && *p <= 'Z') || *p == '-' || *p == '.');
            if (!ok) {
                rc = bad_uri(s, "helo must be a host name");
            } else {
                cm__free(*helo);
                *helo = v;
                v = NULL;
            }
        } else if (kn == 10 && strncmp(q, "timeout_ms", 10) == 0) {
            char *end;
            long t = strtol(v, &end, 10);
            if (*end || t < 100 || t > 3600000)
                rc = bad_uri(s, "timeout_ms must be 100..3600000");
            else
                s->timeout_ms = t;
        } else {
            rc = bad_uri(s, "unknown option (known: tls, cafile, helo, timeout_ms)");
        }
        cm__free(v);
        if (rc)
            return rc;
        q += n;
        if (*q == '&')
            q++;
    }
    return CM_OK;
}

int cm__mail_sender_open(cm__mail_sender **out, const char *uri)
{
    *out = NULL;
    if (!uri)
        return cm__error_set_field(CM_EINVAL, "smtp", "SMTP URI is required");
    cm__mail_sender *s = cm__calloc(1, sizeof *s);
    if (!s)
        return cm__oom();
    if (strncmp(uri, "ses://", 6) == 0) {
        int rc = cm__mail_ses_open(&s->ses, uri);
        if (rc) {
            cm__free(s);
            return rc;
        }
        *out = s;
        return CM_OK;
    }
    s->timeout_ms = 60000;
    char *helo = NULL;
    int rc = cm__mail_uri_redact(&s->shown, uri);
    const char *auth = NULL;
    if (rc == CM_OK) {
        if (strncmp(uri, "smtp://", 7) == 0) {
            auth = uri + 7;
        } else if (strncmp(uri, "smtps://", 8) == 0) {
            auth = uri + 8;
            s->smtps = true;
        } else {
            rc = bad_uri(s, "scheme must be smtp://, smtps:// or ses://");
        }
    }
    size_t alen = auth ? strcspn(auth, "/?#") : 0;
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@')
            at = auth + i;
    const char *host = at ? at + 1 : auth;
    size_t hlen = auth ? alen - (size_t)(host - auth) : 0;
    if (rc == CM_OK && hlen == 0)
        rc = bad_uri(s, "host is missing");
    for (size_t i = 0; rc == CM_OK && i < hlen; i++)
        if ((unsigned char)host[i] <= 0x20 || (unsigned char)host[i] >= 0x7f)
            rc = bad_uri(s, "host has a space or a non-ASCII character");
    if (rc == CM_OK && at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        size_t ulen = colon ? (size_t)(colon - auth) : (size_t)(at - auth);
        bool oom = false;
        s->user = pct_decode(auth, ulen, &oom);
        if (s->user && colon)
            s->pass = pct_decode(colon + 1, (size_t)(at - colon - 1), &oom);
        if (oom)
            rc = cm__oom();
        else if (!s->user || (colon && !s->pass))
            rc = bad_uri(s, "bad percent escape in the user or password");
    }
    if (rc == CM_OK && auth) {
        const char *rest = auth + alen;
        if (*rest == '/')
            rest++;
        if (*rest == '?')
            rc = parse_query(s, rest + 1, &helo);
        else if (*rest)
            rc = bad_uri(s, "unexpected path (options go after '/?')");
    }
    if (rc == CM_OK && s->smtps && s->require_tls)
        s->require_tls = false; /* implicit TLS: always encrypted */
    if (rc == CM_OK) {
        cm__buf b = {0};
        cm__buf_puts(&b, s->smtps ? "smtps://" : "smtp://");
        cm__buf_put(&b, host, hlen);
        cm__buf_puts(&b, "/");
        cm__buf_puts(&b, helo ? helo : "localhost");
        if (b.err)
            rc = cm__oom();
        s->url = b.p;
    }
    cm__free(helo);
    if (rc) {
        cm__mail_sender_close(s);
        return rc;
    }
    *out = s;
    return CM_OK;
}

void cm__mail_sender_close(cm__mail_sender *s)
{
    if (!s)
        return;
    cm__mail_ses_close(s->ses);
    if (s->h)
        curl_easy_cleanup(s->h);
    if (s->pass)
        memset(s->pass, 0, strlen(s->pass));
    cm__free(s->url);
    cm__free(s->user);
    cm__free(s->pass);
    cm__free(s->cafile);
    cm__free(s->shown);
    cm__free(s);
}

int64_t cm__mail_sender_timeout_ms(const cm__mail_sender *s)
{
    return s->ses ? cm__mail_ses_timeout_ms(s->ses) : s->timeout_ms;
}

typedef struct upload {
    const char *p;
    size_t left;
} upload;

static size_t on_read(char *buf, size_t size, size_t nitems, void *arg)
{
    upload *u = arg;
    size_t n = size * nitems < u->left ? size * nitems : u->left;
    memcpy(buf, u->p, n);
    u->p += n;
    u->left -= n;
    return n;
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

int cm__mail_send(cm__mail_sender *s, const char *from, const char *const *rcpt, size_t nrcpt,
                  const char *data, size_t len, cm__mail_result *res)
{
    result_set(res, 0, false, "");
    if (!from || !cm__mail_addr_valid(from))
        return cm__error_set_field(CM_EINVAL, "from", "envelope sender is not a valid address");
    if (nrcpt == 0)
        return cm__error_set_field(CM_EINVAL, "to", "no recipient");
    if (s->ses) {
        for (size_t i = 0; i < nrcpt; i++)
            if (!cm__mail_addr_valid(rcpt[i]))
                return cm__error_set_field(CM_EINVAL, "to", "recipient %zu is not a valid address",
                                           i);
        return cm__mail_ses_send(s->ses, from, rcpt, nrcpt, data, len, res);
    }
    char angle[300];
    struct curl_slist *rl = NULL;
    for (size_t i = 0; i < nrcpt; i++) {
        if (!cm__mail_addr_valid(rcpt[i])) {
            curl_slist_free_all(rl);
            return cm__error_set_field(CM_EINVAL, "to", "recipient %zu is not a valid address", i);
        }
        (void)snprintf(angle, sizeof angle, "<%s>", rcpt[i]);
        struct curl_slist *g = curl_slist_append(rl, angle);
        if (!g) {
            curl_slist_free_all(rl);
            return cm__oom();
        }
        rl = g;
    }
    if (!s->h && !(s->h = curl_easy_init())) {
        curl_slist_free_all(rl);
        return cm__error_set(CM_ENOMEM, "curl_easy_init failed");
    }
    CURL *h = s->h;
    char errbuf[CURL_ERROR_SIZE] = "";
    upload u = {data, len};
    (void)snprintf(angle, sizeof angle, "<%s>", from);
    curl_easy_setopt(h, CURLOPT_URL, s->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (s->user) {
        curl_easy_setopt(h, CURLOPT_USERNAME, s->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, s->pass ? s->pass : "");
    }
    if (!s->smtps)
        curl_easy_setopt(h, CURLOPT_USE_SSL,
                         s->require_tls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
    if (s->cafile)
        curl_easy_setopt(h, CURLOPT_CAINFO, s->cafile);
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, angle);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rl);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &u);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms < 10000 ? s->timeout_ms : 10000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(rl);
    if (cc == CURLE_OK) {
        result_set(res, code, false, "");
        return CM_OK;
    }
    /* After a failure the session's state is unknown: start afresh. */
    curl_easy_cleanup(s->h);
    s->h = NULL;
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
    bool permanent =
        code >= 500 && code <= 599 && cc != CURLE_LOGIN_DENIED && cc != CURLE_USE_SSL_FAILED;
    result_set(res, code, permanent, why);
    int rc = cc == CURLE_LOGIN_DENIED         ? CM_EAUTH
             : cc == CURLE_OPERATION_TIMEDOUT ? CM_ETIMEOUT
                                              : CM_EIO;
    return cm__error_set(rc, "SMTP %s: %s (reply %ld, %s)", s->shown, why, code,
                         permanent ? "permanent" : "temporary");
}
