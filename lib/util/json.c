/*
 * json.c - jansson helpers: dumping into library-owned memory and reading
 * typed members. jansson keeps its own allocator; its memory never
 * crosses the public API.
 */
#include "json.h"

#include <stdlib.h>
#include <string.h>

int cm__json_dump(char **out, const json_t *v)
{
    *out = NULL;
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
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
