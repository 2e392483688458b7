/*
 * async.c - promise-returning work on the libuv thread pool, shared by
 * every asynchronous method of the binding (open, exec, vec.topk, the job
 * queue methods): create the promise, run the request's `run` on the
 * thread pool (capturing the error detail there), then on the JavaScript
 * thread resolve with its `result` or reject with a CommunityError
 * (CM_ECANCELED when the work was cancelled), and free the request.
 */
#include "binding.h"

#include <community/community.h>

static void async_execute(napi_env env, void *data)
{
    (void)env;
    cmn_async *a = data;
    int rc = a->run(a);
    if (rc)
        cmn_err_capture(&a->err, rc);
}

static void async_complete(napi_env env, napi_status status, void *data)
{
    cmn_async *a = data;
    napi_value v = NULL;
    bool ok = false;
    if (status == napi_cancelled) {
        v = cmn_error_value(env, CM_ECANCELED, "the call was canceled", "", "");
    } else if (a->err.rc) {
        v = cmn_error_value(env, a->err.rc, a->err.message, a->err.field, a->err.backend);
        if (v && a->on_error)
            a->on_error(env, a, v);
    } else {
        ok = (v = a->result(env, a)) != NULL;
    }
    if (!v)
        napi_get_and_clear_last_exception(env, &v);
    if (ok)
        napi_resolve_deferred(env, a->deferred, v);
    else
        napi_reject_deferred(env, a->deferred, v);
    store_wrap *hold = a->hold;
    napi_delete_async_work(env, a->work);
    if (a->keep)
        napi_delete_reference(env, a->keep);
    a->dispose(env, a);
    if (hold)
        cmn_store_release(env, hold);
}

napi_value cmn_async_queue(napi_env env, cmn_async *a, const char *name, napi_value keep,
                           store_wrap *hold)
{
    napi_value promise, resource;
    a->work = NULL;
    a->keep = NULL;
    a->hold = NULL;
    if (napi_create_promise(env, &a->deferred, &promise) != napi_ok ||
        (keep && napi_create_reference(env, keep, 1, &a->keep) != napi_ok) ||
        napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource) != napi_ok ||
        napi_create_async_work(env, NULL, resource, async_execute, async_complete, a, &a->work) !=
            napi_ok ||
        napi_queue_async_work(env, a->work) != napi_ok) {
        /* A deferred that was created but never settled is only garbage. */
        cmn_throw_last(env);
        if (a->work)
            napi_delete_async_work(env, a->work);
        if (a->keep)
            napi_delete_reference(env, a->keep);
        a->dispose(env, a);
        return NULL;
    }
    if (hold) {
        a->hold = hold;
        cmn_store_hold(hold);
    }
    return promise;
}

napi_value cmn_promise_rejected(napi_env env, napi_value err)
{
    napi_deferred d;
    napi_value promise;
    CMN_CALL(env, napi_create_promise(env, &d, &promise));
    CMN_CALL(env, napi_reject_deferred(env, d, err));
    return promise;
}
