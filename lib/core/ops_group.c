/*
 * ops_group.c - group operations: chapters and interest circles, their
 * memberships (join policies, approval, invitations, bans) and group
 * roles. Group roles (owner, admin, moderator, member) are separate from
 * platform roles; platform admins act as group owners for administrative
 * acts, and platform moderators and admins see private groups. The
 * visibility rule of private groups is stated in group_int.h.
 */
#include "group_int.h"
#include "pay_int.h"

#include <string.h>

static const char *const kind_values[] = {"chapter", "interest", NULL};
static const char *const policy_values[] = {"open", "approval", "invite", NULL};
static const char *const visibility_values[] = {"public", "private", NULL};
static const char *const group_role_values[] = {"owner", "admin", "moderator", "member", NULL};
static const char *const member_status_values[] = {"active", "pending", "invited", "banned", NULL};

/* Slugs are [a-z0-9-]; the length (2..64) is checked by the schema. */
static int check_slug(const char *slug)
{
    if (!slug)
        return CM_OK;
    for (const char *p = slug; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return cm__error_set_field(CM_EINVAL, "slug",
                                       "slug: only lower-case letters, digits and '-'");
    return CM_OK;
}

/* A group as the viewer sees it, from a GROUP_COLS row. A private group
 * the viewer is only invited to is shown as an invitation: basic fields,
 * no member count. Returns NULL when the row is hidden from the viewer.
 * via_tier: the viewer's membership tier unlocks the group (group_int.h). */
static json_t *group_json(cm__ctx *ctx, cm__q *q, bool via_tier)
{
    bool is_private = strcmp(cm__q_col_text(q, 6), "private") == 0;
    bool staff = cm__actor_at_least(ctx, CM_ROLE_MODERATOR);
    int status = cm__q_is_null(q, 12) ? CM__GM_NONE : cm__group_status_parse(cm__q_col_text(q, 12));
    bool reads = staff || status == CM__GM_ACTIVE || (via_tier && status != CM__GM_BANNED);
    bool invitation = is_private && !reads && status == CM__GM_INVITED;
    if (is_private && !reads && !invitation)
        return NULL;
    json_t *g = json_object();
    cm__json_set_col_int(g, "id", q, 0);
    cm__json_set_col_text(g, "slug", q, 1);
    cm__json_set_col_text(g, "name", q, 2);
    cm__json_set_col_text(g, "description", q, 3);
    cm__json_set_col_text(g, "kind", q, 4);
    cm__json_set_col_text(g, "join_policy", q, 5);
    cm__json_set_col_text(g, "visibility", q, 6);
    json_object_set_new(g, "invitation", json_boolean(invitation));
    if (!invitation) {
        cm__json_set_col_int(g, "created_by", q, 7);
        cm__json_set_col_time(g, "created_at", q, 8);
        cm__json_set_col_time(g, "updated_at", q, 9);
        cm__json_set_col_int(g, "member_count", q, 10);
    }
    if (status == CM__GM_NONE) {
        json_object_set_new(g, "membership", json_null());
    } else {
        json_t *m = json_object();
        cm__json_set_col_text(m, "role", q, 11);
        cm__json_set_col_text(m, "status", q, 12);
        json_object_set_new(g, "membership", m);
    }
    return g;
}

/* Load group id as the viewer sees it; CM_ENOTFOUND when absent or hidden. */
static int group_load(json_t **out, cm__ctx *ctx, int64_t id)
{
    *out = NULL;
    bool tier = false;
    int rc = cm__tier_grants(&tier, ctx, ctx->actor->member_id, "group", id);
    cm__q q;
    if (rc || (rc = cm__q_open(&q, ctx->conn, "group.get")))
        return rc;
    cm__q_int64(&q, 1, ctx->actor->member_id);
    cm__q_int64(&q, 2, id);
    rc = cm__q_step(&q);
    if (rc == 1)
        *out = group_json(ctx, &q, tier);
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (!*out)
        return cm__error_set_field(CM_ENOTFOUND, "group_id", "group %lld not found", (long long)id);
    return CM_OK;
}

static json_t *membership_json(int64_t group_id, int64_t member_id, int role, int status)
{
    static const char *const statuses[] = {NULL, "active", "pending", "invited", "banned"};
    json_t *m = json_object();
    json_object_set_new(m, "group_id", json_integer(group_id));
    json_object_set_new(m, "member_id", json_integer(member_id));
    json_object_set_new(m, "role", json_string(cm__group_role_name(role)));
    json_object_set_new(m, "status", json_string(statuses[status]));
    return m;
}

/* The (role, status) row of member_id in group_id; CM__GM_NONE when none. */
static int member_row(cm__ctx *ctx, int64_t group_id, int64_t member_id, int *role, int *status)
{
    *role = CM__GR_NONE;
    *status = CM__GM_NONE;
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "group.member_get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, group_id);
    cm__q_int64(&q, 2, member_id);
    rc = cm__q_step(&q);
    if (rc == 1) {
        int r = cm__group_role_parse(cm__q_col_text(&q, 0));
        int s = cm__group_status_parse(cm__q_col_text(&q, 1));
        *role = r > 0 ? r : CM__GR_MEMBER;
        *status = s > 0 ? s : CM__GM_NONE;
    }
    cm__q_close(&q);
    return cm__ok(rc);
}

static int member_insert(cm__ctx *ctx, int64_t group_id, int64_t member_id, int role,
                         const char *status)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "group.member_insert");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, group_id);
    cm__q_int64(&q, 2, member_id);
    cm__q_text(&q, 3, cm__group_role_name(role));
    cm__q_text(&q, 4, status);
    cm__q_int64(&q, 5, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc;
}

/* Update role and/or status (NULL keeps the current value). */
static int member_set(cm__ctx *ctx, int64_t group_id, int64_t member_id, const char *role,
                      const char *status)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "group.member_set");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, group_id);
    cm__q_int64(&q, 2, member_id);
    cm__q_text(&q, 3, role);
    cm__q_text(&q, 4, status);
    cm__q_int64(&q, 5, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc;
}

static int member_delete(cm__ctx *ctx, int64_t group_id, int64_t member_id)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "group.member_delete");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, group_id);
    cm__q_int64(&q, 2, member_id);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc;
}

static int owner_count(cm__ctx *ctx, int64_t group_id, int64_t *n)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "group.owner_count");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, group_id);
    rc = cm__q_step(&q);
    *n = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    return cm__ok(rc);
}

/* CM_ENOTFOUND (field member_id) unless member_id is an active member. */
static int require_active_member(cm__ctx *ctx, int64_t member_id, const char *field)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "group.member_active");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, member_id);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    if (rc == 0)
        return cm__error_set_field(CM_ENOTFOUND, field, "member %lld not found",
                                   (long long)member_id);
    return cm__ok(rc);
}

/* Load access to the group named by in.group_id and require an
 * administrative rank of at least `min` (CM_EPERM otherwise). */
static int require_rank(cm__group_access *acc, cm__ctx *ctx, json_t *in, int min, const char *what)
{
    int rc = cm__group_access_load(acc, ctx, cm__json_int(in, "group_id", 0), "group_id");
    if (rc)
        return rc;
    if (cm__group_admin_rank(acc, ctx) < min)
        return cm__error_set_field(
            CM_EPERM, "group_id", "group_id: only group %s may %s",
            min >= CM__GR_ADMIN ? "owners and admins" : "owners, admins and moderators", what);
    ctx->target_type = "group";
    ctx->target_id = acc->id;
    return CM_OK;
}

static int op_create(cm__ctx *ctx, json_t *in, json_t **out)
{
    const char *slug = cm__json_str(in, "slug");
    int rc = check_slug(slug);
    if (rc)
        return rc;
    int64_t owner = ctx->actor->member_id;
    if (cm__json_has(in, "owner_id")) {
        if (!cm__actor_at_least(ctx, CM_ROLE_ADMIN))
            return cm__error_set_field(CM_EPERM, "owner_id",
                                       "owner_id: only admins may name another owner");
        owner = cm__json_int(in, "owner_id", 0);
        if ((rc = require_active_member(ctx, owner, "owner_id")))
            return rc;
    }
    if (owner == 0)
        return cm__error_set_field(CM_EINVAL, "owner_id",
                                   "owner_id: required for the system actor");
    const char *desc = cm__json_str(in, "description");
    const char *policy = cm__json_str(in, "join_policy");
    const char *vis = cm__json_str(in, "visibility");
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "group.insert")))
        return rc;
    cm__q_text(&q, 1, slug);
    cm__q_text(&q, 2, cm__json_str(in, "name"));
    cm__q_text(&q, 3, desc ? desc : "");
    cm__q_text(&q, 4, cm__json_str(in, "kind"));
    cm__q_text(&q, 5, policy ? policy : "open");
    cm__q_text(&q, 6, vis ? vis : "public");
    cm__q_int64(&q, 7, owner);
    cm__q_int64(&q, 8, ctx->now);
    rc = cm__q_step(&q);
    int64_t id = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if (rc == CM_EEXISTS)
        return cm__error_set_field(CM_EEXISTS, "slug", "slug: a group with slug '%s' exists", slug);
    if (rc < 0)
        return rc;
    if ((rc = member_insert(ctx, id, owner, CM__GR_OWNER, "active")))
        return rc;
    ctx->target_type = "group";
    ctx->target_id = id;
    return group_load(out, ctx, id);
}

static int op_get(cm__ctx *ctx, json_t *in, json_t **out)
{
    return group_load(out, ctx, cm__json_int(in, "group_id", 0));
}

/* A listed group; NULL (left out) when hidden from the viewer: the SQL
 * applies the same rule, this is defence in depth. Column 13 says whether
 * a membership tier unlocks the group for the viewer. */
static json_t *group_row(cm__q *q, void *payload)
{
    return group_json(payload, q, cm__q_col_int64(q, 13) != 0);
}

static int op_list(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t after = 0, unused;
    int rc;
    const char *cursor = cm__json_str(in, "cursor");
    if (cursor && (rc = cm__cursor_decode(&after, &unused, cursor)))
        return rc;
    int64_t limit = cm__json_int(in, "limit", 20);
    bool oom;
    char *like = cm__like_pattern(cm__json_str(in, "q"), &oom);
    if (oom)
        return cm__oom();
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "group.list"))) {
        cm__free(like);
        return rc;
    }
    cm__q_int64(&q, 1, ctx->actor->member_id);
    cm__q_int64(&q, 2, after);
    cm__q_int64(&q, 3, cm__actor_at_least(ctx, CM_ROLE_MODERATOR));
    cm__q_text(&q, 4, cm__json_str(in, "kind"));
    cm__q_text(&q, 5, like);
    cm__q_int64(&q, 6, cm__json_bool(in, "mine", false));
    cm__q_int64(&q, 7, limit + 1);
    cm__q_int64(&q, 8, ctx->now);
    cm__q_int64(&q, 9, cm__pay_grace_us(ctx->store));
    rc = cm__page_collect(out, &q, limit, 0, -1, group_row, ctx);
    cm__free(like);
    return rc;
}

static int op_update(cm__ctx *ctx, json_t *in, json_t **out)
{
    int rc = check_slug(cm__json_str(in, "slug"));
    if (rc)
        return rc;
    cm__group_access acc;
    if ((rc = require_rank(&acc, ctx, in, CM__GR_ADMIN, "edit the group")))
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "group.update")))
        return rc;
    cm__q_int64(&q, 1, acc.id);
    cm__q_text(&q, 2, cm__json_str(in, "slug"));
    cm__q_text(&q, 3, cm__json_str(in, "name"));
    cm__q_text(&q, 4, cm__json_str(in, "description"));
    cm__q_text(&q, 5, cm__json_str(in, "kind"));
    cm__q_text(&q, 6, cm__json_str(in, "join_policy"));
    cm__q_text(&q, 7, cm__json_str(in, "visibility"));
    cm__q_int64(&q, 8, ctx->now);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    if (rc == CM_EEXISTS)
        return cm__error_set_field(CM_EEXISTS, "slug", "slug: a group with slug '%s' exists",
                                   cm__json_str(in, "slug"));
    if (rc < 0)
        return rc;
    return group_load(out, ctx, acc.id);
}

static int op_join(cm__ctx *ctx, json_t *in, json_t **out)
{
    int rc = cm__require_member_id(ctx);
    if (rc)
        return rc;
    cm__group_access acc;
    if ((rc = cm__group_access_load(&acc, ctx, cm__json_int(in, "group_id", 0), "group_id")))
        return rc;
    int64_t me = ctx->actor->member_id;
    int status;
    switch (acc.status) {
        case CM__GM_ACTIVE:
            return cm__error_set_field(CM_EEXISTS, "group_id",
                                       acc.via_tier
                                           ? "group_id: you are a member through your membership"
                                           : "group_id: you are already a member");
        case CM__GM_PENDING:
            return cm__error_set_field(CM_EEXISTS, "group_id",
                                       "group_id: your request to join is pending");
        case CM__GM_BANNED:
            return cm__error_set_field(CM_EPERM, "group_id",
                                       "group_id: you are banned from this group");
        case CM__GM_INVITED:
            rc = member_set(ctx, acc.id, me, NULL, "active");
            status = CM__GM_ACTIVE;
            break;
        default:
            if (strcmp(acc.join_policy, "invite") == 0)
                return cm__error_set_field(CM_EPERM, "group_id",
                                           "group_id: this group is invitation-only");
            status = strcmp(acc.join_policy, "open") == 0 ? CM__GM_ACTIVE : CM__GM_PENDING;
            rc = member_insert(ctx, acc.id, me, CM__GR_MEMBER,
                               status == CM__GM_ACTIVE ? "active" : "pending");
            acc.role = CM__GR_MEMBER;
            break;
    }
    if (rc)
        return rc;
    ctx->target_type = "group";
    ctx->target_id = acc.id;
    *out = membership_json(acc.id, me, acc.role, status);
    return CM_OK;
}

static int op_leave(cm__ctx *ctx, json_t *in, json_t **out)
{
    int rc = cm__require_member_id(ctx);
    if (rc)
        return rc;
    /* Works on the caller's own row, so that a pending request to a group
     * that has since become private can still be withdrawn; without a row
     * the answer is the same as for a hidden group. */
    int64_t gid = cm__json_int(in, "group_id", 0), me = ctx->actor->member_id;
    int role, status;
    if ((rc = member_row(ctx, gid, me, &role, &status)))
        return rc;
    if (status == CM__GM_NONE)
        return cm__error_set_field(CM_ENOTFOUND, "group_id",
                                   "group_id: you are not a member of group %lld", (long long)gid);
    if (status == CM__GM_BANNED)
        return cm__error_set_field(CM_EPERM, "group_id",
                                   "group_id: you are banned from this group");
    if (status == CM__GM_ACTIVE && role == CM__GR_OWNER) {
        int64_t n;
        if ((rc = owner_count(ctx, gid, &n)))
            return rc;
        if (n <= 1)
            return cm__error_set_field(CM_ECONSTRAINT, "group_id",
                                       "group_id: the last owner cannot leave; make another "
                                       "member owner first");
    }
    if ((rc = member_delete(ctx, gid, me)))
        return rc;
    ctx->target_type = "group";
    ctx->target_id = gid;
    *out = json_pack("{s:I,s:I,s:b}", "group_id", (json_int_t)gid, "member_id", (json_int_t)me,
                     "left", 1);
    return CM_OK;
}

/* groups.approve and groups.reject: decide a pending request. */
static int decide(cm__ctx *ctx, json_t *in, json_t **out, bool approve)
{
    cm__group_access acc;
    int rc = require_rank(&acc, ctx, in, CM__GR_MODERATOR, "decide join requests");
    if (rc)
        return rc;
    int64_t who = cm__json_int(in, "member_id", 0);
    int role, status;
    if ((rc = member_row(ctx, acc.id, who, &role, &status)))
        return rc;
    if (status != CM__GM_PENDING)
        return cm__error_set_field(CM_ENOTFOUND, "member_id",
                                   "member_id: no pending request from member %lld",
                                   (long long)who);
    if (approve) {
        if ((rc = member_set(ctx, acc.id, who, NULL, "active")))
            return rc;
        *out = membership_json(acc.id, who, role, CM__GM_ACTIVE);
    } else {
        if ((rc = member_delete(ctx, acc.id, who)))
            return rc;
        *out = json_pack("{s:I,s:I,s:b}", "group_id", (json_int_t)acc.id, "member_id",
                         (json_int_t)who, "rejected", 1);
    }
    return CM_OK;
}

static int op_approve(cm__ctx *ctx, json_t *in, json_t **out)
{
    return decide(ctx, in, out, true);
}

static int op_reject(cm__ctx *ctx, json_t *in, json_t **out)
{
    return decide(ctx, in, out, false);
}

static int op_invite(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__group_access acc;
    int rc = require_rank(&acc, ctx, in, CM__GR_ADMIN, "invite members");
    if (rc)
        return rc;
    int64_t who = cm__json_int(in, "member_id", 0);
    if ((rc = require_active_member(ctx, who, "member_id")))
        return rc;
    int role, status;
    if ((rc = member_row(ctx, acc.id, who, &role, &status)))
        return rc;
    switch (status) {
        case CM__GM_ACTIVE:
            return cm__error_set_field(CM_EEXISTS, "member_id",
                                       "member_id: already a member of the group");
        case CM__GM_INVITED:
            return cm__error_set_field(CM_EEXISTS, "member_id", "member_id: already invited");
        case CM__GM_BANNED:
            return cm__error_set_field(CM_ECONSTRAINT, "member_id",
                                       "member_id: the member is banned; unban first");
        case CM__GM_PENDING: /* inviting someone who asked to join accepts them */
            rc = member_set(ctx, acc.id, who, NULL, "active");
            status = CM__GM_ACTIVE;
            break;
        default:
            rc = member_insert(ctx, acc.id, who, CM__GR_MEMBER, "invited");
            role = CM__GR_MEMBER;
            status = CM__GM_INVITED;
            break;
    }
    if (rc)
        return rc;
    *out = membership_json(acc.id, who, role, status);
    return CM_OK;
}

/* Group admins manage moderators and members; only owners (and platform
 * admins) grant or take owner and admin, and touch admins and owners. The
 * last owner cannot be demoted. */
static int op_set_role(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__group_access acc;
    int rc = require_rank(&acc, ctx, in, CM__GR_ADMIN, "change member roles");
    if (rc)
        return rc;
    int mine = cm__group_admin_rank(&acc, ctx);
    int64_t who = cm__json_int(in, "member_id", 0);
    int newrole = cm__group_role_parse(cm__json_str(in, "role"));
    int role, status;
    if ((rc = member_row(ctx, acc.id, who, &role, &status)))
        return rc;
    if (status != CM__GM_ACTIVE)
        return cm__error_set_field(CM_ENOTFOUND, "member_id",
                                   "member_id: member %lld is not an active member of the group",
                                   (long long)who);
    if (newrole >= CM__GR_ADMIN && mine < CM__GR_OWNER)
        return cm__error_set_field(CM_EPERM, "role", "role: only owners grant %s",
                                   cm__group_role_name(newrole));
    if (role >= CM__GR_ADMIN && mine < CM__GR_OWNER)
        return cm__error_set_field(CM_EPERM, "member_id",
                                   "member_id: only owners change an admin's or owner's role");
    if (role == CM__GR_OWNER && newrole != CM__GR_OWNER) {
        int64_t n;
        if ((rc = owner_count(ctx, acc.id, &n)))
            return rc;
        if (n <= 1)
            return cm__error_set_field(CM_ECONSTRAINT, "member_id",
                                       "member_id: a group keeps at least one owner");
    }
    if ((rc = member_set(ctx, acc.id, who, cm__group_role_name(newrole), NULL)))
        return rc;
    *out = membership_json(acc.id, who, newrole, CM__GM_ACTIVE);
    return CM_OK;
}

/* Ban: the member loses any membership, request or invitation and cannot
 * join again until unbanned. Only someone of higher group rank may ban. */
static int op_ban(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__group_access acc;
    int rc = require_rank(&acc, ctx, in, CM__GR_MODERATOR, "ban members");
    if (rc)
        return rc;
    int64_t who = cm__json_int(in, "member_id", 0);
    if (who == ctx->actor->member_id)
        return cm__error_set_field(CM_EPERM, "member_id", "member_id: you cannot ban yourself");
    if ((rc = require_active_member(ctx, who, "member_id")))
        return rc;
    int role, status;
    if ((rc = member_row(ctx, acc.id, who, &role, &status)))
        return rc;
    if (status == CM__GM_ACTIVE && role >= cm__group_admin_rank(&acc, ctx))
        return cm__error_set_field(CM_EPERM, "member_id",
                                   "member_id: you may only ban members of lower rank");
    if (status == CM__GM_NONE)
        rc = member_insert(ctx, acc.id, who, CM__GR_MEMBER, "banned");
    else if (status != CM__GM_BANNED)
        rc = member_set(ctx, acc.id, who, "member", "banned");
    if (rc)
        return rc;
    *out = membership_json(acc.id, who, CM__GR_MEMBER, CM__GM_BANNED);
    return CM_OK;
}

static int op_unban(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__group_access acc;
    int rc = require_rank(&acc, ctx, in, CM__GR_MODERATOR, "lift bans");
    if (rc)
        return rc;
    int64_t who = cm__json_int(in, "member_id", 0);
    int role, status;
    if ((rc = member_row(ctx, acc.id, who, &role, &status)))
        return rc;
    if (status != CM__GM_BANNED)
        return cm__error_set_field(CM_ENOTFOUND, "member_id",
                                   "member_id: member %lld is not banned", (long long)who);
    if ((rc = member_delete(ctx, acc.id, who)))
        return rc;
    *out = json_pack("{s:I,s:I,s:b}", "group_id", (json_int_t)acc.id, "member_id", (json_int_t)who,
                     "unbanned", 1);
    return CM_OK;
}

static json_t *group_member_row(cm__q *q, void *payload)
{
    (void)payload;
    json_t *m = json_object();
    cm__json_set_col_int(m, "member_id", q, 0);
    cm__json_set_col_text(m, "name", q, 1);
    cm__json_set_col_text(m, "role", q, 2);
    cm__json_set_col_text(m, "status", q, 3);
    cm__json_set_col_time(m, "since", q, 4);
    cm__json_set_col_time(m, "updated_at", q, 5);
    return m;
}

/* Members of a group. Active members are listed to whoever may read the
 * group; pending, invited and banned lists need group moderator+ (or
 * staff). A member whose profile the viewer may not see is left out,
 * except for managers. */
static int op_members(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__group_access acc;
    int rc = cm__group_access_load(&acc, ctx, cm__json_int(in, "group_id", 0), "group_id");
    if (rc || (rc = cm__group_require_read(&acc, "group_id")))
        return rc;
    const char *status = cm__json_str(in, "status");
    bool manager = acc.staff || cm__group_admin_rank(&acc, ctx) >= CM__GR_MODERATOR;
    if (status && strcmp(status, "active") != 0 && !manager)
        return cm__error_set_field(
            CM_EPERM, "status", "status: only group moderators and above see %s members", status);
    int64_t after = 0, unused;
    const char *cursor = cm__json_str(in, "cursor");
    if (cursor && (rc = cm__cursor_decode(&after, &unused, cursor)))
        return rc;
    int64_t limit = cm__json_int(in, "limit", 50);
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "group.members")))
        return rc;
    cm__q_int64(&q, 1, acc.id);
    cm__q_text(&q, 2, status ? status : "active");
    cm__q_int64(&q, 3, after);
    cm__q_int64(&q, 4, ctx->actor->role);
    cm__q_int64(&q, 5, manager);
    cm__q_int64(&q, 6, ctx->actor->member_id);
    cm__q_int64(&q, 7, limit + 1);
    return cm__page_collect(out, &q, limit, 0, -1, group_member_row, NULL);
}

static const cm__field create_fields[] = {
    CM__FIELD("slug", CM__T_STRING, .flags = CM__REQUIRED, .min = 2, .max = 64,
              .doc = "URL name, unique: lower-case letters, digits and '-' (2-64)"),
    CM__FIELD("name", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 100,
              .doc = "Display name"),
    CM__FIELD("description", CM__T_STRING, .max = 4000, .doc = "What the group is about"),
    CM__FIELD("kind", CM__T_ENUM, .flags = CM__REQUIRED, .values = kind_values,
              .doc = "chapter or interest"),
    CM__FIELD("join_policy", CM__T_ENUM, .values = policy_values,
              .doc =
                  "open (join at once), approval (a moderator approves) or invite (default open)"),
    CM__FIELD("visibility", CM__T_ENUM, .values = visibility_values,
              .doc = "public, or private: visible to members and staff only (default public)"),
    CM__FIELD(
        "owner_id", CM__T_ID,
        .doc = "Initial owner (admins only; default: the creator; required for the system actor)"),
    {.name = NULL},
};

static const cm__field update_fields[] = {
    CM__FIELD("group_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Group id"),
    CM__FIELD("slug", CM__T_STRING, .min = 2, .max = 64,
              .doc = "URL name ([a-z0-9-], 2-64, unique)"),
    CM__FIELD("name", CM__T_STRING, .min = 1, .max = 100, .doc = "Display name"),
    CM__FIELD("description", CM__T_STRING, .max = 4000, .doc = "What the group is about"),
    CM__FIELD("kind", CM__T_ENUM, .values = kind_values, .doc = "chapter or interest"),
    CM__FIELD("join_policy", CM__T_ENUM, .values = policy_values,
              .doc = "open, approval or invite"),
    CM__FIELD("visibility", CM__T_ENUM, .values = visibility_values, .doc = "public or private"),
    {.name = NULL},
};

static const cm__field group_id_field[] = {
    CM__FIELD("group_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Group id"),
    {.name = NULL},
};

static const cm__field list_fields[] = {
    CM__FIELD("q", CM__T_STRING, .min = 1, .max = 100, .doc = "Name, slug or description contains"),
    CM__FIELD("kind", CM__T_ENUM, .values = kind_values,
              .doc = "Only chapters or only interest circles"),
    CM__FIELD("mine", CM__T_BOOL,
              .doc = "Only groups you belong to (also through your membership tier), asked to join "
                     "or are invited to"),
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = 100, .doc = "Page size (default 20)"),
    CM__FIELD("cursor", CM__T_CURSOR, .doc = "next_cursor of the previous page"),
    {.name = NULL},
};

static const cm__field member_fields[] = {
    CM__FIELD("group_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Group id"),
    CM__FIELD("member_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Member id"),
    {.name = NULL},
};

static const cm__field role_fields[] = {
    CM__FIELD("group_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Group id"),
    CM__FIELD("member_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Member id (an active member)"),
    CM__FIELD("role", CM__T_ENUM, .flags = CM__REQUIRED, .values = group_role_values,
              .doc = "owner, admin, moderator or member (owner and admin: owners only)"),
    {.name = NULL},
};

static const cm__field members_fields[] = {
    CM__FIELD("group_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Group id"),
    CM__FIELD("status", CM__T_ENUM, .values = member_status_values,
              .doc = "active (default); pending, invited, banned: group moderators and above"),
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = 100, .doc = "Page size (default 50)"),
    CM__FIELD("cursor", CM__T_CURSOR, .doc = "next_cursor of the previous page"),
    {.name = NULL},
};

CM__PAGE(group_page, cm__shape_group);
CM__PAGE(members_page, cm__shape_group_member);
static const cm__rfield left_fields[] = {
    {"group_id", CM__R_INT}, {"member_id", CM__R_INT}, {"left", CM__R_BOOL}, {NULL}};
static const cm__shape left_result = {.fields = left_fields};
static const cm__rfield rejected_fields[] = {
    {"group_id", CM__R_INT}, {"member_id", CM__R_INT}, {"rejected", CM__R_BOOL}, {NULL}};
static const cm__shape rejected_result = {.fields = rejected_fields};
static const cm__rfield unbanned_fields[] = {
    {"group_id", CM__R_INT}, {"member_id", CM__R_INT}, {"unbanned", CM__R_BOOL}, {NULL}};
static const cm__shape unbanned_result = {.fields = unbanned_fields};

const cm__op cm__group_ops[] = {
    {
        .name = "groups.create",
        .summary = "Create a group (chapter or interest circle); you become its owner",
        .role = CM_ROLE_ORGANIZER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/groups",
        .fields = create_fields,
        .fn = op_create,
        .result = &cm__shape_group,
    },
    {
        .name = "groups.get",
        .summary = "A group, as its visibility allows",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_CACHE,
        .http_method = "GET",
        .http_path = "/v1/groups/{group_id}",
        .fields = group_id_field,
        .fn = op_get,
        .result = &cm__shape_group,
    },
    {
        .name = "groups.list",
        .summary = "Groups the caller may see, by id",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_CACHE,
        .http_method = "GET",
        .http_path = "/v1/groups",
        .fields = list_fields,
        .fn = op_list,
        .result = &group_page,
    },
    {
        .name = "groups.update",
        .summary = "Edit a group (group owners and admins, platform admins)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "PATCH",
        .http_path = "/v1/groups/{group_id}",
        .fields = update_fields,
        .fn = op_update,
        .result = &cm__shape_group,
    },
    {
        .name = "groups.join",
        .summary =
            "Join a group: open -> active, approval -> pending, invite -> only with an invitation",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/groups/{group_id}/join",
        .fields = group_id_field,
        .fn = op_join,
        .result = &cm__shape_membership,
    },
    {
        .name = "groups.leave",
        .summary =
            "Leave a group, withdraw a request or decline an invitation (not the last owner)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/groups/{group_id}/leave",
        .fields = group_id_field,
        .fn = op_leave,
        .result = &left_result,
    },
    {
        .name = "groups.approve",
        .summary = "Accept a pending join request (group moderators and above)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/groups/{group_id}/requests/{member_id}/approve",
        .fields = member_fields,
        .fn = op_approve,
        .result = &cm__shape_membership,
    },
    {
        .name = "groups.reject",
        .summary = "Decline a pending join request (group moderators and above)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/groups/{group_id}/requests/{member_id}/reject",
        .fields = member_fields,
        .fn = op_reject,
        .result = &rejected_result,
    },
    {
        .name = "groups.invite",
        .summary = "Invite a member (group owners and admins)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/groups/{group_id}/invitations",
        .fields = member_fields,
        .fn = op_invite,
        .result = &cm__shape_membership,
    },
    {
        .name = "groups.set_role",
        .summary = "Change a member's group role (group owners and admins)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "PUT",
        .http_path = "/v1/groups/{group_id}/members/{member_id}/role",
        .fields = role_fields,
        .fn = op_set_role,
        .result = &cm__shape_membership,
    },
    {
        .name = "groups.ban",
        .summary = "Ban a member from a group (group moderators and above, lower rank only)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/groups/{group_id}/bans",
        .fields = member_fields,
        .fn = op_ban,
        .result = &cm__shape_membership,
    },
    {
        .name = "groups.unban",
        .summary = "Lift a ban (group moderators and above)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "DELETE",
        .http_path = "/v1/groups/{group_id}/bans/{member_id}",
        .fields = member_fields,
        .fn = op_unban,
        .result = &unbanned_result,
    },
    {
        .name = "groups.members",
        .summary = "Members of a group (private groups: members and staff only)",
        .role = CM_ROLE_ANONYMOUS,
        .http_method = "GET",
        .http_path = "/v1/groups/{group_id}/members",
        .fields = members_fields,
        .fn = op_members,
        .result = &members_page,
    },
    {.name = NULL},
};
