/*
 * platform_jobs.c - the platform's own jobs, built on the queue of
 * lib/jobs:
 *
 * - "platform.event_reminders": a sweep every minute (repeatable schedule
 *   of the same name) that writes reminder e-mails to email_outbox for the
 *   members going to published events starting within 24 hours ("24h",
 *   sent while more than an hour remains) and within one hour ("1h").
 *   Each (event, kind of reminder) is sent once, recorded in
 *   event_reminders in the same transaction as the outbox rows and the
 *   job's completion; since the sweep reads the event's current start
 *   time, reminders follow time changes until they are sent.
 * - "platform.waitlist_promoted": one notice per promotion from a
 *   waitlist. The RSVP code enqueues the job inside the promoting
 *   transaction (cm__platform_notify_waitlist_promoted()): the job is as
 *   durable as the promotion, and the notice is written to email_outbox in
 *   the transaction that completes the job (exactly once per promotion,
 *   with the member's name and the event's title and local start).
 *
 * - "platform.embed_refresh": a sweep every minute that computes the
 *   embeddings marked stale by writes (with an HTTP embedder the network is
 *   never called inside a business transaction; see include/community/ai.h).
 *
 * - "platform.order_expiry": a sweep every minute that expires the ticket
 *   holds (orders reserved or pending payment) whose time is up and gives
 *   their seats back (cm__order_expire_holds, one transaction with the
 *   job's completion). Orders of an event also expire lazily, under its
 *   lock, whenever someone orders tickets for it or pays.
 *
 * - "platform.payment_refunds": a sweep every minute that asks the payment
 *   provider for the refunds the library owes (payments that could not pay
 *   their order; cm__pay_send_refunds, docs/payments.md).
 *
 * - "platform.newsletter_fill": writes the next batch of a newsletter's
 *   delivery rows (ops_newsletter.c; kind defined by migration 0012).
 *
 * - "platform.assistant_retention": a sweep every 10 minutes that deletes
 *   the assistant conversations older than the policy's retention and
 *   expired pending actions (assistant_store.c).
 * - "platform.uploads_sweep": deletes the stored files that blob_trash
 *   lists; members.erase enqueues it in its transaction, so the files go
 *   after the commit and a crash in between only delays them (retried with
 *   backoff while the storage fails; kind defined by migration 0015).
 * - "platform.uploads_prune": daily (repeatable schedule of the same
 *   name), drops the versions of covers and avatars replaced longer ago
 *   than the store's keep_versions_s, then sweeps (migration 0015).
 *
 * The first two kinds are defined by migration 0002 on queue "platform",
 * the third when a scheduler registers them; a scheduler opened with
 * CM_SCHEDULER_PLATFORM_JOBS runs them: cm_scheduler_start() lives here
 * and hands their registration to lib/jobs, which knows nothing of the
 * domain.
 */
#include "assistant_int.h"
#include "commerce_int.h"
#include "newsletter_int.h"
#include "pay_int.h"
#include "uploads_int.h"

#include "../jobs/jobs_int.h"

#include <community/ai.h>

#include <stdio.h>
#include <string.h>

#define HOUR_US INT64_C(3600000000)
#define SWEEP_BATCH 50

static int outbox(cm__conn *conn, int64_t member_id, const char *to, const char *tmpl,
                  json_t *payload, const char *key, int64_t now)
{
    char *text = NULL;
    int rc = cm__json_dump(&text, payload);
    if (rc)
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, conn, "outbox.insert")) == CM_OK) {
        cm__q_int64(&q, 1, member_id);
        cm__q_text(&q, 2, to);
        cm__q_text(&q, 3, tmpl);
        cm__q_text(&q, 4, text);
        cm__q_text(&q, 5, key);
        cm__q_int64(&q, 6, now);
        rc = cm__ok(cm__q_step(&q));
        cm__q_close(&q);
    }
    cm__free(text);
    return rc;
}

/* Send one kind of reminder for one event to everyone going, and mark it. */
static int remind_event(int64_t *sent, cm__conn *conn, int64_t event_id, int64_t start_at,
                        const char *which, int64_t now)
{
    typedef struct rcpt {
        int64_t member_id;
        char *email, *name, *title, *start_local, *tz;
    } rcpt;
    rcpt *rs = NULL;
    size_t n = 0, cap = 0;
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.reminder_recipients");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, event_id);
    while ((rc = cm__q_step(&q)) == 1) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            rcpt *g = cm__realloc(rs, nc * sizeof *g);
            if (!g) {
                rc = cm__oom();
                break;
            }
            rs = g;
            cap = nc;
        }
        rcpt *r = &rs[n++];
        r->member_id = cm__q_col_int64(&q, 0);
        r->email = cm__strdup(cm__q_col_text(&q, 1));
        r->name = cm__strdup(cm__q_col_text(&q, 2));
        r->title = cm__strdup(cm__q_col_text(&q, 3));
        r->start_local = cm__strdup(cm__q_col_text(&q, 4));
        r->tz = cm__strdup(cm__q_col_text(&q, 5));
        if (!r->email || !r->name || !r->title || !r->start_local || !r->tz) {
            rc = cm__oom();
            break;
        }
    }
    cm__q_close(&q);
    rc = cm__ok(rc);
    char tmpl[32], key[96];
    (void)snprintf(tmpl, sizeof tmpl, "event_reminder_%s", which);
    for (size_t i = 0; rc == CM_OK && i < n; i++) {
        rcpt *r = &rs[i];
        json_t *p = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "event_id", (json_int_t)event_id,
                              "which", which, "name", r->name, "title", r->title, "start_local",
                              r->start_local, "timezone", r->tz);
        cm__json_set_time(p, "start_at", start_at);
        (void)snprintf(key, sizeof key, "reminder:%s:%lld:%lld", which, (long long)event_id,
                       (long long)r->member_id);
        rc = outbox(conn, r->member_id, r->email, tmpl, p, key, now);
        json_decref(p);
        if (rc == CM_OK)
            (*sent)++;
    }
    for (size_t i = 0; i < n; i++) {
        cm__free(rs[i].email);
        cm__free(rs[i].name);
        cm__free(rs[i].title);
        cm__free(rs[i].start_local);
        cm__free(rs[i].tz);
    }
    cm__free(rs);
    if (rc)
        return rc;
    if ((rc = cm__q_open(&q, conn, "jobs.reminder_mark")))
        return rc;
    cm__q_int64(&q, 1, event_id);
    cm__q_text(&q, 2, which);
    cm__q_int64(&q, 3, start_at);
    cm__q_int64(&q, 4, now);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    return cm__ok(rc);
}

int cm__platform_reminder_sweep(cm__conn *conn, int64_t now, int64_t *sent_out)
{
    static const struct {
        const char *which;
        int64_t lo, hi; /* start_at in (now + lo, now + hi] */
    } windows[] = {{"24h", HOUR_US, 24 * HOUR_US}, {"1h", 0, HOUR_US}};
    int64_t sent = 0;
    int rc = CM_OK;
    for (size_t w = 0; rc == CM_OK && w < 2; w++) {
        for (;;) {
            int64_t ids[SWEEP_BATCH], starts[SWEEP_BATCH];
            size_t n = 0;
            cm__q q;
            if ((rc = cm__q_open(&q, conn, "jobs.reminder_events")))
                break;
            cm__q_int64(&q, 1, now + windows[w].lo);
            cm__q_int64(&q, 2, now + windows[w].hi);
            cm__q_text(&q, 3, windows[w].which);
            cm__q_int64(&q, 4, SWEEP_BATCH);
            while (n < SWEEP_BATCH && (rc = cm__q_step(&q)) == 1) {
                ids[n] = cm__q_col_int64(&q, 0);
                starts[n] = cm__q_col_int64(&q, 1);
                n++;
            }
            cm__q_close(&q);
            if ((rc = cm__ok(rc)))
                break;
            for (size_t i = 0; rc == CM_OK && i < n; i++)
                rc = remind_event(&sent, conn, ids[i], starts[i], windows[w].which, now);
            if (rc || n < SWEEP_BATCH)
                break;
        }
    }
    if (sent_out)
        *sent_out = sent;
    return rc;
}

static int sweep_fn(cm__conn *conn, void *p)
{
    (void)p;
    int64_t sent = 0;
    return cm__platform_reminder_sweep(conn, cm_now_us(), &sent);
}

static int reminders_handler(cm_job *job, void *payload)
{
    (void)payload;
    return cm__job_complete_tx(job, sweep_fn, NULL);
}

typedef struct promo_call {
    cm_job *job;
    int64_t event_id, member_id;
} promo_call;

static int promo_fn(cm__conn *conn, void *p)
{
    promo_call *c = p;
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.waitlist_info");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, c->event_id);
    cm__q_int64(&q, 2, c->member_id);
    rc = cm__q_step(&q);
    json_t *p2 = NULL;
    char email[256] = "";
    if (rc == 1 && strcmp(cm__q_col_text(&q, 5), "going") == 0) {
        (void)snprintf(email, sizeof email, "%s", cm__q_col_text(&q, 0));
        p2 = json_pack("{s:I,s:s,s:s,s:s,s:s}", "event_id", (json_int_t)c->event_id, "name",
                       cm__q_col_text(&q, 1), "title", cm__q_col_text(&q, 2), "start_local",
                       cm__q_col_text(&q, 3), "timezone", cm__q_col_text(&q, 4));
    }
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (!p2) /* no longer going (cancelled since): nothing to say */
        return CM_OK;
    char key[96];
    (void)snprintf(key, sizeof key, "waitlist:%lld:%lld:%lld", (long long)c->event_id,
                   (long long)c->member_id, (long long)c->job->id);
    rc = outbox(conn, c->member_id, email, "waitlist_promoted", p2, key, cm_now_us());
    json_decref(p2);
    return rc;
}

static int waitlist_handler(cm_job *job, void *payload)
{
    (void)payload;
    json_t *in = json_loads(job->payload, 0, NULL);
    promo_call c = {job, cm__json_int(in, "event_id", 0), cm__json_int(in, "member_id", 0)};
    json_decref(in);
    if (c.event_id <= 0 || c.member_id <= 0) {
        cm_job_no_retry(job);
        return cm__error_set(CM_EINVAL, "payload needs event_id and member_id");
    }
    return cm__job_complete_tx(job, promo_fn, &c);
}

int cm__platform_notify_waitlist_promoted(cm__conn *conn, int64_t event_id, int64_t member_id,
                                          int64_t rsvp_id, int64_t seq)
{
    char payload[96], key[64];
    int len = snprintf(payload, sizeof payload, "{\"event_id\":%lld,\"member_id\":%lld}",
                       (long long)event_id, (long long)member_id);
    (void)snprintf(key, sizeof key, "waitlist:%lld:%lld", (long long)rsvp_id, (long long)seq);
    cm_job_options o = CM_JOB_OPTIONS_INIT;
    o.dedupe_key = key;
    return cm__jobs_enqueue_tx(NULL, conn, "platform.waitlist_promoted", payload, (size_t)len, &o);
}

/* Refresh up to a few hundred stale embeddings; the job retries (with
 * backoff) when the embedding service fails. */
static int embed_refresh_handler(cm_job *job, void *payload)
{
    (void)payload;
    uint32_t done = 0;
    int rc = cm_store_embed_refresh(job->store, 512, &done);
    if (rc == CM_OK && done)
        cm__log(CM_LOG_INFO, "jobs", "embed_refresh: %u embeddings computed", done);
    return rc;
}

static int expiry_fn(cm__conn *conn, void *p)
{
    (void)p;
    int64_t n = 0;
    int rc = cm__order_expire_holds(conn, cm_now_us(), 0, 1000, &n);
    if (rc == CM_OK && n)
        cm__log(CM_LOG_INFO, "jobs", "order_expiry: %lld holds expired", (long long)n);
    return rc;
}

static int order_expiry_handler(cm_job *job, void *payload)
{
    (void)payload;
    return cm__job_complete_tx(job, expiry_fn, NULL);
}

static int refunds_handler(cm_job *job, void *payload)
{
    (void)payload;
    int64_t sent = 0, failed = 0;
    int rc = cm__pay_send_refunds(job->store, 50, &sent, &failed);
    if (rc == CM_OK && (sent || failed))
        cm__log(CM_LOG_INFO, "jobs", "payment_refunds: %lld sent, %lld given up", (long long)sent,
                (long long)failed);
    return rc;
}

/* Delete the stored files blob_trash lists (queued by an erasure, a
 * deletion or a prune); retried with backoff while the storage fails. */
static int uploads_sweep_handler(cm_job *job, void *payload)
{
    (void)payload;
    int64_t deleted = 0;
    int rc = cm__uploads_sweep(job->store, cm_now_us(), 10000, &deleted);
    if (rc == CM_ENOTSUP) {
        cm__log(CM_LOG_WARN, "jobs",
                "uploads_sweep: this worker has no upload storage configured "
                "(cm_store_set_uploads); the files stay until a worker that has it runs "
                "the prune");
        cm_job_no_retry(job);
        return rc;
    }
    if (rc == CM_OK && deleted)
        cm__log(CM_LOG_INFO, "jobs", "uploads_sweep: %lld stored files deleted",
                (long long)deleted);
    return rc;
}

/* The daily prune: replaced versions older than the retention, then the
 * sweep. A store without upload storage has nothing to prune. */
static int uploads_prune_handler(cm_job *job, void *payload)
{
    (void)payload;
    int64_t pruned = 0, deleted = 0;
    int rc = cm__uploads_prune(job->store, cm_now_us(), -1, &pruned, &deleted);
    if (rc == CM_ENOTSUP) {
        cm_error_clear();
        return CM_OK;
    }
    if (rc == CM_OK && (pruned || deleted))
        cm__log(CM_LOG_INFO, "jobs", "uploads_prune: %lld versions pruned, %lld files deleted",
                (long long)pruned, (long long)deleted);
    return rc;
}

static int platform_register(cm_scheduler *s, cm_store *store)
{
    int rc = cm_scheduler_register(s, "platform.event_reminders", reminders_handler, NULL);
    if (rc && rc != CM_EEXISTS)
        return rc;
    rc = cm_scheduler_register(s, "platform.waitlist_promoted", waitlist_handler, NULL);
    if (rc && rc != CM_EEXISTS)
        return rc;
    rc = cm_scheduler_register(s, "platform.newsletter_fill", cm__newsletter_fill_handler, NULL);
    if (rc && rc != CM_EEXISTS)
        return rc;
    rc = cm_scheduler_register(s, "platform.uploads_sweep", uploads_sweep_handler, NULL);
    if (rc && rc != CM_EEXISTS)
        return rc;
    rc = cm_scheduler_register(s, "platform.uploads_prune", uploads_prune_handler, NULL);
    if (rc && rc != CM_EEXISTS)
        return rc;
    cm_job_kind_options ko = CM_JOB_KIND_OPTIONS_INIT;
    ko.queue = "platform";
    ko.max_attempts = 5;
    if ((rc = cm_jobs_define(store, "platform.embed_refresh", &ko)) ||
        ((rc = cm_scheduler_register(s, "platform.embed_refresh", embed_refresh_handler, NULL)) &&
         rc != CM_EEXISTS))
        return rc;
    if ((rc = cm_jobs_define(store, "platform.order_expiry", &ko)) ||
        ((rc = cm_scheduler_register(s, "platform.order_expiry", order_expiry_handler, NULL)) &&
         rc != CM_EEXISTS))
        return rc;
    if ((rc = cm_jobs_define(store, "platform.assistant_retention", &ko)) ||
        ((rc = cm_scheduler_register(s, "platform.assistant_retention",
                                     cm__assistant_retention_handler, NULL)) &&
         rc != CM_EEXISTS))
        return rc;
    if ((rc = cm_jobs_define(store, "platform.payment_refunds", &ko)) ||
        ((rc = cm_scheduler_register(s, "platform.payment_refunds", refunds_handler, NULL)) &&
         rc != CM_EEXISTS))
        return rc;
    cm_job_schedule_options o = CM_JOB_SCHEDULE_OPTIONS_INIT;
    o.every_us = 60 * INT64_C(1000000);
    o.start_at = cm_now_us();
    if ((rc = cm_jobs_schedule(NULL, store, "platform.event_reminders", "platform.event_reminders",
                               "{}", 2, &o)))
        return rc;
    if ((rc = cm_jobs_schedule(NULL, store, "platform.order_expiry", "platform.order_expiry", "{}",
                               2, &o)))
        return rc;
    if ((rc = cm_jobs_schedule(NULL, store, "platform.payment_refunds", "platform.payment_refunds",
                               "{}", 2, &o)))
        return rc;
    cm_job_schedule_options daily = CM_JOB_SCHEDULE_OPTIONS_INIT;
    daily.every_us = 24 * HOUR_US;
    daily.start_at = cm_now_us();
    if ((rc = cm_jobs_schedule(NULL, store, "platform.uploads_prune", "platform.uploads_prune",
                               "{}", 2, &daily)))
        return rc;
    if ((rc = cm_jobs_schedule(NULL, store, "platform.embed_refresh", "platform.embed_refresh",
                               "{}", 2, &o)))
        return rc;
    /* the assistant's retention: every 10 minutes, up to 1000 conversations */
    o.every_us = 600 * INT64_C(1000000);
    return cm_jobs_schedule(NULL, store, "platform.assistant_retention",
                            "platform.assistant_retention", "{}", 2, &o);
}

int cm_scheduler_start(cm_scheduler *s)
{
    return cm__scheduler_start(s, platform_register);
}
