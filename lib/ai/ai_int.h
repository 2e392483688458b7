/*
 * ai_int.h - internals of the embeddings module (lib/ai): the providers
 * (builtin hashed features, OpenAI-compatible HTTP), the per-store state
 * (configuration and in-memory vector indexes), keeping vectors in step
 * with the text of events, members and posts, and filtered search.
 *
 * Data flow:
 *   write op (events.create, ...) --cm__embed_sync()--> embeddings row
 *       builtin: vector computed inline, in the write's transaction;
 *       HTTP:    row marked stale (no network inside a transaction).
 *   AI op prepare hook --cm__embed_before_op()--> stale rows refreshed
 *       outside any transaction (HTTP calls), query text embedded.
 *   AI op handler --cm__embed_search()--> the type's in-memory index
 *       catches up on rows with a newer generation, then searches only
 *       the ids the caller may see.
 */
#ifndef CM_AI_INT_H
#define CM_AI_INT_H

#include "../store/store_int.h"

#include <community/ai.h>
#include <community/vec.h>

/* Entity types, in the order of embedding_state rows. */
enum { CM__EMB_EVENT = 0, CM__EMB_MEMBER = 1, CM__EMB_POST = 2, CM__EMB_NTYPES = 3 };

const char *cm__embed_type_name(int type);  /* "event", "member", "post" */
int cm__embed_type_parse(const char *name); /* -1 when unknown */

#define CM__EMBED_BUILTIN_DIM 384
#define CM__EMBED_BUILTIN_MODEL "builtin-hash-v2"
#define CM__EMBED_MIN_DIM 16
#define CM__EMBED_MAX_DIM 4096
/* Below this many rows an entity type is searched exactly (cm_vec_matrix),
 * above it through an HNSW graph (cm_vec_index). */
#define CM__EMBED_EXACT_MAX 20000
/* Texts longer than this are cut (at a UTF-8 boundary) before embedding. */
#define CM__EMBED_MAX_TEXT 24000

/* A provider configuration (strings owned). */
typedef struct cm__embedder {
    int kind;       /* cm_embedder_kind */
    char *base_url; /* openai */
    char *api_key;  /* openai; may be NULL */
    char *model;    /* builtin: CM__EMBED_BUILTIN_MODEL */
    uint32_t dim;   /* 0: openai, not known yet */
    uint32_t timeout_ms;
    uint32_t batch;
    uint64_t version; /* changes with every configuration */
} cm__embedder;

void cm__embedder_dispose(cm__embedder *e);

/* One entity type's in-memory index of the vectors of the current model. */
typedef struct cm__embed_index {
    uint64_t cfg_version; /* configuration it was built for */
    int64_t generation;   /* newest embeddings.generation loaded; -1 = none */
    size_t dim;           /* 0 until known */
    size_t n;             /* live vectors */
    /* exact mode (n <= exact_max): rows, row i holds ids[i] */
    int64_t *ids;
    float *vecs;
    size_t cap;
    int64_t *map_keys; /* open addressing: entity id -> row; 0 = empty */
    uint32_t *map_rows;
    size_t map_cap;        /* power of two, or 0 */
    cm_vec_matrix *matrix; /* built from rows on search when dirty */
    bool dirty;
    /* approximate mode: the graph holds entity ids directly */
    cm_vec_index *hnsw;
} cm__embed_index;

/* Per-store state, hung on cm_store (store->embed) on first use. */
typedef struct cm__embed_state {
    pthread_mutex_t cfg_lock; /* cfg, learned_dim, backfilled */
    cm__embedder cfg;
    uint32_t learned_dim;     /* openai with dim 0: size of the replies */
    uint64_t backfilled;      /* cfg.version whose backfill completed, 0 = none */
    pthread_mutex_t idx_lock; /* idx, exact_max */
    cm__embed_index idx[CM__EMB_NTYPES];
    size_t exact_max;
} cm__embed_state;

/* The store's state, created (configured from the environment) on first
 * use. CM_ENOMEM. */
int cm__embed_state_get(cm__embed_state **out, cm_store *store);
/* A copy of the configuration in effect (dim: configured or learned). */
int cm__embed_config(cm__embedder *out, cm_store *store);
/* Record the size an HTTP provider answered with (dim 0 configured). */
void cm__embed_learn_dim(cm_store *store, uint64_t version, uint32_t dim);
/* Tests: the row count above which HNSW replaces the exact scan. */
void cm__embed_set_exact_max(cm_store *store, size_t n);

/* ---- providers ---- */
/* Builtin: hashed word stems and character trigrams, sublinear tf, signed
 * feature hashing into `dim` buckets, L2-normalised (all zeros for a text
 * without words). Deterministic; never fails. */
void cm__embed_builtin(float *out, size_t dim, const char *text, size_t len);
/* Hybrid search: the smallest cosine similarity at which a vector match
 * counts (below it only a full-text match brings an item), for the builtin
 * embedder (measured on tests/relevance) and for HTTP providers. */
#define CM__SEARCH_MIN_SIM_BUILTIN 0.25
#define CM__SEARCH_MIN_SIM_HTTP 0.3
/* The words of a text for a full-text query: ASCII lower-cased words of
 * letters, digits and non-ASCII bytes (as the builtin embedder splits
 * them), stop words, one-letter words and repeats dropped, at most
 * CM__SEARCH_MAX_TERMS, separated by single spaces (empty: nothing to look
 * for). *out: cm__free. CM_ENOMEM. */
#define CM__SEARCH_MAX_TERMS 32
int cm__search_terms(char **out, const char *text, size_t len);
/* Synonym expansion of a full-text query (synonyms.c): text[0..len) with
 * the other phrases of every synonym group it names appended, e.g. "rust
 * in new york" -> "rust in new york nyc new york city". The table is the
 * built-in one or the file COMMUNITY_SEARCH_SYNONYMS names, loaded at the
 * first call. *out: NUL-terminated, cm__free. CM_ENOMEM. */
int cm__search_expand(char **out, const char *text, size_t len);
/* Replace the synonym table by the file at path (NULL: the built-in one):
 * CM_OK, CM_EIO (unreadable, over 256 KiB), CM_EINVAL (over 1024
 * phrases), CM_ENOMEM; the table in use stays on failure. */
int cm__search_synonyms_load(const char *path);
/* OpenAI-compatible POST {base_url}/embeddings of n texts (none empty).
 * *dim_io: expected size, or 0 to accept the reply's (then set). out
 * receives n * dim normalised floats (cm__free). CM_EIO (HTTP error or
 * malformed reply), CM_ETIMEOUT, CM_ENOMEM; messages never hold the key. */
int cm__embed_http(float **out, uint32_t *dim_io, const cm__embedder *e, const char *const *texts,
                   size_t n);
/* Embed n texts with e (builtin or HTTP, in batches); empty texts give zero
 * vectors without a request. *dim_io as for cm__embed_http. */
int cm__embed_texts(float **out, uint32_t *dim_io, const cm__embedder *e, const char *const *texts,
                    size_t n);

/* ---- vectors as stored ---- */
void cm__embed_encode(uint8_t *dst, const float *src, size_t n); /* f32 little-endian */
void cm__embed_decode(float *dst, const uint8_t *src, size_t n);
/* Scale to unit length; returns false (and leaves zeros) for a zero vector. */
bool cm__embed_normalize(float *v, size_t n);
/* SHA-256 hex of a text (65 bytes with NUL). */
void cm__embed_hash(char out[65], const char *text, size_t len);

/* ---- keeping vectors in step (embed_sync.c) ---- */
/* Keep the embedding of entity ("event", "member" or "post", id) in step
 * with its text, inside the write's transaction on conn (now: the write's
 * time): the operations call it after every write that may change the
 * text. */
int cm__embed_sync(cm__conn *conn, int64_t now, const char *entity_type, int64_t id);
/* The text entity (type, id) is embedded from (cm__free); *found false
 * when the entity does not exist. */
int cm__embed_text(char **out, bool *found, cm__conn *conn, int type, int64_t id);
/* Compute what is missing or stale: the refresh queue only (full = false)
 * or every entity of every type (full = true), at most max (0 = all).
 * Network calls run outside transactions. */
int cm__embed_refresh(cm_store *store, bool full, uint32_t max, uint32_t *done);
/* Before an AI operation (its prepare hook): bring vectors up to date as
 * far as cheaply possible and count the request (metric ai_requests).
 * HTTP failures while refreshing are logged, not returned. */
int cm__embed_before_op(cm_store *store);
/* Embed one query text with the store's provider (outside transactions).
 * out: *dim_out floats (cm__free). */
int cm__embed_query(float **out, uint32_t *dim_out, cm_store *store, const char *text);
/* The stored vector of (type, id) under the current model, in conn's
 * transaction: CM_OK with *out (cm__free) and *dim, or CM_OK with *out NULL
 * when there is none. */
int cm__embed_vector(float **out, size_t *dim, cm__conn *conn, int type, int64_t id);

/* ---- search (embed_index.c) ---- */
typedef struct cm__embed_hit {
    int64_t id;
    float score; /* cosine similarity */
} cm__embed_hit;
/* In conn's transaction: bring type's index up to date with the table, then
 * write the up to k best entities among `allowed` (ascending ids) other
 * than `exclude` (0: none) into hits, best first (ties: smaller id).
 * CM_EINVAL (field query_vector) when dim differs from the model's. */
int cm__embed_search(cm__embed_hit *hits, size_t *n_hits, cm__conn *conn, int type,
                     const float *query, size_t dim, const int64_t *allowed, size_t n_allowed,
                     int64_t exclude, size_t k);
void cm__embed_index_dispose(cm__embed_index *ix);

#endif /* CM_AI_INT_H */
