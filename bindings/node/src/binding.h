/*
 * binding.h - shared declarations of the Node-API binding of libcommunity:
 * per-environment data, argument helpers that throw TypeError naming the
 * parameter, promise-returning work on the thread pool, and the init
 * functions of each part (store, vec, job queue, scheduler).
 *
 * Threads: every function here runs on the JavaScript thread of one
 * environment (main thread or a worker), except the `execute` callbacks of
 * async work, which run on the libuv thread pool and never call Node-API.
 */
#ifndef CM_NODE_BINDING_H
#define CM_NODE_BINDING_H

#define NAPI_VERSION 8
#include <node_api.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Per-environment data (napi_set_instance_data). */
typedef struct cmn_env {
    napi_ref store_ctor;     /* the Store class */
    napi_ref sched_ctor;     /* the Scheduler class */
    napi_ref json_parse;     /* JSON.parse */
    napi_ref json_stringify; /* JSON.stringify */
} cmn_env;

cmn_env *cmn_env_get(napi_env env);

/* Evaluate a Node-API call; on failure make sure an exception is pending
 * and return NULL from the calling callback. */
#define CMN_CALL(env, expr)                                                                        \
    do {                                                                                           \
        if ((expr) != napi_ok) {                                                                   \
            cmn_throw_last(env);                                                                   \
            return NULL;                                                                           \
        }                                                                                          \
    } while (0)

/* Throw an Error for the last failed Node-API call unless one is pending. */
void cmn_throw_last(napi_env env);

/* Throw `TypeError` / `RangeError` with a formatted message. Return NULL. */
napi_value cmn_type_error(napi_env env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
napi_value cmn_range_error(napi_env env, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* An Error carrying a libcommunity failure: message, `code` ("CM_EINVAL"),
 * `status` (-3) and, when non-empty, `field` and `backendCode`. */
napi_value cmn_error_value(napi_env env, int rc, const char *message, const char *field,
                           const char *backend_code);

/* Copy the thread-local error detail of the last failure (any thread). */
typedef struct cmn_err {
    int rc;
    char message[256];
    char field[128];
    char backend[32];
} cmn_err;
void cmn_err_capture(cmn_err *e, int rc);

/* The value's type, or napi_undefined when the call fails. */
napi_valuetype cmn_typeof(napi_env env, napi_value v);
/* The native object behind `this` of a method call, checked against its
 * type tag; throws TypeError("this must be <what>") and returns NULL
 * otherwise. argc/argv as for napi_get_cb_info; this_out may be NULL. */
void *cmn_unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv,
                      napi_value *this_out, const napi_type_tag *tag, const char *what);
bool cmn_is_nullish(napi_env env, napi_value v);

/* Read a JS string into a fresh malloc'd NUL-terminated buffer. Throws a
 * TypeError naming `what` when `v` is not a string. Returns false on
 * failure (exception pending). */
bool cmn_get_string(napi_env env, napi_value v, const char *what, char **out, size_t *len);

/* Read a named property (undefined when absent). */
bool cmn_get_prop(napi_env env, napi_value obj, const char *name, napi_value *out);

/* Reject unknown keys of an options object: `allowed` is NULL-terminated.
 * Throws TypeError "<what> has an unknown key 'x'". */
bool cmn_check_keys(napi_env env, napi_value obj, const char *what, const char *const *allowed);

/* An object that is not an array. */
bool cmn_is_plain_object(napi_env env, napi_value v);
/* Optional integer option obj[key] in [min, max], times `scale` (ms -> us);
 * *given (may be NULL) says whether it was there. TypeError/RangeError
 * naming `what` otherwise. */
bool cmn_opt_num(napi_env env, napi_value obj, const char *key, const char *what, double min,
                 double max, double scale, int64_t *out, bool *given);
/* Optional string option: *out is a malloc'd copy, or NULL when absent. */
bool cmn_opt_str(napi_env env, napi_value obj, const char *key, const char *what, char **out);

/* JSON through the environment's own JSON object. */
napi_value cmn_json_parse(napi_env env, const char *text);
/* Returns a malloc'd string; false with an exception pending on failure. */
bool cmn_json_stringify(napi_env env, napi_value v, char **out, size_t *len);

/* ---- Stores, as other parts of the binding see them (store.c). ---- */
typedef struct store_wrap store_wrap;
struct cm_store;

/* Something that must be closed before its store closes (a scheduler):
 * store.close() calls `close` on each registered closer. */
typedef struct cmn_closer {
    struct cmn_closer *next;
    void (*close)(napi_env env, struct cmn_closer *c);
} cmn_closer;

/* The Store behind `this` of a method call (TypeError otherwise). */
store_wrap *cmn_store_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv,
                           napi_value *self);
/* The open cm_store, or NULL (with a rejected-promise-worthy state) once
 * close() was called. */
struct cm_store *cmn_store_handle(store_wrap *sw);
/* A promise rejected with CM_EMISUSE "the store is closing/closed". */
napi_value cmn_store_rejected_closed(napi_env env, store_wrap *sw);
/* Count a pending call or an open scheduler: close() waits for all. */
void cmn_store_hold(store_wrap *sw);
void cmn_store_release(napi_env env, store_wrap *sw);
void cmn_store_add_closer(store_wrap *sw, cmn_closer *c);
void cmn_store_remove_closer(store_wrap *sw, cmn_closer *c);

/* ---- Promise-returning work on the libuv thread pool (async.c). ----
 * A request embeds cmn_async as its first member and fills in the hooks;
 * cmn_async_queue does the rest. */
typedef struct cmn_async cmn_async;
struct cmn_async {
    /* Thread pool: the library call. CM_OK, or a CM_E* code whose
     * thread-local detail is captured into `err`. */
    int (*run)(cmn_async *a);
    /* JS thread, after run succeeded: the value to resolve with; NULL
     * rejects with the pending exception. */
    napi_value (*result)(napi_env env, cmn_async *a);
    /* JS thread, optional: add properties to the error of a failed run. */
    void (*on_error)(napi_env env, cmn_async *a, napi_value err);
    /* JS thread: free the request; called exactly once, also when queueing
     * fails. */
    void (*dispose)(napi_env env, cmn_async *a);
    /* Set by cmn_async_queue. */
    napi_async_work work;
    napi_deferred deferred;
    napi_ref keep;
    store_wrap *hold;
    cmn_err err;
};
/* Queue `a` and return its promise. `keep` (may be NULL) stays referenced
 * and `hold` (may be NULL) held (cmn_store_hold) until it settles. On
 * failure: NULL with an exception pending, `a` disposed. */
napi_value cmn_async_queue(napi_env env, cmn_async *a, const char *name, napi_value keep,
                           store_wrap *hold);
/* A promise already rejected with err. */
napi_value cmn_promise_rejected(napi_env env, napi_value err);

/* Parts of the module: each adds its exports to `exports`. */
bool cmn_store_init(napi_env env, napi_value exports);
bool cmn_vec_init(napi_env env, napi_value exports);
bool cmn_jobs_queue_init(napi_env env, napi_value store_ctor);
bool cmn_scheduler_init(napi_env env, napi_value exports, napi_value store_ctor);

#endif /* CM_NODE_BINDING_H */
