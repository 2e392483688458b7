/*
 * addon.c - entry point of the Node-API binding: module registration,
 * per-environment data, argument and error helpers, and the module-level
 * functions describe(), version and the status-code table.
 */
#include "binding.h"

#include <community/community.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cmn_throw_last(napi_env env)
{
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
        return;
    const napi_extended_error_info *info = NULL;
    const char *msg = "Node-API call failed";
    if (napi_get_last_error_info(env, &info) == napi_ok && info && info->error_message)
        msg = info->error_message;
    napi_throw_error(env, NULL, msg);
}

__attribute__((format(printf, 3, 0))) static napi_value throw_fmt(napi_env env, bool range,
                                                                  const char *fmt, va_list ap)
{
    char buf[256];
    vsnprintf(buf, sizeof buf, fmt, ap);
    if (range)
        napi_throw_range_error(env, "ERR_OUT_OF_RANGE", buf);
    else
        napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", buf);
    return NULL;
}

napi_value cmn_type_error(napi_env env, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    throw_fmt(env, false, fmt, ap);
    va_end(ap);
    return NULL;
}

napi_value cmn_range_error(napi_env env, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    throw_fmt(env, true, fmt, ap);
    va_end(ap);
    return NULL;
}

static void set_str(napi_env env, napi_value obj, const char *key, const char *val)
{
    napi_value v;
    if (napi_create_string_utf8(env, val, NAPI_AUTO_LENGTH, &v) == napi_ok)
        napi_set_named_property(env, obj, key, v);
}

napi_value cmn_error_value(napi_env env, int rc, const char *message, const char *field,
                           const char *backend_code)
{
    napi_value code, msg, err, status;
    const char *text = message && *message ? message : cm_strerror(rc);
    if (napi_create_string_utf8(env, cm_status_name(rc), NAPI_AUTO_LENGTH, &code) != napi_ok ||
        napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
        napi_create_error(env, code, msg, &err) != napi_ok)
        return NULL;
    if (napi_create_int32(env, rc, &status) == napi_ok)
        napi_set_named_property(env, err, "status", status);
    if (field && *field)
        set_str(env, err, "field", field);
    if (backend_code && *backend_code)
        set_str(env, err, "backendCode", backend_code);
    return err;
}

void cmn_err_capture(cmn_err *e, int rc)
{
    e->rc = rc;
    snprintf(e->message, sizeof e->message, "%s", cm_error_message());
    snprintf(e->field, sizeof e->field, "%s", cm_error_field());
    snprintf(e->backend, sizeof e->backend, "%s", cm_error_backend_code());
    if (!e->message[0])
        snprintf(e->message, sizeof e->message, "%s", cm_strerror(rc));
}

napi_valuetype cmn_typeof(napi_env env, napi_value v)
{
    napi_valuetype t = napi_undefined;
    if (!v || napi_typeof(env, v, &t) != napi_ok)
        return napi_undefined;
    return t;
}

void *cmn_unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv,
                      napi_value *this_out, const napi_type_tag *tag, const char *what)
{
    napi_value self;
    if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) {
        cmn_throw_last(env);
        return NULL;
    }
    bool tagged = false;
    void *p = NULL;
    if (cmn_typeof(env, self) != napi_object ||
        napi_check_object_type_tag(env, self, tag, &tagged) != napi_ok || !tagged ||
        napi_unwrap(env, self, &p) != napi_ok || !p) {
        cmn_type_error(env, "this must be %s", what);
        return NULL;
    }
    if (this_out)
        *this_out = self;
    return p;
}

bool cmn_is_nullish(napi_env env, napi_value v)
{
    napi_valuetype t = cmn_typeof(env, v);
    return t == napi_undefined || t == napi_null;
}

bool cmn_get_string(napi_env env, napi_value v, const char *what, char **out, size_t *len)
{
    *out = NULL;
    if (cmn_typeof(env, v) != napi_string) {
        cmn_type_error(env, "%s must be a string", what);
        return false;
    }
    size_t n = 0;
    if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok) {
        cmn_throw_last(env);
        return false;
    }
    char *buf = malloc(n + 1);
    if (!buf) {
        napi_throw_error(env, "CM_ENOMEM", "out of memory");
        return false;
    }
    if (napi_get_value_string_utf8(env, v, buf, n + 1, &n) != napi_ok) {
        free(buf);
        cmn_throw_last(env);
        return false;
    }
    *out = buf;
    if (len)
        *len = n;
    return true;
}

bool cmn_get_prop(napi_env env, napi_value obj, const char *name, napi_value *out)
{
    if (napi_get_named_property(env, obj, name, out) != napi_ok) {
        cmn_throw_last(env);
        return false;
    }
    return true;
}

bool cmn_check_keys(napi_env env, napi_value obj, const char *what, const char *const *allowed)
{
    napi_value keys;
    uint32_t n = 0;
    if (napi_get_property_names(env, obj, &keys) != napi_ok ||
        napi_get_array_length(env, keys, &n) != napi_ok) {
        cmn_throw_last(env);
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        napi_value k;
        char name[64];
        size_t len = 0;
        if (napi_get_element(env, keys, i, &k) != napi_ok ||
            napi_get_value_string_utf8(env, k, name, sizeof name, &len) != napi_ok) {
            cmn_throw_last(env);
            return false;
        }
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, name) == 0;
        if (!ok) {
            cmn_type_error(env, "%s has an unknown key '%s'", what, name);
            return false;
        }
    }
    return true;
}

bool cmn_is_plain_object(napi_env env, napi_value v)
{
    bool arr = false;
    napi_is_array(env, v, &arr);
    return cmn_typeof(env, v) == napi_object && !arr;
}

bool cmn_opt_num(napi_env env, napi_value obj, const char *key, const char *what, double min,
                 double max, double scale, int64_t *out, bool *given)
{
    napi_value v;
    if (given)
        *given = false;
    if (!cmn_get_prop(env, obj, key, &v))
        return false;
    if (cmn_is_nullish(env, v))
        return true;
    double d;
    if (cmn_typeof(env, v) != napi_number || napi_get_value_double(env, v, &d) != napi_ok) {
        cmn_type_error(env, "%s must be a number", what);
        return false;
    }
    if (!(d >= min && d <= max) || floor(d) != d) {
        cmn_range_error(env, "%s must be an integer from %.0f to %.0f", what, min, max);
        return false;
    }
    *out = (int64_t)(d * scale);
    if (given)
        *given = true;
    return true;
}

bool cmn_opt_str(napi_env env, napi_value obj, const char *key, const char *what, char **out)
{
    napi_value v;
    *out = NULL;
    if (!cmn_get_prop(env, obj, key, &v))
        return false;
    if (cmn_is_nullish(env, v))
        return true;
    return cmn_get_string(env, v, what, out, NULL);
}

cmn_env *cmn_env_get(napi_env env)
{
    void *data = NULL;
    if (napi_get_instance_data(env, &data) != napi_ok)
        return NULL;
    return data;
}

napi_value cmn_json_parse(napi_env env, const char *text)
{
    cmn_env *e = cmn_env_get(env);
    napi_value fn, global, arg, result;
    CMN_CALL(env, napi_get_reference_value(env, e->json_parse, &fn));
    CMN_CALL(env, napi_get_global(env, &global));
    CMN_CALL(env, napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &arg));
    CMN_CALL(env, napi_call_function(env, global, fn, 1, &arg, &result));
    return result;
}

bool cmn_json_stringify(napi_env env, napi_value v, char **out, size_t *len)
{
    cmn_env *e = cmn_env_get(env);
    napi_value fn, global, result;
    if (napi_get_reference_value(env, e->json_stringify, &fn) != napi_ok ||
        napi_get_global(env, &global) != napi_ok ||
        napi_call_function(env, global, fn, 1, &v, &result) != napi_ok) {
        cmn_throw_last(env);
        return false;
    }
    return cmn_get_string(env, result, "input (as JSON)", out, len);
}

/* describe(): the operation table as an object (see cm_ops_describe). */
static napi_value js_describe(napi_env env, napi_callback_info info)
{
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

static void env_free(napi_env env, void *data, void *hint)
{
    cmn_env *e = data;
    if (!e)
        return;
    napi_delete_reference(env, e->store_ctor);
    napi_delete_reference(env, e->sched_ctor);
    napi_delete_reference(env, e->json_parse);
    napi_delete_reference(env, e->json_stringify);
    free(e);
}

static bool add_codes(napi_env env, napi_value exports)
{
    napi_value codes, v;
    if (napi_create_object(env, &codes) != napi_ok)
        return false;
#define CMN_CODE(name, value, msg)                                                                 \
    if (napi_create_int32(env, value, &v) != napi_ok ||                                            \
        napi_set_named_property(env, codes, "CM_" #name, v) != napi_ok)                            \
        return false;
    CM_STATUS_MAP(CMN_CODE)
#undef CMN_CODE
    return napi_set_named_property(env, exports, "codes", codes) == napi_ok;
}

static napi_value init(napi_env env, napi_value exports)
{
    cmn_env *e = calloc(1, sizeof *e);
    if (!e) {
        napi_throw_error(env, "CM_ENOMEM", "out of memory");
        return NULL;
    }
    if (napi_set_instance_data(env, e, env_free, NULL) != napi_ok) {
        free(e);
        cmn_throw_last(env);
        return NULL;
    }
    napi_value global, json, parse, stringify, fn, ver;
    CMN_CALL(env, napi_get_global(env, &global));
    CMN_CALL(env, napi_get_named_property(env, global, "JSON", &json));
    CMN_CALL(env, napi_get_named_property(env, json, "parse", &parse));
    CMN_CALL(env, napi_get_named_property(env, json, "stringify", &stringify));
    CMN_CALL(env, napi_create_reference(env, parse, 1, &e->json_parse));
    CMN_CALL(env, napi_create_reference(env, stringify, 1, &e->json_stringify));

    CMN_CALL(env, napi_create_function(env, "describe", NAPI_AUTO_LENGTH, js_describe, NULL, &fn));
    CMN_CALL(env, napi_set_named_property(env, exports, "describe", fn));
    CMN_CALL(env, napi_create_string_utf8(env, cm_version_string(), NAPI_AUTO_LENGTH, &ver));
    CMN_CALL(env, napi_set_named_property(env, exports, "version", ver));
    if (!add_codes(env, exports) || !cmn_store_init(env, exports) || !cmn_vec_init(env, exports)) {
        cmn_throw_last(env);
        return NULL;
    }
    return exports;
}

/* The macro defines this exported function without a prior declaration. */
NAPI_MODULE_EXPORT int32_t NODE_API_MODULE_GET_API_VERSION(void);
NAPI_MODULE(community, init)
