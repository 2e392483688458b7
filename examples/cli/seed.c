/*
 * seed.c - `community seed FILE`: run a JSON array of operation steps in
 * order, so that demo and test data are written with the same operations
 * (and the same validation and permissions) as everything else.
 *
 * A step is {"op": "events.create", "as": ACTOR, "input": {...}, "name": N}.
 * ACTOR is an e-mail address (act as that member), null or absent (the
 * system actor) or "anonymous"; "name" is optional. A string anywhere in
 * "as" or "input" may refer to the result of an earlier step as
 * "${N.path.to.field}" (N = the step's index from 0, or its name; the path
 * goes through object keys and array indices). A string that is
 * exactly one reference becomes the referenced JSON value (an id stays an
 * integer); a reference inside a longer string is replaced by its text.
 * "$${" is a literal "${". Each step is its own transaction: a failed step
 * stops the run and earlier steps stay applied.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* Buffer for building strings. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

static int sb_add(sbuf *b, const char *s, size_t n)
{
    if (!b->s || b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns)
            return -1;
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

/* Resolve "N.path" or "NAME.path" (the text between "${" and "}") against
 * the results of steps 0..step-1. Returns a borrowed value, or NULL after
 * printing why. */
static const json_t *lookup(const json_t *steps, const json_t *results, size_t step,
                            const char *ref, size_t len)
{
    char path[256], shown[256];
    if (len >= sizeof path) {
        cli_fail(CLI_EXIT_INVALID, "CM_EINVAL: step %zu: reference too long", step);
        return NULL;
    }
    memcpy(path, ref, len);
    path[len] = '\0';
    memcpy(shown, path, len + 1);
    char *rest = strchr(path, '.');
    if (rest)
        *rest++ = '\0';
    size_t n = step;
    char *end;
    unsigned long idx = strtoul(path, &end, 10);
    if (*path && !*end) {
        n = idx;
    } else {
        for (size_t k = 0; k < step && n == step; k++) {
            const char *name = json_string_value(json_object_get(json_array_get(steps, k), "name"));
            if (name && !strcmp(name, path))
                n = k;
        }
    }
    if (n >= step) {
        cli_fail(CLI_EXIT_INVALID,
                 "CM_EINVAL: step %zu: ${%s}: must start with the index (0..%zu) or the name "
                 "of an earlier step",
                 step, shown, step ? step - 1 : 0);
        return NULL;
    }
    const json_t *v = json_array_get(results, n);
    char *save = NULL;
    for (char *part = rest ? strtok_r(rest, ".", &save) : NULL; part && v;
         part = strtok_r(NULL, ".", &save)) {
        if (json_is_array(v)) {
            char *e;
            unsigned long i = strtoul(part, &e, 10);
            v = *e ? NULL : json_array_get(v, i);
        } else {
            v = json_object_get(v, part);
        }
    }
    if (!v)
        cli_fail(CLI_EXIT_INVALID, "CM_EINVAL: step %zu: ${%s}: no such field in step %zu's result",
                 step, shown, n);
    return v;
}

/* Substitute the references of one string. Returns a new value, or NULL
 * after printing the error. */
static json_t *subst_string(const json_t *steps, const json_t *results, size_t step, const char *s)
{
    size_t slen = strlen(s);
    if (slen > 3 && !strncmp(s, "${", 2) && s[slen - 1] == '}' && !strchr(s + 2, '}')[1]) {
        const json_t *v = lookup(steps, results, step, s + 2, slen - 3);
        return v ? json_deep_copy(v) : NULL;
    }
    sbuf b = {0};
    for (const char *p = s; *p;) {
        const char *d = strstr(p, "${");
        if (!d) {
            (void)sb_add(&b, p, strlen(p));
            break;
        }
        if (d > p && d[-1] == '$') { /* "$${" -> literal "${" */
            (void)sb_add(&b, p, (size_t)(d - p - 1));
            (void)sb_add(&b, "${", 2);
            p = d + 2;
            continue;
        }
        (void)sb_add(&b, p, (size_t)(d - p));
        const char *close = strchr(d, '}');
        if (!close) {
            (void)sb_add(&b, d, strlen(d));
            break;
        }
        const json_t *v = lookup(steps, results, step, d + 2, (size_t)(close - d - 2));
        if (!v) {
            free(b.s);
            return NULL;
        }
        char *text = json_is_string(v) ? strdup(json_string_value(v))
                                       : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (text)
            (void)sb_add(&b, text, strlen(text));
        free(text);
        p = close + 1;
    }
    json_t *out = json_string(b.s ? b.s : "");
    free(b.s);
    return out;
}

/* Return a copy of v with every string's references substituted, or NULL. */
static json_t *subst(const json_t *steps, const json_t *results, size_t step, const json_t *v)
{
    if (json_is_string(v))
        return subst_string(steps, results, step, json_string_value(v));
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key, child)
        {
            json_t *c = subst(steps, results, step, child);
            if (!c) {
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, key, c);
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
        {
            json_t *c = subst(steps, results, step, child);
            if (!c) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, c);
        }
        return a;
    }
    return json_deep_copy(v);
}

/* The actor of a step: *out NULL means anonymous. Exit code. */
static int step_actor(cm_actor **out, cli *c, const json_t *as, size_t step)
{
    *out = NULL;
    int st;
    if (!as || json_is_null(as))
        st = cm_actor_system(out);
    else if (!json_is_string(as))
        return cli_fail(CLI_EXIT_INVALID,
                        "CM_EINVAL: step %zu: \"as\" must be an e-mail, null or \"anonymous\"",
                        step);
    else if (!strcmp(json_string_value(as), "anonymous"))
        return CLI_EXIT_OK;
    else
        st = cm_actor_for_email(out, c->store, json_string_value(as));
    if (st) {
        char ctx[320];
        snprintf(ctx, sizeof ctx, "step %zu: as %s", step,
                 json_is_string(as) ? json_string_value(as) : "system");
        return cli_report(st, ctx);
    }
    return CLI_EXIT_OK;
}

static int run_step(cli *c, const json_t *steps, json_t *results, size_t i)
{
    const json_t *step = json_array_get(steps, i);
    const char *opname = json_string_value(json_object_get(step, "op"));
    if (!json_is_object(step) || !opname)
        return cli_fail(CLI_EXIT_INVALID,
                        "CM_EINVAL: step %zu: expected {\"op\": ..., "
                        "\"as\": ..., \"input\": {...}}",
                        i);
    const json_t *in_tmpl = json_object_get(step, "input");
    if (in_tmpl && !json_is_object(in_tmpl))
        return cli_fail(CLI_EXIT_INVALID, "CM_EINVAL: step %zu: \"input\" must be an object", i);
    json_t *as = json_object_get(step, "as") ? subst(steps, results, i, json_object_get(step, "as"))
                                             : json_null();
    json_t *input = in_tmpl ? subst(steps, results, i, in_tmpl) : json_object();
    char *in = input ? json_dumps(input, JSON_COMPACT) : NULL;
    cm_actor *actor = NULL;
    char *out = NULL;
    int rc = !as || !input ? CLI_EXIT_INVALID : !in ? CLI_EXIT_ERROR : CLI_EXIT_OK;
    if (rc == CLI_EXIT_OK)
        rc = step_actor(&actor, c, as, i);
    if (rc == CLI_EXIT_OK) {
        int st = cm_exec(&out, c->store, actor, opname, in, strlen(in));
        if (st) {
            char ctx[320];
            snprintf(ctx, sizeof ctx, "step %zu (%s)", i, opname);
            rc = cli_report(st, ctx);
        } else {
            json_array_append_new(results, json_loads(out, JSON_DECODE_ANY, NULL));
            if (!c->json)
                printf("%4zu  %-24s %-28s ok\n", i, opname,
                       json_is_string(as) ? json_string_value(as) : "system");
        }
    }
    cm_free(out);
    cm_actor_free(actor);
    free(in);
    json_decref(input);
    json_decref(as);
    return rc;
}

int cli_seed(cli *c, const char *path)
{
    char *text = NULL;
    int rc = cli_read_input(&text, path, "seed");
    if (rc)
        return rc;
    json_error_t err;
    json_t *steps = json_loads(text, 0, &err);
    free(text);
    if (!json_is_array(steps)) {
        json_decref(steps);
        return cli_fail(CLI_EXIT_INVALID, "CM_EINVAL: seed: %s: %s (line %d)", path,
                        steps ? "expected a JSON array of steps" : err.text, err.line);
    }
    rc = cli_open_store(c);
    json_t *results = json_array();
    size_t i;
    json_t *step;
    json_array_foreach(steps, i, step)
    {
        if (rc != CLI_EXIT_OK)
            break;
        rc = run_step(c, steps, results, i);
    }
    if (rc == CLI_EXIT_OK) {
        if (c->json) {
            char *s = json_dumps(results, JSON_COMPACT);
            if (s)
                puts(s);
            free(s);
        } else
            printf("seeded %zu steps into %s\n", json_array_size(steps), c->db);
    }
    json_decref(results);
    json_decref(steps);
    return rc;
}
