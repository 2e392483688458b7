/*
 * sql_attach.c - SQLite statements of attachments (lib/core/ops_attach.c,
 * tables attachments and blob_trash). Plain SQL: the PostgreSQL dialect is
 * the same text.
 */
#include "../backend.h"

#define ATTACH_COLS                                                                                \
    "id, target_type, target_id, slot, version, is_current, blob_key, thumb_key, content_type, "   \
    "thumb_type, size_bytes, width, height, filename, storage_version, uploaded_by, created_at, "  \
    "replaced_at"

/* The keys of the rows chosen by WHERE_ (over attachments) into blob_trash. */
#define TRASH_OF(where_)                                                                           \
    "INSERT INTO blob_trash (blob_key, queued_at) SELECT k, ?2 FROM (SELECT blob_key AS k FROM "   \
    "attachments WHERE " where_ " UNION SELECT thumb_key FROM attachments WHERE " where_           \
    ") AS t WHERE true ON CONFLICT (blob_key) DO NOTHING"

const cm__sql_entry cm__sqlite_sql_attach[] = {
    /* ?1 target_type ?2 target_id ?3 slot ?4 version ?5 blob_key ?6 thumb_key ?7 content_type
     * ?8 thumb_type ?9 size ?10 width ?11 height ?12 filename ?13 storage_version
     * ?14 uploaded_by ?15 now */
    {"attach.insert",
     "INSERT INTO attachments (target_type, target_id, slot, version, is_current, blob_key, "
     "thumb_key, content_type, thumb_type, size_bytes, width, height, filename, storage_version, "
     "uploaded_by, created_at) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
     "?14, ?15) RETURNING id"},
    {"attach.max_version", "SELECT COALESCE(MAX(version), 0) FROM attachments "
                           "WHERE target_type = ?1 AND target_id = ?2 AND slot = ?3"},
    /* ?1 target_type ?2 target_id ?3 slot ?4 now: the current row becomes a kept version */
    {"attach.supersede", "UPDATE attachments SET is_current = 0, replaced_at = ?4 "
                         "WHERE target_type = ?1 AND target_id = ?2 AND slot = ?3 "
                         "AND is_current = 1"},
    {"attach.get", "SELECT " ATTACH_COLS " FROM attachments WHERE id = ?1"},
    {"attach.list", "SELECT " ATTACH_COLS " FROM attachments WHERE target_type = ?1 "
                    "AND target_id = ?2 AND is_current = 1 ORDER BY id"},
    {"attach.versions", "SELECT " ATTACH_COLS " FROM attachments WHERE target_type = ?1 "
                        "AND target_id = ?2 AND slot = ?3 ORDER BY version DESC, id DESC"},
    {"attach.member_exists", "SELECT 1 FROM members WHERE id = ?1"},
    /* ?1 id ?2 now */
    {"attach.trash_row", TRASH_OF("id = ?1")},
    {"attach.delete_row", "DELETE FROM attachments WHERE id = ?1"},
    /* ?1 member id ?2 now: what a member uploaded, and their avatar */
    {"attach.trash_member", TRASH_OF("uploaded_by = ?1 OR (target_type = 'member' AND "
                                     "target_id = ?1)")},
    {"attach.delete_member", "DELETE FROM attachments WHERE uploaded_by = ?1 OR "
                             "(target_type = 'member' AND target_id = ?1)"},
    /* ?1 cutoff ?2 now: kept versions replaced at or before the cutoff */
    {"attach.trash_replaced", TRASH_OF("is_current = 0 AND replaced_at <= ?1")},
    {"attach.delete_replaced", "DELETE FROM attachments WHERE is_current = 0 "
                               "AND replaced_at <= ?1"},
    /* the sweep: ?1 queued at or before, ?2 at most */
    {"attach.trash_list", "SELECT blob_key FROM blob_trash WHERE queued_at <= ?1 "
                          "ORDER BY queued_at, blob_key LIMIT ?2"},
    {"attach.key_used", "SELECT 1 FROM attachments WHERE blob_key = ?1 OR thumb_key = ?1 "
                        "LIMIT 1"},
    {"attach.untrash", "DELETE FROM blob_trash WHERE blob_key = ?1"},
    {NULL, NULL},
};
