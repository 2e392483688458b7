/*
 * test_group.c - groups through cm_exec: creation and its input checks,
 * join policies, approval, invitations, roles, bans, leaving, and the
 * private-group visibility rule in groups.get, groups.list (with its q
 * search) and groups.members.
 */
#include "fixtures.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static json_int_t mid(const cm_actor *a)
{
    return (json_int_t)cm_actor_member_id(a);
}

/* Create a group as `owner`; returns its id. */
static json_int_t make_group(const cm_actor *owner, const char *slug, const char *policy,
                             const char *vis)
{
    json_t *r;
    ck_assert_ok(fx_exec(&r, owner, "groups.create", "{s:s,s:s,s:s,s:s,s:s}", "slug", slug, "name",
                         slug, "kind", "chapter", "join_policy", policy, "visibility", vis));
    json_int_t id = json_integer_value(json_object_get(r, "id"));
    json_decref(r);
    ck_assert_int_gt(id, 0);
    return id;
}

static int gexec(const cm_actor *a, const char *op, json_int_t gid, const cm_actor *who)
{
    if (who)
        return fx_exec(NULL, a, op, "{s:I,s:I}", "group_id", gid, "member_id", mid(who));
    return fx_exec(NULL, a, op, "{s:I}", "group_id", gid);
}

/* The status of a's row in group gid, or "none". */
static const char *membership_status(json_int_t gid, const cm_actor *a)
{
    static const char *const names[] = {"active", "pending", "invited", "banned"};
    char sql[200];
    for (int i = 0; i < 4; i++) {
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM group_members WHERE group_id = %lld AND member_id = "
                 "%lld AND status = '%s'",
                 (long long)gid, (long long)mid(a), names[i]);
        if (fx_count(sql) == 1)
            return names[i];
    }
    return "none";
}

/* Does a groups.list result hold the group with this id? */
static bool list_has(json_t *r, json_int_t id)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(r, "items"), i, it)
    {
        if (json_integer_value(json_object_get(it, "id")) == id)
            return true;
    }
    return false;
}

START_TEST(create_makes_the_creator_owner)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "groups.create", "{s:s,s:s,s:s,s:s}", "slug", "berlin-c", "name",
                         "Berlin C", "description", "C hackers in Berlin", "kind", "chapter"));
    json_int_t id = json_integer_value(json_object_get(r, "id"));
    ck_assert_str_eq(json_string_value(json_object_get(r, "slug")), "berlin-c");
    ck_assert_str_eq(json_string_value(json_object_get(r, "join_policy")), "open");
    ck_assert_str_eq(json_string_value(json_object_get(r, "visibility")), "public");
    ck_assert_int_eq(json_integer_value(json_object_get(r, "member_count")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "created_by")), mid(org));
    json_t *m = json_object_get(r, "membership");
    ck_assert_str_eq(json_string_value(json_object_get(m, "role")), "owner");
    ck_assert_str_eq(json_string_value(json_object_get(m, "status")), "active");
    json_decref(r);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM group_members WHERE role = 'owner' AND "
                              "status = 'active'"),
                     1);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE op = 'groups.create' AND target_type = "
             "'group' AND target_id = %lld",
             (long long)id);
    ck_assert_int_eq(fx_count(sql), 1);
    /* anyone sees a public group */
    ck_assert_ok(fx_exec(&r, NULL, "groups.get", "{s:I}", "group_id", id));
    ck_assert(json_is_null(json_object_get(r, "membership")));
    json_decref(r);
    ck_assert_int_eq(fx_exec(NULL, NULL, "groups.get", "{s:I}", "group_id", (json_int_t)999),
                     CM_ENOTFOUND);
    cm_actor_free(org);
}
END_TEST

START_TEST(create_needs_organizer_and_a_unique_slug)
{
    cm_actor *mem = fx_member("m@example.org", "member");
    cm_actor *org = fx_member("org@example.org", "organizer");
    ck_assert_int_eq(fx_exec(NULL, mem, "groups.create", "{s:s,s:s,s:s}", "slug", "x1", "name", "X",
                             "kind", "interest"),
                     CM_EPERM);
    ck_assert_int_eq(fx_exec(NULL, NULL, "groups.create", "{s:s,s:s,s:s}", "slug", "x1", "name",
                             "X", "kind", "interest"),
                     CM_EAUTH);
    make_group(org, "rust-circle", "open", "public");
    ck_assert_int_eq(fx_exec(NULL, org, "groups.create", "{s:s,s:s,s:s}", "slug", "rust-circle",
                             "name", "Another", "kind", "interest"),
                     CM_EEXISTS);
    ck_assert_str_eq(cm_error_field(), "slug");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM groups"), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM group_members"), 1);
    /* the system actor must name the owner; only admins may */
    ck_assert_int_eq(fx_exec(NULL, FX.sys, "groups.create", "{s:s,s:s,s:s}", "slug", "sys", "name",
                             "S", "kind", "interest"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "owner_id");
    ck_assert_int_eq(fx_exec(NULL, org, "groups.create", "{s:s,s:s,s:s,s:I}", "slug", "sys", "name",
                             "S", "kind", "interest", "owner_id", mid(mem)),
                     CM_EPERM);
    ck_assert_str_eq(cm_error_field(), "owner_id");
    ck_assert_int_eq(fx_exec(NULL, FX.sys, "groups.create", "{s:s,s:s,s:s,s:I}", "slug", "sys",
                             "name", "S", "kind", "interest", "owner_id", (json_int_t)4242),
                     CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "owner_id");
    json_t *r;
    ck_assert_ok(fx_exec(&r, FX.sys, "groups.create", "{s:s,s:s,s:s,s:I}", "slug", "sys", "name",
                         "S", "kind", "interest", "owner_id", mid(mem)));
    ck_assert_int_eq(json_integer_value(json_object_get(r, "created_by")), mid(mem));
    json_decref(r);
    cm_actor_free(mem);
    cm_actor_free(org);
}
END_TEST

START_TEST(bad_create_input_is_rejected_and_changes_nothing)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    struct {
        const char *json, *field;
    } cases[] = {
        {"{\"name\":\"N\",\"kind\":\"chapter\"}", "slug"},
        {"{\"slug\":\"ab\",\"kind\":\"chapter\"}", "name"},
        {"{\"slug\":\"ab\",\"name\":\"N\"}", "kind"},
        {"{\"slug\":\"Bad\",\"name\":\"N\",\"kind\":\"chapter\"}", "slug"},
        {"{\"slug\":\"a_b\",\"name\":\"N\",\"kind\":\"chapter\"}", "slug"},
        {"{\"slug\":\"a b\",\"name\":\"N\",\"kind\":\"chapter\"}", "slug"},
        {"{\"slug\":\"caf\\u00e9\",\"name\":\"N\",\"kind\":\"chapter\"}", "slug"},
        {"{\"slug\":\"a\",\"name\":\"N\",\"kind\":\"chapter\"}", "slug"},
        {"{\"slug\":12,\"name\":\"N\",\"kind\":\"chapter\"}", "slug"},
        {"{\"slug\":\"ab\",\"name\":\"\",\"kind\":\"chapter\"}", "name"},
        {"{\"slug\":\"ab\",\"name\":[\"N\"],\"kind\":\"chapter\"}", "name"},
        {"{\"slug\":\"ab\",\"name\":\"N\",\"kind\":\"club\"}", "kind"},
        {"{\"slug\":\"ab\",\"name\":\"N\",\"kind\":\"chapter\",\"join_policy\":\"closed\"}",
         "join_policy"},
        {"{\"slug\":\"ab\",\"name\":\"N\",\"kind\":\"chapter\",\"visibility\":\"secret\"}",
         "visibility"},
        {"{\"slug\":\"ab\",\"name\":\"N\",\"kind\":\"chapter\",\"description\":5}", "description"},
        {"{\"slug\":\"ab\",\"name\":\"N\",\"kind\":\"chapter\",\"owner_id\":0}", "owner_id"},
        {"{\"slug\":\"ab\",\"name\":\"N\",\"kind\":\"chapter\",\"owner_id\":\"1\"}", "owner_id"},
        {"{\"slug\":\"ab\",\"name\":\"N\",\"kind\":\"chapter\",\"color\":\"red\"}", "color"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_msg(fx_exec_raw(NULL, org, "groups.create", cases[i].json) == CM_EINVAL,
                      "case %zu", i);
        ck_assert_msg(strcmp(cm_error_field(), cases[i].field) == 0, "case %zu: field '%s'", i,
                      cm_error_field());
    }
    /* oversize strings */
    char big[4100];
    memset(big, 'a', sizeof big);
    big[65] = 0;
    ck_assert_int_eq(fx_exec(NULL, org, "groups.create", "{s:s,s:s,s:s}", "slug", big, "name", "N",
                             "kind", "chapter"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "slug");
    memset(big, 'a', sizeof big);
    big[101] = 0;
    ck_assert_int_eq(fx_exec(NULL, org, "groups.create", "{s:s,s:s,s:s}", "slug", "ab", "name", big,
                             "kind", "chapter"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "name");
    memset(big, 'a', sizeof big);
    big[sizeof big - 1] = 0;
    ck_assert_int_eq(fx_exec(NULL, org, "groups.create", "{s:s,s:s,s:s,s:s}", "slug", "ab", "name",
                             "N", "kind", "chapter", "description", big),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "description");
    /* invalid UTF-8 never reaches the handler */
    ck_assert_int_eq(fx_exec_raw(NULL, org, "groups.create",
                                 "{\"slug\":\"ab\",\"name\":\"\xc3\x28\",\"kind\":\"chapter\"}"),
                     CM_EINVAL);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM groups"), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM group_members"), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM audit_log WHERE op LIKE 'groups.%'"), 0);
    /* the 64-character slug at the bound is fine */
    big[64] = 0;
    ck_assert_ok(fx_exec(NULL, org, "groups.create", "{s:s,s:s,s:s}", "slug", big, "name", "N",
                         "kind", "chapter"));
    cm_actor_free(org);
}
END_TEST

START_TEST(join_follows_the_policy)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *a = fx_member("a@example.org", "member");
    json_int_t open = make_group(org, "open-g", "open", "public");
    json_int_t appr = make_group(org, "appr-g", "approval", "public");
    json_int_t inv = make_group(org, "inv-g", "invite", "public");
    json_t *r;
    ck_assert_ok(fx_exec(&r, a, "groups.join", "{s:I}", "group_id", open));
    ck_assert_str_eq(json_string_value(json_object_get(r, "status")), "active");
    ck_assert_str_eq(json_string_value(json_object_get(r, "role")), "member");
    json_decref(r);
    ck_assert_int_eq(gexec(a, "groups.join", open, NULL), CM_EEXISTS);
    ck_assert_ok(fx_exec(&r, a, "groups.join", "{s:I}", "group_id", appr));
    ck_assert_str_eq(json_string_value(json_object_get(r, "status")), "pending");
    json_decref(r);
    ck_assert_int_eq(gexec(a, "groups.join", appr, NULL), CM_EEXISTS);
    ck_assert_int_eq(gexec(a, "groups.join", inv, NULL), CM_EPERM);
    ck_assert_str_eq(membership_status(inv, a), "none");
    ck_assert_ok(gexec(org, "groups.invite", inv, a));
    ck_assert_str_eq(membership_status(inv, a), "invited");
    ck_assert_ok(gexec(a, "groups.join", inv, NULL));
    ck_assert_str_eq(membership_status(inv, a), "active");
    ck_assert_int_eq(gexec(a, "groups.join", (json_int_t)999, NULL), CM_ENOTFOUND);
    ck_assert_int_eq(gexec(NULL, "groups.join", open, NULL), CM_EAUTH);
    ck_assert_int_eq(gexec(FX.sys, "groups.join", open, NULL), CM_EAUTH);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM audit_log WHERE op = 'groups.join' AND "
                              "target_type = 'group'"),
                     3);
    cm_actor_free(org);
    cm_actor_free(a);
}
END_TEST

START_TEST(approve_and_reject_pending_requests)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *b = fx_member("b@example.org", "member");
    cm_actor *gmod = fx_member("gmod@example.org", "member");
    json_int_t g = make_group(org, "appr", "approval", "public");
    ck_assert_ok(gexec(a, "groups.join", g, NULL));
    ck_assert_ok(gexec(b, "groups.join", g, NULL));
    ck_assert_ok(gexec(gmod, "groups.join", g, NULL));
    /* a pending member cannot approve anyone, nor can a platform moderator */
    ck_assert_int_eq(gexec(b, "groups.approve", g, a), CM_EPERM);
    cm_actor *pmod = fx_member("pmod@example.org", "moderator");
    ck_assert_int_eq(gexec(pmod, "groups.approve", g, a), CM_EPERM);
    ck_assert_ok(gexec(org, "groups.approve", g, gmod));
    ck_assert_ok(fx_exec(NULL, org, "groups.set_role", "{s:I,s:I,s:s}", "group_id", g, "member_id",
                         mid(gmod), "role", "moderator"));
    /* a group moderator approves and rejects */
    json_t *r;
    ck_assert_ok(
        fx_exec(&r, gmod, "groups.approve", "{s:I,s:I}", "group_id", g, "member_id", mid(a)));
    ck_assert_str_eq(json_string_value(json_object_get(r, "status")), "active");
    json_decref(r);
    ck_assert_ok(gexec(gmod, "groups.reject", g, b));
    ck_assert_str_eq(membership_status(g, b), "none");
    /* nothing pending any more */
    ck_assert_int_eq(gexec(gmod, "groups.approve", g, a), CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "member_id");
    ck_assert_int_eq(gexec(gmod, "groups.reject", g, b), CM_ENOTFOUND);
    ck_assert_int_eq(gexec(a, "groups.approve", g, b), CM_EPERM);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM group_members WHERE status = 'active'"), 3);
    cm_actor_free(org);
    cm_actor_free(a);
    cm_actor_free(b);
    cm_actor_free(gmod);
    cm_actor_free(pmod);
}
END_TEST

START_TEST(leave_keeps_an_owner)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *c = fx_member("c@example.org", "member");
    json_int_t g = make_group(org, "g1", "open", "public");
    ck_assert_int_eq(gexec(org, "groups.leave", g, NULL), CM_ECONSTRAINT);
    ck_assert_str_eq(membership_status(g, org), "active");
    ck_assert_int_eq(gexec(a, "groups.leave", g, NULL), CM_ENOTFOUND);
    ck_assert_ok(gexec(a, "groups.join", g, NULL));
    ck_assert_ok(fx_exec(NULL, org, "groups.set_role", "{s:I,s:I,s:s}", "group_id", g, "member_id",
                         mid(a), "role", "owner"));
    ck_assert_ok(gexec(org, "groups.leave", g, NULL));
    ck_assert_str_eq(membership_status(g, org), "none");
    ck_assert_int_eq(gexec(a, "groups.leave", g, NULL), CM_ECONSTRAINT);
    /* withdrawing a request and declining an invitation are leaving too */
    json_int_t h = make_group(org, "g2", "approval", "public");
    ck_assert_ok(gexec(c, "groups.join", h, NULL));
    ck_assert_ok(gexec(c, "groups.leave", h, NULL));
    ck_assert_str_eq(membership_status(h, c), "none");
    ck_assert_ok(gexec(org, "groups.invite", h, c));
    ck_assert_ok(gexec(c, "groups.leave", h, NULL));
    ck_assert_str_eq(membership_status(h, c), "none");
    cm_actor_free(org);
    cm_actor_free(a);
    cm_actor_free(c);
}
END_TEST

START_TEST(set_role_rules)
{
    cm_actor *own = fx_member("own@example.org", "organizer");
    cm_actor *adm = fx_member("adm@example.org", "member");
    cm_actor *m = fx_member("m@example.org", "member");
    cm_actor *out = fx_member("out@example.org", "member");
    json_int_t g = make_group(own, "roles", "open", "public");
    ck_assert_ok(gexec(adm, "groups.join", g, NULL));
    ck_assert_ok(gexec(m, "groups.join", g, NULL));
#define SET_ROLE(actor, who, role)                                                                 \
    fx_exec(NULL, actor, "groups.set_role", "{s:I,s:I,s:s}", "group_id", g, "member_id", mid(who), \
            "role", role)
    ck_assert_int_eq(SET_ROLE(m, adm, "admin"), CM_EPERM);
    ck_assert_ok(SET_ROLE(own, adm, "admin"));
    /* admins manage moderators and members, not admins or owners */
    ck_assert_int_eq(SET_ROLE(adm, m, "admin"), CM_EPERM);
    ck_assert_str_eq(cm_error_field(), "role");
    ck_assert_int_eq(SET_ROLE(adm, m, "owner"), CM_EPERM);
    ck_assert_ok(SET_ROLE(adm, m, "moderator"));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM group_members WHERE role = 'moderator'"), 1);
    ck_assert_int_eq(SET_ROLE(adm, own, "member"), CM_EPERM);
    ck_assert_str_eq(cm_error_field(), "member_id");
    /* the last owner cannot step down */
    ck_assert_int_eq(SET_ROLE(own, own, "admin"), CM_ECONSTRAINT);
    /* the target must be an active member */
    ck_assert_int_eq(SET_ROLE(own, out, "member"), CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "member_id");
    ck_assert_int_eq(fx_exec(NULL, own, "groups.set_role", "{s:I,s:I,s:s}", "group_id", g,
                             "member_id", mid(m), "role", "king"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "role");
    /* a platform admin acts as an owner */
    cm_actor *padm = fx_member("padm@example.org", "admin");
    ck_assert_ok(SET_ROLE(padm, adm, "owner"));
    ck_assert_ok(SET_ROLE(own, own, "member"));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM group_members WHERE role = 'owner'"), 1);
#undef SET_ROLE
    cm_actor_free(own);
    cm_actor_free(adm);
    cm_actor_free(m);
    cm_actor_free(out);
    cm_actor_free(padm);
}
END_TEST

START_TEST(update_needs_group_admin)
{
    cm_actor *own = fx_member("own@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    cm_actor *pmod = fx_member("pmod@example.org", "moderator");
    cm_actor *padm = fx_member("padm@example.org", "admin");
    json_int_t g = make_group(own, "upd", "open", "public");
    make_group(own, "taken", "open", "public");
    ck_assert_ok(gexec(m, "groups.join", g, NULL));
    json_t *r;
    ck_assert_ok(fx_exec(&r, own, "groups.update", "{s:I,s:s,s:s}", "group_id", g, "name",
                         "Renamed", "join_policy", "approval"));
    ck_assert_str_eq(json_string_value(json_object_get(r, "name")), "Renamed");
    ck_assert_str_eq(json_string_value(json_object_get(r, "join_policy")), "approval");
    ck_assert_str_eq(json_string_value(json_object_get(r, "slug")), "upd");
    json_decref(r);
    ck_assert_int_eq(fx_exec(NULL, m, "groups.update", "{s:I,s:s}", "group_id", g, "name", "M"),
                     CM_EPERM);
    ck_assert_int_eq(fx_exec(NULL, pmod, "groups.update", "{s:I,s:s}", "group_id", g, "name", "M"),
                     CM_EPERM);
    ck_assert_ok(fx_exec(NULL, padm, "groups.update", "{s:I,s:s}", "group_id", g, "description",
                         "by the admin"));
    ck_assert_int_eq(
        fx_exec(NULL, own, "groups.update", "{s:I,s:s}", "group_id", g, "slug", "taken"),
        CM_EEXISTS);
    ck_assert_str_eq(cm_error_field(), "slug");
    ck_assert_int_eq(
        fx_exec(NULL, own, "groups.update", "{s:I,s:s}", "group_id", g, "slug", "Not OK"),
        CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "slug");
    ck_assert_int_eq(fx_exec(NULL, own, "groups.update", "{s:I,s:s}", "group_id", g, "name", ""),
                     CM_EINVAL);
    ck_assert_int_eq(
        fx_exec(NULL, own, "groups.update", "{s:I,s:s}", "group_id", (json_int_t)999, "name", "x"),
        CM_ENOTFOUND);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM groups WHERE slug = 'upd' AND name = "
                              "'Renamed' AND description = 'by the admin'"),
                     1);
    cm_actor_free(own);
    cm_actor_free(m);
    cm_actor_free(pmod);
    cm_actor_free(padm);
}
END_TEST

START_TEST(invite_rules)
{
    cm_actor *own = fx_member("own@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    cm_actor *x = fx_member("x@example.org", "member");
    cm_actor *p = fx_member("p@example.org", "member");
    json_int_t g = make_group(own, "inv", "approval", "public");
    ck_assert_int_eq(gexec(own, "groups.invite", g, NULL), CM_EINVAL); /* no member_id */
    ck_assert_str_eq(cm_error_field(), "member_id");
    ck_assert_ok(gexec(m, "groups.join", g, NULL));
    ck_assert_ok(gexec(own, "groups.approve", g, m));
    ck_assert_int_eq(gexec(m, "groups.invite", g, x), CM_EPERM);
    ck_assert_ok(gexec(own, "groups.invite", g, x));
    ck_assert_int_eq(gexec(own, "groups.invite", g, x), CM_EEXISTS);
    ck_assert_int_eq(gexec(own, "groups.invite", g, m), CM_EEXISTS);
    ck_assert_str_eq(cm_error_field(), "member_id");
    ck_assert_int_eq(fx_exec(NULL, own, "groups.invite", "{s:I,s:I}", "group_id", g, "member_id",
                             (json_int_t)777),
                     CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "member_id");
    /* inviting someone who asked to join lets them in */
    ck_assert_ok(gexec(p, "groups.join", g, NULL));
    ck_assert_ok(gexec(own, "groups.invite", g, p));
    ck_assert_str_eq(membership_status(g, p), "active");
    cm_actor_free(own);
    cm_actor_free(m);
    cm_actor_free(x);
    cm_actor_free(p);
}
END_TEST

START_TEST(ban_and_unban)
{
    cm_actor *own = fx_member("own@example.org", "organizer");
    cm_actor *gm = fx_member("gm@example.org", "member");
    cm_actor *m = fx_member("m@example.org", "member");
    cm_actor *n = fx_member("n@example.org", "member");
    json_int_t g = make_group(own, "ban", "open", "public");
    ck_assert_ok(gexec(gm, "groups.join", g, NULL));
    ck_assert_ok(gexec(m, "groups.join", g, NULL));
    ck_assert_ok(fx_exec(NULL, own, "groups.set_role", "{s:I,s:I,s:s}", "group_id", g, "member_id",
                         mid(gm), "role", "moderator"));
    ck_assert_int_eq(gexec(m, "groups.ban", g, n), CM_EPERM);
    ck_assert_int_eq(gexec(gm, "groups.ban", g, own), CM_EPERM);
    ck_assert_int_eq(gexec(gm, "groups.ban", g, gm), CM_EPERM);
    ck_assert_ok(gexec(gm, "groups.ban", g, m));
    ck_assert_str_eq(membership_status(g, m), "banned");
    ck_assert_ok(gexec(gm, "groups.ban", g, m)); /* idempotent */
    ck_assert_int_eq(gexec(m, "groups.join", g, NULL), CM_EPERM);
    ck_assert_int_eq(gexec(m, "groups.leave", g, NULL), CM_EPERM);
    ck_assert_int_eq(gexec(own, "groups.invite", g, m), CM_ECONSTRAINT);
    /* a pre-emptive ban of a non-member */
    ck_assert_ok(gexec(own, "groups.ban", g, n));
    ck_assert_int_eq(gexec(n, "groups.join", g, NULL), CM_EPERM);
    json_t *r;
    ck_assert_ok(fx_exec(&r, gm, "groups.members", "{s:I,s:s}", "group_id", g, "status", "banned"));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 2);
    json_decref(r);
    ck_assert_int_eq(
        fx_exec(NULL, m, "groups.members", "{s:I,s:s}", "group_id", g, "status", "banned"),
        CM_EPERM);
    ck_assert_ok(gexec(gm, "groups.unban", g, m));
    ck_assert_int_eq(gexec(gm, "groups.unban", g, m), CM_ENOTFOUND);
    ck_assert_ok(gexec(m, "groups.join", g, NULL));
    ck_assert_str_eq(membership_status(g, m), "active");
    cm_actor_free(own);
    cm_actor_free(gm);
    cm_actor_free(m);
    cm_actor_free(n);
}
END_TEST

/* A private group seen by an outsider, a pending member, an invited
 * member, an active member, a platform moderator and anonymous. */
START_TEST(private_groups_are_invisible_to_non_members)
{
    cm_actor *own = fx_member("own@example.org", "organizer");
    cm_actor *act = fx_member("act@example.org", "member");
    cm_actor *pend = fx_member("pend@example.org", "member");
    cm_actor *inv = fx_member("inv@example.org", "member");
    cm_actor *out = fx_member("out@example.org", "member");
    cm_actor *pmod = fx_member("pmod@example.org", "moderator");
    json_int_t pub = make_group(own, "visible-club", "open", "public");
    /* made private after requests came in, so that a pending member exists */
    json_int_t priv = make_group(own, "hidden-club", "approval", "public");
    ck_assert_ok(fx_exec(NULL, own, "groups.update", "{s:I,s:s}", "group_id", priv, "description",
                         "the zebra society"));
    ck_assert_ok(gexec(act, "groups.join", priv, NULL));
    ck_assert_ok(gexec(own, "groups.approve", priv, act));
    ck_assert_ok(gexec(pend, "groups.join", priv, NULL));
    ck_assert_ok(fx_exec(NULL, own, "groups.update", "{s:I,s:s}", "group_id", priv, "visibility",
                         "private"));
    ck_assert_ok(gexec(own, "groups.invite", priv, inv));

    /* groups.get */
    ck_assert_int_eq(gexec(out, "groups.get", priv, NULL), CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "group_id");
    ck_assert_int_eq(gexec(pend, "groups.get", priv, NULL), CM_ENOTFOUND);
    ck_assert_int_eq(gexec(NULL, "groups.get", priv, NULL), CM_ENOTFOUND);
    json_t *r;
    ck_assert_ok(fx_exec(&r, inv, "groups.get", "{s:I}", "group_id", priv));
    ck_assert(json_is_true(json_object_get(r, "invitation")));
    ck_assert_ptr_null(json_object_get(r, "member_count"));
    json_decref(r);
    ck_assert_ok(fx_exec(&r, act, "groups.get", "{s:I}", "group_id", priv));
    ck_assert(json_is_false(json_object_get(r, "invitation")));
    ck_assert_int_eq(json_integer_value(json_object_get(r, "member_count")), 2);
    json_decref(r);
    ck_assert_ok(gexec(pmod, "groups.get", priv, NULL));

    /* groups.list, plain and searched (q matches the description) */
    const char *qs[] = {NULL, "zebra"};
    for (int k = 0; k < 2; k++) {
        struct {
            const cm_actor *who;
            bool sees;
        } v[] = {{out, false}, {pend, false}, {NULL, false},
                 {inv, true},  {act, true},   {pmod, true}};
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
            if (qs[k])
                ck_assert_ok(fx_exec(&r, v[i].who, "groups.list", "{s:s}", "q", qs[k]));
            else
                ck_assert_ok(fx_exec(&r, v[i].who, "groups.list", "{}"));
            ck_assert_msg(list_has(r, priv) == v[i].sees, "q=%s viewer %zu", qs[k], i);
            if (!qs[k])
                ck_assert(list_has(r, pub));
            json_decref(r);
        }
    }
    ck_assert_ok(fx_exec(&r, pend, "groups.list", "{s:b}", "mine", 1));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 0);
    json_decref(r);
    ck_assert_ok(fx_exec(&r, inv, "groups.list", "{s:b}", "mine", 1));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 1);
    ck_assert(json_is_true(
        json_object_get(json_array_get(json_object_get(r, "items"), 0), "invitation")));
    json_decref(r);

    /* groups.members */
    ck_assert_int_eq(gexec(out, "groups.members", priv, NULL), CM_ENOTFOUND);
    ck_assert_int_eq(gexec(pend, "groups.members", priv, NULL), CM_ENOTFOUND);
    ck_assert_int_eq(gexec(NULL, "groups.members", priv, NULL), CM_ENOTFOUND);
    ck_assert_int_eq(gexec(inv, "groups.members", priv, NULL), CM_EPERM);
    ck_assert_ok(fx_exec(&r, act, "groups.members", "{s:I}", "group_id", priv));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 2);
    json_decref(r);
    ck_assert_ok(gexec(pmod, "groups.members", priv, NULL));
    ck_assert_ok(gexec(NULL, "groups.members", pub, NULL));

    /* an outsider cannot join (or learn of) it; the pending member can withdraw */
    ck_assert_int_eq(gexec(out, "groups.join", priv, NULL), CM_ENOTFOUND);
    ck_assert_int_eq(gexec(out, "groups.leave", priv, NULL), CM_ENOTFOUND);
    ck_assert_int_eq(gexec(pend, "groups.join", priv, NULL), CM_ENOTFOUND);
    ck_assert_ok(gexec(inv, "groups.join", priv, NULL));
    ck_assert_ok(gexec(inv, "groups.get", priv, NULL));
    ck_assert_ok(gexec(pend, "groups.leave", priv, NULL));
    cm_actor_free(own);
    cm_actor_free(act);
    cm_actor_free(pend);
    cm_actor_free(inv);
    cm_actor_free(out);
    cm_actor_free(pmod);
}
END_TEST

START_TEST(list_pages_and_filters)
{
    cm_actor *own = fx_member("own@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    char slug[16];
    json_int_t ids[7];
    for (int i = 0; i < 7; i++) {
        snprintf(slug, sizeof slug, "g-%d", i);
        json_t *r;
        ck_assert_ok(fx_exec(&r, own, "groups.create", "{s:s,s:s,s:s}", "slug", slug, "name",
                             i == 3 ? "100%_real" : slug, "kind", i % 2 ? "interest" : "chapter"));
        ids[i] = json_integer_value(json_object_get(r, "id"));
        json_decref(r);
    }
    ck_assert_ok(gexec(m, "groups.join", ids[2], NULL));
    json_t *r;
    json_int_t seen[8];
    size_t n = 0;
    char cursor[64] = "";
    for (int page = 0; page < 5; page++) {
        if (cursor[0])
            ck_assert_ok(
                fx_exec(&r, NULL, "groups.list", "{s:i,s:s}", "limit", 3, "cursor", cursor));
        else
            ck_assert_ok(fx_exec(&r, NULL, "groups.list", "{s:i}", "limit", 3));
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(r, "items"), i, it)
        {
            ck_assert_uint_lt(n, 8);
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
    ck_assert_uint_eq(n, 7);
    for (size_t i = 0; i < 7; i++)
        ck_assert_int_eq(seen[i], ids[i]);
    ck_assert_ok(fx_exec(&r, NULL, "groups.list", "{s:s}", "kind", "interest"));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 3);
    json_decref(r);
    /* LIKE wildcards in q are literal */
    ck_assert_ok(fx_exec(&r, NULL, "groups.list", "{s:s}", "q", "%_"));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 1);
    json_decref(r);
    ck_assert_ok(fx_exec(&r, m, "groups.list", "{s:b}", "mine", 1));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 1);
    ck_assert(list_has(r, ids[2]));
    json_decref(r);
    ck_assert_int_eq(fx_exec(NULL, NULL, "groups.list", "{s:s}", "cursor", "garbage"), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "cursor");
    ck_assert_int_eq(fx_exec(NULL, NULL, "groups.list", "{s:i}", "limit", 0), CM_EINVAL);
    ck_assert_int_eq(fx_exec(NULL, NULL, "groups.list", "{s:s}", "kind", "x"), CM_EINVAL);
    cm_actor_free(own);
    cm_actor_free(m);
}
END_TEST

START_TEST(members_lists_and_pages)
{
    cm_actor *own = fx_member("own@example.org", "organizer");
    cm_actor *ms[5];
    json_int_t g = make_group(own, "crowd", "open", "public");
    for (int i = 0; i < 5; i++) {
        char email[32];
        snprintf(email, sizeof email, "m%d@example.org", i);
        ms[i] = fx_member(email, "member");
        ck_assert_ok(gexec(ms[i], "groups.join", g, NULL));
    }
    /* a private profile is left out for others, shown to managers */
    ck_assert_ok(fx_exec(NULL, ms[4], "members.update", "{s:s}", "visibility", "private"));
    json_t *r;
    ck_assert_ok(fx_exec(&r, ms[0], "groups.members", "{s:I,s:i}", "group_id", g, "limit", 4));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 4);
    const char *c = json_string_value(json_object_get(r, "next_cursor"));
    ck_assert_ptr_nonnull(c);
    char cursor[64];
    snprintf(cursor, sizeof cursor, "%s", c);
    json_decref(r);
    ck_assert_ok(fx_exec(&r, ms[0], "groups.members", "{s:I,s:i,s:s}", "group_id", g, "limit", 4,
                         "cursor", cursor));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 1);
    ck_assert(json_is_null(json_object_get(r, "next_cursor")));
    json_decref(r);
    ck_assert_ok(fx_exec(&r, own, "groups.members", "{s:I}", "group_id", g));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 6);
    json_t *first = json_array_get(json_object_get(r, "items"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(first, "role")), "owner");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, NULL, "groups.members", "{s:I}", "group_id", g));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 0); /* members-only profiles */
    json_decref(r);
    cm_actor_free(own);
    for (int i = 0; i < 5; i++)
        cm_actor_free(ms[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("group");
    TCase *tc = tcase_create("groups");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, create_makes_the_creator_owner);
    tcase_add_test(tc, create_needs_organizer_and_a_unique_slug);
    tcase_add_test(tc, bad_create_input_is_rejected_and_changes_nothing);
    tcase_add_test(tc, join_follows_the_policy);
    tcase_add_test(tc, approve_and_reject_pending_requests);
    tcase_add_test(tc, leave_keeps_an_owner);
    tcase_add_test(tc, set_role_rules);
    tcase_add_test(tc, update_needs_group_admin);
    tcase_add_test(tc, invite_rules);
    tcase_add_test(tc, ban_and_unban);
    tcase_add_test(tc, private_groups_are_invisible_to_non_members);
    tcase_add_test(tc, list_pages_and_filters);
    tcase_add_test(tc, members_lists_and_pages);
    suite_add_tcase(s, tc);
    return fx_run(s);
}
