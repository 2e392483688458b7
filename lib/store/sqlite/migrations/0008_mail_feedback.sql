-- 0008_mail_feedback: bounces and complaints reported by Amazon SES through
-- SNS (the mail.sns_receive operation, lib/core/ops_mail.c).
--
-- mail_suppression: addresses mail is never sent to again. Keyed by the
-- SHA-256 (hex) of the normalised (lower-cased) address, never the address
-- itself, and with no reference to members: it outlives a member's deletion.
-- mail_feedback: one row per reported recipient, for the metrics (kind is
-- the outbox template of the message SES reported on, or 'unknown').
-- mail_sns_seen: the SNS MessageIds already handled, so that a message SNS
-- delivers twice (or a replay of it) has one effect.
CREATE TABLE mail_suppression (
    addr_hash   TEXT PRIMARY KEY,
    reason      TEXT NOT NULL CHECK (reason IN ('bounce', 'complaint')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    reports     INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE mail_feedback (
    id          INTEGER PRIMARY KEY,
    type        TEXT NOT NULL CHECK (type IN ('bounce', 'complaint')),
    permanent   INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    outbox_id   INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX mail_feedback_kind ON mail_feedback(kind, type);

CREATE TABLE mail_sns_seen (
    message_id  TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL
);
CREATE INDEX mail_sns_seen_at ON mail_sns_seen(received_at);

-- SES names the message by the Message-ID header the sender wrote.
CREATE INDEX email_outbox_message_id ON email_outbox(message_id) WHERE message_id IS NOT NULL;
