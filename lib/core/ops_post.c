/*
 * ops_post.c - posts (platform-wide or in a group), threaded comments and
 * reactions. A post in a group is visible exactly when its group's
 * content is (group_int.h); its comments and reactions follow the post.
 * Writing in a group needs an active membership. Deletion is soft: a
 * deleted post disappears with its comments; a deleted comment stays in
 * its thread as a placeholder so that replies keep their place.
 */
#include "group_int.h"
#include "pay_int.h"

#include "ai/ai_int.h" /* cm__embed_sync */

#include <stdio.h>
#include <string.h>

static const char *const post_kinds[] = {"discussion", "question", "announcement", NULL};
static const char *const scope_values[] = {"all", "platform", NULL};
static const char *const target_types[] = {"post", "comment", NULL};

#define MAX_COMMENT_DEPTH 16

/* Column layout of post.get / post.list (see sql_group.c). */
enum {
    P_ID,
    P_GROUP_ID,
    P_AUTHOR_ID,
    P_AUTHOR_NAME,
    P_KIND,
    P_TITLE,
    P_BODY,
    P_CREATED,
    P_UPDATED,
    P_DELETED,
    P_GROUP_SLUG,
    P_GROUP_NAME,
    P_COMMENTS,
    P_REACTIONS,
};
/* Column layout of comment.load / comment.list. */
enum {
    C_ID,
    C_POST_ID,
    C_PARENT_ID,
    C_AUTHOR_ID,
    C_AUTHOR_NAME,
    C_BODY,
    C_DEPTH,
    C_CREATED,
    C_DELETED,
    C_REACTIONS,
};

/* A post's row and the actor's access to its group (zeroed when the post
 * is platform-wide). */
typedef struct post_ref {
    int64_t id, group_id, author_id;
    char kind[16];
    cm__group_access acc;
} post_ref;

static int post_not_found(const char *field, int64_t id)
{
    return cm__error_set_field(CM_ENOTFOUND, field, "post %lld not found", (long long)id);
}

/* Load post id for the actor: CM_ENOTFOUND (naming `field`) when absent,
 * deleted, or in a group whose content the actor may not read. */
static int post_ref_load(post_ref *p, cm__ctx *ctx, int64_t id, const char *field)
{
    memset(p, 0, sizeof *p);
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "post.row");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    bool deleted = false;
    if (rc == 1) {
        p->id = cm__q_col_int64(&q, 0);
        p->group_id = cm__q_is_null(&q, 1) ? 0 : cm__q_col_int64(&q, 1);
        p->author_id = cm__q_col_int64(&q, 2);
        (void)snprintf(p->kind, sizeof p->kind, "%s", cm__q_col_text(&q, 3));
        deleted = !cm__q_is_null(&q, 4);
    }
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (rc == 0 || deleted)
        return post_not_found(field, id);
    if (p->group_id) {
        rc = cm__group_access_load(&p->acc, ctx, p->group_id, field);
        if (rc == CM_ENOTFOUND || (rc == CM_OK && !cm__group_can_read(&p->acc)))
            return post_not_found(field, id);
        if (rc)
            return rc;
    }
    return CM_OK;
}

/* Writing in a group (posting, commenting, reacting) needs an active
 * membership; platform-wide, any member may. */
static int require_participant(cm__ctx *ctx, const cm__group_access *acc, int64_t group_id,
                               const char *field)
{
    int rc = cm__require_member_id(ctx);
    if (rc)
        return rc;
    if (group_id && acc->status != CM__GM_ACTIVE)
        return cm__error_set_field(CM_EPERM, field,
                                   "%s: only active members of the group may do this", field);
    return CM_OK;
}

/* Platform moderators and above, and group moderators and above. */
static bool can_moderate(cm__ctx *ctx, const post_ref *p)
{
    return cm__actor_at_least(ctx, CM_ROLE_MODERATOR) ||
           (p->group_id && cm__group_rank(&p->acc) >= CM__GR_MODERATOR);
}

/* Announcements: group moderators and above in a group (active members),
 * platform organizers and above for platform-wide posts. */
static int check_announcement(cm__ctx *ctx, int64_t group_id, const cm__group_access *acc)
{
    if (group_id ? cm__group_rank(acc) >= CM__GR_MODERATOR
                 : cm__actor_at_least(ctx, CM_ROLE_ORGANIZER))
        return CM_OK;
    return cm__error_set_field(CM_EPERM, "kind",
                               group_id ? "kind: announcements need a group moderator or above"
                                        : "kind: platform-wide announcements need an "
                                          "organizer or above");
}

static json_t *author_json(cm__q *q, int id_col, int name_col)
{
    json_t *a = json_object();
    cm__json_set_col_int(a, "id", q, id_col);
    cm__json_set_col_text(a, "name", q, name_col);
    return a;
}

static json_t *post_json(cm__q *q)
{
    json_t *p = json_object();
    cm__json_set_col_int(p, "id", q, P_ID);
    cm__json_set_col_int(p, "group_id", q, P_GROUP_ID);
    if (cm__q_is_null(q, P_GROUP_ID)) {
        json_object_set_new(p, "group", json_null());
    } else {
        json_t *g = json_object();
        cm__json_set_col_int(g, "id", q, P_GROUP_ID);
        cm__json_set_col_text(g, "slug", q, P_GROUP_SLUG);
        cm__json_set_col_text(g, "name", q, P_GROUP_NAME);
        json_object_set_new(p, "group", g);
    }
    json_object_set_new(p, "author", author_json(q, P_AUTHOR_ID, P_AUTHOR_NAME));
    cm__json_set_col_text(p, "kind", q, P_KIND);
    cm__json_set_col_text(p, "title", q, P_TITLE);
    cm__json_set_col_text(p, "body", q, P_BODY);
    cm__json_set_col_time(p, "created_at", q, P_CREATED);
    cm__json_set_col_time(p, "updated_at", q, P_UPDATED);
    cm__json_set_col_int(p, "comment_count", q, P_COMMENTS);
    cm__json_set_reactions(p, q, P_REACTIONS);
    return p;
}

/* The post as JSON; visibility must have been checked (post_ref_load). */
static int post_load(json_t **out, cm__ctx *ctx, int64_t id)
{
    *out = NULL;
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "post.get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, ctx->actor->member_id);
    cm__q_int64(&q, 2, id);
    rc = cm__q_step(&q);
    if (rc == 1)
        *out = post_json(&q);
    cm__q_close(&q);
    if (rc == 0)
        return post_not_found("post_id", id);
    return cm__ok(rc);
}

/* A comment; deleted ones keep their place in the thread without author
 * or body. */
static json_t *comment_json(cm__q *q)
{
    json_t *c = json_object();
    bool deleted = !cm__q_is_null(q, C_DELETED);
    cm__json_set_col_int(c, "id", q, C_ID);
    cm__json_set_col_int(c, "post_id", q, C_POST_ID);
    cm__json_set_col_int(c, "parent_id", q, C_PARENT_ID);
    cm__json_set_col_int(c, "depth", q, C_DEPTH);
    json_object_set_new(c, "deleted", json_boolean(deleted));
    if (deleted) {
        json_object_set_new(c, "author", json_null());
        json_object_set_new(c, "body", json_string(""));
    } else {
        json_object_set_new(c, "author", author_json(q, C_AUTHOR_ID, C_AUTHOR_NAME));
        cm__json_set_col_text(c, "body", q, C_BODY);
    }
    cm__json_set_col_time(c, "created_at", q, C_CREATED);
    cm__json_set_reactions(c, q, C_REACTIONS);
    return c;
}

/* ---- posts ---- */

static int op_create(cm__ctx *ctx, json_t *in, json_t **out)
{
    int rc = cm__require_member_id(ctx);
    if (rc)
        return rc;
    int64_t gid = cm__json_int(in, "group_id", 0);
    cm__group_access acc;
    memset(&acc, 0, sizeof acc);
    if (gid) {
        if ((rc = cm__group_access_load(&acc, ctx, gid, "group_id")) ||
            (rc = cm__group_require_read(&acc, "group_id")) ||
            (rc = require_participant(ctx, &acc, gid, "group_id")))
            return rc;
    }
    const char *kind = cm__json_str(in, "kind");
    if (!kind)
        kind = "discussion";
    if (strcmp(kind, "announcement") == 0 && (rc = check_announcement(ctx, gid, &acc)))
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "post.insert")))
        return rc;
    if (gid)
        cm__q_int64(&q, 1, gid);
    else
        cm__q_null(&q, 1);
    cm__q_int64(&q, 2, ctx->actor->member_id);
    cm__q_text(&q, 3, kind);
    cm__q_text(&q, 4, cm__json_str(in, "title"));
    cm__q_text(&q, 5, cm__json_str(in, "body"));
    cm__q_int64(&q, 6, ctx->now);
    rc = cm__q_step(&q);
    int64_t id = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    ctx->target_type = "post";
    ctx->target_id = id;
    if ((rc = cm__metric_add(ctx->conn, "posts", 1)) ||
        (rc = cm__embed_sync(ctx->conn, ctx->now, "post", id)))
        return rc;
    return post_load(out, ctx, id);
}

static int op_get(cm__ctx *ctx, json_t *in, json_t **out)
{
    post_ref p;
    int rc = post_ref_load(&p, ctx, cm__json_int(in, "post_id", 0), "post_id");
    return rc ? rc : post_load(out, ctx, p.id);
}

/* The feed, newest first. With group_id: that group's posts (the group's
 * content must be readable). Without: scope "all" (default) lists
 * platform-wide posts and posts of every group the caller may read;
 * scope "platform" only posts outside groups. */
static json_t *post_row(cm__q *q, void *payload)
{
    (void)payload;
    return post_json(q);
}

static json_t *comment_item(cm__q *q, void *payload)
{
    (void)payload;
    return comment_json(q);
}

static int op_list(cm__ctx *ctx, json_t *in, json_t **out)
{
    int rc;
    int64_t gid = cm__json_int(in, "group_id", 0);
    const char *scope = cm__json_str(in, "scope");
    if (gid && scope)
        return cm__error_set_field(CM_EINVAL, "scope", "scope: not allowed with group_id");
    int64_t c_at = 0, c_id = 0;
    const char *cursor = cm__json_str(in, "cursor");
    if (cursor && (rc = cm__cursor_decode(&c_at, &c_id, cursor)))
        return rc;
    if (gid) {
        cm__group_access acc;
        if ((rc = cm__group_access_load(&acc, ctx, gid, "group_id")) ||
            (rc = cm__group_require_read(&acc, "group_id")))
            return rc;
    }
    int64_t limit = cm__json_int(in, "limit", 20);
    bool oom;
    char *like = cm__like_pattern(cm__json_str(in, "q"), &oom);
    if (oom)
        return cm__oom();
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "post.list"))) {
        cm__free(like);
        return rc;
    }
    cm__q_int64(&q, 1, ctx->actor->member_id);
    cm__q_int64(&q, 2, cm__actor_at_least(ctx, CM_ROLE_MODERATOR));
    if (gid)
        cm__q_int64(&q, 3, gid);
    else
        cm__q_null(&q, 3);
    cm__q_int64(&q, 4, !gid && scope && strcmp(scope, "platform") == 0);
    cm__q_text(&q, 5, cm__json_str(in, "kind"));
    if (cm__json_has(in, "author_id"))
        cm__q_int64(&q, 6, cm__json_int(in, "author_id", 0));
    else
        cm__q_null(&q, 6);
    cm__q_text(&q, 7, like);
    if (cursor) {
        cm__q_int64(&q, 8, c_at);
        cm__q_int64(&q, 9, c_id);
    } else {
        cm__q_null(&q, 8);
        cm__q_null(&q, 9);
    }
    cm__q_int64(&q, 10, limit + 1);
    cm__q_int64(&q, 11, ctx->now);
    cm__q_int64(&q, 12, cm__pay_grace_us(ctx->store));
    rc = cm__page_collect(out, &q, limit, P_CREATED, P_ID, post_row, NULL);
    cm__free(like);
    return rc;
}

static int op_update(cm__ctx *ctx, json_t *in, json_t **out)
{
    post_ref p;
    int rc = post_ref_load(&p, ctx, cm__json_int(in, "post_id", 0), "post_id");
    if (rc)
        return rc;
    if (p.author_id != ctx->actor->member_id)
        return cm__error_set_field(CM_EPERM, "post_id", "post_id: only the author may edit");
    if (p.group_id && p.acc.status != CM__GM_ACTIVE)
        return cm__error_set_field(CM_EPERM, "post_id",
                                   "post_id: only active members of the group may edit");
    const char *kind = cm__json_str(in, "kind");
    if (kind && strcmp(kind, "announcement") == 0 && strcmp(p.kind, "announcement") != 0 &&
        (rc = check_announcement(ctx, p.group_id, &p.acc)))
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "post.update")))
        return rc;
    cm__q_int64(&q, 1, p.id);
    cm__q_text(&q, 2, kind);
    cm__q_text(&q, 3, cm__json_str(in, "title"));
    cm__q_text(&q, 4, cm__json_str(in, "body"));
    cm__q_int64(&q, 5, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    if (rc)
        return rc;
    ctx->target_type = "post";
    ctx->target_id = p.id;
    if ((rc = cm__embed_sync(ctx->conn, ctx->now, "post", p.id)))
        return rc;
    return post_load(out, ctx, p.id);
}

static int op_delete(cm__ctx *ctx, json_t *in, json_t **out)
{
    post_ref p;
    int rc = post_ref_load(&p, ctx, cm__json_int(in, "post_id", 0), "post_id");
    if (rc)
        return rc;
    if (p.author_id != ctx->actor->member_id && !can_moderate(ctx, &p))
        return cm__error_set_field(CM_EPERM, "post_id",
                                   "post_id: only the author or a moderator may delete");
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "post.delete")))
        return rc;
    cm__q_int64(&q, 1, p.id);
    cm__q_int64(&q, 2, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    if (rc)
        return rc;
    ctx->target_type = "post";
    ctx->target_id = p.id;
    *out = json_pack("{s:I,s:b}", "post_id", (json_int_t)p.id, "deleted", 1);
    return CM_OK;
}

/* ---- comments ---- */

typedef struct comment_ref {
    int64_t id, post_id, author_id, depth;
    bool deleted;
} comment_ref;

/* 1 found, 0 absent, < 0 error. */
static int comment_row(comment_ref *c, cm__ctx *ctx, int64_t id)
{
    memset(c, 0, sizeof *c);
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "comment.row");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    if (rc == 1) {
        c->id = cm__q_col_int64(&q, 0);
        c->post_id = cm__q_col_int64(&q, 1);
        c->author_id = cm__q_col_int64(&q, 2);
        c->depth = cm__q_col_int64(&q, 3);
        c->deleted = !cm__q_is_null(&q, 4);
    }
    cm__q_close(&q);
    return rc;
}

/* Load a live comment and its visible post; CM_ENOTFOUND naming field. */
static int comment_ref_load(comment_ref *c, post_ref *p, cm__ctx *ctx, int64_t id,
                            const char *field)
{
    int rc = comment_row(c, ctx, id);
    if (rc < 0)
        return rc;
    if (rc == 0 || c->deleted)
        return cm__error_set_field(CM_ENOTFOUND, field, "comment %lld not found", (long long)id);
    rc = post_ref_load(p, ctx, c->post_id, field);
    if (rc == CM_ENOTFOUND)
        return cm__error_set_field(CM_ENOTFOUND, field, "comment %lld not found", (long long)id);
    return rc;
}

static int op_comment_add(cm__ctx *ctx, json_t *in, json_t **out)
{
    post_ref p;
    int rc = post_ref_load(&p, ctx, cm__json_int(in, "post_id", 0), "post_id");
    if (rc || (rc = require_participant(ctx, &p.acc, p.group_id, "post_id")))
        return rc;
    int64_t parent = cm__json_int(in, "parent_id", 0), depth = 0;
    if (parent) {
        comment_ref c;
        if ((rc = comment_row(&c, ctx, parent)) < 0)
            return rc;
        if (rc == 0 || c.deleted || c.post_id != p.id)
            return cm__error_set_field(CM_ENOTFOUND, "parent_id",
                                       "parent_id: no comment %lld on this post",
                                       (long long)parent);
        depth = c.depth + 1;
        if (depth > MAX_COMMENT_DEPTH)
            return cm__error_set_field(CM_ECONSTRAINT, "parent_id",
                                       "parent_id: threads nest at most %d replies deep",
                                       MAX_COMMENT_DEPTH);
    }
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "comment.insert")))
        return rc;
    cm__q_int64(&q, 1, p.id);
    if (parent)
        cm__q_int64(&q, 2, parent);
    else
        cm__q_null(&q, 2);
    cm__q_int64(&q, 3, ctx->actor->member_id);
    cm__q_text(&q, 4, cm__json_str(in, "body"));
    cm__q_int64(&q, 5, depth);
    cm__q_int64(&q, 6, ctx->now);
    rc = cm__q_step(&q);
    int64_t id = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    ctx->target_type = "comment";
    ctx->target_id = id;
    if ((rc = cm__q_open(&q, ctx->conn, "comment.load")))
        return rc;
    cm__q_int64(&q, 1, ctx->actor->member_id);
    cm__q_int64(&q, 2, id);
    rc = cm__q_step(&q);
    if (rc == 1)
        *out = comment_json(&q);
    cm__q_close(&q);
    return rc == 0 ? cm__error_set(CM_ERROR, "comment %lld vanished", (long long)id) : cm__ok(rc);
}

/* Comments of a post in thread order: depth-first, each reply right after
 * its parent, siblings oldest first; every item carries parent_id and
 * depth (0 for top-level), so a client can indent without nesting. */
static int op_comment_list(cm__ctx *ctx, json_t *in, json_t **out)
{
    post_ref p;
    int rc = post_ref_load(&p, ctx, cm__json_int(in, "post_id", 0), "post_id");
    if (rc)
        return rc;
    int64_t after = 0, unused;
    const char *cursor = cm__json_str(in, "cursor");
    if (cursor && (rc = cm__cursor_decode(&after, &unused, cursor)))
        return rc;
    int64_t limit = cm__json_int(in, "limit", 50);
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "comment.list")))
        return rc;
    cm__q_int64(&q, 1, ctx->actor->member_id);
    cm__q_int64(&q, 2, p.id);
    cm__q_int64(&q, 3, after);
    cm__q_int64(&q, 4, limit + 1);
    return cm__page_collect(out, &q, limit, C_ID, -1, comment_item, NULL);
}

static int op_comment_delete(cm__ctx *ctx, json_t *in, json_t **out)
{
    comment_ref c;
    post_ref p;
    int rc = comment_ref_load(&c, &p, ctx, cm__json_int(in, "comment_id", 0), "comment_id");
    if (rc)
        return rc;
    if (c.author_id != ctx->actor->member_id && !can_moderate(ctx, &p))
        return cm__error_set_field(CM_EPERM, "comment_id",
                                   "comment_id: only the author or a moderator may delete");
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "comment.delete")))
        return rc;
    cm__q_int64(&q, 1, c.id);
    cm__q_int64(&q, 2, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    if (rc)
        return rc;
    ctx->target_type = "comment";
    ctx->target_id = c.id;
    *out = json_pack("{s:I,s:b}", "comment_id", (json_int_t)c.id, "deleted", 1);
    return CM_OK;
}

/* ---- reactions ---- */

/* Resolve the reaction target to its post (CM_ENOTFOUND on target_id). */
static int reaction_target(post_ref *p, cm__ctx *ctx, json_t *in)
{
    int64_t id = cm__json_int(in, "target_id", 0);
    if (strcmp(cm__json_str(in, "target_type"), "post") == 0)
        return post_ref_load(p, ctx, id, "target_id");
    comment_ref c;
    return comment_ref_load(&c, p, ctx, id, "target_id");
}

static int reactions_result(json_t **out, cm__ctx *ctx, const char *type, int64_t id)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "reaction.summary");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, ctx->actor->member_id);
    cm__q_text(&q, 2, type);
    cm__q_int64(&q, 3, id);
    rc = cm__q_step(&q);
    if (rc == 1) {
        json_t *r = json_pack("{s:s,s:I}", "target_type", type, "target_id", (json_int_t)id);
        cm__json_set_reactions(r, &q, 0);
        *out = r;
    }
    cm__q_close(&q);
    return rc == 0 ? cm__error_set(CM_ERROR, "reaction summary returned no row") : cm__ok(rc);
}

/* reactions.add / reactions.remove: idempotent. */
static int react(cm__ctx *ctx, json_t *in, json_t **out, bool add)
{
    post_ref p;
    int rc = reaction_target(&p, ctx, in);
    if (rc)
        return rc;
    if (add)
        rc = require_participant(ctx, &p.acc, p.group_id, "target_id");
    else
        rc = cm__require_member_id(ctx);
    if (rc)
        return rc;
    const char *type = cm__json_str(in, "target_type");
    int64_t id = cm__json_int(in, "target_id", 0);
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, add ? "reaction.add" : "reaction.remove")))
        return rc;
    cm__q_text(&q, 1, type);
    cm__q_int64(&q, 2, id);
    cm__q_int64(&q, 3, ctx->actor->member_id);
    cm__q_text(&q, 4, cm__json_str(in, "kind"));
    if (add)
        cm__q_int64(&q, 5, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    if (rc)
        return rc;
    ctx->target_type = strcmp(type, "post") == 0 ? "post" : "comment";
    ctx->target_id = id;
    return reactions_result(out, ctx, type, id);
}

static int op_react_add(cm__ctx *ctx, json_t *in, json_t **out)
{
    return react(ctx, in, out, true);
}

static int op_react_remove(cm__ctx *ctx, json_t *in, json_t **out)
{
    return react(ctx, in, out, false);
}

static const cm__field create_fields[] = {
    CM__FIELD("group_id", CM__T_ID,
              .doc =
                  "Group to post in (you must be an active member); omit for a platform-wide post"),
    CM__FIELD("kind", CM__T_ENUM, .values = post_kinds,
              .doc =
                  "discussion (default), question or announcement (group moderators+, or platform "
                  "organizers+ outside groups)"),
    CM__FIELD("title", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 200,
              .doc = "Title (1-200 characters)"),
    CM__FIELD("body", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 20000,
              .doc = "Text (1-20000 characters)"),
    {.name = NULL},
};

static const cm__field post_id_field[] = {
    CM__FIELD("post_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Post id"),
    {.name = NULL},
};

static const cm__field list_fields[] = {
    CM__FIELD("group_id", CM__T_ID, .doc = "Only this group's posts"),
    CM__FIELD(
        "scope", CM__T_ENUM, .values = scope_values,
        .doc =
            "Without group_id: all (default: platform-wide posts and posts of groups you may read) "
            "or platform (platform-wide posts only)"),
    CM__FIELD("kind", CM__T_ENUM, .values = post_kinds, .doc = "Only posts of this kind"),
    CM__FIELD("author_id", CM__T_ID, .doc = "Only posts by this member"),
    CM__FIELD("q", CM__T_STRING, .min = 1, .max = 100, .doc = "Title or text contains"),
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = 100, .doc = "Page size (default 20)"),
    CM__FIELD("cursor", CM__T_CURSOR, .doc = "next_cursor of the previous page"),
    {.name = NULL},
};

static const cm__field update_fields[] = {
    CM__FIELD("post_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Post id"),
    CM__FIELD("kind", CM__T_ENUM, .values = post_kinds,
              .doc = "discussion, question or announcement"),
    CM__FIELD("title", CM__T_STRING, .min = 1, .max = 200, .doc = "Title (1-200 characters)"),
    CM__FIELD("body", CM__T_STRING, .min = 1, .max = 20000, .doc = "Text (1-20000 characters)"),
    {.name = NULL},
};

static const cm__field comment_add_fields[] = {
    CM__FIELD("post_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Post id"),
    CM__FIELD("parent_id", CM__T_ID,
              .doc = "Comment replied to (same post; threads nest at most 16 replies deep)"),
    CM__FIELD("body", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 10000,
              .doc = "Text (1-10000 characters)"),
    {.name = NULL},
};

static const cm__field comment_list_fields[] = {
    CM__FIELD("post_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Post id"),
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = 200, .doc = "Page size (default 50)"),
    CM__FIELD("cursor", CM__T_CURSOR, .doc = "next_cursor of the previous page"),
    {.name = NULL},
};

static const cm__field comment_id_field[] = {
    CM__FIELD("comment_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Comment id"),
    {.name = NULL},
};

static const cm__field reaction_fields[] = {
    CM__FIELD("target_type", CM__T_ENUM, .flags = CM__REQUIRED, .values = target_types,
              .doc = "post or comment"),
    CM__FIELD("target_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Id of the post or comment"),
    CM__FIELD("kind", CM__T_ENUM, .flags = CM__REQUIRED, .values = cm__reaction_kinds,
              .doc = "like, love, insightful, celebrate or curious"),
    {.name = NULL},
};

CM__PAGE(post_page, cm__shape_post);
CM__PAGE(comment_page, cm__shape_comment);
static const cm__rfield post_deleted_fields[] = {
    {"post_id", CM__R_INT}, {"deleted", CM__R_BOOL}, {NULL}};
static const cm__shape post_deleted = {.fields = post_deleted_fields};
static const cm__rfield comment_deleted_fields[] = {
    {"comment_id", CM__R_INT}, {"deleted", CM__R_BOOL}, {NULL}};
static const cm__shape comment_deleted = {.fields = comment_deleted_fields};
static const cm__rfield reaction_result_fields[] = {
    {"target_type", CM__R_ENUM, .values = target_types},
    {"target_id", CM__R_INT},
    {"reactions", CM__R_OBJECT, .shape = &cm__shape_reactions},
    {"my_reactions", CM__R_ARRAY, .items = CM__R_ENUM, .values = cm__reaction_kinds},
    {NULL},
};
static const cm__shape reaction_shape = {.fields = reaction_result_fields};

const cm__op cm__post_ops[] = {
    {
        .name = "posts.create",
        .summary = "Write a post, platform-wide or in a group you belong to",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/posts",
        .fields = create_fields,
        .fn = op_create,
        .result = &cm__shape_post,
    },
    {
        .name = "posts.get",
        .summary = "A post with its comment and reaction counts",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_CACHE,
        .http_method = "GET",
        .http_path = "/v1/posts/{post_id}",
        .fields = post_id_field,
        .fn = op_get,
        .result = &cm__shape_post,
    },
    {
        .name = "posts.list",
        .summary = "The feed, newest first: platform-wide, everything readable, or a group's",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_CACHE,
        .http_method = "GET",
        .http_path = "/v1/posts",
        .fields = list_fields,
        .fn = op_list,
        .result = &post_page,
    },
    {
        .name = "posts.update",
        .summary = "Edit your post",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "PATCH",
        .http_path = "/v1/posts/{post_id}",
        .fields = update_fields,
        .fn = op_update,
        .result = &cm__shape_post,
    },
    {
        .name = "posts.delete",
        .summary = "Delete a post (author, group moderators+, platform moderators+)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "DELETE",
        .http_path = "/v1/posts/{post_id}",
        .fields = post_id_field,
        .fn = op_delete,
        .result = &post_deleted,
    },
    {
        .name = "comments.add",
        .summary = "Comment on a post, or reply to a comment",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/posts/{post_id}/comments",
        .fields = comment_add_fields,
        .fn = op_comment_add,
        .result = &cm__shape_comment,
    },
    {
        .name = "comments.list",
        .summary =
            "A post's comments in thread order (depth-first; parent_id and depth on each item)",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_CACHE,
        .http_method = "GET",
        .http_path = "/v1/posts/{post_id}/comments",
        .fields = comment_list_fields,
        .fn = op_comment_list,
        .result = &comment_page,
    },
    {
        .name = "comments.delete",
        .summary = "Delete a comment (author, group moderators+, platform moderators+)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "DELETE",
        .http_path = "/v1/comments/{comment_id}",
        .fields = comment_id_field,
        .fn = op_comment_delete,
        .result = &comment_deleted,
    },
    {
        .name = "reactions.add",
        .summary = "React to a post or comment (idempotent)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "PUT",
        .http_path = "/v1/reactions/{target_type}/{target_id}/{kind}",
        .fields = reaction_fields,
        .fn = op_react_add,
        .result = &reaction_shape,
    },
    {
        .name = "reactions.remove",
        .summary = "Take back a reaction (idempotent)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "DELETE",
        .http_path = "/v1/reactions/{target_type}/{target_id}/{kind}",
        .fields = reaction_fields,
        .fn = op_react_remove,
        .result = &reaction_shape,
    },
    {.name = NULL},
};
