/*
 * store.h - cm_store: the database behind every operation.
 *
 * A store is opened from a URI: "sqlite:///abs/path.db", "sqlite://rel.db",
 * "sqlite::memory:" (SQLite) or "postgresql://..." (PostgreSQL, when built
 * with it). It is thread-safe: it owns a connection pool and any thread may
 * call any operation on it concurrently.
 */
#ifndef COMMUNITY_STORE_H
#define COMMUNITY_STORE_H

#include <community/common.h>

CM_BEGIN_DECLS

/** Do not apply pending migrations on open (fail with CM_ESCHEMA instead). */
#define CM_STORE_NO_MIGRATE 0x1u

/**
 * Options for cm_store_open(). Initialise with CM_STORE_OPTIONS_INIT or
 * cm_store_options_init(); the struct only grows by appending fields.
 * @since 0.1
 */
typedef struct cm_store_options {
    uint32_t size;            /**< sizeof(cm_store_options) */
    uint32_t flags;           /**< CM_STORE_* flags */
    uint32_t pool_size;       /**< connections; 0 = default (8; 1 for :memory:) */
    uint32_t busy_timeout_ms; /**< wait for locks this long; 0 = default 5000 */
} cm_store_options;

#define CM_STORE_OPTIONS_INIT {(uint32_t)sizeof(cm_store_options), 0, 0, 0}

/** Fill `opts` with defaults. @return CM_OK or CM_EINVAL. @since 0.1 */
CM_API int cm_store_options_init(cm_store_options *opts, uint32_t size);

/**
 * Open a store (constructor of cm_store).
 *
 * @param out   receives the store; NULL on failure. Free with cm_store_close().
 * @param uri   database URI (copied).
 * @param opts  options, or NULL for defaults.
 * @return CM_OK; CM_EINVAL (bad URI); CM_ENOTSUP (unknown scheme);
 *         CM_EBACKEND / CM_EIO (cannot open); CM_ESCHEMA (migration
 *         checksum mismatch, or pending migrations with CM_STORE_NO_MIGRATE).
 * Thread-safe. @since 0.1
 */
CM_API int cm_store_open(cm_store **out, const char *uri, const cm_store_options *opts);

/**
 * Close a store and its connections (destructor). Accepts NULL. No call may
 * be running on the store. @since 0.1
 */
CM_API void cm_store_close(cm_store *store);

/**
 * Apply pending migrations. Idempotent; refuses (CM_ESCHEMA) when an
 * applied migration's checksum differs from the one compiled in.
 * @param applied_out  if non-NULL, receives how many were applied now.
 * Thread-safe. @since 0.1
 */
CM_API int cm_store_migrate(cm_store *store, int32_t *applied_out);

/**
 * Report the schema: `out` receives a JSON document
 * {"backend":..., "current":N, "latest":N, "migrations":[...]} to free
 * with cm_free(). Thread-safe. @since 0.1
 */
CM_API int cm_store_schema_status(char **out, cm_store *store);

/** The backend's name ("sqlite", "pg"). Borrowed; lives as long as the store. @since 0.1 */
CM_API const char *cm_store_backend_name(const cm_store *store);

/**
 * Check that the database answers and the schema is current (for readiness
 * probes). @return CM_OK, CM_EBACKEND, CM_ESCHEMA. Thread-safe. @since 0.1
 */
CM_API int cm_store_ping(cm_store *store);

CM_END_DECLS

#endif /* COMMUNITY_STORE_H */
