/*
 * doc.c - `community ops --markdown`: the operations reference
 * (docs/operations.md) generated from cm_ops_describe(). The meson test
 * `docs-current` fails when the committed file differs from this output.
 */
#include "cli.h"

#include <stdbool.h>
#include <string.h>

/* Markdown table cell: escape '|' and flatten newlines. */
static void cell(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

static const char *str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

/* GitHub-style anchor of "module.verb": lower case, dots dropped. */
static void anchor(FILE *f, const char *name)
{
    for (; *name; name++)
        if (*name != '.')
            fputc(*name, f);
}

static int is_required(const json_t *op, const char *field)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(json_object_get(op, "input"), "required"), i, r)
    {
        if (!strcmp(json_string_value(r), field))
            return 1;
    }
    return 0;
}

/* Append to a bounded buffer (truncates, never overflows). */
typedef struct sbuf {
    char *p;
    size_t cap, len;
} sbuf;

static void put(sbuf *b, const char *s)
{
    for (; *s && b->len + 1 < b->cap; s++)
        b->p[b->len++] = *s;
    b->p[b->len] = '\0';
}

static void brief(sbuf *b, const json_t *s);

/* A one-line rendering of a result schema: Member, [Post], {a, b?: Session},
 * string | null, {[key]: integer}. Named definitions appear by name. */
static void brief(sbuf *b, const json_t *s)
{
    const char *ref = str(s, "$ref");
    if (*ref) {
        const char *slash = strrchr(ref, '/');
        put(b, slash ? slash + 1 : ref);
        return;
    }
    const json_t *any = json_object_get(s, "anyOf");
    if (any) {
        size_t i;
        json_t *alt;
        json_array_foreach(any, i, alt)
        {
            if (i)
                put(b, " | ");
            brief(b, alt);
        }
        return;
    }
    const json_t *type = json_object_get(s, "type");
    const char *t =
        json_is_string(type) ? json_string_value(type) : json_string_value(json_array_get(type, 0));
    if (!t) {
        put(b, "any");
    } else if (json_object_get(s, "enum")) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(s, "enum"), i, v)
        {
            if (!json_is_string(v))
                continue;
            if (i)
                put(b, "|");
            put(b, json_string_value(v));
        }
    } else if (!strcmp(t, "array")) {
        put(b, "[");
        brief(b, json_object_get(s, "items"));
        put(b, "]");
    } else if (!strcmp(t, "object") && json_object_get(s, "properties")) {
        put(b, "{");
        const char *key;
        json_t *v;
        int n = 0;
        json_object_foreach(json_object_get(s, "properties"), key, v)
        {
            bool req = false;
            size_t i;
            json_t *r;
            json_array_foreach(json_object_get(s, "required"), i, r) req =
                req || !strcmp(json_string_value(r), key);
            put(b, n++ ? ", " : "");
            put(b, key);
            put(b, req ? ": " : "?: ");
            brief(b, v);
        }
        put(b, "}");
    } else if (!strcmp(t, "object")) {
        put(b, "{[key]: ");
        brief(b, json_object_get(s, "additionalProperties"));
        put(b, "}");
    } else {
        put(b, !strcmp(str(s, "format"), "date-time") ? "time" : t);
    }
    if (json_is_array(type) && json_array_size(type) == 2)
        put(b, " | null");
}

const char *cli_schema_brief(char *buf, size_t cap, const json_t *schema)
{
    sbuf b = {buf, cap, 0};
    buf[0] = '\0';
    brief(&b, schema);
    return buf;
}

static void op_section(FILE *f, const json_t *op)
{
    const char *name = str(op, "name");
    const json_t *http = json_object_get(op, "http");
    const char *dot = strchr(name, '.');
    fprintf(f, "### %s\n\n%s\n\n", name, str(op, "summary"));
    fprintf(f, "- Role: %s or above\n", str(op, "role"));
    fprintf(f, "- Mutates: %s\n", json_is_true(json_object_get(op, "mutates")) ? "yes" : "no");
    fprintf(f, "- HTTP: `%s %s`\n", str(http, "method"), str(http, "path"));
    fprintf(f, "- CLI: `community %.*s ", (int)(dot ? dot - name : 0), name);
    for (const char *p = dot ? dot + 1 : name; *p; p++)
        fputc(*p == '_' ? '-' : *p, f);
    fputs("`\n\n", f);
    const json_t *props = json_object_get(json_object_get(op, "input"), "properties");
    if (json_object_size(props) == 0) {
        fputs("Input: none.\n\n", f);
    } else {
        fputs("| Field | Type | Required | Bounds | Description |\n"
              "| --- | --- | --- | --- | --- |\n",
              f);
        const char *key;
        json_t *prop;
        json_object_foreach((json_t *)props, key, prop)
        {
            char tb[128], bb[512], brace[140];
            snprintf(brace, sizeof brace, "{%s}", key);
            fprintf(f, "| `%s` | ", key);
            cell(f, cli_schema_type(tb, sizeof tb, prop));
            fprintf(f, " | %s | ", is_required(op, key) ? "yes" : "no");
            cell(f, cli_schema_bounds(bb, sizeof bb, prop));
            fputs(" | ", f);
            cell(f, str(prop, "description"));
            if (strstr(str(http, "path"), brace))
                fputs(" (in path)", f);
            fputs(" |\n", f);
        }
        fputc('\n', f);
    }
    const json_t *result = json_object_get(op, "result");
    if (result) {
        char rb[4096];
        cli_schema_brief(rb, sizeof rb, result);
        if (*str(result, "$ref")) { /* a named type: link its section */
            fprintf(f, "Result: [`%s`](#", rb);
            for (const char *p = rb; *p; p++)
                fputc(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p, f);
            fputs(")\n\n", f);
        } else {
            fprintf(f, "Result: `%s`\n\n", rb);
        }
    }
}

/* One named result type: a table of its keys. */
static void def_section(FILE *f, const char *name, const json_t *def)
{
    fprintf(f, "### %s\n\n", name);
    if (*str(def, "description"))
        fprintf(f, "%s.\n\n", str(def, "description"));
    fputs("| Key | Type | Always there | Description |\n| --- | --- | --- | --- |\n", f);
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(def, "properties"), key, v)
    {
        char tb[2048];
        bool req = false;
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(def, "required"), i, r) req =
            req || !strcmp(json_string_value(r), key);
        fprintf(f, "| `%s` | `", key);
        cell(f, cli_schema_brief(tb, sizeof tb, v));
        fprintf(f, "` | %s | ", req ? "yes" : "no");
        cell(f, str(v, "description"));
        fputs(" |\n", f);
    }
    fputc('\n', f);
}

void cli_ops_markdown(FILE *f, const json_t *describe)
{
    const json_t *ops = json_object_get(describe, "operations");
    fputs("# Operations reference\n\n"
          "<!-- Generated by `community ops --markdown` from cm_ops_describe(); do not edit.\n"
          "     Regenerate: ninja -C build ops-doc. The test `docs-current` checks it. -->\n\n"
          "Every domain operation of libcommunity, as declared once in its operation table.\n"
          "Each one is reachable through `cm_exec()` in C, through its HTTP route, and as\n"
          "`community <module> <verb>` on the command line, where the field `event_id` is the\n"
          "flag `--event-id` (see [cli.md](cli.md)).\n\n"
          "- Input is a JSON object. Unknown fields are rejected.\n"
          "- The role is the minimum platform role: anonymous < member < organizer <\n"
          "  moderator < admin < system. An operation may check more, for example whether the\n"
          "  caller organizes that event.\n"
          "- For errors, see [error handling](error-handling.md).\n\n"
          "| Operation | Role | HTTP | Summary |\n| --- | --- | --- | --- |\n",
          f);
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        const json_t *http = json_object_get(op, "http");
        fprintf(f, "| [%s](#", str(op, "name"));
        anchor(f, str(op, "name"));
        fprintf(f, ") | %s | `%s %s` | ", str(op, "role"), str(http, "method"), str(http, "path"));
        cell(f, str(op, "summary"));
        fputs(" |\n", f);
    }
    fputc('\n', f);
    char prev[64] = "";
    json_array_foreach(ops, i, op)
    {
        const char *name = str(op, "name");
        const char *dot = strchr(name, '.');
        int mlen = (int)(dot ? dot - name : (long)strlen(name));
        if (strncmp(prev, name, (size_t)mlen) != 0 || prev[mlen] != '\0') {
            fprintf(f, "## %.*s\n\n", mlen, name);
            snprintf(prev, sizeof prev, "%.*s", mlen, name);
        }
        op_section(f, op);
    }
    fputs("## Result types\n\n"
          "The objects several operations return. Every key listed as always there is present;\n"
          "the others appear only where the description says. `T | null` may be null, `time` is\n"
          "an RFC 3339 instant. No other keys appear.\n\n",
          f);
    const char *dname;
    json_t *def;
    json_object_foreach(json_object_get(describe, "$defs"), dname, def) def_section(f, dname, def);
}
