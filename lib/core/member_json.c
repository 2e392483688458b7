/*
 * member_json.c - the JSON shape of a member, with the fields a viewer may
 * see: e-mail only for the member themself and staff.
 */
#include "member_int.h"

#include <string.h>

/* Columns of "member.get"/"member.list": id, email, name, headline, bio,
 * interests, timezone, visibility, discoverable, role, status, created_at,
 * updated_at. */
json_t *cm__member_json(cm__q *q, bool with_private)
{
    json_t *m = json_object();
    cm__json_set_col_int(m, "id", q, 0);
    if (with_private)
        cm__json_set_col_text(m, "email", q, 1);
    cm__json_set_col_text(m, "name", q, 2);
    cm__json_set_col_text(m, "headline", q, 3);
    cm__json_set_col_text(m, "bio", q, 4);
    json_t *interests = json_loads(cm__q_col_text(q, 5), 0, NULL);
    json_object_set_new(m, "interests", interests ? interests : json_array());
    cm__json_set_col_text(m, "timezone", q, 6);
    cm__json_set_col_text(m, "visibility", q, 7);
    json_object_set_new(m, "discoverable", json_boolean(cm__q_col_int64(q, 8)));
    cm__json_set_col_text(m, "role", q, 9);
    if (with_private)
        cm__json_set_col_text(m, "status", q, 10);
    cm__json_set_col_time(m, "created_at", q, 11);
    return m;
}

bool cm__member_visible(cm__ctx *ctx, int64_t member_id, const char *visibility)
{
    if (ctx->actor->member_id == member_id || cm__actor_at_least(ctx, CM_ROLE_MODERATOR))
        return true;
    if (strcmp(visibility, "public") == 0)
        return true;
    if (strcmp(visibility, "members") == 0)
        return ctx->actor->member_id > 0;
    return false;
}

int cm__member_load(json_t **out, cm__ctx *ctx, int64_t id)
{
    *out = NULL;
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "member.get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    if (rc == 1) {
        bool self_or_staff =
            ctx->actor->member_id == id || cm__actor_at_least(ctx, CM_ROLE_MODERATOR);
        if (!cm__member_visible(ctx, id, cm__q_col_text(&q, 7)) ||
            (!self_or_staff && strcmp(cm__q_col_text(&q, 10), "active") != 0))
            rc = cm__error_set_field(CM_ENOTFOUND, "member_id", "member %lld not found",
                                     (long long)id);
        else {
            *out = cm__member_json(&q, self_or_staff);
            rc = CM_OK;
        }
    } else if (rc == 0) {
        rc = cm__error_set_field(CM_ENOTFOUND, "member_id", "member %lld not found", (long long)id);
    }
    cm__q_close(&q);
    return rc;
}
