/*
 * sql_member.c - SQLite statements for members, sessions and auth tokens.
 */
#include "../backend.h"

#define MEMBER_COLS                                                                                \
    "id, email, name, headline, bio, interests, timezone, visibility, discoverable, role, "        \
    "status, created_at, updated_at"

const cm__sql_entry cm__sqlite_sql_member[] = {
    {"member.insert",
     "INSERT INTO members (email, email_norm, password_hash, name, headline, bio, interests, "
     "timezone, visibility, discoverable, role, created_at, updated_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12) RETURNING id"},
    {"member.get", "SELECT " MEMBER_COLS " FROM members WHERE id = ?1"},
    {"member.by_email", "SELECT id, password_hash, status FROM members WHERE email_norm = ?1"},
    {"member.password", "SELECT coalesce(password_hash, '') FROM members WHERE id = ?1"},
    {"member.role", "SELECT role FROM members WHERE id = ?1 AND status = 'active'"},
    {"member.update",
     "UPDATE members SET name = coalesce(?2, name), headline = coalesce(?3, headline), "
     "bio = coalesce(?4, bio), interests = coalesce(?5, interests), "
     "timezone = coalesce(?6, timezone), visibility = coalesce(?7, visibility), "
     "discoverable = coalesce(?8, discoverable), updated_at = ?9 WHERE id = ?1"},
    {"member.set_role", "UPDATE members SET role = ?2, updated_at = ?3 WHERE id = ?1"},
    {"member.set_status", "UPDATE members SET status = ?2, updated_at = ?3 WHERE id = ?1"},
    {"member.set_password", "UPDATE members SET password_hash = ?2, updated_at = ?3 WHERE id = ?1"},
    /* ?3: a LIKE pattern, \, % and _ escaped by '\' (cm__like_pattern) */
    {"member.list",
     "SELECT " MEMBER_COLS " FROM members WHERE id > ?1 AND status = 'active' "
     "AND (visibility = 'public' OR (visibility = 'members' AND ?2 >= 1) OR ?2 >= 3) "
     "AND (?3 IS NULL OR name LIKE ?3 ESCAPE '\\') ORDER BY id LIMIT ?4"},
    /* login_failures (lib/core/ops_auth.c): ?1 email_norm */
    {"login.locked_until", "SELECT locked_until FROM login_failures WHERE email_norm = ?1"},
    /* ?2 now, ?3 idle since: a row idle since before ?3 counts from 1 again */
    {"login.fail",
     "INSERT INTO login_failures (email_norm, failures, last_at, locked_until) "
     "VALUES (?1, 1, ?2, 0) ON CONFLICT (email_norm) DO UPDATE SET failures = CASE WHEN "
     "login_failures.last_at < ?3 THEN 1 ELSE login_failures.failures + 1 END, last_at = ?2 "
     "RETURNING failures"},
    /* ?2 locked until */
    {"login.lock", "UPDATE login_failures SET locked_until = ?2 WHERE email_norm = ?1 "
                   "AND locked_until < ?2"},
    {"login.clear", "DELETE FROM login_failures WHERE email_norm = ?1"},
    /* ?1 idle since, ?2 now: a few idle, unlocked rows at a time */
    {"login.prune", "DELETE FROM login_failures WHERE email_norm IN (SELECT email_norm FROM "
                    "login_failures WHERE last_at < ?1 AND locked_until < ?2 ORDER BY last_at "
                    "LIMIT 16)"},
    {"session.insert", "INSERT INTO sessions (member_id, token_hash, created_at, expires_at) "
                       "VALUES (?1, ?2, ?3, ?4)"},
    {"session.actor", "SELECT m.id, m.role FROM sessions s JOIN members m ON m.id = s.member_id "
                      "WHERE s.token_hash = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2 "
                      "AND m.status = 'active'"},
    {"session.revoke",
     "UPDATE sessions SET revoked_at = ?3 WHERE token_hash = ?1 AND member_id = ?2 "
     "AND revoked_at IS NULL"},
    {"session.revoke_all",
     "UPDATE sessions SET revoked_at = ?2 WHERE member_id = ?1 AND revoked_at IS NULL"},
    {"session.list", "SELECT id, created_at, expires_at FROM sessions WHERE member_id = ?1 "
                     "AND revoked_at IS NULL AND expires_at > ?2 ORDER BY id"},
    {"token.insert",
     "INSERT INTO auth_tokens (member_id, kind, token_hash, created_at, expires_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5)"},
    {"token.consume", "UPDATE auth_tokens SET used_at = ?3 WHERE token_hash = ?1 AND kind = ?2 "
                      "AND used_at IS NULL AND expires_at > ?3 RETURNING member_id"},
    /* ?1 member, ?2 kind, ?3 since: tokens issued recently (the mail limit) */
    {"token.count_recent", "SELECT count(*) FROM auth_tokens WHERE member_id = ?1 AND kind = ?2 "
                           "AND created_at > ?3"},
    /* ?1 member, ?2 kind, ?3 now: a new token supersedes the live ones of
     * its kind; their mails not sent yet are not sent */
    {"token.suppress_mails",
     "UPDATE email_outbox SET status = 'suppressed', last_error = 'superseded by a newer link' "
     "WHERE status = 'pending' AND dedupe_key IN (SELECT token_hash FROM auth_tokens "
     "WHERE member_id = ?1 AND kind = ?2 AND used_at IS NULL AND expires_at > ?3)"},
    {"token.supersede", "UPDATE auth_tokens SET expires_at = ?3 WHERE member_id = ?1 AND "
                        "kind = ?2 AND used_at IS NULL AND expires_at > ?3"},
    {NULL, NULL},
};
