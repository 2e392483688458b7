/*
 * json.h - internal jansson helpers (never included from public headers).
 */
#ifndef CM_JSON_H
#define CM_JSON_H

#include "util.h"

#include <jansson.h>

/* Serialise v compactly into memory from cm__malloc (free with cm_free). */
int cm__json_dump(char **out, const json_t *v);
/* Borrowed string member, or NULL when absent or not a string. */
const char *cm__json_str(const json_t *obj, const char *key);
/* Integer member, or def when absent. */
int64_t cm__json_int(const json_t *obj, const char *key, int64_t def);
/* Boolean member, or def when absent. */
bool cm__json_bool(const json_t *obj, const char *key, bool def);
/* true when key is present and not null. */
bool cm__json_has(const json_t *obj, const char *key);
/* Set obj[key] to an RFC 3339 string for us. */
int cm__json_set_time(json_t *obj, const char *key, int64_t us);

/* A JSON syntax check that does not allocate (json_scan.c): true when
 * jansson (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES) would certainly
 * accept the len bytes at json; false when it may not (then ask jansson,
 * which decides and words the error). */
bool cm__json_surely_valid(const char *json, size_t len);

/* Opaque pagination cursors (cursor.c): encode/decode (int64 a, int64 b)
 * as a short string; decoding fails with CM_EINVAL on field "cursor". */
void cm__cursor_encode(char out[48], int64_t a, int64_t b);
int cm__cursor_decode(int64_t *a, int64_t *b, const char *s);
/* A page of a listing: {"items": items (stolen), "next_cursor": the cursor
 * of (a, b) when more rows follow, else null}. */
json_t *cm__page(json_t *items, bool more, int64_t a, int64_t b);

#endif /* CM_JSON_H */
