/*
 * openapi.c - OpenAPI 3.1 generation (see openapi.h). OpenAPI 3.1 schemas
 * are JSON Schema 2020-12, so the operations' input schemas are used as
 * they are.
 */
#include "openapi.h"

#include <stdlib.h>
#include <string.h>

static json_t *ref(const char *what)
{
    return json_pack("{s:s}", "$ref", what);
}

/* The static part of components: schemas, responses, security schemes,
 * shared header parameters. */
static const char components_json[] =
    "{\"schemas\":{\"Problem\":{\"type\":\"object\","
    "\"description\":\"RFC 9457 problem details. code is a libcommunity status name "
    "(CM_EINVAL, CM_EAUTH, ...) or HTTP_* for failures found by the HTTP host; field names "
    "the offending input field when there is one.\","
    "\"properties\":{\"type\":{\"type\":\"string\",\"format\":\"uri-reference\"},"
    "\"title\":{\"type\":\"string\"},"
    "\"status\":{\"type\":\"integer\",\"minimum\":100,\"maximum\":599},"
    "\"detail\":{\"type\":\"string\"},"
    "\"code\":{\"type\":\"string\",\"pattern\":\"^(CM|HTTP)_[A-Z_]+$\"},"
    "\"field\":{\"type\":\"string\",\"description\":\"the input field the error is about\"},"
    "\"request_id\":{\"type\":\"string\"}},"
    "\"required\":[\"type\",\"title\",\"status\",\"code\"]}},"
    "\"responses\":{"
    "\"BadRequest\":{\"description\":\"Malformed request: bad JSON, a query value of the "
    "wrong type, a bad header (CM_EINVAL without a field)\",\"content\":{\"application/"
    "problem+json\":{\"schema\":{\"$ref\":\"#/components/schemas/Problem\"}}}},"
    "\"Unauthorized\":{\"description\":\"No valid session (CM_EAUTH)\",\"content\":{"
    "\"application/problem+json\":{\"schema\":{\"$ref\":\"#/components/schemas/Problem\"}}}},"
    "\"Forbidden\":{\"description\":\"Signed in but not allowed (CM_EPERM), or the CSRF check "
    "failed (HTTP_CSRF_FAILED)\",\"content\":{\"application/problem+json\":{\"schema\":{"
    "\"$ref\":\"#/components/schemas/Problem\"}}}},"
    "\"NotFound\":{\"description\":\"Absent or not visible (CM_ENOTFOUND)\",\"content\":{"
    "\"application/problem+json\":{\"schema\":{\"$ref\":\"#/components/schemas/Problem\"}}}},"
    "\"Conflict\":{\"description\":\"Already exists, conflicting change or constraint "
    "(CM_EEXISTS, CM_ECONFLICT, CM_ECONSTRAINT)\",\"content\":{\"application/problem+json\":"
    "{\"schema\":{\"$ref\":\"#/components/schemas/Problem\"}}}},"
    "\"ContentTooLarge\":{\"description\":\"Body over the limit\",\"content\":{\"application/"
    "problem+json\":{\"schema\":{\"$ref\":\"#/components/schemas/Problem\"}}}},"
    "\"UnsupportedMediaType\":{\"description\":\"The body is not application/json\","
    "\"content\":{\"application/problem+json\":{\"schema\":{\"$ref\":\"#/components/schemas/"
    "Problem\"}}}},"
    "\"UnprocessableContent\":{\"description\":\"Input fails the operation's schema or rules "
    "(CM_EINVAL with field)\",\"content\":{\"application/problem+json\":{\"schema\":{\"$ref\":"
    "\"#/components/schemas/Problem\"}}}},"
    "\"TooManyRequests\":{\"description\":\"Rate limited; see Retry-After\",\"content\":{"
    "\"application/problem+json\":{\"schema\":{\"$ref\":\"#/components/schemas/Problem\"}}}},"
    "\"InternalError\":{\"description\":\"Server error\",\"content\":{\"application/"
    "problem+json\":{\"schema\":{\"$ref\":\"#/components/schemas/Problem\"}}}},"
    "\"ServiceUnavailable\":{\"description\":\"Busy (CM_EBUSY); see Retry-After\","
    "\"content\":{\"application/problem+json\":{\"schema\":{\"$ref\":\"#/components/schemas/"
    "Problem\"}}}}},"
    "\"securitySchemes\":{"
    "\"bearerAuth\":{\"type\":\"http\",\"scheme\":\"bearer\",\"description\":\"A session token "
    "from a sign-in operation (its result's session.token).\"},"
    "\"cookieAuth\":{\"type\":\"apiKey\",\"in\":\"cookie\",\"name\":\"cm_session\","
    "\"description\":\"The HttpOnly session cookie, set on sign-in when the request has "
    "?cookie=1 or X-Session-Cookie: 1. Unsafe requests authenticated by it must send "
    "X-CSRF-Token with the session's CSRF token (the cm_csrf cookie), and an Origin (if any) "
    "of this site or a listed one.\"}},"
    "\"parameters\":{"
    "\"IdempotencyKey\":{\"name\":\"Idempotency-Key\",\"in\":\"header\",\"required\":false,"
    "\"description\":\"Makes a retry safe: the first final response for this key (per caller "
    "and route) is kept for 24 h and replayed with Idempotent-Replayed: true. The same key "
    "with a different body gets 422; a concurrent duplicate gets 409. Kept in this server "
    "process only.\",\"schema\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":255}},"
    "\"CsrfToken\":{\"name\":\"X-CSRF-Token\",\"in\":\"header\",\"required\":false,"
    "\"description\":\"Required when authenticating with the cm_session cookie: the "
    "session's CSRF token, given at sign-in in the cm_csrf cookie and the X-CSRF-Token "
    "response header.\",\"schema\":{\"type\":\"string\"}},"
    "\"RequestId\":{\"name\":\"X-Request-Id\",\"in\":\"header\",\"required\":false,"
    "\"description\":\"Echoed in the response and the logs; generated if absent.\","
    "\"schema\":{\"type\":\"string\",\"maxLength\":128}}}}";

/* Point the library's "#/$defs/X" references at "#/components/schemas/X",
 * in place. */
static void rebase_refs(json_t *s)
{
    const char *key;
    json_t *v;
    size_t i;
    if (json_is_array(s)) {
        json_array_foreach(s, i, v) rebase_refs(v);
        return;
    }
    json_object_foreach(s, key, v)
    {
        const char *r = json_string_value(v);
        if (strcmp(key, "$ref") == 0 && r && strncmp(r, "#/$defs/", 8) == 0) {
            char buf[160];
            (void)snprintf(buf, sizeof buf, "#/components/schemas/%s", r + 8);
            json_object_set_new(s, key, json_string(buf));
        } else {
            rebase_refs(v);
        }
    }
}

/* A copy of one of the library's schemas, fit for this document. */
static json_t *schema_copy(const json_t *s)
{
    json_t *c = json_deep_copy(s);
    rebase_refs(c);
    return c;
}

/* The static components plus the library's named result types. */
static json_t *components(const cmh_router *r)
{
    json_t *c = json_loads(components_json, 0, NULL);
    json_t *schemas = json_object_get(c, "schemas");
    const char *name;
    json_t *def;
    json_object_foreach(json_object_get(r->doc, "$defs"), name, def)
        json_object_set_new(schemas, name, schema_copy(def));
    return c;
}

static bool in_path(const cmh_route *rt, const char *name)
{
    for (int i = 0; i < rt->n_segs; i++)
        if (rt->seg_param[i] && strcmp(rt->segs[i], name) == 0)
            return true;
    return false;
}

static bool is_required(const cmh_route *rt, const char *name)
{
    for (int i = 0; i < rt->n_params; i++)
        if (strcmp(rt->params[i].name, name) == 0)
            return rt->params[i].required;
    return false;
}

static void add_error_refs(json_t *responses, const cmh_route *rt, bool body)
{
    json_object_set_new(responses, "400", ref("#/components/responses/BadRequest"));
    if (strcmp(rt->role, "anonymous") != 0) {
        json_object_set_new(responses, "401", ref("#/components/responses/Unauthorized"));
        json_object_set_new(responses, "403", ref("#/components/responses/Forbidden"));
    } else {
        json_object_set_new(responses, "401", ref("#/components/responses/Unauthorized"));
    }
    json_object_set_new(responses, "404", ref("#/components/responses/NotFound"));
    if (rt->mutates)
        json_object_set_new(responses, "409", ref("#/components/responses/Conflict"));
    if (body) {
        json_object_set_new(responses, "413", ref("#/components/responses/ContentTooLarge"));
        json_object_set_new(responses, "415", ref("#/components/responses/UnsupportedMediaType"));
    }
    json_object_set_new(responses, "422", ref("#/components/responses/UnprocessableContent"));
    json_object_set_new(responses, "429", ref("#/components/responses/TooManyRequests"));
    json_object_set_new(responses, "500", ref("#/components/responses/InternalError"));
    json_object_set_new(responses, "503", ref("#/components/responses/ServiceUnavailable"));
}

static json_t *operation(const cmh_route *rt)
{
    bool body = strcmp(rt->method, "POST") == 0 || strcmp(rt->method, "PUT") == 0 ||
                strcmp(rt->method, "PATCH") == 0;
    json_t *props = json_object_get(rt->input, "properties");
    json_t *params = json_array();
    const char *name;
    json_t *schema;
    json_object_foreach(props, name, schema)
    {
        bool p = in_path(rt, name);
        if (!p && body)
            continue;
        json_t *prm = json_pack("{s:s,s:s,s:b,s:O}", "name", name, "in", p ? "path" : "query",
                                "required", p || is_required(rt, name), "schema", schema);
        const char *d = json_string_value(json_object_get(schema, "description"));
        if (d)
            json_object_set_new(prm, "description", json_string(d));
        if (!p && json_is_array(json_object_get(schema, "items")))
            json_object_set_new(prm, "explode", json_true());
        json_array_append_new(params, prm);
    }
    const char *hname;
    json_t *hfield;
    json_object_foreach(rt->headers, hname, hfield)
    {
        const char *f = json_string_value(hfield);
        json_t *fs = f ? json_object_get(props, f) : NULL;
        if (!fs)
            continue;
        json_t *prm = json_pack("{s:s,s:s,s:b,s:O}", "name", hname, "in", "header", "required",
                                is_required(rt, f), "schema", fs);
        const char *d = json_string_value(json_object_get(fs, "description"));
        if (d)
            json_object_set_new(prm, "description", json_string(d));
        json_array_append_new(params, prm);
    }
    bool unsafe = body || strcmp(rt->method, "DELETE") == 0;
    if (unsafe) {
        json_array_append_new(params, ref("#/components/parameters/IdempotencyKey"));
        json_array_append_new(params, ref("#/components/parameters/CsrfToken"));
    }
    json_array_append_new(params, ref("#/components/parameters/RequestId"));
    bool session_result =
        json_object_get(json_object_get(rt->result, "properties"), "session") != NULL;
    if (body && session_result)
        json_array_append_new(params,
                              json_pack("{s:s,s:s,s:b,s:s,s:{s:s,s:[s,s]}}", "name", "cookie", "in",
                                        "query", "required", 0, "description",
                                        "1: also set the cm_session (HttpOnly) and cm_csrf cookies",
                                        "schema", "type", "string", "enum", "1", "true"));

    char status[8];
    (void)snprintf(status, sizeof status, "%d", rt->success_status);
    json_t *responses = json_object();
    json_t *rs = rt->result ? schema_copy(rt->result) : json_pack("{s:s}", "type", "object");
    const char *rdesc = json_string_value(json_object_get(rt->result, "description"));
    json_object_set_new(responses, status,
                        json_pack("{s:s,s:{s:{s:o}}}", "description", rdesc ? rdesc : "The result",
                                  "content", "application/json", "schema", rs));
    add_error_refs(responses, rt, body);
    if (rt->stream) {
        /* Accept: text/event-stream: the same result, streamed */
        json_t *content = json_object_get(json_object_get(responses, status), "content");
        json_object_set_new(
            content, "text/event-stream",
            json_pack("{s:{s:s,s:s}}", "schema", "type", "string", "description",
                      "With Accept: text/event-stream: server-sent events while the operation "
                      "runs (event: NAME, data: one JSON object per event), ended by the "
                      "connection closing. assistant.ask sends delta {text} pieces of the "
                      "answer, then citations {citations}, action (the pending action, when "
                      "one is proposed) and done (the result above); a failure after the "
                      "first event is an error event whose data is a Problem. A failure "
                      "before it is an ordinary problem response. Not with Idempotency-Key."));
    }

    const char *dot = strchr(rt->op, '.');
    json_t *o = json_pack(
        "{s:s,s:s,s:[s#],s:o,s:o,s:s,s:b}", "operationId", rt->op, "summary", rt->summary, "tags",
        rt->op, dot ? (int)(dot - rt->op) : (int)strlen(rt->op), "parameters", params, "responses",
        responses, "x-community-role", rt->role, "x-community-mutates", rt->mutates);
    if (rt->stream)
        json_object_set_new(o, "x-community-stream", json_true());
    if (body && rt->raw_body) {
        /* a webhook: the body is taken as received (its signature covers
         * the exact bytes), not as a JSON object of input fields */
        json_t *fs = json_object_get(props, rt->raw_body);
        const char *d = json_string_value(json_object_get(fs, "description"));
        json_object_set_new(
            o, "requestBody",
            json_pack("{s:b,s:s,s:{s:{s:{s:s,s:s}}}}", "required", 1, "description",
                      d ? d : "The raw body", "content", "application/json", "schema", "type",
                      "object", "description",
                      "The provider's event, verified byte for byte against the signature "
                      "header before it is parsed"));
        json_object_set_new(o, "x-community-raw-body", json_string(rt->raw_body));
    } else if (body) {
        json_t *s = json_deep_copy(rt->input);
        json_t *sp = json_object_get(s, "properties");
        json_t *req = json_array();
        size_t i;
        json_t *v;
        for (int k = 0; k < rt->n_segs; k++)
            if (rt->seg_param[k])
                json_object_del(sp, rt->segs[k]);
        json_array_foreach(json_object_get(rt->input, "required"), i, v)
        {
            if (!in_path(rt, json_string_value(v)))
                json_array_append(req, v);
        }
        bool needed = json_array_size(req) > 0;
        json_object_set_new(s, "required", req);
        json_t *rbody = json_pack("{s:b,s:{s:{s:O}}}", "required", needed, "content",
                                  "application/json", "schema", s);
        if (rt->text_body) /* the same JSON, labelled text/plain (Amazon SNS) */
            json_object_set_new(json_object_get(rbody, "content"), "text/plain",
                                json_pack("{s:O}", "schema", s));
        json_decref(s);
        json_object_set_new(o, "requestBody", rbody);
    }
    json_t *sec = strcmp(rt->role, "anonymous") == 0
                      ? json_pack("[{},{s:[]},{s:[]}]", "bearerAuth", "cookieAuth")
                      : json_pack("[{s:[]},{s:[]}]", "bearerAuth", "cookieAuth");
    json_object_set_new(o, "security", sec);
    return o;
}

static json_t *host_op(const char *id, const char *summary, const char *type, const char *desc200,
                       bool has503)
{
    json_t *responses =
        json_pack("{s:{s:s,s:{s:{s:{s:s}}}}}", "200", "description", desc200, "content", type,
                  "schema", "type", strcmp(type, "application/json") == 0 ? "object" : "string");
    if (has503)
        json_object_set_new(responses, "503",
                            json_pack("{s:s}", "description", "Not ready (or draining)"));
    return json_pack("{s:{s:s,s:s,s:[s],s:[],s:o}}", "get", "operationId", id, "summary", summary,
                     "tags", "host", "security", "responses", responses);
}

char *openapi_build(const cmh_router *r, const char *version, size_t *len)
{
    json_t *paths = json_object();
    for (int i = 0; i < r->n; i++) {
        const cmh_route *rt = &r->routes[i];
        json_t *item = json_object_get(paths, rt->path);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, rt->path, item);
        }
        char m[16];
        size_t k = 0;
        for (; rt->method[k] && k + 1 < sizeof m; k++)
            m[k] = (char)(rt->method[k] >= 'A' && rt->method[k] <= 'Z' ? rt->method[k] + 32
                                                                       : rt->method[k]);
        m[k] = '\0';
        json_object_set_new(item, m, operation(rt));
    }
    json_object_set_new(paths, "/healthz",
                        host_op("host.healthz", "Liveness: the process answers", "application/json",
                                "{status: ok}", false));
    json_object_set_new(paths, "/readyz",
                        host_op("host.readyz",
                                "Readiness: database reachable and migrations current",
                                "application/json", "{status: ready}", true));
    json_object_set_new(paths, "/metrics",
                        host_op("host.metrics", "Prometheus metrics (text format 0.0.4)",
                                "text/plain", "metrics", false));
    json_object_set_new(
        paths, "/openapi.json",
        host_op("host.openapi", "This document", "application/json", "OpenAPI 3.1", false));
    json_t *doc = json_pack(
        "{s:s,s:{s:s,s:s,s:s},s:o,s:o}", "openapi", "3.1.0", "info", "title", "libcommunity API",
        "version", version, "description",
        "Generated at start-up from the libcommunity operation table (cm_ops_describe). Errors "
        "are RFC 9457 problem details (application/problem+json). List results paginate with "
        "an opaque next_cursor (pass it back as ?cursor=; a Link rel=next header carries it "
        "too).",
        "paths", paths, "components", components(r));
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    *len = strlen(s);
    return s;
}
