/*
 * test_member.c - sign-up, login, sessions, profiles, roles, password
 * reset and magic links, through cm_exec.
 */
#include "fixtures.h"

#include <string.h>

START_TEST(signup_then_login_then_session_actor)
{
    json_t *r;
    ck_assert_ok(fx_exec(&r, NULL, "members.signup", "{s:s,s:s,s:s,s:[s,s]}", "email",
                         "Ada@Example.org", "name", "Ada", "password", "correct horse", "interests",
                         "c", "ai"));
    json_t *m = json_object_get(r, "member");
    ck_assert_str_eq(json_string_value(json_object_get(m, "email")), "Ada@Example.org");
    ck_assert_str_eq(json_string_value(json_object_get(m, "role")), "member");
    const char *tok = json_string_value(json_object_get(json_object_get(r, "session"), "token"));
    ck_assert_ptr_nonnull(tok);
    cm_actor *a;
    ck_assert_ok(cm_actor_from_session(&a, FX.store, tok));
    ck_assert_int_eq(cm_actor_role(a), CM_ROLE_MEMBER);
    ck_assert_int_eq(cm_actor_member_id(a), json_integer_value(json_object_get(m, "id")));
    cm_actor_free(a);
    /* the token itself is never stored */
    char sql[300];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sessions WHERE token_hash = '%s'", tok);
    ck_assert_int_eq(fx_count(sql), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM members WHERE password_hash LIKE "
                              "'$argon2id$%'"),
                     1);
    json_decref(r);

    ck_assert_ok(fx_exec(&r, NULL, "auth.login", "{s:s,s:s}", "email", "ada@EXAMPLE.org",
                         "password", "correct horse"));
    ck_assert_ptr_nonnull(json_object_get(r, "session"));
    json_decref(r);
    ck_assert_int_eq(fx_exec(NULL, NULL, "auth.login", "{s:s,s:s}", "email", "ada@example.org",
                             "password", "wrong horse"),
                     CM_EAUTH);
    ck_assert_int_eq(fx_exec(NULL, NULL, "auth.login", "{s:s,s:s}", "email", "nobody@example.org",
                             "password", "whatever1"),
                     CM_EAUTH);
}
END_TEST

START_TEST(email_is_unique_ignoring_case)
{
    ck_assert_ok(fx_exec(NULL, NULL, "members.signup", "{s:s,s:s}", "email", "bob@example.org",
                         "name", "Bob"));
    ck_assert_int_eq(fx_exec(NULL, NULL, "members.signup", "{s:s,s:s}", "email", "BOB@example.ORG",
                             "name", "Bob 2"),
                     CM_EEXISTS);
    ck_assert_str_eq(cm_error_field(), "email");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM members"), 1);
}
END_TEST

START_TEST(bad_signup_input_is_rejected_and_changes_nothing)
{
    struct {
        const char *json, *field;
    } cases[] = {
        {"{\"name\":\"x\"}", "email"},
        {"{\"email\":\"not-an-email\",\"name\":\"x\"}", "email"},
        {"{\"email\":\"a@b.c\",\"name\":\"\"}", "name"},
        {"{\"email\":\"a@b.c\",\"name\":42}", "name"},
        {"{\"email\":\"a@b.c\",\"name\":\"x\",\"password\":\"short\"}", "password"},
        {"{\"email\":\"a@b.c\",\"name\":\"x\",\"timezone\":\"Mars/Olympus\"}", "timezone"},
        {"{\"email\":\"a@b.c\",\"name\":\"x\",\"visibility\":\"secret\"}", "visibility"},
        {"{\"email\":\"a@b.c\",\"name\":\"x\",\"role\":\"admin\"}", "role"},
        {"{\"email\":\"a@b.c\",\"name\":\"\\u0000x\"}", ""}, /* NUL: refused by the parser */
        {"{\"email\":\"a@b.c\",\"name\":\"x\",\"interests\":[1]}", "interests"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(fx_exec_raw(NULL, NULL, "members.signup", cases[i].json), CM_EINVAL);
        ck_assert_msg(strcmp(cm_error_field(), cases[i].field) == 0, "case %zu: field '%s'", i,
                      cm_error_field());
    }
    char big[300];
    memset(big, 'n', sizeof big);
    big[sizeof big - 1] = 0;
    ck_assert_int_eq(
        fx_exec(NULL, NULL, "members.signup", "{s:s,s:s}", "email", "a@b.c", "name", big),
        CM_EINVAL);
    /* invalid UTF-8 and broken JSON */
    ck_assert_int_eq(
        fx_exec_raw(NULL, NULL, "members.signup", "{\"email\":\"a@b.c\",\"name\":\"\xff\xfe\"}"),
        CM_EINVAL);
    ck_assert_int_eq(fx_exec_raw(NULL, NULL, "members.signup", "{\"email\":"), CM_EINVAL);
    ck_assert_int_eq(fx_exec_raw(NULL, NULL, "members.signup", "[1,2]"), CM_EINVAL);
    ck_assert_int_eq(fx_exec_raw(NULL, NULL, "no.such_op", "{}"), CM_EUNKNOWNOP);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM members"), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM audit_log"), 0);
}
END_TEST

START_TEST(profile_visibility_is_respected)
{
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *b = fx_member("b@example.org", "member");
    ck_assert_ok(fx_exec(NULL, a, "members.update", "{s:s,s:s}", "visibility", "private",
                         "headline", "Compilers"));
    json_t *r;
    ck_assert_int_eq(
        fx_exec(NULL, b, "members.get", "{s:I}", "member_id", (json_int_t)cm_actor_member_id(a)),
        CM_ENOTFOUND);
    ck_assert_ok(
        fx_exec(&r, a, "members.get", "{s:I}", "member_id", (json_int_t)cm_actor_member_id(a)));
    ck_assert_str_eq(json_string_value(json_object_get(r, "headline")), "Compilers");
    ck_assert_ptr_nonnull(json_object_get(r, "email"));
    json_decref(r);
    /* members-only profile: hidden from anonymous, shown without e-mail to members */
    ck_assert_int_eq(
        fx_exec(NULL, NULL, "members.get", "{s:I}", "member_id", (json_int_t)cm_actor_member_id(b)),
        CM_ENOTFOUND);
    ck_assert_ok(
        fx_exec(&r, a, "members.get", "{s:I}", "member_id", (json_int_t)cm_actor_member_id(b)));
    ck_assert_ptr_null(json_object_get(r, "email"));
    json_decref(r);
    cm_actor_free(a);
    cm_actor_free(b);
}
END_TEST

START_TEST(roles_are_checked)
{
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *admin = fx_member("admin@example.org", "admin");
    ck_assert_int_eq(fx_exec(NULL, a, "members.set_role", "{s:I,s:s}", "member_id",
                             (json_int_t)cm_actor_member_id(a), "role", "admin"),
                     CM_EPERM);
    ck_assert_int_eq(fx_exec(NULL, NULL, "members.me", "{}"), CM_EAUTH);
    ck_assert_ok(fx_exec(NULL, admin, "members.set_role", "{s:I,s:s}", "member_id",
                         (json_int_t)cm_actor_member_id(a), "role", "organizer"));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM members WHERE role = 'organizer'"), 1);
    ck_assert_int_ge(fx_count("SELECT count(*) FROM audit_log WHERE op = 'members.set_role'"), 1);
    cm_actor_free(a);
    cm_actor_free(admin);
}
END_TEST

START_TEST(logout_and_revoke_end_sessions)
{
    json_t *r;
    ck_assert_ok(fx_exec(&r, NULL, "members.signup", "{s:s,s:s,s:s}", "email", "c@example.org",
                         "name", "C", "password", "password123"));
    char tok[80];
    snprintf(tok, sizeof tok, "%s",
             json_string_value(json_object_get(json_object_get(r, "session"), "token")));
    json_decref(r);
    cm_actor *a;
    ck_assert_ok(cm_actor_from_session(&a, FX.store, tok));
    ck_assert_ok(fx_exec(NULL, a, "auth.logout", "{s:s}", "token", tok));
    cm_actor *again = NULL;
    ck_assert_int_eq(cm_actor_from_session(&again, FX.store, tok), CM_EAUTH);
    ck_assert_ptr_null(again);
    ck_assert_int_eq(fx_exec(NULL, a, "auth.logout", "{s:s}", "token", tok), CM_ENOTFOUND);
    cm_actor_free(a);
    ck_assert_int_eq(cm_actor_from_session(&again, FX.store, "cms_garbage"), CM_EAUTH);
}
END_TEST

START_TEST(sessions_expire)
{
    fx_clock_set(1800000000000000);
    json_t *r;
    ck_assert_ok(fx_exec(&r, NULL, "members.signup", "{s:s,s:s,s:s}", "email", "d@example.org",
                         "name", "D", "password", "password123"));
    char tok[80];
    snprintf(tok, sizeof tok, "%s",
             json_string_value(json_object_get(json_object_get(r, "session"), "token")));
    json_decref(r);
    cm_actor *a;
    ck_assert_ok(cm_actor_from_session(&a, FX.store, tok));
    cm_actor_free(a);
    fx_clock_advance(31LL * 24 * 3600 * 1000000);
    ck_assert_int_eq(cm_actor_from_session(&a, FX.store, tok), CM_EAUTH);
}
END_TEST

START_TEST(password_reset_is_single_use_and_revokes_sessions)
{
    ck_assert_ok(fx_exec(NULL, NULL, "members.signup", "{s:s,s:s,s:s}", "email", "e@example.org",
                         "name", "E", "password", "old password"));
    json_t *r;
    /* anonymous request: no token in the answer, one e-mail queued */
    ck_assert_ok(
        fx_exec(&r, NULL, "auth.password_reset_request", "{s:s}", "email", "e@example.org"));
    ck_assert_ptr_null(json_object_get(r, "token"));
    json_decref(r);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE template = "
                              "'password_reset'"),
                     1);
    /* unknown addresses look the same and queue nothing */
    ck_assert_ok(
        fx_exec(NULL, NULL, "auth.password_reset_request", "{s:s}", "email", "ghost@example.org"));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox"), 1);
    /* the system actor (admin CLI) gets the token */
    ck_assert_ok(
        fx_exec(&r, FX.sys, "auth.password_reset_request", "{s:s}", "email", "e@example.org"));
    char tok[80];
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(r, "token")));
    json_decref(r);
    ck_assert_ok(fx_exec(NULL, NULL, "auth.password_reset", "{s:s,s:s}", "token", tok,
                         "new_password", "new password"));
    ck_assert_int_eq(fx_exec(NULL, NULL, "auth.password_reset", "{s:s,s:s}", "token", tok,
                             "new_password", "other password"),
                     CM_EAUTH);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM sessions WHERE revoked_at IS NULL"), 0);
    ck_assert_int_eq(fx_exec(NULL, NULL, "auth.login", "{s:s,s:s}", "email", "e@example.org",
                             "password", "old password"),
                     CM_EAUTH);
    ck_assert_ok(fx_exec(NULL, NULL, "auth.login", "{s:s,s:s}", "email", "e@example.org",
                         "password", "new password"));
}
END_TEST

START_TEST(magic_link_signs_in_once_and_expires)
{
    fx_clock_set(1800000000000000);
    ck_assert_ok(
        fx_exec(NULL, NULL, "members.signup", "{s:s,s:s}", "email", "f@example.org", "name", "F"));
    json_t *r;
    ck_assert_ok(fx_exec(&r, FX.sys, "auth.magic_link_request", "{s:s}", "email", "F@example.org"));
    char tok[80];
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(r, "token")));
    json_decref(r);
    ck_assert_ok(fx_exec(&r, NULL, "auth.magic_link_login", "{s:s}", "token", tok));
    ck_assert_ptr_nonnull(json_object_get(r, "session"));
    json_decref(r);
    ck_assert_int_eq(fx_exec(NULL, NULL, "auth.magic_link_login", "{s:s}", "token", tok), CM_EAUTH);
    ck_assert_ok(fx_exec(&r, FX.sys, "auth.magic_link_request", "{s:s}", "email", "f@example.org"));
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(r, "token")));
    json_decref(r);
    fx_clock_advance(16LL * 60 * 1000000);
    ck_assert_int_eq(fx_exec(NULL, NULL, "auth.magic_link_login", "{s:s}", "token", tok), CM_EAUTH);
}
END_TEST

START_TEST(suspension_revokes_sessions)
{
    json_t *r;
    ck_assert_ok(fx_exec(&r, NULL, "members.signup", "{s:s,s:s,s:s}", "email", "g@example.org",
                         "name", "G", "password", "password123"));
    json_int_t id = json_integer_value(json_object_get(json_object_get(r, "member"), "id"));
    char tok[80];
    snprintf(tok, sizeof tok, "%s",
             json_string_value(json_object_get(json_object_get(r, "session"), "token")));
    json_decref(r);
    cm_actor *mod = fx_member("mod@example.org", "moderator");
    ck_assert_ok(fx_exec(NULL, mod, "members.set_status", "{s:I,s:s}", "member_id", id, "status",
                         "suspended"));
    cm_actor *a = NULL;
    ck_assert_int_eq(cm_actor_from_session(&a, FX.store, tok), CM_EAUTH);
    ck_assert_int_eq(fx_exec(NULL, NULL, "auth.login", "{s:s,s:s}", "email", "g@example.org",
                             "password", "password123"),
                     CM_EAUTH);
    cm_actor_free(mod);
}
END_TEST

/* The names of members.list's items for q, joined by '|'. */
static const char *names_for(const char *q)
{
    static char buf[400];
    json_t *r;
    ck_assert_ok(fx_exec(&r, FX.sys, "members.list", "{s:s}", "q", q));
    buf[0] = '\0';
    json_t *items = json_object_get(r, "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        size_t w = strlen(buf);
        snprintf(buf + w, sizeof buf - w, "%s%s", i ? "|" : "",
                 json_string_value(json_object_get(json_array_get(items, i), "name")));
    }
    json_decref(r);
    return buf;
}

START_TEST(list_q_matches_percent_and_underscore_literally)
{
    static const char *const names[] = {"100% Pure", "a_b", "axb", "back\\slash", "Plain"};
    for (int i = 0; i < 5; i++) {
        char email[64];
        snprintf(email, sizeof email, "n%d@example.org", i);
        ck_assert_ok(
            fx_exec(NULL, NULL, "members.signup", "{s:s,s:s}", "email", email, "name", names[i]));
    }
    ck_assert_str_eq(names_for("%"), "100% Pure");
    ck_assert_str_eq(names_for("_"), "a_b");
    ck_assert_str_eq(names_for("a_b"), "a_b");
    ck_assert_str_eq(names_for("\\"), "back\\slash");
    ck_assert_str_eq(names_for("0%"), "100% Pure");
    ck_assert_str_eq(names_for("pure"), "100% Pure"); /* still ignores case */
    ck_assert_str_eq(names_for("x"), "axb");
}
END_TEST

/* Tokens issued before a suspension do not let the member back in. */
START_TEST(suspended_members_cannot_use_earlier_tokens)
{
    json_t *r;
    ck_assert_ok(fx_exec(&r, NULL, "members.signup", "{s:s,s:s,s:s}", "email", "h@example.org",
                         "name", "H", "password", "password123"));
    json_int_t id = json_integer_value(json_object_get(json_object_get(r, "member"), "id"));
    json_decref(r);
    char magic[80], reset[80];
    ck_assert_ok(fx_exec(&r, FX.sys, "auth.magic_link_request", "{s:s}", "email", "h@example.org"));
    snprintf(magic, sizeof magic, "%s", json_string_value(json_object_get(r, "token")));
    json_decref(r);
    ck_assert_ok(
        fx_exec(&r, FX.sys, "auth.password_reset_request", "{s:s}", "email", "h@example.org"));
    snprintf(reset, sizeof reset, "%s", json_string_value(json_object_get(r, "token")));
    json_decref(r);
    cm_actor *mod = fx_member("mod@example.org", "moderator");
    ck_assert_ok(fx_exec(NULL, mod, "members.set_status", "{s:I,s:s}", "member_id", id, "status",
                         "suspended"));
    long long sessions = fx_count("SELECT count(*) FROM sessions");

    ck_assert_int_eq(fx_exec(NULL, NULL, "auth.magic_link_login", "{s:s}", "token", magic),
                     CM_EAUTH);
    ck_assert_msg(strstr(cm_error_message(), "suspended"), "says why: %s", cm_error_message());
    ck_assert_str_eq(cm_error_field(), "token");
    ck_assert_int_eq(fx_exec(NULL, NULL, "auth.password_reset", "{s:s,s:s}", "token", reset,
                             "new_password", "new password"),
                     CM_EAUTH);
    ck_assert_msg(strstr(cm_error_message(), "suspended"), "says why: %s", cm_error_message());
    ck_assert_int_eq(fx_count("SELECT count(*) FROM sessions"), sessions);

    /* Nothing changed: once reactivated, the old password still works. */
    ck_assert_ok(
        fx_exec(NULL, mod, "members.set_status", "{s:I,s:s}", "member_id", id, "status", "active"));
    ck_assert_ok(fx_exec(NULL, NULL, "auth.login", "{s:s,s:s}", "email", "h@example.org",
                         "password", "password123"));
    cm_actor_free(mod);
}
END_TEST

START_TEST(metrics_count_signups)
{
    cm_actor *admin = fx_member("root@example.org", "admin");
    cm_actor_free(fx_member("x@example.org", NULL));
    json_t *r;
    ck_assert_ok(fx_exec(&r, admin, "metrics.get", "{}"));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "counters"), "signups")),
                     2);
    json_decref(r);
    ck_assert_ok(fx_exec(&r, admin, "audit.list", "{s:s}", "op", "members.signup"));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 2);
    json_decref(r);
    cm_actor_free(admin);
}
END_TEST

/* Per-account sign-in throttle: after 5 failures an address is locked for
 * 1 s, then 2 s, 4 s, ... (before any password work, so the right password
 * is refused too); other addresses are unaffected; unknown addresses are
 * throttled alike; a successful sign-in starts the count again. */
static int login_as(const char *email, const char *pw)
{
    return fx_exec(NULL, NULL, "auth.login", "{s:s,s:s}", "email", email, "password", pw);
}

START_TEST(failed_logins_are_throttled_per_account_with_backoff)
{
    fx_clock_set(1700000000000000LL);
    ck_assert_ok(fx_exec(NULL, NULL, "members.signup", "{s:s,s:s,s:s}", "email", "t@example.org",
                         "name", "T", "password", "right password"));
    ck_assert_ok(fx_exec(NULL, NULL, "members.signup", "{s:s,s:s,s:s}", "email", "u@example.org",
                         "name", "U", "password", "right password"));
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(login_as("t@example.org", "wrong"), CM_EAUTH);
    ck_assert_int_eq(login_as("T@Example.org", "right password"), CM_ETHROTTLED);
    ck_assert_int_eq(cm_error_retry_after(), 1);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "retry in 1 s"));
    ck_assert_ok(login_as("u@example.org", "right password"));
    /* once the lock has passed, each failure doubles it */
    fx_clock_advance(1000000);
    ck_assert_int_eq(login_as("t@example.org", "wrong"), CM_EAUTH);
    ck_assert_int_eq(login_as("t@example.org", "wrong"), CM_ETHROTTLED);
    ck_assert_int_eq(cm_error_retry_after(), 2);
    fx_clock_advance(2000000);
    ck_assert_int_eq(login_as("t@example.org", "wrong"), CM_EAUTH);
    ck_assert_int_eq(login_as("t@example.org", "right password"), CM_ETHROTTLED);
    ck_assert_int_eq(cm_error_retry_after(), 4);
    /* a success clears the count: 4 more failures are not throttled */
    fx_clock_advance(4000000);
    ck_assert_ok(login_as("t@example.org", "right password"));
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(login_as("t@example.org", "wrong"), CM_EAUTH);
    ck_assert_ok(login_as("t@example.org", "right password"));
    /* unknown addresses are throttled the same way */
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(login_as("nobody@example.org", "x"), CM_EAUTH);
    ck_assert_int_eq(login_as("nobody@example.org", "x"), CM_ETHROTTLED);
    /* an hour idle forgets the failures; the lock is at most 15 minutes */
    for (int i = 0; i < 20; i++) {
        fx_clock_advance(15LL * 60 * 1000000);
        ck_assert_int_eq(login_as("nobody@example.org", "x"), CM_EAUTH);
        ck_assert_int_eq(login_as("nobody@example.org", "x"), CM_ETHROTTLED);
        ck_assert_int_le(cm_error_retry_after(), 15 * 60);
    }
    fx_clock_advance(61LL * 60 * 1000000);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(login_as("nobody@example.org", "x"), CM_EAUTH);
    fx_clock_real();
}
END_TEST

/* The operations that compute argon2id say so in the describe document. */
START_TEST(describe_marks_password_hashing)
{
    char *d = NULL;
    ck_assert_ok(cm_ops_describe(&d));
    json_t *doc = json_loads(d, 0, NULL);
    cm_free(d);
    json_t *ops = json_object_get(doc, "operations"), *o;
    size_t i;
    int marked = 0;
    json_array_foreach(ops, i, o)
    {
        const char *n = json_string_value(json_object_get(o, "name"));
        bool want = strcmp(n, "auth.login") == 0 || strcmp(n, "members.signup") == 0 ||
                    strcmp(n, "auth.change_password") == 0 ||
                    strcmp(n, "auth.password_reset") == 0 || strcmp(n, "members.erase") == 0;
        json_t *v = json_object_get(o, "password_hashing");
        ck_assert_msg(json_is_boolean(v) && json_is_true(v) == want, "%s", n);
        marked += want;
    }
    ck_assert_int_eq(marked, 5);
    json_decref(doc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("member");
    TCase *tc = tcase_create("members");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, signup_then_login_then_session_actor);
    tcase_add_test(tc, email_is_unique_ignoring_case);
    tcase_add_test(tc, bad_signup_input_is_rejected_and_changes_nothing);
    tcase_add_test(tc, profile_visibility_is_respected);
    tcase_add_test(tc, roles_are_checked);
    tcase_add_test(tc, logout_and_revoke_end_sessions);
    tcase_add_test(tc, sessions_expire);
    tcase_add_test(tc, password_reset_is_single_use_and_revokes_sessions);
    tcase_add_test(tc, magic_link_signs_in_once_and_expires);
    tcase_add_test(tc, suspension_revokes_sessions);
    tcase_add_test(tc, metrics_count_signups);
    tcase_add_test(tc, suspended_members_cannot_use_earlier_tokens);
    tcase_add_test(tc, list_q_matches_percent_and_underscore_literally);
    tcase_add_test(tc, failed_logins_are_throttled_per_account_with_backoff);
    tcase_add_test(tc, describe_marks_password_hashing);
    suite_add_tcase(s, tc);
    return fx_run(s);
}
