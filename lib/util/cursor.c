/*
 * cursor.c - opaque pagination cursors and the page object of listings.
 */
#include "json.h"

#include <stdio.h>
#include <string.h>

/* Cursors are "c1.<a>.<b>" in hex: opaque to clients, cheap to check. */
void cm__cursor_encode(char out[48], int64_t a, int64_t b)
{
    (void)snprintf(out, 48, "c1.%llx.%llx", (unsigned long long)a, (unsigned long long)b);
}

json_t *cm__page(json_t *items, bool more, int64_t a, int64_t b)
{
    json_t *res = json_object();
    json_object_set_new(res, "items", items);
    if (more) {
        char c[48];
        cm__cursor_encode(c, a, b);
        json_object_set_new(res, "next_cursor", json_string(c));
    } else {
        json_object_set_new(res, "next_cursor", json_null());
    }
    return res;
}

int cm__cursor_decode(int64_t *a, int64_t *b, const char *s)
{
    unsigned long long x, y;
    int n = 0;
    if (strncmp(s, "c1.", 3) != 0 || sscanf(s + 3, "%16llx.%16llx%n", &x, &y, &n) != 2 ||
        s[3 + n] != '\0')
        return cm__error_set_field(CM_EINVAL, "cursor",
                                   "cursor: not a cursor from a previous page");
    *a = (int64_t)x;
    *b = (int64_t)y;
    return CM_OK;
}
