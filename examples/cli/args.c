/*
 * args.c - command-line flags derived from an operation's input schema
 * (the "input" JSON Schema of cm_ops_describe()), and the per-operation
 * help that lists them.
 *
 * Field "event_id" is the flag --event-id (--event_id is accepted too).
 * integer: parsed and checked against minimum/maximum; boolean: --flag,
 * --no-flag or --flag=true|false; array of strings: comma-separated and/or
 * repeated; array of numbers: comma-separated; string: as is (enum values
 * checked). --json-input '{...}' or --input FILE|- give the whole object;
 * flags given beside it override its fields.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const json_t *cli_find_op(const cli *c, const char *name)
{
    size_t i;
    json_t *op;
    json_array_foreach(json_object_get(c->describe, "operations"), i, op)
    {
        if (strcmp(json_string_value(json_object_get(op, "name")), name) == 0)
            return op;
    }
    return NULL;
}

const char *cli_flag_name(char *buf, size_t cap, const char *field)
{
    snprintf(buf, cap, "--%s", field);
    for (char *p = buf + 2; *p; p++)
        if (*p == '_')
            *p = '-';
    return buf;
}

/* The property of `op` whose flag spelling is `flag` (without "--"). */
static const json_t *find_prop(const json_t *op, const char *flag, size_t len,
                               const char **name_out)
{
    const char *key;
    json_t *prop;
    json_object_foreach(json_object_get(json_object_get(op, "input"), "properties"), key, prop)
    {
        if (strlen(key) != len)
            continue;
        size_t i = 0;
        while (i < len && (key[i] == flag[i] || (key[i] == '_' && flag[i] == '-')))
            i++;
        if (i == len) {
            *name_out = key;
            return prop;
        }
    }
    return NULL;
}

static const char *str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

const char *cli_schema_type(char *buf, size_t cap, const json_t *prop)
{
    const char *type = str(prop, "type");
    const char *fmt = *str(prop, "format") ? str(prop, "format") : str(prop, "x-format");
    if (strcmp(type, "array") == 0)
        snprintf(buf, cap, "array of %s", str(json_object_get(prop, "items"), "type"));
    else if (json_object_get(prop, "enum"))
        snprintf(buf, cap, "string (enum)");
    else if (json_is_true(json_object_get(prop, "writeOnly")))
        snprintf(buf, cap, "string (secret)");
    else if (*fmt)
        snprintf(buf, cap, "%s (%s)", type, fmt);
    else if (json_object_get(prop, "pattern"))
        snprintf(buf, cap, "%s (local time YYYY-MM-DDTHH:MM)", type);
    else
        snprintf(buf, cap, "%s", type);
    return buf;
}

/* Append a formatted piece to buf, separated by ", ". */
static void add(char *buf, size_t cap, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void add(char *buf, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 3 >= cap)
        return;
    if (n)
        n += (size_t)snprintf(buf + n, cap - n, ", ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

/* "lo..hi unit", ">= lo unit" or "<= hi unit" from two schema keywords. */
static void add_range(char *buf, size_t cap, const json_t *prop, const char *kmin, const char *kmax,
                      const char *unit)
{
    const json_t *lo = json_object_get(prop, kmin), *hi = json_object_get(prop, kmax);
    long long l = (long long)json_integer_value(lo), h = (long long)json_integer_value(hi);
    if (lo && hi)
        add(buf, cap, "%lld..%lld%s", l, h, unit);
    else if (lo)
        add(buf, cap, ">= %lld%s", l, unit);
    else if (hi)
        add(buf, cap, "<= %lld%s", h, unit);
}

const char *cli_schema_bounds(char *buf, size_t cap, const json_t *prop)
{
    buf[0] = '\0';
    add_range(buf, cap, prop, "minimum", "maximum", "");
    add_range(buf, cap, prop, "minLength", "maxLength", " chars");
    add_range(buf, cap, prop, "minItems", "maxItems", " items");
    const json_t *items = json_object_get(prop, "items");
    if (json_object_get(items, "maxLength"))
        add(buf, cap, "each <= %lld chars",
            (long long)json_integer_value(json_object_get(items, "maxLength")));
    const json_t *e = json_object_get(prop, "enum");
    if (json_is_array(e)) {
        char vals[512] = "";
        size_t i, n = 0;
        json_t *v;
        json_array_foreach(e, i, v)
        {
            n += (size_t)snprintf(vals + n, n < sizeof vals ? sizeof vals - n : 0, "%s%s",
                                  i ? "|" : "", json_string_value(v));
            if (n >= sizeof vals)
                break;
        }
        add(buf, cap, "one of %s", vals);
    }
    return buf;
}

static int is_type(const json_t *prop, const char *t)
{
    return strcmp(str(prop, "type"), t) == 0;
}

static int required(const json_t *op, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(json_object_get(op, "input"), "required"), i, r)
    {
        if (strcmp(json_string_value(r), name) == 0)
            return 1;
    }
    return 0;
}

/* Report an invalid flag value the way the library reports invalid input. */
static int bad_value(const char *field, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int bad_value(const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "error: CM_EINVAL: %s: ", field);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (field: %s)\n", field);
    va_end(ap);
    return CLI_EXIT_INVALID;
}

static int parse_int(json_t **out, const char *field, const json_t *prop, const char *s)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (!*s || *end || errno)
        return bad_value(field, "expected an integer, got '%s'", s);
    const json_t *lo = json_object_get(prop, "minimum"), *hi = json_object_get(prop, "maximum");
    if ((lo && x < json_integer_value(lo)) || (hi && x > json_integer_value(hi))) {
        char b[128];
        return bad_value(field, "%s is out of range (%s)", s, cli_schema_bounds(b, sizeof b, prop));
    }
    *out = json_integer(x);
    return CLI_EXIT_OK;
}

static int parse_bool(json_t **out, const char *field, const char *s)
{
    if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "1") || !strcmp(s, "on"))
        *out = json_true();
    else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "0") || !strcmp(s, "off"))
        *out = json_false();
    else
        return bad_value(field, "expected true or false, got '%s'", s);
    return CLI_EXIT_OK;
}

/* Append the comma-separated items of s to the array *arr (created when
 * NULL). Empty items are skipped, so "" gives an empty array. */
static int parse_list(json_t **arr, const char *field, const json_t *prop, const char *s)
{
    int numbers = is_type(json_object_get(prop, "items"), "number") ||
                  is_type(json_object_get(prop, "items"), "integer");
    if (!*arr)
        *arr = json_array();
    char *copy = strdup(s);
    if (!copy)
        return cli_fail(CLI_EXIT_ERROR, "out of memory");
    int rc = CLI_EXIT_OK;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (!numbers) {
            json_array_append_new(*arr, json_string(tok));
            continue;
        }
        char *end;
        errno = 0;
        double d = strtod(tok, &end);
        if (end == tok || *end || errno) {
            rc = bad_value(field, "expected comma-separated numbers, got '%s'", tok);
            break;
        }
        json_array_append_new(*arr, json_real(d));
    }
    free(copy);
    return rc;
}

/* Convert one flag value according to its property schema into flags[name]. */
static int set_flag(json_t *flags, const char *name, const json_t *prop, const char *value)
{
    json_t *v = json_string(value); /* NULL when value is not UTF-8 */
    int rc = CLI_EXIT_OK;
    if (!v) {
        char fb[128];
        return bad_value(name, "the value of %s is not valid UTF-8",
                         cli_flag_name(fb, sizeof fb, name));
    }
    json_decref(v);
    v = NULL;
    if (is_type(prop, "integer")) {
        rc = parse_int(&v, name, prop, value);
    } else if (is_type(prop, "boolean")) {
        rc = parse_bool(&v, name, value);
    } else if (is_type(prop, "number")) {
        char *end;
        double d = strtod(value, &end);
        if (end == value || *end)
            return bad_value(name, "expected a number, got '%s'", value);
        v = json_real(d);
    } else if (is_type(prop, "array")) {
        json_t *arr = json_object_get(flags, name);
        if (arr)
            return parse_list(&arr, name, prop, value);
        if ((rc = parse_list(&v, name, prop, value)) != CLI_EXIT_OK) {
            json_decref(v);
            return rc;
        }
    } else if (is_type(prop, "string")) {
        const json_t *e = json_object_get(prop, "enum");
        if (json_is_array(e)) {
            size_t i, ok = 0;
            json_t *ev;
            json_array_foreach(e, i, ev) ok |= strcmp(json_string_value(ev), value) == 0;
            if (!ok) {
                char b[512];
                return bad_value(name, "'%s' is not allowed (%s)", value,
                                 cli_schema_bounds(b, sizeof b, prop));
            }
        }
        v = json_string(value);
    } else {
        v = json_loads(value, JSON_DECODE_ANY, NULL);
        if (!v)
            return bad_value(name, "expected a JSON value, got '%s'", value);
    }
    if (rc == CLI_EXIT_OK)
        json_object_set_new(flags, name, v);
    return rc;
}

/* Parse the object given by --json-input or --input into *base. */
static int load_base(json_t **base, const char *text, const char *what)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);
    if (!json_is_object(v)) {
        json_decref(v);
        fprintf(stderr, "error: CM_EINVAL: %s: not a JSON object%s%s\n", what, v ? "" : ": ",
                v ? "" : err.text);
        return CLI_EXIT_INVALID;
    }
    json_decref(*base);
    *base = v;
    return CLI_EXIT_OK;
}

int cli_build_input(json_t **out, cli *c, const json_t *op, int argc, char **argv)
{
    json_t *base = json_object(), *flags = json_object();
    const char *opname = str(op, "name");
    int rc = CLI_EXIT_OK;
    for (int i = 0; i < argc && rc == CLI_EXIT_OK; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            rc = CLI_WANTS_HELP;
            break;
        }
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            rc = cli_fail(CLI_EXIT_USAGE, "unexpected argument '%s' (see --help of %s)", a, opname);
            break;
        }
        const char *eq = strchr(a, '='), *flag = a + 2;
        size_t len = eq ? (size_t)(eq - flag) : strlen(flag);
        const char *name = NULL;
        const json_t *prop = find_prop(op, flag, len, &name);
        int negated = 0;
        if (!prop && len > 3 && !strncmp(flag, "no-", 3)) {
            prop = find_prop(op, flag + 3, len - 3, &name);
            negated = 1;
            if (prop && (!is_type(prop, "boolean") || eq))
                prop = NULL;
        }
        if (!prop) {
            int g;
            if (!strncmp(a, "--json-input", len + 2) && len == 10) {
                const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
                rc = v ? load_base(&base, v, "--json-input")
                       : cli_fail(CLI_EXIT_USAGE, "--json-input needs a JSON object");
            } else if (!strncmp(a, "--input", len + 2) && len == 5) {
                const char *path = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
                char *text = NULL;
                if (!path)
                    rc = cli_fail(CLI_EXIT_USAGE, "--input needs a file name or -");
                else if ((rc = cli_read_input(&text, path, "--input")) == CLI_EXIT_OK)
                    rc = load_base(&base, text, path);
                free(text);
            } else if ((g = cli_global_option(c, argc, argv, &i)) != 0) {
                rc = g == 1 ? CLI_EXIT_OK : g;
            } else {
                rc = cli_fail(CLI_EXIT_USAGE, "unknown flag '%.*s' for %s (see --help)",
                              (int)len + 2, a, opname);
            }
            continue;
        }
        if (is_type(prop, "boolean") && !eq) {
            json_object_set_new(flags, name, json_boolean(!negated));
            continue;
        }
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!value) {
            char fb[128];
            rc = cli_fail(CLI_EXIT_USAGE, "%s needs a value", cli_flag_name(fb, sizeof fb, name));
            break;
        }
        rc = set_flag(flags, name, prop, value);
    }
    if (rc == CLI_EXIT_OK) {
        json_object_update(base, flags);
        *out = base;
        base = NULL;
    }
    json_decref(base);
    json_decref(flags);
    return rc;
}

void cli_op_help(FILE *f, const json_t *op)
{
    const char *name = str(op, "name");
    const char *dot = strchr(name, '.');
    char verb[128];
    snprintf(verb, sizeof verb, "%s", dot ? dot + 1 : name);
    for (char *p = verb; *p; p++)
        if (*p == '_')
            *p = '-';
    const json_t *http = json_object_get(op, "http");
    fprintf(f, "usage: community [global options] %.*s %s [flags]\n\n", (int)(dot - name), name,
            verb);
    fprintf(f, "%s: %s\n\n", name, str(op, "summary"));
    fprintf(f, "  role:     %s or above\n", str(op, "role"));
    fprintf(f, "  mutates:  %s\n", json_is_true(json_object_get(op, "mutates")) ? "yes" : "no");
    fprintf(f, "  http:     %s %s\n", str(http, "method"), str(http, "path"));
    if (json_object_get(op, "result")) {
        char rb[4096];
        fprintf(f, "  result:   %s\n",
                cli_schema_brief(rb, sizeof rb, json_object_get(op, "result")));
    }
    const json_t *props = json_object_get(json_object_get(op, "input"), "properties");
    fputs("\nFlags:\n", f);
    if (json_object_size(props) == 0)
        fputs("  (none)\n", f);
    const char *key;
    json_t *prop;
    json_object_foreach((json_t *)props, key, prop)
    {
        char fb[128], tb[128], bb[512], left[300];
        cli_flag_name(fb, sizeof fb, key);
        cli_schema_type(tb, sizeof tb, prop);
        if (is_type(prop, "boolean"))
            snprintf(left, sizeof left, "--[no-]%s", fb + 2);
        else
            snprintf(left, sizeof left, "%s %s", fb,
                     is_type(prop, "integer")        ? "INT"
                     : is_type(prop, "array")        ? "LIST"
                     : json_object_get(prop, "enum") ? "VALUE"
                                                     : "TEXT");
        fprintf(f, "  %-28s %s%s", left, tb, required(op, key) ? ", required" : "");
        cli_schema_bounds(bb, sizeof bb, prop);
        if (*bb)
            fprintf(f, ", %s", bb);
        char brace[140];
        snprintf(brace, sizeof brace, "{%s}", key);
        if (strstr(str(http, "path"), brace))
            fputs(", in path", f);
        fputc('\n', f);
        if (*str(prop, "description"))
            fprintf(f, "  %-28s %s\n", "", str(prop, "description"));
    }
    fputs("\nInput as JSON (flags given beside it override its fields):\n"
          "  --json-input JSON            the whole input object\n"
          "  --input FILE|-               read the input object from FILE or stdin\n"
          "Lists: comma-separated and/or repeated (--interests a,b --interests c).\n"
          "Global options (--db, --as, --token, --anonymous, --json): community --help\n",
          f);
}
