/*
 * pg_int.h - internals of the PostgreSQL backend shared by its files and
 * its tests: the SQLite-to-PostgreSQL statement translator and the table of
 * statements whose PostgreSQL text is written by hand.
 *
 * The PostgreSQL catalogue is the SQLite catalogue (same ids, same text):
 * at prepare time each statement is either replaced by its override from
 * sql_pg.c or translated by cm__pg_translate().
 */
#ifndef CM_STORE_PG_INT_H
#define CM_STORE_PG_INT_H

#include "../backend.h"

/* Highest parameter number a statement may use (PostgreSQL allows 65535). */
#define CM__PG_MAX_PARAMS 32766

/* The PostgreSQL form of a catalogue id whose SQLite text does not
 * translate. Either `sql`, the whole PostgreSQL text (parameters $1..$N,
 * used as is), or `patch`, pairs of (SQLite fragment, replacement) applied
 * to the SQLite text, which is then translated as usual: a patch survives
 * edits elsewhere in the statement, and a fragment that is no longer found
 * is an error at prepare time. For a whole-text override, `sqlite_sum` is
 * the first 12 hex digits of the SHA-256 of the SQLite text it was written
 * against: tests/unit/test_pg.c fails when that text changes, so the
 * override gets reviewed instead of silently drifting. */
typedef struct cm__pg_override {
    const char *id;
    const char *sqlite_sum;
    const char *sql;
    const char *const *patch; /* {from, to, from, to, ..., NULL} */
} cm__pg_override;

/* Overrides sorted by id, terminated by an entry with id NULL. */
extern const cm__pg_override cm__pg_overrides[];

/* The override for a catalogue id, or NULL. */
const cm__pg_override *cm__pg_override_find(const char *id);

/* The PostgreSQL text for catalogue entry (id, sqlite_sql): the override's
 * text, or the (patched) SQLite text translated. Same outputs as
 * cm__pg_translate. */
int cm__pg_statement(char **out, int *nparams, unsigned char **used, const char *id,
                     const char *sqlite_sql);

/*
 * Translate one statement from the SQLite dialect to PostgreSQL.
 *
 * Outside string literals, quoted identifiers and comments:
 *   ?N -> $N and a bare ? -> $(highest so far + 1), as SQLite numbers them;
 *   LIKE -> ILIKE (SQLite's LIKE ignores ASCII case);
 *   a IS b -> a IS NOT DISTINCT FROM b, a IS NOT b -> a IS DISTINCT FROM b
 *   (unless b is NULL, TRUE, FALSE, UNKNOWN or DISTINCT);
 *   INSERT OR IGNORE ... -> INSERT ... ON CONFLICT DO NOTHING;
 *   ifnull( -> coalesce(, instr( -> strpos(, two-or-more-argument max( and
 *   min( -> greatest( and least(;
 *   CAST(... AS INTEGER|INT|REAL|BLOB) -> bigint, double precision, bytea;
 *   == -> =, X'hex' -> '\xhex'::bytea, `ident` -> "ident".
 * Everything else is copied unchanged.
 *
 * *out receives the new text (free with cm__free), *nparams the highest
 * parameter number, *used (if non-NULL) a cm__calloc'd array of
 * *nparams + 1 flags, used[k] = 1 when $k appears. CM_EINVAL for a
 * parameter number out of range or a named parameter (:x, @x, $x).
 */
int cm__pg_translate(char **out, int *nparams, unsigned char **used, const char *sql);

/* The libpq connection (PGconn *) under a connection of this backend. */
void *cm__pg_native(cm__conn *conn);

/* pgvector (vector_pg.c): what cm__pg_after_migrate found, per store. */
typedef struct cm__pg_vec {
    int ready;            /* 1: embedding column + trigger in place: search in the server */
    bool iterative;       /* pgvector >= 0.8: hnsw.iterative_scan */
    char ext_schema[136]; /* quoted schema of the extension */
    char tab_schema[136]; /* quoted schema of the embeddings table */
} cm__pg_vec;
/* The store's pgvector state (in the backend's per-store state). */
cm__pg_vec *cm__pg_vec_of(cm__conn *conn);
/* The after_migrate and vector_search_pushdown hooks. */
int cm__pg_after_migrate(cm__conn *conn, bool apply);
int cm__pg_vector_search(cm__conn *conn, const cm__vec_search_req *req, int64_t *ids, float *scores,
                         size_t *n);

/* Backup files (backup_pg.c): pg_dump / pg_restore behind the vtable's
 * backup, check_backup and restore hooks. */
int cm__pg_backup(cm__conn *conn, const char *dest);
int cm__pg_check_backup(const char *path, bool fresh);
int cm__pg_restore(const char *uri, const char *src, uint32_t flags);

#endif /* CM_STORE_PG_INT_H */
