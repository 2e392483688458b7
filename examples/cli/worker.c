/*
 * worker.c - `community worker`: a job worker process for the platform's
 * own jobs (event reminders, waitlist-promotion notices; the scheduler's
 * CM_SCHEDULER_PLATFORM_JOBS). It opens the store and a cm_scheduler,
 * logs one line per job event on stderr (text, or JSON lines with
 * --json-logs), and stops gracefully on SIGTERM or SIGINT: it stops
 * claiming, lets running jobs finish within the drain deadline (past it
 * their leases are released for another worker), and exits 0. A second
 * signal during the drain ends the process at once. With --once it runs
 * what is due and exits, for tests and cron.
 *
 * Signals are blocked before any thread starts (the scheduler's threads
 * inherit the mask) and taken by the main thread with sigtimedwait(), so
 * no code runs in a signal handler.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_QUEUES 64

static const char worker_help[] =
    "usage: community [--db URI] worker [--queues LIST] [--concurrency N] [--poll-ms N]\n"
    "                 [--lease MS] [--heartbeat MS] [--drain-ms N] [--worker-id NAME]\n"
    "                 [--once] [--json-logs]\n"
    "                 [--smtp URI --mail-from ADDR [--public-url URL] [--site-name NAME]\n"
    "                  [--mail-rate N] [--mail-lease-ms N] [--mail-templates DIR]\n"
    "                  [--api-url URL]]\n\n"
    "Run the platform's own jobs: event reminders (a sweep every minute) and\n"
    "waitlist-promotion notices, on queue \"platform\". Any number of workers, in any\n"
    "number of processes, may run on one database; each job runs on one of them\n"
    "(leases with fencing tokens; a dead worker's jobs are taken over).\n\n"
    "Options:\n"
    "  --queues LIST     serve only these queues: comma-separated NAME or NAME:N\n"
    "                    (N = at most N jobs of that queue at once); default: every\n"
    "                    queue of the platform's job kinds\n"
    "  --concurrency N   worker threads, 1..256 (default 4)\n"
    "  --poll-ms N       look for new jobs every N ms (default 200); jobs enqueued in\n"
    "                    other processes start within this time\n"
    "  --lease MS        lease of each claimed job, 100..86400000 ms (default 30000):\n"
    "                    if this worker dies, its jobs are queued again at most\n"
    "                    MS + 1000 ms later; a worker stalled longer than MS (a\n"
    "                    slow database, a paused process) loses its jobs\n"
    "  --heartbeat MS    renew the leases every MS ms, below --lease (default a third\n"
    "                    of it)\n"
    "  --drain-ms N      on SIGTERM/SIGINT, wait up to N ms for running jobs\n"
    "                    (default 30000), then release them to other workers\n"
    "  --worker-id NAME  name of this worker in leases and logs (default host:pid:random)\n"
    "  --once            run the jobs that are due (and due repeatable schedules), then\n"
    "                    exit 0; for tests and cron\n"
    "  --json-logs       log JSON lines instead of text\n\n"
    "Mail (docs/email.md): with an SMTP server the worker also delivers the outbox\n"
    "(password resets, sign-in links, notices, reminders), each mail once:\n"
    "  --smtp URI        smtp://user:pass@host:587/?tls=require or smtps://..., or\n"
    "                    ses://REGION for the Amazon SES API (credentials from\n"
    "                    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN,\n"
    "                    else the ECS/EKS task role's)\n"
    "                    (env COMMUNITY_SMTP); no password or key is ever logged\n"
    "  --mail-from ADDR  sender, \"Name <addr>\" or addr (env COMMUNITY_MAIL_FROM)\n"
    "  --public-url URL  base of the links in mails (env COMMUNITY_PUBLIC_URL,\n"
    "                    default http://localhost:3000)\n"
    "  --site-name NAME  shown in subjects (env COMMUNITY_SITE_NAME, default Community)\n"
    "  --mail-rate N     messages per second shared by all workers, 0 = no limit\n"
    "                    (env COMMUNITY_MAIL_RATE, default 0)\n"
    "  --mail-lease-ms N how long a claim holds its mails (default 120000); a dead\n"
    "                    worker's mails are sent by another worker after this\n"
    "  --mail-templates DIR  NAME.subject / NAME.txt / NAME.html files replacing\n"
    "                    parts of the built-in templates (env COMMUNITY_MAIL_TEMPLATES)\n"
    "  --api-url URL     base of the one-click unsubscribe links (List-Unsubscribe),\n"
    "                    the HTTP API's public origin (env COMMUNITY_API_URL,\n"
    "                    default the --public-url)\n\n"
    "Uploads (docs/uploads.md): the worker deletes erased and pruned files and prunes\n"
    "replaced versions daily, in the storage community-server uses, configured by the\n"
    "same environment: COMMUNITY_UPLOADS_DIR, or COMMUNITY_S3_ENDPOINT, _BUCKET, _REGION,\n"
    "_VIRTUAL_HOST with COMMUNITY_S3_ACCESS_KEY, _SECRET_KEY, _SESSION_TOKEN (or\n"
    "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; else the task role's);\n"
    "an SQLite store\n"
    "defaults to <database file>.uploads. COMMUNITY_UPLOADS_KEEP_VERSIONS (with a\n"
    "directory or S3): seconds a replaced cover or avatar is kept (default 30 days).\n\n"
    "Logs go to stderr, one line per job event (started, completed, retry, failed,\n"
    "dead, cancelled, lease_lost, timeout, recovered) and per library message.\n"
    "SIGTERM or SIGINT: stop claiming, finish running jobs (--drain-ms), exit 0; a\n"
    "second signal exits at once. See docs/cli.md.\n";

/* ---- logging (any thread: the scheduler's event hook and log callback) ---- */

static int json_logs;

static void timestamp(char *buf, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    time_t secs = ts.tv_sec;
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

/* One line on stderr: `msg` in text mode; in JSON mode {"ts", "level",
 * "msg"} followed by `fields` (consumed; may be NULL). One fputs per line,
 * so that lines from different threads do not mix. */
static void emit(const char *level, const char *msg, json_t *fields)
{
    char ts[40];
    timestamp(ts, sizeof ts);
    if (json_logs) {
        json_t *o = json_pack("{s:s,s:s,s:s}", "ts", ts, "level", level, "msg", msg);
        if (o && fields)
            json_object_update(o, fields);
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (s) {
            size_t n = strlen(s);
            char *line = malloc(n + 2);
            if (line) {
                memcpy(line, s, n);
                memcpy(line + n, "\n", 2);
                fputs(line, stderr);
                free(line);
            }
            free(s);
        }
        json_decref(o);
    } else {
        char line[1200];
        snprintf(line, sizeof line, "%s %-5s %s\n", ts, level, msg);
        fputs(line, stderr);
    }
    json_decref(fields);
}

static const char *const event_names[] = {
    "",     "started",   "completed",  "retry",   "failed",
    "dead", "cancelled", "lease_lost", "timeout", "recovered",
};

static void on_event(int32_t ev, int64_t job_id, const char *queue, const char *kind,
                     int32_t attempt, int32_t status, int64_t duration_us, void *payload)
{
    (void)payload;
    const char *name = ev >= 1 && ev <= 9 ? event_names[ev] : "event";
    const char *level = ev == CM_JOB_EVENT_DEAD ? "error"
                        : ev == CM_JOB_EVENT_STARTED || ev == CM_JOB_EVENT_COMPLETED ||
                                ev == CM_JOB_EVENT_RECOVERED || ev == CM_JOB_EVENT_CANCELLED
                            ? "info"
                            : "warn";
    char msg[400];
    int n;
    if (ev == CM_JOB_EVENT_RECOVERED)
        n = snprintf(msg, sizeof msg, "job %lld: %s (the lease of a stopped worker lapsed)",
                     (long long)job_id, name);
    else
        n = snprintf(msg, sizeof msg, "job %lld %s (queue %s) attempt %d: %s", (long long)job_id,
                     kind, queue, (int)attempt, name);
    if (ev != CM_JOB_EVENT_STARTED && ev != CM_JOB_EVENT_RECOVERED && n > 0 &&
        (size_t)n < sizeof msg) {
        if (status != CM_OK)
            n += snprintf(msg + n, sizeof msg - (size_t)n, " (%s)", cm_status_name(status));
        if (duration_us > 0 && n > 0 && (size_t)n < sizeof msg)
            snprintf(msg + n, sizeof msg - (size_t)n, " after %.1f ms",
                     (double)duration_us / 1000.0);
    }
    json_t *f =
        json_pack("{s:s,s:I,s:s,s:s,s:i,s:s}", "event", name, "job_id", (json_int_t)job_id, "queue",
                  queue, "kind", kind, "attempt", (int)attempt, "status", cm_status_name(status));
    if (f && duration_us > 0)
        json_object_set_new(f, "duration_ms", json_real((double)duration_us / 1000.0));
    emit(level, msg, f);
}

static void on_log(int level, const char *component, const char *message, void *payload)
{
    (void)payload;
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    char msg[1000];
    snprintf(msg, sizeof msg, "%s: %s", component, message);
    emit(level >= 0 && level <= 3 ? levels[level] : "info", msg,
         json_pack("{s:s,s:s}", "event", "log", "component", component));
}

/* ---- options ---- */

typedef struct worker_opts {
    char queues[MAX_QUEUES][65];
    uint32_t queue_conc[MAX_QUEUES]; /* 0: the default */
    size_t n_queues;
    uint32_t concurrency, poll_ms, drain_ms, lease_ms, heartbeat_ms; /* heartbeat 0: default */
    const char *worker_id;
    int once;
    const char *smtp, *mail_from, *public_url, *site_name, *mail_templates, *api_url;
    uint32_t mail_rate, mail_lease_ms;
} worker_opts;

static const char *env2(const char *a, const char *b)
{
    const char *v = getenv(a);
    if ((!v || !*v) && b)
        v = getenv(b);
    return v && *v ? v : NULL;
}

/* Upload storage from the environment community-server reads; without it
 * an SQLite store keeps its default directory. */
static int set_uploads(cm_store *store)
{
    cm_upload_options uo = CM_UPLOAD_OPTIONS_INIT;
    uo.dir = env2("COMMUNITY_UPLOADS_DIR", NULL);
    uo.s3_endpoint = env2("COMMUNITY_S3_ENDPOINT", NULL);
    const char *keep = env2("COMMUNITY_UPLOADS_KEEP_VERSIONS", NULL);
    if (keep) {
        char *end = NULL;
        errno = 0;
        long long k = strtoll(keep, &end, 10);
        if (errno || !end || *end || k < 1 || k > 3153600000LL)
            return cli_fail(CLI_EXIT_USAGE,
                            "COMMUNITY_UPLOADS_KEEP_VERSIONS: seconds, 1 to 3153600000");
        uo.keep_versions_s = k;
    }
    if (!uo.dir && !uo.s3_endpoint) {
        if (keep)
            return cli_fail(CLI_EXIT_USAGE, "COMMUNITY_UPLOADS_KEEP_VERSIONS needs "
                                            "COMMUNITY_UPLOADS_DIR or COMMUNITY_S3_ENDPOINT");
        return 0; /* the store's default, if it has one */
    }
    if (uo.s3_endpoint) {
        uo.dir = NULL;
        uo.s3_bucket = env2("COMMUNITY_S3_BUCKET", NULL);
        uo.s3_region = env2("COMMUNITY_S3_REGION", NULL);
        uo.s3_access_key = env2("COMMUNITY_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID");
        uo.s3_secret_key = env2("COMMUNITY_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY");
        uo.s3_session_token = env2("COMMUNITY_S3_SESSION_TOKEN", "AWS_SESSION_TOKEN");
        const char *vh = env2("COMMUNITY_S3_VIRTUAL_HOST", NULL);
        uo.s3_virtual_host = vh && strcmp(vh, "0") != 0;
    }
    int rc = cm_store_set_uploads(store, &uo);
    if (rc)
        return cli_fail(CLI_EXIT_USAGE, "upload storage: %s", cm_error_message());
    return 0;
}

static int parse_u32(uint32_t *out, const char *flag, const char *v, uint32_t min, uint32_t max)
{
    char *end;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || x < (long long)min || x > (long long)max)
        return cli_fail(CLI_EXIT_USAGE, "%s: expected an integer in %u..%u, got '%s'", flag, min,
                        max, v ? v : "");
    *out = (uint32_t)x;
    return CLI_EXIT_OK;
}

/* "a,b:4,c" into o->queues / o->queue_conc. */
static int parse_queues(worker_opts *o, const char *list)
{
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        char item[128];
        if (n == 0 || n >= sizeof item)
            return cli_fail(CLI_EXIT_USAGE, "--queues: empty or too long item in '%s'", list);
        memcpy(item, p, n);
        item[n] = '\0';
        char *colon = strchr(item, ':');
        uint32_t conc = 0;
        if (colon) {
            *colon = '\0';
            int rc = parse_u32(&conc, "--queues", colon + 1, 1, 4096);
            if (rc)
                return rc;
        }
        size_t len = strlen(item);
        if (len == 0 || len > 64 || strspn(item, "abcdefghijklmnopqrstuvwxyz0123456789._-") != len)
            return cli_fail(CLI_EXIT_USAGE,
                            "--queues: '%s' is not a queue name (1..64 of a-z 0-9 . _ -)", item);
        if (o->n_queues == MAX_QUEUES)
            return cli_fail(CLI_EXIT_USAGE, "--queues: at most %d queues", MAX_QUEUES);
        for (size_t i = 0; i < o->n_queues; i++)
            if (strcmp(o->queues[i], item) == 0)
                return cli_fail(CLI_EXIT_USAGE, "--queues: '%s' given twice", item);
        memcpy(o->queues[o->n_queues], item, len + 1);
        o->queue_conc[o->n_queues++] = conc;
        p += n;
        if (*p == ',')
            p++;
    }
    return CLI_EXIT_OK;
}

static int parse_args(worker_opts *o, cli *c, int argc, char **argv, int *help)
{
    static const char *const valued[] = {
        "--queues",        "--concurrency",    "--poll-ms",   "--drain-ms",
        "--worker-id",     "--lease",          "--heartbeat", "--smtp",
        "--mail-from",     "--public-url",     "--site-name", "--mail-rate",
        "--mail-lease-ms", "--mail-templates", "--api-url",   NULL};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = 1;
            continue;
        }
        if (!strcmp(a, "--once")) {
            o->once = 1;
            continue;
        }
        if (!strcmp(a, "--json-logs")) {
            json_logs = 1;
            continue;
        }
        size_t k = 0, n = 0;
        for (; valued[k]; k++) {
            n = strlen(valued[k]);
            if (!strncmp(a, valued[k], n) && (a[n] == '\0' || a[n] == '='))
                break;
        }
        if (valued[k]) {
            const char *v = a[n] == '=' ? a + n + 1 : i + 1 < argc ? argv[++i] : NULL;
            if (!v || !*v)
                return cli_fail(CLI_EXIT_USAGE, "%s needs a value", valued[k]);
            int rc = CLI_EXIT_OK;
            switch (k) {
                case 0:
                    rc = parse_queues(o, v);
                    break;
                case 1:
                    rc = parse_u32(&o->concurrency, valued[k], v, 1, 256);
                    break;
                case 2:
                    rc = parse_u32(&o->poll_ms, valued[k], v, 1, 3600000);
                    break;
                case 3:
                    rc = parse_u32(&o->drain_ms, valued[k], v, 0, 86400000);
                    break;
                case 4:
                    o->worker_id = v;
                    break;
                case 5:
                    rc = parse_u32(&o->lease_ms, valued[k], v, 100, 86400000);
                    break;
                case 6:
                    rc = parse_u32(&o->heartbeat_ms, valued[k], v, 1, 86400000);
                    break;
                case 7:
                    o->smtp = v;
                    break;
                case 8:
                    o->mail_from = v;
                    break;
                case 9:
                    o->public_url = v;
                    break;
                case 10:
                    o->site_name = v;
                    break;
                case 11:
                    rc = parse_u32(&o->mail_rate, valued[k], v, 0, 100000);
                    break;
                case 12:
                    rc = parse_u32(&o->mail_lease_ms, valued[k], v, 1000, 86400000);
                    break;
                case 13:
                    o->mail_templates = v;
                    break;
                default:
                    o->api_url = v;
            }
            if (rc)
                return rc;
            continue;
        }
        int g = cli_global_option(c, argc, argv, &i);
        if (g == 1)
            continue;
        if (g != 0)
            return g;
        return cli_fail(CLI_EXIT_USAGE, "worker: unknown option '%s' (see community worker --help)",
                        a);
    }
    if (o->heartbeat_ms && o->heartbeat_ms >= o->lease_ms)
        return cli_fail(CLI_EXIT_USAGE, "--heartbeat: %u ms is not shorter than the lease (%u ms)",
                        o->heartbeat_ms, o->lease_ms);
    return CLI_EXIT_OK;
}

/* ---- running ---- */

/* The scheduler's counters (cm_scheduler_stats), parsed; NULL on failure. */
static json_t *sched_stats(cm_scheduler *s)
{
    char *text = NULL;
    json_t *doc = cm_scheduler_stats(&text, s) == CM_OK ? json_loads(text, 0, NULL) : NULL;
    cm_free(text);
    return doc;
}

static long long stat_int(const json_t *doc, const char *key)
{
    return (long long)json_integer_value(json_object_get(doc, key));
}

/* --once: nothing held by this worker and nothing queued on its queues. */
static int idle(cm_scheduler *s, cm_store *store, bool *out)
{
    *out = false;
    json_t *st = sched_stats(s);
    if (!st)
        return cm_error_code() ? cm_error_code() : CM_ENOMEM;
    bool busy = stat_int(st, "held") > 0 || stat_int(st, "running") > 0;
    char *text = NULL;
    int rc = busy ? CM_OK : cm_jobs_stats(&text, store);
    if (rc == CM_OK && !busy) {
        json_t *js = json_loads(text, 0, NULL);
        const char *name;
        json_t *q;
        json_object_foreach(json_object_get(st, "queues"), name, q)
        {
            json_t *qs = json_object_get(json_object_get(js, "queues"), name);
            busy |= json_integer_value(json_object_get(qs, "queued")) > 0;
        }
        json_decref(js);
        *out = !busy;
    }
    cm_free(text);
    json_decref(st);
    return rc;
}

static void log_summary(cm_scheduler *s, const char *how)
{
    json_t *st = sched_stats(s);
    char msg[400];
    snprintf(msg, sizeof msg,
             "worker stopped%s: claimed %lld, completed %lld, retried %lld, failed %lld, "
             "dead %lld, cancelled %lld, lease lost %lld, timeouts %lld, recovered %lld",
             how, stat_int(st, "claimed"), stat_int(st, "completed"), stat_int(st, "retried"),
             stat_int(st, "failed"), stat_int(st, "dead"), stat_int(st, "cancelled"),
             stat_int(st, "lease_lost"), stat_int(st, "timeouts"), stat_int(st, "recovered"));
    json_t *f = json_object();
    static const char *const keys[] = {"claimed",   "completed",  "retried",  "failed",   "dead",
                                       "cancelled", "lease_lost", "timeouts", "recovered"};
    json_object_set_new(f, "event", json_string("worker_stopped"));
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        json_object_set_new(f, keys[i], json_integer(stat_int(st, keys[i])));
    json_decref(st);
    emit("info", msg, f);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cli_worker(cli *c, int argc, char **argv)
{
    worker_opts o = {.concurrency = 4, .poll_ms = 200, .drain_ms = 30000, .lease_ms = 30000};
    int help = 0, rc = parse_args(&o, c, argc, argv, &help);
    if (rc || help) {
        if (help)
            fputs(worker_help, stdout);
        return rc;
    }
    /* Before any thread exists: every thread inherits the blocked mask,
     * and only sigtimedwait() below takes the signals. */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    const char *env_smtp = getenv("COMMUNITY_SMTP");
    if (!o.smtp && env_smtp && *env_smtp)
        o.smtp = env_smtp;
    if (!o.mail_from)
        o.mail_from = getenv("COMMUNITY_MAIL_FROM");
    if (!o.public_url)
        o.public_url = getenv("COMMUNITY_PUBLIC_URL");
    if (!o.site_name)
        o.site_name = getenv("COMMUNITY_SITE_NAME");
    if (!o.api_url)
        o.api_url = getenv("COMMUNITY_API_URL");
    if (!o.mail_templates)
        o.mail_templates = getenv("COMMUNITY_MAIL_TEMPLATES");
    if (!o.mail_rate && getenv("COMMUNITY_MAIL_RATE") &&
        (rc = parse_u32(&o.mail_rate, "COMMUNITY_MAIL_RATE", getenv("COMMUNITY_MAIL_RATE"), 0,
                        100000)))
        return rc;
    if (o.smtp && (!o.mail_from || !*o.mail_from))
        return cli_fail(CLI_EXIT_USAGE, "--smtp needs --mail-from (or COMMUNITY_MAIL_FROM)");
    if ((rc = cli_open_store(c)))
        return rc;
    cm_set_log_callback(on_log, CM_LOG_INFO, NULL);
    if ((rc = set_uploads(c->store)))
        return rc;
    /* OpenTelemetry tracing of the job runs when OTEL_EXPORTER_OTLP_ENDPOINT
     * is set (after the signal mask: the exporter thread inherits it). */
    if ((rc = cm_trace_start("community-worker"))) {
        cm_set_log_callback(NULL, 0, NULL);
        return cli_report(rc, "worker: tracing");
    }

    cm_scheduler_options so = CM_SCHEDULER_OPTIONS_INIT;
    so.threads = o.concurrency;
    so.poll_ms = o.poll_ms;
    so.drain_ms = o.drain_ms;
    so.lease_ms = o.lease_ms;
    so.heartbeat_ms = o.heartbeat_ms;
    so.worker_id = o.worker_id;
    so.on_event = on_event;
    so.flags = CM_SCHEDULER_PLATFORM_JOBS | (o.n_queues ? CM_SCHEDULER_ONLY_LISTED_QUEUES : 0);
    /* The scheduler recovers lapsed leases as it starts; due schedules are
     * fired by its maintenance timer, every second or every heartbeat when
     * that is shorter: --once makes it short, unless --heartbeat was given. */
    uint32_t quick = o.poll_ms < 1000 ? o.poll_ms : 1000;
    if (o.once && !o.heartbeat_ms && quick < o.lease_ms)
        so.heartbeat_ms = quick;
    uint32_t heartbeat = so.heartbeat_ms ? so.heartbeat_ms : o.lease_ms / 3;
    uint32_t maintain = heartbeat < 1000 ? heartbeat : 1000;
    cm_scheduler *s = NULL;
    cm_mailer *mailer = NULL;
    int st = cm_scheduler_open(&s, c->store, &so);
    if (st == CM_OK && o.smtp) {
        cm_mailer_options mo = CM_MAILER_OPTIONS_INIT;
        mo.smtp_uri = o.smtp;
        mo.from = o.mail_from;
        mo.public_url = o.public_url && *o.public_url ? o.public_url : NULL;
        mo.site_name = o.site_name && *o.site_name ? o.site_name : NULL;
        mo.api_url = o.api_url && *o.api_url ? o.api_url : NULL;
        mo.rate_per_s = o.mail_rate;
        mo.lease_ms = o.mail_lease_ms;
        mo.flags = o.once ? CM_MAILER_NO_WATCH : 0;
        mo.templates_dir = o.mail_templates && *o.mail_templates ? o.mail_templates : NULL;
        st = cm_mailer_open(&mailer, c->store, &mo);
        if (st == CM_OK)
            st = cm_mailer_attach(mailer, s);
    }
    for (size_t i = 0; st == CM_OK && i < o.n_queues; i++)
        st = cm_scheduler_set_concurrency(s, o.queues[i],
                                          o.queue_conc[i] ? o.queue_conc[i] : o.concurrency);
    if (st == CM_OK)
        st = cm_scheduler_start(s);
    if (st) {
        rc = cli_report(st, "worker");
        if (st == CM_EINVAL && !strcmp(cm_error_field(), "queue"))
            rc = CLI_EXIT_USAGE; /* a --queues entry this worker has no job kind for */
        cm_scheduler_close(s, NULL, NULL);
        cm_mailer_close(mailer);
        cm_trace_stop(2000);
        cm_set_log_callback(NULL, 0, NULL);
        return rc;
    }
    json_t *st0 = sched_stats(s);
    char served[300] = "";
    const char *qname;
    json_t *qv;
    json_object_foreach(json_object_get(st0, "queues"), qname, qv)
    {
        size_t n = strlen(served);
        snprintf(served + n, sizeof served - n, "%s%s:%lld", n ? "," : "", qname,
                 (long long)json_integer_value(json_object_get(qv, "concurrency")));
    }
    char msg[1200];
    const char *wid = json_string_value(json_object_get(st0, "worker_id"));
    char mailvia[300] = "";
    if (o.smtp) { /* scheme://host[:port] only: never the user or password */
        const char *h = strstr(o.smtp, "://");
        const char *at = h ? strchr(h + 3, '@') : NULL;
        const char *host = at && at < h + 3 + strcspn(h + 3, "/?") ? at + 1 : h ? h + 3 : o.smtp;
        snprintf(mailvia, sizeof mailvia, ", mail via %.*s://%.*s", h ? (int)(h - o.smtp) : 0,
                 o.smtp, (int)strcspn(host, "/?"), host);
    }
    snprintf(msg, sizeof msg,
             "worker %s started on %s: %u threads, queues %s, poll %u ms, lease %u ms, "
             "heartbeat %u ms%s%s",
             wid ? wid : "?", cm_store_backend_name(c->store), o.concurrency, served, o.poll_ms,
             o.lease_ms, heartbeat, o.once ? ", once" : "", mailvia);
    emit("info", msg,
         json_pack("{s:s,s:O?,s:i,s:s,s:i,s:i,s:b}", "event", "worker_started", "worker_id",
                   json_object_get(st0, "worker_id"), "threads", (int)o.concurrency, "queues",
                   served, "lease_ms", (int)o.lease_ms, "heartbeat_ms", (int)heartbeat, "once",
                   o.once));
    json_decref(st0);

    /* Wait for a signal, or (--once) for the due work to be done: idle on two
     * checks a poll apart, after the first maintenance tick has fired the
     * schedules.
     * The main thread only ever waits in sigtimedwait(), so a signal is
     * taken within one tick. */
    uint32_t tick = o.once ? (o.poll_ms < 50 ? o.poll_ms : 50) : 1000;
    int64_t next_check = mono_ms() + 2 * (int64_t)maintain;
    int idle_checks = 0, sig = 0;
    for (;;) {
        struct timespec to = {(time_t)(tick / 1000), (long)(tick % 1000) * 1000000L};
        sig = sigtimedwait(&stop_set, NULL, &to);
        if (sig > 0)
            break;
        if (!o.once || mono_ms() < next_check)
            continue;
        next_check = mono_ms() + o.poll_ms;
        bool done = false;
        if (idle(s, c->store, &done)) {
            emit("warn", "worker: cannot read the queue state; retrying", NULL);
            continue;
        }
        idle_checks = done ? idle_checks + 1 : 0;
        if (idle_checks >= 2)
            break;
    }
    if (sig > 0) {
        snprintf(msg, sizeof msg,
                 "worker: %s received: stopping, waiting up to %u ms for running jobs "
                 "(a second signal exits at once)",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT", o.drain_ms);
        emit("info", msg,
             json_pack("{s:s,s:s,s:i}", "event", "worker_stopping", "signal",
                       sig == SIGTERM ? "SIGTERM" : "SIGINT", "drain_ms", (int)o.drain_ms));
        /* A second signal now takes its default action: exit at once (the
         * leases of running jobs lapse and other workers take them over). */
        pthread_sigmask(SIG_UNBLOCK, &stop_set, NULL);
    }
    st = cm_scheduler_stop(s, (int64_t)o.drain_ms * 1000);
    if (st == CM_ETIMEOUT)
        emit("warn", "worker: drain deadline passed; running jobs were released to other workers",
             json_pack("{s:s}", "event", "drain_timeout"));
    else if (st)
        emit("error", cm_error_message(), json_pack("{s:s}", "event", "stop_failed"));
    log_summary(s, sig > 0 ? " after a signal" : o.once ? " (once: nothing due)" : "");
    cm_scheduler_close(s, NULL, NULL);
    cm_mailer_close(mailer);
    cm_trace_stop(2000); /* the spans still queued, for at most 2 s */
    cm_set_log_callback(NULL, 0, NULL);
    return st && st != CM_ETIMEOUT ? cli_exit_code(st) : CLI_EXIT_OK;
}
