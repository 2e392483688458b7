/*
 * migrate.c - versioned, checksummed, forward-only schema migrations.
 *
 * Each backend carries its migrations (version, name, SQL). Applied ones are
 * recorded in cm_migrations with the SHA-256 of their SQL. On open the
 * recorded checksums are compared with the compiled-in ones: a mismatch, or
 * a database newer than the library, is refused with CM_ESCHEMA. That
 * check runs first in a read transaction; only when a migration is pending
 * are they applied, one per transaction, in order, under the backend's
 * migration lock, so concurrent openers never apply one twice.
 */
#include "store_int.h"
#include "../util/json.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

void cm__migration_checksum(char out[65], const char *sql)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)sql, strlen(sql));
    for (size_t i = 0; i < sizeof h; i++)
        (void)snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* Compare recorded migrations with compiled ones. *current receives the
 * highest applied version. */
static int verify(cm__conn *c, int32_t *current)
{
    const cm__store_ops *ops = c->store->ops;
    cm__q q;
    int rc = cm__q_open(&q, c, "migrations.list");
    if (rc)
        return rc;
    *current = 0;
    while ((rc = cm__q_step(&q)) == 1) {
        int32_t v = (int32_t)cm__q_col_int64(&q, 0);
        const char *sum = cm__q_col_text(&q, 1);
        if (v < 1 || (size_t)v > c->store->n_migrations) {
            rc = cm__error_set(CM_ESCHEMA,
                               "database schema version %d is newer than this library "
                               "knows (%zu): upgrade libcommunity",
                               v, c->store->n_migrations);
            break;
        }
        char want[65];
        cm__migration_checksum(want, ops->migrations[v - 1].sql);
        if (strcmp(want, sum) != 0) {
            rc = cm__error_set(CM_ESCHEMA,
                               "migration %d (%s) was applied with checksum %.12s but this "
                               "library has %.12s: refusing to run on a modified schema",
                               v, ops->migrations[v - 1].name, sum, want);
            break;
        }
        if (v > *current)
            *current = v;
    }
    cm__q_close(&q);
    return rc < 0 ? rc : CM_OK;
}

static int apply_one(cm__conn *c, const cm__migration *m)
{
    c->written = ~UINT64_C(0); /* a schema change: any table */
    int rc = c->store->ops->exec_script(c, m->sql);
    if (rc)
        return cm__error_set(CM_ESCHEMA, "migration %d (%s) failed: %s", m->version, m->name,
                             cm_error_message());
    char sum[65];
    cm__migration_checksum(sum, m->sql);
    cm__q q;
    if ((rc = cm__q_open(&q, c, "migrations.insert")))
        return rc;
    cm__q_int64(&q, 1, m->version);
    cm__q_text(&q, 2, m->name);
    cm__q_text(&q, 3, sum);
    cm__q_int64(&q, 4, cm_now_us());
    rc = cm__q_step(&q);
    cm__q_close(&q);
    return rc < 0 ? rc : CM_OK;
}

/* The check of an up-to-date database, in a read transaction: CM_OK when
 * every migration is applied (nothing to write), CM_ESCHEMA when the schema
 * is refused, 1 when a migration is pending or the check could not tell
 * (no bookkeeping table yet, busy): the caller then takes the migration
 * lock. Opening a migrated SQLite database thus never waits for the write
 * lock, which a busy writer may hold for long. */
static int up_to_date(cm_store *s)
{
    cm__conn *c;
    int rc = cm__store_acquire(&c, s);
    if (rc)
        return rc;
    int32_t current = 0;
    if ((rc = cm__tx_begin(c, false)) == CM_OK) {
        rc = verify(c, &current);
        cm__tx_rollback(c);
    }
    cm__store_release(c);
    if (rc == CM_ESCHEMA)
        return rc;
    if (rc == CM_OK && (size_t)current == s->n_migrations)
        return CM_OK;
    cm_error_clear();
    return 1;
}

int cm__migrate(cm_store *s, bool apply, int32_t *applied_out)
{
    const cm__store_ops *ops = s->ops;
    if (applied_out)
        *applied_out = 0;
    if (apply) {
        int rc = up_to_date(s);
        if (rc <= 0)
            return rc;
    }
    for (;;) {
        cm__conn *c;
        int rc = cm__store_acquire(&c, s);
        if (rc)
            return rc;
        if ((rc = cm__tx_begin(c, apply)) == CM_OK) {
            int32_t current = 0;
            rc = ops->migration_lock(c);
            if (rc == CM_OK)
                rc = verify(c, &current);
            if (rc == CM_OK && (size_t)current < s->n_migrations) {
                if (!apply) {
                    rc = cm__error_set(CM_ESCHEMA,
                                       "database schema is at version %d, the library needs "
                                       "%zu: run `community migrate`",
                                       current, s->n_migrations);
                } else {
                    const cm__migration *m = &ops->migrations[current];
                    rc = apply_one(c, m);
                    if (rc == CM_OK && (rc = cm__tx_commit(c)) == CM_OK) {
                        cm__log(CM_LOG_INFO, "store", "applied migration %d (%s)", m->version,
                                m->name);
                        if (applied_out)
                            (*applied_out)++;
                        cm__store_release(c);
                        continue; /* next migration, in its own transaction */
                    }
                }
            }
            if (c->in_tx) {
                if (rc == CM_OK)
                    rc = cm__tx_commit(c);
                else
                    cm__tx_rollback(c);
            }
        }
        cm__store_release(c);
        return rc;
    }
}

int cm_store_schema_status(char **out, cm_store *s)
{
    if (!out || !s)
        return cm__error_set(CM_EINVAL, "cm_store_schema_status: NULL argument");
    *out = NULL;
    cm__conn *c;
    int rc = cm__store_acquire(&c, s);
    if (rc)
        return rc;
    json_t *doc = json_object();
    json_t *list = json_array();
    int32_t current = 0;
    if ((rc = cm__tx_begin(c, false)) == CM_OK) {
        rc = s->ops->migration_lock(c);
        cm__q q;
        if (rc == CM_OK && (rc = cm__q_open(&q, c, "migrations.list")) == CM_OK) {
            while ((rc = cm__q_step(&q)) == 1) {
                json_t *m = json_object();
                int32_t v = (int32_t)cm__q_col_int64(&q, 0);
                json_object_set_new(m, "version", json_integer(v));
                json_object_set_new(m, "checksum", json_string(cm__q_col_text(&q, 1)));
                json_object_set_new(m, "name", json_string(cm__q_col_text(&q, 2)));
                cm__json_set_time(m, "applied_at", cm__q_col_int64(&q, 3));
                json_array_append_new(list, m);
                if (v > current)
                    current = v;
            }
            cm__q_close(&q);
            if (rc > 0)
                rc = CM_OK;
        }
        cm__tx_rollback(c);
    }
    cm__store_release(c);
    if (rc == CM_OK) {
        json_object_set_new(doc, "backend", json_string(s->ops->name));
        json_object_set_new(doc, "current", json_integer(current));
        json_object_set_new(doc, "latest", json_integer((json_int_t)s->n_migrations));
        json_object_set_new(doc, "migrations", list);
        list = NULL;
        rc = cm__json_dump(out, doc);
    }
    json_decref(list);
    json_decref(doc);
    return rc;
}
