/*
 * embed_builtin.c - the builtin embedder: deterministic, offline, cheap
 * enough to run inside a write transaction.
 *
 * A text becomes a bag of features: its words (ASCII letters and digits,
 * and any non-ASCII UTF-8 byte, ASCII lower-cased; English stop words and
 * one-letter words dropped) reduced to their Snowball English stem
 * (libstemmer: "meetups" and "meetup", "programming" and "programmer" meet),
 * and the character trigrams of each word as written, padded as "^word$".
 * Each distinct feature f with count tf weighs w(f) * (1 + ln tf)
 * (sublinear tf; words 1.0, trigrams 0.4) and is added with a sign to one
 * of `dim` buckets, both taken from a 64-bit hash of the feature (signed feature
 * hashing: collisions cancel out on average). The result is scaled to unit
 * length, so the dot product of two vectors is their cosine similarity:
 * texts sharing words score well above unrelated ones, and trigrams give
 * partial credit to related forms and misspellings.
 */
#include "ai_int.h"

#include <libstemmer.h>
#include <math.h>
#include <string.h>

#define MAX_WORD 48
#define W_WORD 1.0
#define W_TRIGRAM 0.4

static const char *const stop_words[] = {
    "a",   "about", "an",   "and",  "are", "as", "at",   "be",   "but",  "by",  "for",  "from",
    "has", "have",  "in",   "into", "is",  "it", "its",  "of",   "on",   "or",  "our",  "that",
    "the", "their", "this", "to",   "was", "we", "were", "will", "with", "you", "your", NULL,
};

static bool is_stop(const char *w, size_t n)
{
    for (const char *const *s = stop_words; *s; s++)
        if (strlen(*s) == n && memcmp(*s, w, n) == 0)
            return true;
    return false;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* FNV-1a over the bytes, seeded per feature kind, then mixed. */
static uint64_t feature_hash(const char *s, size_t n, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return mix64(h);
}

/* Feature counts: open addressing on the (non-zero) hash. */
typedef struct bag {
    uint64_t *keys;
    uint32_t *counts;
    double *weights;
    size_t cap;
} bag;

static void bag_add(bag *b, uint64_t h, double w)
{
    if (h == 0)
        h = 1;
    size_t mask = b->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        if (b->keys[i] == h) {
            b->counts[i]++;
            return;
        }
        if (b->keys[i] == 0) {
            b->keys[i] = h;
            b->counts[i] = 1;
            b->weights[i] = w;
            return;
        }
    }
}

static bool word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* Add the word's (stemmed) feature and its trigrams. */
static void add_word(bag *b, const char *w, size_t n, struct sb_stemmer *stemmer)
{
    if (n < 2 || is_stop(w, n))
        return;
    const char *stem = w;
    size_t sn = n;
    if (stemmer) {
        const sb_symbol *st = sb_stemmer_stem(stemmer, (const sb_symbol *)w, (int)n);
        if (st && sb_stemmer_length(stemmer) > 0) {
            stem = (const char *)st;
            sn = (size_t)sb_stemmer_length(stemmer);
        }
    }
    bag_add(b, feature_hash(stem, sn, 0x57), W_WORD);
    char padded[MAX_WORD + 2];
    padded[0] = '^';
    memcpy(padded + 1, w, n);
    padded[n + 1] = '$';
    for (size_t i = 0; i + 3 <= n + 2; i++)
        bag_add(b, feature_hash(padded + i, 3, 0x33), W_TRIGRAM);
}

/* Without memory for the feature table, fall back to a coarser vector of
 * word features added directly (still deterministic, never failing). */
static void embed_direct(double *acc, size_t dim, const char *text, size_t len)
{
    char w[MAX_WORD];
    size_t n = 0;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)text[i] : ' ';
        if (word_byte(c)) {
            if (n < MAX_WORD)
                w[n++] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
            continue;
        }
        if (n >= 2 && !is_stop(w, n)) {
            uint64_t h = feature_hash(w, n, 0x57);
            acc[(h >> 1) % dim] += (h >> 63) ? -W_WORD : W_WORD;
        }
        n = 0;
    }
}

int cm__search_terms(char **out, const char *text, size_t len)
{
    *out = NULL;
    /* each kept word is followed by one byte (space or NUL) */
    char *t = cm__malloc(len + 1), *w = t;
    if (!t)
        return cm__oom();
    size_t terms = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)text[i] : ' ';
        if (word_byte(c))
            continue;
        size_t n = i - start;
        const char *word = text + start;
        start = i + 1;
        if (n < 2 || terms == CM__SEARCH_MAX_TERMS)
            continue;
        char *begin = w;
        for (size_t k = 0; k < n; k++) {
            char b = word[k];
            *w++ = (b >= 'A' && b <= 'Z') ? (char)(b - 'A' + 'a') : b;
        }
        if (is_stop(begin, n)) {
            w = begin;
            continue;
        }
        /* a word already kept is not repeated */
        bool dup = false;
        for (const char *p = t; p < begin && !dup;) {
            const char *e = memchr(p, ' ', (size_t)(begin - p));
            size_t m = e ? (size_t)(e - p) : (size_t)(begin - p);
            dup = m == n && memcmp(p, begin, n) == 0;
            p += m + 1;
        }
        if (dup) {
            w = begin;
            continue;
        }
        *w++ = ' ';
        terms++;
    }
    if (w > t)
        w--; /* the last space */
    *w = '\0';
    *out = t;
    return CM_OK;
}

void cm__embed_builtin(float *out, size_t dim, const char *text, size_t len)
{
    double stack_acc[CM__EMBED_BUILTIN_DIM];
    double *acc = dim <= CM__EMBED_BUILTIN_DIM ? stack_acc : cm__calloc(dim, sizeof *acc);
    if (!acc) {
        memset(out, 0, dim * sizeof *out);
        return;
    }
    memset(acc, 0, dim * sizeof *acc);
    /* at most one word feature and MAX_WORD trigrams per word byte: the
     * feature count is below 2 * len + 2; keep the table at most half full */
    size_t cap = 64;
    while (cap < 4 * len + 8)
        cap *= 2;
    bag b = {cm__calloc(cap, sizeof(uint64_t)), cm__malloc(cap * sizeof(uint32_t)),
             cm__malloc(cap * sizeof(double)), cap};
    /* the stemmer allocates with malloc (its own, as jansson does) */
    struct sb_stemmer *stemmer = sb_stemmer_new("english", NULL);
    if (!b.keys || !b.counts || !b.weights || !stemmer) {
        embed_direct(acc, dim, text, len);
    } else {
        char w[MAX_WORD];
        size_t n = 0;
        for (size_t i = 0; i <= len; i++) {
            unsigned char c = i < len ? (unsigned char)text[i] : ' ';
            if (word_byte(c)) {
                if (n < MAX_WORD)
                    w[n++] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
                continue;
            }
            add_word(&b, w, n, stemmer);
            n = 0;
        }
        /* slot order is a function of the text alone: deterministic sums */
        for (size_t i = 0; i < cap; i++) {
            if (!b.keys[i])
                continue;
            uint64_t h = b.keys[i];
            double v = b.weights[i] * (1.0 + log((double)b.counts[i]));
            acc[(h >> 1) % dim] += (h >> 63) ? -v : v;
        }
    }
    if (stemmer)
        sb_stemmer_delete(stemmer);
    cm__free(b.keys);
    cm__free(b.counts);
    cm__free(b.weights);
    double norm = 0;
    for (size_t i = 0; i < dim; i++)
        norm += acc[i] * acc[i];
    norm = sqrt(norm);
    for (size_t i = 0; i < dim; i++)
        out[i] = norm > 0 ? (float)(acc[i] / norm) : 0.0f;
    if (acc != stack_acc)
        cm__free(acc);
}
