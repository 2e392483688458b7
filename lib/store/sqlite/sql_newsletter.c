/*
 * sql_newsletter.c - SQLite statements of newsletters and mail preferences
 * (lib/core/ops_newsletter.c, lib/core/mail_prefs.c): composing, the
 * audience walk that writes delivery rows in batches, pausing, resuming and
 * cancelling the rows, progress, members' categories and the signing key of
 * unsubscribe links. See migration 0012_newsletters.
 */
#include "../backend.h"

/* 2^60 us: what pausing adds to a pending row's next attempt */
#define PAUSED "1152921504606846976"

#define NL_COLS                                                                                    \
    "id, author_id, subject, body_md, audience, audience_id, status, send_at, fill_cursor, "       \
    "queued, audience_done, cancelled_rows, created_at, updated_at "

/* An audience statement: ?1 audience id (not for subscribers), then cursor
 * and limit (and for a tier, now and the grace period); rows (member id,
 * address), member ids ascending. */
const cm__sql_entry cm__sqlite_sql_newsletter[] = {
    /* ?1 author, ?2 subject, ?3 body, ?4 audience, ?5 audience id, ?6 now */
    {"newsletter.insert", "INSERT INTO newsletters (author_id, subject, body_md, audience, "
                          "audience_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                          "?6) RETURNING id"},
    {"newsletter.get", "SELECT " NL_COLS "FROM newsletters WHERE id = ?1"},
    /* ?1 before id, ?2 limit, ?3 author (NULL: every author) */
    {"newsletter.list", "SELECT " NL_COLS "FROM newsletters WHERE id < ?1 "
                        "AND (?3 IS NULL OR author_id = ?3) ORDER BY id DESC LIMIT ?2"},
    /* row lock on PostgreSQL until the transaction ends */
    {"newsletter.lock", "UPDATE newsletters SET updated_at = updated_at WHERE id = ?1"},
    /* ?1 id, ?2 subject, ?3 body, ?4 audience, ?5 audience id, ?6 now */
    {"newsletter.update", "UPDATE newsletters SET subject = ?2, body_md = ?3, audience = ?4, "
                          "audience_id = ?5, updated_at = ?6 WHERE id = ?1"},
    /* ?1 id, ?2 status, ?3 send_at, ?4 now */
    {"newsletter.set_status",
     "UPDATE newsletters SET status = ?2, send_at = ?3, updated_at = ?4 WHERE id = ?1"},
    /* ?1 id, ?2 cursor, ?3 rows added, ?4 audience done, ?5 now */
    {"newsletter.fill_mark",
     "UPDATE newsletters SET fill_cursor = ?2, queued = queued + ?3, audience_done = ?4, "
     "updated_at = ?5 WHERE id = ?1"},
    /* ?1 id, ?2 rows cancelled */
    {"newsletter.add_cancelled",
     "UPDATE newsletters SET cancelled_rows = cancelled_rows + ?2 WHERE id = ?1"},
    {"newsletter.progress", "SELECT status, count(*) FROM email_outbox WHERE newsletter_id = ?1 "
                            "GROUP BY status ORDER BY status"},
    {"newsletter.audience_subscribers",
     "SELECT m.id, m.email FROM members m JOIN mail_prefs p ON p.member_id = m.id "
     "AND p.category = 'newsletters' AND p.subscribed = 1 "
     "WHERE m.status = 'active' AND m.id > ?1 ORDER BY m.id LIMIT ?2"},
    {"newsletter.audience_group",
     "SELECT m.id, m.email FROM group_members g JOIN members m ON m.id = g.member_id "
     "WHERE g.group_id = ?1 AND g.status = 'active' AND m.status = 'active' AND m.id > ?2 "
     "ORDER BY m.id LIMIT ?3"},
    {"newsletter.audience_event",
     "SELECT m.id, m.email FROM rsvps r JOIN members m ON m.id = r.member_id "
     "WHERE r.event_id = ?1 AND r.status = 'going' AND m.status = 'active' AND m.id > ?2 "
     "ORDER BY m.id LIMIT ?3"},
    /* ?4 now, ?5 grace: members who opted in, with a subscription to tier ?1
     * in good standing (trialing, active, or past_due for less than the
     * grace period: the rule of tier.grants in sql_pay.c) */
    {"newsletter.audience_tier",
     "SELECT m.id, m.email FROM members m JOIN mail_prefs p ON p.member_id = m.id "
     "AND p.category = 'newsletters' AND p.subscribed = 1 "
     "WHERE m.status = 'active' AND m.id > ?2 AND EXISTS (SELECT 1 FROM subscriptions s "
     "WHERE s.member_id = m.id AND s.tier_id = ?1 AND (s.status IN ('trialing', 'active') OR "
     "(s.status = 'past_due' AND s.past_due_since + ?5 > ?4))) ORDER BY m.id LIMIT ?3"},
    /* ?1 member, ?2 address, ?3 payload, ?4 dedupe key, ?5 now, ?6 newsletter */
    {"newsletter.outbox_insert",
     "INSERT INTO email_outbox (member_id, to_addr, template, payload, dedupe_key, created_at, "
     "newsletter_id) VALUES (?1, ?2, 'newsletter', ?3, ?4, ?5, ?6) "
     "ON CONFLICT (dedupe_key) DO NOTHING"},
    {"newsletter.pause_rows",
     "UPDATE email_outbox SET next_attempt_at = next_attempt_at + " PAUSED " "
     "WHERE newsletter_id = ?1 AND status = 'pending' AND next_attempt_at < " PAUSED},
    {"newsletter.resume_rows",
     "UPDATE email_outbox SET next_attempt_at = next_attempt_at - " PAUSED " "
     "WHERE newsletter_id = ?1 AND status = 'pending' AND next_attempt_at >= " PAUSED},
    {"newsletter.cancel_rows",
     "DELETE FROM email_outbox WHERE newsletter_id = ?1 AND status = 'pending'"},
    /* The archive: newsletters that have gone out ('sending'; shown 'sent'
     * once done) which a tier_access row of kind 'newsletter' unlocks for
     * member ?1, through a subscription in good standing at ?2 with grace
     * ?3 (the rule of tier.grants in sql_pay.c); ids below ?4, newest
     * first, ?5 rows. */
    {"newsletter.archive",
     "SELECT DISTINCT n.id, n.subject, n.send_at FROM subscriptions s "
     "JOIN tier_access a ON a.tier_id = s.tier_id AND a.kind = 'newsletter' "
     "JOIN newsletters n ON n.id = a.target_id "
     "WHERE s.member_id = ?1 AND (s.status IN ('trialing', 'active') OR "
     "(s.status = 'past_due' AND s.past_due_since + ?3 > ?2)) AND n.status = 'sending' "
     "AND n.id < ?4 ORDER BY n.id DESC LIMIT ?5"},
    /* what the renderer needs: subject, body, status */
    {"newsletter.render_info", "SELECT subject, body_md, status FROM newsletters WHERE id = ?1"},

    /* ---- preferences ---- */
    {"pref.list", "SELECT category, subscribed FROM mail_prefs WHERE member_id = ?1"},
    {"pref.get", "SELECT subscribed FROM mail_prefs WHERE member_id = ?1 AND category = ?2"},
    /* ?1 member, ?2 category, ?3 subscribed, ?4 now */
    {"pref.set", "INSERT INTO mail_prefs (member_id, category, subscribed, updated_at) "
                 "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (member_id, category) DO UPDATE SET "
                 "subscribed = excluded.subscribed, updated_at = excluded.updated_at"},
    {"pref.member", "SELECT name, email, status FROM members WHERE id = ?1"},
    {"sitekey.init", "INSERT INTO site_keys (name, secret, created_at) VALUES (?1, ?2, ?3) "
                     "ON CONFLICT (name) DO NOTHING"},
    {"sitekey.get", "SELECT secret FROM site_keys WHERE name = ?1"},
    {NULL, NULL},
};
