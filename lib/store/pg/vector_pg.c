/*
 * vector_pg.c - pgvector on PostgreSQL: the embeddings kept as `vector`
 * values beside their portable bytea form, HNSW indexes, and the filtered
 * nearest-neighbour search pushed down to the server.
 *
 * Numbered migrations are the same on every server (their checksums must
 * not depend on the server's extensions), so this is a separate step run
 * after them (ops->after_migrate, from cm_store_open):
 *
 *   - `vector` listed in pg_available_extensions: CREATE EXTENSION IF NOT
 *     EXISTS vector (in a savepoint: a server that refuses, e.g. for lack
 *     of privilege, leaves the store on the bytea path, logged);
 *   - a column `embeddings.embedding vector` (no fixed size: models differ)
 *     filled by a BEFORE INSERT OR UPDATE OF vector, dim trigger from the
 *     float32 little-endian bytea, whichever statement (or process, or
 *     older library version) writes it; all-zero and non-finite vectors
 *     become NULL, as the in-memory index leaves them out;
 *   - per vector size D, a partial HNSW index on
 *     `(embedding::vector(D)) vector_cosine_ops WHERE dim = D`, for the
 *     builtin size (384) and every size present; a size that appears later
 *     gets its index at the next open with migrations (until then the same
 *     query runs as an exact scan).
 *
 * All of it runs under the migration advisory lock, in one transaction.
 * Without the extension nothing changes: embeddings stay bytea and
 * lib/ai's in-memory index serves the search (the Debian PostgreSQL 15
 * of the 'pg' test suite). The extension's objects are named with its
 * schema, so a search_path without that schema still works.
 *
 * The search (vector_search_pushdown) runs in the operation's transaction:
 *   SELECT entity_id, embedding::vector(D) <=> $1 FROM embeddings
 *   WHERE entity_type = $2 AND model = $3 AND dim = D AND embedding IS NOT NULL
 *     AND entity_id = ANY ($4) AND entity_id <> $5
 *   ORDER BY embedding::vector(D) <=> $1 LIMIT k + 16
 * with hnsw.iterative_scan = strict_order (pgvector >= 0.8) so that a
 * selective filter still yields k rows, then re-sorted by (score, id) and
 * cut to k here. Unnamed statements only (PGlite keeps session state).
 */
#include "../store_int.h"
#include "pg_int.h"

#include <libpq-fe.h>

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VEC_MAX_DIM 16000 /* pgvector's limit for the vector type */
#define HNSW_MAX_DIM 2000 /* and for an HNSW index on it */
#define EXTRA 16          /* rows fetched beyond k, for ties at the cut */

/* Record the failure of r as CM_E* with its SQLSTATE. */
static int fail(PGconn *pg, PGresult *r, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char m[200];
    (void)snprintf(m, sizeof m, "%s", msg ? msg : PQerrorMessage(pg));
    for (char *p = m; *p; p++)
        if (*p == '\n')
            *p = ' ';
    int code = state && strcmp(state, "57014") == 0    ? CM_ETIMEOUT
               : state && strncmp(state, "40", 2) == 0 ? CM_EBUSY
                                                       : CM_EBACKEND;
    cm__error_set(code, "pg: %s: %s", what, m);
    cm__error_set_backend_code(state ? state : "");
    return code;
}

/* Run sql (no parameters); CM_OK or the mapped failure. */
static int run(PGconn *pg, const char *sql, const char *what)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType s = PQresultStatus(r);
    int rc = (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) ? CM_OK : fail(pg, r, what);
    PQclear(r);
    return rc;
}

/* The first cell of a one-row query into buf ("" for no row or NULL). */
static int query1(char *buf, size_t n, PGconn *pg, const char *sql, const char *what)
{
    PGresult *r = PQexec(pg, sql);
    int rc = CM_OK;
    buf[0] = '\0';
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = fail(pg, r, what);
    else if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        (void)snprintf(buf, n, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

/* Quote an identifier into dst; false when it does not fit. */
static bool quote_ident(char *dst, size_t n, PGconn *pg, const char *name)
{
    char *q = PQescapeIdentifier(pg, name, strlen(name));
    bool ok = q && strlen(q) < n;
    if (ok)
        (void)snprintf(dst, n, "%s", q);
    if (q)
        PQfreemem(q);
    return ok;
}

/* Where the extension lives and what version it is: fills v->ext_schema
 * and v->iterative. false when it is not installed. */
static int read_extension(bool *found, cm__pg_vec *v, PGconn *pg)
{
    char schema[128], ver[32];
    int rc = query1(schema, sizeof schema, pg,
                    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                    "ON n.oid = e.extnamespace WHERE e.extname = 'vector'",
                    "pgvector: extension schema");
    if (rc == CM_OK)
        rc = query1(ver, sizeof ver, pg,
                    "SELECT extversion FROM pg_extension WHERE extname = 'vector'",
                    "pgvector: extension version");
    *found = false;
    if (rc || !schema[0])
        return rc;
    if (!quote_ident(v->ext_schema, sizeof v->ext_schema, pg, schema))
        return CM_OK; /* absurd name: stay on bytea */
    int major = 0, minor = 0;
    (void)sscanf(ver, "%d.%d", &major, &minor);
    v->iterative = major > 0 || minor >= 8;
    *found = true;
    return CM_OK;
}

/* The column, function and trigger (created when missing), the backfill of
 * rows written before, and the HNSW indexes. In the open transaction. */
static int install(cm__pg_vec *v, PGconn *pg, bool have_column, bool have_trigger)
{
    const char *S = v->ext_schema, *T = v->tab_schema;
    cm__buf b = {0};
    int rc = CM_OK;
    if (!have_column) {
        cm__buf_printf(&b, "ALTER TABLE embeddings ADD COLUMN embedding %s.vector", S);
        rc = b.err ? cm__oom() : run(pg, b.p, "pgvector: add the embedding column");
        b.len = 0;
    }
    if (rc == CM_OK && !have_trigger) {
        /* float32 little-endian -> vector, exactly: (-1)^s * (2^23 + m) * 2^(e-150)
         * (e = 0: m * 2^-149) is exact in double precision, then in real. */
        cm__buf_printf(&b,
                       "CREATE OR REPLACE FUNCTION %s.cm_f32le_to_vector(b bytea, d bigint) "
                       "RETURNS %s.vector LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $f$ ",
                       T, S);
        cm__buf_printf(&b,
                       "SELECT CASE WHEN bool_or(e = 255) OR NOT bool_or((u & 2147483647) <> 0) "
                       "THEN NULL ELSE (array_agg((CASE WHEN e = 0 THEN m * (2.0::float8 ^ (-149)) "
                       "ELSE (8388608 + m) * (2.0::float8 ^ (e - 150)) END) * (1 - 2 * (u >> 31)) "
                       "ORDER BY i))::real[]::%s.vector END ",
                       S);
        cm__buf_printf(&b, "FROM (SELECT i, u, ((u >> 23) & 255) AS e, (u & 8388607) AS m "
                           "FROM (SELECT i, (get_byte(b, 4 * i)::bigint | "
                           "(get_byte(b, 4 * i + 1)::bigint << 8) | "
                           "(get_byte(b, 4 * i + 2)::bigint << 16) | "
                           "(get_byte(b, 4 * i + 3)::bigint << 24)) AS u ");
        cm__buf_printf(&b, "FROM generate_series(0, (d - 1)::int) AS i) AS w) AS f $f$; ");
        cm__buf_printf(
            &b,
            "CREATE OR REPLACE FUNCTION %s.cm_embeddings_sync_vector() RETURNS trigger "
            "LANGUAGE plpgsql AS $f$ BEGIN NEW.embedding := CASE WHEN NEW.vector IS NULL "
            "OR NEW.dim < 1 OR NEW.dim > %d OR length(NEW.vector) <> 4 * NEW.dim "
            "THEN NULL ELSE %s.cm_f32le_to_vector(NEW.vector, NEW.dim) END; "
            "RETURN NEW; END $f$; ",
            T, VEC_MAX_DIM, T);
        cm__buf_printf(&b,
                       "CREATE TRIGGER embeddings_vector_sync BEFORE INSERT OR UPDATE OF "
                       "vector, dim ON embeddings FOR EACH ROW EXECUTE FUNCTION "
                       "%s.cm_embeddings_sync_vector(); ",
                       T);
        /* rows written before: the trigger fills them (it fires on SET vector) */
        cm__buf_printf(&b, "UPDATE embeddings SET vector = vector WHERE vector IS NOT NULL "
                           "AND embedding IS NULL");
        rc = b.err ? cm__oom() : run(pg, b.p, "pgvector: trigger");
        b.len = 0;
    }
    /* an HNSW index per vector size without one */
    PGresult *r = NULL;
    if (rc == CM_OK) {
        cm__buf_printf(&b,
                       "SELECT d FROM (SELECT 384 AS d UNION SELECT DISTINCT dim FROM embeddings "
                       "WHERE embedding IS NOT NULL AND dim BETWEEN 1 AND %d) AS s "
                       "WHERE to_regclass('embeddings_hnsw_' || d) IS NULL ORDER BY d",
                       HNSW_MAX_DIM);
        r = b.err ? NULL : PQexec(pg, b.p);
        if (b.err)
            rc = cm__oom();
        else if (PQresultStatus(r) != PGRES_TUPLES_OK)
            rc = fail(pg, r, "pgvector: index sizes");
        b.len = 0;
    }
    for (int i = 0; rc == CM_OK && i < PQntuples(r); i++) {
        long d = strtol(PQgetvalue(r, i, 0), NULL, 10);
        b.len = 0;
        cm__buf_printf(&b,
                       "CREATE INDEX IF NOT EXISTS embeddings_hnsw_%ld ON embeddings USING hnsw "
                       "((embedding::%s.vector(%ld)) %s.vector_cosine_ops) WHERE dim = %ld",
                       d, S, d, S, d);
        rc = b.err ? cm__oom() : run(pg, b.p, "pgvector: HNSW index");
    }
    PQclear(r);
    cm__free(b.p);
    return rc;
}

int cm__pg_after_migrate(cm__conn *conn, bool apply)
{
    PGconn *pg = cm__pg_native(conn);
    cm__pg_vec *v = cm__pg_vec_of(conn);
    v->ready = 0;
    int rc = cm__tx_begin(conn, apply);
    if (rc)
        return rc;
    char buf[128];
    bool found = false, have_column = false, have_trigger = false;
    if (apply)
        rc = run(pg,
                 "SELECT pg_advisory_xact_lock(1668114791, "
                 "hashtext(coalesce(current_schema(), '')))",
                 "pgvector: lock");
    /* the schema of the embeddings table (NULL: not migrated yet) */
    if (rc == CM_OK)
        rc = query1(buf, sizeof buf, pg,
                    "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = "
                    "c.relnamespace WHERE c.oid = to_regclass('embeddings')",
                    "pgvector: table");
    if (rc || !buf[0] || !quote_ident(v->tab_schema, sizeof v->tab_schema, pg, buf))
        goto out;
    if ((rc = read_extension(&found, v, pg)))
        goto out;
    if (!found && apply) {
        if ((rc = query1(buf, sizeof buf, pg,
                         "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'",
                         "pgvector: available")) ||
            !buf[0])
            goto out; /* no pgvector on this server: bytea */
        if ((rc = run(pg, "SAVEPOINT cm_vector", "pgvector")))
            goto out;
        PGresult *r = PQexec(pg, "CREATE EXTENSION IF NOT EXISTS vector");
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) {
            char m[200];
            (void)snprintf(m, sizeof m, "%s",
                           PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
                               ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
                               : "?");
            cm__log(CM_LOG_WARN, "pg",
                    "pgvector is available but CREATE EXTENSION vector failed (%s): "
                    "embeddings stay bytea, searched in memory",
                    m);
        }
        PQclear(r);
        rc = run(pg, ok ? "RELEASE SAVEPOINT cm_vector" : "ROLLBACK TO SAVEPOINT cm_vector",
                 "pgvector");
        if (rc || !ok || (rc = read_extension(&found, v, pg)) || !found)
            goto out;
    }
    if (!found)
        goto out;
    if ((rc = query1(buf, sizeof buf, pg,
                     "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('embeddings') "
                     "AND attname = 'embedding' AND NOT attisdropped",
                     "pgvector: column")))
        goto out;
    have_column = buf[0] != '\0';
    if ((rc = query1(buf, sizeof buf, pg,
                     "SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('embeddings') "
                     "AND tgname = 'embeddings_vector_sync'",
                     "pgvector: trigger")))
        goto out;
    have_trigger = buf[0] != '\0';
    if (apply)
        rc = install(v, pg, have_column, have_trigger);
    if (rc == CM_OK && (apply || (have_column && have_trigger)))
        v->ready = 1;
out:
    if (rc == CM_OK)
        rc = cm__tx_commit(conn);
    else
        cm__tx_rollback(conn);
    if (rc)
        v->ready = 0;
    else
        cm__log(CM_LOG_INFO, "pg", "embeddings: %s",
                v->ready ? "pgvector (vector column, HNSW, search in the server)"
                         : "bytea (searched in memory)");
    return rc;
}

/* The query vector as pgvector text: '[x,y,...]' with round-trip floats. */
static int vector_text(cm__buf *b, const float *q, size_t dim)
{
    cm__buf_put(b, "[", 1);
    for (size_t i = 0; i < dim; i++) {
        char t[32];
        int n = snprintf(t, sizeof t, "%s%.9g", i ? "," : "", (double)q[i]);
        cm__buf_put(b, t, (size_t)n);
    }
    cm__buf_put(b, "]", 1);
    return b->err ? cm__oom() : CM_OK;
}

typedef struct row {
    int64_t id;
    float score;
} row;

static int cmp_row(const void *a, const void *b)
{
    const row *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

int cm__pg_vector_search(cm__conn *conn, const cm__vec_search_req *req, int64_t *ids, float *scores,
                         size_t *n)
{
    *n = 0;
    const cm__pg_vec *v = cm__pg_vec_of(conn);
    if (!v->ready || !req->dim || req->dim > VEC_MAX_DIM || !req->model)
        return 0;
    double norm = 0;
    for (size_t i = 0; i < req->dim; i++) {
        if (!isfinite(req->query[i]))
            return 0;
        norm += (double)req->query[i] * req->query[i];
    }
    if (!(norm > 0))
        return 0; /* cosine is undefined: leave it to the in-memory path */
    if (!req->k || !req->n_allowed)
        return 1;
    PGconn *pg = cm__pg_native(conn);
    const char *S = v->ext_schema;
    cm__buf sql = {0}, qv = {0}, ids_txt = {0};
    int rc = CM_OK;
    if (v->iterative) {
        char set[160];
        (void)snprintf(set, sizeof set,
                       "SET LOCAL hnsw.iterative_scan = strict_order; "
                       "SET LOCAL hnsw.ef_search = %zu",
                       req->k + EXTRA < 40     ? (size_t)40
                       : req->k + EXTRA > 1000 ? (size_t)1000
                                               : req->k + EXTRA);
        if ((rc = run(pg, set, "pgvector: settings")))
            return rc;
    }
    cm__buf_printf(&sql,
                   "SELECT entity_id, (embedding::%s.vector(%zu) OPERATOR(%s.<=>) "
                   "$1::%s.vector(%zu))::float8 FROM embeddings ",
                   S, req->dim, S, S, req->dim);
    cm__buf_printf(&sql,
                   "WHERE entity_type = $2 AND model = $3 AND dim = %zu AND embedding IS NOT NULL "
                   "AND entity_id = ANY ($4::bigint[]) AND entity_id <> $5 ",
                   req->dim);
    cm__buf_printf(&sql,
                   "ORDER BY embedding::%s.vector(%zu) OPERATOR(%s.<=>) $1::%s.vector(%zu) "
                   "LIMIT %zu",
                   S, req->dim, S, S, req->dim, req->k + EXTRA);
    rc = vector_text(&qv, req->query, req->dim);
    cm__buf_put(&ids_txt, "{", 1);
    for (size_t i = 0; i < req->n_allowed; i++) {
        char t[32];
        int k = snprintf(t, sizeof t, "%s%" PRId64, i ? "," : "", req->allowed[i]);
        cm__buf_put(&ids_txt, t, (size_t)k);
    }
    cm__buf_put(&ids_txt, "}", 1);
    if (rc == CM_OK && (sql.err || ids_txt.err))
        rc = cm__oom();
    row *rows = NULL;
    if (rc == CM_OK) {
        char excl[32];
        (void)snprintf(excl, sizeof excl, "%" PRId64, req->exclude);
        const char *vals[5] = {qv.p, req->entity_type, req->model, ids_txt.p, excl};
        PGresult *r = PQexecParams(pg, sql.p, 5, NULL, vals, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = fail(pg, r, "pgvector: search");
        } else {
            size_t m = (size_t)PQntuples(r);
            rows = cm__malloc((m ? m : 1) * sizeof *rows);
            if (!rows) {
                rc = cm__oom();
            } else {
                for (size_t i = 0; i < m; i++) {
                    rows[i].id = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
                    rows[i].score = (float)(1.0 - strtod(PQgetvalue(r, (int)i, 1), NULL));
                }
                qsort(rows, m, sizeof *rows, cmp_row);
                for (size_t i = 0; i < m && i < req->k; i++) {
                    ids[i] = rows[i].id;
                    scores[i] = rows[i].score;
                    (*n)++;
                }
            }
        }
        PQclear(r);
    }
    cm__free(rows);
    cm__free(sql.p);
    cm__free(qv.p);
    cm__free(ids_txt.p);
    return rc ? rc : 1;
}
