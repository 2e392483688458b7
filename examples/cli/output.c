/*
 * output.c - how the CLI shows things: results as aligned tables (a result
 * with an "items" array) or "key: value" lines (objects, flattened with
 * dots), raw JSON for scripts, errors on stderr, and the mapping from CM_*
 * status codes to exit codes.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CELL_MAX 40 /* longest table cell, in characters */
#define MAX_COLS 64

int cli_exit_code(int status)
{
    switch (status) {
        case CM_OK:
            return CLI_EXIT_OK;
        case CM_EINVAL:
        case CM_ERANGE:
            return CLI_EXIT_INVALID;
        case CM_EAUTH:
        case CM_EPERM:
        case CM_ETHROTTLED:
            return CLI_EXIT_AUTH;
        case CM_ENOTFOUND:
            return CLI_EXIT_NOTFOUND;
        case CM_EEXISTS:
        case CM_ECONFLICT:
        case CM_ECONSTRAINT:
            return CLI_EXIT_CONFLICT;
        case CM_EBACKEND:
        case CM_ESCHEMA:
        case CM_EIO:
        case CM_EUNAVAILABLE:
        case CM_EBUSY:
        case CM_ECORRUPT:
        case CM_ETIMEOUT:
            return CLI_EXIT_BACKEND;
        case CM_EUNKNOWNOP:
            return CLI_EXIT_USAGE;
        default:
            return CLI_EXIT_ERROR;
    }
}

int cli_report(int status, const char *context)
{
    const char *msg = cm_error_code() == status ? cm_error_message() : "";
    const char *field = cm_error_code() == status ? cm_error_field() : "";
    fprintf(stderr, "error: %s%s%s: %s", context ? context : "", context ? ": " : "",
            cm_status_name(status), *msg ? msg : cm_strerror(status));
    if (*field)
        fprintf(stderr, " (field: %s)", field);
    fputc('\n', stderr);
    return cli_exit_code(status);
}

int cli_fail(int exit_code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", stderr);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is above; clang 14 loses it */
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return exit_code;
}

int cli_read_input(char **out, const char *path, const char *what)
{
    *out = NULL;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return cli_fail(CLI_EXIT_ERROR, "%s: cannot read '%s': %s", what, path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    int rc = buf ? CLI_EXIT_OK : cli_fail(CLI_EXIT_ERROR, "out of memory");
    while (rc == CLI_EXIT_OK) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (len > CLI_FILE_MAX) {
            rc = cli_fail(CLI_EXIT_INVALID,
                          "%s: '%s' is larger than the limit of " CLI_FILE_MAX_TEXT, what, path);
        } else if (n == 0) {
            if (ferror(f))
                rc = cli_fail(CLI_EXIT_ERROR, "%s: cannot read '%s': %s", what, path,
                              strerror(errno));
            break;
        } else if (cap - len - 1 == 0) {
            /* one byte past the limit is enough to tell */
            size_t ncap = cap * 2 > CLI_FILE_MAX + 2 ? CLI_FILE_MAX + 2 : cap * 2;
            char *nb = realloc(buf, ncap);
            if (!nb)
                rc = cli_fail(CLI_EXIT_ERROR, "out of memory");
            else
                buf = nb, cap = ncap;
        }
    }
    if (f != stdin)
        fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    *out = buf;
    return CLI_EXIT_OK;
}

/* The text of a scalar (a string is shown as is; a real number, such as a
 * search score, with at most 3 decimals). Returns a malloc'd string. */
static char *scalar_text(const json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_null(v))
        return strdup("-");
    if (json_is_real(v)) {
        char b[64];
        double x = json_real_value(v);
        snprintf(b, sizeof b, x != 0 && x > -0.001 && x < 0.001 ? "%.3g" : "%.3f", x);
        if (strchr(b, '.') && !strchr(b, 'e')) {
            size_t n = strlen(b);
            while (b[n - 1] == '0')
                b[--n] = '\0';
            if (b[n - 1] == '.')
                b[--n] = '\0';
        }
        return strdup(b);
    }
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

static int is_scalar(const json_t *v)
{
    return !json_is_object(v) && !json_is_array(v);
}

/* Number of UTF-8 code points in s. */
static size_t u8len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Cut s in place to at most `max` code points (ending in "..."); replace
 * control characters (newlines in a bio) with spaces. */
static void cell_fit(char *s, size_t max)
{
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < ' ')
            *p = ' ';
    if (u8len(s) <= max)
        return;
    size_t cps = 0;
    char *p = s;
    for (; *p; p++) {
        if (((unsigned char)*p & 0xC0) != 0x80 && cps++ == max - 3)
            break;
    }
    memcpy(p, "...", sizeof "...");
}

/* Find `key` of an item, following dots into nested objects. */
static const json_t *item_get(const json_t *item, const char *key)
{
    char part[128];
    while (item && json_is_object(item)) {
        const char *dot = strchr(key, '.');
        if (!dot)
            return json_object_get(item, key);
        size_t n = (size_t)(dot - key) < sizeof part - 1 ? (size_t)(dot - key) : sizeof part - 1;
        memcpy(part, key, n);
        part[n] = '\0';
        item = json_object_get(item, part);
        key = dot + 1;
    }
    return NULL;
}

/* Collect the scalar column names of an item ("start.local" for nested
 * objects), in order of first appearance over all items. */
static void collect_cols(char **cols, size_t *ncols, const json_t *obj, const char *prefix)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        char name[256];
        snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", key);
        if (json_is_object(v)) {
            collect_cols(cols, ncols, v, name);
            continue;
        }
        if (!is_scalar(v))
            continue;
        size_t i = 0;
        while (i < *ncols && strcmp(cols[i], name) != 0)
            i++;
        if (i == *ncols && *ncols < MAX_COLS)
            cols[(*ncols)++] = strdup(name);
    }
}

static const char *table_columns; /* --columns */
static int table_width;           /* terminal width; 0 = unlimited */

void cli_table_config(const char *columns, int width)
{
    table_columns = columns;
    table_width = width;
}

/* Which columns to show, in order: the --columns list, or every column that
 * is not empty in all rows. Writes indices into `show`, returns the count. */
static size_t pick_columns(size_t *show, char **cols, size_t ncols, const int *nonempty)
{
    size_t n = 0;
    if (!table_columns) {
        for (size_t c = 0; c < ncols; c++)
            if (nonempty[c])
                show[n++] = c;
        return n;
    }
    for (const char *p = table_columns; *p && n < MAX_COLS;) {
        size_t len = strcspn(p, ",");
        for (size_t c = 0; c < ncols; c++)
            if (strlen(cols[c]) == len && !strncmp(cols[c], p, len))
                show[n++] = c;
        p += len + (p[len] == ',');
    }
    return n;
}

/* How much a column matters when a terminal is too narrow for all of them:
 * 0 what identifies and schedules a row, 1 what describes it briefly, 2
 * anything else, 3 long text, bookkeeping and duplicates (the UTC instants
 * beside the wall clock, timestamps, versions). */
static int column_rank(const char *name)
{
    static const char *const rank0[] = {
        "id",    "title", "name",        "type",     "kind",
        "score", "email", "start_local", "timezone", "counts.seats_left",
        "state", NULL};
    static const char *const rank1[] = {"status",
                                        "role",
                                        "format",
                                        "summary",
                                        "venue",
                                        "my_rsvp",
                                        "position",
                                        "queue",
                                        "run_at",
                                        "counts.going_seats",
                                        "counts.waitlisted",
                                        "capacity",
                                        "attempts",
                                        NULL};
    static const char *const rank3[] = {
        "description", "body",       "bio",     "headline",   "online_url",
        "start",       "end",        "version", "created_by", "counts.capacity",
        "payload",     "last_error", NULL};
    for (size_t i = 0; rank0[i]; i++)
        if (!strcmp(name, rank0[i]))
            return 0;
    for (size_t i = 0; rank1[i]; i++)
        if (!strcmp(name, rank1[i]))
            return 1;
    size_t n = strlen(name);
    if ((n > 3 && !strcmp(name + n - 3, "_at")) || !strncmp(name, "is_", 3))
        return 3;
    for (size_t i = 0; rank3[i]; i++)
        if (!strcmp(name, rank3[i]))
            return 3;
    return 2;
}

#define MIN_SHRUNK 16 /* a long text column is cut to no less than this */

/* On a terminal of `term` columns: choose which of show[0..nshow) to print.
 * Columns are taken by rank (then in their order) while they fit; a rank-0
 * column that does not fit is made room for by narrowing the widest chosen
 * column (to MIN_SHRUNK at least). The chosen ones stay in their order at
 * the front of `show`, the others follow; returns how many were chosen. */
static size_t fit_columns(size_t *show, size_t nshow, char **cols, size_t *width, size_t term)
{
    int chosen[MAX_COLS] = {0};
    size_t used = 0;
    for (int rank = 0; rank <= 3; rank++)
        for (size_t k = 0; k < nshow; k++) {
            size_t c = show[k], sep = used ? 2 : 0;
            if (chosen[k] || column_rank(cols[c]) != rank)
                continue;
            if (used == 0 || used + sep + width[c] <= term) {
                chosen[k] = 1;
                used += sep + width[c];
                continue;
            }
            if (rank != 0)
                continue;
            size_t need = used + sep + width[c] - term, widest = 0, wk = nshow;
            for (size_t j = 0; j < nshow; j++)
                if (chosen[j] && width[show[j]] > widest)
                    widest = width[show[j]], wk = j;
            if (wk < nshow && widest >= MIN_SHRUNK + need &&
                u8len(cols[show[wk]]) <= widest - need) {
                width[show[wk]] -= need;
                chosen[k] = 1;
                used = term;
            }
        }
    size_t fit = 0, drop = 0, order[MAX_COLS] = {0};
    for (size_t k = 0; k < nshow; k++)
        if (chosen[k])
            show[fit++] = show[k];
        else
            order[drop++] = show[k];
    memcpy(show + fit, order, drop * sizeof *order);
    return fit;
}

static void print_table(FILE *f, const json_t *items)
{
    size_t n = json_array_size(items), ncols = 0;
    char *cols[MAX_COLS];
    if (n == 0) {
        fputs("(no items)\n", f);
        return;
    }
    for (size_t r = 0; r < n; r++)
        if (json_is_object(json_array_get(items, r)))
            collect_cols(cols, &ncols, json_array_get(items, r), "");
    char **cells = calloc(n * (ncols ? ncols : 1), sizeof *cells);
    size_t width[MAX_COLS], show[MAX_COLS];
    int nonempty[MAX_COLS];
    if (!cells)
        goto out;
    for (size_t c = 0; c < ncols; c++) {
        width[c] = u8len(cols[c]);
        nonempty[c] = 0;
        for (size_t r = 0; r < n; r++) {
            const json_t *v = item_get(json_array_get(items, r), cols[c]);
            char *s = v ? scalar_text(v) : strdup("-");
            if (s)
                cell_fit(s, CELL_MAX);
            cells[r * ncols + c] = s;
            if (v && !json_is_null(v) && !(json_is_string(v) && !*json_string_value(v)))
                nonempty[c] = 1;
            if (s && u8len(s) > width[c])
                width[c] = u8len(s);
        }
    }
    size_t nshow = pick_columns(show, cols, ncols, nonempty), fit = nshow;
    if (table_width > 0 && !table_columns)
        fit = fit_columns(show, nshow, cols, width, (size_t)table_width);
    for (int r = -1; r < (int)n; r++) {
        for (size_t k = 0; k < fit; k++) {
            size_t c = show[k];
            char *s = r < 0 ? cols[c] : cells[(size_t)r * ncols + c];
            if (s && r >= 0)
                cell_fit(s, width[c]); /* a column narrowed to fit the terminal */
            s = s ? s : "";
            fprintf(f, "%s%s", k ? "  " : "", s);
            if (k + 1 < fit)
                for (size_t pad = u8len(s); pad < width[c]; pad++)
                    fputc(' ', f);
        }
        fputc('\n', f);
    }
    if (fit < nshow) {
        fprintf(f, "(%zu more columns:", nshow - fit);
        for (size_t k = fit; k < nshow; k++)
            fprintf(f, "%s %s", k > fit ? "," : "", cols[show[k]]);
        fputs("; see --columns or --json)\n", f);
    }
out:
    for (size_t i = 0; cells && i < n * ncols; i++)
        free(cells[i]);
    free(cells);
    for (size_t c = 0; c < ncols; c++)
        free(cols[c]);
}

/* "key: value" lines; nested objects flattened with dots, arrays of
 * scalars joined with ", ", arrays of objects indexed as key[i]. */
static void print_kv(FILE *f, const json_t *v, const char *prefix)
{
    if (json_is_object(v)) {
        if (json_object_size(v) == 0 && *prefix) {
            fprintf(f, "%s: {}\n", prefix);
            return;
        }
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key, child)
        {
            char name[512];
            snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", key);
            print_kv(f, child, name);
        }
        return;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *item;
        int all_scalar = 1;
        json_array_foreach((json_t *)v, i, item) all_scalar &= is_scalar(item);
        if (all_scalar) {
            fprintf(f, "%s: ", prefix);
            if (json_array_size(v) == 0)
                fputs("[]", f);
            json_array_foreach((json_t *)v, i, item)
            {
                char *s = scalar_text(item);
                fprintf(f, "%s%s", i ? ", " : "", s ? s : "");
                free(s);
            }
            fputc('\n', f);
            return;
        }
        json_array_foreach((json_t *)v, i, item)
        {
            char name[512];
            snprintf(name, sizeof name, "%s[%zu]", prefix, i);
            print_kv(f, item, name);
        }
        return;
    }
    char *s = json_is_null(v) ? strdup("null") : scalar_text(v);
    fprintf(f, "%s:%s%s\n", *prefix ? prefix : "result", s && *s ? " " : "", s ? s : "");
    free(s);
}

void cli_print_result(FILE *f, const char *json, int raw)
{
    if (raw) {
        fprintf(f, "%s\n", json);
        return;
    }
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    if (!v) {
        fprintf(f, "%s\n", json);
        return;
    }
    json_t *items = json_is_object(v) ? json_object_get(v, "items") : NULL;
    if (json_is_array(items)) {
        print_table(f, items);
        const char *key;
        json_t *child;
        json_object_foreach(v, key, child)
        {
            if (strcmp(key, "items") != 0 && !json_is_null(child))
                print_kv(f, child, key);
        }
    } else if (json_is_object(v) && json_object_size(v) == 0) {
        fputs("ok\n", f);
    } else {
        print_kv(f, v, "");
    }
    json_decref(v);
}
