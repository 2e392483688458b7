/*
 * test_store.c - store URIs, migrations (applied once, checksummed,
 * refused when modified), schema status, ping, pool under threads, and
 * statements whose binds fail (a counting allocator installed first thing
 * in main() can fail the Nth allocation).
 */
#include "fixtures.h"
#include "store/store_int.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

START_TEST(open_rejects_bad_uris)
{
    cm_store *s = (cm_store *)1;
    ck_assert_int_eq(cm_store_open(&s, "", NULL), CM_EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(cm_store_open(&s, NULL, NULL), CM_EINVAL);
    ck_assert_int_eq(cm_store_open(&s, "oracle://x", NULL), CM_ENOTSUP);
    ck_assert_int_eq(cm_store_open(&s, "sqlite://", NULL), CM_EINVAL);
    ck_assert_int_eq(cm_store_open(&s, "sqlite:///nonexistent-dir/x/y.db", NULL), CM_EIO);
    ck_assert(strstr(cm_error_message(), "nonexistent-dir") != NULL);
    ck_assert_int_eq(cm_store_open(NULL, "sqlite::memory:", NULL), CM_EINVAL);
}
END_TEST

START_TEST(plain_path_is_an_sqlite_file)
{
    /* A string without a URI scheme is the path of an SQLite file, relative to
     * the working directory or absolute; a scheme the library does not know is
     * still refused. */
    cm_store *s = NULL;
    char *out = NULL;
    static const char in[] = "{\"email\":\"p@example.org\",\"name\":\"P\"}";
    if (fx_is_pg())
        return; /* about SQLite files */
    ck_assert_int_eq(chdir(FX.dir), 0);
    ck_assert_ok(cm_store_open(&s, "plain.db", NULL));
    ck_assert_str_eq(cm_store_backend_name(s), "sqlite");
    ck_assert_ok(cm_exec(&out, s, FX.sys, "members.signup", in, strlen(in)));
    cm_free(out);
    cm_store_close(s);
    char uri[420], abs[400];
    snprintf(abs, sizeof abs, "%s/plain.db", FX.dir);
    snprintf(uri, sizeof uri, "sqlite://%s", abs);
    ck_assert_int_eq(access(abs, F_OK), 0);
    const char *const same[] = {uri, abs, "./plain.db"};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_ok(cm_store_open(&s, same[i], NULL));
        ck_assert_ok(cm_exec(&out, s, FX.sys, "members.list", "{}", 2));
        ck_assert_msg(strstr(out, "p@example.org") != NULL, "%s: %s", same[i], out);
        cm_free(out);
        cm_store_close(s);
    }
    ck_assert_int_eq(cm_store_open(&s, "mysql:plain.db", NULL), CM_ENOTSUP);
    ck_assert_int_eq(chdir("/"), 0);
}
END_TEST

START_TEST(memory_store_works)
{
    cm_store *s;
    ck_assert_ok(cm_store_open(&s, "sqlite::memory:", NULL));
    ck_assert_str_eq(cm_store_backend_name(s), "sqlite");
    ck_assert_ok(cm_store_ping(s));
    cm_store_close(s);
    cm_store_close(NULL);
}
END_TEST

START_TEST(migrations_apply_once_and_report_status)
{
    int32_t applied = -1;
    ck_assert_ok(cm_store_migrate(FX.store, &applied));
    ck_assert_int_eq(applied, 0); /* already applied at open */
    char *status;
    ck_assert_ok(cm_store_schema_status(&status, FX.store));
    json_t *j = json_loads(status, 0, NULL);
    cm_free(status);
    ck_assert_int_ge(json_integer_value(json_object_get(j, "current")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "current")),
                     json_integer_value(json_object_get(j, "latest")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "backend")),
                     fx_is_pg() ? "pg" : "sqlite");
    json_decref(j);
    ck_assert_int_ge(fx_count("SELECT count(*) FROM cm_migrations"), 1);
}
END_TEST

static void raw_sql(const char *sql)
{
    fx_sql(sql);
}

START_TEST(modified_migration_checksum_is_refused)
{
    cm_store_close(FX.store);
    FX.store = NULL;
    raw_sql("UPDATE cm_migrations SET checksum = 'deadbeef' WHERE version = 1");
    cm_store *s = NULL;
    ck_assert_int_eq(cm_store_open(&s, FX.uri, NULL), CM_ESCHEMA);
    ck_assert_ptr_null(s);
    ck_assert(strstr(cm_error_message(), "checksum") != NULL);
    /* reopen for teardown after restoring nothing: open must keep failing */
    ck_assert_int_eq(cm_store_open(&FX.store, FX.uri, NULL), CM_ESCHEMA);
    FX.store = NULL;
}
END_TEST

START_TEST(newer_schema_is_refused)
{
    cm_store_close(FX.store);
    FX.store = NULL;
    raw_sql("INSERT INTO cm_migrations VALUES (999, 'future', 'x', 0)");
    cm_store *s = NULL;
    ck_assert_int_eq(cm_store_open(&s, FX.uri, NULL), CM_ESCHEMA);
    ck_assert(strstr(cm_error_message(), "newer") != NULL);
}
END_TEST

START_TEST(no_migrate_flag_refuses_pending_schema)
{
    char uri[420];
    fx_new_uri(uri, sizeof uri, "fresh");
    cm_store_options o = CM_STORE_OPTIONS_INIT;
    o.flags = CM_STORE_NO_MIGRATE;
    cm_store *s = NULL;
    ck_assert_int_eq(cm_store_open(&s, uri, &o), CM_ESCHEMA);
    ck_assert(strstr(cm_error_message(), "community migrate") != NULL);
    ck_assert_ok(cm_store_open(&s, uri, NULL));
    cm_store_close(s);
    ck_assert_ok(cm_store_open(&s, uri, &o));
    cm_store_close(s);
}
END_TEST

START_TEST(wal_mode_is_on)
{
    if (fx_is_pg())
        return;
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(FX.path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}
END_TEST

static void *open_and_read(void *p)
{
    (void)p;
    cm_store_options o = CM_STORE_OPTIONS_INIT;
    o.busy_timeout_ms = 50; /* the writer below holds its lock much longer */
    cm_store *s = NULL;
    int rc = cm_store_open(&s, FX.uri, &o);
    if (rc == CM_OK) {
        char *out = NULL;
        rc = cm_exec(&out, s, FX.sys, "members.list", "{}", 2);
        cm_free(out);
    }
    cm_store_close(s);
    return (void *)(long)rc;
}

/* SQLite: opening an up-to-date database only reads, so many openers (each
 * its own cm_store, as separate processes would be) succeed while another
 * connection holds the write lock throughout. */
START_TEST(opens_of_a_migrated_database_do_not_wait_for_the_writer)
{
    if (fx_is_pg())
        return;
    sqlite3 *w;
    ck_assert_int_eq(sqlite3_open(FX.path, &w), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(w,
                                  "BEGIN IMMEDIATE; INSERT INTO metric_counters (name, "
                                  "value) VALUES ('writer', 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    enum { N = 32 };
    pthread_t th[N];
    for (long i = 0; i < N; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, open_and_read, NULL), 0);
    int failed = 0, first = 0;
    for (int i = 0; i < N; i++) {
        void *r;
        pthread_join(th[i], &r);
        if ((int)(long)r) {
            failed++;
            first = first ? first : (int)(long)r;
        }
    }
    ck_assert_int_eq(sqlite3_exec(w, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(w);
    ck_assert_msg(failed == 0, "%d of %d opens failed, first with %s", failed, N,
                  cm_status_name(first));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM metric_counters WHERE name = 'writer'"), 1);
}
END_TEST

static int64_t data_version(sqlite3 *db)
{
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Readiness probes: a write at most every 10 s (of the library's clock),
 * and none while other writes commit; a refused write forgets the proof. */
START_TEST(readiness_probes_do_not_write_each_time)
{
    if (fx_is_pg())
        return;
    fx_clock_set(INT64_C(1800000000) * 1000000);
    cm_store *s;
    ck_assert_ok(cm_store_open(&s, FX.uri, NULL));
    sqlite3 *other; /* data_version moves when another connection commits */
    ck_assert_int_eq(sqlite3_open(FX.path, &other), SQLITE_OK);
    int64_t v0 = data_version(other);
    ck_assert_ok(cm_store_ping_write(s)); /* the first probe writes */
    int64_t v1 = data_version(other);
    ck_assert_int_ne(v1, v0);
    for (int i = 0; i < 20; i++) {
        ck_assert_ok(cm_store_ping_write(s));
        fx_clock_advance(400000); /* 8 s in all */
    }
    ck_assert_int_eq(data_version(other), v1);
    /* an operation's write renews the proof */
    char *out = NULL;
    const char *in = "{\"email\":\"probe@example.org\",\"name\":\"P\"}";
    ck_assert_ok(cm_exec(&out, s, FX.sys, "members.signup", in, strlen(in)));
    cm_free(out);
    int64_t v2 = data_version(other);
    fx_clock_advance(5 * 1000000); /* 13 s after the probe, 5 s after the sign-up */
    ck_assert_ok(cm_store_ping_write(s));
    ck_assert_int_eq(data_version(other), v2);
    /* 10 s without a write: the probe writes again */
    fx_clock_advance(10 * 1000000);
    ck_assert_ok(cm_store_ping_write(s));
    ck_assert_int_ne(data_version(other), v2);
    sqlite3_close(other);
    cm_store_close(s);
    fx_clock_real();
}
END_TEST

/* A database that cannot take writes says so with CM_EUNAVAILABLE (and the
 * native code), not a generic I/O error: SQLite at its page limit returns
 * SQLITE_FULL as on a full disk; a connection that turned read-only returns
 * SQLITE_READONLY. cm_store_ping_write() probes it. (A real full file
 * system is tested through the HTTP host: examples/http/tests/test_storage.py.) */
START_TEST(full_or_read_only_database_is_unavailable)
{
    if (fx_is_pg())
        return;
    cm_store_options o = CM_STORE_OPTIONS_INIT;
    o.pool_size = 1; /* one connection: the PRAGMAs below apply to every call */
    cm_store *s;
    ck_assert_ok(cm_store_open(&s, FX.uri, &o));
    ck_assert_ok(cm_store_ping_write(s));
    cm__conn *c;
    ck_assert_ok(cm__store_acquire(&c, s));
    ck_assert_ok(s->ops->exec_script(c, "PRAGMA max_page_count = 1")); /* = current size */
    cm__store_release(c);
    char bio[4001];
    memset(bio, 'b', 4000);
    bio[4000] = '\0';
    int rc = CM_OK;
    for (int i = 0; i < 50 && rc == CM_OK; i++) {
        char in[4200], *out = NULL;
        snprintf(in, sizeof in, "{\"email\":\"full%d@example.org\",\"name\":\"F\",\"bio\":\"%s\"}",
                 i, bio);
        rc = cm_exec(&out, s, FX.sys, "members.signup", in, strlen(in));
        cm_free(out);
    }
    ck_assert_msg(rc == CM_EUNAVAILABLE, "%s: %s", cm_status_name(rc), cm_error_message());
    ck_assert_str_eq(cm_error_backend_code(), "13"); /* SQLITE_FULL */
    ck_assert_ok(cm__store_acquire(&c, s));
    ck_assert_ok(s->ops->exec_script(c, "PRAGMA max_page_count = 1000000000"));
    ck_assert_ok(s->ops->exec_script(c, "PRAGMA query_only = 1"));
    cm__store_release(c);
    rc = cm_store_ping_write(s);
    ck_assert_msg(rc == CM_EUNAVAILABLE, "%s: %s", cm_status_name(rc), cm_error_message());
    ck_assert_str_eq(cm_error_backend_code(), "8"); /* SQLITE_READONLY */
    /* reads still work */
    ck_assert_ok(cm_store_ping(s));
    ck_assert_ok(cm__store_acquire(&c, s));
    ck_assert_ok(s->ops->exec_script(c, "PRAGMA query_only = 0"));
    cm__store_release(c);
    ck_assert_ok(cm_store_ping_write(s));
    ck_assert_int_eq(cm_store_ping_write(NULL), CM_EINVAL);
    cm_store_close(s);
}
END_TEST

static void *signup_many(void *p)
{
    long t = (long)p;
    for (int i = 0; i < 20; i++) {
        char in[200], *out = NULL;
        snprintf(in, sizeof in, "{\"email\":\"t%ld-%d@example.org\",\"name\":\"T\"}", t, i);
        int rc = cm_exec(&out, FX.store, FX.sys, "members.signup", in, strlen(in));
        cm_free(out);
        if (rc)
            return (void *)(long)rc;
    }
    return NULL;
}

START_TEST(pool_serves_many_threads)
{
    pthread_t th[12];
    for (long i = 0; i < 12; i++)
        pthread_create(&th[i], NULL, signup_many, (void *)i);
    for (int i = 0; i < 12; i++) {
        void *r;
        pthread_join(th[i], &r);
        ck_assert_int_eq((int)(long)r, 0);
    }
    ck_assert_int_eq(fx_count("SELECT count(*) FROM members"), 240);
}
END_TEST

/* SQLite: every commit is durable (its WAL synced) before the call that
 * made it returns, and concurrent writers share the syncs. */
static void *signup_durably(void *p)
{
    long t = (long)p;
    for (int i = 0; i < 20; i++) {
        uint64_t committed, synced, syncs, c2;
        cm__sqlite_sync_counts(FX.store, &committed, &synced, &syncs);
        char in[200], *out = NULL;
        snprintf(in, sizeof in, "{\"email\":\"d%ld-%d@example.org\",\"name\":\"D\"}", t, i);
        int rc = cm_exec(&out, FX.store, FX.sys, "members.signup", in, strlen(in));
        cm_free(out);
        if (rc)
            return (void *)(long)rc;
        cm__sqlite_sync_counts(FX.store, &c2, &synced, &syncs);
        if (synced < committed + 1) /* this call's commit is numbered > committed */
            return (void *)(long)CM_ERROR;
    }
    return NULL;
}

START_TEST(commits_are_synced_before_they_return_and_writers_share_the_syncs)
{
    if (fx_is_pg())
        return;
    uint64_t c0, s0, n0, c1, s1, n1;
    cm__sqlite_sync_counts(FX.store, &c0, &s0, &n0);
    ck_assert_ptr_null(signup_durably((void *)100));
    cm__sqlite_sync_counts(FX.store, &c1, &s1, &n1);
    ck_assert_uint_eq(c1, c0 + 20); /* each signup is one commit */
    ck_assert_uint_eq(s1, c1);
    enum { N = 12 };
    pthread_t th[N];
    for (long i = 0; i < N; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, signup_durably, (void *)i), 0);
    for (int i = 0; i < N; i++) {
        void *r;
        pthread_join(th[i], &r);
        ck_assert_int_eq((int)(long)r, 0);
    }
    ck_assert_int_eq(fx_count("SELECT count(*) FROM members WHERE email LIKE 'd%'"), 20 * (N + 1));
    uint64_t c2, s2, n2;
    cm__sqlite_sync_counts(FX.store, &c2, &s2, &n2);
    ck_assert_uint_eq(c2, c1 + 20 * N);
    ck_assert_uint_eq(s2, c2);
    ck_assert_msg(n2 - n1 < c2 - c1, "%llu syncs for %llu concurrent commits",
                  (unsigned long long)(n2 - n1), (unsigned long long)(c2 - c1));
}
END_TEST

static long long cache_hits(void)
{
    char *st = NULL;
    ck_assert_ok(cm_store_stats(&st, FX.store));
    json_t *j = json_loads(st, 0, NULL);
    long long n = json_integer_value(json_object_get(j, "cache_hits"));
    json_decref(j);
    cm_free(st);
    return n;
}

static const char *group_name(json_int_t gid)
{
    static char buf[64];
    json_t *r;
    ck_assert_ok(fx_exec(&r, FX.sys, "groups.get", "{s:I}", "group_id", gid));
    snprintf(buf, sizeof buf, "%s", json_string_value(json_object_get(r, "name")));
    json_decref(r);
    return buf;
}

static long long stat_int(const char *key)
{
    char *st = NULL;
    ck_assert_ok(cm_store_stats(&st, FX.store));
    json_t *j = json_loads(st, 0, NULL);
    long long n =
        json_is_true(json_object_get(j, key)) ? 1 : json_integer_value(json_object_get(j, key));
    json_decref(j);
    cm_free(st);
    return n;
}

/* cm_store_share_cache with a Redis that refuses connections: nothing is
 * cached (the reads go to the database and stay right), the failures are
 * counted, and stopping the sharing brings the process's own cache back
 * (SQLite; PostgreSQL caches only while sharing). */
START_TEST(a_shared_cache_without_redis_caches_nothing_and_reads_stay_right)
{
    ck_assert_int_eq(cm_store_share_cache(NULL, "redis://127.0.0.1:1", 0), CM_EINVAL);
    ck_assert_int_eq(cm_store_share_cache(FX.store, "http://127.0.0.1:1", 0), CM_EINVAL);
    ck_assert_int_eq(cm_store_share_cache(FX.store, "redis://127.0.0.1:99999", 0), CM_EINVAL);
    int rc = cm_store_share_cache(FX.store, "redis://:pw%21@127.0.0.1:1/2", 50);
    if (rc == CM_ENOTSUP)
        return; /* built without hiredis */
    ck_assert_ok(rc);
    ck_assert_int_eq(stat_int("cache_shared"), 1);
    fx_clock_set(cm_now_us());
    cm_actor *own = fx_member("sharer@example.org", "organizer");
    json_t *r;
    ck_assert_ok(fx_exec(&r, own, "groups.create", "{s:s,s:s,s:s,s:s,s:s}", "slug", "sharers",
                         "name", "Sharers", "kind", "chapter", "join_policy", "open", "visibility",
                         "public"));
    json_int_t gid = json_integer_value(json_object_get(r, "id"));
    json_decref(r);
    long long h = cache_hits();
    ck_assert_str_eq(group_name(gid), "Sharers");
    ck_assert_str_eq(group_name(gid), "Sharers");
    ck_assert_int_eq(cache_hits(), h);
    ck_assert_int_ge(stat_int("cache_shared_errors"), 1);
    ck_assert_ok(
        fx_exec(NULL, own, "groups.update", "{s:I,s:s}", "group_id", gid, "name", "Renamed"));
    ck_assert_str_eq(group_name(gid), "Renamed");
    ck_assert_ok(cm_store_share_cache(FX.store, NULL, 0));
    ck_assert_int_eq(stat_int("cache_shared"), 0);
    if (!fx_is_pg()) {
        ck_assert_str_eq(group_name(gid), "Renamed");
        ck_assert_str_eq(group_name(gid), "Renamed");
        ck_assert_int_eq(cache_hits(), h + 1);
    }
    cm_actor_free(own);
}
END_TEST

/* SQLite: a commit of this store drops only the cached results that read
 * a table it wrote (a member signing up leaves a group's page cached, a
 * rename of the group does not); a commit by anybody else still drops
 * every result. The clock stands still so that the cache's one-second age
 * limit plays no part. */
START_TEST(a_commit_drops_only_the_cached_reads_of_the_tables_it_wrote)
{
    if (fx_is_pg())
        return;
    fx_clock_set(cm_now_us());
    cm_actor *own = fx_member("own@example.org", "organizer");
    json_t *r;
    ck_assert_ok(fx_exec(&r, own, "groups.create", "{s:s,s:s,s:s,s:s,s:s}", "slug", "readers",
                         "name", "Readers", "kind", "chapter", "join_policy", "open", "visibility",
                         "public"));
    json_int_t gid = json_integer_value(json_object_get(r, "id"));
    json_decref(r);
    ck_assert_str_eq(group_name(gid), "Readers");
    long long h = cache_hits();
    ck_assert_str_eq(group_name(gid), "Readers");
    ck_assert_int_eq(cache_hits(), h + 1);
    /* members, sessions, audit_log: nothing groups.get reads */
    ck_assert_ok(fx_exec(NULL, FX.sys, "members.signup", "{s:s,s:s}", "email", "new@example.org",
                         "name", "New"));
    ck_assert_str_eq(group_name(gid), "Readers");
    ck_assert_int_eq(cache_hits(), h + 2);
    /* the group itself */
    ck_assert_ok(
        fx_exec(NULL, own, "groups.update", "{s:I,s:s}", "group_id", gid, "name", "Renamed"));
    ck_assert_str_eq(group_name(gid), "Renamed");
    ck_assert_int_eq(cache_hits(), h + 2);
    ck_assert_str_eq(group_name(gid), "Renamed");
    ck_assert_int_eq(cache_hits(), h + 3);
    /* another connection, even to a table groups.get does not read */
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(FX.path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO metric_counters (name, value) VALUES ('x', 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    ck_assert_str_eq(group_name(gid), "Renamed");
    ck_assert_int_eq(cache_hits(), h + 3);
    ck_assert_str_eq(group_name(gid), "Renamed");
    ck_assert_int_eq(cache_hits(), h + 4);
    cm_actor_free(own);
}
END_TEST

static const char *headline_of(cm_store *st, const cm_actor *viewer, json_int_t id)
{
    static char buf[128];
    char in[64], *out = NULL;
    snprintf(in, sizeof in, "{\"member_id\":%lld}", (long long)id);
    ck_assert_ok(cm_exec(&out, st, viewer, "members.get", in, strlen(in)));
    json_t *j = json_loads(out, 0, NULL);
    snprintf(buf, sizeof buf, "%s", json_string_value(json_object_get(j, "headline")));
    json_decref(j);
    cm_free(out);
    return buf;
}

START_TEST(cached_reads_see_commits_from_any_connection)
{
    cm_actor *a = fx_member("cache@example.org", "member");
    json_int_t id = cm_actor_member_id(a);
    ck_assert_str_eq(headline_of(FX.store, a, id), "");
    ck_assert_str_eq(headline_of(FX.store, a, id), ""); /* now served from the cache */
    /* a write through the same store */
    ck_assert_ok(fx_exec(NULL, a, "members.update", "{s:s}", "headline", "one"));
    ck_assert_str_eq(headline_of(FX.store, a, id), "one");
    /* a write through another store handle on the same database (as another
     * process would do) */
    cm_store *other;
    ck_assert_ok(cm_store_open(&other, FX.uri, NULL));
    char *out = NULL;
    const char *in = "{\"headline\":\"two\"}";
    ck_assert_ok(cm_exec(&out, other, a, "members.update", in, strlen(in)));
    cm_free(out);
    cm_store_close(other);
    ck_assert_str_eq(headline_of(FX.store, a, id), "two");
    cm_actor_free(a);
}
END_TEST

static long long stat_of(cm_store *st, const char *key)
{
    char *out = NULL;
    ck_assert_ok(cm_store_stats(&out, st));
    json_t *j = json_loads(out, 0, NULL);
    long long v = (long long)json_integer_value(json_object_get(j, key));
    json_decref(j);
    cm_free(out);
    return v;
}

START_TEST(no_result_cache_flag_runs_every_read)
{
    cm_actor *a = fx_member("nocache@example.org", "member");
    json_int_t id = cm_actor_member_id(a);
    cm_store_options o = CM_STORE_OPTIONS_INIT;
    o.flags = CM_STORE_NO_RESULT_CACHE;
    cm_store *plain, *uncached;
    ck_assert_ok(cm_store_open(&plain, FX.uri, NULL));
    ck_assert_ok(cm_store_open(&uncached, FX.uri, &o));
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(headline_of(plain, a, id), "");
        ck_assert_str_eq(headline_of(uncached, a, id), "");
    }
    /* every read of the plain store looks in the cache (hit or, past the
     * entry's lifetime, miss); the flagged store never looks. PostgreSQL
     * has no data-version hook, so no store caches reads there. */
    ck_assert_int_eq(stat_of(plain, "cache_hits") + stat_of(plain, "cache_misses"),
                     fx_is_pg() ? 0 : 3);
    ck_assert_int_eq(stat_of(uncached, "cache_hits"), 0);
    ck_assert_int_eq(stat_of(uncached, "cache_misses"), 0);
    cm_store_close(uncached);
    cm_store_close(plain);
    cm_actor_free(a);
}
END_TEST

/* One audit row written the way domain code writes (bind results ignored),
 * with one bind made to fail: ?5 gets `target_type` (length n), and
 * bad_idx > 0 adds a bind of a parameter the statement does not have. */
typedef struct bind_case {
    const char *target_type;
    size_t n;
    int bad_idx;
} bind_case;

static int insert_audit(cm__conn *c, void *payload)
{
    const bind_case *bc = payload;
    cm__q q;
    int rc = cm__q_open(&q, c, "audit.insert");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, 12345);
    cm__q_int64(&q, 2, 77);
    cm__q_text(&q, 3, "system");
    cm__q_text(&q, 4, "bind.test");
    cm__q_textn(&q, 5, bc->target_type, bc->n);
    if (bc->bad_idx)
        cm__q_int64(&q, bc->bad_idx, 1);
    cm__q_int64(&q, 6, 88);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    return rc < 0 ? rc : CM_OK;
}

static long long bind_test_rows(void)
{
    return fx_count("SELECT count(*) FROM audit_log WHERE op = 'bind.test'");
}

START_TEST(a_failed_bind_is_returned_by_step_and_nothing_is_written)
{
    bind_case bc = {"member", 6, 99};
    ck_assert_int_eq(cm__store_run_tx(FX.store, true, insert_audit, &bc), CM_ERANGE);
    ck_assert_msg(strstr(cm_error_message(), "99") != NULL, "names the parameter: %s",
                  cm_error_message());
    ck_assert_int_eq(bind_test_rows(), 0);
    if (fx_is_pg()) { /* PostgreSQL refuses text with a NUL byte at bind */
        bind_case nul = {"mem\0ber", 7, 0};
        ck_assert_int_eq(cm__store_run_tx(FX.store, true, insert_audit, &nul), CM_EINVAL);
        ck_assert_int_eq(bind_test_rows(), 0);
    }
    bind_case ok = {"member", 6, 0};
    ck_assert_ok(cm__store_run_tx(FX.store, true, insert_audit, &ok));
    ck_assert_int_eq(bind_test_rows(), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM audit_log WHERE op = 'bind.test' AND "
                              "actor_id = 77 AND target_type = 'member' AND target_id = 88"),
                     1);
}
END_TEST

/* A bind that runs out of memory (PostgreSQL copies every bound value, here
 * a longer one than the statement has held, through the library's
 * allocator; SQLite copies with its own): CM_ENOMEM and nothing written,
 * never the row with NULL where the value was meant. */
static int insert_audit_oom(cm__conn *c, void *payload)
{
    long *injected = payload;
    static char big[100000];
    memset(big, 'x', sizeof big - 1);
    cm__q q;
    int rc = cm__q_open(&q, c, "audit.insert");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, 12345);
    cm__q_int64(&q, 2, 77);
    cm__q_text(&q, 3, "system");
    cm__q_text(&q, 4, "bind.test");
    fx_alloc_arm(1);
    cm__q_text(&q, 5, big);
    *injected = fx_alloc_disarm();
    cm__q_int64(&q, 6, 88);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    return rc < 0 ? rc : CM_OK;
}

START_TEST(a_bind_out_of_memory_writes_nothing)
{
    long injected = 0;
    int rc = cm__store_run_tx(FX.store, true, insert_audit_oom, &injected);
    if (fx_is_pg())
        ck_assert_int_eq(injected, 1);
    if (injected) {
        ck_assert_msg(rc == CM_ENOMEM, "%s %s", cm_status_name(rc), cm_error_message());
        ck_assert_int_eq(bind_test_rows(), 0);
    } else {
        ck_assert_ok(rc);
        ck_assert_int_eq(bind_test_rows(), 1);
    }
}
END_TEST

int main(void)
{
    /* Before anything else allocates. */
    if (fx_alloc_install() != CM_OK)
        return EXIT_FAILURE;

    Suite *s = suite_create("store");
    TCase *plain = tcase_create("open");
    tcase_add_test(plain, open_rejects_bad_uris);
    tcase_add_test(plain, memory_store_works);
    suite_add_tcase(s, plain);
    TCase *tc = tcase_create("migrations");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, migrations_apply_once_and_report_status);
    tcase_add_test(tc, modified_migration_checksum_is_refused);
    tcase_add_test(tc, newer_schema_is_refused);
    tcase_add_test(tc, no_migrate_flag_refuses_pending_schema);
    tcase_add_test(tc, wal_mode_is_on);
    tcase_add_test(tc, full_or_read_only_database_is_unavailable);
    tcase_add_test(tc, readiness_probes_do_not_write_each_time);
    tcase_add_test(tc, plain_path_is_an_sqlite_file);
    suite_add_tcase(s, tc);
    TCase *pool = tcase_create("pool");
    tcase_add_checked_fixture(pool, fx_setup, fx_teardown);
    tcase_set_timeout(pool, 120);
    tcase_add_test(pool, pool_serves_many_threads);
    tcase_add_test(pool, cached_reads_see_commits_from_any_connection);
    tcase_add_test(pool, no_result_cache_flag_runs_every_read);
    tcase_add_test(pool, opens_of_a_migrated_database_do_not_wait_for_the_writer);
    tcase_add_test(pool, commits_are_synced_before_they_return_and_writers_share_the_syncs);
    tcase_add_test(pool, a_commit_drops_only_the_cached_reads_of_the_tables_it_wrote);
    tcase_add_test(pool, a_shared_cache_without_redis_caches_nothing_and_reads_stay_right);
    suite_add_tcase(s, pool);
    TCase *bind = tcase_create("bind");
    tcase_add_checked_fixture(bind, fx_setup, fx_teardown);
    tcase_add_test(bind, a_failed_bind_is_returned_by_step_and_nothing_is_written);
    tcase_add_test(bind, a_bind_out_of_memory_writes_nothing);
    suite_add_tcase(s, bind);
    return fx_run(s);
}
