/*
 * json_scan.c - a JSON syntax check that does not allocate.
 *
 * The job queue validates every payload it enqueues; parsing each into a
 * jansson tree only to free it costs allocations per value. This scanner walks the text once
 * and answers "certainly valid" only for texts that jansson (with
 * JSON_DECODE_ANY | JSON_REJECT_DUPLICATES) also accepts; anything it is
 * not sure about -- errors, \u escapes (NUL, lone surrogates), exponents
 * and long numbers (overflow), escaped or too many object keys (duplicate
 * check), deep nesting -- goes to jansson, which decides and words the
 * error. So the verdict is always jansson's.
 */
#include "json.h"

#include <string.h>

#define FAST_DEPTH 64
#define FAST_KEYS 128 /* keys remembered across the open objects */

typedef struct fast_scan {
    const unsigned char *p, *end;
    const unsigned char *key[FAST_KEYS];
    size_t key_len[FAST_KEYS];
    size_t n_keys;
    int depth;
} fast_scan;

static void fast_ws(fast_scan *f)
{
    while (f->p < f->end && (*f->p == ' ' || *f->p == '\n' || *f->p == '\r' || *f->p == '\t'))
        f->p++;
}

/* A string at f->p (on the opening quote). *plain: no escape inside. */
static bool fast_string(fast_scan *f, bool *plain)
{
    const unsigned char *s = ++f->p;
    bool ascii = true;
    *plain = true;
    while (f->p < f->end && *f->p != '"') {
        unsigned char c = *f->p;
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (f->p + 1 >= f->end || !strchr("\"\\/bfnrt", f->p[1]) || f->p[1] == '\0')
                return false; /* \u escapes too: jansson checks NUL and surrogates */
            *plain = false;
            f->p += 2;
            continue;
        }
        ascii &= c < 0x80;
        f->p++;
    }
    if (f->p >= f->end)
        return false;
    if (!ascii && !cm__utf8_valid((const char *)s, (size_t)(f->p - s)))
        return false;
    f->p++;
    return true;
}

static bool fast_number(fast_scan *f)
{
    const unsigned char *s = f->p;
    if (*f->p == '-')
        f->p++;
    if (f->p >= f->end || *f->p < '0' || *f->p > '9')
        return false;
    if (*f->p == '0' && f->p + 1 < f->end && f->p[1] >= '0' && f->p[1] <= '9')
        return false; /* leading zero */
    while (f->p < f->end && *f->p >= '0' && *f->p <= '9')
        f->p++;
    bool real = false;
    if (f->p < f->end && *f->p == '.') {
        real = true;
        f->p++;
        if (f->p >= f->end || *f->p < '0' || *f->p > '9')
            return false;
        while (f->p < f->end && *f->p >= '0' && *f->p <= '9')
            f->p++;
    }
    if (f->p < f->end && (*f->p == 'e' || *f->p == 'E'))
        return false; /* exponents may overflow a double: jansson decides */
    size_t n = (size_t)(f->p - s);
    return real ? n <= 64 : n <= 18; /* no int64 or double overflow */
}

static bool fast_value(fast_scan *f);

static bool fast_object(fast_scan *f)
{
    size_t first = f->n_keys;
    f->p++;
    fast_ws(f);
    if (f->p < f->end && *f->p == '}') {
        f->p++;
        return true;
    }
    for (;;) {
        if (f->p >= f->end || *f->p != '"' || f->n_keys == FAST_KEYS)
            return false;
        const unsigned char *k = f->p + 1;
        bool plain;
        if (!fast_string(f, &plain) || !plain)
            return false;
        size_t kl = (size_t)(f->p - 1 - k);
        for (size_t i = first; i < f->n_keys; i++)
            if (f->key_len[i] == kl && memcmp(f->key[i], k, kl) == 0)
                return false; /* duplicate: jansson words the error */
        f->key[f->n_keys] = k;
        f->key_len[f->n_keys++] = kl;
        fast_ws(f);
        if (f->p >= f->end || *f->p != ':')
            return false;
        f->p++;
        if (!fast_value(f))
            return false;
        fast_ws(f);
        if (f->p < f->end && *f->p == ',') {
            f->p++;
            fast_ws(f);
            continue;
        }
        if (f->p < f->end && *f->p == '}') {
            f->p++;
            f->n_keys = first;
            return true;
        }
        return false;
    }
}

static bool fast_array(fast_scan *f)
{
    f->p++;
    fast_ws(f);
    if (f->p < f->end && *f->p == ']') {
        f->p++;
        return true;
    }
    for (;;) {
        if (!fast_value(f))
            return false;
        fast_ws(f);
        if (f->p < f->end && *f->p == ',') {
            f->p++;
            continue;
        }
        if (f->p < f->end && *f->p == ']') {
            f->p++;
            return true;
        }
        return false;
    }
}

static bool fast_word(fast_scan *f, const char *w, size_t n)
{
    if ((size_t)(f->end - f->p) < n || memcmp(f->p, w, n) != 0)
        return false;
    f->p += n;
    /* jansson reads a whole word: "truex" is an error */
    return f->p == f->end || !((*f->p >= 'a' && *f->p <= 'z') || (*f->p >= 'A' && *f->p <= 'Z') ||
                               (*f->p >= '0' && *f->p <= '9') || *f->p == '_');
}

static bool fast_value(fast_scan *f)
{
    fast_ws(f);
    if (f->p >= f->end)
        return false;
    bool ok, plain;
    switch (*f->p) {
        case '{':
        case '[':
            if (++f->depth > FAST_DEPTH)
                return false;
            ok = *f->p == '{' ? fast_object(f) : fast_array(f);
            f->depth--;
            return ok;
        case '"':
            return fast_string(f, &plain);
        case 't':
            return fast_word(f, "true", 4);
        case 'f':
            return fast_word(f, "false", 5);
        case 'n':
            return fast_word(f, "null", 4);
        default:
            return fast_number(f);
    }
}

bool cm__json_surely_valid(const char *json, size_t len)
{
    fast_scan f;
    f.p = (const unsigned char *)json;
    f.end = f.p + len;
    f.n_keys = 0;
    f.depth = 0;
    if (!fast_value(&f))
        return false;
    fast_ws(&f);
    return f.p == f.end;
}
