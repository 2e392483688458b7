/*
 * routes.c - routes derived from the operations' describe document, and
 * request-to-input conversion (see routes.h).
 */
#include "routes.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int type_of(json_t *schema)
{
    const char *t = json_string_value(json_object_get(schema, "type"));
    if (!t)
        return CMH_PT_OTHER;
    if (strcmp(t, "string") == 0)
        return CMH_PT_STRING;
    if (strcmp(t, "integer") == 0)
        return CMH_PT_INTEGER;
    if (strcmp(t, "number") == 0)
        return CMH_PT_NUMBER;
    if (strcmp(t, "boolean") == 0)
        return CMH_PT_BOOLEAN;
    if (strcmp(t, "array") == 0)
        return CMH_PT_ARRAY;
    return CMH_PT_OTHER;
}

static bool in_list(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (json_is_string(v) &&
                                      strcmp(json_string_value(v), s) == 0) return true;
    return false;
}

static int split_template(cmh_route *rt, char *err, size_t errlen)
{
    const char *p = rt->path;
    if (p[0] != '/') {
        (void)snprintf(err, errlen, "%s: path must start with '/'", rt->op);
        return -1;
    }
    while (*p == '/') {
        p++;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || rt->n_segs == CMH_MAX_SEGS) {
            (void)snprintf(err, errlen, "%s: bad path template %s", rt->op, rt->path);
            return -1;
        }
        bool param = n > 2 && p[0] == '{' && p[n - 1] == '}';
        rt->seg_param[rt->n_segs] = param;
        rt->segs[rt->n_segs++] = param ? cmh_xstrndup(p + 1, n - 2) : cmh_xstrndup(p, n);
        p += n;
    }
    return 0;
}

static int build_params(cmh_route *rt, char *err, size_t errlen)
{
    json_t *props = json_object_get(rt->input, "properties");
    json_t *req = json_object_get(rt->input, "required");
    rt->params = cmh_xcalloc(json_object_size(props) + 1, sizeof *rt->params);
    const char *name;
    json_t *s;
    json_object_foreach(props, name, s)
    {
        cmh_param *pa = &rt->params[rt->n_params++];
        pa->name = name;
        pa->type = type_of(s);
        pa->item_type =
            pa->type == CMH_PT_ARRAY ? type_of(json_object_get(s, "items")) : CMH_PT_OTHER;
        pa->required = in_list(req, name);
        const char *enc = json_string_value(json_object_get(s, "contentEncoding"));
        if (enc && strcmp(enc, "base64") == 0)
            rt->raw_body_field = name;
    }
    for (int i = 0; i < rt->n_segs; i++) {
        if (!rt->seg_param[i])
            continue;
        cmh_param *pa = NULL;
        for (int j = 0; j < rt->n_params; j++)
            if (strcmp(rt->params[j].name, rt->segs[i]) == 0)
                pa = &rt->params[j];
        if (!pa) {
            (void)snprintf(err, errlen, "%s: path parameter {%s} is not an input field", rt->op,
                           rt->segs[i]);
            return -1;
        }
        pa->in_path = true;
    }
    return 0;
}

int cmh_router_build(cmh_router *r, const char *describe_json, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    json_error_t jerr;
    r->doc = json_loads(describe_json, 0, &jerr);
    json_t *ops = json_object_get(r->doc, "operations");
    if (!json_is_array(ops)) {
        (void)snprintf(err, errlen, "describe document has no operations array");
        return -1;
    }
    r->routes = cmh_xcalloc(json_array_size(ops) + 1, sizeof *r->routes);
    size_t i;
    json_t *o;
    json_array_foreach(ops, i, o)
    {
        json_t *http = json_object_get(o, "http");
        const char *method = json_string_value(json_object_get(http, "method"));
        const char *path = json_string_value(json_object_get(http, "path"));
        if (!method || !path || !*path)
            continue; /* not exposed over HTTP */
        cmh_route *rt = &r->routes[r->n];
        rt->id = r->n;
        rt->op = json_string_value(json_object_get(o, "name"));
        rt->method = method;
        rt->path = path;
        rt->summary = json_string_value(json_object_get(o, "summary"));
        rt->role = json_string_value(json_object_get(o, "role"));
        rt->result = json_object_get(o, "result");
        rt->input = json_object_get(o, "input");
        rt->mutates = json_is_true(json_object_get(o, "mutates"));
        rt->text_body = json_is_true(json_object_get(http, "text_body"));
        rt->password_hashing = json_is_true(json_object_get(o, "password_hashing"));
        rt->stream = json_is_true(json_object_get(o, "stream"));
        rt->raw_body = json_string_value(json_object_get(http, "raw_body"));
        rt->headers = json_object_get(http, "headers");
        rt->form = json_is_true(json_object_get(http, "form"));
        json_int_t st = json_integer_value(json_object_get(http, "status"));
        rt->success_status = st >= 200 && st < 300 ? (int)st : 0; /* 0: decided below */
        if (!rt->op || !rt->summary || !rt->role) {
            (void)snprintf(err, errlen, "operation %zu lacks name/summary/role", i);
            return -1;
        }
        r->n++;
        if (split_template(rt, err, errlen) || build_params(rt, err, errlen))
            return -1;
        for (int k = 0; k < r->n - 1; k++) {
            const cmh_route *q = &r->routes[k];
            if (strcmp(q->method, rt->method) || q->n_segs != rt->n_segs)
                continue;
            bool same = true;
            for (int s = 0; s < rt->n_segs && same; s++)
                same = q->seg_param[s] == rt->seg_param[s] &&
                       (rt->seg_param[s] || strcmp(q->segs[s], rt->segs[s]) == 0);
            if (same) {
                (void)snprintf(err, errlen, "%s and %s share the route %s %s", q->op, rt->op,
                               method, path);
                return -1;
            }
        }
    }
    /* Without an explicit http.status, a mutating POST answers 201 Created
     * when it targets a collection: the same path can be listed (has a GET)
     * or has item routes below it ("path/{x}"). Actions such as
     * /v1/events/{id}/cancel answer 200. */
    for (int j = 0; j < r->n; j++) {
        cmh_route *rt = &r->routes[j];
        if (rt->success_status)
            continue;
        rt->success_status = 200;
        if (!rt->mutates || strcmp(rt->method, "POST") != 0)
            continue;
        for (int k = 0; k < r->n && rt->success_status == 200; k++) {
            const cmh_route *q = &r->routes[k];
            if (q == rt || (q->n_segs != rt->n_segs && q->n_segs != rt->n_segs + 1))
                continue;
            if (q->n_segs == rt->n_segs ? strcmp(q->method, "GET") != 0 : !q->seg_param[rt->n_segs])
                continue;
            bool prefix = true;
            for (int s = 0; s < rt->n_segs && prefix; s++)
                prefix = q->seg_param[s] == rt->seg_param[s] &&
                         (rt->seg_param[s] || strcmp(q->segs[s], rt->segs[s]) == 0);
            if (prefix)
                rt->success_status = 201;
        }
    }
    return 0;
}

const cmh_route *cmh_router_find_op(const cmh_router *r, const char *op)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->routes[i].op, op) == 0)
            return &r->routes[i];
    return NULL;
}

void cmh_router_free(cmh_router *r)
{
    for (int i = 0; i < r->n; i++) {
        for (int s = 0; s < r->routes[i].n_segs; s++)
            free(r->routes[i].segs[s]);
        free(r->routes[i].params);
    }
    free(r->routes);
    json_decref(r->doc);
    memset(r, 0, sizeof *r);
}

typedef struct seg {
    const char *p;
    size_t n;
} seg;

static int split_path(const char *path, size_t len, seg *segs)
{
    if (len == 0 || path[0] != '/')
        return -1;
    int n = 0;
    size_t i = 1;
    if (len == 1)
        return 0;
    for (;;) {
        size_t start = i;
        while (i < len && path[i] != '/')
            i++;
        if (i == start || n == CMH_MAX_SEGS)
            return -1; /* empty segment ("//", trailing "/") or too deep */
        segs[n].p = path + start;
        segs[n].n = i - start;
        n++;
        if (i == len)
            return n;
        i++;
    }
}

/* Does the route's template match the path segments? Literal-first score
 * in *score (bit per literal segment, most significant first). */
static bool template_match(const cmh_route *rt, const seg *segs, int n, unsigned *score)
{
    if (rt->n_segs != n)
        return false;
    unsigned sc = 0;
    for (int i = 0; i < n; i++) {
        sc <<= 1;
        if (rt->seg_param[i])
            continue;
        if (strlen(rt->segs[i]) != segs[i].n || memcmp(rt->segs[i], segs[i].p, segs[i].n))
            return false;
        sc |= 1;
    }
    *score = sc;
    return true;
}

static void allow_add(char *out, size_t cap, const char *m)
{
    if (strstr(out, m))
        return;
    size_t l = strlen(out);
    (void)snprintf(out + l, cap - l, "%s%s", l ? ", " : "", m);
}

void cmh_router_allow(const cmh_router *r, const char *path, size_t path_len, char *out, size_t cap)
{
    out[0] = '\0';
    seg segs[CMH_MAX_SEGS];
    int n = split_path(path, path_len, segs);
    if (n < 0)
        return;
    unsigned sc;
    for (int i = 0; i < r->n; i++)
        if (template_match(&r->routes[i], segs, n, &sc)) {
            allow_add(out, cap, r->routes[i].method);
            if (strcmp(r->routes[i].method, "GET") == 0)
                allow_add(out, cap, "HEAD");
        }
}

int cmh_router_match(const cmh_router *r, const char *method, const char *path, size_t path_len,
                     cmh_match *m)
{
    memset(m, 0, sizeof *m);
    seg segs[CMH_MAX_SEGS];
    int n = split_path(path, path_len, segs);
    if (n < 0)
        return 404;
    if (strcmp(method, "HEAD") == 0)
        method = "GET";
    const cmh_route *best = NULL;
    unsigned best_score = 0, sc;
    bool other_method = false;
    for (int i = 0; i < r->n; i++) {
        const cmh_route *rt = &r->routes[i];
        if (!template_match(rt, segs, n, &sc))
            continue;
        if (strcmp(rt->method, method) != 0) {
            other_method = true;
            continue;
        }
        if (!best || sc > best_score) {
            best = rt;
            best_score = sc;
        }
    }
    if (!best) {
        if (!other_method)
            return 404;
        cmh_router_allow(r, path, path_len, m->allow, sizeof m->allow);
        return 405;
    }
    for (int i = 0; i < n; i++) {
        if (!best->seg_param[i])
            continue;
        m->pvals[i] = cmh_url_decode(segs[i].p, segs[i].n, false);
        if (!m->pvals[i]) {
            cmh_match_clear(m);
            return 400;
        }
    }
    m->route = best;
    return 200;
}

void cmh_match_clear(cmh_match *m)
{
    for (int i = 0; i < CMH_MAX_SEGS; i++) {
        free(m->pvals[i]);
        m->pvals[i] = NULL;
    }
    m->route = NULL;
}

static const cmh_param *find_param(const cmh_route *rt, const char *name)
{
    for (int i = 0; i < rt->n_params; i++)
        if (strcmp(rt->params[i].name, name) == 0)
            return &rt->params[i];
    return NULL;
}

static int bad(cmh_input_err *err, const char *field, const char *fmt, ...) CMH_PRINTF(3, 4);

static int bad(cmh_input_err *err, const char *field, const char *fmt, ...)
{
    err->status = 400;
    err->code = "CM_EINVAL";
    (void)snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is above; clang 14 loses it */
    (void)vsnprintf(err->detail, sizeof err->detail, fmt, ap);
    va_end(ap);
    return -1;
}

/* Convert one text value (path segment or query value) to the JSON type
 * of the schema. Unknown fields stay strings: the library rejects them
 * with the field named. */
static json_t *convert(int type, const char *name, const char *v, cmh_input_err *err)
{
    char *end;
    if (!cmh_utf8_valid(v)) {
        bad(err, name, "%s: is not valid UTF-8", name);
        return NULL;
    }
    switch (type) {
        case CMH_PT_INTEGER: {
            errno = 0;
            long long x = strtoll(v, &end, 10);
            if (!*v || *end || errno || (v[0] != '-' && (v[0] < '0' || v[0] > '9'))) {
                bad(err, name, "%s: must be an integer", name);
                return NULL;
            }
            return json_integer((json_int_t)x);
        }
        case CMH_PT_NUMBER: {
            errno = 0;
            double x = strtod(v, &end);
            if (!*v || *end || errno || !isfinite(x) ||
                (v[0] != '-' && (v[0] < '0' || v[0] > '9'))) {
                bad(err, name, "%s: must be a number", name);
                return NULL;
            }
            return json_real(x);
        }
        case CMH_PT_BOOLEAN:
            if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
                return json_true();
            if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
                return json_false();
            bad(err, name, "%s: must be true or false", name);
            return NULL;
        default:
            return json_string(v);
    }
}

static bool is_host_param(const char *const *host_params, const char *k)
{
    for (; host_params && *host_params; host_params++)
        if (strcmp(*host_params, k) == 0)
            return true;
    return false;
}

/* Add one query pair to `in` (repeated keys make arrays). */
static int add_query_pair(const cmh_route *rt, json_t *in, const char *k, const char *v,
                          cmh_input_err *err)
{
    const cmh_param *pa = find_param(rt, k);
    if (pa && pa->in_path)
        return bad(err, k, "%s: is a path parameter, not a query parameter", k);
    if (pa && pa->type == CMH_PT_ARRAY) {
        json_t *arr = json_object_get(in, k);
        if (!arr) {
            arr = json_array();
            json_object_set_new(in, k, arr);
        }
        json_t *item = convert(pa->item_type, k, v, err);
        if (!item)
            return -1;
        json_array_append_new(arr, item);
        return 0;
    }
    if (json_object_get(in, k))
        return bad(err, k, "%s: given more than once", k);
    json_t *val = convert(pa ? pa->type : CMH_PT_STRING, k, v, err);
    if (!val)
        return -1;
    json_object_set_new(in, k, val);
    return 0;
}

static int parse_query(const cmh_route *rt, const char *q, const char *const *host_params,
                       json_t *in, bool allowed, cmh_input_err *err)
{
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', n);
        size_t kn = eq ? (size_t)(eq - q) : n;
        if (n > 0) {
            char *k = cmh_url_decode(q, kn, true);
            char *v = eq ? cmh_url_decode(eq + 1, n - kn - 1, true) : cmh_xstrdup("");
            int rc = 0;
            if (!k || !v || !*k)
                rc = bad(err, "", "%s", "malformed query string");
            else if (!cmh_utf8_valid(k))
                rc = bad(err, "", "%s", "a query parameter name is not valid UTF-8");
            else if (is_host_param(host_params, k))
                rc = 0;
            else if (!allowed)
                rc = bad(err, k, "%s: query parameters are not accepted here; send a JSON body", k);
            else
                rc = add_query_pair(rt, in, k, v, err);
            free(k);
            free(v);
            if (rc)
                return rc;
        }
        q = amp ? amp + 1 : NULL;
    }
    return 0;
}

/* application/x-www-form-urlencoded or multipart/form-data (parameters
 * allowed): what a mail client's one-click unsubscribe POST carries. */
static bool is_form_type(const char *ct)
{
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return (n == 33 && cmh_strnieq(ct, "application/x-www-form-urlencoded", 33)) ||
           (n == 19 && cmh_strnieq(ct, "multipart/form-data", 19));
}

/* text/plain (parameters allowed): how Amazon SNS labels its JSON. */
static bool is_text_type(const char *ct)
{
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == 10 && cmh_strnieq(ct, "text/plain", 10);
}

static bool is_json_type(const char *ct)
{
    /* application/json, application/problem+json, ...; parameters allowed */
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n == 16 && cmh_strnieq(ct, "application/json", 16))
        return true;
    return n > 17 && cmh_strnieq(ct, "application/", 12) && cmh_strnieq(ct + n - 5, "+json", 5);
}

int cmh_build_input(const cmh_route *rt, const cmh_match *m, const char *query,
                    const cmh_request *req, const char *const *host_params, json_t **out,
                    cmh_input_err *err)
{
    memset(err, 0, sizeof *err);
    *out = NULL;
    const char *method = rt->method;
    bool query_style = strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0;
    json_t *in = NULL;
    const char *ct = cmh_req_header(req, "content-type");
    bool raw = !query_style && rt->raw_body_field && (!ct || !is_json_type(ct));
    if (rt->raw_body && !query_style) {
        /* a webhook: the body exactly as received, for its signature */
        if (memchr(req->body, '\0', req->body_len) || !(in = json_object()) ||
            json_object_set_new(in, rt->raw_body, json_stringn(req->body, req->body_len))) {
            json_decref(in);
            return bad(err, rt->raw_body, "%s: the body must be UTF-8 text", rt->raw_body);
        }
        const char *hname;
        json_t *field;
        json_object_foreach(rt->headers, hname, field)
        {
            char lower[64]; /* the parser keeps header names in lower case */
            size_t n = strlen(hname);
            if (n >= sizeof lower || !json_is_string(field))
                continue;
            for (size_t k = 0; k <= n; k++)
                lower[k] = (char)(hname[k] >= 'A' && hname[k] <= 'Z' ? hname[k] + 32 : hname[k]);
            const char *v = cmh_req_header(req, lower);
            if (!v)
                continue;
            if (cmh_req_header_count(req, lower) != 1 || !cmh_utf8_valid(v)) {
                json_decref(in);
                return bad(err, json_string_value(field), "%s: give one %s header",
                           json_string_value(field), hname);
            }
            json_object_set_new(in, json_string_value(field), json_string(v));
        }
    } else if (raw) {
        /* a file upload: the body is the file, the other inputs come from
         * the path and the query string */
        char *b64 = cmh_base64(req->body ? req->body : "", req->body_len);
        in = json_object();
        json_object_set_new(in, rt->raw_body_field, json_string(b64));
        free(b64);
        query_style = true;
    } else if (!query_style && rt->form && req->body_len > 0 &&
               cmh_req_header(req, "content-type") &&
               /* NOLINTNEXTLINE(bugprone-branch-clone): the outcome of no body, for a form */
               is_form_type(cmh_req_header(req, "content-type"))) {
        /* RFC 8058: "List-Unsubscribe=One-Click"; the input is in the path */
        in = json_object();
    } else if (!query_style && req->body_len > 0) {
        if (!ct || !(is_json_type(ct) || (rt->text_body && is_text_type(ct)))) {
            err->status = 415;
            err->code = "HTTP_UNSUPPORTED_MEDIA_TYPE";
            (void)snprintf(err->detail, sizeof err->detail,
                           "the request body must be JSON (Content-Type: application/json)");
            return -1;
        }
        json_error_t jerr;
        in = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!in)
            return bad(err, "", "the body is not valid JSON: %.120s (line %d, column %d)",
                       jerr.text, jerr.line, jerr.column);
        if (!json_is_object(in)) {
            json_decref(in);
            return bad(err, "", "%s", "the body must be a JSON object");
        }
    } else if (query_style && req->body_len > 0) {
        return bad(err, "", "%s", "a GET or DELETE request takes no body; use the query string");
    } else {
        in = json_object();
    }
    if (parse_query(rt, query, host_params, in, query_style, err)) {
        json_decref(in);
        return -1;
    }
    for (int i = 0; i < rt->n_segs; i++) {
        if (!rt->seg_param[i])
            continue;
        const char *name = rt->segs[i];
        const cmh_param *pa = find_param(rt, name);
        json_t *v = convert(pa ? pa->type : CMH_PT_STRING, name, m->pvals[i], err);
        if (!v) {
            json_decref(in);
            return -1;
        }
        json_t *given = json_object_get(in, name);
        if (given && !json_equal(given, v)) {
            json_decref(v);
            json_decref(in);
            return bad(err, name, "%s: the body disagrees with the path", name);
        }
        json_object_set_new(in, name, v);
    }
    *out = in;
    return 0;
}

char *cmh_query_get(const char *q, const char *name)
{
    size_t nl = strlen(name);
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        if (n >= nl && memcmp(q, name, nl) == 0 && (n == nl || q[nl] == '='))
            return n == nl ? cmh_xstrdup("") : cmh_url_decode(q + nl + 1, n - nl - 1, true);
        q = amp ? amp + 1 : NULL;
    }
    return NULL;
}
