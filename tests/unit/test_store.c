/*
 * test_store.c - store URIs, migrations (applied once, checksummed,
 * refused when modified), schema status, ping, pool under threads.
 */
#include "fixtures.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
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
    ck_assert_str_eq(json_string_value(json_object_get(j, "backend")), fx_is_pg() ? "pg" : "sqlite");
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

int main(void)
{
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
    suite_add_tcase(s, tc);
    TCase *pool = tcase_create("pool");
    tcase_add_checked_fixture(pool, fx_setup, fx_teardown);
    tcase_set_timeout(pool, 120);
    tcase_add_test(pool, pool_serves_many_threads);
    tcase_add_test(pool, cached_reads_see_commits_from_any_connection);
    suite_add_tcase(s, pool);
    return fx_run(s);
}
