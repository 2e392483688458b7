/*
 * routes.h - the REST routes, derived at start-up from cm_ops_describe():
 * each operation's http.method and http.path template ("{x}" segments are
 * input fields), and the conversion of a request into the operation's
 * JSON input (path parameters + query string for GET/DELETE, path
 * parameters + JSON body for POST/PUT/PATCH), typed by the input schema.
 *
 * Nothing here knows any particular operation.
 */
#ifndef CMH_ROUTES_H
#define CMH_ROUTES_H

#include "parser.h"

#include <jansson.h>

enum { CMH_PT_STRING, CMH_PT_INTEGER, CMH_PT_NUMBER, CMH_PT_BOOLEAN, CMH_PT_ARRAY, CMH_PT_OTHER };

typedef struct cmh_param {
    const char *name; /* borrowed from the describe document */
    int type;         /* CMH_PT_* */
    int item_type;    /* for CMH_PT_ARRAY */
    bool required;
    bool in_path;
} cmh_param;

#define CMH_MAX_SEGS 16

typedef struct cmh_route {
    int id;             /* 0..n-1, stable for the process (metrics index) */
    const char *op;     /* "members.get" */
    const char *method; /* "GET" */
    const char *path;   /* "/v1/members/{member_id}" */
    const char *summary;
    const char *role; /* minimal role name */
    json_t *result;   /* the result JSON Schema (borrowed), may be NULL */
    json_t *input;    /* the input JSON Schema (borrowed) */
    bool mutates;
    bool text_body;        /* http.text_body: a JSON body may come as text/plain */
    bool password_hashing; /* computes argon2id (describe) */
    bool stream;           /* sends events while it runs (describe "stream"): SSE */
    bool form; /* http.form: a form body (RFC 8058 one-click POST) is accepted and ignored */
    int success_status; /* http.status, else 201 for a mutating POST to a
                         * collection, else 200 (see cmh_router_build) */
    int n_segs;
    char *segs[CMH_MAX_SEGS]; /* literal text, or the parameter name */
    bool seg_param[CMH_MAX_SEGS];
    cmh_param *params;
    int n_params;
    const char *raw_body; /* http.raw_body: the field that receives the body as received */
    json_t *headers;      /* http.headers: header name -> input field (borrowed), or NULL */
    /* The input property a raw (non-JSON) request body fills, base64
     * encoded: the one whose schema says contentEncoding base64; or NULL. */
    const char *raw_body_field;
} cmh_route;

typedef struct cmh_router {
    json_t *doc; /* the parsed describe document (owns every borrowed string) */
    cmh_route *routes;
    int n;
} cmh_router;

/* Find a route by operation name, or NULL. */
const cmh_route *cmh_router_find_op(const cmh_router *r, const char *op);
/* Build the routes from the describe JSON. Returns 0, or -1 with a message
 * in err (duplicate route, bad template). */
int cmh_router_build(cmh_router *r, const char *describe_json, char *err, size_t errlen);
void cmh_router_free(cmh_router *r);

typedef struct cmh_match {
    const cmh_route *route;
    char *pvals[CMH_MAX_SEGS]; /* decoded parameter values by segment index */
    char allow[96];            /* for 405: "GET, PATCH" */
} cmh_match;

/*
 * Match `method` (HEAD counts as GET) and the raw path (no query). Returns
 * 200 with m->route set, 404 (no route has this path), 405 (other methods
 * do: m->allow lists them) or 400 (bad percent-encoding in a parameter).
 * Literal segments win over parameters ("/v1/sessions/logout" over
 * "/v1/sessions/{id}"). Free with cmh_match_clear().
 */
int cmh_router_match(const cmh_router *r, const char *method, const char *path, size_t path_len,
                     cmh_match *m);
void cmh_match_clear(cmh_match *m);
/* Methods accepted on this path, for CORS preflight ("" if none). */
void cmh_router_allow(const cmh_router *r, const char *path, size_t path_len, char *out,
                      size_t cap);

typedef struct cmh_input_err {
    int status;       /* 400 or 415 */
    const char *code; /* "CM_EINVAL" or "HTTP_UNSUPPORTED_MEDIA_TYPE" */
    char field[72];
    char detail[200];
} cmh_input_err;

/*
 * The operation's JSON input: path parameters and, for GET/HEAD/DELETE,
 * the query string (values converted to the schema's types; repeated keys
 * make arrays), otherwise the JSON body (an object; Content-Type must be
 * JSON when a body is present). A route with http.raw_body (a webhook)
 * takes the body as received, whatever its type, as that string field
 * (valid UTF-8 without NUL), and each header named in http.headers as
 * its field. Query parameters in `host_params` (a
 * NULL-terminated list) belong to the host and are skipped. Returns 0 and
 * a new object in *out, or -1 with err filled.
 */
int cmh_build_input(const cmh_route *rt, const cmh_match *m, const char *query,
                    const cmh_request *req, const char *const *host_params, json_t **out,
                    cmh_input_err *err);

/* Find a "name=value" in a raw query string; returns the decoded value
 * (caller frees) or NULL. */
char *cmh_query_get(const char *query, const char *name);

#endif /* CMH_ROUTES_H */
