/*
 * sql_jobs.c - SQLite statements of the job queue (lib/jobs): kinds,
 * enqueue with dedupe, the claim, lease renewal, completion and failure
 * (all fenced by lease_token), recovery of lapsed leases, management,
 * retention, statistics, repeatable schedules and the platform's own jobs.
 *
 * Portability notes for the PostgreSQL dialect: the claim's inner SELECT
 * wants FOR UPDATE SKIP LOCKED there, "jobs.queue_get" wants FOR UPDATE
 * (rate-limit windows), and everything else is plain SQL.
 */
#include "../backend.h"

/* Columns of a claimed job, in the order lib/jobs/claim.c reads them. */
#define JOB_CLAIM_COLS                                                                             \
    "id, queue, kind, payload, priority, run_at, attempts, max_attempts, backoff, "                \
    "backoff_us, backoff_max_us, timeout_us, lease_token, created_at"

/* Columns of a job as jobs.get / jobs.list describe it (lib/jobs/admin.c). */
#define JOB_ROW_COLS                                                                               \
    "id, queue, kind, payload, priority, state, run_at, attempts, max_attempts, backoff, "         \
    "backoff_us, backoff_max_us, timeout_us, lease_token, lease_owner, lease_expires_at, "         \
    "cancel_requested, dedupe_key, schedule_id, progress, result, last_error, created_at, "        \
    "updated_at, started_at, finished_at"

#define LIVE "('delayed', 'queued', 'running')"

#define JOB_INSERT                                                                                 \
    "INSERT INTO jobs (queue, kind, payload, priority, state, run_at, max_attempts, backoff, "     \
    "backoff_us, backoff_max_us, timeout_us, dedupe_key, schedule_id, created_at, "                \
    "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14) "

#define ON_DEDUPE " ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN " LIVE

/* Batched enqueue without dedupe keys (lib/jobs/enqueue.c): one statement
 * inserts several jobs that share everything but the payload. ?1 queue,
 * ?2 kind, ?3 priority, ?4 state, ?5 run_at, ?6 max_attempts, ?7 backoff,
 * ?8 backoff_us, ?9 backoff_max_us, ?10 timeout_us, ?11 now; the payloads
 * are ?12, ?13, ... in row order. */
#define JOB_MANY                                                                                   \
    "INSERT INTO jobs (queue, kind, payload, priority, state, run_at, max_attempts, backoff, "     \
    "backoff_us, backoff_max_us, timeout_us, created_at, updated_at) VALUES "
#define JR(n) "(?1, ?2, ?" #n ", ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)"
#define JR8(a, b, c, d, e, f, g, h)                                                                \
    JR(a) ", " JR(b) ", " JR(c) ", " JR(d) ", " JR(e) ", " JR(f) ", " JR(g) ", " JR(h)
#define JOB_ROWS_8 JOB_MANY JR8(12, 13, 14, 15, 16, 17, 18, 19)
#define JOB_ROWS_64                                                                                \
    JOB_MANY JR8(12, 13, 14, 15, 16, 17, 18, 19) ", " JR8(                                         \
        20, 21, 22, 23, 24, 25, 26,                                                                \
        27) ", " JR8(28, 29, 30, 31, 32, 33, 34,                                                   \
                     35) ", " JR8(36, 37, 38, 39, 40, 41, 42,                                      \
                                  43) ", " JR8(44, 45, 46, 47, 48, 49, 50,                         \
                                               51) ", " JR8(52, 53, 54, 55, 56, 57, 58,            \
                                                            59) ", " JR8(60, 61, 62, 63, 64, 65,   \
                                                                         66, 67) ", " JR8(68, 69,  \
                                                                                          70, 71,  \
                                                                                          72, 73,  \
                                                                                          74, 75)

const cm__sql_entry cm__sqlite_sql_jobs[] = {
    /* ---- kinds ---- */
    {"jobs.kind_upsert",
     "INSERT INTO job_kinds (kind, queue, priority, max_attempts, backoff, backoff_us, "
     "backoff_max_us, timeout_us, max_payload, created_at, updated_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) "
     "ON CONFLICT (kind) DO UPDATE SET queue = excluded.queue, priority = excluded.priority, "
     "max_attempts = excluded.max_attempts, backoff = excluded.backoff, "
     "backoff_us = excluded.backoff_us, backoff_max_us = excluded.backoff_max_us, "
     "timeout_us = excluded.timeout_us, max_payload = excluded.max_payload, "
     "updated_at = excluded.updated_at"},
    {"jobs.kind_insert_missing",
     "INSERT INTO job_kinds (kind, queue, priority, max_attempts, backoff, backoff_us, "
     "backoff_max_us, timeout_us, max_payload, created_at, updated_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) ON CONFLICT (kind) DO NOTHING"},
    {"jobs.kind_get",
     "SELECT queue, priority, max_attempts, backoff, backoff_us, backoff_max_us, timeout_us, "
     "max_payload FROM job_kinds WHERE kind = ?1"},

    /* ---- enqueue ---- */
    {"jobs.insert", JOB_INSERT "RETURNING id"},
    /* 64 and 8 rows; RETURNING order is unspecified: the caller sorts the
     * ids, which grow in row order (one statement, under the write lock). */
    {"jobs.insert_64", JOB_ROWS_64 " RETURNING id"},
    {"jobs.insert_8", JOB_ROWS_8 " RETURNING id"},
    /* The same when the caller does not want the ids: RETURNING costs an
     * ephemeral table per statement (about 15% of a batched enqueue). */
    {"jobs.insert_64_noids", JOB_ROWS_64},
    {"jobs.insert_8_noids", JOB_ROWS_8},
    {"jobs.insert_dedupe_reject", JOB_INSERT ON_DEDUPE " DO NOTHING RETURNING id"},
    {"jobs.insert_dedupe_replace", JOB_INSERT ON_DEDUPE
     " DO UPDATE SET queue = excluded.queue, kind = excluded.kind, payload = excluded.payload, "
     "priority = excluded.priority, state = excluded.state, run_at = excluded.run_at, "
     "max_attempts = excluded.max_attempts, backoff = excluded.backoff, "
     "backoff_us = excluded.backoff_us, backoff_max_us = excluded.backoff_max_us, "
     "timeout_us = excluded.timeout_us, updated_at = excluded.updated_at "
     "WHERE jobs.state IN ('delayed', 'queued') RETURNING id"},
    {"jobs.find_live_dedupe",
     "SELECT id FROM jobs WHERE dedupe_key = ?1 AND dedupe_key IS NOT NULL AND state IN " LIVE},

    /* ---- claim ---- */
    {"jobs.promote",
     "UPDATE jobs SET state = 'queued', updated_at = ?1 WHERE id IN (SELECT id FROM jobs "
     "WHERE state = 'delayed' AND run_at <= ?1 ORDER BY run_at LIMIT 1000)"},
    {"jobs.claim",
     "UPDATE jobs SET state = 'running', lease_token = lease_token + 1, lease_owner = ?2, "
     "lease_expires_at = ?4, attempts = attempts + 1, started_at = ?3, updated_at = ?3 "
     "WHERE id IN (SELECT id FROM jobs WHERE state = 'queued' AND queue = ?1 "
     "ORDER BY priority DESC, run_at, id LIMIT ?5) RETURNING " JOB_CLAIM_COLS},
    {"jobs.queue_get",
     "SELECT rate_max, rate_window_us, window_start, window_count FROM job_queues "
     "WHERE queue = ?1"},
    {"jobs.queue_window",
     "UPDATE job_queues SET window_start = ?2, window_count = ?3 WHERE queue = ?1"},
    {"jobs.queue_rate",
     "INSERT INTO job_queues (queue, rate_max, rate_window_us) VALUES (?1, ?2, ?3) "
     "ON CONFLICT (queue) DO UPDATE SET rate_max = excluded.rate_max, "
     "rate_window_us = excluded.rate_window_us, window_start = 0, window_count = 0"},

    /* ---- leases: every statement is fenced by (id, lease_token, running) ---- */
    {"jobs.renew",
     "UPDATE jobs SET lease_expires_at = ?3, updated_at = ?4 "
     "WHERE id = ?1 AND lease_token = ?2 AND state = 'running' RETURNING cancel_requested"},
    {"jobs.progress", "UPDATE jobs SET progress = ?3, updated_at = ?4 "
                      "WHERE id = ?1 AND lease_token = ?2 AND state = 'running'"},
    {"jobs.complete",
     "UPDATE jobs SET state = 'completed', result = ?3, finished_at = ?4, updated_at = ?4, "
     "lease_owner = NULL, lease_expires_at = NULL "
     "WHERE id = ?1 AND lease_token = ?2 AND state = 'running'"},
    /* Group commit of completions (lib/jobs/claim.c): ?1 a JSON array of
     * [id, lease_token, result or null], ?2 now; RETURNING the ids completed
     * (the others lost their lease). PostgreSQL: sql_pg.c patches json_each. */
    {"jobs.complete_many",
     "UPDATE jobs SET state = 'completed', result = t.result, finished_at = ?2, "
     "updated_at = ?2, lease_owner = NULL, lease_expires_at = NULL "
     "FROM (SELECT value ->> '$[0]' AS id, value ->> '$[1]' AS token, "
     "value ->> '$[2]' AS result FROM json_each(?1)) AS t "
     "WHERE jobs.id = t.id AND jobs.lease_token = t.token AND jobs.state = 'running' "
     "RETURNING jobs.id"},
    {"jobs.fail",
     "UPDATE jobs SET state = CASE WHEN cancel_requested = 1 THEN 'cancelled' ELSE ?3 END, "
     "run_at = ?4, last_error = ?5, updated_at = ?6, "
     "finished_at = CASE WHEN cancel_requested = 1 OR ?3 IN ('failed', 'dead') THEN ?6 "
     "ELSE NULL END, lease_owner = NULL, lease_expires_at = NULL "
     "WHERE id = ?1 AND lease_token = ?2 AND state = 'running' RETURNING state"},
    {"jobs.release",
     "UPDATE jobs SET state = CASE WHEN cancel_requested = 1 THEN 'cancelled' ELSE 'queued' END, "
     "finished_at = CASE WHEN cancel_requested = 1 THEN ?4 ELSE NULL END, "
     "attempts = attempts - ?3, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?4 "
     "WHERE id = ?1 AND lease_token = ?2 AND state = 'running'"},
    {"jobs.expired",
     "SELECT id, lease_token, attempts, max_attempts, backoff, backoff_us, backoff_max_us, "
     "coalesce(lease_owner, '') FROM jobs WHERE state = 'running' AND lease_expires_at < ?1 "
     "ORDER BY lease_expires_at LIMIT ?2"},

    /* ---- management ---- */
    {"jobs.cancel_pending",
     "UPDATE jobs SET state = 'cancelled', finished_at = ?2, updated_at = ?2 "
     "WHERE id = ?1 AND state IN ('delayed', 'queued')"},
    {"jobs.cancel_running",
     "UPDATE jobs SET cancel_requested = 1, updated_at = ?2 WHERE id = ?1 AND state = 'running'"},
    {"jobs.state", "SELECT state FROM jobs WHERE id = ?1"},
    {"jobs.get", "SELECT " JOB_ROW_COLS " FROM jobs WHERE id = ?1"},
    {"jobs.list",
     "SELECT " JOB_ROW_COLS " FROM jobs WHERE id < ?1 AND (?2 IS NULL OR state = ?2) "
     "AND (?3 IS NULL OR queue = ?3) AND (?4 IS NULL OR kind = ?4) ORDER BY id DESC LIMIT ?5"},
    {"jobs.retry",
     "UPDATE jobs SET state = 'queued', attempts = 0, run_at = ?2, cancel_requested = 0, "
     "finished_at = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?2 "
     "WHERE id = ?1 AND state IN ('failed', 'dead', 'cancelled')"},
    {"jobs.failed_ids", "SELECT id FROM jobs WHERE state IN ('failed', 'dead') AND id > ?1 "
                        "AND (?2 IS NULL OR queue = ?2) AND (?3 IS NULL OR kind = ?3) "
                        "AND (?4 IS NULL OR state = ?4) ORDER BY id LIMIT ?5"},
    {"jobs.prune",
     "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE finished_at IS NOT NULL "
     "AND finished_at < ?3 AND ((state IN ('completed', 'cancelled') AND finished_at < ?1) "
     "OR (state IN ('failed', 'dead') AND finished_at < ?2)) LIMIT ?4)"},

    /* ---- statistics ---- */
    {"jobs.stats_live",
     "SELECT queue, count(*), min(run_at) FROM jobs WHERE state = ?1 GROUP BY queue"},
    {"jobs.stats_finished", "SELECT queue, state, count(*) FROM jobs WHERE finished_at IS NOT NULL "
                            "AND finished_at >= ?1 GROUP BY queue, state"},
    {"jobs.stats_latency",
     "SELECT queue, started_at - run_at, finished_at - started_at FROM jobs "
     "WHERE finished_at IS NOT NULL AND finished_at >= ?1 AND state = 'completed' "
     "ORDER BY finished_at DESC LIMIT ?2"},

    /* ---- repeatable schedules ---- */
    {"jobs.schedule_upsert",
     "INSERT INTO job_schedules (name, kind, queue, payload, cron, timezone, every_us, "
     "anchor_at, missed, grace_us, next_run_at, created_at, updated_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12) "
     "ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, queue = excluded.queue, "
     "payload = excluded.payload, cron = excluded.cron, timezone = excluded.timezone, "
     "every_us = excluded.every_us, anchor_at = excluded.anchor_at, missed = excluded.missed, "
     "grace_us = excluded.grace_us, next_run_at = excluded.next_run_at, "
     "updated_at = excluded.updated_at RETURNING id"},
    {"jobs.schedule_delete", "DELETE FROM job_schedules WHERE name = ?1"},
    {"jobs.schedule_due",
     "SELECT id, name, kind, queue, payload, cron, timezone, every_us, anchor_at, missed, "
     "grace_us, next_run_at FROM job_schedules WHERE next_run_at <= ?1 "
     "ORDER BY next_run_at LIMIT ?2"},
    {"jobs.schedule_advance",
     "UPDATE job_schedules SET next_run_at = ?3, last_run_at = ?4, updated_at = ?5 "
     "WHERE id = ?1 AND next_run_at = ?2"},

    /* ---- the platform's own jobs ---- */
    {"jobs.reminder_events",
     "SELECT e.id, e.start_at FROM events e WHERE e.status = 'published' "
     "AND e.start_at > ?1 AND e.start_at <= ?2 AND NOT EXISTS (SELECT 1 FROM event_reminders r "
     "WHERE r.event_id = e.id AND r.which = ?3) ORDER BY e.start_at, e.id LIMIT ?4"},
    {"jobs.reminder_mark",
     "INSERT INTO event_reminders (event_id, which, start_at, sent_at) VALUES (?1, ?2, ?3, ?4) "
     "ON CONFLICT (event_id, which) DO NOTHING"},
    {"jobs.reminder_recipients",
     "SELECT m.id, m.email, m.name, e.title, e.start_local, e.timezone FROM rsvps r "
     "JOIN members m ON m.id = r.member_id JOIN events e ON e.id = r.event_id "
     "WHERE r.event_id = ?1 AND r.status = 'going' AND m.status = 'active' ORDER BY m.id"},
    {"jobs.waitlist_info",
     "SELECT m.email, m.name, e.title, e.start_local, e.timezone, r.status FROM rsvps r "
     "JOIN members m ON m.id = r.member_id JOIN events e ON e.id = r.event_id "
     "WHERE r.event_id = ?1 AND r.member_id = ?2"},
    {NULL, NULL},
};
