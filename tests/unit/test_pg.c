/*
 * test_pg.c - the PostgreSQL backend: the SQLite-to-PostgreSQL translator
 * and the override table (always), and against a real server (the 'pg'
 * suite, CM_TEST_BACKEND=pg): every catalogue statement prepares, the
 * schema mirrors SQLite's, parameter and column types round-trip, SQLSTATEs
 * map to CM_E* codes, serialization failures and deadlocks are retried or
 * reported as retryable, dropped connections are replaced, concurrent
 * migrators apply each migration once, modified or newer schemas are
 * refused, the pool serves many threads, and several processes racing for
 * an event's seats never oversell it.
 */
#include "fixtures.h"

#include "store/pg/pg_int.h"
#include "store/store_int.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern const cm__sql_entry *const cm__sqlite_catalog[];

/* ---- the translator (no server needed) ---- */

static char *tr(const char *sql, int *np)
{
    char *out = NULL;
    int n = -1;
    ck_assert_ok(cm__pg_translate(&out, &n, NULL, sql));
    if (np)
        *np = n;
    return out;
}

#define ck_tr(in, want)                                                                            \
    do {                                                                                           \
        char *got_ = tr(in, NULL);                                                                 \
        ck_assert_str_eq(got_, want);                                                              \
        cm_free(got_);                                                                             \
    } while (0)

START_TEST(placeholders_become_dollar_numbers)
{
    int n;
    char *s = tr("SELECT ?1, ?12 FROM t WHERE a = ?2", &n);
    ck_assert_str_eq(s, "SELECT $1, $12 FROM t WHERE a = $2");
    ck_assert_int_eq(n, 12);
    cm_free(s);
    /* bare ? continues after the highest number so far, as in SQLite */
    ck_tr("VALUES (?, ?5, ?)", "VALUES ($1, $5, $6)");
    /* literals, quoted identifiers and comments are left alone */
    s = tr("SELECT '?1 it''s', \"?2\", ?3 -- ?4\n/* ?5 */ FROM t", &n);
    ck_assert_str_eq(s, "SELECT '?1 it''s', \"?2\", $3 -- ?4\n/* ?5 */ FROM t");
    ck_assert_int_eq(n, 3);
    cm_free(s);
    unsigned char *used = NULL;
    ck_assert_ok(cm__pg_translate(&s, &n, &used, "SELECT ?1 + ?3"));
    ck_assert_int_eq(n, 3);
    ck_assert(used[1] && !used[2] && used[3]);
    cm_free(s);
    cm_free(used);
    ck_assert_ok(cm__pg_translate(&s, &n, NULL, "SELECT 1"));
    ck_assert_int_eq(n, 0);
    cm_free(s);
}
END_TEST

START_TEST(sqlite_spellings_are_rewritten)
{
    ck_tr("SELECT 1 WHERE name LIKE ?1 ESCAPE '\\' AND b NOT LIKE 'LIKE'",
          "SELECT 1 WHERE name ILIKE $1 ESCAPE '\\' AND b NOT ILIKE 'LIKE'");
    ck_tr("SELECT unlikely, likes FROM t", "SELECT unlikely, likes FROM t");
    ck_tr("WHERE a IS ?1 AND b IS NOT ?2 AND c IS NULL AND d IS NOT NULL",
          "WHERE a IS NOT DISTINCT FROM $1 AND b IS DISTINCT FROM $2 AND c IS NULL AND d IS "
          "NOT NULL");
    ck_tr("WHERE a IS NOT DISTINCT FROM b AND c IS TRUE", "WHERE a IS NOT DISTINCT FROM b AND c "
                                                          "IS TRUE");
    ck_tr("INSERT OR IGNORE INTO t (a) VALUES (?1)",
          "INSERT INTO t (a) VALUES ($1) ON CONFLICT DO NOTHING");
    ck_tr("insert or ignore into t (a) values (?1) returning id;",
          "insert into t (a) values ($1) ON CONFLICT DO NOTHING returning id;");
    ck_tr("SELECT max(a, ?1), min(b, (c + 1)), max(x), max((1, 2))",
          "SELECT greatest(a, $1), least(b, (c + 1)), max(x), max((1, 2))");
    ck_tr("SELECT ifnull(a, 0), instr(a, 'x'), CAST(b AS INTEGER), CAST(c AS REAL)",
          "SELECT coalesce(a, 0), strpos(a, 'x'), CAST(b AS bigint), CAST(c AS double "
          "precision)");
    ck_tr("SELECT a == 1, X'00ff', `odd name`", "SELECT a = 1, '\\x00ff'::bytea, \"odd name\"");
    ck_tr("SELECT lpad(id::text, 20, '0')", "SELECT lpad(id::text, 20, '0')");
}
END_TEST

START_TEST(named_and_out_of_range_parameters_are_refused)
{
    char *s = NULL;
    int n;
    ck_assert_int_eq(cm__pg_translate(&s, &n, NULL, "SELECT :name"), CM_EINVAL);
    ck_assert_int_eq(cm__pg_translate(&s, &n, NULL, "SELECT @x"), CM_EINVAL);
    ck_assert_int_eq(cm__pg_translate(&s, &n, NULL, "SELECT ?0"), CM_EINVAL);
    ck_assert_int_eq(cm__pg_translate(&s, &n, NULL, "SELECT ?99999"), CM_EINVAL);
    ck_assert_ptr_null(s);
}
END_TEST

static const char *sqlite_text(const char *id)
{
    for (const cm__sql_entry *const *part = cm__sqlite_catalog; *part; part++)
        for (const cm__sql_entry *e = *part; e->id; e++)
            if (strcmp(e->id, id) == 0)
                return e->sql;
    return NULL;
}

START_TEST(overrides_are_sorted_current_and_apply)
{
    for (const cm__pg_override *o = cm__pg_overrides; o->id; o++) {
        if (o > cm__pg_overrides)
            ck_assert_msg(strcmp(o[-1].id, o->id) < 0, "overrides not sorted at %s", o->id);
        ck_assert_ptr_eq(cm__pg_override_find(o->id), o);
        const char *sql = sqlite_text(o->id);
        ck_assert_msg(sql != NULL, "override %s has no SQLite statement", o->id);
        ck_assert_msg((o->sql != NULL) != (o->patch != NULL), "%s: sql or patch", o->id);
        if (o->sql) {
            char sum[65];
            cm__migration_checksum(sum, sql);
            ck_assert_msg(o->sqlite_sum && strncmp(sum, o->sqlite_sum, 12) == 0,
                          "the SQLite text of %s changed (sum %.12s): review its override in "
                          "lib/store/pg/sql_pg.c",
                          o->id, sum);
        }
        char *out = NULL;
        int n;
        int rc = cm__pg_statement(&out, &n, NULL, o->id, sql);
        ck_assert_msg(rc == 0, "%s: %s", o->id, cm_error_message());
        cm_free(out);
    }
    ck_assert_ptr_null(cm__pg_override_find("no.such.id"));
}
END_TEST

/* ---- against a server ---- */

/* Run sql through a pooled connection's script entry (no parameters). */
static int script(cm__conn *c, const char *sql)
{
    return c->store->ops->exec_script(c, sql);
}

START_TEST(every_catalogue_statement_prepares)
{
    cm__conn *c;
    ck_assert_ok(cm__store_acquire(&c, FX.store));
    char failures[2048] = "";
    int bad = 0;
    for (size_t i = 0; i < FX.store->n_sql; i++) {
        cm__q q;
        const char *id = FX.store->sql[i]->id;
        int rc = cm__q_open(&q, c, id);
        if (rc) {
            bad++;
            size_t len = strlen(failures);
            snprintf(failures + len, sizeof failures - len, "\n  %s: %s", id, cm_error_message());
        }
        cm__q_close(&q);
    }
    cm__store_release(c);
    ck_assert_msg(bad == 0, "%d statement(s) do not prepare on PostgreSQL:%s", bad, failures);
    /* Inside a transaction too, on a new store (no types cached yet): the
     * type discovery must not abort the transaction. */
    char uri[400];
    fx_new_uri(uri, sizeof uri, "tx");
    cm_store *s;
    ck_assert_ok(cm_store_open(&s, uri, NULL));
    ck_assert_ok(cm__store_acquire(&c, s));
    ck_assert_ok(cm__tx_begin(c, true));
    for (size_t i = 0; i < s->n_sql; i++) {
        cm__q q;
        ck_assert_msg(cm__q_open(&q, c, s->sql[i]->id) == 0, "%s: %s", s->sql[i]->id,
                      cm_error_message());
        cm__q_close(&q);
    }
    ck_assert_ok(script(c, "INSERT INTO metric_counters (name, value) VALUES ('x', 1)"));
    ck_assert_ok(cm__tx_commit(c));
    cm__store_release(c);
    cm_store_close(s);
}
END_TEST

/* Lines "table.column type null" (and index and CHECK counts) of a schema.
 * The full-text index of migration 0006_search is each backend's own
 * structure and is left out: SQLite's FTS5 table search_fts (and its shadow
 * tables), PostgreSQL's generated search_doc columns and their *_search
 * indexes. */
static void sqlite_schema(char *buf, size_t n, const char *path)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    const char *sql =
        "SELECT m.name || '.' || p.name || ' ' || CASE upper(p.type) WHEN 'INTEGER' THEN "
        "'bigint' WHEN 'TEXT' THEN 'text' WHEN 'REAL' THEN 'double precision' WHEN 'BLOB' "
        "THEN 'bytea' WHEN 'JSON' THEN 'jsonb' ELSE lower(p.type) END || CASE WHEN p.\"notnull\" "
        "OR p.pk THEN ' not null' "
        "ELSE '' END FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' "
        "AND m.name NOT LIKE 'search_fts%' "
        "UNION ALL SELECT 'index ' || name FROM sqlite_master WHERE type = 'index' AND sql IS "
        "NOT NULL UNION ALL SELECT 'checks ' || name || ' ' || ((length(sql) - "
        "length(replace(upper(sql), 'CHECK (', ''))) / 7 + (length(sql) - "
        "length(replace(upper(sql), 'CHECK(', ''))) / 6) FROM sqlite_master WHERE type = "
        "'table' AND name NOT LIKE 'search_fts%' ORDER BY 1";
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    buf[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s\n", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void pg_schema(char *buf, size_t n)
{
    const char *sql =
        "SELECT x FROM (SELECT table_name || '.' || column_name || ' ' || data_type || CASE "
        "WHEN is_nullable = 'NO' THEN ' not null' ELSE '' END AS x FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND column_name <> 'search_doc' UNION ALL SELECT "
        "'index ' || indexname FROM pg_indexes WHERE schemaname = current_schema() AND "
        "indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key' AND "
        "indexname NOT LIKE '%\\_search' UNION ALL SELECT 'checks ' || c.relname || ' ' || "
        "(SELECT count(*) FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'c') "
        "FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace"
        ") s ORDER BY x COLLATE \"C\"";
    PGresult *r = PQexec(FX.pg, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(FX.pg));
    buf[0] = '\0';
    for (int i = 0; i < PQntuples(r); i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s\n", PQgetvalue(r, i, 0));
    }
    PQclear(r);
}

START_TEST(schema_mirrors_sqlite)
{
    char path[400], uri[420];
    snprintf(path, sizeof path, "%s/mirror.db", FX.dir);
    snprintf(uri, sizeof uri, "sqlite://%s", path);
    cm_store *s;
    ck_assert_ok(cm_store_open(&s, uri, NULL));
    cm_store_close(s);
    static char want[32768], got[32768];
    sqlite_schema(want, sizeof want, path);
    pg_schema(got, sizeof got);
    unlink(path);
    char side[500];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    /* report the first differing line */
    const char *a = want, *b = got;
    while (*a && *b) {
        const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
        if (ea - a != eb - b || strncmp(a, b, (size_t)(ea - a)) != 0)
            break;
        a = ea + 1;
        b = eb + 1;
    }
    ck_assert_msg(!*a && !*b,
                  "PostgreSQL schema differs from SQLite's: SQLite has \"%.*s\", PostgreSQL "
                  "has \"%.*s\" (update lib/store/pg/migrations/)",
                  (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
}
END_TEST

/* An ad hoc statement through the backend's own entry points. */
typedef struct adhoc {
    cm__conn *c;
    cm__stmt *st;
    const cm__store_ops *ops;
} adhoc;

static void adhoc_open(adhoc *a, cm__conn *c, const char *sql)
{
    a->c = c;
    a->ops = c->store->ops;
    int rc = a->ops->prepare(&a->st, c, sql);
    ck_assert_msg(rc == 0, "prepare %s: %s", sql, cm_error_message());
}

static void adhoc_close(adhoc *a)
{
    a->ops->finalize(a->st);
}

START_TEST(values_round_trip)
{
    cm__conn *c;
    ck_assert_ok(cm__store_acquire(&c, FX.store));
    adhoc a;
    adhoc_open(&a, c,
               "SELECT ?1 + 0, ?2 || '', ?3 * 1.0, ?4 IS NULL, ?5, length(?6), ?7 = 1, "
               "?9, NULL, 1 = 1, CAST(?1 AS TEXT), ?10 > 1");
    const cm__store_ops *o = a.ops;
    ck_assert_ok(o->bind_int64(a.st, 1, INT64_MIN + 1));
    ck_assert_ok(o->bind_text(a.st, 2, "h\xc3\xa9llo", 6));
    ck_assert_ok(o->bind_double(a.st, 3, 0.1));
    ck_assert_ok(o->bind_null(a.st, 4));
    ck_assert_int_eq(o->bind_blob(a.st, 5, "a\0b", 3), CM_EINVAL); /* ?5 is text */
    ck_assert_ok(o->bind_blob(a.st, 5, "ab", 2));
    ck_assert_int_eq(o->bind_text(a.st, 6, "x\0y", 3), CM_EINVAL);
    ck_assert_ok(o->bind_text(a.st, 6, "abc", 3));
    ck_assert_ok(o->bind_int64(a.st, 7, 1));
    /* ?10 > 1 alone would make ?10 an int4: it is widened to int8 */
    ck_assert_ok(o->bind_int64(a.st, 10, INT64_C(1) << 40));
    ck_assert_int_eq(o->bind_int64(a.st, 11, 1), CM_ERANGE);
    ck_assert_int_eq(o->step(a.st), 1);
    ck_assert(o->column_int64(a.st, 0) == INT64_MIN + 1);
    size_t len;
    ck_assert_str_eq(o->column_text(a.st, 1, &len), "h\xc3\xa9llo");
    ck_assert_uint_eq(len, 6);
    ck_assert(o->column_double(a.st, 2) == 0.1);
    ck_assert_int_eq(o->column_int64(a.st, 3), 1);
    ck_assert_str_eq(o->column_text(a.st, 3, &len), "1");
    ck_assert_int_eq(o->column_int64(a.st, 5), 3);
    ck_assert_int_eq(o->column_int64(a.st, 6), 1);
    ck_assert(o->column_is_null(a.st, 7)); /* ?9 unbound: NULL, as in SQLite */
    ck_assert(o->column_is_null(a.st, 8));
    ck_assert_ptr_null(o->column_text(a.st, 8, &len));
    ck_assert_int_eq(o->column_int64(a.st, 9), 1);
    ck_assert_str_eq(o->column_text(a.st, 10, &len), "-9223372036854775807");
    ck_assert_int_eq(o->column_int64(a.st, 11), 1);
    ck_assert_str_eq(o->column_text(a.st, 4, &len), "ab");
    ck_assert(o->column_is_null(a.st, 99));
    ck_assert_int_eq(o->step(a.st), 0);
    o->reset(a.st);
    /* after reset the bindings are gone */
    ck_assert_int_eq(o->step(a.st), 1);
    ck_assert(o->column_is_null(a.st, 0));
    adhoc_close(&a);

    /* bytea both ways, with NUL bytes */
    ck_assert_ok(script(c, "CREATE TABLE blobs (b bytea)"));
    adhoc_open(&a, c, "INSERT INTO blobs (b) VALUES (?1) RETURNING b, length(b)");
    ck_assert_ok(o->bind_blob(a.st, 1, "\0\1\2\377", 4));
    ck_assert_int_eq(o->step(a.st), 1);
    const unsigned char *p = o->column_blob(a.st, 0, &len);
    ck_assert_uint_eq(len, 4);
    ck_assert(p[0] == 0 && p[1] == 1 && p[2] == 2 && p[3] == 0xff);
    ck_assert_int_eq(o->column_int64(a.st, 1), 4);
    ck_assert_int_eq(o->changes(a.st), 1);
    adhoc_close(&a);
    cm__store_release(c);
}
END_TEST

START_TEST(changes_count_the_last_write)
{
    cm__conn *c;
    ck_assert_ok(cm__store_acquire(&c, FX.store));
    ck_assert_ok(script(c, "INSERT INTO metric_counters (name, value) VALUES ('a', 1), "
                           "('b', 2), ('c', 3)"));
    adhoc u, s;
    adhoc_open(&u, c, "UPDATE metric_counters SET value = value + 1 WHERE value >= ?1");
    adhoc_open(&s, c, "SELECT name FROM metric_counters");
    u.ops->bind_int64(u.st, 1, 2);
    ck_assert_int_eq(u.ops->step(u.st), 0);
    ck_assert_int_eq(u.ops->changes(u.st), 2);
    while (s.ops->step(s.st) == 1)
        ;
    ck_assert_int_eq(s.ops->changes(s.st), 2); /* a SELECT changes nothing, as in SQLite */
    adhoc_close(&u);
    adhoc_close(&s);
    cm__store_release(c);
}
END_TEST

static void expect_error(cm__conn *c, const char *sql, int code, const char *sqlstate)
{
    int rc = script(c, sql);
    ck_assert_msg(rc == code, "%s: %s (want %s), %s", sql, cm_status_name(rc), cm_status_name(code),
                  cm_error_message());
    ck_assert_str_eq(cm_error_backend_code(), sqlstate);
    ck_assert(strncmp(cm_error_message(), "pg: ", 4) == 0);
}

START_TEST(sqlstates_map_to_codes)
{
    cm__conn *c;
    ck_assert_ok(cm__store_acquire(&c, FX.store));
    ck_assert_ok(script(c, "INSERT INTO metric_counters (name, value) VALUES ('dup', 1)"));
    expect_error(c, "INSERT INTO metric_counters (name, value) VALUES ('dup', 1)", CM_EEXISTS,
                 "23505");
    expect_error(c,
                 "INSERT INTO members (email, email_norm, name, discoverable, created_at, "
                 "updated_at) VALUES ('a', 'a', 'a', 7, 0, 0)",
                 CM_ECONSTRAINT, "23514");
    expect_error(c,
                 "INSERT INTO sessions (member_id, token_hash, created_at, expires_at) "
                 "VALUES (424242, 'x', 0, 1)",
                 CM_ECONSTRAINT, "23503");
    expect_error(c, "INSERT INTO metric_counters (name, value) VALUES (NULL, 1)", CM_ECONSTRAINT,
                 "23502");
    expect_error(c, "SELECT 2147483647::int4 + 1", CM_ERANGE, "22003");
    expect_error(c, "SELECT * FROM no_such_table", CM_EBACKEND, "42P01");
    /* the connection is still fine outside a transaction */
    ck_assert_ok(script(c, "SELECT 1"));
    ck_assert(!c->broken);

    /* inside one, PostgreSQL aborts at the first error: later statements and
     * COMMIT say so clearly */
    ck_assert_ok(cm__tx_begin(c, true));
    expect_error(c, "INSERT INTO metric_counters (name, value) VALUES ('dup', 1)", CM_EEXISTS,
                 "23505");
    expect_error(c, "SELECT 1", CM_EBACKEND, "25P02");
    ck_assert(strstr(cm_error_message(), "earlier statement") != NULL);
    ck_assert_int_eq(cm__tx_commit(c), CM_EBACKEND);
    ck_assert_str_eq(cm_error_backend_code(), "25P02");
    ck_assert_ok(script(c, "SELECT 1"));
    cm__store_release(c);

    /* statement_timeout from the URI */
    char uri[600];
    snprintf(uri, sizeof uri, "%s&statement_timeout=50ms", FX.uri);
    cm_store *s;
    ck_assert_ok(cm_store_open(&s, uri, NULL));
    ck_assert_ok(cm__store_acquire(&c, s));
    expect_error(c, "SELECT pg_sleep(5)", CM_ETIMEOUT, "57014");
    ck_assert_ok(script(c, "SELECT 1"));
    cm__store_release(c);
    cm_store_close(s);
}
END_TEST

/* Class 53 (insufficient resources) is the server's load, not the
 * client's memory: a retryable CM_EBUSY (HTTP 503 with Retry-After), also
 * when the server refuses the connection itself (too many connections). */
START_TEST(server_resource_limits_are_busy)
{
    cm__conn *c;
    ck_assert_ok(cm__store_acquire(&c, FX.store));
    expect_error(c, "DO $$BEGIN RAISE EXCEPTION 'no memory' USING ERRCODE = '53200'; END$$",
                 CM_EBUSY, "53200");
    expect_error(c, "DO $$BEGIN RAISE EXCEPTION 'no slots' USING ERRCODE = '53300'; END$$",
                 CM_EBUSY, "53300");
    expect_error(c, "DO $$BEGIN RAISE EXCEPTION 'disk full' USING ERRCODE = '53100'; END$$",
                 CM_EUNAVAILABLE, "53100");
    cm__store_release(c);

    /* a role allowed no connection: the server refuses at start-up (53300) */
    char role[64], sql[200], uri[700];
    snprintf(role, sizeof role, "cm_nolimit_%d", (int)getpid());
    snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN CONNECTION LIMIT 0", role);
    fx_sql(sql);
    snprintf(uri, sizeof uri, "%s&user=%s", FX.uri, role);
    cm_store *s = NULL;
    int rc = cm_store_open(&s, uri, NULL);
    snprintf(sql, sizeof sql, "DROP ROLE %s", role);
    fx_sql(sql);
    ck_assert_msg(rc == CM_EBUSY, "%s: %s", cm_status_name(rc), cm_error_message());
    ck_assert_str_eq(cm_error_backend_code(), "53300");
    ck_assert_msg(strstr(cm_error_message(), "too many connections"), "%s", cm_error_message());
    ck_assert_msg(!strstr(cm_error_message(), "LOCATION"), "%s", cm_error_message());
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(uri_parameters_are_checked)
{
    char uri[600];
    cm_store *s = NULL;
    const char *bad[] = {"isolation=chaos", "statement_timeout=soon",
                         "lock_timeout=", "no_such_libpq_param=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(uri, sizeof uri, "%s&%s", FX.uri, bad[i]);
        ck_assert_msg(cm_store_open(&s, uri, NULL) == CM_EINVAL, "%s: %s", bad[i],
                      cm_error_message());
        ck_assert_str_eq(cm_error_field(), "uri");
        ck_assert_ptr_null(s);
    }
    ck_assert_int_eq(cm_store_open(&s, "postgresql:///postgres?host=/nonexistent-dir", NULL),
                     CM_EBACKEND);
    ck_assert(strstr(cm_error_message(), "nonexistent-dir") != NULL);

    /* the defaults reach the session; "postgres:" works too */
    snprintf(uri, sizeof uri, "postgres:%s&isolation=serializable", FX.uri + strlen("postgresql:"));
    ck_assert_ok(cm_store_open(&s, uri, NULL));
    ck_assert_str_eq(cm_store_backend_name(s), "pg");
    cm__conn *c;
    ck_assert_ok(cm__store_acquire(&c, s));
    ck_assert_ok(cm__tx_begin(c, false));
    adhoc a;
    adhoc_open(&a, c,
               "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), "
               "current_setting('transaction_isolation'), current_schema()");
    ck_assert_int_eq(a.ops->step(a.st), 1);
    size_t len;
    ck_assert_str_eq(a.ops->column_text(a.st, 0, &len), "30s");
    ck_assert_str_eq(a.ops->column_text(a.st, 1, &len), "5s");
    ck_assert_str_eq(a.ops->column_text(a.st, 2, &len), "serializable");
    ck_assert_str_eq(a.ops->column_text(a.st, 3, &len), FX.schema);
    adhoc_close(&a);
    cm__tx_rollback(c);
    cm__store_release(c);
    cm_store_close(s);
}
END_TEST

/* ---- concurrency: conflicts, deadlocks, retries ---- */

static cm_store *open_with(const char *params, uint32_t pool)
{
    char uri[600];
    snprintf(uri, sizeof uri, "%s%s%s", FX.uri, *params ? "&" : "", params);
    cm_store_options o = CM_STORE_OPTIONS_INIT;
    o.pool_size = pool;
    cm_store *s;
    ck_assert_ok(cm_store_open(&s, uri, &o));
    return s;
}

START_TEST(serialization_failure_is_a_retryable_conflict)
{
    cm_store *s = open_with("isolation=repeatable_read", 2);
    cm__conn *a, *b;
    ck_assert_ok(cm__store_acquire(&a, s));
    ck_assert_ok(cm__store_acquire(&b, s));
    ck_assert_ok(script(b, "INSERT INTO metric_counters (name, value) VALUES ('k', 0)"));
    ck_assert_ok(cm__tx_begin(a, true));
    ck_assert_ok(script(a, "SELECT value FROM metric_counters WHERE name = 'k'"));
    ck_assert_ok(script(b, "UPDATE metric_counters SET value = 1 WHERE name = 'k'"));
    int rc = script(a, "UPDATE metric_counters SET value = 2 WHERE name = 'k'");
    ck_assert_int_eq(rc, CM_ECONFLICT);
    ck_assert_str_eq(cm_error_backend_code(), "40001");
    cm__tx_rollback(a);
    cm__store_release(a);
    cm__store_release(b);
    cm_store_close(s);
}
END_TEST

typedef struct retry_ctx {
    cm_store *s;
    int attempts;
} retry_ctx;

/* On the first attempt a concurrent writer changes the row after this
 * transaction's snapshot: the update then fails with 40001. */
static int bump(cm__conn *c, void *p)
{
    retry_ctx *r = p;
    r->attempts++;
    int rc = script(c, "SELECT value FROM metric_counters WHERE name = 'r'");
    if (rc == CM_OK && r->attempts == 1) {
        cm__conn *other;
        ck_assert_ok(cm__store_acquire(&other, r->s));
        ck_assert_ok(script(other, "UPDATE metric_counters SET value = value + 10 "
                                   "WHERE name = 'r'"));
        cm__store_release(other);
    }
    return rc ? rc : script(c, "UPDATE metric_counters SET value = value + 1 WHERE name = 'r'");
}

START_TEST(run_tx_retries_serialization_failures)
{
    cm_store *s = open_with("isolation=repeatable_read", 2);
    fx_sql("INSERT INTO metric_counters (name, value) VALUES ('r', 0)");
    retry_ctx r = {s, 0};
    ck_assert_ok(cm__store_run_tx(s, true, bump, &r));
    ck_assert_int_eq(r.attempts, 2);
    ck_assert_int_eq(fx_count("SELECT value FROM metric_counters WHERE name = 'r'"), 11);
    cm_store_close(s);
}
END_TEST

typedef struct dl_side {
    cm__conn *c;
    const char *sql;
    int rc;
    char state[16];
} dl_side;

static void *dl_run(void *p)
{
    dl_side *d = p;
    d->rc = script(d->c, d->sql);
    snprintf(d->state, sizeof d->state, "%s", cm_error_backend_code());
    return NULL;
}

START_TEST(deadlock_is_reported_busy)
{
    cm_store *s = open_with("", 2);
    fx_sql("INSERT INTO metric_counters (name, value) VALUES ('x', 0), ('y', 0)");
    cm__conn *a, *b;
    ck_assert_ok(cm__store_acquire(&a, s));
    ck_assert_ok(cm__store_acquire(&b, s));
    ck_assert_ok(cm__tx_begin(a, true));
    ck_assert_ok(cm__tx_begin(b, true));
    ck_assert_ok(script(a, "UPDATE metric_counters SET value = 1 WHERE name = 'x'"));
    ck_assert_ok(script(b, "UPDATE metric_counters SET value = 1 WHERE name = 'y'"));
    dl_side da = {a, "UPDATE metric_counters SET value = 2 WHERE name = 'y'", 0, ""};
    dl_side db = {b, "UPDATE metric_counters SET value = 2 WHERE name = 'x'", 0, ""};
    pthread_t t;
    pthread_create(&t, NULL, dl_run, &da);
    dl_run(&db);
    pthread_join(t, NULL);
    /* one of them is the victim (CM_EBUSY, retried by cm__store_run_tx) */
    ck_assert_msg((da.rc == CM_EBUSY) != (db.rc == CM_EBUSY), "a %d, b %d", da.rc, db.rc);
    ck_assert_int_eq(da.rc == CM_EBUSY ? db.rc : da.rc, CM_OK);
    ck_assert_str_eq(da.rc == CM_EBUSY ? da.state : db.state, "40P01");
    cm__tx_rollback(a);
    cm__tx_rollback(b);
    cm__store_release(a);
    cm__store_release(b);
    cm_store_close(s);
}
END_TEST

/* Claim up to max jobs of queue "q" in c's open transaction; returns the
 * claimed ids as "id,id,...". */
static const char *claim(cm__conn *c, int max, char *buf, size_t n)
{
    cm__q q;
    ck_assert_ok(cm__q_open(&q, c, "jobs.claim"));
    cm__q_text(&q, 1, "q");
    cm__q_text(&q, 2, "worker");
    cm__q_int64(&q, 3, 1000);
    cm__q_int64(&q, 4, 2000);
    cm__q_int64(&q, 5, max);
    buf[0] = '\0';
    int rc;
    while ((rc = cm__q_step(&q)) == 1) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s%lld", len ? "," : "", (long long)cm__q_col_int64(&q, 0));
    }
    ck_assert_msg(rc == 0, "jobs.claim: %s", cm_error_message());
    cm__q_close(&q);
    return buf;
}

START_TEST(concurrent_claims_skip_locked_jobs)
{
    for (int i = 0; i < 5; i++) {
        char sql[400];
        snprintf(sql, sizeof sql,
                 "INSERT INTO jobs (queue, kind, payload, state, run_at, max_attempts, backoff, "
                 "backoff_us, backoff_max_us, created_at, updated_at) VALUES ('q', 'k', '{}', "
                 "'queued', %d, 3, 'fixed', 0, 0, 0, 0)",
                 i);
        fx_sql(sql);
    }
    cm_store *s = open_with("", 2);
    cm__conn *a, *b;
    ck_assert_ok(cm__store_acquire(&a, s));
    ck_assert_ok(cm__store_acquire(&b, s));
    ck_assert_ok(cm__tx_begin(a, true));
    ck_assert_ok(cm__tx_begin(b, true));
    char ba[100], bb[100];
    /* a holds jobs 1-3 uncommitted; b neither waits for them nor takes them */
    ck_assert_str_eq(claim(a, 3, ba, sizeof ba), "1,2,3");
    ck_assert_str_eq(claim(b, 3, bb, sizeof bb), "4,5");
    ck_assert_ok(cm__tx_commit(a));
    ck_assert_ok(cm__tx_commit(b));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs WHERE state = 'running' AND "
                              "lease_token = 1 AND attempts = 1"),
                     5);
    cm__store_release(a);
    cm__store_release(b);
    cm_store_close(s);
}
END_TEST

/* A read-only server or transaction (a hot standby; here a session whose
 * transactions default to READ ONLY) cannot take writes: CM_EUNAVAILABLE
 * with SQLSTATE 25006, from a write and from cm_store_ping_write(). */
START_TEST(read_only_transactions_are_unavailable)
{
    cm_store *s = open_with("", 1);
    ck_assert_ok(cm_store_ping_write(s));
    cm__conn *c;
    ck_assert_ok(cm__store_acquire(&c, s));
    ck_assert_ok(script(c, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"));
    expect_error(c, "INSERT INTO metric_counters (name, value) VALUES ('ro', 1)", CM_EUNAVAILABLE,
                 "25006");
    cm__store_release(c);
    int rc = cm_store_ping_write(s);
    ck_assert_msg(rc == CM_EUNAVAILABLE, "%s: %s", cm_status_name(rc), cm_error_message());
    ck_assert_str_eq(cm_error_backend_code(), "25006");
    cm_actor *sys;
    ck_assert_ok(cm_actor_system(&sys));
    char *out = NULL;
    ck_assert_ok(cm_exec(&out, s, sys, "members.list", "{}", 2)); /* reads still work */
    cm_free(out);
    out = NULL;
    const char *in = "{\"email\":\"ro@example.org\",\"name\":\"R\"}";
    ck_assert_int_eq(cm_exec(&out, s, sys, "members.signup", in, strlen(in)), CM_EUNAVAILABLE);
    ck_assert_ok(cm__store_acquire(&c, s));
    ck_assert_ok(script(c, "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE"));
    cm__store_release(c);
    ck_assert_ok(cm_store_ping_write(s));
    ck_assert_ok(cm_exec(&out, s, sys, "members.signup", in, strlen(in)));
    cm_free(out);
    cm_actor_free(sys);
    cm_store_close(s);
}
END_TEST

/* ---- dropped connections ---- */

static void terminate_app(const char *app)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
             "WHERE application_name = '%s'",
             app);
    fx_sql(sql);
}

START_TEST(dropped_connections_are_replaced)
{
    char app[100], params[140];
    snprintf(app, sizeof app, "%s_drop", FX.schema);
    snprintf(params, sizeof params, "application_name=%s", app);
    cm_store *s = open_with(params, 1);
    cm__conn *c;
    ck_assert_ok(cm_store_ping(s));

    /* killed while idle in the pool: the next call does not notice */
    terminate_app(app);
    ck_assert_ok(cm_store_ping(s));
    cm_actor *sys;
    ck_assert_ok(cm_actor_system(&sys));
    char *out = NULL;
    const char *in = "{\"email\":\"drop@example.org\",\"name\":\"D\"}";
    terminate_app(app);
    ck_assert_ok(cm_exec(&out, s, sys, "members.signup", in, strlen(in)));
    cm_free(out);

    /* killed in the middle of a transaction: that call fails clearly, the
     * connection is dropped from the pool, the next call works */
    ck_assert_ok(cm__store_acquire(&c, s));
    ck_assert_ok(cm__tx_begin(c, true));
    ck_assert_ok(script(c, "INSERT INTO metric_counters (name, value) VALUES ('lost', 1)"));
    terminate_app(app);
    cm__q q;
    int rc = cm__q_open(&q, c, "metric.list");
    if (rc == CM_OK)
        rc = cm__q_step(&q);
    cm__q_close(&q);
    ck_assert_int_eq(rc, CM_EBACKEND);
    ck_assert(c->broken);
    ck_assert(cm_error_backend_code()[0] == '5' || cm_error_backend_code()[0] == '0');
    cm__store_release(c);
    ck_assert_ok(cm_store_ping(s));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM metric_counters WHERE name = 'lost'"), 0);
    in = "{\"email\":\"after@example.org\",\"name\":\"A\"}";
    ck_assert_ok(cm_exec(&out, s, sys, "members.signup", in, strlen(in)));
    cm_free(out);
    cm_actor_free(sys);
    cm_store_close(s);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM members"), 2);
}
END_TEST

/* ---- migrations ---- */

typedef struct opener {
    const char *uri;
    int rc;
} opener;

static void *open_close(void *p)
{
    opener *o = p;
    cm_store *s = NULL;
    o->rc = cm_store_open(&s, o->uri, NULL);
    cm_store_close(s);
    return NULL;
}

START_TEST(concurrent_openers_migrate_once)
{
    char uri[400];
    fx_new_uri(uri, sizeof uri, "race");
    pthread_t t[6];
    opener o[6];
    for (int i = 0; i < 6; i++) {
        o[i] = (opener){uri, -1};
        pthread_create(&t[i], NULL, open_close, &o[i]);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(o[i].rc, CM_OK);
    }
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s_race.cm_migrations", FX.schema);
    ck_assert_int_eq(fx_count(sql), (long long)FX.store->n_migrations);
}
END_TEST

START_TEST(modified_or_newer_schema_is_refused)
{
    cm_store_close(FX.store);
    FX.store = NULL;
    ck_assert_int_ge(fx_count("SELECT count(*) FROM cm_migrations"), 1);
    fx_sql("UPDATE cm_migrations SET checksum = 'deadbeef' WHERE version = 1");
    cm_store *s = NULL;
    ck_assert_int_eq(cm_store_open(&s, FX.uri, NULL), CM_ESCHEMA);
    ck_assert(strstr(cm_error_message(), "checksum") != NULL);
    fx_sql("DELETE FROM cm_migrations WHERE version = 1");
    fx_sql("INSERT INTO cm_migrations VALUES (999, 'future', 'x', 0)");
    ck_assert_int_eq(cm_store_open(&s, FX.uri, NULL), CM_ESCHEMA);
    ck_assert(strstr(cm_error_message(), "newer") != NULL);
    ck_assert_ptr_null(s);

    char uri[400];
    fx_new_uri(uri, sizeof uri, "fresh");
    cm_store_options o = CM_STORE_OPTIONS_INIT;
    o.flags = CM_STORE_NO_MIGRATE;
    ck_assert_int_eq(cm_store_open(&s, uri, &o), CM_ESCHEMA);
    ck_assert(strstr(cm_error_message(), "community migrate") != NULL);
    ck_assert_ok(cm_store_open(&s, uri, NULL));
    char *status;
    ck_assert_ok(cm_store_schema_status(&status, s));
    json_t *j = json_loads(status, 0, NULL);
    cm_free(status);
    ck_assert_str_eq(json_string_value(json_object_get(j, "backend")), "pg");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "current")),
                     json_integer_value(json_object_get(j, "latest")));
    json_decref(j);
    int32_t applied = -1;
    ck_assert_ok(cm_store_migrate(s, &applied));
    ck_assert_int_eq(applied, 0);
    cm_store_close(s);
    ck_assert_ok(cm_store_open(&s, uri, &o));
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
    ck_assert_int_eq(fx_count("SELECT count(*) FROM audit_log"), 240);
}
END_TEST

/* ---- several processes (hosts) on one database ---- */

#define PROCS 4
#define PER_PROC 10

/* A child: its own store on the same schema, PER_PROC members each asking
 * for a seat. Exit status: the number of calls that failed. */
static int child_rsvps(int k, long long event)
{
    cm_store *s;
    if (cm_store_open(&s, FX.uri, NULL))
        return 100;
    int bad = 0;
    for (int i = 0; i < PER_PROC; i++) {
        char in[160], *out = NULL;
        snprintf(in, sizeof in, "{\"email\":\"p%d-%d@example.org\",\"name\":\"P\"}", k, i);
        if (cm_exec(&out, s, FX.sys, "members.signup", in, strlen(in))) {
            bad++;
            continue;
        }
        json_t *r = json_loads(out, 0, NULL);
        cm_free(out);
        json_int_t id = json_integer_value(json_object_get(json_object_get(r, "member"), "id"));
        json_decref(r);
        cm_actor *a;
        if (cm_actor_for_member(&a, s, id)) {
            bad++;
            continue;
        }
        snprintf(in, sizeof in, "{\"event_id\":%lld}", event);
        if (cm_exec(&out, s, a, "rsvps.add", in, strlen(in)))
            bad++;
        cm_free(out);
        cm_actor_free(a);
    }
    cm_store_close(s);
    return bad;
}

START_TEST(processes_racing_for_seats_never_oversell)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "events.create", "{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:i}", "title",
                         "Race", "format", "online", "online_url", "https://meet.example/x",
                         "start_local", "2030-05-01T18:00", "end_local", "2030-05-01T20:00",
                         "timezone", "UTC", "publish", 1, "capacity", 10));
    long long ev = json_integer_value(json_object_get(r, "id"));
    json_decref(r);
    cm_actor_free(org); /* before fork: nothing of the parent's is lost in a child */
    pid_t kids[PROCS];
    for (int k = 0; k < PROCS; k++) {
        kids[k] = fork();
        ck_assert_int_ge(kids[k], 0);
        if (kids[k] == 0)
            _exit(child_rsvps(k, ev));
    }
    for (int k = 0; k < PROCS; k++) {
        int status;
        ck_assert_int_eq(waitpid(kids[k], &status, 0), kids[k]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status %d", k,
                      status);
    }
    char sql[300];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM rsvps WHERE event_id = %lld", ev);
    ck_assert_int_eq(fx_count(sql), PROCS * PER_PROC);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM rsvps WHERE event_id = %lld AND status = 'going'", ev);
    ck_assert_int_eq(fx_count(sql), 10);
    snprintf(sql, sizeof sql,
             "SELECT seats_taken * 1000 + waitlist_count FROM events "
             "WHERE id = %lld",
             ev);
    ck_assert_int_eq(fx_count(sql), 10 * 1000 + PROCS * PER_PROC - 10);
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT waitlist_seq) FROM rsvps WHERE event_id = %lld "
             "AND status = 'waitlisted'",
             ev);
    ck_assert_int_eq(fx_count(sql), PROCS * PER_PROC - 10);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pg");
    TCase *t = tcase_create("translate");
    tcase_add_test(t, placeholders_become_dollar_numbers);
    tcase_add_test(t, sqlite_spellings_are_rewritten);
    tcase_add_test(t, named_and_out_of_range_parameters_are_refused);
    tcase_add_test(t, overrides_are_sorted_current_and_apply);
    suite_add_tcase(s, t);
    if (fx_is_pg()) {
        TCase *p = tcase_create("server");
        tcase_add_checked_fixture(p, fx_setup, fx_teardown);
        tcase_set_timeout(p, 120);
        tcase_add_test(p, every_catalogue_statement_prepares);
        tcase_add_test(p, schema_mirrors_sqlite);
        tcase_add_test(p, values_round_trip);
        tcase_add_test(p, changes_count_the_last_write);
        tcase_add_test(p, sqlstates_map_to_codes);
        tcase_add_test(p, server_resource_limits_are_busy);
        tcase_add_test(p, uri_parameters_are_checked);
        tcase_add_test(p, serialization_failure_is_a_retryable_conflict);
        tcase_add_test(p, run_tx_retries_serialization_failures);
        tcase_add_test(p, deadlock_is_reported_busy);
        tcase_add_test(p, concurrent_claims_skip_locked_jobs);
        tcase_add_test(p, dropped_connections_are_replaced);
        tcase_add_test(p, read_only_transactions_are_unavailable);
        tcase_add_test(p, concurrent_openers_migrate_once);
        tcase_add_test(p, modified_or_newer_schema_is_refused);
        tcase_add_test(p, pool_serves_many_threads);
        tcase_add_test(p, processes_racing_for_seats_never_oversell);
        suite_add_tcase(s, p);
    }
    return fx_run(s);
}
