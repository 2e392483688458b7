/*
 * json.c - jansson helpers: dumping into library-owned memory and reading
 * typed members. jansson keeps its own allocator; its memory never
 * crosses the public API.
 */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fewest significant digits (1..17) that read back as exactly the real
 * numbers in v, so that 0.237661 is not written 0.23766100000000001 (the
 * document shares one precision: jansson has no per-number setting). */
static int real_digits(const json_t *v, int digits)
{
    if (json_is_real(v)) {
        double x = json_real_value(v);
        char b[40];
        for (; digits < 17; digits++) {
            snprintf(b, sizeof b, "%.*g", digits, x);
            /* enough digits for the integer part: 250, not 2.5e+02 */
            bool exp = strchr(b, 'e') && (x >= 1 || x <= -1) && x < 1e15 && x > -1e15;
            if (!exp && strtod(b, NULL) == x)
                break;
        }
    } else if (json_is_object(v)) {
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key, child) digits = real_digits(child, digits);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child) digits = real_digits(child, digits);
    }
    return digits;
}

int cm__json_dump(char **out, const json_t *v)
{
    *out = NULL;
    char *s =
        json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(real_digits(v, 1)));
    if (!s)
        return cm__error_set(CM_ENOMEM, "out of memory encoding JSON");
    *out = cm__strdup(s);
    free(s); /* dep-alloc: jansson allocated it with malloc */
    return *out ? CM_OK : cm__error_set(CM_ENOMEM, "out of memory encoding JSON");
}

const char *cm__json_str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int64_t cm__json_int(const json_t *obj, const char *key, int64_t def)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

bool cm__json_bool(const json_t *obj, const char *key, bool def)
{
    json_t *v = json_object_get(obj, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

bool cm__json_has(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return v != NULL && !json_is_null(v);
}

int cm__json_set_time(json_t *obj, const char *key, int64_t us)
{
    char buf[32];
    cm__time_format(buf, us);
    return json_object_set_new(obj, key, json_string(buf)) ? CM_ENOMEM : CM_OK;
}
