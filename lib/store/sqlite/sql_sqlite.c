/*
 * sql_sqlite.c - the SQLite dialect catalogue: every statement the library
 * runs, by id. Module parts live in sql_<module>.c beside this file.
 */
#include "../backend.h"

static const cm__sql_entry core_sql[] = {
    {"migrations.list", "SELECT version, checksum, name, applied_at FROM cm_migrations "
                        "ORDER BY version"},
    {"migrations.insert", "INSERT INTO cm_migrations (version, name, checksum, applied_at) "
                          "VALUES (?1, ?2, ?3, ?4)"},
    {"audit.insert", "INSERT INTO audit_log (at, actor_id, actor_role, op, target_type, "
                     "target_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
    {"audit.list", "SELECT id, at, actor_id, actor_role, op, target_type, target_id "
                   "FROM audit_log WHERE id < ?1 AND (?2 IS NULL OR op = ?2) "
                   "AND (?3 IS NULL OR actor_id = ?3) ORDER BY id DESC LIMIT ?4"},
    {"metric.add", "INSERT INTO metric_counters (name, value) VALUES (?1, ?2) "
                   "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"},
    {"metric.list", "SELECT name, value FROM metric_counters ORDER BY name"},
    {"outbox.insert", "INSERT INTO email_outbox (member_id, to_addr, template, payload, "
                      "dedupe_key, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                      "ON CONFLICT (dedupe_key) DO NOTHING"},
    {NULL, NULL},
};

extern const cm__sql_entry cm__sqlite_sql_member[];
extern const cm__sql_entry cm__sqlite_sql_event[];
extern const cm__sql_entry cm__sqlite_sql_rsvp[];
extern const cm__sql_entry cm__sqlite_sql_group[];
extern const cm__sql_entry cm__sqlite_sql_jobs[];
extern const cm__sql_entry cm__sqlite_sql_ai[];
extern const cm__sql_entry cm__sqlite_sql_mail[];
extern const cm__sql_entry cm__sqlite_sql_idem[];
extern const cm__sql_entry cm__sqlite_sql_order[];
extern const cm__sql_entry cm__sqlite_sql_pay[];
extern const cm__sql_entry cm__sqlite_sql_attach[];
extern const cm__sql_entry cm__sqlite_sql_newsletter[];
extern const cm__sql_entry cm__sqlite_sql_assistant[];
extern const cm__sql_entry cm__sqlite_sql_privacy[];

const cm__sql_entry *const cm__sqlite_catalog[] = {
    core_sql,
    cm__sqlite_sql_member,
    cm__sqlite_sql_event,
    cm__sqlite_sql_rsvp,
    cm__sqlite_sql_group,
    cm__sqlite_sql_jobs,
    cm__sqlite_sql_ai,
    cm__sqlite_sql_mail,
    cm__sqlite_sql_idem,
    cm__sqlite_sql_order,
    cm__sqlite_sql_pay,
    cm__sqlite_sql_attach,
    cm__sqlite_sql_newsletter,
    cm__sqlite_sql_assistant,
    cm__sqlite_sql_privacy,
    NULL,
};
