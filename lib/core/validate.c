/*
 * validate.c - checks an operation's JSON input against its declared
 * schema before any handler runs: unknown fields, required fields, types,
 * bounds, UTF-8, e-mail, time and time-zone formats. The first failure is
 * reported as CM_EINVAL naming the field.
 */
#include "ops_int.h"

#include <math.h>
#include <string.h>

const cm__type_limits cm__type_limits_of[] = {
    [CM__T_STRING] = {.max = 10000},
    [CM__T_INT] = {0},
    [CM__T_BOOL] = {0},
    [CM__T_ENUM] = {0},
    [CM__T_EMAIL] = {.max = 254},
    [CM__T_INSTANT] = {0},
    [CM__T_LOCALTIME] = {0},
    [CM__T_TIMEZONE] = {0},
    [CM__T_ID] = {.min = 1},
    [CM__T_STRINGS] = {.item_min = 1, .item_max = 64},
    [CM__T_URL] = {.max = 2048},
    [CM__T_SECRET] = {.max = 512},
    [CM__T_CURSOR] = {.max = 64}, /* cm__cursor_encode writes at most 47 */
    [CM__T_NUMBERS] = {0},
};

void cm__field_bounds(const cm__field *f, int64_t *min, int64_t *max)
{
    const cm__type_limits *l = &cm__type_limits_of[f->type];
    *min = f->min ? f->min : l->min;
    *max = f->max ? f->max : l->max;
}

/* "<field>: <what>" as a CM_EINVAL naming the field. */
static int bad(const cm__field *f, const char *what)
{
    return cm__error_set_field(CM_EINVAL, f->name, "%s: %s", f->name, what);
}

/* A string of min..max code points (0 = no bound), valid UTF-8 without NUL. */
static int check_string(const cm__field *f, json_t *v, int64_t min, int64_t max)
{
    if (!json_is_string(v))
        return bad(f, "expected a string");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (!cm__utf8_valid(s, len))
        return bad(f, "is not valid UTF-8 (or contains NUL)");
    size_t cps = cm__utf8_len(s, len);
    if (min && (int64_t)cps < min)
        return cm__error_set_field(CM_EINVAL, f->name, "%s: must be at least %lld characters",
                                   f->name, (long long)min);
    if (max && (int64_t)cps > max)
        return cm__error_set_field(CM_EINVAL, f->name, "%s: must be at most %lld characters",
                                   f->name, (long long)max);
    return CM_OK;
}

static bool email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@') || strlen(s) > 254 || at - s > 64)
        return false;
    const char *dot = strrchr(at + 1, '.');
    if (!dot || dot == at + 1 || dot[1] == '\0')
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == ',' || *p == ';' ||
            *p == '"' || *p == '\\' || *p == '(' || *p == ')')
            return false;
    return true;
}

int cm__validate_field(const cm__field *f, json_t *v)
{
    int64_t min, max;
    cm__field_bounds(f, &min, &max);
    switch (f->type) {
        case CM__T_STRING:
        case CM__T_SECRET:
        case CM__T_CURSOR:
            return check_string(f, v, min, max);
        case CM__T_INT:
        case CM__T_ID: {
            if (!json_is_integer(v))
                return bad(f, "expected an integer");
            int64_t x = (int64_t)json_integer_value(v);
            if (x < min || (max && x > max))
                return cm__error_set_field(
                    CM_EINVAL, f->name, "%s: %lld is out of range [%lld, %lld]", f->name,
                    (long long)x, (long long)min, (long long)(max ? max : INT64_MAX));
            return CM_OK;
        }
        case CM__T_BOOL:
            return json_is_boolean(v) ? CM_OK : bad(f, "expected true or false");
        case CM__T_ENUM: {
            if (!json_is_string(v))
                return bad(f, "expected a string");
            for (const char *const *e = f->values; *e; e++)
                if (strcmp(*e, json_string_value(v)) == 0)
                    return CM_OK;
            return cm__error_set_field(CM_EINVAL, f->name,
                                       "%s: '%.40s' is not one of the allowed values", f->name,
                                       json_string_value(v));
        }
        case CM__T_EMAIL: {
            int rc = check_string(f, v, min, max);
            if (rc)
                return rc;
            return email_ok(json_string_value(v)) ? CM_OK : bad(f, "is not an e-mail address");
        }
        case CM__T_INSTANT: {
            int64_t t;
            if (!json_is_string(v) || cm__time_parse(&t, json_string_value(v)))
                return bad(f, "expected an RFC 3339 time like 2026-05-01T18:00:00Z");
            return CM_OK;
        }
        case CM__T_LOCALTIME: {
            int y, mo, d, h, mi, s;
            if (!json_is_string(v) ||
                cm__time_parse_local(&y, &mo, &d, &h, &mi, &s, json_string_value(v)))
                return bad(f, "expected a local time like 2026-05-01T18:00");
            return CM_OK;
        }
        case CM__T_TIMEZONE:
            if (!json_is_string(v) || !cm__tz_valid(json_string_value(v)))
                return cm__error_set_field(CM_EINVAL, f->name,
                                           "%s: unknown time zone (use an IANA name such as "
                                           "Europe/Berlin)",
                                           f->name);
            return CM_OK;
        case CM__T_URL: {
            int rc = check_string(f, v, min, max);
            if (rc)
                return rc;
            const char *s = json_string_value(v);
            if (*s && strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
                return bad(f, "must be an http(s) URL");
            for (const char *p = s; *p; p++)
                if ((unsigned char)*p <= ' ')
                    return bad(f, "must not contain spaces or control characters");
            return CM_OK;
        }
        case CM__T_STRINGS: {
            const cm__type_limits *l = &cm__type_limits_of[CM__T_STRINGS];
            if (!json_is_array(v))
                return bad(f, "expected an array of strings");
            size_t n = json_array_size(v);
            if ((min && (int64_t)n < min) || (max && (int64_t)n > max))
                return cm__error_set_field(CM_EINVAL, f->name, "%s: %lld to %lld items", f->name,
                                           (long long)min, (long long)(max ? max : INT64_MAX));
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item)
            {
                int rc = check_string(f, item, l->item_min, l->item_max);
                if (rc)
                    return rc;
            }
            return CM_OK;
        }
        case CM__T_NUMBERS: {
            if (!json_is_array(v))
                return bad(f, "expected an array of numbers");
            size_t n = json_array_size(v);
            if ((min && (int64_t)n < min) || (max && (int64_t)n > max))
                return cm__error_set_field(CM_EINVAL, f->name, "%s: wrong number of items (%zu)",
                                           f->name, n);
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item)
            {
                if (!json_is_number(item) || !isfinite(json_number_value(item)))
                    return bad(f, "items must be finite numbers");
            }
            return CM_OK;
        }
    }
    return CM_OK;
}

int cm__validate(const cm__op *op, json_t *in)
{
    const char *key;
    json_t *v;
    json_object_foreach(in, key, v)
    {
        const cm__field *f = op->fields;
        while (f && f->name && strcmp(f->name, key) != 0)
            f++;
        if (!f || !f->name)
            return cm__error_set_field(CM_EINVAL, key, "%.60s: unknown field for %s", key,
                                       op->name);
    }
    for (const cm__field *f = op->fields; f && f->name; f++) {
        v = json_object_get(in, f->name);
        if (!v || json_is_null(v)) {
            if (f->flags & CM__REQUIRED)
                return cm__error_set_field(CM_EINVAL, f->name, "%s: required", f->name);
            continue;
        }
        int rc = cm__validate_field(f, v);
        if (rc)
            return rc;
    }
    return CM_OK;
}
