/*
 * sql_mail.c - SQLite statements of mail delivery (lib/core/mail_deliver.c):
 * claiming outbox rows with a lease, finishing them under the lease token,
 * the shared send-rate limit, and what templates read. See migration
 * 0004_mail for the states.
 */
#include "../backend.h"

#define MAIL_ROW                                                                                   \
    "RETURNING id, lease_token, member_id, to_addr, template, payload, created_at, attempts"

/* A newsletter's rows are sent only while it is 'sending' (0012_newsletters). */
#define LIVE_NEWSLETTER                                                                            \
    "(newsletter_id IS NULL OR newsletter_id IN (SELECT id FROM newsletters "                      \
    "WHERE status = 'sending'))"

const cm__sql_entry cm__sqlite_sql_mail[] = {
    /* ?1 now, ?2 lease until, ?3 limit: due pending rows, oldest first */
    {"mail.claim", "UPDATE email_outbox SET status = 'sending', lease_until = ?2, "
                   "lease_token = lease_token + 1, attempts = attempts + 1 "
                   "WHERE id IN (SELECT id FROM email_outbox WHERE status = 'pending' "
                   "AND next_attempt_at <= ?1 AND " LIVE_NEWSLETTER
                   " ORDER BY next_attempt_at, id LIMIT ?3) " MAIL_ROW},
    /* the same for rows whose worker died while sending */
    {"mail.claim_lapsed", "UPDATE email_outbox SET status = 'sending', lease_until = ?2, "
                          "lease_token = lease_token + 1, attempts = attempts + 1 "
                          "WHERE id IN (SELECT id FROM email_outbox WHERE status = 'sending' "
                          "AND lease_until <= ?1 ORDER BY lease_until LIMIT ?3) " MAIL_ROW},
    /* ?1 id, ?2 token, ?3 now, ?4 smtp code, ?5 message id */
    {"mail.sent", "UPDATE email_outbox SET status = 'sent', sent_at = ?3, lease_until = NULL, "
                  "smtp_code = ?4, message_id = ?5, last_error = NULL "
                  "WHERE id = ?1 AND lease_token = ?2 AND status = 'sending'"},
    /* ?1 id, ?2 token, ?3 next attempt, ?4 error, ?5 smtp code (may be NULL) */
    {"mail.retry",
     "UPDATE email_outbox SET status = 'pending', next_attempt_at = ?3, lease_until = NULL, "
     "last_error = ?4, smtp_code = ?5 "
     "WHERE id = ?1 AND lease_token = ?2 AND status = 'sending'"},
    /* ?1 id, ?2 token, ?3 'failed' or 'suppressed', ?4 error, ?5 smtp code */
    {"mail.finish", "UPDATE email_outbox SET status = ?3, lease_until = NULL, last_error = ?4, "
                    "smtp_code = ?5 WHERE id = ?1 AND lease_token = ?2 AND status = 'sending'"},
    /* ?1 id, ?2 token: give a claimed row back untried (the claim's lease
     * would lapse before it could be sent) */
    {"mail.release",
     "UPDATE email_outbox SET status = 'pending', lease_until = NULL, attempts = attempts - 1 "
     "WHERE id = ?1 AND lease_token = ?2 AND status = 'sending'"},
    /* ?1 id, ?2 token: drop a claimed row of a newsletter that was cancelled
     * meanwhile (not accepted by the server: a retry, a release, or a row
     * claimed again after its worker died); returns the newsletter */
    {"mail.drop_cancelled",
     "DELETE FROM email_outbox WHERE id = ?1 AND lease_token = ?2 AND newsletter_id IN "
     "(SELECT id FROM newsletters WHERE status = 'cancelled') RETURNING newsletter_id"},
    /* ?1 now, ?2 limit: how many rows a claim would find (capped) */
    {"mail.due_count",
     "SELECT (SELECT count(*) FROM (SELECT 1 FROM email_outbox WHERE status = 'pending' "
     "AND next_attempt_at <= ?1 AND " LIVE_NEWSLETTER
     " LIMIT ?2) a) + (SELECT count(*) FROM (SELECT 1 FROM "
     "email_outbox WHERE status = 'sending' AND lease_until <= ?1 LIMIT ?2) b)"},
    {"mail.stats", "SELECT status, count(*) FROM email_outbox GROUP BY status ORDER BY status"},
    {"mail.event_info",
     "SELECT title, start_local, timezone, start_at, end_at, coalesce(venue, ''), "
     "coalesce(online_url, ''), status FROM events WHERE id = ?1"},
    {"mail.member_info", "SELECT name, status FROM members WHERE id = ?1"},
    {"mail.rate_init",
     "INSERT INTO mail_rate (name, tat) VALUES (?1, 0) ON CONFLICT (name) DO NOTHING"},
    /* ?1 name, ?2 now, ?3 spacing of messages (us): reserve the next send
     * slot; returns when it starts */
    {"mail.rate_take",
     "UPDATE mail_rate SET tat = max(tat, ?2) + ?3 WHERE name = ?1 RETURNING tat - ?3"},
    /* ---- bounces and complaints (lib/core/ops_mail.c) ---- */
    /* ?1 SNS MessageId, ?2 now: 1 row when it is new */
    {"mail.sns_seen", "INSERT INTO mail_sns_seen (message_id, received_at) VALUES (?1, ?2) "
                      "ON CONFLICT (message_id) DO NOTHING RETURNING message_id"},
    /* ?1 before: forget MessageIds older than the accepted window */
    {"mail.sns_forget", "DELETE FROM mail_sns_seen WHERE received_at < ?1"},
    /* ?1 Message-ID header: the outbox row SES reports on */
    {"mail.by_message_id",
     "SELECT id, template FROM email_outbox WHERE message_id = ?1 ORDER BY id LIMIT 1"},
    /* ?1 type, ?2 permanent, ?3 kind, ?4 outbox id (may be NULL), ?5 now */
    {"mail.feedback_add", "INSERT INTO mail_feedback (type, permanent, kind, outbox_id, "
                          "created_at) VALUES (?1, ?2, ?3, ?4, ?5)"},
    /* ?1 address hash, ?2 reason, ?3 now */
    {"mail.suppress", "INSERT INTO mail_suppression (addr_hash, reason, created_at, updated_at) "
                      "VALUES (?1, ?2, ?3, ?3) ON CONFLICT (addr_hash) DO UPDATE SET "
                      "reason = excluded.reason, updated_at = excluded.updated_at, "
                      "reports = mail_suppression.reports + 1"},
    /* ?1 keyed address hash, ?2 its legacy (bare SHA-256) hash: the keyed
     * row first */
    {"mail.is_suppressed", "SELECT reason, addr_hash FROM mail_suppression "
                           "WHERE addr_hash IN (?1, ?2) ORDER BY addr_hash = ?1 DESC LIMIT 1"},
    /* ?1 keyed hash, ?2 legacy hash: the legacy row takes the keyed hash
     * unless the keyed row exists */
    {"mail.suppression_rekey",
     "UPDATE mail_suppression SET addr_hash = ?1 WHERE addr_hash = ?2 AND NOT EXISTS "
     "(SELECT 1 FROM mail_suppression k WHERE k.addr_hash = ?1)"},
    /* ?1 address hash: take the address off the suppression list */
    {"mail.unsuppress", "DELETE FROM mail_suppression WHERE addr_hash = ?1 "
                        "RETURNING reason, reports, created_at, updated_at"},
    /* ---- metrics (ops_mail.c, mail.stats) ---- */
    /* Per template: rows written, by status, and the delivery latency
     * (sent_at - created_at) of sent rows: counts at or under each bound
     * ?1..?11 (microseconds, ascending) and the sum. */
    {"mail.kind_stats",
     "SELECT template, count(*), count(CASE WHEN status = 'pending' THEN 1 END), "
     "count(CASE WHEN status = 'sending' THEN 1 END), count(CASE WHEN status = 'sent' THEN 1 END), "
     "count(CASE WHEN status = 'failed' THEN 1 END), "
     "count(CASE WHEN status = 'suppressed' THEN 1 END), "
     "count(CASE WHEN status = 'sent' AND sent_at - created_at <= ?1 THEN 1 END), "
     "count(CASE WHEN status = 'sent' AND sent_at - created_at <= ?2 THEN 1 END), "
     "count(CASE WHEN status = 'sent' AND sent_at - created_at <= ?3 THEN 1 END), "
     "count(CASE WHEN status = 'sent' AND sent_at - created_at <= ?4 THEN 1 END), "
     "count(CASE WHEN status = 'sent' AND sent_at - created_at <= ?5 THEN 1 END), "
     "count(CASE WHEN status = 'sent' AND sent_at - created_at <= ?6 THEN 1 END), "
     "count(CASE WHEN status = 'sent' AND sent_at - created_at <= ?7 THEN 1 END), "
     "count(CASE WHEN status = 'sent' AND sent_at - created_at <= ?8 THEN 1 END), "
     "count(CASE WHEN status = 'sent' AND sent_at - created_at <= ?9 THEN 1 END), "
     "count(CASE WHEN status = 'sent' AND sent_at - created_at <= ?10 THEN 1 END), "
     "count(CASE WHEN status = 'sent' AND sent_at - created_at <= ?11 THEN 1 END), "
     "CAST(coalesce(sum(CASE WHEN status = 'sent' THEN sent_at - created_at END), 0) AS BIGINT) "
     "FROM email_outbox GROUP BY template ORDER BY template"},
    {"mail.feedback_stats",
     "SELECT kind, type, count(*) FROM mail_feedback GROUP BY kind, type ORDER BY kind, type"},
    {NULL, NULL},
};
