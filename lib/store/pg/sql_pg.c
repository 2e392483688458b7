/*
 * sql_pg.c - the PostgreSQL dialect: the catalogue ids whose SQLite text
 * does not translate as is, and how each catalogue entry becomes the text
 * sent to the server.
 *
 * Every other statement is derived from the SQLite catalogue by
 * cm__pg_translate(). Prefer a patch (a fragment replaced before
 * translation) to a whole-text override: it keeps working when the rest of
 * the statement changes. Keep this table sorted by id.
 */
#include "pg_int.h"

#include <string.h>

/* SQLite printf('%020d', x) zero-pads ids into a sortable path; the path
 * sorts bytewise ("C"), as in SQLite, whatever the database's collation. */
static const char *const comment_list_patch[] = {
    "printf('%020d', id)",
    "(lpad(id::text, 20, '0') COLLATE \"C\")",
    "printf('%020d', c.id)",
    "lpad(c.id::text, 20, '0')",
    NULL,
};

/* The completions of a group commit arrive as one JSON array: SQLite's
 * json_each and '$[i]' paths are jsonb_array_elements and ->> i here. */
static const char *const jobs_complete_many_patch[] = {
    "value ->> '$[0]' AS id",
    "CAST(value ->> 0 AS bigint) AS id",
    "value ->> '$[1]' AS token",
    "CAST(value ->> 1 AS bigint) AS token",
    "value ->> '$[2]' AS result",
    "value ->> 2 AS result",
    "FROM json_each(?1)",
    "FROM jsonb_array_elements(CAST(?1 AS jsonb)) AS e(value)",
    NULL,
};

/* A parameter only in a CASE branch is typed text by PostgreSQL; the column
 * is bigint. (Portable spelling for the SQLite text: CAST(?4 AS INTEGER).) */
static const char *const jobs_release_patch[] = {
    "THEN ?4 ELSE NULL END",
    "THEN CAST(?4 AS INTEGER) ELSE NULL END",
    NULL,
};

/* In DO UPDATE SET, a bare column is ambiguous on PostgreSQL (the row or
 * excluded). (Portable: qualify it in the SQLite text too.) */
static const char *const metric_add_patch[] = {
    "value = value + excluded.value",
    "value = metric_counters.value + excluded.value",
    NULL,
};

/* Claimers run concurrently on PostgreSQL (no database-wide write lock as
 * with SQLite's BEGIN IMMEDIATE): skip the rows another claimer holds. The
 * candidates are collected once, in an ARRAY() init plan: as a correlated
 * IN (...) subplan, SKIP LOCKED would run again per row and skip this
 * statement's own rows, claiming more than LIMIT. FOR UPDATE locks each
 * candidate and re-checks the WHERE on its latest version (READ COMMITTED;
 * stricter levels fail with a retried serialization error instead), so
 * the rows in the array are still queued and now ours: the outer UPDATE
 * needs no second state check -- and must not have one, because then the
 * planner may walk the partial index jobs_claim for "id = ANY(...)", which
 * costs a scan of the whole queue (seen: 80 ms instead of 1.5 ms for 260
 * jobs, while the table's statistics were missing). The same holds for
 * promote and prune below. */
static const char *const jobs_claim_patch[] = {
    "WHERE id IN (SELECT id FROM jobs WHERE state = 'queued'",
    "WHERE id = ANY (ARRAY(SELECT id FROM jobs WHERE state = 'queued'",
    "LIMIT ?5) RETURNING",
    "LIMIT ?5 FOR UPDATE SKIP LOCKED)) RETURNING",
    NULL,
};

/* Promotion of due delayed jobs by several claimers at once, in the
 * claim's form. With a bare IN (...) PostgreSQL would re-check only the id
 * of a row another claimer changed meanwhile, and turn a job that was
 * promoted and claimed in between back to 'queued'; FOR UPDATE re-checks
 * the state, and SKIP LOCKED leaves rows another promoter holds. */
static const char *const jobs_promote_patch[] = {
    "WHERE id IN (SELECT id FROM jobs WHERE state = 'delayed'",
    "WHERE id = ANY (ARRAY(SELECT id FROM jobs WHERE state = 'delayed'",
    "ORDER BY run_at LIMIT 1000)",
    "ORDER BY run_at LIMIT 1000 FOR UPDATE SKIP LOCKED))",
    NULL,
};

/* Pruning from several schedulers, concurrent with jobs.retry: skip rows
 * another transaction holds, and never delete a job retried meanwhile
 * (FOR UPDATE re-checks that it is still finished). */
static const char *const jobs_prune_patch[] = {
    "WHERE id IN (SELECT id FROM jobs WHERE finished_at IS NOT NULL",
    "WHERE id = ANY (ARRAY(SELECT id FROM jobs WHERE finished_at IS NOT NULL",
    "LIMIT ?4)",
    "LIMIT ?4 FOR UPDATE SKIP LOCKED))",
    NULL,
};

/* Retrying a job whose dedupe key a live job now holds would violate the
 * unique index, and on PostgreSQL that aborts the transaction (a re-drive
 * retries many jobs in one): leave such a job alone instead (0 rows; the
 * caller reports CM_EEXISTS). */
static const char *const jobs_retry_patch[] = {
    "WHERE id = ?1 AND state IN ('failed', 'dead', 'cancelled')",
    "WHERE id = ?1 AND state IN ('failed', 'dead', 'cancelled') AND (dedupe_key IS NULL OR "
    "NOT EXISTS (SELECT 1 FROM jobs l WHERE l.dedupe_key = jobs.dedupe_key "
    "AND l.state IN ('delayed', 'queued', 'running')))",
    NULL,
};

/* A queue's rate window is read, then advanced, by each claim: lock the row
 * so that two claimers cannot both see room in the same window (SQLite's
 * BEGIN IMMEDIATE serializes them already). */
static const char *const jobs_queue_get_patch[] = {
    "WHERE queue = ?1",
    "WHERE queue = ?1 FOR UPDATE",
    NULL,
};

/* Mail claims from several workers at once, in the jobs.claim form: skip
 * the rows another claimer holds, lock and re-check the candidates. */
static const char *const mail_claim_patch[] = {
    "WHERE id IN (SELECT id FROM email_outbox WHERE status",
    "WHERE id = ANY (ARRAY(SELECT id FROM email_outbox WHERE status",
    "LIMIT ?3) RETURNING",
    "LIMIT ?3 FOR UPDATE SKIP LOCKED)) RETURNING",
    NULL,
};

/* Full text through the generated tsvector columns of 0006_search: the
 * terms become an OR query (plainto_tsquery ANDs them), ranked by
 * ts_rank (title words weigh A, the rest B) over the three tables. */
static const char search_text_sql[] =
    "WITH q AS (SELECT CAST(replace(CAST(plainto_tsquery('english', $1) AS text), ' & ', "
    "' | ') AS tsquery) AS q) "
    "SELECT t, id, s FROM ("
    "SELECT 0 AS t, e.id, ts_rank(e.search_doc, q.q) AS s FROM events e, q "
    "WHERE e.search_doc @@ q.q "
    "UNION ALL SELECT 1, m.id, ts_rank(m.search_doc, q.q) FROM members m, q "
    "WHERE m.search_doc @@ q.q "
    "UNION ALL SELECT 2, p.id, ts_rank(p.search_doc, q.q) FROM posts p, q "
    "WHERE p.search_doc @@ q.q) r ORDER BY s DESC, t, id LIMIT $2";
/* Webhook events of one subscription may be processed concurrently: the
 * second waits for the first and sees its state (SQLite's BEGIN IMMEDIATE
 * serialises them anyway). */
static const char *const subscription_lock_patch[] = {
    "WHERE id = ?1",
    "WHERE id = ?1 FOR UPDATE",
    NULL,
};

const cm__pg_override cm__pg_overrides[] = {
    {"comment.list", NULL, NULL, comment_list_patch},
    {"jobs.claim", NULL, NULL, jobs_claim_patch},
    {"jobs.complete_many", NULL, NULL, jobs_complete_many_patch},
    {"jobs.promote", NULL, NULL, jobs_promote_patch},
    {"jobs.prune", NULL, NULL, jobs_prune_patch},
    {"jobs.queue_get", NULL, NULL, jobs_queue_get_patch},
    {"jobs.release", NULL, NULL, jobs_release_patch},
    {"jobs.retry", NULL, NULL, jobs_retry_patch},
    {"mail.claim", NULL, NULL, mail_claim_patch},
    {"mail.claim_lapsed", NULL, NULL, mail_claim_patch},
    {"metric.add", NULL, NULL, metric_add_patch},
    {"search.text", "a86fcaa45da3", search_text_sql, NULL},
    {"subscription.lock", NULL, NULL, subscription_lock_patch},
    {NULL, NULL, NULL, NULL},
};

const cm__pg_override *cm__pg_override_find(const char *id)
{
    size_t lo = 0, hi = sizeof cm__pg_overrides / sizeof cm__pg_overrides[0] - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(cm__pg_overrides[mid].id, id);
        if (c == 0)
            return &cm__pg_overrides[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Replace every occurrence of each patch fragment; CM_EMISUSE when one is
 * missing (the SQLite text changed under the patch). */
static int apply_patch(char **out, const char *id, const char *sql, const char *const *patch)
{
    char *cur = cm__strdup(sql);
    if (!cur)
        return cm__oom();
    for (const char *const *p = patch; p[0] && p[1]; p += 2) {
        const char *from = p[0], *to = p[1];
        size_t nf = strlen(from), nt = strlen(to), count = 0;
        for (const char *s = strstr(cur, from); s; s = strstr(s + nf, from))
            count++;
        if (!count) {
            cm__free(cur);
            return cm__error_set(CM_EMISUSE,
                                 "pg: the override of '%s' no longer applies: its SQLite text "
                                 "lacks \"%.60s\" (update lib/store/pg/sql_pg.c)",
                                 id, from);
        }
        size_t len = strlen(cur) + count * nt - count * nf;
        char *next = cm__malloc(len + 1), *w = next;
        if (!next) {
            cm__free(cur);
            return cm__oom();
        }
        const char *r = cur;
        for (const char *s = strstr(r, from); s; s = strstr(r, from)) {
            memcpy(w, r, (size_t)(s - r));
            w += s - r;
            memcpy(w, to, nt);
            w += nt;
            r = s + nf;
        }
        memcpy(w, r, strlen(r) + 1);
        cm__free(cur);
        cur = next;
    }
    *out = cur;
    return CM_OK;
}

/* Highest $N in a hand-written PostgreSQL text, with the used flags. */
static int scan_params(int *nparams, unsigned char **used, const char *sql)
{
    int maxp = 0;
    for (const char *s = strchr(sql, '$'); s; s = strchr(s + 1, '$')) {
        long v = 0;
        const char *d = s + 1;
        while (*d >= '0' && *d <= '9' && v <= CM__PG_MAX_PARAMS)
            v = v * 10 + (*d++ - '0');
        if (d > s + 1 && v > maxp && v <= CM__PG_MAX_PARAMS)
            maxp = (int)v;
    }
    unsigned char *u = cm__calloc((size_t)maxp + 1, 1);
    if (!u)
        return cm__oom();
    for (const char *s = strchr(sql, '$'); s; s = strchr(s + 1, '$')) {
        long v = 0;
        const char *d = s + 1;
        while (*d >= '0' && *d <= '9' && v <= CM__PG_MAX_PARAMS)
            v = v * 10 + (*d++ - '0');
        if (d > s + 1 && v >= 1 && v <= maxp)
            u[v] = 1;
    }
    *nparams = maxp;
    if (used)
        *used = u;
    else
        cm__free(u);
    return CM_OK;
}

int cm__pg_statement(char **out, int *nparams, unsigned char **used, const char *id,
                     const char *sqlite_sql)
{
    const cm__pg_override *o = id ? cm__pg_override_find(id) : NULL;
    if (o && o->sql) {
        *out = cm__strdup(o->sql);
        if (!*out)
            return cm__oom();
        int rc = scan_params(nparams, used, o->sql);
        if (rc) {
            cm__free(*out);
            *out = NULL;
        }
        return rc;
    }
    if (o && o->patch) {
        char *patched = NULL;
        int rc = apply_patch(&patched, id, sqlite_sql, o->patch);
        if (rc)
            return rc;
        rc = cm__pg_translate(out, nparams, used, patched);
        cm__free(patched);
        return rc;
    }
    return cm__pg_translate(out, nparams, used, sqlite_sql);
}
