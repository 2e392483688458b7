/*
 * jobs_queue.c - the job queue's store methods in the Node binding, each a
 * Promise run on the libuv thread pool (cmn_async): defineJob(kind,
 * options), enqueue(kind, payload, options) -> id, cancelJob(id),
 * jobStats() -> object. The scheduler is in scheduler.c.
 */
#include "binding.h"

#include <community/community.h>
#include <community/jobs.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool opt_backoff(napi_env env, napi_value obj, const char *what, int32_t *out)
{
    char *s = NULL;
    if (!cmn_opt_str(env, obj, "backoff", what, &s))
        return false;
    if (!s)
        return true;
    bool ok = true;
    if (strcmp(s, "fixed") == 0)
        *out = CM_JOB_BACKOFF_FIXED;
    else if (strcmp(s, "exponential") == 0)
        *out = CM_JOB_BACKOFF_EXPONENTIAL;
    else
        ok = false;
    free(s);
    if (!ok)
        cmn_range_error(env, "%s must be 'fixed' or 'exponential'", what);
    return ok;
}

/* ---------------------------------------------------------------------- */
/* store methods: defineJob, enqueue, cancelJob, jobStats                 */
/* ---------------------------------------------------------------------- */

typedef enum jop { J_DEFINE, J_ENQUEUE, J_CANCEL, J_STATS } jop;

typedef struct jreq {
    cmn_async a; /* first: the request is its cmn_async */
    cm_store *store;
    jop op;
    char *kind;
    char *payload;
    size_t payload_len;
    char *queue;
    char *dedupe;
    cm_job_kind_options kopts;
    cm_job_options jopts;
    int64_t id;
    char *out;
} jreq;

static void jreq_free(napi_env env, cmn_async *a)
{
    (void)env;
    jreq *r = (jreq *)a;
    free(r->kind);
    free(r->payload);
    free(r->queue);
    free(r->dedupe);
    cm_free(r->out);
    free(r);
}

static int jreq_run(cmn_async *a)
{
    jreq *r = (jreq *)a;
    switch (r->op) {
        case J_DEFINE:
            return cm_jobs_define(r->store, r->kind, &r->kopts);
        case J_ENQUEUE:
            return cm_jobs_enqueue(&r->id, r->store, r->kind, r->payload, r->payload_len,
                                   &r->jopts);
        case J_CANCEL:
            return cm_jobs_cancel(r->store, r->id);
        case J_STATS:
            return cm_jobs_stats(&r->out, r->store);
    }
    return CM_OK;
}

static napi_value jreq_result(napi_env env, cmn_async *a)
{
    jreq *r = (jreq *)a;
    napi_value v = NULL;
    if (r->op == J_ENQUEUE)
        napi_create_int64(env, r->id, &v);
    else if (r->op == J_STATS)
        v = cmn_json_parse(env, r->out ? r->out : "null");
    else
        napi_get_undefined(env, &v);
    return v;
}

/* A dedupe conflict names the live job holding the key. */
static void jreq_on_error(napi_env env, cmn_async *a, napi_value err)
{
    jreq *r = (jreq *)a;
    napi_value id;
    if (r->op == J_ENQUEUE && r->a.err.rc == CM_EEXISTS && r->id > 0 &&
        napi_create_int64(env, r->id, &id) == napi_ok)
        napi_set_named_property(env, err, "jobId", id);
}

/* Queue `r` (arguments already parsed) and return its promise. */
static napi_value jreq_queue(napi_env env, jreq *r, store_wrap *sw, napi_value self)
{
    r->store = cmn_store_handle(sw);
    if (!r->store) {
        jreq_free(env, &r->a);
        return cmn_store_rejected_closed(env, sw);
    }
    return cmn_async_queue(env, &r->a, "libcommunity.jobs", self, sw);
}

static jreq *jreq_new(napi_env env, jop op)
{
    jreq *r = calloc(1, sizeof *r);
    if (!r) {
        napi_throw_error(env, "CM_ENOMEM", "out of memory");
        return NULL;
    }
    r->op = op;
    r->a.run = jreq_run;
    r->a.result = jreq_result;
    r->a.on_error = jreq_on_error;
    r->a.dispose = jreq_free;
    cm_job_kind_options k = CM_JOB_KIND_OPTIONS_INIT;
    cm_job_options j = CM_JOB_OPTIONS_INIT;
    r->kopts = k;
    r->jopts = j;
    return r;
}

/* store.defineJob(kind, {queue, priority, maxAttempts, backoff, backoffMs,
 *                        backoffMaxMs, timeoutMs, maxPayload}) */
static napi_value js_define_job(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2] = {NULL, NULL}, self;
    store_wrap *sw = cmn_store_this(env, info, &argc, argv, &self);
    if (!sw)
        return NULL;
    jreq *r = jreq_new(env, J_DEFINE);
    if (!r)
        return NULL;
    if (!cmn_get_string(env, argv[0], "kind", &r->kind, NULL))
        goto fail;
    if (argv[1] && !cmn_is_nullish(env, argv[1])) {
        napi_value o = argv[1];
        static const char *const keys[] = {"queue",     "priority",   "maxAttempts",
                                           "backoff",   "backoffMs",  "backoffMaxMs",
                                           "timeoutMs", "maxPayload", NULL};
        int64_t v;
        bool g;
        if (!cmn_is_plain_object(env, o)) {
            cmn_type_error(env, "options must be an object");
            goto fail;
        }
        if (!cmn_check_keys(env, o, "options", keys) ||
            !cmn_opt_str(env, o, "queue", "options.queue", &r->queue))
            goto fail;
        r->kopts.queue = r->queue;
        if (!cmn_opt_num(env, o, "priority", "options.priority", -1000, 1000, 1, &v, &g))
            goto fail;
        if (g)
            r->kopts.priority = (int32_t)v;
        if (!cmn_opt_num(env, o, "maxAttempts", "options.maxAttempts", 1, 1000, 1, &v, &g))
            goto fail;
        if (g)
            r->kopts.max_attempts = (int32_t)v;
        if (!opt_backoff(env, o, "options.backoff", &r->kopts.backoff) ||
            !cmn_opt_num(env, o, "backoffMs", "options.backoffMs", 0, 1e12, 1000,
                         &r->kopts.backoff_us, NULL) ||
            !cmn_opt_num(env, o, "backoffMaxMs", "options.backoffMaxMs", 0, 1e12, 1000,
                         &r->kopts.backoff_max_us, NULL) ||
            !cmn_opt_num(env, o, "timeoutMs", "options.timeoutMs", 0, 1e12, 1000,
                         &r->kopts.timeout_us, NULL) ||
            !cmn_opt_num(env, o, "maxPayload", "options.maxPayload", 1, 1 << 20, 1, &v, &g))
            goto fail;
        if (g)
            r->kopts.max_payload = (uint32_t)v;
    }
    return jreq_queue(env, r, sw, self);
fail:
    jreq_free(env, &r->a);
    return NULL;
}

/* store.enqueue(kind, payload, {delayMs, runAt, priority, queue, maxAttempts,
 *                               dedupeKey, replace}) -> Promise<id> */
static napi_value js_enqueue(napi_env env, napi_callback_info info)
{
    size_t argc = 3;
    napi_value argv[3] = {NULL, NULL, NULL}, self;
    store_wrap *sw = cmn_store_this(env, info, &argc, argv, &self);
    if (!sw)
        return NULL;
    jreq *r = jreq_new(env, J_ENQUEUE);
    if (!r)
        return NULL;
    if (!cmn_get_string(env, argv[0], "kind", &r->kind, NULL))
        goto fail;
    if (argc > 1 && cmn_typeof(env, argv[1]) != napi_undefined) {
        napi_valuetype t = cmn_typeof(env, argv[1]);
        if (t == napi_function || t == napi_symbol || t == napi_bigint) {
            cmn_type_error(env, "payload must be a JSON value");
            goto fail;
        }
        if (!cmn_json_stringify(env, argv[1], &r->payload, &r->payload_len))
            goto fail;
    }
    if (argc > 2 && !cmn_is_nullish(env, argv[2])) {
        napi_value o = argv[2];
        static const char *const keys[] = {"delayMs",     "runAt",     "priority", "queue",
                                           "maxAttempts", "dedupeKey", "replace",  NULL};
        int64_t v;
        bool g;
        if (!cmn_is_plain_object(env, o)) {
            cmn_type_error(env, "options must be an object");
            goto fail;
        }
        if (!cmn_check_keys(env, o, "options", keys) ||
            !cmn_opt_num(env, o, "delayMs", "options.delayMs", 0, 1e13, 1000, &r->jopts.delay_us,
                         NULL) ||
            !cmn_opt_num(env, o, "runAt", "options.runAt", 0, 1e14, 1000, &r->jopts.run_at, NULL) ||
            !cmn_opt_num(env, o, "priority", "options.priority", -1000, 1000, 1, &v, &g))
            goto fail;
        if (g)
            r->jopts.priority = (int32_t)v;
        if (!cmn_opt_num(env, o, "maxAttempts", "options.maxAttempts", 1, 1000, 1, &v, &g))
            goto fail;
        if (g)
            r->jopts.max_attempts = (int32_t)v;
        if (!cmn_opt_str(env, o, "queue", "options.queue", &r->queue) ||
            !cmn_opt_str(env, o, "dedupeKey", "options.dedupeKey", &r->dedupe))
            goto fail;
        r->jopts.queue = r->queue;
        r->jopts.dedupe_key = r->dedupe;
        napi_value rep;
        if (!cmn_get_prop(env, o, "replace", &rep))
            goto fail;
        if (!cmn_is_nullish(env, rep)) {
            bool b = false;
            if (cmn_typeof(env, rep) != napi_boolean ||
                napi_get_value_bool(env, rep, &b) != napi_ok) {
                cmn_type_error(env, "options.replace must be a boolean");
                goto fail;
            }
            r->jopts.dedupe = b ? CM_JOB_DEDUPE_REPLACE : CM_JOB_DEDUPE_REJECT;
        }
    }
    return jreq_queue(env, r, sw, self);
fail:
    jreq_free(env, &r->a);
    return NULL;
}

static bool get_id(napi_env env, napi_value v, const char *what, int64_t *out)
{
    double d;
    if (cmn_typeof(env, v) != napi_number || napi_get_value_double(env, v, &d) != napi_ok) {
        cmn_type_error(env, "%s must be a number", what);
        return false;
    }
    if (!(d >= 1 && d <= 9007199254740991.0) || floor(d) != d) {
        cmn_range_error(env, "%s must be a positive integer", what);
        return false;
    }
    *out = (int64_t)d;
    return true;
}

/* store.cancelJob(id) -> Promise<void> */
static napi_value js_cancel_job(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1] = {NULL}, self;
    store_wrap *sw = cmn_store_this(env, info, &argc, argv, &self);
    if (!sw)
        return NULL;
    jreq *r = jreq_new(env, J_CANCEL);
    if (!r)
        return NULL;
    if (!get_id(env, argv[0], "id", &r->id)) {
        jreq_free(env, &r->a);
        return NULL;
    }
    return jreq_queue(env, r, sw, self);
}

/* store.jobStats() -> Promise<object> */
static napi_value js_job_stats(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    napi_value self;
    store_wrap *sw = cmn_store_this(env, info, &argc, NULL, &self);
    if (!sw)
        return NULL;
    jreq *r = jreq_new(env, J_STATS);
    return r ? jreq_queue(env, r, sw, self) : NULL;
}

bool cmn_jobs_queue_init(napi_env env, napi_value store_ctor)
{
    napi_property_descriptor store_props[] = {
        {"defineJob", NULL, js_define_job, NULL, NULL, NULL, napi_default_method, NULL},
        {"enqueue", NULL, js_enqueue, NULL, NULL, NULL, napi_default_method, NULL},
        {"cancelJob", NULL, js_cancel_job, NULL, NULL, NULL, napi_default_method, NULL},
        {"jobStats", NULL, js_job_stats, NULL, NULL, NULL, napi_default_method, NULL},
    };
    napi_value proto;
    return napi_get_named_property(env, store_ctor, "prototype", &proto) == napi_ok &&
           napi_define_properties(env, proto, sizeof store_props / sizeof store_props[0],
                                  store_props) == napi_ok;
}
