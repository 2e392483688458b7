/*
 * sns.c - checks that an Amazon SNS message (the JSON document SNS POSTs to
 * an HTTP subscriber) was signed by SNS, and fetches SNS URLs.
 *
 * The string to sign is built from the message's fields in the fixed order
 * AWS documents ("Verifying the signatures of Amazon SNS messages"): for a
 * Notification Message, MessageId, Subject (when present), Timestamp,
 * TopicArn, Type; for SubscriptionConfirmation and UnsubscribeConfirmation
 * Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type; each
 * as "Name\nvalue\n". SignatureVersion 1 signs it with SHA1withRSA, 2 with
 * SHA256withRSA. The signing certificate is downloaded from SigningCertURL
 * only when the URL starts with one of the trusted prefixes, its chain must
 * verify against the trusted CAs, and it must be valid now. Certificates
 * are kept per URL for the life of the process (SNS rotates them by
 * changing the URL).
 *
 * OpenSSL's libcrypto does the certificate and signature work; libcurl
 * the downloads (https://, and file:// for certificates an operator keeps
 * on disk).
 */
#include "mail_int.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_FETCH (64 * 1024)
#define CACHE_SLOTS 8

/* ---- URLs ---- */

bool cm__sns_url_allowed(const char *url, const char *prefixes)
{
    if (!url || !prefixes || strpbrk(url, " \t\r\n\"<>\\"))
        return false;
    if (strncmp(url, "https://", 8) && strncmp(url, "file:///", 8))
        return false;
    /* no dot segments or encoded slashes that could leave the prefix */
    if (strstr(url, "/../") || strstr(url, "/./") || strstr(url, "%2") || strstr(url, "%5"))
        return false;
    const char *p = prefixes;
    while (*p) {
        p += strspn(p, " ,\t\n");
        size_t n = strcspn(p, " ,\t\n");
        /* a prefix must end with "/" so that "https://sns.x/" cannot match
         * "https://sns.x.attacker.example/" */
        if (n > 8 && p[n - 1] == '/' && strncmp(url, p, n) == 0)
            return true;
        p += n;
    }
    return false;
}

typedef struct fetch_buf {
    char *p;
    size_t n;
    bool too_big, oom;
} fetch_buf;

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    fetch_buf *b = arg;
    size_t k = size * nmemb;
    if (b->n + k > MAX_FETCH) {
        b->too_big = true;
        return 0;
    }
    char *q = cm__realloc(b->p, b->n + k + 1);
    if (!q) {
        b->oom = true;
        return 0;
    }
    memcpy(q + b->n, data, k);
    b->n += k;
    q[b->n] = 0;
    b->p = q;
    return k;
}

int cm__sns_fetch(char **out, size_t *len_out, const char *url, const char *prefixes)
{
    *out = NULL;
    if (len_out)
        *len_out = 0;
    char shown[160];
    cm__mail_shown(shown, sizeof shown, url);
    if (!cm__sns_url_allowed(url, prefixes))
        return cm__error_set(CM_EPERM, "SNS: %s is not under a trusted URL prefix", shown);
    CURL *h = curl_easy_init();
    if (!h)
        return cm__error_set(CM_ENOMEM, "SNS: cannot set up a download");
    fetch_buf b = {0};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,file");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTPS | CURLPROTO_FILE));
#endif
    CURLcode cc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    int rc = CM_OK;
    if (b.oom)
        rc = cm__oom();
    else if (b.too_big)
        rc = cm__error_set(CM_EIO, "SNS: %s is larger than %d bytes", shown, MAX_FETCH);
    else if (cc != CURLE_OK)
        rc = cm__error_set(cc == CURLE_OPERATION_TIMEDOUT ? CM_ETIMEOUT : CM_EIO,
                           "SNS: cannot fetch %s: %s", shown,
                           errbuf[0] ? errbuf : curl_easy_strerror(cc));
    if (rc) {
        cm__free(b.p);
        return rc;
    }
    if (!b.p && !(b.p = cm__strdup("")))
        return cm__oom();
    *out = b.p;
    if (len_out)
        *len_out = b.n;
    return CM_OK;
}

/* ---- the string to sign ---- */

int cm__sns_string_to_sign(char **out, const json_t *m)
{
    *out = NULL;
    const char *type = json_string_value(json_object_get(m, "Type"));
    static const char *const notif[] = {"Message",  "MessageId", "Subject", "Timestamp",
                                        "TopicArn", "Type",      NULL};
    static const char *const confirm[] = {"Message", "MessageId", "SubscribeURL", "Timestamp",
                                          "Token",   "TopicArn",  "Type",         NULL};
    const char *const *keys;
    if (type && strcmp(type, "Notification") == 0)
        keys = notif;
    else if (type && (strcmp(type, "SubscriptionConfirmation") == 0 ||
                      strcmp(type, "UnsubscribeConfirmation") == 0))
        keys = confirm;
    else
        return cm__error_set_field(CM_EINVAL, "Type", "SNS: unknown message type");
    cm__buf b = {0};
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(m, keys[i]);
        if (!v && strcmp(keys[i], "Subject") == 0)
            continue; /* the only optional member */
        if (!json_is_string(v)) {
            cm__free(b.p);
            return cm__error_set_field(CM_EINVAL, keys[i], "SNS: %s is missing", keys[i]);
        }
        cm__buf_puts(&b, keys[i]);
        cm__buf_puts(&b, "\n");
        cm__buf_put(&b, json_string_value(v), json_string_length(v));
        cm__buf_puts(&b, "\n");
    }
    if (b.err) {
        cm__free(b.p);
        return cm__oom();
    }
    *out = b.p;
    return CM_OK;
}

/* ---- certificates ---- */

typedef struct cache_slot {
    char *url;
    X509 *cert;
} cache_slot;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static cache_slot cache[CACHE_SLOTS];
static size_t cache_next;

static X509 *cache_get(const char *url)
{
    X509 *x = NULL;
    pthread_mutex_lock(&cache_mu);
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (cache[i].url && strcmp(cache[i].url, url) == 0) {
            x = cache[i].cert;
            X509_up_ref(x);
            break;
        }
    pthread_mutex_unlock(&cache_mu);
    return x;
}

static void cache_put(const char *url, X509 *x)
{
    char *u = cm__strdup(url);
    if (!u)
        return;
    X509_up_ref(x);
    pthread_mutex_lock(&cache_mu);
    cache_slot *s = &cache[cache_next++ % CACHE_SLOTS];
    char *old_url = s->url;
    X509 *old = s->cert;
    s->url = u;
    s->cert = x;
    pthread_mutex_unlock(&cache_mu);
    cm__free(old_url);
    X509_free(old);
}

void cm__sns_cache_clear(void)
{
    pthread_mutex_lock(&cache_mu);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        cm__free(cache[i].url);
        X509_free(cache[i].cert);
        cache[i].url = NULL;
        cache[i].cert = NULL;
    }
    pthread_mutex_unlock(&cache_mu);
}

/* Check x's chain against the trusted CAs, at the current time. */
static int verify_chain(X509 *x, const char *ca_file, const char *shown)
{
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = CM_OK;
    if (!st || !ctx) {
        rc = cm__oom();
        goto out;
    }
    if (ca_file && *ca_file) {
        if (X509_STORE_load_file(st, ca_file) != 1) {
            rc = cm__error_set(CM_EINVAL, "SNS: cannot read the CA file %s", ca_file);
            goto out;
        }
    } else if (X509_STORE_set_default_paths(st) != 1) {
        rc = cm__error_set(CM_EIO, "SNS: cannot load the system CA certificates");
        goto out;
    }
    if (X509_STORE_CTX_init(ctx, st, x, NULL) != 1) {
        rc = cm__oom();
        goto out;
    }
    if (X509_verify_cert(ctx) != 1)
        rc = cm__error_set(CM_EAUTH, "SNS: the certificate at %s is not trusted: %s", shown,
                           X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    return rc;
}

static int load_cert(X509 **out, const char *url, const cm__sns_trust *t)
{
    char shown[160];
    cm__mail_shown(shown, sizeof shown, url);
    if ((*out = cache_get(url)))
        return CM_OK;
    char *pem = NULL;
    size_t len = 0;
    int rc = cm__sns_fetch(&pem, &len, url, t->cert_prefixes);
    if (rc)
        return rc;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    cm__free(pem);
    if (!x)
        return cm__error_set(CM_EAUTH, "SNS: %s is not a PEM certificate", shown);
    if ((rc = verify_chain(x, t->ca_file, shown))) {
        X509_free(x);
        return rc;
    }
    cache_put(url, x);
    *out = x;
    return CM_OK;
}

/* ---- the signature ---- */

static int b64_decode(unsigned char **out, size_t *n, const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len % 4 || len > 8192)
        return -1;
    unsigned char *p = cm__malloc(len / 4 * 3 + 1);
    if (!p)
        return cm__oom();
    int k = EVP_DecodeBlock(p, (const unsigned char *)s, (int)len);
    if (k < 0) {
        cm__free(p);
        return -1;
    }
    size_t pad = (s[len - 1] == '=') + (s[len - 2] == '=');
    *out = p;
    *n = (size_t)k - pad;
    return CM_OK;
}

int cm__sns_verify(const json_t *m, const cm__sns_trust *t)
{
    if (!json_is_object(m))
        return cm__error_set(CM_EINVAL, "SNS: the message is not a JSON object");
    char *text = NULL;
    int rc = cm__sns_string_to_sign(&text, m);
    if (rc)
        return rc;
    const char *ver = json_string_value(json_object_get(m, "SignatureVersion"));
    const char *sig64 = json_string_value(json_object_get(m, "Signature"));
    const char *url = json_string_value(json_object_get(m, "SigningCertURL"));
    const EVP_MD *md = NULL;
    if (ver && strcmp(ver, "1") == 0)
        md = EVP_sha1();
    else if (ver && strcmp(ver, "2") == 0)
        md = EVP_sha256();
    unsigned char *sig = NULL;
    size_t siglen = 0;
    X509 *x = NULL;
    EVP_MD_CTX *mctx = NULL;
    if (!md) {
        rc = cm__error_set_field(CM_EINVAL, "SignatureVersion",
                                 "SNS: SignatureVersion must be \"1\" or \"2\"");
        goto out;
    }
    if (!url) {
        rc = cm__error_set_field(CM_EINVAL, "SigningCertURL", "SNS: SigningCertURL is missing");
        goto out;
    }
    if (!sig64 || (rc = b64_decode(&sig, &siglen, sig64)) != CM_OK) {
        if (rc != CM_ENOMEM)
            rc = cm__error_set_field(CM_EINVAL, "Signature", "SNS: Signature is not base64");
        goto out;
    }
    if ((rc = load_cert(&x, url, t)))
        goto out;
    const char *ts = json_string_value(json_object_get(m, "Timestamp"));
    int64_t at = 0;
    if (!ts || cm__time_parse(&at, ts) != CM_OK) {
        rc = cm__error_set_field(CM_EINVAL, "Timestamp", "SNS: Timestamp is not an RFC 3339 time");
        goto out;
    }
    EVP_PKEY *key = X509_get0_pubkey(x);
    if (!key || !(mctx = EVP_MD_CTX_new())) {
        rc = cm__error_set(CM_EAUTH, "SNS: the certificate has no usable public key");
        goto out;
    }
    if (EVP_DigestVerifyInit(mctx, NULL, md, NULL, key) != 1 ||
        EVP_DigestVerify(mctx, sig, siglen, (const unsigned char *)text, strlen(text)) != 1) {
        rc = cm__error_set(CM_EAUTH, "SNS: the signature does not match the message");
        goto out;
    }
    /* Signed, so the time is SNS's: refuse an old message replayed later
     * (SNS itself retries for at most an hour by default). */
    if (t->max_age_us > 0 && (at < t->now_us - t->max_age_us || at > t->now_us + t->max_age_us)) {
        char shown[40];
        cm__mail_shown(shown, sizeof shown, ts);
        rc = cm__error_set_field(CM_EAUTH, "Timestamp",
                                 "SNS: the message was signed at %s, outside the accepted window "
                                 "of %lld s",
                                 shown, (long long)(t->max_age_us / 1000000));
    }
out:
    EVP_MD_CTX_free(mctx);
    X509_free(x);
    cm__free(sig);
    cm__free(text);
    return rc;
}
