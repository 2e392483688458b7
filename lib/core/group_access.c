/*
 * group_access.c - the acting member's standing in a group and the
 * private-group visibility rule (stated in group_int.h), plus small
 * helpers shared by the group and post modules.
 */
#include "group_int.h"
#include "pay_int.h"

#include <stdio.h>
#include <string.h>

const char *const cm__reaction_kinds[] = {"like",      "love",    "insightful",
                                          "celebrate", "curious", NULL};

static const char *const role_names[] = {NULL, "member", "moderator", "admin", "owner"};
static const char *const status_names[] = {NULL, "active", "pending", "invited", "banned"};

int cm__group_role_parse(const char *s)
{
    for (int i = 1; i <= CM__GR_OWNER; i++)
        if (s && strcmp(s, role_names[i]) == 0)
            return i;
    return -1;
}

const char *cm__group_role_name(int rank)
{
    return rank >= CM__GR_MEMBER && rank <= CM__GR_OWNER ? role_names[rank] : NULL;
}

int cm__group_status_parse(const char *s)
{
    for (int i = 1; i <= CM__GM_BANNED; i++)
        if (s && strcmp(s, status_names[i]) == 0)
            return i;
    return -1;
}

int cm__require_member_id(cm__ctx *ctx)
{
    if (ctx->actor->member_id > 0)
        return CM_OK;
    return cm__error_set(CM_EAUTH,
                         "%s needs a signed-in member (the system actor cannot act "
                         "as one)",
                         ctx->op->name);
}

bool cm__group_can_read(const cm__group_access *a)
{
    return !a->is_private || a->staff || a->status == CM__GM_ACTIVE;
}

bool cm__group_visible(const cm__group_access *a)
{
    return cm__group_can_read(a) || a->status == CM__GM_INVITED;
}

int cm__group_rank(const cm__group_access *a)
{
    return a->status == CM__GM_ACTIVE ? a->role : CM__GR_NONE;
}

int cm__group_admin_rank(const cm__group_access *a, cm__ctx *ctx)
{
    if (cm__actor_at_least(ctx, CM_ROLE_ADMIN))
        return CM__GR_OWNER;
    return cm__group_rank(a);
}

static int not_found(const char *field, int64_t id)
{
    return cm__error_set_field(CM_ENOTFOUND, field, "group %lld not found", (long long)id);
}

int cm__group_require_read(const cm__group_access *a, const char *field)
{
    if (cm__group_can_read(a))
        return CM_OK;
    if (a->status == CM__GM_INVITED)
        return cm__error_set_field(CM_EPERM, field,
                                   "%s: accept the invitation (groups.join) to see this "
                                   "group's content",
                                   field);
    return not_found(field, a->id);
}

int cm__group_access_load(cm__group_access *out, cm__ctx *ctx, int64_t group_id, const char *field)
{
    memset(out, 0, sizeof *out);
    out->id = group_id;
    out->staff = cm__actor_at_least(ctx, CM_ROLE_MODERATOR);
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "group.access");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, group_id);
    cm__q_int64(&q, 2, ctx->actor->member_id);
    rc = cm__q_step(&q);
    if (rc == 1) {
        out->is_private = strcmp(cm__q_col_text(&q, 0), "private") == 0;
        (void)snprintf(out->join_policy, sizeof out->join_policy, "%s", cm__q_col_text(&q, 1));
        if (!cm__q_is_null(&q, 2)) {
            int r = cm__group_role_parse(cm__q_col_text(&q, 2));
            int s = cm__group_status_parse(cm__q_col_text(&q, 3));
            out->role = r > 0 ? r : CM__GR_NONE;
            out->status = s > 0 ? s : CM__GM_NONE;
        }
    }
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (rc == 1 && !out->staff && ctx->actor->member_id > 0 && out->status != CM__GM_ACTIVE &&
        out->status != CM__GM_BANNED) {
        bool tier = false;
        int trc = cm__tier_grants(&tier, ctx, ctx->actor->member_id, "group", group_id);
        if (trc)
            return trc;
        if (tier) {
            out->via_tier = true;
            out->status = CM__GM_ACTIVE;
            out->role = CM__GR_MEMBER;
        }
    }
    if (rc == 0 || !cm__group_visible(out))
        return not_found(field, group_id);
    return CM_OK;
}

char *cm__like_pattern(const char *q, bool *oom)
{
    *oom = false;
    if (!q)
        return NULL;
    size_t n = strlen(q);
    char *p = cm__malloc(2 * n + 3);
    if (!p) {
        *oom = true;
        return NULL;
    }
    size_t j = 0;
    p[j++] = '%';
    for (size_t i = 0; i < n; i++) {
        if (q[i] == '\\' || q[i] == '%' || q[i] == '_')
            p[j++] = '\\';
        p[j++] = q[i];
    }
    p[j++] = '%';
    p[j] = '\0';
    return p;
}

void cm__json_set_reactions(json_t *obj, cm__q *q, int col)
{
    json_t *counts = json_object(), *mine = json_array();
    for (int i = 0; i < CM__N_REACTION_KINDS; i++) {
        json_object_set_new(counts, cm__reaction_kinds[i],
                            json_integer(cm__q_col_int64(q, col + i)));
        if (cm__q_col_int64(q, col + CM__N_REACTION_KINDS + i))
            json_array_append_new(mine, json_string(cm__reaction_kinds[i]));
    }
    json_object_set_new(obj, "reactions", counts);
    json_object_set_new(obj, "my_reactions", mine);
}
