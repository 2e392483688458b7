/*
 * scheduler.c - the job scheduler in the Node binding: the bridge between
 * the library's scheduler threads and JavaScript handlers.
 *
 * store.createScheduler(options) -> Scheduler, whose handlers are
 * JavaScript functions: register(kind, fn), start(), notify(), stats(),
 * close() -> Promise.
 *
 * A handler runs on the JavaScript thread. The scheduler's worker thread
 * that claimed the job hands it over through a napi_threadsafe_function
 * and waits until the handler's result (or its promise) settles; the
 * value becomes the job's result, a throw or rejection fails the attempt.
 * The waiting worker gives up (CM_ECANCELED) when the job is lost (lease,
 * timeout, cancellation, shutdown past the drain deadline) or the
 * environment is torn down, so that a handler that never settles cannot
 * wedge the scheduler. Each hand-over record is reference-counted between
 * the worker and JavaScript, so whichever side finishes last frees it.
 */
#include "binding.h"

#include <community/community.h>
#include <community/jobs.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const napi_type_tag sched_tag = {0x51c4e0d2a97b3f15ull, 0x6b8e2f0c4d1a7359ull};

/* ---------------------------------------------------------------------- */
/* the scheduler                                                          */
/* ---------------------------------------------------------------------- */

typedef enum sched_state { SC_NEW, SC_STARTED, SC_CLOSING, SC_CLOSED } sched_state;

typedef struct handler {
    struct handler *next;
    struct sched_wrap *sc;
    napi_ref fn;
    char kind[72];
} handler;

typedef struct sched_wrap {
    cmn_closer closer; /* first: the store closes us through it */
    store_wrap *sw;
    napi_ref store_ref; /* keeps the store object alive */
    napi_ref self;      /* this object: weak, strong while started or closing */
    bool strong;
    cm_scheduler *s;
    napi_threadsafe_function tsfn;
    sched_state state;
    bool released;        /* the store hold was given back */
    atomic_bool teardown; /* the environment is going away */
    handler *handlers;
    napi_deferred close_deferred;
    napi_ref close_promise;
} sched_wrap;

/* A job handed from a worker thread to JavaScript. */
typedef struct job_call {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;       /* worker + JavaScript side (+ the job object) */
    bool done;      /* settled by JavaScript */
    bool abandoned; /* the worker stopped waiting; `job` is gone */
    int rc;
    cm_job *job;
    handler *h;
} job_call;

/* Messages through the threadsafe function. */
typedef struct sched_msg {
    int type; /* 1 = job, 2 = closed */
    job_call *jc;
} sched_msg;

static void jc_unref(job_call *jc)
{
    pthread_mutex_lock(&jc->mu);
    int left = --jc->refs;
    pthread_mutex_unlock(&jc->mu);
    if (left == 0) {
        pthread_mutex_destroy(&jc->mu);
        pthread_cond_destroy(&jc->cv);
        free(jc);
    }
}

/* JavaScript side: record the outcome once and wake the worker. */
static void jc_settle(napi_env env, job_call *jc, int rc, napi_value result)
{
    char *json = NULL;
    size_t len = 0;
    if (rc == CM_OK && result && cmn_typeof(env, result) != napi_undefined &&
        !cmn_json_stringify(env, result, &json, &len)) {
        napi_value ex; /* an unserializable result fails the attempt */
        napi_get_and_clear_last_exception(env, &ex);
        rc = CM_EUSER;
    }
    pthread_mutex_lock(&jc->mu);
    if (!jc->done) {
        if (!jc->abandoned && json)
            (void)cm_job_set_result(jc->job, json, len);
        jc->done = true;
        jc->rc = rc;
        pthread_cond_signal(&jc->cv);
    }
    pthread_mutex_unlock(&jc->mu);
    free(json);
}

/* The status a rejection maps to: a libcommunity error keeps its code. */
static int rejection_status(napi_env env, napi_value err)
{
    napi_value st;
    double d;
    if (cmn_typeof(env, err) == napi_object &&
        napi_get_named_property(env, err, "status", &st) == napi_ok &&
        cmn_typeof(env, st) == napi_number && napi_get_value_double(env, st, &d) == napi_ok &&
        d < 0 && d >= CM_STATUS_MIN_ && floor(d) == d)
        return (int)d;
    return CM_EUSER;
}

static napi_value on_fulfilled(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value v = NULL;
    void *data;
    napi_get_cb_info(env, info, &argc, &v, NULL, &data);
    jc_settle(env, data, CM_OK, argc ? v : NULL);
    jc_unref(data);
    return NULL;
}

static napi_value on_rejected(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value v = NULL;
    void *data;
    napi_get_cb_info(env, info, &argc, &v, NULL, &data);
    jc_settle(env, data, rejection_status(env, v), NULL);
    jc_unref(data);
    return NULL;
}

/* job.lost(): null while the job is held, else the reason ("CM_ELEASE"...). */
static napi_value job_lost(napi_env env, napi_callback_info info)
{
    void *data = NULL;
    napi_value self, v;
    napi_get_cb_info(env, info, NULL, NULL, &self, NULL);
    if (napi_unwrap(env, self, &data) != napi_ok || !data)
        return cmn_type_error(env, "lost() must be called on a job");
    job_call *jc = data;
    int rc;
    pthread_mutex_lock(&jc->mu);
    rc = jc->abandoned || jc->done ? CM_ECANCELED : cm_job_lost(jc->job);
    pthread_mutex_unlock(&jc->mu);
    if (rc == CM_OK) {
        napi_get_null(env, &v);
        return v;
    }
    CMN_CALL(env, napi_create_string_utf8(env, cm_status_name(rc), NAPI_AUTO_LENGTH, &v));
    return v;
}

static void job_object_finalize(napi_env env, void *data, void *hint)
{
    jc_unref(data);
}

static napi_value job_object(napi_env env, job_call *jc)
{
    napi_value o, v;
    size_t len = 0;
    const char *payload = cm_job_payload(jc->job, &len);
    CMN_CALL(env, napi_create_object(env, &o));
    CMN_CALL(env, napi_create_int64(env, cm_job_id(jc->job), &v));
    CMN_CALL(env, napi_set_named_property(env, o, "id", v));
    CMN_CALL(env, napi_create_string_utf8(env, cm_job_kind(jc->job), NAPI_AUTO_LENGTH, &v));
    CMN_CALL(env, napi_set_named_property(env, o, "kind", v));
    CMN_CALL(env, napi_create_string_utf8(env, cm_job_queue(jc->job), NAPI_AUTO_LENGTH, &v));
    CMN_CALL(env, napi_set_named_property(env, o, "queue", v));
    CMN_CALL(env, napi_create_int32(env, cm_job_attempt(jc->job), &v));
    CMN_CALL(env, napi_set_named_property(env, o, "attempt", v));
    CMN_CALL(env, napi_create_int32(env, cm_job_max_attempts(jc->job), &v));
    CMN_CALL(env, napi_set_named_property(env, o, "maxAttempts", v));
    if (!(v = cmn_json_parse(env, payload && len ? payload : "null")))
        return NULL;
    CMN_CALL(env, napi_set_named_property(env, o, "payload", v));
    CMN_CALL(env, napi_create_function(env, "lost", NAPI_AUTO_LENGTH, job_lost, NULL, &v));
    CMN_CALL(env, napi_set_named_property(env, o, "lost", v));
    pthread_mutex_lock(&jc->mu);
    jc->refs++;
    pthread_mutex_unlock(&jc->mu);
    if (napi_wrap(env, o, jc, job_object_finalize, NULL, NULL) != napi_ok) {
        jc_unref(jc);
        cmn_throw_last(env);
        return NULL;
    }
    return o;
}

/* JavaScript thread: run the handler of one job. */
static void run_handler(napi_env env, job_call *jc)
{
    napi_value fn, global, job, result, then, handlers[2], args[2];
    bool is_promise = false;
    if (napi_get_reference_value(env, jc->h->fn, &fn) != napi_ok ||
        napi_get_global(env, &global) != napi_ok || !(job = job_object(env, jc)) ||
        napi_call_function(env, global, fn, 1, &job, &result) != napi_ok) {
        napi_value ex;
        napi_get_and_clear_last_exception(env, &ex);
        jc_settle(env, jc, rejection_status(env, ex), NULL);
        return;
    }
    napi_is_promise(env, result, &is_promise);
    if (!is_promise) {
        jc_settle(env, jc, CM_OK, result);
        return;
    }
    /* One reference for the pair of callbacks: only one of them runs. */
    pthread_mutex_lock(&jc->mu);
    jc->refs++;
    pthread_mutex_unlock(&jc->mu);
    if (napi_create_function(env, "onFulfilled", NAPI_AUTO_LENGTH, on_fulfilled, jc,
                             &handlers[0]) != napi_ok ||
        napi_create_function(env, "onRejected", NAPI_AUTO_LENGTH, on_rejected, jc, &handlers[1]) !=
            napi_ok ||
        napi_get_named_property(env, result, "then", &then) != napi_ok) {
        napi_value ex;
        napi_get_and_clear_last_exception(env, &ex);
        jc_settle(env, jc, CM_EUSER, NULL);
        jc_unref(jc);
        return;
    }
    args[0] = handlers[0];
    args[1] = handlers[1];
    if (napi_call_function(env, result, then, 2, args, NULL) != napi_ok) {
        napi_value ex;
        napi_get_and_clear_last_exception(env, &ex);
        jc_settle(env, jc, CM_EUSER, NULL);
        jc_unref(jc);
    }
}

static void sched_release_store(napi_env env, sched_wrap *sc)
{
    if (sc->released)
        return;
    sc->released = true;
    cmn_store_remove_closer(sc->sw, &sc->closer);
    napi_ref r = sc->store_ref;
    sc->store_ref = NULL;
    cmn_store_release(env, sc->sw);
    napi_delete_reference(env, r);
}

static void handlers_free(napi_env env, sched_wrap *sc)
{
    while (sc->handlers) {
        handler *h = sc->handlers;
        sc->handlers = h->next;
        if (env)
            napi_delete_reference(env, h->fn);
        free(h);
    }
}

/* JavaScript thread: the scheduler has drained and been freed. */
static void sched_closed(napi_env env, sched_wrap *sc)
{
    sc->s = NULL;
    sc->state = SC_CLOSED;
    handlers_free(env, sc);
    if (sc->close_deferred) {
        napi_value undef;
        napi_get_undefined(env, &undef);
        napi_resolve_deferred(env, sc->close_deferred, undef);
        sc->close_deferred = NULL;
    }
    if (sc->close_promise) {
        napi_delete_reference(env, sc->close_promise);
        sc->close_promise = NULL;
    }
    napi_threadsafe_function t = sc->tsfn;
    sc->tsfn = NULL;
    if (t)
        napi_release_threadsafe_function(t, napi_tsfn_release);
    sched_release_store(env, sc);
    if (sc->strong) {
        sc->strong = false;
        napi_reference_unref(env, sc->self, NULL); /* may let the object be collected */
    }
}

/* Keep the object alive while the scheduler runs or closes. */
static void sched_hold_self(napi_env env, sched_wrap *sc)
{
    uint32_t n;
    if (!sc->strong && napi_reference_ref(env, sc->self, &n) == napi_ok)
        sc->strong = true;
}

static void call_js(napi_env env, napi_value js_cb, void *context, void *data)
{
    sched_wrap *sc = context;
    sched_msg *m = data;
    if (m->type == 1) {
        job_call *jc = m->jc;
        free(m);
        if (!env) { /* torn down: nobody will run it */
            jc_settle(NULL, jc, CM_ECANCELED, NULL);
        } else {
            run_handler(env, jc);
        }
        jc_unref(jc);
    } else {
        free(m);
        if (env)
            sched_closed(env, sc);
    }
}

/* Scheduler worker thread: hand the job to JavaScript and wait for it. */
static int c_handler(cm_job *job, void *payload)
{
    handler *h = payload;
    sched_wrap *sc = h->sc;
    if (atomic_load(&sc->teardown))
        return CM_ECANCELED;
    job_call *jc = calloc(1, sizeof *jc);
    sched_msg *m = malloc(sizeof *m);
    if (!jc || !m) {
        free(jc);
        free(m);
        return CM_ENOMEM;
    }
    pthread_mutex_init(&jc->mu, NULL);
    pthread_cond_init(&jc->cv, NULL);
    jc->refs = 2;
    jc->job = job;
    jc->h = h;
    m->type = 1;
    m->jc = jc;
    if (napi_call_threadsafe_function(sc->tsfn, m, napi_tsfn_blocking) != napi_ok) {
        free(m);
        jc->refs = 1;
        jc_unref(jc);
        return CM_ECANCELED;
    }
    pthread_mutex_lock(&jc->mu);
    while (!jc->done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        int w = pthread_cond_timedwait(&jc->cv, &jc->mu, &ts);
        if (!jc->done && w == ETIMEDOUT &&
            (atomic_load(&sc->teardown) || cm_job_lost(job) != CM_OK)) {
            jc->abandoned = true;
            jc->rc = CM_ECANCELED;
            break;
        }
    }
    jc->abandoned = true; /* from here on `job` is no longer valid for JS */
    int rc = jc->rc;
    pthread_mutex_unlock(&jc->mu);
    jc_unref(jc);
    /* The job's last error is this thread's error message: make sure it is
     * not a stale one (the public API cannot carry the JavaScript message). */
    cm_error_clear();
    return rc;
}

/* Any thread: cm_scheduler_close() finished. */
static void on_sched_closed(void *payload)
{
    sched_wrap *sc = payload;
    sched_msg *m = malloc(sizeof *m);
    if (!m)
        return; /* cannot tell JS; the close promise stays pending */
    m->type = 2;
    m->jc = NULL;
    if (napi_call_threadsafe_function(sc->tsfn, m, napi_tsfn_blocking) != napi_ok)
        free(m);
}

/* Start closing (JavaScript thread); idempotent. */
static void sched_begin_close(napi_env env, sched_wrap *sc)
{
    if (sc->state == SC_CLOSING || sc->state == SC_CLOSED)
        return;
    sc->state = SC_CLOSING;
    cmn_store_remove_closer(sc->sw, &sc->closer);
    /* Keep the event loop alive until the "closed" message arrives. */
    napi_ref_threadsafe_function(env, sc->tsfn);
    cm_scheduler_close(sc->s, on_sched_closed, sc);
}

static void sched_closer(napi_env env, cmn_closer *c)
{
    sched_wrap *sc = (sched_wrap *)c; /* closer is the first member */
    sched_hold_self(env, sc);
    sched_begin_close(env, sc);
}

/* Environment teardown: stop the workers from waiting for JavaScript. */
static void sched_env_cleanup(void *arg)
{
    sched_wrap *sc = arg;
    atomic_store(&sc->teardown, true);
    if (sc->s && sc->state == SC_STARTED)
        (void)cm_scheduler_stop(sc->s, 0);
}

static void sched_finalize(napi_env env, void *data, void *hint)
{
    sched_wrap *sc = data;
    napi_remove_env_cleanup_hook(env, sched_env_cleanup, sc);
    napi_delete_reference(env, sc->self);
    sc->self = NULL;
    /* Started or closing schedulers hold `self`, so a collected one never
     * started or is closed; at teardown a running one is left alone. */
    if (sc->state == SC_NEW) {
        cm_scheduler_close(sc->s, NULL, NULL);
        sc->s = NULL;
        handlers_free(env, sc);
        if (sc->tsfn)
            napi_release_threadsafe_function(sc->tsfn, napi_tsfn_abort);
        sched_release_store(env, sc);
        free(sc);
    } else if (sc->state == SC_CLOSED) {
        free(sc);
    }
    /* else: torn down while running or closing; the workers may still
     * reach `sc`, so it is left to the process exit. */
}

static sched_wrap *sched_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv,
                              napi_value *self_out)
{
    return cmn_unwrap_this(env, info, argc, argv, self_out, &sched_tag,
                           "a Scheduler (from store.createScheduler())");
}

/* store.createScheduler({threads, leaseMs, heartbeatMs, pollMs, prefetch,
 *   drainMs, workerId, schedules, prune, platformJobs}) -> Scheduler */
static napi_value js_create_scheduler(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1] = {NULL}, self;
    store_wrap *sw = cmn_store_this(env, info, &argc, argv, &self);
    if (!sw)
        return NULL;
    cm_scheduler_options o = CM_SCHEDULER_OPTIONS_INIT;
    char *worker = NULL;
    if (argv[0] && !cmn_is_nullish(env, argv[0])) {
        napi_value a = argv[0];
        static const char *const keys[] = {"threads",  "leaseMs",      "heartbeatMs", "pollMs",
                                           "prefetch", "drainMs",      "workerId",    "schedules",
                                           "prune",    "platformJobs", NULL};
        int64_t v;
        bool g;
        if (!cmn_is_plain_object(env, a))
            return cmn_type_error(env, "options must be an object");
        if (!cmn_check_keys(env, a, "options", keys))
            return NULL;
#define CMN_U32(key, field, lo, hi)                                                                \
    if (!cmn_opt_num(env, a, key, "options." key, lo, hi, 1, &v, &g))                              \
        return NULL;                                                                               \
    if (g)                                                                                         \
        o.field = (uint32_t)v;
        CMN_U32("threads", threads, 1, 256)
        CMN_U32("leaseMs", lease_ms, 100, 86400000)
        CMN_U32("heartbeatMs", heartbeat_ms, 0, 86400000)
        CMN_U32("pollMs", poll_ms, 1, 3600000)
        CMN_U32("prefetch", prefetch, 0, 10000)
        CMN_U32("drainMs", drain_ms, 0, 86400000)
#undef CMN_U32
        static const struct {
            const char *key;
            uint32_t flag;
            bool when;
        } flags[] = {{"schedules", CM_SCHEDULER_NO_SCHEDULES, false},
                     {"prune", CM_SCHEDULER_NO_PRUNE, false},
                     {"platformJobs", CM_SCHEDULER_PLATFORM_JOBS, true}};
        for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
            napi_value b;
            bool val;
            if (!cmn_get_prop(env, a, flags[i].key, &b))
                return NULL;
            if (cmn_is_nullish(env, b))
                continue;
            if (cmn_typeof(env, b) != napi_boolean || napi_get_value_bool(env, b, &val) != napi_ok)
                return cmn_type_error(env, "options.%s must be a boolean", flags[i].key);
            if (val == flags[i].when)
                o.flags |= flags[i].flag;
        }
        if (!cmn_opt_str(env, a, "workerId", "options.workerId", &worker))
            return NULL;
        o.worker_id = worker;
    }
    cm_store *store = cmn_store_handle(sw);
    if (!store) {
        free(worker);
        napi_throw(env, cmn_error_value(env, CM_EMISUSE, "the store is closed", "", ""));
        return NULL;
    }
    sched_wrap *sc = calloc(1, sizeof *sc);
    if (!sc) {
        free(worker);
        napi_throw_error(env, "CM_ENOMEM", "out of memory");
        return NULL;
    }
    int rc = cm_scheduler_open(&sc->s, store, &o);
    free(worker);
    if (rc) {
        cmn_err e;
        cmn_err_capture(&e, rc);
        free(sc);
        napi_throw(env, cmn_error_value(env, rc, e.message, e.field, e.backend));
        return NULL;
    }
    sc->sw = sw;
    sc->released = true; /* no hold on the store yet */
    sc->closer.close = sched_closer;
    napi_value ctor, ext, obj, name;
    if (napi_get_reference_value(env, cmn_env_get(env)->sched_ctor, &ctor) != napi_ok ||
        napi_create_external(env, sc, NULL, NULL, &ext) != napi_ok ||
        napi_new_instance(env, ctor, 1, &ext, &obj) != napi_ok) {
        if (!sc->self) {
            cm_scheduler_close(sc->s, NULL, NULL);
            free(sc);
        }
        cmn_throw_last(env);
        return NULL;
    }
    /* The object owns sc now (finalizer). */
    if (napi_create_string_utf8(env, "libcommunity.scheduler", NAPI_AUTO_LENGTH, &name) !=
            napi_ok ||
        napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, sc, call_js,
                                        &sc->tsfn) != napi_ok ||
        napi_create_reference(env, self, 1, &sc->store_ref) != napi_ok) {
        cmn_throw_last(env);
        return NULL;
    }
    /* Not ref'd until start(): an idle scheduler does not keep node alive. */
    napi_unref_threadsafe_function(env, sc->tsfn);
    cmn_store_hold(sw);
    sc->released = false;
    cmn_store_add_closer(sw, &sc->closer);
    napi_add_env_cleanup_hook(env, sched_env_cleanup, sc);
    return obj;
}

static napi_value sched_ctor(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1], self;
    CMN_CALL(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
    void *p = NULL;
    if (argc != 1 || cmn_typeof(env, argv[0]) != napi_external ||
        napi_get_value_external(env, argv[0], &p) != napi_ok || !p || ((sched_wrap *)p)->self)
        return cmn_type_error(env, "Scheduler cannot be constructed directly: use "
                                   "store.createScheduler()");
    sched_wrap *sc = p;
    CMN_CALL(env, napi_wrap(env, self, sc, sched_finalize, NULL, &sc->self));
    CMN_CALL(env, napi_type_tag_object(env, self, &sched_tag));
    return self;
}

static void sched_throw(napi_env env, int rc)
{
    cmn_err e;
    cmn_err_capture(&e, rc);
    napi_throw(env, cmn_error_value(env, rc, e.message, e.field, e.backend));
}

/* scheduler.register(kind, handler) */
static napi_value js_sched_register(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2] = {NULL, NULL};
    sched_wrap *sc = sched_this(env, info, &argc, argv, NULL);
    if (!sc)
        return NULL;
    char *kind = NULL;
    if (!cmn_get_string(env, argv[0], "kind", &kind, NULL))
        return NULL;
    if (cmn_typeof(env, argv[1]) != napi_function) {
        free(kind);
        return cmn_type_error(env, "handler must be a function");
    }
    if (sc->state != SC_NEW) {
        free(kind);
        napi_throw(env,
                   cmn_error_value(env, CM_EMISUSE, "register() must come before start()", "", ""));
        return NULL;
    }
    handler *h = calloc(1, sizeof *h);
    if (!h || strlen(kind) >= sizeof h->kind) {
        free(kind);
        free(h);
        if (!h) {
            napi_throw_error(env, "CM_ENOMEM", "out of memory");
            return NULL;
        }
        return cmn_range_error(env, "kind is too long");
    }
    memcpy(h->kind, kind, strlen(kind) + 1);
    free(kind);
    h->sc = sc;
    int rc = cm_scheduler_register(sc->s, h->kind, c_handler, h);
    if (rc) {
        free(h);
        sched_throw(env, rc);
        return NULL;
    }
    if (napi_create_reference(env, argv[1], 1, &h->fn) != napi_ok) {
        free(h); /* registered but unusable: its jobs fail their attempt */
        cmn_throw_last(env);
        return NULL;
    }
    h->next = sc->handlers;
    sc->handlers = h;
    return NULL;
}

/* scheduler.start(): the process stays alive until close(). */
static napi_value js_sched_start(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    sched_wrap *sc = sched_this(env, info, &argc, NULL, NULL);
    if (!sc)
        return NULL;
    if (sc->state != SC_NEW) {
        napi_throw(env, cmn_error_value(env, CM_EMISUSE,
                                        "the scheduler was already started "
                                        "or closed",
                                        "", ""));
        return NULL;
    }
    int rc = cm_scheduler_start(sc->s);
    if (rc) {
        sched_throw(env, rc);
        return NULL;
    }
    sc->state = SC_STARTED;
    napi_ref_threadsafe_function(env, sc->tsfn);
    sched_hold_self(env, sc);
    return NULL;
}

static napi_value js_sched_notify(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    sched_wrap *sc = sched_this(env, info, &argc, NULL, NULL);
    if (sc && sc->s && sc->state == SC_STARTED)
        cm_scheduler_notify(sc->s);
    return NULL;
}

static napi_value js_sched_stats(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    sched_wrap *sc = sched_this(env, info, &argc, NULL, NULL);
    if (!sc)
        return NULL;
    if (!sc->s || sc->state == SC_CLOSED) {
        napi_throw(env, cmn_error_value(env, CM_EMISUSE, "the scheduler is closed", "", ""));
        return NULL;
    }
    char *json = NULL;
    int rc = cm_scheduler_stats(&json, sc->s);
    if (rc) {
        sched_throw(env, rc);
        return NULL;
    }
    napi_value v = cmn_json_parse(env, json);
    cm_free(json);
    return v;
}

/* scheduler.close() -> Promise<void>: drains running handlers first. */
static napi_value js_sched_close(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    sched_wrap *sc = sched_this(env, info, &argc, NULL, NULL);
    napi_value promise;
    if (!sc)
        return NULL;
    if (sc->state == SC_CLOSING && sc->close_promise) {
        CMN_CALL(env, napi_get_reference_value(env, sc->close_promise, &promise));
        return promise;
    }
    napi_deferred d;
    CMN_CALL(env, napi_create_promise(env, &d, &promise));
    if (sc->state == SC_CLOSED || sc->state == SC_CLOSING) {
        /* Closed, or closing because the store closes: resolved at once
         * in the first case; in the second the store's close waits. */
        napi_value undef;
        napi_get_undefined(env, &undef);
        CMN_CALL(env, napi_resolve_deferred(env, d, undef));
        return promise;
    }
    CMN_CALL(env, napi_create_reference(env, promise, 1, &sc->close_promise));
    sc->close_deferred = d;
    sched_hold_self(env, sc);
    sched_begin_close(env, sc);
    return promise;
}

static napi_value js_sched_get_state(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    sched_wrap *sc = sched_this(env, info, &argc, NULL, NULL);
    if (!sc)
        return NULL;
    static const char *const names[] = {"new", "started", "closing", "closed"};
    napi_value v;
    CMN_CALL(env, napi_create_string_utf8(env, names[sc->state], NAPI_AUTO_LENGTH, &v));
    return v;
}

bool cmn_scheduler_init(napi_env env, napi_value exports, napi_value store_ctor)
{
    napi_property_descriptor store_props[] = {
        {"createScheduler", NULL, js_create_scheduler, NULL, NULL, NULL, napi_default_method, NULL},
    };
    napi_property_descriptor sched_props[] = {
        {"register", NULL, js_sched_register, NULL, NULL, NULL, napi_default_method, NULL},
        {"start", NULL, js_sched_start, NULL, NULL, NULL, napi_default_method, NULL},
        {"notify", NULL, js_sched_notify, NULL, NULL, NULL, napi_default_method, NULL},
        {"stats", NULL, js_sched_stats, NULL, NULL, NULL, napi_default_method, NULL},
        {"close", NULL, js_sched_close, NULL, NULL, NULL, napi_default_method, NULL},
        {"state", NULL, NULL, js_sched_get_state, NULL, NULL, napi_configurable, NULL},
    };
    napi_value proto, ctor;
    if (napi_get_named_property(env, store_ctor, "prototype", &proto) != napi_ok ||
        napi_define_properties(env, proto, sizeof store_props / sizeof store_props[0],
                               store_props) != napi_ok ||
        napi_define_class(env, "Scheduler", NAPI_AUTO_LENGTH, sched_ctor, NULL,
                          sizeof sched_props / sizeof sched_props[0], sched_props,
                          &ctor) != napi_ok ||
        napi_set_named_property(env, exports, "Scheduler", ctor) != napi_ok)
        return false;
    cmn_env *e = cmn_env_get(env);
    return napi_create_reference(env, ctor, 1, &e->sched_ctor) == napi_ok;
}
