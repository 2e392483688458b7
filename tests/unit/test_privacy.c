/*
 * test_privacy.c - Check suite "privacy": members.export and members.erase
 * (lib/core/ops_privacy.c), on SQLite and (as pg-privacy) PostgreSQL. The
 * erasure's stored files are deleted by the "platform.uploads_sweep" job
 * after the commit: a process killed between the commit and that job
 * leaves them for the next worker, which deletes them all.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "fixtures.h"

#include <ftw.h>
#include <signal.h>
#include <gd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEC INT64_C(1000000)

static char updir[400];

static void configure(cm_store *store)
{
    cm_upload_options o = CM_UPLOAD_OPTIONS_INIT;
    snprintf(updir, sizeof updir, "%s/uploads", FX.dir);
    o.dir = updir;
    ck_assert_ok(cm_store_set_uploads(store, &o));
}

static void setup(void)
{
    fx_setup();
    configure(FX.store);
}

static size_t nfiles;
static int count_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)p, (void)st, (void)f;
    if (flag == FTW_F)
        nfiles++;
    return 0;
}

/* Files in the upload directory's objects/. */
static size_t stored_objects(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/objects", updir);
    nfiles = 0;
    if (access(dir, F_OK) == 0)
        ck_assert_int_eq(nftw(dir, count_cb, 16, FTW_PHYS), 0);
    return nfiles;
}

/* Upload a small PNG (seed makes the bytes unique) to target/id as a. */
static void upload(const cm_actor *a, const char *target, json_int_t id, int seed)
{
    gdImagePtr im = gdImageCreateTrueColor(40, 30);
    gdImageFilledRectangle(im, 0, 0, 39, 29, gdTrueColor(seed & 255, 90, 20));
    gdImageSetPixel(im, 1, 1, gdTrueColor(seed * 7 & 255, 1, 2));
    int size = 0;
    void *png = gdImagePngPtr(im, &size);
    gdImageDestroy(im);
    ck_assert_ptr_nonnull(png);
    char *b64 = malloc((size_t)size * 2 + 8);
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = png;
    size_t o = 0;
    for (int i = 0; i < size; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < size ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < size ? p[i + 2] : 0);
        b64[o++] = tbl[v >> 18 & 63];
        b64[o++] = tbl[v >> 12 & 63];
        b64[o++] = i + 1 < size ? tbl[v >> 6 & 63] : '=';
        b64[o++] = i + 2 < size ? tbl[v & 63] : '=';
    }
    b64[o] = '\0';
    gdFree(png);
    json_t *r = NULL;
    ck_assert_ok(fx_exec(&r, a, "attachments.upload", "{s:s,s:I,s:s,s:s}", "target", target,
                         "target_id", id, "content", b64, "filename", "me.png"));
    json_decref(r);
    free(b64);
}

static json_int_t mk_event(const cm_actor *org, json_int_t capacity)
{
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "events.create", "{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:I}", "title",
                         "Privacy night", "format", "online", "online_url",
                         "https://meet.example/p", "start_local", "2031-05-01T18:00", "end_local",
                         "2031-05-01T20:00", "timezone", "UTC", "publish", 1, "capacity",
                         capacity));
    json_int_t id = fx_int(r, "id");
    json_decref(r);
    return id;
}

/* A member with a password and a session; *token gets the session token. */
static cm_actor *member_with_password(const char *email, const char *pw, char token[128])
{
    json_t *r;
    ck_assert_ok(fx_exec(&r, NULL, "members.signup", "{s:s,s:s,s:s,s:s,s:s,s:[s]}", "email", email,
                         "name", "Ada Privacy", "password", pw, "bio", "Writes compilers in Oslo",
                         "visibility", "public", "interests", "compilers"));
    snprintf(token, 128, "%s", fx_str(json_object_get(r, "session"), "token"));
    json_decref(r);
    cm_actor *a = NULL;
    ck_assert_ok(cm_actor_from_session(&a, FX.store, token));
    return a;
}

static size_t arr(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_array(v), "%s is not an array", k);
    return json_array_size(v);
}

START_TEST(export_holds_a_members_data)
{
    char token[128];
    cm_actor *m = member_with_password("ada@example.org", "correct horse", token);
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *other = fx_member("other@example.org", "member");
    cm_actor *admin = fx_member("admin@example.org", "admin");
    json_int_t ev = mk_event(org, 10);
    json_t *r;
    ck_assert_ok(fx_exec(NULL, m, "rsvps.add", "{s:I,s:s}", "event_id", ev, "status", "going"));
    ck_assert_ok(fx_exec(&r, m, "posts.create", "{s:s,s:s}", "title", "Hello", "body", "My text"));
    json_int_t post = fx_int(r, "id");
    json_decref(r);
    ck_assert_ok(fx_exec(NULL, m, "comments.add", "{s:I,s:s}", "post_id", post, "body", "Reply"));
    ck_assert_ok(fx_exec(NULL, m, "mail.preferences_set", "{s:b}", "newsletters", 1));
    upload(m, "member", fx_id_of(m), 1);

    ck_assert_ok(fx_exec(&r, m, "members.export", "{}"));
    ck_assert_str_eq(fx_str(r, "format"), "libcommunity-export/1");
    json_t *me = json_object_get(r, "member");
    ck_assert_str_eq(fx_str(me, "email"), "ada@example.org");
    ck_assert_str_eq(fx_str(me, "bio"), "Writes compilers in Oslo");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(me, "interests"), 0)),
                     "compilers");
    ck_assert_uint_eq(arr(r, "rsvps"), 1);
    ck_assert_str_eq(fx_str(json_array_get(json_object_get(r, "rsvps"), 0), "event_title"),
                     "Privacy night");
    ck_assert_uint_eq(arr(r, "posts"), 1);
    ck_assert_str_eq(fx_str(json_array_get(json_object_get(r, "posts"), 0), "body"), "My text");
    ck_assert_uint_eq(arr(r, "comments"), 1);
    ck_assert_uint_eq(arr(r, "mail_preferences"), 1);
    ck_assert_uint_eq(arr(r, "attachments"), 1);
    ck_assert_uint_eq(arr(r, "sessions"), 1);
    ck_assert_uint_ge(arr(r, "audit"), 3); /* sign-up, RSVP, ... by the member */
    json_decref(r);

    /* someone else's data: admins only; every export is audited */
    ck_assert_int_eq(fx_exec(NULL, other, "members.export", "{s:I}", "member_id", fx_id_of(m)),
                     CM_EPERM);
    ck_assert_ok(fx_exec(&r, admin, "members.export", "{s:I}", "member_id", fx_id_of(m)));
    ck_assert_str_eq(fx_str(json_object_get(r, "member"), "name"), "Ada Privacy");
    json_decref(r);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE op = 'members.export' AND actor_id = %lld "
             "AND target_id = %lld",
             (long long)fx_id_of(admin), (long long)fx_id_of(m));
    ck_assert_int_eq(fx_count(sql), 1);
    ck_assert_int_eq(fx_exec(NULL, admin, "members.export", "{s:I}", "member_id", 999999),
                     CM_ENOTFOUND);
    cm_actor_free(m);
    cm_actor_free(org);
    cm_actor_free(other);
    cm_actor_free(admin);
}
END_TEST

START_TEST(erase_yourself_needs_your_password)
{
    char token[128];
    cm_actor *m = member_with_password("ada@example.org", "correct horse", token);
    cm_actor *other = fx_member("other@example.org", "member");
    ck_assert_int_eq(fx_exec(NULL, m, "members.erase", "{}"), CM_EAUTH);
    ck_assert_str_eq(cm_error_field(), "password");
    ck_assert_int_eq(fx_exec(NULL, m, "members.erase", "{s:s}", "password", "wrong horse"),
                     CM_EAUTH);
    /* another member: admins only, whatever password is given */
    ck_assert_int_eq(fx_exec(NULL, m, "members.erase", "{s:I,s:s}", "member_id", fx_id_of(other),
                             "password", "correct horse"),
                     CM_EPERM);
    /* a member without a password cannot confirm: an admin erases them */
    ck_assert_int_eq(fx_exec(NULL, other, "members.erase", "{s:s}", "password", "x"), CM_EAUTH);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM members WHERE erased_at IS NOT NULL"), 0);

    json_t *r;
    ck_assert_ok(fx_exec(&r, m, "members.erase", "{s:s}", "password", "correct horse"));
    ck_assert_int_eq(fx_int(r, "member_id"), fx_id_of(m));
    json_decref(r);
    /* the session is over, the address and password are gone */
    cm_actor *again = NULL;
    ck_assert_int_eq(cm_actor_from_session(&again, FX.store, token), CM_EAUTH);
    ck_assert_int_eq(fx_exec(NULL, NULL, "auth.login", "{s:s,s:s}", "email", "ada@example.org",
                             "password", "correct horse"),
                     CM_EAUTH);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM members WHERE email LIKE '%ada%' OR "
                              "bio <> '' OR password_hash IS NOT NULL AND name = 'Ada Privacy'"),
                     0);
    /* twice: not found */
    cm_actor *admin = fx_member("admin@example.org", "admin");
    ck_assert_int_eq(fx_exec(NULL, admin, "members.erase", "{s:I}", "member_id", fx_id_of(m)),
                     CM_ENOTFOUND);
    /* the address may sign up again, as a new member */
    ck_assert_ok(fx_exec(NULL, NULL, "members.signup", "{s:s,s:s}", "email", "ada@example.org",
                         "name", "Ada again"));
    cm_actor_free(m);
    cm_actor_free(other);
    cm_actor_free(admin);
}
END_TEST

START_TEST(erase_anonymises_and_keeps_what_law_needs)
{
    cm_actor *admin = fx_member("admin@example.org", "admin");
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *m = fx_member("bob@example.org", "member");
    cm_actor *w = fx_member("wait@example.org", "member");
    json_int_t id = fx_id_of(m);
    ck_assert_ok(fx_exec(NULL, admin, "members.update", "{s:I,s:s,s:s,s:b}", "member_id", id, "bio",
                         "Bob likes Rust in Lagos", "visibility", "public", "discoverable", 1));
    /* a seat, and someone waiting for it */
    json_int_t ev = mk_event(org, 1);
    ck_assert_ok(fx_exec(NULL, m, "rsvps.add", "{s:I,s:s}", "event_id", ev, "status", "going"));
    json_t *r;
    ck_assert_ok(fx_exec(&r, w, "rsvps.add", "{s:I,s:s}", "event_id", ev, "status", "going"));
    ck_assert_str_eq(fx_str(r, "status"), "waitlisted");
    json_decref(r);
    /* an order of a second event (kept for the accounts) */
    json_int_t ev2 = mk_event(org, 10);
    ck_assert_ok(fx_exec(&r, org, "ticket_types.create", "{s:I,s:s,s:i,s:s}", "event_id", ev2,
                         "name", "Standard", "price_minor", 1000, "currency", "EUR"));
    json_int_t tt = fx_int(r, "id");
    json_decref(r);
    ck_assert_ok(
        fx_exec(NULL, m, "orders.create", "{s:I,s:i}", "ticket_type_id", tt, "quantity", 1));
    /* posts, comments, preferences, mail waiting to go, a login failure */
    ck_assert_ok(fx_exec(&r, m, "posts.create", "{s:s,s:s}", "title", "Secret plans", "body",
                         "Bob's address is 1 Main St"));
    json_int_t post = fx_int(r, "id");
    json_decref(r);
    ck_assert_ok(fx_exec(NULL, w, "comments.add", "{s:I,s:s}", "post_id", post, "body", "Nice"));
    ck_assert_ok(fx_exec(NULL, m, "comments.add", "{s:I,s:s}", "post_id", post, "body", "Thanks"));
    ck_assert_ok(fx_exec(NULL, m, "mail.preferences_set", "{s:b}", "newsletters", 1));
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO email_outbox (member_id, to_addr, template, payload, created_at) "
             "VALUES (%lld, 'bob@example.org', 'welcome', '{\"name\":\"Bob\"}', 1)",
             (long long)id);
    fx_sql(sql);
    fx_sql("INSERT INTO login_failures (email_norm, failures, last_at, locked_until) "
           "VALUES ('bob@example.org', 2, 1, 0)");
    fx_sql("INSERT INTO mail_suppression (addr_hash, reason, created_at, updated_at) "
           "VALUES ('abc123', 'bounce', 1, 1)");
    /* a conversation with the assistant (the offline provider) */
    ck_assert_ok(fx_exec(NULL, m, "assistant.ask", "{s:s}", "message", "What is on in Lagos?"));
    ck_assert_ok(fx_exec(&r, m, "members.export", "{}"));
    ck_assert_uint_eq(arr(r, "assistant_conversations"), 1);
    ck_assert_uint_ge(
        json_array_size(json_object_get(
            json_array_get(json_object_get(r, "assistant_conversations"), 0), "messages")),
        2);
    json_decref(r);

    ck_assert_ok(fx_exec(&r, admin, "members.erase", "{s:I}", "member_id", id));
    ck_assert_int_eq(fx_int(r, "rsvps_cancelled"), 1);
    ck_assert_int_eq(fx_int(r, "posts_erased"), 1);
    ck_assert_int_eq(fx_int(r, "comments_erased"), 1);
    ck_assert_int_eq(fx_int(r, "conversations_erased"), 1);
    json_decref(r);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM assistant_conversations WHERE member_id = %lld",
             (long long)id);
    ck_assert_int_eq(fx_count(sql), 0);

    /* the seat went to the waitlist */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM rsvps WHERE member_id = %lld AND status = "
             "'going'",
             (long long)fx_id_of(w));
    ck_assert_int_eq(fx_count(sql), 1);
    /* the row is anonymised, not deleted */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM members WHERE id = %lld AND name = 'Erased member' AND bio = '' "
             "AND email = 'erased-%lld@invalid' AND password_hash IS NULL AND discoverable = 0 "
             "AND visibility = 'private' AND status = 'suspended' AND erased_at IS NOT NULL",
             (long long)id, (long long)id);
    ck_assert_int_eq(fx_count(sql), 1);
    ck_assert_int_eq(fx_exec(NULL, w, "members.get", "{s:I}", "member_id", id), CM_ENOTFOUND);
    /* the post and the comment are emptied; the other member's comment stays */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM posts WHERE body LIKE '%Main St%' OR "
                              "title LIKE '%Secret%'"),
                     0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM comments WHERE body = 'Thanks'"), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM comments WHERE body = 'Nice'"), 1);
    ck_assert_int_eq(fx_exec(NULL, w, "posts.get", "{s:I}", "post_id", post), CM_ENOTFOUND);
    /* search finds nothing of it */
    ck_assert_ok(fx_exec(&r, admin, "search.semantic", "{s:s}", "query", "Bob Rust Lagos plans"));
    json_t *items = json_object_get(r, "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *it = json_array_get(items, i);
        ck_assert_msg(!(strcmp(fx_str(it, "type"), "member") == 0 && fx_int(it, "id") == id),
                      "the erased member is still found");
        ck_assert_msg(!(strcmp(fx_str(it, "type"), "post") == 0 && fx_int(it, "id") == post),
                      "the erased post is still found");
    }
    json_decref(r);
    /* mail: pending is suppressed, no address kept; preferences and throttle gone; the
     * suppression list stays */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE to_addr LIKE '%bob%' OR "
                              "payload LIKE '%Bob%'"),
                     0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE status = 'pending' AND "
                              "template = 'welcome'"),
                     0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM mail_prefs WHERE member_id = %lld",
             (long long)id);
    ck_assert_int_eq(fx_count(sql), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM login_failures"), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM mail_suppression"), 1);
    /* the order stays, on the anonymised row */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM orders WHERE member_id = %lld", (long long)id);
    ck_assert_int_eq(fx_count(sql), 1);
    ck_assert_ok(fx_exec(&r, admin, "members.export", "{s:I}", "member_id", id));
    ck_assert_uint_eq(arr(r, "orders"), 1);
    ck_assert_uint_eq(arr(r, "posts"), 1);
    ck_assert_str_eq(fx_str(json_array_get(json_object_get(r, "posts"), 0), "body"), "");
    ck_assert_uint_eq(arr(r, "mail_preferences"), 0);
    json_decref(r);
    /* audited */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE op = 'members.erase' AND target_type = "
             "'member' AND target_id = %lld",
             (long long)id);
    ck_assert_int_eq(fx_count(sql), 1);
    cm_actor_free(admin);
    cm_actor_free(org);
    cm_actor_free(m);
    cm_actor_free(w);
}
END_TEST

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Run the platform's jobs until no uploads sweep is waiting or running. */
static void run_sweep_jobs(void)
{
    cm_scheduler_options so = CM_SCHEDULER_OPTIONS_INIT;
    so.poll_ms = 20;
    so.heartbeat_ms = 200;
    so.flags = CM_SCHEDULER_PLATFORM_JOBS;
    cm_scheduler *s;
    ck_assert_ok(cm_scheduler_open(&s, FX.store, &so));
    ck_assert_ok(cm_scheduler_start(s));
    for (int i = 0; i < 3000 && fx_count("SELECT count(*) FROM jobs WHERE kind = "
                                         "'platform.uploads_sweep' AND state IN "
                                         "('delayed', 'queued', 'running')") > 0;
         i++)
        sleep_ms(10);
    ck_assert_ok(cm_scheduler_stop(s, 10 * SEC));
    cm_scheduler_close(s, NULL, NULL);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs WHERE kind = 'platform.uploads_sweep' "
                              "AND state <> 'completed'"),
                     0);
}

/* The erasure in another process that dies right after the commit. */
static int erase_child(json_int_t id)
{
    cm_store *st = NULL;
    if (cm_store_open(&st, FX.uri, NULL) != CM_OK)
        return 10;
    configure(st);
    cm_actor *sys = NULL;
    cm_actor_system(&sys);
    char in[64], *out = NULL;
    snprintf(in, sizeof in, "{\"member_id\":%lld}", (long long)id);
    if (cm_exec(&out, st, sys, "members.erase", in, strlen(in)) != CM_OK)
        return 11;
    /* killed before anything else runs: no close, no scheduler */
    raise(SIGKILL);
    return 12;
}

START_TEST(erased_files_outlive_a_crash_only_until_the_sweep)
{
    cm_actor *m = fx_member("carol@example.org", "member");
    cm_actor *other = fx_member("dan@example.org", "member");
    json_t *r;
    ck_assert_ok(fx_exec(&r, m, "posts.create", "{s:s,s:s}", "title", "Pics", "body", "b"));
    json_int_t post = fx_int(r, "id");
    json_decref(r);
    upload(m, "member", fx_id_of(m), 1); /* avatar */
    upload(m, "member", fx_id_of(m), 2); /* a newer avatar: the first is a kept version */
    upload(m, "post", post, 3);
    upload(other, "member", fx_id_of(other), 4); /* not hers: stays */
    ck_assert_uint_eq(stored_objects(), 8);      /* file + thumbnail each */

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(erase_child(fx_id_of(m)));
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the erasing process ended %d", st);
    /* committed: rows gone, the files still there, queued, and a job waiting */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM members WHERE erased_at IS NOT NULL"), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM attachments"), 1);
    ck_assert_uint_eq(stored_objects(), 8);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM blob_trash"), 6);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs WHERE kind = 'platform.uploads_sweep' "
                              "AND state IN ('queued', 'delayed')"),
                     1);
    /* a sweep that died after deleting one file but before its commit:
     * the file is gone, its entry is still queued */
    char path[700];
    const char *key = fx_text("SELECT blob_key FROM blob_trash ORDER BY blob_key LIMIT 1");
    ck_assert_int_eq(strncmp(key, "sha256/", 7), 0);
    snprintf(path, sizeof path, "%s/objects/%.2s/%s", updir, key + 7, key + 7);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_uint_eq(stored_objects(), 7);

    /* the next worker: no orphan, nothing queued, the other member's files kept */
    run_sweep_jobs();
    ck_assert_uint_eq(stored_objects(), 2);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM blob_trash"), 0);
    ck_assert_ok(fx_exec(&r, other, "attachments.list", "{s:s,s:I}", "target", "member",
                         "target_id", fx_id_of(other)));
    ck_assert_uint_eq(arr(r, "items"), 1);
    json_decref(r);
    cm_actor_free(m);
    cm_actor_free(other);
}
END_TEST

START_TEST(erase_refuses_while_a_subscription_runs)
{
    cm_actor *admin = fx_member("admin@example.org", "admin");
    cm_actor *m = fx_member("erin@example.org", "member");
    fx_sql("INSERT INTO membership_tiers (slug, name, created_at, updated_at) "
           "VALUES ('gold', 'Gold', 1, 1)");
    char sql[400];
    snprintf(sql, sizeof sql,
             "INSERT INTO subscriptions (member_id, tier_id, billing_interval, status, reference, "
             "created_at, updated_at) SELECT %lld, id, 'month', 'active', 'ref-1', 1, 1 "
             "FROM membership_tiers",
             (long long)fx_id_of(m));
    fx_sql(sql);
    ck_assert_int_eq(fx_exec(NULL, admin, "members.erase", "{s:I}", "member_id", fx_id_of(m)),
                     CM_ECONFLICT);
    fx_sql("UPDATE subscriptions SET status = 'canceled'");
    ck_assert_ok(fx_exec(NULL, admin, "members.erase", "{s:I}", "member_id", fx_id_of(m)));
    cm_actor_free(admin);
    cm_actor_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("privacy");
    TCase *tc = tcase_create("privacy");
    tcase_add_checked_fixture(tc, setup, fx_teardown);
    tcase_add_test(tc, export_holds_a_members_data);
    tcase_add_test(tc, erase_yourself_needs_your_password);
    tcase_add_test(tc, erase_anonymises_and_keeps_what_law_needs);
    tcase_add_test(tc, erased_files_outlive_a_crash_only_until_the_sweep);
    tcase_add_test(tc, erase_refuses_while_a_subscription_runs);
    suite_add_tcase(s, tc);
    return fx_run(s);
}
