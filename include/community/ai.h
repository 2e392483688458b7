/*
 * ai.h - embeddings behind the AI operations (search.semantic,
 * events.similar, members.similar, events.recommended): which embedding
 * provider a store uses, and refreshing the vectors it keeps.
 *
 * Every event, member profile and post has one embedding vector in the
 * store, recomputed when its text changes. Two providers exist:
 * - CM_EMBEDDER_BUILTIN (the default): a deterministic hashed
 *   bag-of-words plus character trigrams model (384 dimensions) that runs
 *   offline; vectors are computed inside the write that changes the text.
 * - CM_EMBEDDER_OPENAI: any OpenAI-compatible HTTP service
 *   (POST {base_url}/embeddings). The network is never called inside a
 *   write transaction: writes mark the entity stale, and stale vectors are
 *   computed before the next AI operation of the process (at most a few
 *   requests' worth each time) or by cm_store_embed_refresh().
 *
 * Without cm_store_set_embedder(), a store reads its configuration from the
 * environment on first use: COMMUNITY_EMBEDDER (builtin | openai),
 * COMMUNITY_EMBEDDINGS_URL, COMMUNITY_EMBEDDINGS_KEY,
 * COMMUNITY_EMBEDDINGS_MODEL, COMMUNITY_EMBEDDINGS_DIM and
 * COMMUNITY_EMBEDDINGS_TIMEOUT_MS. The API key is never logged and never
 * appears in error messages.
 */
#ifndef COMMUNITY_AI_H
#define COMMUNITY_AI_H

#include <community/common.h>

CM_BEGIN_DECLS

/** Embedding providers. @since 0.1 */
typedef enum cm_embedder_kind {
    CM_EMBEDDER_BUILTIN = 0, /**< deterministic, offline, 384 dimensions */
    CM_EMBEDDER_OPENAI = 1   /**< OpenAI-compatible HTTP service */
} cm_embedder_kind;

/**
 * Configuration of a store's embedding provider. Fill with
 * CM_EMBEDDER_OPTIONS_INIT or cm_embedder_options_init(); grows only by
 * appending fields. Strings are copied by cm_store_set_embedder().
 * @since 0.1
 */
typedef struct cm_embedder_options {
    uint32_t size;        /**< sizeof(cm_embedder_options) */
    int32_t kind;         /**< a cm_embedder_kind; default builtin */
    const char *base_url; /**< openai: e.g. "https://api.openai.com/v1" (required) */
    const char *api_key;  /**< openai: sent as "Authorization: Bearer"; NULL for none */
    const char *model;    /**< openai: model name (required); builtin: ignored */
    uint32_t dim;         /**< vector size; builtin: 16..4096, 0 = 384; openai: sent as
                               "dimensions" when not 0, else learned from the replies */
    uint32_t timeout_ms;  /**< openai: whole-request timeout; 0 = 30000 */
    uint32_t batch;       /**< openai: texts per request, 1..2048; 0 = 64 */
} cm_embedder_options;

#define CM_EMBEDDER_OPTIONS_INIT                                                                   \
    {                                                                                              \
        (uint32_t)sizeof(cm_embedder_options), CM_EMBEDDER_BUILTIN, NULL, NULL, NULL, 0, 0, 0      \
    }

/**
 * Initialise embedder options to the defaults (`size` = size).
 * @return CM_OK; CM_EINVAL when opts is NULL or size too small.
 * @since 0.1
 */
CM_API int cm_embedder_options_init(cm_embedder_options *opts, uint32_t size);

/**
 * Method of cm_store: choose the store's embedding provider (replacing the
 * environment's or an earlier choice). Vectors of another model or size
 * become stale: they are recomputed lazily, and the in-memory indexes are
 * rebuilt. Nothing is sent over the network here.
 *
 * @param store  the store.
 * @param opts   the configuration (copied); NULL for the builtin default.
 * @return CM_OK; CM_EINVAL (field "kind", "base_url" not http(s), "model"
 *         missing for openai, "dim", "batch"); CM_ENOMEM.
 * Thread-safe; operations already running finish with the old provider.
 * @since 0.1
 */
CM_API int cm_store_set_embedder(cm_store *store, const cm_embedder_options *opts);

/**
 * Method of cm_store: compute the vectors that are missing or stale (new
 * or changed text under an HTTP provider, another model, rows older than
 * the embeddings table), at most `max` of them (0 = all). Network requests
 * run outside any transaction; each batch is written in its own short
 * transaction, and a vector whose text changed meanwhile is not written.
 * Hosts with an HTTP provider may call this periodically (e.g. from a
 * scheduled job) so that AI operations find nothing left to do.
 *
 * @param refreshed_out [out] number of vectors written; may be NULL.
 * @return CM_OK; CM_EIO (HTTP failure or malformed reply; the message says
 *         which), CM_ETIMEOUT; storage errors.
 * Thread-safe. @since 0.1
 */
CM_API int cm_store_embed_refresh(cm_store *store, uint32_t max, uint32_t *refreshed_out);

CM_END_DECLS

#endif /* COMMUNITY_AI_H */
