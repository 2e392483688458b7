/*
 * chat_openai.c - the OpenAI-compatible chat provider: POST
 * {base_url}/chat/completions with "stream": true over the internal HTTP
 * client (lib/util/http_client.h), the reply read as server-sent events as
 * it arrives: text deltas go to the request's on_text at once, tool call
 * deltas (an index, then the id and name, then the arguments in pieces)
 * are put together, and the usage chunk gives the token counts.
 *
 * A 429 or 5xx answer, or a service that cannot be reached, is tried
 * again up to `retries` times after an exponential backoff (base, 2 x
 * base, ...; a Retry-After in seconds is honoured up to 30 s); nothing is
 * retried once text has been passed on. Errors name the URL (never the
 * key) and the HTTP status, quoting at most 120 bytes of the service's
 * error message with the key replaced by "***".
 */
#include "chat.h"

#include "../util/http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct openai {
    cm__chat_provider base;
    char *url; /* {base_url}/chat/completions */
    char *key; /* may be NULL */
    char *model;
    uint32_t timeout_ms, retries, backoff_ms;
} openai;

/* ---- server-sent events ---- */

typedef struct tool_acc {
    char *id, *name;
    cm__buf args;
} tool_acc;

typedef struct sse {
    const cm__chat_request *req;
    cm__buf line; /* the line being received */
    cm__buf data; /* the data lines of the event being received */
    cm__buf text; /* the answer so far */
    tool_acc *tools;
    size_t n_tools;
    char model[128];
    int64_t tokens_in, tokens_out;
    bool done, any, streamed, cr;
    int rc;
    char err[256];
} sse;

static void sse_dispose(sse *s)
{
    cm__free(s->line.p);
    cm__free(s->data.p);
    cm__free(s->text.p);
    for (size_t i = 0; i < s->n_tools; i++) {
        cm__free(s->tools[i].id);
        cm__free(s->tools[i].name);
        cm__free(s->tools[i].args.p);
    }
    cm__free(s->tools);
}

static int set_str(char **dst, json_t *v)
{
    if (!json_is_string(v))
        return CM_OK;
    char *c = cm__strdup(json_string_value(v));
    if (!c)
        return cm__oom();
    cm__free(*dst);
    *dst = c;
    return CM_OK;
}

/* One tool call delta: {index, id?, function: {name?, arguments?}}. */
static int tool_delta(sse *s, json_t *d)
{
    json_int_t idx = json_integer_value(json_object_get(d, "index"));
    if (idx < 0 || idx > 63)
        return cm__error_set(CM_EIO, "chat completions: a tool call index out of range");
    if ((size_t)idx >= s->n_tools) {
        tool_acc *t = cm__realloc(s->tools, ((size_t)idx + 1) * sizeof *t);
        if (!t)
            return cm__oom();
        memset(t + s->n_tools, 0, ((size_t)idx + 1 - s->n_tools) * sizeof *t);
        s->tools = t;
        s->n_tools = (size_t)idx + 1;
    }
    tool_acc *t = &s->tools[idx];
    json_t *fn = json_object_get(d, "function");
    int rc = set_str(&t->id, json_object_get(d, "id"));
    if (rc == CM_OK)
        rc = set_str(&t->name, json_object_get(fn, "name"));
    const char *a = json_string_value(json_object_get(fn, "arguments"));
    if (rc == CM_OK && a) {
        cm__buf_puts(&t->args, a);
        if (t->args.err)
            rc = cm__oom();
    }
    return rc;
}

/* One event's data: a JSON chunk, or [DONE]. */
static int sse_event(sse *s, const char *data)
{
    if (strcmp(data, "[DONE]") == 0) {
        s->done = true;
        return CM_OK;
    }
    json_error_t jerr;
    json_t *c = json_loads(data, 0, &jerr);
    if (!json_is_object(c)) {
        json_decref(c);
        return cm__error_set(CM_EIO, "chat completions: a malformed stream event: %s (%.60s)",
                             jerr.text, data);
    }
    int rc = CM_OK;
    json_t *err = json_object_get(c, "error");
    if (err) {
        const char *m = cm__json_str(err, "message");
        rc = cm__error_set(CM_EIO,
                           "chat completions: the service reported an error in the "
                           "stream: %.120s",
                           m ? m : "(no message)");
    }
    const char *model = cm__json_str(c, "model");
    if (rc == CM_OK && model && !s->model[0])
        (void)snprintf(s->model, sizeof s->model, "%s", model);
    json_t *usage = json_object_get(c, "usage");
    if (rc == CM_OK && json_is_object(usage)) {
        s->tokens_in = (int64_t)json_integer_value(json_object_get(usage, "prompt_tokens"));
        s->tokens_out = (int64_t)json_integer_value(json_object_get(usage, "completion_tokens"));
    }
    json_t *delta = json_object_get(json_array_get(json_object_get(c, "choices"), 0), "delta");
    const char *text = cm__json_str(delta, "content");
    if (rc == CM_OK && text && *text) {
        cm__buf_puts(&s->text, text);
        if (s->text.err)
            rc = cm__oom();
        else if (s->req->on_text) {
            s->streamed = true;
            if (s->req->on_text(s->req->payload, text, strlen(text)))
                rc = cm__error_set(CM_ECANCELED, "the answer's reader stopped it");
        }
    }
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(delta, "tool_calls"), i, d)
    {
        if (rc == CM_OK)
            rc = tool_delta(s, d);
    }
    s->any = true;
    json_decref(c);
    return rc;
}

/* One complete line (without its end). */
static int sse_line(sse *s, const char *line, size_t n)
{
    if (n == 0) { /* the end of an event */
        if (!s->data.p)
            return CM_OK;
        int rc = sse_event(s, s->data.p);
        s->data.len = 0;
        s->data.p[0] = '\0';
        return rc;
    }
    if (line[0] == ':')
        return CM_OK; /* comment */
    if (n >= 5 && memcmp(line, "data:", 5) == 0) {
        size_t skip = n > 5 && line[5] == ' ' ? 6 : 5;
        if (s->data.p && s->data.len)
            cm__buf_put(&s->data, "\n", 1);
        cm__buf_put(&s->data, line + skip, n - skip);
        if (!s->data.p)
            cm__buf_put(&s->data, "", 0);
        return s->data.err ? cm__oom() : CM_OK;
    }
    return CM_OK; /* event:, id:, retry: and unknown fields */
}

static int on_chunk(const char *p, size_t n, void *payload)
{
    sse *s = payload;
    for (size_t i = 0; i < n && s->rc == CM_OK; i++) {
        char c = p[i];
        if (c == '\n' && s->cr) { /* the \n of \r\n */
            s->cr = false;
            continue;
        }
        s->cr = c == '\r';
        if (c == '\n' || c == '\r') {
            s->rc = sse_line(s, s->line.p ? s->line.p : "", s->line.len);
            s->line.len = 0;
            if (s->line.p)
                s->line.p[0] = '\0';
            continue;
        }
        cm__buf_put(&s->line, &c, 1);
        if (s->line.err)
            s->rc = cm__oom();
        else if (s->line.len > 1024 * 1024)
            s->rc = cm__error_set(CM_EIO, "chat completions: a stream line over 1 MiB");
    }
    return s->rc;
}

/* ---- requests ---- */

static int build_body(char **out, const openai *o, const cm__chat_request *req)
{
    json_t *b = json_pack("{s:s,s:O,s:b,s:{s:b}}", "model", o->model, "messages", req->messages,
                          "stream", 1, "stream_options", "include_usage", 1);
    if (!b)
        return cm__oom();
    if (req->tools && json_array_size(req->tools))
        json_object_set(b, "tools", (json_t *)req->tools);
    int rc = cm__json_dump(out, b);
    json_decref(b);
    return rc;
}

static void sleep_ms(uint32_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* The service's error message of a non-2xx body, redacted, for the detail. */
static void quote_error(char *out, size_t n, const openai *o, const cm__http_response *r)
{
    out[0] = '\0';
    json_t *doc = r->body ? json_loads(r->body, 0, NULL) : NULL;
    const char *m = cm__json_str(json_object_get(doc, "error"), "message");
    if (!m)
        m = cm__json_str(doc, "message");
    (void)snprintf(out, n, "%.120s", m ? m : (r->body ? r->body : ""));
    json_decref(doc);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    if (o->key)
        cm__http_redact(out, o->key);
}

static int finish(cm__chat_reply *out, sse *s, const openai *o)
{
    json_t *calls = NULL;
    for (size_t i = 0; i < s->n_tools; i++) {
        tool_acc *t = &s->tools[i];
        if (!t->name)
            continue;
        json_t *args = t->args.p ? json_loads(t->args.p, 0, NULL) : json_object();
        if (!args) /* not JSON: handed on as a string, which the caller refuses */
            args = json_string(t->args.p);
        char id[32];
        (void)snprintf(id, sizeof id, "call_%zu", i);
        if (!calls)
            calls = json_array();
        json_array_append_new(calls, json_pack("{s:s,s:s,s:o}", "id", t->id ? t->id : id, "name",
                                               t->name, "arguments", args));
    }
    out->text = s->text.p ? s->text.p : cm__strdup("");
    s->text.p = NULL;
    out->model = cm__strdup(s->model[0] ? s->model : o->model);
    out->tool_calls = calls;
    out->tokens_in = s->tokens_in;
    out->tokens_out = s->tokens_out;
    if (!out->text || !out->model) {
        cm__chat_reply_dispose(out);
        return cm__oom();
    }
    return CM_OK;
}

static int openai_complete(const cm__chat_provider *p, cm__chat_reply *out,
                           const cm__chat_request *req)
{
    const openai *o = (const openai *)p;
    memset(out, 0, sizeof *out);
    char *body = NULL;
    int rc = build_body(&body, o, req);
    if (rc)
        return rc;
    char auth[600];
    const char *headers[3] = {"Content-Type: application/json", "Accept: text/event-stream", auth};
    size_t n_headers = 2;
    if (o->key) {
        (void)snprintf(auth, sizeof auth, "Authorization: Bearer %s", o->key);
        n_headers = 3;
    }
    const char *secrets[] = {o->key, NULL};
    char shown[256];
    cm__http_url_shown(shown, sizeof shown, o->url);
    for (uint32_t attempt = 0;; attempt++) {
        sse s = {.req = req};
        cm__http_request hr = {
            .method = "POST",
            .url = o->url,
            .headers = headers,
            .n_headers = n_headers,
            .secrets = o->key ? secrets : NULL,
            .body = body,
            .body_len = strlen(body),
            .timeout_ms = o->timeout_ms,
            .max_response = 8u << 20,
            .on_chunk = on_chunk,
            .payload = &s,
            .what = "chat completions",
        };
        cm__http_response r;
        rc = cm__http_perform(&r, &hr);
        bool retry = false;
        uint32_t wait = o->backoff_ms << (attempt < 16 ? attempt : 16);
        if (rc == CM_OK && (r.status < 200 || r.status > 299)) {
            char msg[160];
            quote_error(msg, sizeof msg, o, &r);
            retry = r.status == 429 || r.status >= 500;
            const char *ra = cm__http_response_header(&r, "Retry-After");
            if (retry && ra) {
                long secs = strtol(ra, NULL, 10);
                if (secs >= 0 && secs <= 30)
                    wait = (uint32_t)secs * 1000u > wait ? (uint32_t)secs * 1000u : wait;
            }
            rc = cm__error_set(r.status == 429   ? CM_ETHROTTLED
                               : r.status >= 500 ? CM_EUNAVAILABLE
                                                 : CM_EIO,
                               "chat completions: POST %s answered HTTP %ld%s%s%s", shown, r.status,
                               attempt ? " (after retries)" : "", *msg ? ": " : "", msg);
        } else if (rc == CM_OK && !s.any) {
            rc = cm__error_set(CM_EIO, "chat completions: POST %s sent no stream events", shown);
        } else if (rc == CM_EUNAVAILABLE) {
            retry = true;
        }
        if (rc == CM_OK)
            rc = finish(out, &s, o);
        bool streamed = s.streamed;
        sse_dispose(&s);
        cm__http_response_dispose(&r);
        if (rc == CM_OK || !retry || streamed || attempt >= o->retries)
            break;
        cm__log(CM_LOG_INFO, "assistant", "%s; trying again in %u ms", cm_error_message(), wait);
        cm_error_clear();
        sleep_ms(wait);
    }
    cm__free(body);
    return rc;
}

static void openai_free(cm__chat_provider *p)
{
    openai *o = (openai *)p;
    if (!o)
        return;
    cm__free(o->url);
    if (o->key) {
        memset(o->key, 0, strlen(o->key));
        cm__free(o->key);
    }
    cm__free(o->model);
    cm__free(o);
}

int cm__chat_openai_new(cm__chat_provider **out, const cm__chat_openai_config *cfg)
{
    *out = NULL;
    const char *base = cfg->base_url;
    if (!base || (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0))
        return cm__error_set_field(CM_EINVAL, "base_url",
                                   "the chat provider's base URL must be http(s)");
    if (!cfg->model || !*cfg->model)
        return cm__error_set_field(CM_EINVAL, "model", "the chat provider needs a model name");
    openai *o = cm__calloc(1, sizeof *o);
    if (!o)
        return cm__oom();
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    o->url = cm__malloc(n + sizeof "/chat/completions");
    o->model = cm__strdup(cfg->model);
    o->key = cfg->api_key && *cfg->api_key ? cm__strdup(cfg->api_key) : NULL;
    if (!o->url || !o->model || (cfg->api_key && *cfg->api_key && !o->key)) {
        openai_free(&o->base);
        return cm__oom();
    }
    memcpy(o->url, base, n);
    memcpy(o->url + n, "/chat/completions", sizeof "/chat/completions");
    o->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 60000;
    o->retries = cfg->retries;
    o->backoff_ms = cfg->backoff_ms ? cfg->backoff_ms : 500;
    o->base.name = "openai";
    o->base.complete = openai_complete;
    o->base.free = openai_free;
    *out = &o->base;
    return CM_OK;
}
