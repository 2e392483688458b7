/*
 * test_pgvector.c - the AI operations give the same results whether the
 * database searches the vectors (PostgreSQL with pgvector: `vector`
 * column, HNSW index, `<=>` pushed down with the visibility filter) or the
 * library does (bytea vectors, its own kernels and in-memory index).
 *
 * One scenario (events, members, posts, an RSVP, an edit; identical texts
 * for ties) runs on a fresh SQLite store and on each server given:
 *   CM_TEST_PGVECTOR_URI  PGlite with pgvector (scripts/pglite-test-server.sh):
 *                         results equal SQLite's, the search ran in the server
 *                         (the in-memory indexes were never built), the
 *                         `embedding` column follows every write, HNSW is used;
 *   CM_TEST_PG_URI        a PostgreSQL without the extension (Debian 15,
 *                         scripts/pg-test-server.sh): results equal SQLite's,
 *                         embeddings stay bytea, the in-memory index served.
 * Without either the executable reports SKIP. PGlite serves ONE connection:
 * its store has pool_size 1, and set-up / checks use libpq only while no
 * store is open.
 */
#include "fixtures.h"

#include "ai/ai_int.h"
#include "store/store_int.h"

#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 2026-01-01T00:00:00Z */
#define T0 1767225600000000LL
/* scores come rounded to 3 decimals: cosines within 1e-5 may round apart */
#define SCORE_TOL 1.001e-3

static cm_store *cur;
static cm_actor *sys_actor;

/* shorthands for the fixtures helpers */
#define I fx_int

/* Run op on the current store with a json_pack'd input (stolen). */
static json_t *run_op(const cm_actor *a, const char *op, json_t *in)
{
    char *s = json_dumps(in, JSON_COMPACT);
    json_decref(in);
    char *res = NULL;
    int rc = cm_exec(&res, cur, a, op, s, strlen(s));
    ck_assert_msg(rc == 0, "%s %s: %s %s", op, s, cm_status_name(rc), cm_error_message());
    free(s);
    json_t *r = json_loads(res, 0, NULL);
    cm_free(res);
    ck_assert_ptr_nonnull(r);
    return r;
}

static cm_actor *person(const char *email, const char *headline, const char *bio, bool disc,
                        const char *role)
{
    json_t *r =
        run_op(NULL, "members.signup",
               json_pack("{s:s,s:s,s:s,s:s,s:b,s:s}", "email", email, "name", email, "headline",
                         headline, "bio", bio, "discoverable", disc, "visibility", "members"));
    json_int_t id = I(json_object_get(r, "member"), "id");
    json_decref(r);
    if (role)
        json_decref(run_op(sys_actor, "members.set_role",
                           json_pack("{s:I,s:s}", "member_id", id, "role", role)));
    cm_actor *a;
    ck_assert_ok(cm_actor_for_member(&a, cur, id));
    return a;
}

static json_int_t event(const cm_actor *a, const char *title, const char *desc, const char *day,
                        bool publish)
{
    char start[32], end[32];
    snprintf(start, sizeof start, "%sT18:00", day);
    snprintf(end, sizeof end, "%sT21:00", day);
    json_t *r = run_op(a, "events.create",
                       json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "title", title, "description",
                                 desc, "format", "in_person", "start_local", start, "end_local",
                                 end, "timezone", "Europe/Berlin", "publish", publish));
    json_int_t id = I(r, "id");
    json_decref(r);
    return id;
}

/* Append [op, [[type, id, score], ...]] of a result to out. */
static void record(json_t *out, const char *label, json_t *res)
{
    json_t *items = json_object_get(res, "items");
    ck_assert_msg(json_is_array(items), "%s: no items", label);
    json_t *list = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        json_array_append_new(
            list, json_pack("[s,I,f]", json_string_value(json_object_get(it, "type")), I(it, "id"),
                            json_number_value(json_object_get(it, "score"))));
    }
    json_array_append_new(out, json_pack("[s,o]", label, list));
    json_decref(res);
}

/* The scenario on store s; returns the recorded results. */
static json_t *scenario(cm_store *s)
{
    cur = s;
    fx_clock_set(T0);
    json_t *out = json_array();
    cm_actor *org = person("org@example.org", "Organizer", "", false, "organizer");
    cm_actor *me = person("me@example.org", "Rust programmer", "systems programming and databases",
                          false, NULL);
    cm_actor *a =
        person("a@example.org", "Rust engineer", "systems programming in Rust", true, NULL);
    cm_actor *b = person("b@example.org", "Gardener", "roses tulips and vegetables", true, NULL);
    cm_actor *c = person("c@example.org", "Rust engineer", "systems programming in Rust", true,
                         NULL); /* same text as a: a tie */
    cm_actor *d = person("d@example.org", "Potter", "ceramics and glazes", true, NULL);
    json_int_t e1 = event(org, "Rust meetup", "rust programming and systems", "2026-02-01", true);
    json_int_t e2 = event(org, "Gardening club", "roses and compost", "2026-02-02", true);
    event(org, "Rust hack night", "rust programming", "2026-02-03", true);
    event(org, "Rust hack night", "rust programming", "2026-02-04", true); /* tie */
    event(org, "Database internals", "postgres sqlite storage engines", "2026-02-05", true);
    event(org, "Watercolour painting", "brushes and paper", "2026-02-06", true);
    event(org, "Secret draft about rust", "rust programming", "2026-02-07", false);
    event(org, "Rust retro", "rust programming systems", "2025-12-01", true); /* past */
    event(org, "Knitting circle", "wool and needles", "2026-02-08", true);
    event(org, "Systems programming in C", "pointers memory and rust comparisons", "2026-02-09",
          true);
    static const char *const posts[][2] = {
        {"Roses", "pruning roses in march"},
        {"Rust tips", "borrow checker and lifetimes"},
        {"Glazes", "ceramics kiln temperatures"},
        {"Compost", "gardening with compost and roses"},
    };
    for (size_t i = 0; i < sizeof posts / sizeof posts[0]; i++)
        json_decref(run_op(i % 2 ? a : b, "posts.create",
                           json_pack("{s:s,s:s}", "title", posts[i][0], "body", posts[i][1])));
    json_decref(run_op(me, "rsvps.add", json_pack("{s:I}", "event_id", e1)));

    record(out, "anon rust events",
           run_op(NULL, "search.semantic",
                  json_pack("{s:s,s:[s],s:i,s:s}", "query", "rust programming", "types", "events",
                            "limit", 5, "mode", "vector")));
    record(out, "me gardening all",
           run_op(me, "search.semantic",
                  json_pack("{s:s,s:i,s:s}", "query", "gardening roses", "limit", 10, "mode",
                            "vector")));
    record(out, "me members",
           run_op(me, "search.semantic",
                  json_pack("{s:s,s:[s],s:i,s:s}", "query", "systems programming", "types",
                            "members", "limit", 3, "mode", "vector")));
    record(out, "anon past too",
           run_op(NULL, "search.semantic",
                  json_pack("{s:s,s:b,s:i,s:s}", "query", "rust", "upcoming_only", 0, "limit", 20,
                            "mode", "vector")));
    record(out, "similar e1",
           run_op(NULL, "events.similar", json_pack("{s:I,s:i}", "event_id", e1, "limit", 6)));
    record(out, "members similar", run_op(me, "members.similar", json_pack("{s:i}", "limit", 5)));
    record(out, "recommended", run_op(me, "events.recommended", json_pack("{s:i}", "limit", 5)));
    /* an edit: the vector (and the vector column) follows */
    json_decref(run_op(org, "events.update",
                       json_pack("{s:I,s:s,s:s}", "event_id", e2, "title",
                                 "Gardening roses and tulips", "description", "tulips")));
    record(out, "after edit",
           run_op(NULL, "search.semantic",
                  json_pack("{s:s,s:[s],s:i,s:s}", "query", "tulips", "types", "events", "limit", 3,
                            "mode", "vector")));
    cm_actor_free(org);
    cm_actor_free(me);
    cm_actor_free(a);
    cm_actor_free(b);
    cm_actor_free(c);
    cm_actor_free(d);
    cur = NULL;
    return out;
}

/* Same ids in the same order, scores within SCORE_TOL, non-empty overall. */
static void assert_same(json_t *want, json_t *got, const char *where)
{
    ck_assert_int_eq(json_array_size(want), json_array_size(got));
    size_t total = 0;
    for (size_t q = 0; q < json_array_size(want); q++) {
        json_t *w = json_array_get(json_array_get(want, q), 1);
        json_t *g = json_array_get(json_array_get(got, q), 1);
        const char *label = json_string_value(json_array_get(json_array_get(want, q), 0));
        char *ws = json_dumps(w, JSON_COMPACT | JSON_REAL_PRECISION(7));
        char *gs = json_dumps(g, JSON_COMPACT | JSON_REAL_PRECISION(7));
        ck_assert_msg(json_array_size(w) == json_array_size(g), "%s, %s: SQLite %s vs %s", where,
                      label, ws, gs);
        for (size_t i = 0; i < json_array_size(w); i++) {
            json_t *x = json_array_get(w, i), *y = json_array_get(g, i);
            ck_assert_msg(strcmp(json_string_value(json_array_get(x, 0)),
                                 json_string_value(json_array_get(y, 0))) == 0 &&
                              json_integer_value(json_array_get(x, 1)) ==
                                  json_integer_value(json_array_get(y, 1)),
                          "%s, %s: item %zu differs: SQLite %s vs %s", where, label, i, ws, gs);
            double dx = json_real_value(json_array_get(x, 2));
            double dy = json_real_value(json_array_get(y, 2));
            ck_assert_msg(fabs(dx - dy) <= SCORE_TOL, "%s, %s: score %zu: %.7f vs %.7f", where,
                          label, i, dx, dy);
        }
        total += json_array_size(w);
        free(ws);
        free(gs);
    }
    ck_assert_uint_gt(total, 20);
}

/* ---- servers ---- */

static PGconn *admin(const char *uri)
{
    PGconn *pg = PQconnectdb(uri);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "cannot connect to %s: %s", uri,
                  PQerrorMessage(pg));
    PGresult *r = PQexec(pg, "SET client_min_messages = warning");
    PQclear(r);
    return pg;
}

static void sql_ok(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
                  PQerrorMessage(pg));
    PQclear(r);
}

static const char *text1(PGconn *pg, const char *sql)
{
    static char buf[8192];
    PGresult *r = PQexec(pg, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(pg));
    buf[0] = '\0';
    if (PQntuples(r) && !PQgetisnull(r, 0, 0))
        snprintf(buf, sizeof buf, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return buf;
}

static json_t *on_sqlite(void)
{
    char dir[256], uri[320];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/cmpgv.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(uri, sizeof uri, "sqlite://%s/a.db", dir);
    cm_store *s;
    ck_assert_ok(cm_store_open(&s, uri, NULL));
    json_t *res = scenario(s);
    cm_store_close(s);
    char p[400];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/a.db%s", dir, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
    return res;
}

static cm_store *open_pg(const char *uri)
{
    cm_store_options o = CM_STORE_OPTIONS_INIT;
    o.pool_size = 1; /* PGlite: one connection at a time */
    cm_store *s;
    ck_assert_ok(cm_store_open(&s, uri, &o));
    return s;
}

/* True when the store's in-memory index of some type was ever built. */
static bool memory_index_used(cm_store *s)
{
    if (!s->embed)
        return false;
    for (int t = 0; t < CM__EMB_NTYPES; t++)
        if (s->embed->idx[t].generation >= 0)
            return true;
    return false;
}

/* Every vector column value holds exactly the floats of the bytea beside it
 * (decoded here, independently of the server's trigger). */
static void assert_vectors_equal(PGconn *pg)
{
    PGresult *r = PQexec(pg, "SELECT entity_type, entity_id, dim, encode(vector, 'hex'), "
                             "embedding::text FROM embeddings WHERE vector IS NOT NULL");
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(pg));
    ck_assert_int_gt(PQntuples(r), 10);
    for (int i = 0; i < PQntuples(r); i++) {
        size_t dim = (size_t)strtoul(PQgetvalue(r, i, 2), NULL, 10);
        const char *hex = PQgetvalue(r, i, 3);
        ck_assert_uint_eq(strlen(hex), dim * 8);
        uint8_t *raw = malloc(dim * 4);
        float *v = malloc(dim * sizeof *v);
        for (size_t j = 0; j < dim * 4; j++) {
            unsigned x;
            sscanf(hex + 2 * j, "%2x", &x);
            raw[j] = (uint8_t)x;
        }
        cm__embed_decode(v, raw, dim);
        bool zero = true;
        for (size_t j = 0; j < dim; j++)
            zero &= v[j] == 0;
        const char *t = PQgetvalue(r, i, 4);
        if (zero) { /* texts without words: no vector to search */
            ck_assert(PQgetisnull(r, i, 4));
        } else {
            ck_assert_msg(t[0] == '[', "%s %s: embedding is %s", PQgetvalue(r, i, 0),
                          PQgetvalue(r, i, 1), t);
            const char *p = t + 1;
            for (size_t j = 0; j < dim; j++) {
                char *end;
                float f = strtof(p, &end);
                ck_assert_msg(end != p && f == v[j], "%s %s: element %zu: %.9g vs %.9g",
                              PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), j, (double)f, (double)v[j]);
                p = *end == ',' ? end + 1 : end;
            }
            ck_assert_str_eq(p, "]");
        }
        free(raw);
        free(v);
    }
    PQclear(r);
}

static void setup(void)
{
    ck_assert_ok(cm_actor_system(&sys_actor));
}
static void teardown(void)
{
    cm_actor_free(sys_actor);
    sys_actor = NULL;
    fx_clock_real();
}

START_TEST(pgvector_matches_sqlite)
{
    const char *uri = getenv("CM_TEST_PGVECTOR_URI");
    /* a clean database: PGlite is one instance for the whole run */
    PGconn *pg = admin(uri);
    sql_ok(pg, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public");
    ck_assert_str_eq(text1(pg, "SELECT count(*) FROM pg_available_extensions "
                               "WHERE name = 'vector'"),
                     "1");
    PQfinish(pg);

    json_t *want = on_sqlite();
    cm_store *s = open_pg(uri);
    json_t *got = scenario(s);
    bool in_server = !memory_index_used(s);
    cm_store_close(s); /* before any assertion: PGlite serves one connection */
    ck_assert_msg(in_server, "the search did not run in the server");
    assert_same(want, got, "pgvector");
    json_decref(want);
    json_decref(got);

    pg = admin(uri);
    /* the vector column holds the same floats as the bytea, for every row */
    ck_assert_str_eq(text1(pg, "SELECT count(*) FROM embeddings WHERE vector IS NOT NULL"),
                     text1(pg, "SELECT count(*) FROM embeddings WHERE embedding IS NOT NULL "
                               "AND vector_dims(embedding) = dim"));
    assert_vectors_equal(pg);
    /* the HNSW index exists and serves the pushed-down query when scans are dear */
    ck_assert_str_eq(text1(pg, "SELECT count(*) FROM pg_indexes WHERE indexname = "
                               "'embeddings_hnsw_384'"),
                     "1");
    sql_ok(pg, "SET enable_seqscan = off");
    /* the pushed-down query's ordering, with a stored vector as the query (with a
     * selective id filter the planner may rightly prefer the primary key: exact) */
    char vec[8192], sql[8192 + 512];
    snprintf(vec, sizeof vec, "%s",
             text1(pg, "SELECT embedding::text FROM embeddings WHERE entity_type = 'event' "
                       "ORDER BY entity_id LIMIT 1"));
    snprintf(sql, sizeof sql,
             "EXPLAIN SELECT entity_id FROM embeddings WHERE dim = 384 ORDER BY "
             "embedding::vector(384) <=> '%s'::vector(384) LIMIT 5",
             vec);
    PGresult *r = PQexec(pg, sql);
    char plan[4096] = "";
    bool uses_index = false;
    for (int i = 0; i < PQntuples(r); i++) {
        uses_index |= strstr(PQgetvalue(r, i, 0), "embeddings_hnsw_384") != NULL;
        snprintf(plan + strlen(plan), sizeof plan - strlen(plan), "%.100s | ", PQgetvalue(r, i, 0));
    }
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        snprintf(plan, sizeof plan, "%s", PQerrorMessage(pg));
    PQclear(r);
    if (!uses_index)
        PQfinish(pg);
    ck_assert_msg(uses_index, "the HNSW index is not used: %s", plan);
    /* a row whose vector is removed leaves the vector column too */
    sql_ok(pg, "UPDATE embeddings SET vector = NULL, dim = 0 WHERE entity_type = 'post'");
    ck_assert_str_eq(text1(pg, "SELECT count(*) FROM embeddings WHERE entity_type = 'post' "
                               "AND embedding IS NOT NULL"),
                     "0");
    PQfinish(pg);
}
END_TEST

/* Rows written before the extension was there get their vector column at
 * the next open; reopening is idempotent. */
START_TEST(pgvector_backfills_and_reopens)
{
    const char *uri = getenv("CM_TEST_PGVECTOR_URI");
    PGconn *pg = admin(uri);
    sql_ok(pg, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public");
    PQfinish(pg);
    cm_store *s = open_pg(uri);
    json_t *first = scenario(s);
    cm_store_close(s);
    /* as if the data came from a server without pgvector */
    pg = admin(uri);
    sql_ok(pg, "DROP EXTENSION vector CASCADE");
    ck_assert_str_eq(text1(pg, "SELECT count(*) FROM pg_attribute WHERE attrelid = "
                               "'embeddings'::regclass AND attname = 'embedding' AND NOT "
                               "attisdropped"),
                     "0");
    sql_ok(pg, "DROP FUNCTION cm_embeddings_sync_vector() CASCADE");
    PQfinish(pg);
    s = open_pg(uri);
    cm_store_close(s);
    s = open_pg(uri); /* twice: nothing to do the second time */
    char *out = NULL;
    const char *q = "{\"query\":\"tulips\",\"types\":[\"events\"],\"limit\":3,\"mode\":\"vector\"}";
    int rc = cm_exec(&out, s, NULL, "search.semantic", q, strlen(q));
    bool in_server = !memory_index_used(s);
    cm_store_close(s);
    ck_assert_ok(rc);
    ck_assert_msg(in_server, "the search did not run in the server");
    json_t *res = json_loads(out, 0, NULL);
    cm_free(out);
    json_t *again = json_array();
    record(again, "after edit", res);
    json_t *want = json_array();
    json_array_append(want, json_array_get(first, json_array_size(first) - 1));
    ck_assert_int_eq(json_array_size(json_array_get(json_array_get(want, 0), 1)),
                     json_array_size(json_array_get(json_array_get(again, 0), 1)));
    char *ws = json_dumps(want, JSON_COMPACT), *gs = json_dumps(again, JSON_COMPACT);
    ck_assert_str_eq(ws, gs);
    free(ws);
    free(gs);
    json_decref(want);
    json_decref(again);
    json_decref(first);
    pg = admin(uri);
    ck_assert_str_eq(text1(pg, "SELECT count(*) FROM embeddings WHERE vector IS NOT NULL "
                               "AND embedding IS NULL"),
                     "0");
    PQfinish(pg);
}
END_TEST

/* A PostgreSQL without the extension: bytea, in-memory index, same results. */
START_TEST(plain_pg_uses_bytea_and_matches_sqlite)
{
    const char *base = getenv("CM_TEST_PG_URI");
    PGconn *pg = admin(base);
    bool has_vector =
        strcmp(text1(pg, "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"),
               "0") != 0;
    char schema[64], sql[256], uri[1024];
    snprintf(schema, sizeof schema, "cmpgv_%ld", (long)getpid());
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema, schema);
    sql_ok(pg, sql);
    snprintf(uri, sizeof uri, "%s%coptions=-csearch_path%%3D%s", base,
             strchr(base, '?') ? '&' : '?', schema);
    json_t *want = on_sqlite();
    cm_store *s = open_pg(uri);
    json_t *got = scenario(s);
    if (!has_vector)
        ck_assert_msg(memory_index_used(s), "no pgvector here: the in-memory index must serve");
    cm_store_close(s);
    assert_same(want, got, "postgresql");
    if (!has_vector) {
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM information_schema.columns WHERE table_schema = '%s' "
                 "AND table_name = 'embeddings' AND column_name = 'embedding'",
                 schema);
        ck_assert_str_eq(text1(pg, sql), "0");
    }
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    sql_ok(pg, sql);
    PQfinish(pg);
    json_decref(want);
    json_decref(got);
}
END_TEST

int main(void)
{
    const char *vec = getenv("CM_TEST_PGVECTOR_URI");
    const char *pg = getenv("CM_TEST_PG_URI");
    bool have_vec = vec && *vec, have_pg = pg && *pg;
    if (!have_vec && !have_pg) {
        printf("1..0 # SKIP no server (set CM_TEST_PGVECTOR_URI, see "
               "scripts/pglite-test-server.sh, and/or CM_TEST_PG_URI)\n");
        return EXIT_SUCCESS;
    }
    Suite *s = suite_create("pgvector");
    if (have_vec) {
        TCase *tc = tcase_create("pglite");
        tcase_set_timeout(tc, 600);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, pgvector_matches_sqlite);
        tcase_add_test(tc, pgvector_backfills_and_reopens);
        suite_add_tcase(s, tc);
    }
    if (have_pg) {
        TCase *tc = tcase_create("postgresql");
        tcase_set_timeout(tc, 600);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, plain_pg_uses_bytea_and_matches_sqlite);
        suite_add_tcase(s, tc);
    }
    return fx_run(s);
}
