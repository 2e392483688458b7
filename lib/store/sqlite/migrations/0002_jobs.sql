-- 0002_jobs: the durable job queue (lib/jobs): job kinds, jobs, per-queue
-- rate limits, repeatable schedules and the reminder bookkeeping of the
-- platform's own jobs. Times are INTEGER microseconds since the Unix epoch.
--
-- Job states: 'delayed' (run_at in the future), 'queued' (due, waiting for
-- a worker), 'running' (leased), and the finished states 'completed',
-- 'failed' (the handler asked for no retry), 'dead' (attempts exhausted)
-- and 'cancelled'. Every claim increments lease_token: it is the fencing
-- token a worker must present to renew, report progress on, complete or
-- fail the job.

CREATE TABLE job_kinds (
    kind            TEXT PRIMARY KEY,
    queue           TEXT NOT NULL,
    priority        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL CHECK (max_attempts >= 1),
    backoff         TEXT NOT NULL CHECK (backoff IN ('fixed', 'exponential', 'custom')),
    backoff_us      INTEGER NOT NULL CHECK (backoff_us >= 0),
    backoff_max_us  INTEGER NOT NULL CHECK (backoff_max_us >= 0),
    timeout_us      INTEGER NOT NULL DEFAULT 0 CHECK (timeout_us >= 0),
    max_payload     INTEGER NOT NULL CHECK (max_payload > 0),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE job_queues (
    queue           TEXT PRIMARY KEY,
    rate_max        INTEGER NOT NULL DEFAULT 0 CHECK (rate_max >= 0),
    rate_window_us  INTEGER NOT NULL DEFAULT 0 CHECK (rate_window_us >= 0),
    window_start    INTEGER NOT NULL DEFAULT 0,
    window_count    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    queue            TEXT NOT NULL,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    priority         INTEGER NOT NULL DEFAULT 0,
    state            TEXT NOT NULL
                     CHECK (state IN ('delayed', 'queued', 'running', 'completed', 'failed',
                                      'dead', 'cancelled')),
    run_at           INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
    backoff          TEXT NOT NULL CHECK (backoff IN ('fixed', 'exponential', 'custom')),
    backoff_us       INTEGER NOT NULL,
    backoff_max_us   INTEGER NOT NULL,
    timeout_us       INTEGER NOT NULL DEFAULT 0,
    lease_token      INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    dedupe_key       TEXT,
    schedule_id      INTEGER,
    progress         TEXT,
    result           TEXT,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER
);
-- The claim walks this index in order: O(log n) to the first due job.
CREATE INDEX jobs_claim ON jobs(queue, priority DESC, run_at, id) WHERE state = 'queued';
-- Promotion of delayed jobs that became due.
CREATE INDEX jobs_delayed ON jobs(run_at) WHERE state = 'delayed';
-- Recovery of lapsed leases.
CREATE INDEX jobs_leases ON jobs(lease_expires_at) WHERE state = 'running';
-- A dedupe key is held by at most one live job.
CREATE UNIQUE INDEX jobs_dedupe ON jobs(dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('delayed', 'queued', 'running');
-- Retention pruning and the throughput/latency figures of the stats.
CREATE INDEX jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;
-- Listing and re-driving failed and dead jobs.
CREATE INDEX jobs_failed ON jobs(queue, id) WHERE state IN ('failed', 'dead');

CREATE TABLE job_schedules (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL REFERENCES job_kinds(kind),
    queue           TEXT,
    payload         TEXT NOT NULL,
    cron            TEXT,
    timezone        TEXT NOT NULL DEFAULT 'UTC',
    every_us        INTEGER CHECK (every_us IS NULL OR every_us > 0),
    anchor_at       INTEGER NOT NULL,
    missed          TEXT NOT NULL CHECK (missed IN ('skip', 'run_once', 'run_all')),
    grace_us        INTEGER NOT NULL DEFAULT 0,
    next_run_at     INTEGER NOT NULL,
    last_run_at     INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK ((cron IS NULL) <> (every_us IS NULL))
);
CREATE INDEX job_schedules_due ON job_schedules(next_run_at);

-- Reminders the platform's jobs have sent, one row per event and kind.
CREATE TABLE event_reminders (
    event_id    INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    which       TEXT NOT NULL CHECK (which IN ('24h', '1h')),
    start_at    INTEGER NOT NULL,
    sent_at     INTEGER NOT NULL,
    PRIMARY KEY (event_id, which)
);

-- The platform's own job kinds (lib/jobs/platform.c), so that domain code
-- can enqueue them whether or not a worker has started yet.
INSERT INTO job_kinds (kind, queue, priority, max_attempts, backoff, backoff_us, backoff_max_us,
                       timeout_us, max_payload, created_at, updated_at)
VALUES ('platform.event_reminders', 'platform', 0, 5, 'exponential', 10000000, 600000000,
        300000000, 4096, 0, 0),
       ('platform.waitlist_promoted', 'platform', 0, 10, 'exponential', 5000000, 3600000000,
        60000000, 4096, 0, 0);
