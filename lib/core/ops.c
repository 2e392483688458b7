/*
 * ops.c - the registry of every operation, collected from the per-module
 * tables, and cm_ops_describe(): the whole table as JSON Schema.
 */
#include "ops_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const cm__op cm__member_ops[];
extern const cm__op cm__auth_ops[];
extern const cm__op cm__event_ops[];
extern const cm__op cm__rsvp_ops[];
extern const cm__op cm__group_ops[];
extern const cm__op cm__post_ops[];
extern const cm__op cm__admin_ops[];
extern const cm__op cm__jobs_ops[];
extern const cm__op cm__ai_ops[];
extern const cm__op cm__ticket_ops[];
extern const cm__op cm__order_ops[];
extern const cm__op cm__checkin_ops[];
extern const cm__op cm__mail_ops[];
extern const cm__op cm__pay_ops[];
extern const cm__op cm__attach_ops[];
extern const cm__op cm__newsletter_ops[];
extern const cm__op cm__assistant_ops[];
extern const cm__op cm__privacy_ops[];

/* Module tables, each terminated by an entry with name == NULL. */
static const cm__op *const modules[] = {
    cm__member_ops,     cm__auth_ops,      cm__event_ops,   cm__rsvp_ops, cm__group_ops,
    cm__post_ops,       cm__admin_ops,     cm__jobs_ops,    cm__ai_ops,   cm__ticket_ops,
    cm__order_ops,      cm__checkin_ops,   cm__mail_ops,    cm__pay_ops,  cm__attach_ops,
    cm__newsletter_ops, cm__assistant_ops, cm__privacy_ops,
};

/* Room in the index; more operations than this make cm__ops_ready() fail. */
#define MAX_OPS 256
static const cm__op *sorted[MAX_OPS];
static size_t n_ops;
static int index_rc;
static char index_msg[256]; /* why the index is broken */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int cmp_op(const void *a, const void *b)
{
    return strcmp((*(const cm__op *const *)a)->name, (*(const cm__op *const *)b)->name);
}

int cm__ops_index(const cm__op **dst, size_t cap, size_t *n, const cm__op *const *mods,
                  size_t n_modules)
{
    size_t total = 0;
    for (size_t m = 0; m < n_modules; m++)
        for (const cm__op *op = mods[m]; op->name; op++, total++)
            if (total < cap)
                dst[total] = op;
    *n = 0;
    if (total > cap)
        return cm__error_set(CM_ERROR,
                             "the operation tables declare %zu operations, more than the %zu "
                             "the index holds (MAX_OPS in lib/core/ops.c)",
                             total, cap);
    qsort(dst, total, sizeof dst[0], cmp_op);
    for (size_t i = 1; i < total; i++)
        if (strcmp(dst[i - 1]->name, dst[i]->name) == 0)
            return cm__error_set(CM_ERROR, "operation '%s' is declared twice", dst[i]->name);
    *n = total;
    return CM_OK;
}

static void build_index(void)
{
    index_rc = cm__ops_index(sorted, MAX_OPS, &n_ops, modules, sizeof modules / sizeof modules[0]);
    if (index_rc) {
        /* The detail is per thread: keep it for every caller of cm__ops_ready. */
        snprintf(index_msg, sizeof index_msg, "%s", cm_error_message());
        cm_error_clear();
    }
}

int cm__ops_ready(void)
{
    pthread_once(&once, build_index);
    return index_rc ? cm__error_set(index_rc, "%s", index_msg) : CM_OK;
}

const cm__op *cm__op_find(const char *name)
{
    pthread_once(&once, build_index);
    size_t lo = 0, hi = n_ops;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(sorted[mid]->name, name);
        if (c == 0)
            return sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const cm__op *cm__op_at(size_t i)
{
    pthread_once(&once, build_index);
    return i < n_ops ? sorted[i] : NULL;
}

static const char *const role_names[] = {"anonymous", "member", "organizer",
                                         "moderator", "admin",  "system"};

const char *cm__role_name(int role)
{
    return role >= 0 && role <= CM_ROLE_SYSTEM ? role_names[role] : "unknown";
}

int cm__role_parse(const char *name)
{
    for (int i = 0; i <= CM_ROLE_SYSTEM; i++)
        if (name && strcmp(name, role_names[i]) == 0)
            return i;
    return -1;
}

/* minLength/maxLength (or another pair of keywords) from the bounds, 0 = none. */
static void set_bounds(json_t *s, const char *kmin, int64_t min, const char *kmax, int64_t max)
{
    if (min)
        json_object_set_new(s, kmin, json_integer(min));
    if (max)
        json_object_set_new(s, kmax, json_integer(max));
}

/* The JSON Schema of one input field: the bounds come from cm__field_bounds,
 * as the validator's do. */
static json_t *field_schema(const cm__field *f)
{
    json_t *s = json_object();
    int64_t min, max;
    cm__field_bounds(f, &min, &max);
    switch (f->type) {
        case CM__T_STRING:
        case CM__T_SECRET:
        case CM__T_CURSOR:
            json_object_set_new(s, "type", json_string("string"));
            set_bounds(s, "minLength", min, "maxLength", max);
            if (f->type == CM__T_SECRET)
                json_object_set_new(s, "writeOnly", json_true());
            if (f->flags & CM__BASE64)
                json_object_set_new(s, "contentEncoding", json_string("base64"));
            break;
        case CM__T_INT:
        case CM__T_ID:
            json_object_set_new(s, "type", json_string("integer"));
            json_object_set_new(s, "minimum", json_integer(min));
            if (max)
                json_object_set_new(s, "maximum", json_integer(max));
            break;
        case CM__T_BOOL:
            json_object_set_new(s, "type", json_string("boolean"));
            break;
        case CM__T_ENUM: {
            json_t *e = json_array();
            for (const char *const *v = f->values; *v; v++)
                json_array_append_new(e, json_string(*v));
            json_object_set_new(s, "type", json_string("string"));
            json_object_set_new(s, "enum", e);
            break;
        }
        case CM__T_EMAIL:
            json_object_set_new(s, "type", json_string("string"));
            json_object_set_new(s, "format", json_string("email"));
            set_bounds(s, "minLength", min, "maxLength", max);
            break;
        case CM__T_INSTANT:
            json_object_set_new(s, "type", json_string("string"));
            json_object_set_new(s, "format", json_string("date-time"));
            break;
        case CM__T_LOCALTIME:
            json_object_set_new(s, "type", json_string("string"));
            json_object_set_new(s, "pattern",
                                json_string("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2})?$"));
            break;
        case CM__T_TIMEZONE:
            json_object_set_new(s, "type", json_string("string"));
            json_object_set_new(s, "x-format", json_string("iana-time-zone"));
            break;
        case CM__T_URL:
            json_object_set_new(s, "type", json_string("string"));
            json_object_set_new(s, "format", json_string("uri"));
            set_bounds(s, "minLength", min, "maxLength", max);
            break;
        case CM__T_STRINGS: {
            const cm__type_limits *l = &cm__type_limits_of[CM__T_STRINGS];
            json_t *items = json_object();
            json_object_set_new(items, "type", json_string("string"));
            set_bounds(items, "minLength", l->item_min, "maxLength", l->item_max);
            json_object_set_new(s, "type", json_string("array"));
            json_object_set_new(s, "items", items);
            set_bounds(s, "minItems", min, "maxItems", max);
            break;
        }
        case CM__T_NUMBERS: {
            json_t *items = json_object();
            json_object_set_new(items, "type", json_string("number"));
            json_object_set_new(s, "type", json_string("array"));
            json_object_set_new(s, "items", items);
            set_bounds(s, "minItems", min, "maxItems", max);
            break;
        }
    }
    if (f->doc)
        json_object_set_new(s, "description", json_string(f->doc));
    return s;
}

/* ---- result schemas ---- */

static json_t *shape_use(const cm__shape *sh, json_t *defs);

static json_t *scalar_schema(cm__rtype t, const char *const *values)
{
    switch (t) {
        case CM__R_STRING:
            return json_pack("{s:s}", "type", "string");
        case CM__R_INT:
            return json_pack("{s:s}", "type", "integer");
        case CM__R_NUMBER:
            return json_pack("{s:s}", "type", "number");
        case CM__R_BOOL:
            return json_pack("{s:s}", "type", "boolean");
        case CM__R_TIME:
            return json_pack("{s:s,s:s}", "type", "string", "format", "date-time");
        case CM__R_ENUM: {
            json_t *e = json_array();
            for (const char *const *v = values; v && *v; v++)
                json_array_append_new(e, json_string(*v));
            return json_pack("{s:s,s:o}", "type", "string", "enum", e);
        }
        default: /* CM__R_ANY; containers are handled by the caller */
            return json_object();
    }
}

/* Items of an array or values of a map: a shape or a scalar type. */
static json_t *items_schema(const cm__rfield *f, json_t *defs)
{
    return f->shape ? shape_use(f->shape, defs) : scalar_schema(f->items, f->values);
}

/* s, which may also be null. */
static json_t *nullable(json_t *s)
{
    json_t *t = json_object_get(s, "type");
    if (json_object_get(s, "$ref"))
        return json_pack("{s:[o,{s:s}]}", "anyOf", s, "type", "null");
    if (json_is_string(t)) {
        json_object_set_new(s, "type", json_pack("[s,s]", json_string_value(t), "null"));
        json_t *e = json_object_get(s, "enum");
        if (e)
            json_array_append_new(e, json_null());
    }
    return s;
}

static json_t *rfield_schema(const cm__rfield *f, json_t *defs)
{
    json_t *s;
    switch (f->type) {
        case CM__R_OBJECT:
            s = shape_use(f->shape, defs);
            break;
        case CM__R_ARRAY:
            s = json_pack("{s:s,s:o}", "type", "array", "items", items_schema(f, defs));
            break;
        case CM__R_MAP:
            s = json_pack("{s:s,s:o}", "type", "object", "additionalProperties",
                          items_schema(f, defs));
            break;
        default:
            s = scalar_schema(f->type, f->values);
    }
    if (f->flags & CM__R_NULL)
        s = nullable(s);
    if (f->doc)
        json_object_set_new(s, "description", json_string(f->doc));
    return s;
}

/* The JSON Schema of an object shape: every key declared, none other. */
static json_t *shape_schema(const cm__shape *sh, json_t *defs)
{
    json_t *props = json_object(), *req = json_array();
    for (const cm__rfield *f = sh->fields; f->name; f++) {
        json_object_set_new(props, f->name, rfield_schema(f, defs));
        if (!(f->flags & CM__R_OPT))
            json_array_append_new(req, json_string(f->name));
    }
    json_t *s = json_pack("{s:s,s:o,s:o,s:b}", "type", "object", "properties", props, "required",
                          req, "additionalProperties", 0);
    if (sh->doc)
        json_object_set_new(s, "description", json_string(sh->doc));
    return s;
}

/* A named shape becomes a "$ref" to its one definition in defs; an
 * unnamed one is written in place. */
static json_t *shape_use(const cm__shape *sh, json_t *defs)
{
    if (!sh->name)
        return shape_schema(sh, defs);
    if (!json_object_get(defs, sh->name)) {
        json_object_set_new(defs, sh->name, json_object()); /* a shape may contain itself */
        json_object_set_new(defs, sh->name, shape_schema(sh, defs));
    }
    char ref[128];
    snprintf(ref, sizeof ref, "#/$defs/%s", sh->name);
    return json_pack("{s:s}", "$ref", ref);
}

json_t *cm__op_input_schema(const cm__op *op)
{
    json_t *props = json_object(), *req = json_array(), *input = json_object();
    for (const cm__field *f = op->fields; f && f->name; f++) {
        json_object_set_new(props, f->name, field_schema(f));
        if (f->flags & CM__REQUIRED)
            json_array_append_new(req, json_string(f->name));
    }
    json_object_set_new(input, "type", json_string("object"));
    json_object_set_new(input, "properties", props);
    json_object_set_new(input, "required", req);
    json_object_set_new(input, "additionalProperties", json_false());
    return input;
}

int cm_ops_describe(char **out)
{
    if (!out)
        return cm__error_set(CM_EINVAL, "cm_ops_describe: out is NULL");
    *out = NULL;
    int rc = cm__ops_ready();
    if (rc)
        return rc;
    json_t *ops = json_array(), *defs = json_object();
    const cm__op *op;
    for (size_t i = 0; (op = cm__op_at(i)); i++) {
        json_t *input = cm__op_input_schema(op);
        json_t *http = json_object();
        json_object_set_new(http, "method", json_string(op->http_method));
        json_object_set_new(http, "path", json_string(op->http_path));
        if (op->http_text_body)
            json_object_set_new(http, "text_body", json_true());
        if (op->http_raw_body)
            json_object_set_new(http, "raw_body", json_string(op->http_raw_body));
        if (op->http_headers) {
            json_t *hdrs = json_object();
            for (const char *const *h = op->http_headers; h[0] && h[1]; h += 2)
                json_object_set_new(hdrs, h[0], json_string(h[1]));
            json_object_set_new(http, "headers", hdrs);
        }
        if (op->flags & CM__OP_FORM)
            json_object_set_new(http, "form", json_true());
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(op->name));
        json_object_set_new(o, "summary", json_string(op->summary));
        json_object_set_new(o, "role", json_string(cm__role_name(op->role)));
        json_object_set_new(o, "mutates", json_boolean(op->flags & CM__OP_WRITE));
        json_object_set_new(o, "password_hashing", json_boolean(op->flags & CM__OP_PASSWORD));
        json_object_set_new(o, "stream", json_boolean(op->flags & CM__OP_STREAM));
        json_object_set_new(o, "http", http);
        json_object_set_new(o, "input", input);
        if (op->result)
            json_object_set_new(o, "result", shape_use(op->result, defs));
        json_array_append_new(ops, o);
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "library", json_string(cm_version_string()));
    json_object_set_new(doc, "operations", ops);
    json_object_set_new(doc, "$defs", defs);
    rc = cm__json_dump(out, doc);
    json_decref(doc);
    return rc;
}
