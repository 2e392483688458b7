/*
 * jobs_fx.c - implementation of the job suites' helpers. Raw SQL goes
 * through the shared fixtures (fx_sql, fx_count, fx_text), so the suites
 * run on SQLite and, with CM_TEST_BACKEND=pg, on PostgreSQL.
 */
#include "jobs_fx.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The test's SQL is SQLite's; on PostgreSQL group_concat(x, sep) is
 * string_agg(x, sep) (x must then be text: write `x || ''` for numbers). */
static void portable(char *sql, size_t cap)
{
    if (!fx_is_pg())
        return;
    static const char from[] = "group_concat(", to[] = "string_agg(";
    for (char *p = strstr(sql, from); p; p = strstr(p, from)) {
        size_t rest = strlen(p + sizeof from - 1);
        ck_assert_uint_lt(strlen(sql) + rest, cap); /* only shrinks: always true */
        memmove(p + sizeof to - 1, p + sizeof from - 1, rest + 1);
        memcpy(p, to, sizeof to - 1);
    }
}

static void format(char *sql, size_t cap, const char *fmt, va_list ap) CM__PRINTF(3, 0);
static void format(char *sql, size_t cap, const char *fmt, va_list ap)
{
    int n = vsnprintf(sql, cap, fmt, ap);
    ck_assert_msg(n >= 0 && (size_t)n < cap, "SQL too long: %.80s", fmt);
    portable(sql, cap);
}

void jx_sql(const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    format(sql, sizeof sql, fmt, ap);
    va_end(ap);
    fx_sql(sql);
}

long long jx_int(const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    format(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return fx_count(sql);
}

const char *jx_text(const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    format(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return fx_text(sql);
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
