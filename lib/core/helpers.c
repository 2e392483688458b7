/*
 * helpers.c - small helpers shared by operation handlers: role checks,
 * metric counters, column-to-JSON copies, pagination cursors and tokens.
 */
#include "ops_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

int cm__sodium_ready(void);

int cm__require_member(cm__ctx *ctx)
{
    if (ctx->actor->role == CM_ROLE_SYSTEM || ctx->actor->member_id > 0)
        return CM_OK;
    return cm__error_set(CM_EAUTH, "%s requires a signed-in member", ctx->op->name);
}

bool cm__actor_at_least(cm__ctx *ctx, int role)
{
    return ctx->actor->role >= role;
}

int cm__metric_add(cm__ctx *ctx, const char *name, int64_t delta)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "metric.add");
    if (rc)
        return rc;
    cm__q_text(&q, 1, name);
    cm__q_int64(&q, 2, delta);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    return cm__ok(rc);
}

void cm__json_set_col_text(json_t *obj, const char *key, cm__q *q, int col)
{
    if (cm__q_is_null(q, col))
        json_object_set_new(obj, key, json_null());
    else
        json_object_set_new(obj, key, json_string(cm__q_col_text(q, col)));
}

void cm__json_set_col_int(json_t *obj, const char *key, cm__q *q, int col)
{
    if (cm__q_is_null(q, col))
        json_object_set_new(obj, key, json_null());
    else
        json_object_set_new(obj, key, json_integer(cm__q_col_int64(q, col)));
}

void cm__json_set_col_time(json_t *obj, const char *key, cm__q *q, int col)
{
    if (cm__q_is_null(q, col))
        json_object_set_new(obj, key, json_null());
    else
        cm__json_set_time(obj, key, cm__q_col_int64(q, col));
}

/* Cursors are "c1.<a>.<b>" in hex: opaque to clients, cheap to check. */
void cm__cursor_encode(char out[48], int64_t a, int64_t b)
{
    (void)snprintf(out, 48, "c1.%llx.%llx", (unsigned long long)a, (unsigned long long)b);
}

json_t *cm__page(json_t *items, bool more, int64_t a, int64_t b)
{
    json_t *res = json_object();
    json_object_set_new(res, "items", items);
    if (more) {
        char c[48];
        cm__cursor_encode(c, a, b);
        json_object_set_new(res, "next_cursor", json_string(c));
    } else {
        json_object_set_new(res, "next_cursor", json_null());
    }
    return res;
}

int cm__cursor_decode(int64_t *a, int64_t *b, const char *s)
{
    unsigned long long x, y;
    int n = 0;
    if (strncmp(s, "c1.", 3) != 0 || sscanf(s + 3, "%16llx.%16llx%n", &x, &y, &n) != 2 ||
        s[3 + n] != '\0')
        return cm__error_set_field(CM_EINVAL, "cursor", "cursor: not a cursor from a previous page");
    *a = (int64_t)x;
    *b = (int64_t)y;
    return CM_OK;
}

void cm__token_hash(char out[65], const char *token)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    for (size_t i = 0; i < sizeof h; i++)
        (void)snprintf(out + 2 * i, 3, "%02x", h[i]);
}

int cm__token_new(char out[64], const char *prefix)
{
    unsigned char raw[32];
    int rc = cm__random_bytes(raw, sizeof raw);
    if (rc)
        return rc;
    size_t p = strlen(prefix);
    memcpy(out, prefix, p);
    sodium_bin2base64(out + p, 64 - p, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    return CM_OK;
}
