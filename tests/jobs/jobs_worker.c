/*
 * jobs_worker.c - a worker process for the crash tests (test_jobs_crash.c
 * starts several and kills them). It runs a cm_scheduler on the test
 * database until SIGTERM, with two kinds:
 *
 *   crash.work  append "S id token name" to the log, then insert the job's
 *               effect (an email_outbox row addressed "job<id>") and complete
 *               the job in one transaction, then append "D id token name";
 *               "L id token name" when the completion got CM_ELEASE.
 *   crash.slow  the same, waiting until SLOW_MS after its start (monotonic
 *               clock) before completing, without looking at its lease (a
 *               zombie when stopped and continued).
 *   crash.rsvp  payload {"member_id", "event_id"}: RSVP as that member
 *               (operation rsvps.add) and complete the job in one
 *               transaction (cm_job_complete_exec), with the same log lines.
 *
 * Every log line is one write() to a file opened with O_APPEND, followed by
 * fsync(), so that the log survives SIGKILL exactly as far as it got.
 *
 * usage: jobs_worker DB LOG NAME LEASE_MS SLOW_MS THREADS
 * DB is a store URI (sqlite://..., postgresql://...) or an SQLite file path.
 */
#include "../../lib/jobs/jobs_int.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;
static const char *name;
static int slow_ms;

static void log_line(char tag, const cm_job *job)
{
    char line[128];
    int n = snprintf(line, sizeof line, "%c %lld %lld %s\n", tag, (long long)cm_job_id(job),
                     (long long)cm_job_lease_token(job), name);
    if (write(log_fd, line, (size_t)n) != n || fsync(log_fd) != 0)
        abort();
}

static int effect(cm__conn *conn, void *p)
{
    const cm_job *job = p;
    char to[32];
    (void)snprintf(to, sizeof to, "job%lld", (long long)cm_job_id(job));
    cm__q q;
    int rc = cm__q_open(&q, conn, "outbox.insert");
    if (rc)
        return rc;
    cm__q_null(&q, 1);
    cm__q_text(&q, 2, to);
    cm__q_text(&q, 3, "crash");
    cm__q_text(&q, 4, "{}");
    cm__q_null(&q, 5);
    cm__q_int64(&q, 6, cm_now_us());
    rc = cm__q_step(&q);
    cm__q_close(&q);
    return cm__ok(rc);
}

static int finish(cm_job *job)
{
    int rc = cm__job_complete_tx(job, effect, job);
    if (rc == CM_OK)
        log_line('D', job);
    else if (rc == CM_ELEASE)
        log_line('L', job);
    return rc;
}

static int work(cm_job *job, void *payload)
{
    (void)payload;
    log_line('S', job);
    return finish(job);
}

static int rsvp(cm_job *job, void *payload)
{
    (void)payload;
    log_line('S', job);
    json_t *p = json_loads(cm_job_payload(job, NULL), 0, NULL);
    int64_t member = (int64_t)json_integer_value(json_object_get(p, "member_id"));
    char in[64];
    int n = snprintf(in, sizeof in, "{\"event_id\":%lld}",
                     (long long)json_integer_value(json_object_get(p, "event_id")));
    json_decref(p);
    cm_actor *a;
    int rc = cm_actor_for_member(&a, cm_job_store(job), member);
    if (rc)
        return rc;
    rc = cm_job_complete_exec(NULL, job, a, "rsvps.add", in, (size_t)n);
    cm_actor_free(a);
    if (rc == CM_OK)
        log_line('D', job);
    else if (rc == CM_ELEASE)
        log_line('L', job);
    return rc;
}

static int slow(cm_job *job, void *payload)
{
    (void)payload;
    log_line('S', job);
    /* until a monotonic deadline: time spent stopped counts */
    struct timespec now, end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += slow_ms / 1000;
    end.tv_nsec += (long)(slow_ms % 1000) * 1000000L;
    if (end.tv_nsec >= 1000000000L)
        end.tv_sec++, end.tv_nsec -= 1000000000L;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
            break;
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    return finish(job);
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: jobs_worker DB LOG NAME LEASE_MS SLOW_MS THREADS\n");
        return 2;
    }
    name = argv[3];
    slow_ms = atoi(argv[5]);
    log_fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (log_fd < 0) {
        perror("log");
        return 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* threads inherit the mask */

    char uri[1200];
    snprintf(uri, sizeof uri, "%s%s", strstr(argv[1], "://") ? "" : "sqlite://", argv[1]);
    cm_store *store;
    cm_store_options so = CM_STORE_OPTIONS_INIT;
    so.busy_timeout_ms = 30000;
    int rc = cm_store_open(&store, uri, &so);
    if (rc) {
        fprintf(stderr, "%s: open: %s\n", name, cm_error_message());
        return 1;
    }
    cm_scheduler_options o = CM_SCHEDULER_OPTIONS_INIT;
    o.threads = (uint32_t)atoi(argv[6]);
    o.lease_ms = (uint32_t)atoi(argv[4]);
    o.heartbeat_ms = o.lease_ms / 4;
    o.poll_ms = 20;
    o.prefetch = o.threads;
    o.flags = CM_SCHEDULER_NO_PRUNE | CM_SCHEDULER_NO_SCHEDULES;
    char wid[64];
    snprintf(wid, sizeof wid, "%s:%d", name, (int)getpid());
    o.worker_id = wid;
    cm_scheduler *s;
    if ((rc = cm_scheduler_open(&s, store, &o)) ||
        (rc = cm_scheduler_register(s, "crash.work", work, NULL)) ||
        (rc = cm_scheduler_register(s, "crash.slow", slow, NULL)) ||
        (rc = cm_scheduler_register(s, "crash.rsvp", rsvp, NULL)) || (rc = cm_scheduler_start(s))) {
        fprintf(stderr, "%s: scheduler: %s\n", name, cm_error_message());
        return 1;
    }
    int sig;
    while (sigwait(&set, &sig) != 0 && errno == EINTR)
        ;
    rc = cm_scheduler_stop(s, 5 * INT64_C(1000000));
    cm_scheduler_close(s, NULL, NULL);
    cm_store_close(store);
    close(log_fd);
    return rc == CM_OK || rc == CM_ETIMEOUT ? 0 : 1;
}
