/*
 * translate_pg.c - derive the PostgreSQL text of a statement from its
 * SQLite text (see cm__pg_translate in pg_int.h for the rules).
 *
 * A small scanner, not a parser: it knows string literals, quoted
 * identifiers, comments, parameters and words, and rewrites a handful of
 * SQLite spellings that PostgreSQL reads differently or not at all. What it
 * cannot rewrite fails at prepare time on PostgreSQL and gets an override
 * in sql_pg.c (tests/unit/test_pg.c prepares every catalogue statement).
 */
#include "pg_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool word_start(unsigned char c)
{
    return isalpha(c) || c == '_' || c >= 0x80;
}
static bool word_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/* Length of the string literal, quoted identifier or comment at s[i], or 0. */
static size_t opaque_len(const char *s, size_t i)
{
    char c = s[i];
    size_t j;
    if (c == '\'' || c == '"' || c == '`') {
        for (j = i + 1; s[j]; j++) {
            if (s[j] == c) {
                if (s[j + 1] == c) {
                    j++;
                    continue;
                }
                return j + 1 - i;
            }
        }
        return j - i; /* unterminated: the server will say so */
    }
    if (c == '-' && s[i + 1] == '-') {
        for (j = i + 2; s[j] && s[j] != '\n'; j++)
            ;
        return j - i;
    }
    if (c == '/' && s[i + 1] == '*') {
        for (j = i + 2; s[j] && !(s[j] == '*' && s[j + 1] == '/'); j++)
            ;
        return s[j] ? j + 2 - i : j - i;
    }
    return 0;
}

/* Index of the next character that is not blank and not in a comment. */
static size_t next_sig(const char *s, size_t i)
{
    for (;;) {
        while (s[i] && isspace((unsigned char)s[i]))
            i++;
        if ((s[i] == '-' && s[i + 1] == '-') || (s[i] == '/' && s[i + 1] == '*'))
            i += opaque_len(s, i);
        else
            return i;
    }
}

static size_t word_len(const char *s, size_t i)
{
    if (!word_start((unsigned char)s[i]) || (i > 0 && word_char((unsigned char)s[i - 1])))
        return 0;
    size_t j = i + 1;
    while (word_char((unsigned char)s[j]))
        j++;
    return j - i;
}

static bool word_eq(const char *w, size_t n, const char *kw)
{
    return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

/* The word starting at the next significant character after i ("" if none). */
static size_t next_word(const char *s, size_t i, size_t *at)
{
    *at = next_sig(s, i);
    return word_len(s, *at);
}

/* Whether the parenthesised list opening at s[open] has a top-level comma. */
static bool has_top_comma(const char *s, size_t open)
{
    int depth = 0;
    for (size_t i = open; s[i];) {
        size_t n = opaque_len(s, i);
        if (n) {
            i += n;
            continue;
        }
        if (s[i] == '(')
            depth++;
        else if (s[i] == ')' && --depth == 0)
            return false;
        else if (s[i] == ',' && depth == 1)
            return true;
        i++;
    }
    return false;
}

static bool truth_word(const char *w, size_t n)
{
    return word_eq(w, n, "NULL") || word_eq(w, n, "TRUE") || word_eq(w, n, "FALSE") ||
           word_eq(w, n, "UNKNOWN") || word_eq(w, n, "DISTINCT");
}

/* Remove trailing blanks and semicolons (before appending a clause). */
static void sb_trim_end(cm__buf *b)
{
    while (b->len && (isspace((unsigned char)b->p[b->len - 1]) || b->p[b->len - 1] == ';'))
        b->p[--b->len] = '\0';
}

int cm__pg_translate(char **out, int *nparams, unsigned char **used_out, const char *sql)
{
    *out = NULL;
    *nparams = 0;
    if (used_out)
        *used_out = NULL;
    cm__buf b = {0};
    unsigned char *used = NULL;
    size_t used_cap = 0;
    int maxp = 0, depth = 0, rc = CM_OK;
    bool or_ignore = false;
    const char *prev = NULL; /* previous word, if the previous token was a word */
    size_t prev_n = 0;
    size_t i = 0;
    while (sql[i] && rc == CM_OK && !b.err) {
        unsigned char c = (unsigned char)sql[i];
        size_t n = opaque_len(sql, i);
        if (n) {
            if (c == '`') {
                cm__buf_puts(&b, "\"");
                cm__buf_put(&b, sql + i + 1, n >= 2 ? n - 2 : 0);
                cm__buf_puts(&b, "\"");
            } else {
                cm__buf_put(&b, sql + i, n);
            }
            if (c == '\'' || c == '"' || c == '`')
                prev = NULL;
            i += n;
            continue;
        }
        if ((c == 'x' || c == 'X') && sql[i + 1] == '\'' &&
            !(i > 0 && word_char((unsigned char)sql[i - 1]))) {
            n = opaque_len(sql, i + 1);
            cm__buf_puts(&b, "'\\x");
            cm__buf_put(&b, sql + i + 2, n >= 2 ? n - 2 : 0);
            cm__buf_puts(&b, "'::bytea");
            i += 1 + n;
            prev = NULL;
            continue;
        }
        if (c == '?') {
            size_t j = i + 1;
            long v = 0;
            while (isdigit((unsigned char)sql[j]) && v <= CM__PG_MAX_PARAMS)
                v = v * 10 + (sql[j++] - '0');
            if (j == i + 1)
                v = maxp + 1;
            if (v < 1 || v > CM__PG_MAX_PARAMS) {
                rc = cm__error_set(CM_EINVAL, "pg: parameter number out of range in: %.80s", sql);
                break;
            }
            if ((size_t)v >= used_cap) {
                size_t cap = used_cap ? used_cap : 16;
                while (cap <= (size_t)v)
                    cap *= 2;
                unsigned char *u = cm__realloc(used, cap);
                if (!u) {
                    b.err = CM_ENOMEM;
                    break;
                }
                memset(u + used_cap, 0, cap - used_cap);
                used = u;
                used_cap = cap;
            }
            used[v] = 1;
            if (v > maxp)
                maxp = (int)v;
            char num[16];
            (void)snprintf(num, sizeof num, "$%ld", v);
            cm__buf_puts(&b, num);
            i = j;
            prev = NULL;
            continue;
        }
        if (c == ':' && sql[i + 1] == ':') { /* a PostgreSQL cast in a patched text */
            cm__buf_put(&b, sql + i, 2);
            i += 2;
            prev = NULL;
            continue;
        }
        if ((c == ':' || c == '@' || c == '$') && word_start((unsigned char)sql[i + 1])) {
            rc = cm__error_set(CM_EINVAL, "pg: named parameters are not supported: %.80s", sql);
            break;
        }
        if (c == '=' && sql[i + 1] == '=') {
            cm__buf_puts(&b, "=");
            i += 2;
            prev = NULL;
            continue;
        }
        size_t wl = word_len(sql, i);
        if (wl) {
            const char *w = sql + i;
            size_t at, nl;
            const char *emit = NULL;
            size_t skip_to = i + wl;
            if (word_eq(w, wl, "LIKE")) {
                emit = "ILIKE";
            } else if ((word_eq(w, wl, "ifnull") || word_eq(w, wl, "instr")) &&
                       sql[next_sig(sql, i + wl)] == '(') {
                emit = word_eq(w, wl, "ifnull") ? "coalesce" : "strpos";
            } else if ((word_eq(w, wl, "max") || word_eq(w, wl, "min")) &&
                       sql[at = next_sig(sql, i + wl)] == '(' && has_top_comma(sql, at)) {
                emit = word_eq(w, wl, "max") ? "greatest" : "least";
            } else if (prev && word_eq(prev, prev_n, "AS") &&
                       (word_eq(w, wl, "INTEGER") || word_eq(w, wl, "INT"))) {
                emit = "bigint";
            } else if (prev && word_eq(prev, prev_n, "AS") && word_eq(w, wl, "REAL")) {
                emit = "double precision";
            } else if (prev && word_eq(prev, prev_n, "AS") && word_eq(w, wl, "BLOB")) {
                emit = "bytea";
            } else if (word_eq(w, wl, "IS")) {
                nl = next_word(sql, i + wl, &at);
                if (nl && word_eq(sql + at, nl, "NOT")) {
                    size_t at2;
                    size_t nl2 = next_word(sql, at + nl, &at2);
                    if (!(nl2 && truth_word(sql + at2, nl2))) {
                        emit = "IS DISTINCT FROM";
                        skip_to = at + nl;
                    }
                } else if (!(nl && truth_word(sql + at, nl))) {
                    emit = "IS NOT DISTINCT FROM";
                }
            } else if (word_eq(w, wl, "INSERT")) {
                nl = next_word(sql, i + wl, &at);
                if (nl && word_eq(sql + at, nl, "OR")) {
                    size_t at2;
                    size_t nl2 = next_word(sql, at + nl, &at2);
                    if (nl2 && word_eq(sql + at2, nl2, "IGNORE")) {
                        skip_to = at2 + nl2;
                        or_ignore = true;
                    }
                }
            } else if (depth == 0 && or_ignore && word_eq(w, wl, "RETURNING")) {
                cm__buf_puts(&b, "ON CONFLICT DO NOTHING ");
                or_ignore = false;
            }
            if (emit)
                cm__buf_puts(&b, emit);
            else
                cm__buf_put(&b, w, wl);
            prev = w;
            prev_n = wl;
            i = skip_to;
            continue;
        }
        if (c == '(')
            depth++;
        else if (c == ')')
            depth--;
        if (!isspace(c))
            prev = NULL;
        cm__buf_put(&b, sql + i, 1);
        i++;
    }
    if (rc == CM_OK && or_ignore) {
        sb_trim_end(&b);
        cm__buf_puts(&b, " ON CONFLICT DO NOTHING");
    }
    if (rc == CM_OK && !b.p && !b.err)
        cm__buf_puts(&b, "");
    if (rc == CM_OK && !b.err && !used && !(used = cm__calloc(1, 1)))
        b.err = CM_ENOMEM;
    if (rc == CM_OK && b.err)
        rc = cm__oom();
    if (rc) {
        cm__free(b.p);
        cm__free(used);
        return rc;
    }
    *out = b.p;
    *nparams = maxp;
    if (used_out)
        *used_out = used;
    else
        cm__free(used);
    return CM_OK;
}
