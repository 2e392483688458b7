/*
 * store.c - the Store class of the Node binding: open()/openSync(),
 * exec() and execStream() on the libuv thread pool, describe(), close().
 *
 * Every database call runs in the `execute` callback of a napi_async_work,
 * on a thread-pool thread, so the event loop never waits for the database.
 * The thread-local error detail of libcommunity is copied there, on the
 * thread that failed, and turned into an Error on the JavaScript thread.
 *
 * Lifecycle: a store counts its calls that are queued or running
 * (`inflight`, touched only on the JavaScript thread). close() refuses new
 * calls at once, waits until `inflight` drops to 0, then closes the
 * cm_store on the thread pool and resolves. Every pending call holds a
 * strong reference to the Store object, so garbage collection cannot free
 * it under a running call.
 */
#include "binding.h"

#include <community/community.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STORE_MAGIC 0x636d5354u /* "cmST" */

/* The type tag of Store objects (random, fixed). */
static const napi_type_tag store_tag = {0x8c0d2b6e5f3a4c71ull, 0xa3e1d59b07c24f68ull};

typedef enum store_state { ST_OPEN, ST_CLOSING, ST_CLOSED } store_state;

struct store_wrap {
    uint32_t magic;
    cm_store *store; /* NULL once closed */
    char backend[16];
    store_state state;
    uint32_t inflight;      /* exec calls queued or running */
    napi_async_work closer; /* the close work, once started */
    napi_deferred close_deferred;
    napi_ref close_promise; /* returned again by a second close() */
    napi_ref self;          /* keeps the object alive while closing */
    cmn_closer *closers;    /* schedulers to close before the store */
};

/* Who calls: the actor argument of exec(). */
typedef enum actor_kind { ACT_ANON, ACT_TOKEN, ACT_MEMBER, ACT_SYSTEM } actor_kind;

typedef struct call {
    cmn_async a; /* first: the call is its cmn_async */
    store_wrap *sw;
    char *op;
    char *input;
    size_t input_len;
    actor_kind kind;
    char *token;
    int64_t member_id;
    char *out; /* result JSON (cm_free) */
    /* execStream(): each event goes to JavaScript through tsfn, and the
     * worker waits until the callback ran (events arrive in order, before
     * the promise settles, and the callback's answer can stop the call). */
    napi_threadsafe_function tsfn;
} call;

/* One event on its way to JavaScript; lives on the worker's stack. */
typedef struct stream_msg {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int stop; /* the callback returned false or threw */
    const char *event, *data;
} stream_msg;

/* ---------------------------------------------------------------------- */
/* helpers                                                                */
/* ---------------------------------------------------------------------- */

store_wrap *cmn_store_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv,
                           napi_value *this_out)
{
    return cmn_unwrap_this(env, info, argc, argv, this_out, &store_tag, "a Store (from open())");
}

/* A promise already rejected with a libcommunity-style error. */
static napi_value rejected(napi_env env, int rc, const char *message)
{
    napi_deferred d;
    napi_value promise;
    CMN_CALL(env, napi_create_promise(env, &d, &promise));
    napi_value err = cmn_error_value(env, rc, message, "", "");
    if (!err)
        return NULL;
    CMN_CALL(env, napi_reject_deferred(env, d, err));
    return promise;
}

/* Read an optional non-negative integer option (undefined = keep *out). */
static bool opt_uint(napi_env env, napi_value obj, const char *name, const char *what, double max,
                     uint32_t *out)
{
    napi_value v;
    if (!cmn_get_prop(env, obj, name, &v))
        return false;
    if (cmn_is_nullish(env, v))
        return true;
    double d;
    if (cmn_typeof(env, v) != napi_number || napi_get_value_double(env, v, &d) != napi_ok) {
        cmn_type_error(env, "%s must be a number", what);
        return false;
    }
    if (!(d >= 0 && d <= max) || floor(d) != d) {
        cmn_range_error(env, "%s must be an integer from 0 to %.0f", what, max);
        return false;
    }
    *out = (uint32_t)d;
    return true;
}

/* open()'s arguments: uri and options {poolSize, busyTimeoutMs, migrate,
 * redis, redisTimeoutMs}; *redis (malloc'd) is NULL without the option. */
static bool parse_open_args(napi_env env, napi_callback_info info, char **uri,
                            cm_store_options *opts, char **redis, uint32_t *redis_ms)
{
    *redis = NULL;
    *redis_ms = 0;
    size_t argc = 2;
    napi_value argv[2];
    if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
        cmn_throw_last(env);
        return false;
    }
    cm_store_options_init(opts, sizeof *opts);
    if (!cmn_get_string(env, argc > 0 ? argv[0] : NULL, "uri", uri, NULL))
        return false;
    if (argc < 2 || cmn_is_nullish(env, argv[1]))
        return true;
    napi_value o = argv[1];
    bool is_array = false;
    napi_is_array(env, o, &is_array);
    if (cmn_typeof(env, o) != napi_object || is_array) {
        cmn_type_error(env, "options must be an object");
        goto fail;
    }
    static const char *const keys[] = {"poolSize", "busyTimeoutMs",  "migrate",
                                       "redis",    "redisTimeoutMs", NULL};
    if (!cmn_check_keys(env, o, "options", keys) ||
        !opt_uint(env, o, "poolSize", "options.poolSize", 1024, &opts->pool_size) ||
        !opt_uint(env, o, "busyTimeoutMs", "options.busyTimeoutMs", 3600000,
                  &opts->busy_timeout_ms) ||
        !opt_uint(env, o, "redisTimeoutMs", "options.redisTimeoutMs", 3600000, redis_ms))
        goto fail;
    napi_value rv;
    if (!cmn_get_prop(env, o, "redis", &rv))
        goto fail;
    /* "" counts as absent, as an empty COMMUNITY_REDIS does */
    if (!cmn_is_nullish(env, rv) && !cmn_get_string(env, rv, "options.redis", redis, NULL))
        goto fail;
    if (*redis && !**redis) {
        free(*redis);
        *redis = NULL;
    }
    napi_value m;
    if (!cmn_get_prop(env, o, "migrate", &m))
        goto fail;
    if (!cmn_is_nullish(env, m)) {
        bool b;
        if (cmn_typeof(env, m) != napi_boolean || napi_get_value_bool(env, m, &b) != napi_ok) {
            cmn_type_error(env, "options.migrate must be a boolean");
            goto fail;
        }
        if (!b)
            opts->flags |= CM_STORE_NO_MIGRATE;
    }
    return true;
fail:
    free(*uri);
    *uri = NULL;
    free(*redis);
    *redis = NULL;
    return false;
}

/* cm_store_open, then cm_store_share_cache when redis is set. */
static int open_store(cm_store **out, const char *uri, const cm_store_options *opts,
                      const char *redis, uint32_t redis_ms)
{
    int rc = cm_store_open(out, uri, opts);
    if (rc == CM_OK && redis && (rc = cm_store_share_cache(*out, redis, redis_ms)) != CM_OK) {
        cm_store_close(*out);
        *out = NULL;
    }
    return rc;
}

/* A new JS Store wrapping an open cm_store; closes it on failure. */
static napi_value new_store_object(napi_env env, cm_store *store)
{
    store_wrap *sw = calloc(1, sizeof *sw);
    if (!sw) {
        cm_store_close(store);
        napi_throw_error(env, "CM_ENOMEM", "out of memory");
        return NULL;
    }
    sw->magic = STORE_MAGIC;
    sw->store = store;
    strncpy(sw->backend, cm_store_backend_name(store), sizeof sw->backend - 1);
    napi_value ctor, ext, obj;
    cmn_env *e = cmn_env_get(env);
    if (napi_get_reference_value(env, e->store_ctor, &ctor) != napi_ok ||
        napi_create_external(env, sw, NULL, NULL, &ext) != napi_ok ||
        napi_new_instance(env, ctor, 1, &ext, &obj) != napi_ok) {
        /* The constructor wraps sw; if it did not get that far, free here. */
        if (sw->magic == STORE_MAGIC && sw->store) {
            cm_store_close(sw->store);
            free(sw);
        }
        cmn_throw_last(env);
        return NULL;
    }
    return obj;
}

/* ---------------------------------------------------------------------- */
/* open / openSync                                                        */
/* ---------------------------------------------------------------------- */

typedef struct open_req {
    cmn_async a; /* first: the request is its cmn_async */
    char *uri;
    cm_store_options opts;
    char *redis;
    uint32_t redis_ms;
    cm_store *store; /* until the Store object owns it */
} open_req;

static int open_run(cmn_async *a)
{
    open_req *r = (open_req *)a;
    return open_store(&r->store, r->uri, &r->opts, r->redis, r->redis_ms);
}

static napi_value open_result(napi_env env, cmn_async *a)
{
    open_req *r = (open_req *)a;
    cm_store *store = r->store;
    r->store = NULL;
    return new_store_object(env, store); /* owns the store, also on failure */
}

static void open_free(napi_env env, cmn_async *a)
{
    (void)env;
    open_req *r = (open_req *)a;
    if (r->store)
        cm_store_close(r->store);
    free(r->uri);
    free(r->redis);
    free(r);
}

static napi_value js_open(napi_env env, napi_callback_info info)
{
    open_req *r = calloc(1, sizeof *r);
    if (!r) {
        napi_throw_error(env, "CM_ENOMEM", "out of memory");
        return NULL;
    }
    if (!parse_open_args(env, info, &r->uri, &r->opts, &r->redis, &r->redis_ms)) {
        free(r);
        return NULL;
    }
    r->a.run = open_run;
    r->a.result = open_result;
    r->a.dispose = open_free;
    return cmn_async_queue(env, &r->a, "libcommunity.open", NULL, NULL);
}

static napi_value js_open_sync(napi_env env, napi_callback_info info)
{
    char *uri = NULL, *redis = NULL;
    uint32_t redis_ms = 0;
    cm_store_options opts;
    if (!parse_open_args(env, info, &uri, &opts, &redis, &redis_ms))
        return NULL;
    cm_store *store = NULL;
    int rc = open_store(&store, uri, &opts, redis, redis_ms);
    free(uri);
    free(redis);
    if (rc) {
        cmn_err e;
        cmn_err_capture(&e, rc);
        napi_throw(env, cmn_error_value(env, rc, e.message, e.field, e.backend));
        return NULL;
    }
    return new_store_object(env, store);
}

/* ---------------------------------------------------------------------- */
/* the Store class                                                        */
/* ---------------------------------------------------------------------- */

static void store_finalize(napi_env env, void *data, void *hint)
{
    store_wrap *sw = data;
    /* Pending calls and the close work hold strong references, so a
     * collected store has none; at environment teardown, if one is
     * somehow still pending, leak rather than free under it. */
    if (sw->inflight || (sw->closer && sw->state != ST_CLOSED))
        return;
    cm_store_close(sw->store);
    sw->magic = 0;
    free(sw);
}

static napi_value store_ctor(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1], self;
    CMN_CALL(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
    void *p = NULL;
    if (argc != 1 || cmn_typeof(env, argv[0]) != napi_external ||
        napi_get_value_external(env, argv[0], &p) != napi_ok || !p ||
        ((store_wrap *)p)->magic != STORE_MAGIC) {
        return cmn_type_error(env, "Store cannot be constructed directly: use open()");
    }
    store_wrap *sw = p;
    CMN_CALL(env, napi_wrap(env, self, sw, store_finalize, NULL, NULL));
    /* From here on the finalizer owns sw. */
    sw->magic = STORE_MAGIC + 1;
    CMN_CALL(env, napi_type_tag_object(env, self, &store_tag));
    return self;
}

static void close_execute(napi_env env, void *data)
{
    store_wrap *sw = data;
    cm_store_close(sw->store);
}

static void close_complete(napi_env env, napi_status status, void *data)
{
    store_wrap *sw = data;
    sw->store = NULL;
    sw->state = ST_CLOSED;
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, sw->close_deferred, undef);
    sw->close_deferred = NULL;
    napi_delete_reference(env, sw->close_promise);
    sw->close_promise = NULL;
    napi_delete_async_work(env, sw->closer);
    napi_ref self = sw->self;
    sw->self = NULL;
    napi_delete_reference(env, self); /* may let the object be collected */
}

/* Start closing once the last call has finished. */
static void maybe_finish_close(napi_env env, store_wrap *sw)
{
    if (sw->state != ST_CLOSING || sw->inflight || sw->closer)
        return;
    napi_value name;
    if (napi_create_string_utf8(env, "libcommunity.close", NAPI_AUTO_LENGTH, &name) == napi_ok &&
        napi_create_async_work(env, NULL, name, close_execute, close_complete, sw, &sw->closer) ==
            napi_ok &&
        napi_queue_async_work(env, sw->closer) == napi_ok)
        return;
    /* Could not queue: close here rather than never. */
    close_execute(env, sw);
    close_complete(env, napi_ok, sw);
}

struct cm_store *cmn_store_handle(store_wrap *sw)
{
    return sw->state == ST_OPEN ? sw->store : NULL;
}

napi_value cmn_store_rejected_closed(napi_env env, store_wrap *sw)
{
    return rejected(env, CM_EMISUSE,
                    sw->state == ST_CLOSING ? "the store is closing" : "the store is closed");
}

void cmn_store_hold(store_wrap *sw)
{
    sw->inflight++;
}

void cmn_store_release(napi_env env, store_wrap *sw)
{
    sw->inflight--;
    maybe_finish_close(env, sw);
}

void cmn_store_add_closer(store_wrap *sw, cmn_closer *c)
{
    c->next = sw->closers;
    sw->closers = c;
}

void cmn_store_remove_closer(store_wrap *sw, cmn_closer *c)
{
    for (cmn_closer **p = &sw->closers; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            return;
        }
}

static napi_value js_close(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    napi_value self, promise;
    store_wrap *sw = cmn_store_this(env, info, &argc, NULL, &self);
    if (!sw)
        return NULL;
    if (sw->state == ST_CLOSING) {
        CMN_CALL(env, napi_get_reference_value(env, sw->close_promise, &promise));
        return promise;
    }
    napi_deferred d;
    CMN_CALL(env, napi_create_promise(env, &d, &promise));
    if (sw->state == ST_CLOSED) {
        napi_value undef;
        napi_get_undefined(env, &undef);
        CMN_CALL(env, napi_resolve_deferred(env, d, undef));
        return promise;
    }
    CMN_CALL(env, napi_create_reference(env, promise, 1, &sw->close_promise));
    CMN_CALL(env, napi_create_reference(env, self, 1, &sw->self));
    sw->close_deferred = d;
    sw->state = ST_CLOSING;
    /* Schedulers first: each releases its hold on the store once closed. */
    while (sw->closers) {
        cmn_closer *c = sw->closers;
        sw->closers = c->next;
        c->close(env, c);
    }
    maybe_finish_close(env, sw);
    return promise;
}

/* exec()'s actor: undefined/null/{} = anonymous; {token}; {memberId}; {system: true}. */
static bool parse_actor(napi_env env, napi_value a, call *c)
{
    c->kind = ACT_ANON;
    if (!a || cmn_is_nullish(env, a))
        return true;
    bool is_array = false;
    napi_is_array(env, a, &is_array);
    if (cmn_typeof(env, a) != napi_object || is_array) {
        cmn_type_error(env, "actor must be an object like {token}, {memberId} or {system: true}");
        return false;
    }
    static const char *const keys[] = {"token", "memberId", "system", NULL};
    if (!cmn_check_keys(env, a, "actor", keys))
        return false;
    napi_value token, member, sys;
    if (!cmn_get_prop(env, a, "token", &token) || !cmn_get_prop(env, a, "memberId", &member) ||
        !cmn_get_prop(env, a, "system", &sys))
        return false;
    int given = 0;
    if (!cmn_is_nullish(env, token)) {
        if (!cmn_get_string(env, token, "actor.token", &c->token, NULL))
            return false;
        c->kind = ACT_TOKEN;
        given++;
    }
    if (!cmn_is_nullish(env, member)) {
        napi_valuetype t = cmn_typeof(env, member);
        if (t == napi_number) {
            double d = 0;
            napi_get_value_double(env, member, &d);
            if (!(d >= 1 && d <= 9007199254740991.0) || floor(d) != d) {
                cmn_range_error(env, "actor.memberId must be a positive integer");
                return false;
            }
            c->member_id = (int64_t)d;
        } else if (t == napi_bigint) {
            bool lossless = false;
            napi_get_value_bigint_int64(env, member, &c->member_id, &lossless);
            if (!lossless || c->member_id < 1) {
                cmn_range_error(env, "actor.memberId must be a positive integer");
                return false;
            }
        } else {
            cmn_type_error(env, "actor.memberId must be a number");
            return false;
        }
        c->kind = ACT_MEMBER;
        given++;
    }
    if (!cmn_is_nullish(env, sys)) {
        bool b = false;
        if (cmn_typeof(env, sys) != napi_boolean || napi_get_value_bool(env, sys, &b) != napi_ok) {
            cmn_type_error(env, "actor.system must be a boolean");
            return false;
        }
        if (b) {
            c->kind = ACT_SYSTEM;
            given++;
        }
    }
    if (given > 1) {
        cmn_type_error(env, "actor takes only one of token, memberId and system");
        return false;
    }
    return true;
}

static void call_free(napi_env env, cmn_async *a)
{
    (void)env;
    call *c = (call *)a;
    free(c->op);
    free(c->input);
    free(c->token);
    cm_free(c->out);
    if (c->tsfn)
        napi_release_threadsafe_function(c->tsfn, napi_tsfn_release);
    free(c);
}

/* Worker thread: hand one event to JavaScript and wait for its answer. */
static int stream_event(const char *event, const char *data, size_t len, void *payload)
{
    (void)len;
    call *c = payload;
    stream_msg m = {.event = event, .data = data};
    pthread_mutex_init(&m.mu, NULL);
    pthread_cond_init(&m.cv, NULL);
    int stop = 1;
    if (napi_call_threadsafe_function(c->tsfn, &m, napi_tsfn_blocking) == napi_ok) {
        pthread_mutex_lock(&m.mu);
        while (!m.done)
            pthread_cond_wait(&m.cv, &m.mu);
        stop = m.stop;
        pthread_mutex_unlock(&m.mu);
    }
    pthread_cond_destroy(&m.cv);
    pthread_mutex_destroy(&m.mu);
    return stop;
}

/* JavaScript thread: onEvent(event, data); false or a throw stops the call.
 * env is NULL when the environment is going away: the call stops. */
static void stream_js(napi_env env, napi_value fn, void *context, void *data)
{
    (void)context;
    stream_msg *m = data;
    int stop = 1;
    if (env && fn) {
        napi_value args[2], undef, ret;
        if (napi_create_string_utf8(env, m->event, NAPI_AUTO_LENGTH, &args[0]) == napi_ok &&
            (args[1] = cmn_json_parse(env, m->data)) != NULL &&
            napi_get_undefined(env, &undef) == napi_ok &&
            napi_call_function(env, undef, fn, 2, args, &ret) == napi_ok) {
            bool b = true;
            stop =
                cmn_typeof(env, ret) == napi_boolean && napi_get_value_bool(env, ret, &b) == napi_ok
                    ? !b
                    : 0;
        }
        bool pending = false;
        if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
            napi_value exc;
            napi_get_and_clear_last_exception(env, &exc);
            stop = 1;
        }
    }
    pthread_mutex_lock(&m->mu);
    m->stop = stop;
    m->done = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* Thread pool: resolve the actor, run the operation. */
static int call_run(cmn_async *a)
{
    call *c = (call *)a;
    cm_store *store = c->sw->store;
    cm_actor *actor = NULL;
    int rc = CM_OK;
    switch (c->kind) {
        case ACT_TOKEN:
            rc = cm_actor_from_session(&actor, store, c->token);
            break;
        case ACT_MEMBER:
            rc = cm_actor_for_member(&actor, store, c->member_id);
            break;
        case ACT_SYSTEM:
            rc = cm_actor_system(&actor);
            break;
        case ACT_ANON:
            break;
    }
    if (rc == CM_OK)
        rc = c->tsfn ? cm_exec_stream(&c->out, store, actor, c->op, c->input, c->input_len,
                                      stream_event, c)
                     : cm_exec(&c->out, store, actor, c->op, c->input, c->input_len);
    cm_actor_free(actor);
    return rc;
}

static napi_value call_result(napi_env env, cmn_async *a)
{
    call *c = (call *)a;
    return cmn_json_parse(env, c->out ? c->out : "null");
}

/* A failed operation names itself in the error. */
static void call_on_error(napi_env env, cmn_async *a, napi_value err)
{
    call *c = (call *)a;
    napi_value op;
    if (napi_create_string_utf8(env, c->op, NAPI_AUTO_LENGTH, &op) == napi_ok)
        napi_set_named_property(env, err, "op", op);
}

/* store.exec(opName, input?, actor?) -> Promise<result>;
 * store.execStream(opName, input, actor, onEvent) -> Promise<result> */
static napi_value exec_common(napi_env env, napi_callback_info info, bool stream)
{
    size_t argc = 4;
    napi_value argv[4] = {NULL, NULL, NULL, NULL}, self;
    store_wrap *sw = cmn_store_this(env, info, &argc, argv, &self);
    if (!sw)
        return NULL;
    call *c = calloc(1, sizeof *c);
    if (!c) {
        napi_throw_error(env, "CM_ENOMEM", "out of memory");
        return NULL;
    }
    c->a.run = call_run;
    c->a.result = call_result;
    c->a.on_error = call_on_error;
    c->a.dispose = call_free;
    if (!cmn_get_string(env, argc > 0 ? argv[0] : NULL, "opName", &c->op, NULL))
        goto fail;
    if (argc < 2 || cmn_is_nullish(env, argv[1])) {
        c->input = strdup("{}");
        c->input_len = 2;
        if (!c->input) {
            napi_throw_error(env, "CM_ENOMEM", "out of memory");
            goto fail;
        }
    } else {
        bool is_array = false;
        napi_is_array(env, argv[1], &is_array);
        if (cmn_typeof(env, argv[1]) != napi_object || is_array) {
            cmn_type_error(env, "input must be an object");
            goto fail;
        }
        if (!cmn_json_stringify(env, argv[1], &c->input, &c->input_len))
            goto fail;
    }
    if (!parse_actor(env, argc > 2 ? argv[2] : NULL, c))
        goto fail;
    if (stream) {
        napi_value name;
        if (argc < 4 || cmn_typeof(env, argv[3]) != napi_function) {
            cmn_type_error(env, "onEvent must be a function");
            goto fail;
        }
        if (napi_create_string_utf8(env, "execStream", NAPI_AUTO_LENGTH, &name) != napi_ok ||
            napi_create_threadsafe_function(env, argv[3], NULL, name, 0, 1, NULL, NULL, NULL,
                                            stream_js, &c->tsfn) != napi_ok) {
            c->tsfn = NULL;
            cmn_throw_last(env);
            goto fail;
        }
        /* the pending async work keeps the loop alive, not the function */
        napi_unref_threadsafe_function(env, c->tsfn);
    }
    if (sw->state != ST_OPEN) {
        call_free(env, &c->a);
        return cmn_store_rejected_closed(env, sw);
    }
    c->sw = sw;
    return cmn_async_queue(env, &c->a, c->op, self, sw);
fail:
    call_free(env, &c->a);
    return NULL;
}

static napi_value js_exec(napi_env env, napi_callback_info info)
{
    return exec_common(env, info, false);
}

static napi_value js_exec_stream(napi_env env, napi_callback_info info)
{
    return exec_common(env, info, true);
}

static napi_value js_store_describe(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    if (!cmn_store_this(env, info, &argc, NULL, NULL))
        return NULL;
    char *json = NULL;
    int rc = cm_ops_describe(&json);
    if (rc) {
        cmn_err e;
        cmn_err_capture(&e, rc);
        napi_throw(env, cmn_error_value(env, rc, e.message, e.field, e.backend));
        return NULL;
    }
    napi_value v = cmn_json_parse(env, json);
    cm_free(json);
    return v;
}

static napi_value js_get_closed(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    store_wrap *sw = cmn_store_this(env, info, &argc, NULL, NULL);
    if (!sw)
        return NULL;
    napi_value v;
    CMN_CALL(env, napi_get_boolean(env, sw->state != ST_OPEN, &v));
    return v;
}

static napi_value js_get_backend(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    store_wrap *sw = cmn_store_this(env, info, &argc, NULL, NULL);
    if (!sw)
        return NULL;
    napi_value v;
    CMN_CALL(env, napi_create_string_utf8(env, sw->backend, NAPI_AUTO_LENGTH, &v));
    return v;
}

static napi_value js_get_pending(napi_env env, napi_callback_info info)
{
    size_t argc = 0;
    store_wrap *sw = cmn_store_this(env, info, &argc, NULL, NULL);
    if (!sw)
        return NULL;
    napi_value v;
    CMN_CALL(env, napi_create_uint32(env, sw->inflight, &v));
    return v;
}

bool cmn_store_init(napi_env env, napi_value exports)
{
    napi_property_descriptor props[] = {
        {"exec", NULL, js_exec, NULL, NULL, NULL, napi_default_method, NULL},
        {"execStream", NULL, js_exec_stream, NULL, NULL, NULL, napi_default_method, NULL},
        {"close", NULL, js_close, NULL, NULL, NULL, napi_default_method, NULL},
        {"describe", NULL, js_store_describe, NULL, NULL, NULL, napi_default_method, NULL},
        {"closed", NULL, NULL, js_get_closed, NULL, NULL, napi_configurable, NULL},
        {"backend", NULL, NULL, js_get_backend, NULL, NULL, napi_configurable, NULL},
        {"pending", NULL, NULL, js_get_pending, NULL, NULL, napi_configurable, NULL},
    };
    napi_value ctor, fn;
    cmn_env *e = cmn_env_get(env);
    if (napi_define_class(env, "Store", NAPI_AUTO_LENGTH, store_ctor, NULL,
                          sizeof props / sizeof props[0], props, &ctor) != napi_ok ||
        napi_create_reference(env, ctor, 1, &e->store_ctor) != napi_ok ||
        napi_set_named_property(env, exports, "Store", ctor) != napi_ok ||
        !cmn_jobs_queue_init(env, ctor) || !cmn_scheduler_init(env, exports, ctor))
        return false;
    if (napi_create_function(env, "open", NAPI_AUTO_LENGTH, js_open, NULL, &fn) != napi_ok ||
        napi_set_named_property(env, exports, "open", fn) != napi_ok ||
        napi_create_function(env, "openSync", NAPI_AUTO_LENGTH, js_open_sync, NULL, &fn) !=
            napi_ok ||
        napi_set_named_property(env, exports, "openSync", fn) != napi_ok)
        return false;
    return true;
}
