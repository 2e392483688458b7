/*
 * jobs_fx.c - implementation of the job suites' helpers.
 */
#include "jobs_fx.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static sqlite3 *open_db(void)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(FX.path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    return db;
}

void jx_sql(const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    sqlite3 *db = open_db();
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, err ? err : "?");
    sqlite3_free(err);
    sqlite3_close(db);
}

static sqlite3_stmt *query(sqlite3 **db, const char *fmt, va_list ap) CM__PRINTF(2, 0);
static sqlite3_stmt *query(sqlite3 **db, const char *fmt, va_list ap)
{
    char sql[4096];
    vsnprintf(sql, sizeof sql, fmt, ap);
    *db = open_db();
    sqlite3_stmt *st;
    ck_assert_msg(sqlite3_prepare_v2(*db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(*db));
    ck_assert_msg(sqlite3_step(st) == SQLITE_ROW, "%s: no row", sql);
    return st;
}

long long jx_int(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3 *db;
    sqlite3_stmt *st = query(&db, fmt, ap);
    va_end(ap);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

const char *jx_text(const char *fmt, ...)
{
    static char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    sqlite3 *db;
    sqlite3_stmt *st = query(&db, fmt, ap);
    va_end(ap);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(buf, sizeof buf, "%s", t ? (const char *)t : "(null)");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return buf;
}

void jx_define(const char *kind, const char *queue, int32_t max_attempts, int32_t backoff,
               int64_t backoff_us)
{
    cm_job_kind_options o = CM_JOB_KIND_OPTIONS_INIT;
    o.queue = queue;
    o.max_attempts = max_attempts;
    o.backoff = backoff;
    o.backoff_us = backoff_us;
    ck_assert_ok(cm_jobs_define(FX.store, kind, &o));
}

int64_t jx_enqueue(const char *kind, const char *payload, const cm_job_options *o)
{
    int64_t id = 0;
    ck_assert_ok(cm_jobs_enqueue(&id, FX.store, kind, payload, payload ? strlen(payload) : 0, o));
    ck_assert_int_gt(id, 0);
    return id;
}

cm_job *jx_claim_as(const char *owner, const char *queue, uint32_t want, int64_t lease_us)
{
    cm__claim_queue q = {.queue = queue, .want = want};
    cm_job *list = NULL;
    ck_assert_ok(cm__jobs_claim(&list, FX.store, &q, 1, want, owner, lease_us));
    ck_assert_uint_eq(q.got, jx_len(list));
    return list;
}

cm_job *jx_claim(const char *queue, uint32_t want, int64_t lease_us)
{
    return jx_claim_as("w1", queue, want, lease_us);
}

size_t jx_len(const cm_job *list)
{
    size_t n = 0;
    for (; list; list = list->next)
        n++;
    return n;
}

void jx_free(cm_job *list)
{
    while (list) {
        cm_job *next = list->next;
        cm__job_free(list);
        list = next;
    }
}
