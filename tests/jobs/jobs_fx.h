/*
 * jobs_fx.h - helpers shared by the job suites: raw SQL on the test
 * database (SQLite or PostgreSQL, through the fixtures), kind definitions,
 * enqueue and claim shortcuts, and a fixed starting time for the settable
 * clock.
 */
#ifndef CM_TEST_JOBS_FX_H
#define CM_TEST_JOBS_FX_H

#include "fixtures.h"

#include "../../lib/jobs/jobs_int.h"

/* 2023-11-14T22:13:20Z */
#define JT0 INT64_C(1700000000000000)
#define SEC INT64_C(1000000)

/* Run SQL (printf format) on the test database through its own connection.
 * SQLite's group_concat(x, sep) becomes string_agg on PostgreSQL. */
void jx_sql(const char *fmt, ...) CM__PRINTF(1, 2);
/* One integer from a query (printf format) returning one row. */
long long jx_int(const char *fmt, ...) CM__PRINTF(1, 2);
/* One text value, "" for NULL or no row (fx_text's static buffer). */
const char *jx_text(const char *fmt, ...) CM__PRINTF(1, 2);
/* Define `kind` on `queue` with the given attempts and fixed backoff. */
void jx_define(const char *kind, const char *queue, int32_t max_attempts, int32_t backoff,
               int64_t backoff_us);
/* Enqueue with options (NULL = defaults); asserts success. */
int64_t jx_enqueue(const char *kind, const char *payload, const cm_job_options *o);
/* Claim up to `want` jobs of `queue` (owner "w1"); returns the list. */
cm_job *jx_claim(const char *queue, uint32_t want, int64_t lease_us);
cm_job *jx_claim_as(const char *owner, const char *queue, uint32_t want, int64_t lease_us);
size_t jx_len(const cm_job *list);
void jx_free(cm_job *list);

#endif
