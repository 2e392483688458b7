/*
 * synonyms.c - synonym and abbreviation expansion of full-text queries
 * (search.semantic, docs/ai.md): "new york" also looks for "nyc", "k8s"
 * also for "kubernetes". A table of groups of equivalent phrases; a query
 * that contains a phrase of a group (as whole words, case ignored) gets
 * the group's other phrases appended, and the full-text list matches any
 * word (OR), so an item that names the place or the tool the other way is
 * found too.
 *
 * The built-in table is below. An operator replaces it with a file named
 * by the environment variable COMMUNITY_SEARCH_SYNONYMS, read once per
 * process at the first search: one group per line, phrases separated by
 * commas, '#' starts a comment; an empty file turns expansion off. A file
 * that cannot be read is logged and the built-in table stays.
 */
#include "ai_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The built-in groups: place names and abbreviations common in a tech
 * community's events. Kept small on purpose: every phrase here is added to
 * every query that names another of its group. */
static const char builtin_table[] = "nyc, new york, new york city\n"
                                    "sf, san francisco\n"
                                    "la, los angeles\n"
                                    "sao paulo, são paulo\n"
                                    "bengaluru, bangalore\n"
                                    "uk, united kingdom\n"
                                    "js, javascript\n"
                                    "ts, typescript\n"
                                    "k8s, kubernetes\n"
                                    "ml, machine learning\n"
                                    "ai, artificial intelligence\n"
                                    "postgres, postgresql\n"
                                    "golang, go language\n";

/* Limits of a table: more is refused (and logged) rather than cut. */
#define MAX_PHRASES 1024
#define MAX_FILE (256 * 1024)

typedef struct syn_table {
    size_t n;
    char *phrase[MAX_PHRASES]; /* lower-cased words, single spaces */
    int group[MAX_PHRASES];
} syn_table;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static syn_table *table;
static bool loaded;

static bool word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static void table_free(syn_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        cm__free(t->phrase[i]);
    cm__free(t);
}

/* The words of s[0..n) lower-cased, joined by single spaces (NULL: none
 * or out of memory, *oom tells). */
static char *normalise(const char *s, size_t n, bool *oom)
{
    char *out = cm__malloc(n + 1), *w = out;
    if (!out) {
        *oom = true;
        return NULL;
    }
    bool in_word = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (word_byte(c)) {
            if (!in_word && w > out)
                *w++ = ' ';
            *w++ = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
            in_word = true;
        } else {
            in_word = false;
        }
    }
    *w = '\0';
    if (w == out) {
        cm__free(out);
        return NULL;
    }
    return out;
}

/* Parse text into *out: CM_OK, CM_EINVAL (too many phrases), CM_ENOMEM. */
static int parse(syn_table **out, const char *text, size_t len)
{
    *out = NULL;
    syn_table *t = cm__calloc(1, sizeof *t);
    if (!t)
        return cm__oom();
    int group = 0;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        const char *hash = memchr(text + at, '#', end - at);
        size_t stop = hash ? (size_t)(hash - text) : end;
        size_t first = t->n;
        for (size_t p = at; p < stop;) {
            const char *comma = memchr(text + p, ',', stop - p);
            size_t q = comma ? (size_t)(comma - text) : stop;
            bool oom = false;
            char *ph = normalise(text + p, q - p, &oom);
            if (oom) {
                table_free(t);
                return cm__oom();
            }
            if (ph) {
                if (t->n == MAX_PHRASES) {
                    cm__free(ph);
                    table_free(t);
                    return cm__error_set(CM_EINVAL, "more than %d synonym phrases", MAX_PHRASES);
                }
                t->phrase[t->n] = ph;
                t->group[t->n++] = group;
            }
            p = q + 1;
        }
        if (t->n - first == 1) { /* a group of one says nothing */
            cm__free(t->phrase[--t->n]);
        } else if (t->n > first) {
            group++;
        }
        at = end + 1;
    }
    *out = t;
    return CM_OK;
}

static int read_file(char **out, size_t *n, const char *path)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cm__error_set(CM_EIO, "cannot open %s: %s", path, strerror(errno));
    char *buf = cm__malloc(MAX_FILE + 1);
    if (!buf) {
        fclose(f);
        return cm__oom();
    }
    *n = fread(buf, 1, MAX_FILE + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || *n > MAX_FILE) {
        cm__free(buf);
        return cm__error_set(CM_EIO, "%s: %s", path, bad ? "read error" : "larger than 256 KiB");
    }
    *out = buf;
    return CM_OK;
}

int cm__search_synonyms_load(const char *path)
{
    syn_table *t = NULL;
    int rc;
    if (path) {
        char *text;
        size_t n = 0;
        if ((rc = read_file(&text, &n, path)))
            return rc;
        rc = parse(&t, text, n);
        cm__free(text);
    } else {
        rc = parse(&t, builtin_table, sizeof builtin_table - 1);
    }
    if (rc)
        return rc;
    pthread_mutex_lock(&lock);
    syn_table *old = table;
    table = t;
    loaded = true;
    pthread_mutex_unlock(&lock);
    table_free(old);
    return CM_OK;
}

/* The first search of the process loads the table (under the lock). */
static void ensure_loaded(void)
{
    pthread_mutex_lock(&lock);
    bool done = loaded;
    pthread_mutex_unlock(&lock);
    if (done)
        return;
    const char *path = getenv("COMMUNITY_SEARCH_SYNONYMS");
    if (path && *path) {
        int rc = cm__search_synonyms_load(path);
        if (rc == CM_OK)
            return;
        cm__log(CM_LOG_WARN, "search", "COMMUNITY_SEARCH_SYNONYMS: %s; the built-in synonyms stay",
                cm_error_message());
    }
    if (cm__search_synonyms_load(NULL) != CM_OK) {
        cm_error_clear(); /* out of memory: search without expansion */
        pthread_mutex_lock(&lock);
        loaded = true;
        pthread_mutex_unlock(&lock);
    }
}

/* Does phrase occur in the query words (q: normalised, single spaces)? */
static bool contains(const char *q, const char *phrase)
{
    size_t n = strlen(phrase);
    for (const char *p = q; (p = strstr(p, phrase)) != NULL; p++)
        if ((p == q || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

/* Append to b the words of phrase that are neither in the query q nor
 * appended already (past b->p[qlen]): a word the query has gains no
 * weight in the vector of the query. */
static void append_new_words(cm__buf *b, size_t qlen, const char *q, const char *phrase)
{
    char w[128];
    for (const char *p = phrase; *p;) {
        size_t n = strcspn(p, " ");
        if (n < sizeof w) {
            memcpy(w, p, n);
            w[n] = '\0';
            if (!contains(q, w) && !(b->p && b->len > qlen && contains(b->p + qlen + 1, w))) {
                cm__buf_put(b, " ", 1);
                cm__buf_put(b, w, n);
            }
        }
        p += n + (p[n] == ' ');
    }
}

int cm__search_expand(char **out, const char *text, size_t len)
{
    *out = NULL;
    ensure_loaded();
    bool oom = false;
    char *q = normalise(text, len, &oom);
    if (oom)
        return cm__oom();
    cm__buf b = {0};
    cm__buf_put(&b, text, len);
    pthread_mutex_lock(&lock);
    const syn_table *t = table;
    for (size_t i = 0; q && t && i < t->n; i++) {
        if (!contains(q, t->phrase[i]))
            continue;
        for (size_t j = 0; j < t->n; j++)
            if (j != i && t->group[j] == t->group[i] && !contains(q, t->phrase[j]))
                append_new_words(&b, len, q, t->phrase[j]);
    }
    pthread_mutex_unlock(&lock);
    cm__free(q);
    if (!b.p && !b.err)
        cm__buf_put(&b, "", 0);
    if (b.err || !b.p) {
        cm__free(b.p);
        return cm__oom();
    }
    *out = b.p;
    return CM_OK;
}
