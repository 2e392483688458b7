/*
 * test_post.c - posts, threaded comments and reactions through cm_exec:
 * happy paths, permissions, input checks, feed order and pagination, and
 * the private-group rule in posts.get, posts.list (platform-wide, all,
 * by group, q search), comments and reactions.
 */
#include "fixtures.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static json_int_t mid(const cm_actor *a)
{
    return (json_int_t)cm_actor_member_id(a);
}

static json_int_t make_group(const cm_actor *owner, const char *slug, const char *policy)
{
    json_t *r;
    ck_assert_ok(fx_exec(&r, owner, "groups.create", "{s:s,s:s,s:s,s:s}", "slug", slug, "name",
                         slug, "kind", "interest", "join_policy", policy));
    json_int_t id = json_integer_value(json_object_get(r, "id"));
    json_decref(r);
    return id;
}

/* Create a post (group 0 = platform-wide); returns its id. */
static json_int_t make_post(const cm_actor *a, json_int_t group, const char *title)
{
    json_t *r;
    if (group)
        ck_assert_ok(fx_exec(&r, a, "posts.create", "{s:I,s:s,s:s}", "group_id", group, "title",
                             title, "body", "text"));
    else
        ck_assert_ok(fx_exec(&r, a, "posts.create", "{s:s,s:s}", "title", title, "body", "text"));
    json_int_t id = json_integer_value(json_object_get(r, "id"));
    json_decref(r);
    ck_assert_int_gt(id, 0);
    return id;
}

static json_int_t make_comment(const cm_actor *a, json_int_t post, json_int_t parent,
                               const char *body)
{
    json_t *r;
    if (parent)
        ck_assert_ok(fx_exec(&r, a, "comments.add", "{s:I,s:I,s:s}", "post_id", post, "parent_id",
                             parent, "body", body));
    else
        ck_assert_ok(fx_exec(&r, a, "comments.add", "{s:I,s:s}", "post_id", post, "body", body));
    json_int_t id = json_integer_value(json_object_get(r, "id"));
    json_decref(r);
    return id;
}

static bool items_have_title(json_t *r, const char *title)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(r, "items"), i, it)
    {
        if (strcmp(json_string_value(json_object_get(it, "title")), title) == 0)
            return true;
    }
    return false;
}

static size_t n_items(json_t *r)
{
    return json_array_size(json_object_get(r, "items"));
}

static json_int_t reaction_count(json_t *obj, const char *kind)
{
    return json_integer_value(json_object_get(json_object_get(obj, "reactions"), kind));
}

/* ---------------------------------------------------------------------- */
/* The private-group world: a private group with an owner, an active member,
 * a group moderator, a pending and an invited member; an outsider; a
 * platform moderator; a public group; one post in each place. */

static struct world {
    cm_actor *own, *act, *gmod, *pend, *inv, *out, *pmod;
    json_int_t pub, priv;
    json_int_t p_platform, p_pub, p_priv, c_priv;
} W;

static void world_setup(void)
{
    fx_setup();
    W.own = fx_member("own@example.org", "organizer");
    W.act = fx_member("act@example.org", "member");
    W.gmod = fx_member("gmod@example.org", "member");
    W.pend = fx_member("pend@example.org", "member");
    W.inv = fx_member("inv@example.org", "member");
    W.out = fx_member("out@example.org", "member");
    W.pmod = fx_member("pmod@example.org", "moderator");
    W.pub = make_group(W.own, "public-circle", "open");
    W.priv = make_group(W.own, "secret-circle", "approval");
    const cm_actor *joiners[] = {W.act, W.gmod, W.pend};
    for (int i = 0; i < 3; i++)
        ck_assert_ok(fx_exec(NULL, joiners[i], "groups.join", "{s:I}", "group_id", W.priv));
    for (int i = 0; i < 2; i++)
        ck_assert_ok(fx_exec(NULL, W.own, "groups.approve", "{s:I,s:I}", "group_id", W.priv,
                             "member_id", mid(joiners[i])));
    ck_assert_ok(fx_exec(NULL, W.own, "groups.set_role", "{s:I,s:I,s:s}", "group_id", W.priv,
                         "member_id", mid(W.gmod), "role", "moderator"));
    ck_assert_ok(fx_exec(NULL, W.own, "groups.update", "{s:I,s:s}", "group_id", W.priv,
                         "visibility", "private"));
    ck_assert_ok(fx_exec(NULL, W.own, "groups.invite", "{s:I,s:I}", "group_id", W.priv, "member_id",
                         mid(W.inv)));
    ck_assert_ok(fx_exec(NULL, W.act, "groups.join", "{s:I}", "group_id", W.pub));
    W.p_platform = make_post(W.out, 0, "hello platform");
    W.p_pub = make_post(W.act, W.pub, "public circle news");
    W.p_priv = make_post(W.act, W.priv, "secret zebra plans");
    W.c_priv = make_comment(W.act, W.p_priv, 0, "first");
    make_comment(W.gmod, W.p_priv, W.c_priv, "reply");
}

static void world_teardown(void)
{
    cm_actor *all[] = {W.own, W.act, W.gmod, W.pend, W.inv, W.out, W.pmod};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cm_actor_free(all[i]);
    memset(&W, 0, sizeof W);
    fx_teardown();
}

typedef struct viewer {
    const char *name;
    const cm_actor *who;
    bool member; /* may read the private group */
} viewer;

static void viewers(viewer v[7])
{
    viewer all[7] = {
        {"outsider", W.out, false},
        {"pending", W.pend, false},
        {"invited", W.inv, false},
        {"anonymous", NULL, false},
        {"active", W.act, true},
        {"group moderator", W.gmod, true},
        {"platform moderator", W.pmod, true},
    };
    memcpy(v, all, sizeof all);
}

START_TEST(private_posts_get)
{
    viewer v[7];
    viewers(v);
    for (int i = 0; i < 7; i++) {
        json_t *r;
        int rc = fx_exec(&r, v[i].who, "posts.get", "{s:I}", "post_id", W.p_priv);
        if (v[i].member) {
            ck_assert_msg(rc == CM_OK, "%s: %s", v[i].name, cm_status_name(rc));
            ck_assert_str_eq(json_string_value(json_object_get(r, "title")), "secret zebra plans");
            ck_assert_int_eq(json_integer_value(json_object_get(r, "comment_count")), 2);
            json_decref(r);
        } else {
            ck_assert_msg(rc == CM_ENOTFOUND, "%s: %s", v[i].name, cm_status_name(rc));
            ck_assert_str_eq(cm_error_field(), "post_id");
        }
        /* the public ones are visible to all */
        ck_assert_ok(fx_exec(NULL, v[i].who, "posts.get", "{s:I}", "post_id", W.p_pub));
        ck_assert_ok(fx_exec(NULL, v[i].who, "posts.get", "{s:I}", "post_id", W.p_platform));
    }
}
END_TEST

START_TEST(private_posts_list_all_platform_group_and_q)
{
    viewer v[7];
    viewers(v);
    for (int i = 0; i < 7; i++) {
        json_t *r;
        /* everything readable (the default scope) */
        ck_assert_ok(fx_exec(&r, v[i].who, "posts.list", "{}"));
        ck_assert_msg(items_have_title(r, "secret zebra plans") == v[i].member, "%s", v[i].name);
        ck_assert(items_have_title(r, "public circle news"));
        ck_assert(items_have_title(r, "hello platform"));
        ck_assert_uint_eq(n_items(r), v[i].member ? 3 : 2);
        json_decref(r);
        ck_assert_ok(fx_exec(&r, v[i].who, "posts.list", "{s:s}", "scope", "all"));
        ck_assert_uint_eq(n_items(r), v[i].member ? 3 : 2);
        json_decref(r);
        /* platform-wide posts only */
        ck_assert_ok(fx_exec(&r, v[i].who, "posts.list", "{s:s}", "scope", "platform"));
        ck_assert_uint_eq(n_items(r), 1);
        ck_assert(items_have_title(r, "hello platform"));
        json_decref(r);
        /* the text filter */
        ck_assert_ok(fx_exec(&r, v[i].who, "posts.list", "{s:s}", "q", "zebra"));
        ck_assert_msg(n_items(r) == (v[i].member ? 1u : 0u), "%s", v[i].name);
        json_decref(r);
        ck_assert_ok(
            fx_exec(&r, v[i].who, "posts.list", "{s:s,s:s}", "q", "zebra", "scope", "platform"));
        ck_assert_uint_eq(n_items(r), 0);
        json_decref(r);
        /* filters by author do not reveal anything either */
        ck_assert_ok(fx_exec(&r, v[i].who, "posts.list", "{s:I}", "author_id", mid(W.act)));
        ck_assert_uint_eq(n_items(r), v[i].member ? 2 : 1);
        json_decref(r);
        /* the group's own feed */
        int rc = fx_exec(&r, v[i].who, "posts.list", "{s:I}", "group_id", W.priv);
        if (v[i].member) {
            ck_assert_int_eq(rc, CM_OK);
            ck_assert_uint_eq(n_items(r), 1);
            json_decref(r);
        } else {
            ck_assert_msg(rc == (v[i].who == W.inv ? CM_EPERM : CM_ENOTFOUND), "%s: %s", v[i].name,
                          cm_status_name(rc));
            ck_assert_str_eq(cm_error_field(), "group_id");
        }
        ck_assert_ok(fx_exec(&r, v[i].who, "posts.list", "{s:I}", "group_id", W.pub));
        ck_assert_uint_eq(n_items(r), 1);
        json_decref(r);
    }
}
END_TEST

START_TEST(private_posts_comments_and_reactions)
{
    viewer v[7];
    viewers(v);
    for (int i = 0; i < 7; i++) {
        json_t *r;
        int rc = fx_exec(&r, v[i].who, "comments.list", "{s:I}", "post_id", W.p_priv);
        if (v[i].member) {
            ck_assert_int_eq(rc, CM_OK);
            ck_assert_uint_eq(n_items(r), 2);
            json_decref(r);
        } else {
            ck_assert_msg(rc == CM_ENOTFOUND, "%s: %s", v[i].name, cm_status_name(rc));
        }
        if (v[i].who == NULL || v[i].member)
            continue;
        /* hidden to signed-in outsiders for every write too */
        ck_assert_int_eq(
            fx_exec(NULL, v[i].who, "comments.add", "{s:I,s:s}", "post_id", W.p_priv, "body", "hi"),
            CM_ENOTFOUND);
        ck_assert_int_eq(fx_exec(NULL, v[i].who, "reactions.add", "{s:s,s:I,s:s}", "target_type",
                                 "post", "target_id", W.p_priv, "kind", "like"),
                         CM_ENOTFOUND);
        ck_assert_str_eq(cm_error_field(), "target_id");
        ck_assert_int_eq(fx_exec(NULL, v[i].who, "reactions.add", "{s:s,s:I,s:s}", "target_type",
                                 "comment", "target_id", W.c_priv, "kind", "like"),
                         CM_ENOTFOUND);
        ck_assert_int_eq(fx_exec(NULL, v[i].who, "reactions.remove", "{s:s,s:I,s:s}", "target_type",
                                 "comment", "target_id", W.c_priv, "kind", "like"),
                         CM_ENOTFOUND);
        ck_assert_int_eq(
            fx_exec(NULL, v[i].who, "comments.delete", "{s:I}", "comment_id", W.c_priv),
            CM_ENOTFOUND);
        ck_assert_int_eq(
            fx_exec(NULL, v[i].who, "posts.update", "{s:I,s:s}", "post_id", W.p_priv, "title", "x"),
            CM_ENOTFOUND);
        ck_assert_int_eq(fx_exec(NULL, v[i].who, "posts.delete", "{s:I}", "post_id", W.p_priv),
                         CM_ENOTFOUND);
        ck_assert_int_eq(fx_exec(NULL, v[i].who, "posts.create", "{s:I,s:s,s:s}", "group_id",
                                 W.priv, "title", "t", "body", "b"),
                         v[i].who == W.inv ? CM_EPERM : CM_ENOTFOUND);
    }
    ck_assert_int_eq(fx_count("SELECT count(*) FROM reactions"), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM comments"), 2);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM posts WHERE deleted_at IS NULL"), 3);
    /* members may react, comment and moderate */
    ck_assert_ok(fx_exec(NULL, W.gmod, "reactions.add", "{s:s,s:I,s:s}", "target_type", "comment",
                         "target_id", W.c_priv, "kind", "insightful"));
    ck_assert_ok(fx_exec(NULL, W.gmod, "comments.delete", "{s:I}", "comment_id", W.c_priv));
    /* once a member leaves, the group's content disappears for them */
    ck_assert_ok(fx_exec(NULL, W.act, "groups.leave", "{s:I}", "group_id", W.priv));
    ck_assert_int_eq(fx_exec(NULL, W.act, "posts.get", "{s:I}", "post_id", W.p_priv), CM_ENOTFOUND);
}
END_TEST

/* ---------------------------------------------------------------------- */

START_TEST(create_and_get_a_post)
{
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *admin = fx_member("admin@example.org", "admin");
    json_t *r;
    ck_assert_ok(fx_exec(&r, a, "posts.create", "{s:s,s:s,s:s}", "kind", "question", "title",
                         "Which allocator?", "body", "jemalloc or mimalloc?"));
    json_int_t id = json_integer_value(json_object_get(r, "id"));
    ck_assert_str_eq(json_string_value(json_object_get(r, "kind")), "question");
    ck_assert(json_is_null(json_object_get(r, "group_id")));
    ck_assert(json_is_null(json_object_get(r, "group")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "author"), "id")),
                     mid(a));
    ck_assert_int_eq(json_integer_value(json_object_get(r, "comment_count")), 0);
    ck_assert_int_eq(reaction_count(r, "like"), 0);
    ck_assert_int_eq(reaction_count(r, "curious"), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(r, "my_reactions")), 0);
    ck_assert_ptr_nonnull(json_object_get(r, "created_at"));
    json_decref(r);
    ck_assert_ok(fx_exec(&r, NULL, "posts.get", "{s:I}", "post_id", id));
    ck_assert_str_eq(json_string_value(json_object_get(r, "body")), "jemalloc or mimalloc?");
    json_decref(r);
    ck_assert_int_eq(fx_exec(NULL, NULL, "posts.get", "{s:I}", "post_id", (json_int_t)999),
                     CM_ENOTFOUND);
    /* default kind; the metric; the audit row */
    ck_assert_ok(fx_exec(&r, a, "posts.create", "{s:s,s:s}", "title", "t", "body", "b"));
    ck_assert_str_eq(json_string_value(json_object_get(r, "kind")), "discussion");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, admin, "metrics.get", "{}"));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "counters"), "posts")),
                     2);
    json_decref(r);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE op = 'posts.create' AND target_type = "
             "'post' AND target_id = %lld",
             (long long)id);
    ck_assert_int_eq(fx_count(sql), 1);
    /* the system actor and anonymous cannot author */
    ck_assert_int_eq(fx_exec(NULL, FX.sys, "posts.create", "{s:s,s:s}", "title", "t", "body", "b"),
                     CM_EAUTH);
    ck_assert_int_eq(fx_exec(NULL, NULL, "posts.create", "{s:s,s:s}", "title", "t", "body", "b"),
                     CM_EAUTH);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM posts"), 2);
    cm_actor_free(a);
    cm_actor_free(admin);
}
END_TEST

START_TEST(posting_in_a_group_needs_active_membership)
{
    cm_actor *own = fx_member("own@example.org", "organizer");
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *p = fx_member("p@example.org", "member");
    json_int_t g = make_group(own, "open-g", "open");
    json_int_t h = make_group(own, "appr-g", "approval");
    ck_assert_int_eq(
        fx_exec(NULL, a, "posts.create", "{s:I,s:s,s:s}", "group_id", g, "title", "t", "body", "b"),
        CM_EPERM);
    ck_assert_str_eq(cm_error_field(), "group_id");
    ck_assert_int_eq(fx_exec(NULL, a, "posts.create", "{s:I,s:s,s:s}", "group_id", (json_int_t)999,
                             "title", "t", "body", "b"),
                     CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "group_id");
    ck_assert_ok(fx_exec(NULL, p, "groups.join", "{s:I}", "group_id", h));
    ck_assert_int_eq(
        fx_exec(NULL, p, "posts.create", "{s:I,s:s,s:s}", "group_id", h, "title", "t", "body", "b"),
        CM_EPERM);
    ck_assert_ok(fx_exec(NULL, a, "groups.join", "{s:I}", "group_id", g));
    json_t *r;
    ck_assert_ok(
        fx_exec(&r, a, "posts.create", "{s:I,s:s,s:s}", "group_id", g, "title", "t", "body", "b"));
    ck_assert_int_eq(json_integer_value(json_object_get(r, "group_id")), g);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "group"), "slug")),
                     "open-g");
    json_decref(r);
    /* a public group's posts: readable by all, writable by members only */
    json_int_t post = make_post(a, g, "in the open");
    ck_assert_int_eq(fx_exec(NULL, p, "comments.add", "{s:I,s:s}", "post_id", post, "body", "x"),
                     CM_EPERM);
    ck_assert_int_eq(fx_exec(NULL, p, "reactions.add", "{s:s,s:I,s:s}", "target_type", "post",
                             "target_id", post, "kind", "like"),
                     CM_EPERM);
    ck_assert_ok(fx_exec(NULL, p, "comments.list", "{s:I}", "post_id", post));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM posts"), 2);
    cm_actor_free(own);
    cm_actor_free(a);
    cm_actor_free(p);
}
END_TEST

START_TEST(announcements_need_rank)
{
    cm_actor *own = fx_member("own@example.org", "organizer");
    cm_actor *a = fx_member("a@example.org", "member");
    json_int_t g = make_group(own, "ann", "open");
    ck_assert_ok(fx_exec(NULL, a, "groups.join", "{s:I}", "group_id", g));
#define ANNOUNCE(actor, gid)                                                                       \
    ((gid) ? fx_exec(NULL, actor, "posts.create", "{s:I,s:s,s:s,s:s}", "group_id",                 \
                     (json_int_t)(gid), "kind", "announcement", "title", "T", "body", "B")         \
           : fx_exec(NULL, actor, "posts.create", "{s:s,s:s,s:s}", "kind", "announcement",         \
                     "title", "T", "body", "B"))
    ck_assert_int_eq(ANNOUNCE(a, 0), CM_EPERM);
    ck_assert_str_eq(cm_error_field(), "kind");
    ck_assert_ok(ANNOUNCE(own, 0));
    ck_assert_int_eq(ANNOUNCE(a, g), CM_EPERM);
    ck_assert_str_eq(cm_error_field(), "kind");
    ck_assert_ok(ANNOUNCE(own, g));
    ck_assert_ok(fx_exec(NULL, own, "groups.set_role", "{s:I,s:I,s:s}", "group_id", g, "member_id",
                         mid(a), "role", "moderator"));
    ck_assert_ok(ANNOUNCE(a, g));
    /* a platform organizer who is not a member cannot announce in a group */
    cm_actor *org2 = fx_member("org2@example.org", "organizer");
    ck_assert_int_eq(ANNOUNCE(org2, g), CM_EPERM);
    ck_assert_str_eq(cm_error_field(), "group_id");
#undef ANNOUNCE
    /* nor can a member turn a post into one */
    cm_actor *b = fx_member("b@example.org", "member");
    json_int_t p = make_post(b, 0, "plain");
    ck_assert_int_eq(
        fx_exec(NULL, b, "posts.update", "{s:I,s:s}", "post_id", p, "kind", "announcement"),
        CM_EPERM);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM posts WHERE kind = 'announcement'"), 3);
    json_t *r;
    ck_assert_ok(fx_exec(&r, NULL, "posts.list", "{s:s}", "kind", "announcement"));
    ck_assert_uint_eq(n_items(r), 3);
    json_decref(r);
    cm_actor_free(own);
    cm_actor_free(a);
    cm_actor_free(org2);
    cm_actor_free(b);
}
END_TEST

START_TEST(bad_post_input_is_rejected_and_changes_nothing)
{
    cm_actor *a = fx_member("a@example.org", "member");
    struct {
        const char *op, *json, *field;
    } cases[] = {
        {"posts.create", "{\"body\":\"b\"}", "title"},
        {"posts.create", "{\"title\":\"t\"}", "body"},
        {"posts.create", "{\"title\":\"\",\"body\":\"b\"}", "title"},
        {"posts.create", "{\"title\":\"t\",\"body\":\"\"}", "body"},
        {"posts.create", "{\"title\":7,\"body\":\"b\"}", "title"},
        {"posts.create", "{\"title\":\"t\",\"body\":{}}", "body"},
        {"posts.create", "{\"title\":\"t\",\"body\":\"b\",\"kind\":\"rant\"}", "kind"},
        {"posts.create", "{\"title\":\"t\",\"body\":\"b\",\"group_id\":0}", "group_id"},
        {"posts.create", "{\"title\":\"t\",\"body\":\"b\",\"group_id\":\"1\"}", "group_id"},
        {"posts.create", "{\"title\":\"t\",\"body\":\"b\",\"author_id\":1}", "author_id"},
        {"posts.create", "{\"title\":\"t\\u0000\",\"body\":\"b\"}", ""},
        {"posts.get", "{}", "post_id"},
        {"posts.get", "{\"post_id\":-1}", "post_id"},
        {"posts.list", "{\"limit\":101}", "limit"},
        {"posts.list", "{\"scope\":\"world\"}", "scope"},
        {"posts.list", "{\"scope\":\"all\",\"group_id\":1}", "scope"},
        {"posts.list", "{\"cursor\":\"c1.zz\"}", "cursor"},
        {"posts.list", "{\"q\":\"\"}", "q"},
        {"comments.add", "{\"post_id\":1}", "body"},
        {"comments.add", "{\"body\":\"x\"}", "post_id"},
        {"comments.add", "{\"post_id\":1,\"body\":\"\"}", "body"},
        {"comments.add", "{\"post_id\":1,\"body\":\"x\",\"parent_id\":0}", "parent_id"},
        {"reactions.add", "{\"target_type\":\"post\",\"target_id\":1,\"kind\":\"angry\"}", "kind"},
        {"reactions.add", "{\"target_type\":\"event\",\"target_id\":1,\"kind\":\"like\"}",
         "target_type"},
        {"reactions.add", "{\"target_type\":\"post\",\"kind\":\"like\"}", "target_id"},
        {"reactions.remove", "{\"target_type\":\"post\",\"target_id\":1}", "kind"},
    };
    json_int_t p = make_post(a, 0, "the one");
    ck_assert_int_eq(p, 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = fx_exec_raw(NULL, a, cases[i].op, cases[i].json);
        ck_assert_msg(rc == CM_EINVAL, "case %zu: %s", i, cm_status_name(rc));
        ck_assert_msg(strcmp(cm_error_field(), cases[i].field) == 0, "case %zu: field '%s'", i,
                      cm_error_field());
    }
    /* oversize strings: title 201, body 20001, comment 10001 characters */
    static char big[20002];
    memset(big, 'x', sizeof big);
    big[201] = 0;
    ck_assert_int_eq(fx_exec(NULL, a, "posts.create", "{s:s,s:s}", "title", big, "body", "b"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "title");
    big[200] = 0;
    ck_assert_int_eq(fx_exec(NULL, a, "posts.update", "{s:I,s:s}", "post_id", p, "title", big),
                     CM_OK);
    memset(big, 'x', sizeof big);
    big[20001] = 0;
    ck_assert_int_eq(fx_exec(NULL, a, "posts.create", "{s:s,s:s}", "title", "t", "body", big),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "body");
    ck_assert_int_eq(fx_exec(NULL, a, "posts.update", "{s:I,s:s}", "post_id", p, "body", big),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "body");
    big[10001] = 0;
    ck_assert_int_eq(fx_exec(NULL, a, "comments.add", "{s:I,s:s}", "post_id", p, "body", big),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "body");
    /* multi-byte characters count as one: 200 x U+00E9 is a valid title */
    char accents[401];
    for (int i = 0; i < 200; i++)
        memcpy(accents + 2 * i, "\xc3\xa9", 2);
    accents[400] = 0;
    ck_assert_ok(fx_exec(NULL, a, "posts.update", "{s:I,s:s}", "post_id", p, "title", accents));
    /* invalid UTF-8 */
    ck_assert_int_eq(fx_exec_raw(NULL, a, "posts.create", "{\"title\":\"\xff\",\"body\":\"b\"}"),
                     CM_EINVAL);
    ck_assert_int_eq(
        fx_exec_raw(NULL, a, "comments.add", "{\"post_id\":1,\"body\":\"\xed\xa0\x80\"}"),
        CM_EINVAL);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM posts"), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM comments"), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM reactions"), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM audit_log WHERE op IN ('posts.create', "
                              "'comments.add', 'reactions.add', 'reactions.remove')"),
                     1);
    cm_actor_free(a);
}
END_TEST

START_TEST(update_and_delete_posts)
{
    cm_actor *own = fx_member("own@example.org", "organizer");
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *b = fx_member("b@example.org", "member");
    cm_actor *gm = fx_member("gm@example.org", "member");
    cm_actor *pmod = fx_member("pmod@example.org", "moderator");
    json_int_t g = make_group(own, "grp", "open");
    const cm_actor *joiners[] = {a, b, gm};
    for (int i = 0; i < 3; i++)
        ck_assert_ok(fx_exec(NULL, joiners[i], "groups.join", "{s:I}", "group_id", g));
    ck_assert_ok(fx_exec(NULL, own, "groups.set_role", "{s:I,s:I,s:s}", "group_id", g, "member_id",
                         mid(gm), "role", "moderator"));
    json_int_t p1 = make_post(a, g, "one"), p2 = make_post(a, g, "two"),
               p3 = make_post(a, 0, "three"), p4 = make_post(a, g, "four");
    json_t *r;
    ck_assert_ok(fx_exec(&r, a, "posts.update", "{s:I,s:s,s:s}", "post_id", p1, "title",
                         "one, edited", "kind", "question"));
    ck_assert_str_eq(json_string_value(json_object_get(r, "title")), "one, edited");
    ck_assert_str_eq(json_string_value(json_object_get(r, "kind")), "question");
    ck_assert_str_eq(json_string_value(json_object_get(r, "body")), "text");
    json_decref(r);
    ck_assert_int_eq(fx_exec(NULL, b, "posts.update", "{s:I,s:s}", "post_id", p1, "title", "x"),
                     CM_EPERM);
    ck_assert_int_eq(fx_exec(NULL, gm, "posts.update", "{s:I,s:s}", "post_id", p1, "title", "x"),
                     CM_EPERM);
    ck_assert_int_eq(
        fx_exec(NULL, a, "posts.update", "{s:I,s:s}", "post_id", (json_int_t)99, "title", "x"),
        CM_ENOTFOUND);
    /* deletion: not by another member; by the author, a group moderator,
     * a platform moderator */
    ck_assert_int_eq(fx_exec(NULL, b, "posts.delete", "{s:I}", "post_id", p1), CM_EPERM);
    ck_assert_int_eq(fx_exec(NULL, gm, "posts.delete", "{s:I}", "post_id", p3), CM_EPERM);
    ck_assert_ok(fx_exec(NULL, a, "posts.delete", "{s:I}", "post_id", p1));
    ck_assert_ok(fx_exec(NULL, gm, "posts.delete", "{s:I}", "post_id", p2));
    ck_assert_ok(fx_exec(NULL, pmod, "posts.delete", "{s:I}", "post_id", p3));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM posts WHERE deleted_at IS NOT NULL"), 3);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM audit_log WHERE op = 'posts.delete' AND "
                              "target_type = 'post'"),
                     3);
    ck_assert_int_eq(fx_exec(NULL, a, "posts.delete", "{s:I}", "post_id", p1), CM_ENOTFOUND);
    ck_assert_int_eq(fx_exec(NULL, a, "posts.get", "{s:I}", "post_id", p1), CM_ENOTFOUND);
    ck_assert_int_eq(fx_exec(NULL, a, "posts.update", "{s:I,s:s}", "post_id", p1, "title", "x"),
                     CM_ENOTFOUND);
    ck_assert_int_eq(fx_exec(NULL, a, "comments.add", "{s:I,s:s}", "post_id", p2, "body", "x"),
                     CM_ENOTFOUND);
    ck_assert_int_eq(fx_exec(NULL, a, "comments.list", "{s:I}", "post_id", p2), CM_ENOTFOUND);
    ck_assert_ok(fx_exec(&r, pmod, "posts.list", "{}"));
    ck_assert_uint_eq(n_items(r), 1);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_array_get(json_object_get(r, "items"), 0), "id")),
        p4);
    json_decref(r);
    /* a banned author can no longer edit */
    ck_assert_ok(fx_exec(NULL, gm, "groups.ban", "{s:I,s:I}", "group_id", g, "member_id", mid(a)));
    ck_assert_int_eq(fx_exec(NULL, a, "posts.update", "{s:I,s:s}", "post_id", p4, "title", "x"),
                     CM_EPERM);
    cm_actor_free(own);
    cm_actor_free(a);
    cm_actor_free(b);
    cm_actor_free(gm);
    cm_actor_free(pmod);
}
END_TEST

START_TEST(feed_is_newest_first_with_cursor_and_filters)
{
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *b = fx_member("b@example.org", "member");
    fx_clock_set(1800000000000000);
    json_int_t ids[8];
    char title[32];
    for (int i = 0; i < 8; i++) {
        if (i == 5)
            fx_clock_advance(1000000); /* posts 0-4 share one timestamp */
        snprintf(title, sizeof title, "post %d", i);
        json_t *r;
        ck_assert_ok(fx_exec(&r, i % 2 ? b : a, "posts.create", "{s:s,s:s,s:s}", "title", title,
                             "body", i == 6 ? "needle 50% off" : "hay", "kind",
                             i == 2 ? "question" : "discussion"));
        ids[i] = json_integer_value(json_object_get(r, "id"));
        json_decref(r);
    }
    json_int_t seen[10];
    size_t n = 0;
    char cursor[64] = "";
    for (int page = 0; page < 6; page++) {
        json_t *r;
        if (cursor[0])
            ck_assert_ok(
                fx_exec(&r, NULL, "posts.list", "{s:i,s:s}", "limit", 3, "cursor", cursor));
        else
            ck_assert_ok(fx_exec(&r, NULL, "posts.list", "{s:i}", "limit", 3));
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(r, "items"), i, it)
        {
            ck_assert_uint_lt(n, 10);
            seen[n++] = json_integer_value(json_object_get(it, "id"));
        }
        json_t *nc = json_object_get(r, "next_cursor");
        bool more = json_is_string(nc);
        if (more)
            snprintf(cursor, sizeof cursor, "%s", json_string_value(nc));
        json_decref(r);
        if (!more)
            break;
    }
    ck_assert_uint_eq(n, 8);
    for (size_t i = 0; i < 8; i++)
        ck_assert_int_eq(seen[i], ids[7 - i]);
    json_t *r;
    ck_assert_ok(fx_exec(&r, NULL, "posts.list", "{s:I}", "author_id", mid(b)));
    ck_assert_uint_eq(n_items(r), 4);
    json_decref(r);
    ck_assert_ok(fx_exec(&r, NULL, "posts.list", "{s:s}", "kind", "question"));
    ck_assert_uint_eq(n_items(r), 1);
    ck_assert(items_have_title(r, "post 2"));
    json_decref(r);
    ck_assert_ok(fx_exec(&r, NULL, "posts.list", "{s:s}", "q", "50%"));
    ck_assert_uint_eq(n_items(r), 1);
    ck_assert(items_have_title(r, "post 6"));
    json_decref(r);
    ck_assert_ok(fx_exec(&r, NULL, "posts.list", "{s:s}", "q", "post 3"));
    ck_assert_uint_eq(n_items(r), 1);
    json_decref(r);
    cm_actor_free(a);
    cm_actor_free(b);
}
END_TEST

START_TEST(comments_come_in_thread_order)
{
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *b = fx_member("b@example.org", "member");
    json_int_t p = make_post(a, 0, "thread"), other = make_post(a, 0, "other");
    /* created in this order: c1, c2 (re c1), c3, c4 (re c2), c5 (re c1), c6 (re c3) */
    json_int_t c1 = make_comment(a, p, 0, "c1");
    json_int_t c2 = make_comment(b, p, c1, "c2");
    json_int_t c3 = make_comment(b, p, 0, "c3");
    json_int_t c4 = make_comment(a, p, c2, "c4");
    json_int_t c5 = make_comment(a, p, c1, "c5");
    json_int_t c6 = make_comment(a, p, c3, "c6");
    struct {
        json_int_t id, parent;
        int depth;
    } want[] = {{c1, 0, 0}, {c2, c1, 1}, {c4, c2, 2}, {c5, c1, 1}, {c3, 0, 0}, {c6, c3, 1}};
    json_t *r;
    ck_assert_ok(fx_exec(&r, NULL, "comments.list", "{s:I}", "post_id", p));
    ck_assert_uint_eq(n_items(r), 6);
    for (size_t i = 0; i < 6; i++) {
        json_t *it = json_array_get(json_object_get(r, "items"), i);
        ck_assert_int_eq(json_integer_value(json_object_get(it, "id")), want[i].id);
        ck_assert_int_eq(json_integer_value(json_object_get(it, "depth")), want[i].depth);
        json_t *par = json_object_get(it, "parent_id");
        if (want[i].parent)
            ck_assert_int_eq(json_integer_value(par), want[i].parent);
        else
            ck_assert(json_is_null(par));
    }
    json_decref(r);
    /* the same order page by page */
    char cursor[64] = "";
    size_t n = 0;
    for (int page = 0; page < 5; page++) {
        if (cursor[0])
            ck_assert_ok(fx_exec(&r, NULL, "comments.list", "{s:I,s:i,s:s}", "post_id", p, "limit",
                                 4, "cursor", cursor));
        else
            ck_assert_ok(fx_exec(&r, NULL, "comments.list", "{s:I,s:i}", "post_id", p, "limit", 4));
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(r, "items"), i, it)
        {
            ck_assert_uint_lt(n, 6);
            ck_assert_int_eq(json_integer_value(json_object_get(it, "id")), want[n].id);
            n++;
        }
        json_t *nc = json_object_get(r, "next_cursor");
        bool more = json_is_string(nc);
        if (more)
            snprintf(cursor, sizeof cursor, "%s", json_string_value(nc));
        json_decref(r);
        if (!more)
            break;
    }
    ck_assert_uint_eq(n, 6);
    ck_assert_ok(fx_exec(&r, NULL, "posts.get", "{s:I}", "post_id", p));
    ck_assert_int_eq(json_integer_value(json_object_get(r, "comment_count")), 6);
    json_decref(r);
    /* a deleted comment keeps its place without author or body */
    ck_assert_ok(fx_exec(NULL, b, "comments.delete", "{s:I}", "comment_id", c2));
    ck_assert_ok(fx_exec(&r, NULL, "comments.list", "{s:I}", "post_id", p));
    json_t *it = json_array_get(json_object_get(r, "items"), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(it, "id")), c2);
    ck_assert(json_is_true(json_object_get(it, "deleted")));
    ck_assert(json_is_null(json_object_get(it, "author")));
    ck_assert_str_eq(json_string_value(json_object_get(it, "body")), "");
    ck_assert_uint_eq(n_items(r), 6);
    json_decref(r);
    ck_assert_ok(fx_exec(&r, NULL, "posts.get", "{s:I}", "post_id", p));
    ck_assert_int_eq(json_integer_value(json_object_get(r, "comment_count")), 5);
    json_decref(r);
    /* replies: not to a deleted comment, not across posts */
    ck_assert_int_eq(fx_exec(NULL, a, "comments.add", "{s:I,s:I,s:s}", "post_id", p, "parent_id",
                             c2, "body", "x"),
                     CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "parent_id");
    ck_assert_int_eq(fx_exec(NULL, a, "comments.add", "{s:I,s:I,s:s}", "post_id", other,
                             "parent_id", c1, "body", "x"),
                     CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "parent_id");
    ck_assert_int_eq(fx_exec(NULL, a, "comments.add", "{s:I,s:I,s:s}", "post_id", p, "parent_id",
                             (json_int_t)999, "body", "x"),
                     CM_ENOTFOUND);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM comments"), 6);
    ck_assert_int_eq(fx_exec(NULL, a, "comments.list", "{s:I,s:s}", "post_id", p, "cursor", "nope"),
                     CM_EINVAL);
    cm_actor_free(a);
    cm_actor_free(b);
}
END_TEST

START_TEST(threads_nest_at_most_16_deep)
{
    cm_actor *a = fx_member("a@example.org", "member");
    json_int_t p = make_post(a, 0, "deep");
    json_int_t parent = 0;
    for (int d = 0; d <= 16; d++)
        parent = make_comment(a, p, parent, "deeper");
    ck_assert_int_eq(fx_count("SELECT max(depth) FROM comments"), 16);
    ck_assert_int_eq(fx_exec(NULL, a, "comments.add", "{s:I,s:I,s:s}", "post_id", p, "parent_id",
                             parent, "body", "too deep"),
                     CM_ECONSTRAINT);
    ck_assert_str_eq(cm_error_field(), "parent_id");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM comments"), 17);
    json_t *r;
    ck_assert_ok(fx_exec(&r, NULL, "comments.list", "{s:I}", "post_id", p));
    ck_assert_uint_eq(n_items(r), 17);
    ck_assert_int_eq(json_integer_value(
                         json_object_get(json_array_get(json_object_get(r, "items"), 16), "depth")),
                     16);
    json_decref(r);
    cm_actor_free(a);
}
END_TEST

START_TEST(comment_deletion_rights)
{
    cm_actor *own = fx_member("own@example.org", "organizer");
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *b = fx_member("b@example.org", "member");
    cm_actor *pmod = fx_member("pmod@example.org", "moderator");
    json_int_t g = make_group(own, "grp", "open");
    ck_assert_ok(fx_exec(NULL, a, "groups.join", "{s:I}", "group_id", g));
    ck_assert_ok(fx_exec(NULL, b, "groups.join", "{s:I}", "group_id", g));
    json_int_t p = make_post(a, g, "p");
    json_int_t c1 = make_comment(a, p, 0, "1"), c2 = make_comment(a, p, 0, "2"),
               c3 = make_comment(a, p, 0, "3");
    ck_assert_int_eq(fx_exec(NULL, b, "comments.delete", "{s:I}", "comment_id", c1), CM_EPERM);
    ck_assert_ok(fx_exec(NULL, a, "comments.delete", "{s:I}", "comment_id", c1));
    ck_assert_ok(fx_exec(NULL, own, "comments.delete", "{s:I}", "comment_id", c2)); /* owner */
    ck_assert_ok(fx_exec(NULL, pmod, "comments.delete", "{s:I}", "comment_id", c3));
    ck_assert_int_eq(fx_exec(NULL, a, "comments.delete", "{s:I}", "comment_id", c1), CM_ENOTFOUND);
    ck_assert_int_eq(fx_exec(NULL, a, "comments.delete", "{s:I}", "comment_id", (json_int_t)99),
                     CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "comment_id");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM comments WHERE deleted_at IS NOT NULL"), 3);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM audit_log WHERE op = 'comments.delete' AND "
                              "target_type = 'comment'"),
                     3);
    cm_actor_free(own);
    cm_actor_free(a);
    cm_actor_free(b);
    cm_actor_free(pmod);
}
END_TEST

START_TEST(reactions_are_idempotent_and_counted)
{
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *b = fx_member("b@example.org", "member");
    json_int_t p = make_post(a, 0, "react to me");
    json_int_t c = make_comment(a, p, 0, "and me");
    json_t *r;
#define REACT(actor, op, type, id, kind)                                                           \
    fx_exec(&r, actor, op, "{s:s,s:I,s:s}", "target_type", type, "target_id", (json_int_t)(id),    \
            "kind", kind)
    ck_assert_ok(REACT(b, "reactions.add", "post", p, "like"));
    ck_assert_int_eq(reaction_count(r, "like"), 1);
    json_decref(r);
    ck_assert_ok(REACT(b, "reactions.add", "post", p, "like"));
    ck_assert_int_eq(reaction_count(r, "like"), 1);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(r, "my_reactions"), 0)),
                     "like");
    json_decref(r);
    ck_assert_ok(REACT(b, "reactions.add", "post", p, "celebrate"));
    json_decref(r);
    ck_assert_ok(REACT(a, "reactions.add", "post", p, "like"));
    json_decref(r);
    ck_assert_ok(REACT(a, "reactions.add", "comment", c, "insightful"));
    ck_assert_int_eq(reaction_count(r, "insightful"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(r, "target_type")), "comment");
    json_decref(r);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM reactions"), 4);
    /* counts and "mine" in posts.get and posts.list, per viewer */
    ck_assert_ok(fx_exec(&r, a, "posts.get", "{s:I}", "post_id", p));
    ck_assert_int_eq(reaction_count(r, "like"), 2);
    ck_assert_int_eq(reaction_count(r, "celebrate"), 1);
    ck_assert_int_eq(reaction_count(r, "love"), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(r, "my_reactions")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "comment_count")), 1);
    json_decref(r);
    ck_assert_ok(fx_exec(&r, b, "posts.list", "{}"));
    json_t *it = json_array_get(json_object_get(r, "items"), 0);
    ck_assert_int_eq(reaction_count(it, "like"), 2);
    ck_assert_uint_eq(json_array_size(json_object_get(it, "my_reactions")), 2);
    json_decref(r);
    ck_assert_ok(fx_exec(&r, b, "comments.list", "{s:I}", "post_id", p));
    it = json_array_get(json_object_get(r, "items"), 0);
    ck_assert_int_eq(reaction_count(it, "insightful"), 1);
    ck_assert_uint_eq(json_array_size(json_object_get(it, "my_reactions")), 0);
    json_decref(r);
    /* remove is idempotent too */
    ck_assert_ok(REACT(b, "reactions.remove", "post", p, "like"));
    ck_assert_int_eq(reaction_count(r, "like"), 1);
    json_decref(r);
    ck_assert_ok(REACT(b, "reactions.remove", "post", p, "like"));
    ck_assert_int_eq(reaction_count(r, "like"), 1);
    json_decref(r);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM reactions"), 3);
    /* errors */
    ck_assert_int_eq(REACT(b, "reactions.add", "post", 999, "like"), CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "target_id");
    ck_assert_int_eq(REACT(b, "reactions.add", "comment", 999, "like"), CM_ENOTFOUND);
    ck_assert_int_eq(REACT(NULL, "reactions.add", "post", p, "like"), CM_EAUTH);
    ck_assert_int_eq(REACT(FX.sys, "reactions.add", "post", p, "like"), CM_EAUTH);
    ck_assert_ok(fx_exec(NULL, a, "comments.delete", "{s:I}", "comment_id", c));
    ck_assert_int_eq(REACT(b, "reactions.add", "comment", c, "like"), CM_ENOTFOUND);
    ck_assert_ok(fx_exec(NULL, a, "posts.delete", "{s:I}", "post_id", p));
    ck_assert_int_eq(REACT(b, "reactions.remove", "post", p, "celebrate"), CM_ENOTFOUND);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM reactions"), 3);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM audit_log WHERE op LIKE 'reactions.%' AND "
                              "target_type IN ('post', 'comment')"),
                     7);
#undef REACT
    cm_actor_free(a);
    cm_actor_free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("post");
    TCase *tc = tcase_create("posts");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, create_and_get_a_post);
    tcase_add_test(tc, posting_in_a_group_needs_active_membership);
    tcase_add_test(tc, announcements_need_rank);
    tcase_add_test(tc, bad_post_input_is_rejected_and_changes_nothing);
    tcase_add_test(tc, update_and_delete_posts);
    tcase_add_test(tc, feed_is_newest_first_with_cursor_and_filters);
    tcase_add_test(tc, comments_come_in_thread_order);
    tcase_add_test(tc, threads_nest_at_most_16_deep);
    tcase_add_test(tc, comment_deletion_rights);
    tcase_add_test(tc, reactions_are_idempotent_and_counted);
    suite_add_tcase(s, tc);
    TCase *vis = tcase_create("private-groups");
    tcase_add_checked_fixture(vis, world_setup, world_teardown);
    tcase_set_timeout(vis, 120);
    tcase_add_test(vis, private_posts_get);
    tcase_add_test(vis, private_posts_list_all_platform_group_and_q);
    tcase_add_test(vis, private_posts_comments_and_reactions);
    suite_add_tcase(s, vis);
    return fx_run(s);
}
