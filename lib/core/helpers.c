/*
 * helpers.c - small helpers shared by operation handlers: role checks and
 * tokens.
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

int cm__page_collect(json_t **out, cm__q *q, int64_t limit, int key_col, int key2_col,
                     json_t *(*row)(cm__q *q, void *payload), void *payload)
{
    json_t *items = json_array();
    int64_t a = 0, b = 0;
    bool more = false;
    int rc;
    while ((rc = cm__q_step(q)) == 1) {
        if ((int64_t)json_array_size(items) == limit) {
            more = true;
            break;
        }
        a = cm__q_col_int64(q, key_col);
        b = key2_col >= 0 ? cm__q_col_int64(q, key2_col) : 0;
        json_t *item = row(q, payload);
        if (item)
            json_array_append_new(items, item);
    }
    cm__q_close(q);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = cm__page(items, more, a, b);
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
