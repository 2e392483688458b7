-- 0004_mail: delivery of email_outbox. Each outbox row is one message to one
-- recipient and is its own delivery row (lib/core/mail_deliver.c):
--
--   pending --claim--> sending --250--> sent
--      ^                  |  \--5xx or out of attempts--> failed
--      +--4xx, no answer--+
--   (suppressed: never sent on purpose; kept for the suppression list)
--
-- A claim sets status 'sending', lease_until and a new lease_token; only the
-- holder of the current token can finish the row, and a 'sending' row whose
-- lease has lapsed (its worker died) is claimed again. next_attempt_at holds
-- retries back. Rows written before this migration were never meant to be
-- sent this late: they are marked failed.
ALTER TABLE email_outbox ADD COLUMN status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'suppressed'));
ALTER TABLE email_outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE email_outbox ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE email_outbox ADD COLUMN lease_until INTEGER;
ALTER TABLE email_outbox ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
ALTER TABLE email_outbox ADD COLUMN smtp_code INTEGER;
ALTER TABLE email_outbox ADD COLUMN last_error TEXT;
ALTER TABLE email_outbox ADD COLUMN message_id TEXT;

UPDATE email_outbox SET status = 'failed', last_error = 'written before delivery existed';

-- What a claim looks at: due pending rows and lapsed leases.
CREATE INDEX email_outbox_pending ON email_outbox(next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX email_outbox_sending ON email_outbox(lease_until) WHERE status = 'sending';

-- The shared send-rate limit: tat is the start of the next free send slot.
-- Each message reserves the slot max(tat, now) and moves tat on by 1/rate.
CREATE TABLE mail_rate (
    name  TEXT PRIMARY KEY,
    tat   INTEGER NOT NULL
);
