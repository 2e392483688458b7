/*
 * sql_privacy.c - SQLite statements of a member's data export and erasure
 * (lib/core/ops_privacy.c). Plain SQL: the PostgreSQL dialect is the same
 * text. ?1 is always the member id.
 */
#include "../backend.h"

const cm__sql_entry cm__sqlite_sql_privacy[] = {
    /* ---- export: the column order matches the result shapes of ops_privacy.c ---- */
    {"privacy.member",
     "SELECT id, email, name, headline, bio, interests, timezone, visibility, discoverable, "
     "role, status, created_at, updated_at, erased_at FROM members WHERE id = ?1"},
    {"privacy.rsvps",
     "SELECT r.id, r.event_id, e.title, r.status, r.guests, r.created_at, r.updated_at "
     "FROM rsvps r JOIN events e ON e.id = r.event_id WHERE r.member_id = ?1 ORDER BY r.id"},
    {"privacy.orders",
     "SELECT id, event_id, ticket_type_id, quantity, unit_price_minor, total_minor, currency, "
     "state, created_at, paid_at FROM orders WHERE member_id = ?1 ORDER BY id"},
    {"privacy.payments",
     "SELECT l.order_id, l.kind, l.amount_minor, l.currency, l.created_at FROM ledger l "
     "JOIN orders o ON o.id = l.order_id WHERE o.member_id = ?1 ORDER BY l.id"},
    {"privacy.tickets",
     "SELECT id, order_id, event_id, ticket_type_id, serial, status, created_at, checked_in_at "
     "FROM tickets WHERE member_id = ?1 ORDER BY id"},
    {"privacy.subscriptions",
     "SELECT s.id, t.name, s.billing_interval, s.status, s.started_at, s.current_period_end, "
     "s.ended_at FROM subscriptions s JOIN membership_tiers t ON t.id = s.tier_id "
     "WHERE s.member_id = ?1 ORDER BY s.id"},
    {"privacy.posts",
     "SELECT id, group_id, kind, title, body, created_at, updated_at, deleted_at FROM posts "
     "WHERE author_id = ?1 ORDER BY id"},
    {"privacy.comments",
     "SELECT id, post_id, parent_id, body, created_at, deleted_at FROM comments "
     "WHERE author_id = ?1 ORDER BY id"},
    {"privacy.reactions",
     "SELECT target_type, target_id, kind, created_at FROM reactions WHERE member_id = ?1 "
     "ORDER BY created_at, target_type, target_id"},
    {"privacy.groups",
     "SELECT gm.group_id, g.name, gm.role, gm.status, gm.created_at FROM group_members gm "
     "JOIN groups g ON g.id = gm.group_id WHERE gm.member_id = ?1 ORDER BY gm.group_id"},
    {"privacy.mail_prefs",
     "SELECT category, subscribed, updated_at FROM mail_prefs WHERE member_id = ?1 "
     "ORDER BY category"},
    {"privacy.mails",
     "SELECT id, template, status, created_at, sent_at FROM email_outbox WHERE member_id = ?1 "
     "ORDER BY id"},
    {"privacy.sessions",
     "SELECT id, created_at, expires_at, revoked_at FROM sessions WHERE member_id = ?1 "
     "ORDER BY id"},
    {"privacy.attachments",
     "SELECT id, target_type, target_id, slot, version, content_type, size_bytes, filename, "
     "created_at FROM attachments WHERE uploaded_by = ?1 OR (target_type = 'member' AND "
     "target_id = ?1) ORDER BY id"},
    /* the newest ?2 entries by or about the member */
    {"privacy.audit",
     "SELECT id, at, actor_id, actor_role, op, target_type, target_id FROM audit_log "
     "WHERE actor_id = ?1 OR (target_type = 'member' AND target_id = ?1) "
     "ORDER BY id DESC LIMIT ?2"},

    /* ---- erasure ---- */
    {"privacy.lock_member",
     "UPDATE members SET updated_at = updated_at WHERE id = ?1 AND erased_at IS NULL "
     "RETURNING email_norm, coalesce(password_hash, '')"},
    {"privacy.live_subscriptions",
     "SELECT count(*) FROM subscriptions WHERE member_id = ?1 AND status IN ('incomplete', "
     "'trialing', 'active', 'past_due', 'unpaid')"},
    /* ?2 now: RSVPs still holding a seat or a waitlist place at an event not over */
    {"privacy.open_rsvps",
     "SELECT r.event_id FROM rsvps r JOIN events e ON e.id = r.event_id WHERE r.member_id = ?1 "
     "AND r.status IN ('going', 'waitlisted') AND e.end_at > ?2 ORDER BY r.event_id"},
    {"privacy.post_ids", "SELECT id FROM posts WHERE author_id = ?1 ORDER BY id"},
    /* ?2 now */
    {"privacy.erase_posts", "UPDATE posts SET title = '', body = '', updated_at = ?2, "
                            "deleted_at = coalesce(deleted_at, ?2) WHERE author_id = ?1"},
    {"privacy.erase_comments",
     "UPDATE comments SET body = '', deleted_at = coalesce(deleted_at, ?2) WHERE author_id = ?1"},
    {"privacy.erase_reactions", "DELETE FROM reactions WHERE member_id = ?1"},
    {"privacy.erase_groups", "DELETE FROM group_members WHERE member_id = ?1"},
    {"privacy.erase_organizer", "DELETE FROM event_organizers WHERE member_id = ?1"},
    {"privacy.erase_mail_prefs", "DELETE FROM mail_prefs WHERE member_id = ?1"},
    {"privacy.erase_tokens", "DELETE FROM auth_tokens WHERE member_id = ?1"},
    /* ?1 the normalised address (not the member id) */
    {"privacy.erase_login_failures", "DELETE FROM login_failures WHERE email_norm = ?1"},
    /* ?2 the normalised address: mail not sent yet is not sent; what was
     * sent keeps its row (counts, newsletter progress) without address
     * or content */
    {"privacy.suppress_mails",
     "UPDATE email_outbox SET status = 'suppressed', last_error = 'member erased' "
     "WHERE (member_id = ?1 OR lower(to_addr) = ?2) AND status = 'pending'"},
    {"privacy.erase_mails",
     "UPDATE email_outbox SET to_addr = '', payload = '{}' "
     "WHERE (member_id = ?1 OR lower(to_addr) = ?2) AND status <> 'sending'"},
    /* ?2 the placeholder address, ?3 now */
    {"privacy.anonymise",
     "UPDATE members SET email = ?2, email_norm = ?2, password_hash = NULL, "
     "name = 'Erased member', headline = '', bio = '', interests = '[]', timezone = 'UTC', "
     "visibility = 'private', discoverable = 0, role = 'member', status = 'suspended', "
     "erased_at = ?3, updated_at = ?3 WHERE id = ?1"},
    {NULL, NULL},
};
