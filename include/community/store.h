/*
 * store.h - cm_store: the database behind every operation.
 *
 * A store is opened from a URI: "sqlite:///abs/path.db", "sqlite://rel.db",
 * "sqlite::memory:" (SQLite) or "postgresql://..." (PostgreSQL, when built
 * with it). A string without a URI scheme ("community.db", "/srv/c.db",
 * "./x:y.db") is the path of an SQLite file. It is thread-safe: it owns a connection pool and any
 * thread may call any operation on it concurrently.
 */
#ifndef COMMUNITY_STORE_H
#define COMMUNITY_STORE_H

#include <community/common.h>

CM_BEGIN_DECLS

/** Do not apply pending migrations on open (fail with CM_ESCHEMA instead). */
#define CM_STORE_NO_MIGRATE 0x1u
/**
 * Run every cacheable read (events.list, events.get, ...) against the
 * database instead of serving it from the store's result cache: for
 * measuring the queries themselves. @since 0.1
 */
#define CM_STORE_NO_RESULT_CACHE 0x2u

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

#define CM_STORE_OPTIONS_INIT                                                                      \
    {                                                                                              \
        (uint32_t)sizeof(cm_store_options), 0, 0, 0                                                \
    }

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

/**
 * Report the store's run-time state as JSON for metrics: {"backend",
 * "pool_size", "open", "in_use", "waiting", "cache_hits", "cache_misses",
 * "cache_shared", "cache_shared_errors"} (connections of the pool:
 * configured, opened, lent out, callers waiting for one; result-cache
 * lookups; whether cm_store_share_cache() is on, and how many of its Redis
 * calls failed). Free with cm_free(). Cheap: no database access.
 * Thread-safe. @since 0.1
 */
CM_API int cm_store_stats(char **out, cm_store *store);

/**
 * Share the result cache's coherence with every process that uses the
 * same database and the same Redis (method of cm_store).
 *
 * Read operations marked cacheable keep their results in a small cache of
 * each store. On SQLite a commit by any process on the host invalidates it;
 * PostgreSQL offers no such signal, so without sharing a PostgreSQL store
 * caches nothing. With sharing, every commit that writes increments one
 * number in Redis before the write returns, and a cached result is served
 * only while that number is unchanged since before the read that computed
 * it: a read that starts after a write has returned (on any host) never
 * gets a result from before that write. On PostgreSQL any write
 * invalidates every cached read (the backend does not know which tables a
 * statement touches); results also expire after one second.
 *
 * Correctness never depends on Redis: when Redis fails or is slower than
 * `timeout_ms` the read runs against the database, and for one second the
 * store asks Redis nothing and caches nothing. Every process that writes
 * the database must share: a write by a process that does not (another
 * program, psql) is seen by cached reads elsewhere only when their entries
 * expire (one second). One Redis database (the URI's /db) per database.
 *
 * @param store      the store.
 * @param redis_uri  redis://[[user]:password@]host[:port][/db] (copied), or
 *                   NULL to stop sharing.
 * @param timeout_ms per Redis call (connect and command); 0 = 100.
 * @return CM_OK; CM_EINVAL (bad URI); CM_ENOTSUP (built without hiredis).
 * Call it before the store is used by other threads. Each cacheable read
 * and each commit that writes then costs one Redis round trip.
 * @since 0.1
 */
CM_API int cm_store_share_cache(cm_store *store, const char *redis_uri, uint32_t timeout_ms);

/** The backend's name ("sqlite", "pg"). Borrowed; lives as long as the store. @since 0.1 */
CM_API const char *cm_store_backend_name(const cm_store *store);

/**
 * Check that the database answers and the schema is current (for readiness
 * probes). @return CM_OK, CM_EBACKEND, CM_ESCHEMA. Thread-safe. @since 0.1
 */
CM_API int cm_store_ping(cm_store *store);

/**
 * cm_store_ping(), then check that the database can take writes (for
 * readiness probes of hosts that write). The proof is a write committed
 * through this store in the last 10 s (of cm_now_us()) with no write
 * refused with CM_EUNAVAILABLE since: an operation's write, or this
 * function's own write probe, which it makes only when there is no such
 * proof: a write transaction with the smallest change its commit must
 * write to storage. SQLite rewrites the database header's user_version
 * with its own value (one page appended to the WAL and synced); PostgreSQL
 * assigns a transaction id (a WAL record). No data the library reads
 * changes. Cost: one read transaction per call, and at most one small
 * synced write per 10 s. A database that turns read-only while nothing
 * writes is therefore reported at the latest 10 s later.
 *
 * A full disk can still leave room for this one page (SQLite reuses WAL
 * space after a checkpoint) while larger writes fail: those fail with
 * CM_EUNAVAILABLE too.
 *
 * @return CM_OK; CM_EUNAVAILABLE when the storage cannot take writes (disk
 * full, read-only file or file system, a read-only PostgreSQL server or
 * transaction); CM_EBUSY, CM_EBACKEND, CM_ESCHEMA. Thread-safe. @since 0.1
 */
CM_API int cm_store_ping_write(cm_store *store);

/**
 * Write a consistent backup of the whole database to a new file (method of
 * cm_store). The store stays usable; writers carry on while it runs.
 *
 * - SQLite: the backup API copies the database, as one snapshot (one read
 *   transaction, so writers never make it start over), into a single
 *   self-contained SQLite file (not in WAL mode), which is then checked
 *   with `PRAGMA quick_check`.
 * - PostgreSQL: `pg_dump --format=custom` of the store's schema (the first
 *   schema of its search_path that exists), run without a shell; the
 *   connection settings and password reach it through PG* environment
 *   variables, never its command line. pg_dump comes from the directory in
 *   `$CM_PG_BINDIR`, else from `PATH`, and its major version must be at
 *   least the server's. The archive is then read back whole (its listing,
 *   then every data block, as `pg_restore` would restore it). Extensions,
 *   roles and other schemas are not in it.
 *
 * The backup is written to a temporary file beside `dest_path` (mode 0600,
 * named `dest_path.cm-backup-tmp-XXXXXX`) and gets its name only when
 * complete and synced, so a failed backup leaves nothing behind; the
 * temporary files that a killed backup left in that directory are removed
 * by the next backup there. Beside the backup, `dest_path.sha256` receives
 * its SHA-256 in the format of `sha256sum` (`sha256sum -c` checks it):
 * keep and copy the two files together; cm_store_restore() needs both.
 *
 * @param store      the store to back up.
 * @param dest_path  the backup file to create (copied); must not exist.
 * @return CM_OK; CM_EINVAL (NULL arguments); CM_EEXISTS (dest_path or
 *         dest_path.sha256 exists);
 *         CM_ENOTFOUND (the database file or schema is gone, or the
 *         destination directory does not exist, or pg_dump is not found);
 *         CM_ECORRUPT (the database is damaged: the copy does not pass the
 *         check); CM_ENOTSUP (backend without backups, pg_dump older than
 *         the server); CM_EIO; CM_EBACKEND (pg_dump failed: its message).
 * Thread-safe; uses one pooled connection for its duration. @since 0.1
 */
CM_API int cm_store_backup(cm_store *store, const char *dest_path);

/** cm_store_restore() flag: replace a target database that already holds
 *  tables, or (SQLite) that another connection has open. @since 0.1 */
#define CM_RESTORE_FORCE 0x1u

/**
 * Restore a backup made by cm_store_backup() into the database named by
 * `uri` (a function of its own: no store is open on the target).
 *
 * The file is checked first: its bytes must match the SHA-256 in
 * `src_path.sha256` written with it (a flipped byte or a truncation is
 * found there), then an SQLite file must pass `PRAGMA quick_check` and
 * hold the libcommunity schema, a PostgreSQL archive must read completely
 * (`pg_restore --list`, then every data block). A file that is not an
 * intact backup, or has no
 * checksum file, fails with CM_ECORRUPT and the target is not touched.
 * Then:
 *
 * - SQLite: refuses (CM_EEXISTS) a target file that already holds tables
 *   and (CM_EBUSY) one that another connection or process has open (seen
 *   through its WAL mode), unless CM_RESTORE_FORCE; then copies the backup
 *   in with the backup API in one transaction, so readers never see half a
 *   database and a failure leaves the target as it was. A target file that
 *   does not exist is created (not in-memory databases).
 * - PostgreSQL: restores into the schema the backup was taken from, which
 *   must be on the search_path of `uri`; refuses (CM_EEXISTS) when that
 *   schema already holds tables, unless CM_RESTORE_FORCE. Runs
 *   `pg_restore --clean --if-exists --no-owner --single-transaction`
 *   (same binary rules and environment as cm_store_backup()): all or
 *   nothing. Extensions the schema uses must exist in the target database.
 *
 * Open the store afterwards with cm_store_open(), which applies the
 * migrations that the backup's schema version lacks.
 *
 * @param uri       target database URI, as for cm_store_open() (copied).
 * @param src_path  the backup file (read only).
 * @param flags     0 or CM_RESTORE_FORCE.
 * @return CM_OK; CM_EINVAL (bad arguments, a backup of the other backend,
 *         wrong search_path); CM_ENOTFOUND (no such file, or pg_restore
 *         not found); CM_ECORRUPT (not a usable backup: damaged, truncated,
 *         no or another checksum); CM_ESCHEMA (SQLite:
 *         the backup comes from a newer library; on PostgreSQL the next
 *         open says so); CM_EEXISTS; CM_EBUSY;
 *         CM_ENOTSUP (unknown scheme); CM_EIO; CM_EBACKEND (pg_restore
 *         failed: its message).
 * Thread-safe. @since 0.1
 */
CM_API int cm_store_restore(const char *uri, const char *src_path, uint32_t flags);

CM_END_DECLS

#endif /* COMMUNITY_STORE_H */
