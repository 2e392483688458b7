/*
 * aws_creds.c - AWS credentials for S3 and SES (aws_creds.h): static keys,
 * or the ECS/EKS container credentials endpoint over the internal HTTP
 * client, cached until 5 minutes before they expire.
 */
#include "aws_creds.h"

#include "http_client.h"
#include "json.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ECS_AGENT "http://169.254.170.2"

struct cm__aws_creds {
    char *what;
    /* the endpoint (NULL for static keys) and its authorization */
    char *url;
    char *auth_token;
    char *auth_token_file;
    pthread_mutex_t lock;
    cm__aws_key key;    /* the static or the cached credentials */
    int64_t expires_us; /* 0: never (static keys, or no Expiration) */
    bool have;
    int64_t fetches;
};

static void wipe_free(char *p)
{
    if (p) {
        memset(p, 0, strlen(p));
        cm__free(p);
    }
}

void cm__aws_key_dispose(cm__aws_key *k)
{
    if (!k)
        return;
    cm__free(k->access_key);
    wipe_free(k->secret_key);
    wipe_free(k->token);
    *k = (cm__aws_key){0};
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

bool cm__aws_creds_in_env(void)
{
    return env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
           env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
}

/* The SDKs' rule for a full URI over plain http: only to this machine or
 * to the ECS/EKS agents, so that the token and the credentials never cross
 * a network unencrypted. */
static bool http_host_allowed(const char *url)
{
    const char *h = url + 7; /* after "http://" */
    size_t n = strcspn(h, "/?#");
    char host[64];
    if (n == 0 || n >= sizeof host || memchr(h, '@', n))
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    if (host[0] == '[') { /* [v6]:port */
        char *e = strchr(host, ']');
        if (!e)
            return false;
        *e = '\0';
        return strcmp(host + 1, "::1") == 0 || strcmp(host + 1, "fd00:ec2::23") == 0;
    }
    char *colon = strchr(host, ':');
    if (colon)
        *colon = '\0';
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "localhost") == 0 ||
           strcmp(host, "169.254.170.2") == 0 || strcmp(host, "169.254.170.23") == 0;
}

int cm__aws_creds_open(cm__aws_creds **out, const char *access_key, const char *secret_key,
                       const char *token, const char *what)
{
    *out = NULL;
    bool keys = access_key && *access_key && secret_key && *secret_key;
    const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (!keys && !rel && !full)
        return cm__error_set(CM_EINVAL,
                             "%s: no credentials: give an access key and a secret key, or run "
                             "where AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI is set "
                             "(an ECS task role, EKS pod identity)",
                             what);
    if (!keys && rel && rel[0] != '/')
        return cm__error_set(
            CM_EINVAL, "%s: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with '/'", what);
    if (!keys && !rel) {
        bool https = strncmp(full, "https://", 8) == 0;
        bool http = strncmp(full, "http://", 7) == 0;
        if (!https && !(http && http_host_allowed(full)))
            return cm__error_set(CM_EINVAL,
                                 "%s: AWS_CONTAINER_CREDENTIALS_FULL_URI must be https://, or "
                                 "http:// to a loopback address or 169.254.170.2/.23",
                                 what);
    }
    cm__aws_creds *c = cm__calloc(1, sizeof *c);
    if (!c)
        return cm__oom();
    pthread_mutex_init(&c->lock, NULL);
    bool oom = !(c->what = cm__strdup(what));
    if (keys) {
        c->key.access_key = cm__strdup(access_key);
        c->key.secret_key = cm__strdup(secret_key);
        c->key.token = token && *token ? cm__strdup(token) : NULL;
        oom = oom || !c->key.access_key || !c->key.secret_key || (token && *token && !c->key.token);
        c->have = true;
    } else {
        cm__buf u = {0};
        if (rel) {
            cm__buf_puts(&u, ECS_AGENT);
            cm__buf_puts(&u, rel);
        } else {
            cm__buf_puts(&u, full);
        }
        c->url = u.p;
        oom = oom || u.err;
        /* the SDKs' order: the file wins over the value */
        const char *tf = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
        const char *tv = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
        if (tf)
            oom = oom || !(c->auth_token_file = cm__strdup(tf));
        else if (tv)
            oom = oom || !(c->auth_token = cm__strdup(tv));
    }
    if (oom) {
        cm__aws_creds_close(c);
        return cm__oom();
    }
    *out = c;
    return CM_OK;
}

void cm__aws_creds_close(cm__aws_creds *c)
{
    if (!c)
        return;
    cm__aws_key_dispose(&c->key);
    cm__free(c->what);
    cm__free(c->url);
    wipe_free(c->auth_token);
    cm__free(c->auth_token_file);
    pthread_mutex_destroy(&c->lock);
    cm__free(c);
}

/* The authorization token from its file, trimmed, into *out. */
static int read_token_file(char **out, const cm__aws_creds *c)
{
    *out = NULL;
    FILE *f = fopen(c->auth_token_file, "re");
    if (!f)
        return cm__error_set(CM_EAUTH, "%s: cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s",
                             c->what, c->auth_token_file);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    (void)fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    int rc = CM_OK;
    if (n == 0)
        rc = cm__error_set(CM_EAUTH, "%s: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s is empty",
                           c->what, c->auth_token_file);
    else if (!(*out = cm__strdup(buf)))
        rc = cm__oom();
    memset(buf, 0, sizeof buf);
    return rc;
}

/* Ask the endpoint; on success replace the cached credentials. Called with
 * the lock held. */
static int fetch(cm__aws_creds *c)
{
    char *file_token = NULL;
    int rc = c->auth_token_file ? read_token_file(&file_token, c) : CM_OK;
    if (rc)
        return rc;
    const char *token = file_token ? file_token : c->auth_token;
    cm__buf h = {0};
    if (token) {
        cm__buf_puts(&h, "Authorization: ");
        cm__buf_puts(&h, token);
    }
    const char *lines[1] = {h.p};
    const char *secrets[] = {token, NULL};
    cm__http_request req = {.method = "GET",
                            .url = c->url,
                            .headers = lines,
                            .n_headers = token ? 1 : 0,
                            .secrets = secrets,
                            .timeout_ms = 5000,
                            .connect_timeout_ms = 2000,
                            .max_response = 64 * 1024,
                            .what = "container credentials"};
    cm__http_response resp;
    c->fetches++;
    rc = h.err ? cm__oom() : cm__http_perform(&resp, &req);
    wipe_free(h.p);
    wipe_free(file_token);
    if (rc) {
        cm__http_response_dispose(&resp);
        return rc;
    }
    json_t *o = NULL;
    if (resp.status != 200) {
        rc = cm__error_set(CM_EAUTH, "%s: the container credentials endpoint answered HTTP %ld",
                           c->what, resp.status);
    } else if (!resp.body || !(o = json_loadb(resp.body, resp.body_len, 0, NULL)) ||
               !json_is_object(o)) {
        rc = cm__error_set(CM_EAUTH,
                           "%s: the container credentials endpoint answered no JSON "
                           "object",
                           c->what);
    }
    const char *ak = o ? cm__json_str(o, "AccessKeyId") : NULL;
    const char *sk = o ? cm__json_str(o, "SecretAccessKey") : NULL;
    const char *tk = o ? cm__json_str(o, "Token") : NULL;
    const char *exp = o ? cm__json_str(o, "Expiration") : NULL;
    int64_t exp_us = 0;
    if (!rc && (!ak || !*ak || !sk || !*sk))
        rc = cm__error_set(CM_EAUTH,
                           "%s: the container credentials have no AccessKeyId or "
                           "SecretAccessKey",
                           c->what);
    if (!rc && exp && cm__time_parse(&exp_us, exp) != CM_OK)
        rc = cm__error_set(CM_EAUTH, "%s: the container credentials' Expiration is not a time",
                           c->what);
    if (!rc) {
        cm__aws_key k = {cm__strdup(ak), cm__strdup(sk), tk && *tk ? cm__strdup(tk) : NULL};
        if (!k.access_key || !k.secret_key || (tk && *tk && !k.token)) {
            cm__aws_key_dispose(&k);
            rc = cm__oom();
        } else {
            cm__aws_key_dispose(&c->key);
            c->key = k;
            c->expires_us = exp_us;
            c->have = true;
        }
    }
    json_decref(o);
    if (resp.body)
        memset(resp.body, 0, resp.body_len);
    cm__http_response_dispose(&resp);
    return rc;
}

int cm__aws_creds_get(cm__aws_key *out, cm__aws_creds *c)
{
    *out = (cm__aws_key){0};
    pthread_mutex_lock(&c->lock);
    int rc = CM_OK;
    int64_t now = cm_now_us();
    if (c->url &&
        (!c->have || (c->expires_us && now >= c->expires_us - CM__AWS_CREDS_REFRESH_US))) {
        rc = fetch(c);
        /* a failed refresh: the cached credentials serve until they expire */
        if (rc && c->have && (!c->expires_us || now < c->expires_us)) {
            cm_error_clear();
            rc = CM_OK;
        }
    }
    if (!rc) {
        out->access_key = cm__strdup(c->key.access_key);
        out->secret_key = cm__strdup(c->key.secret_key);
        out->token = c->key.token ? cm__strdup(c->key.token) : NULL;
        if (!out->access_key || !out->secret_key || (c->key.token && !out->token)) {
            cm__aws_key_dispose(out);
            rc = cm__oom();
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int64_t cm__aws_creds_fetches(cm__aws_creds *c)
{
    pthread_mutex_lock(&c->lock);
    int64_t n = c->fetches;
    pthread_mutex_unlock(&c->lock);
    return n;
}
