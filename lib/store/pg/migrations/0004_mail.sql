-- 0004_mail (PostgreSQL): mirrors lib/store/sqlite/migrations/0004_mail.sql.
-- Each email_outbox row is its own delivery row: pending -> sending (lease)
-- -> sent / failed / suppressed; retries wait for next_attempt_at.
ALTER TABLE email_outbox ADD COLUMN status text COLLATE "C" NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'suppressed'));
ALTER TABLE email_outbox ADD COLUMN attempts bigint NOT NULL DEFAULT 0;
ALTER TABLE email_outbox ADD COLUMN next_attempt_at bigint NOT NULL DEFAULT 0;
ALTER TABLE email_outbox ADD COLUMN lease_until bigint;
ALTER TABLE email_outbox ADD COLUMN lease_token bigint NOT NULL DEFAULT 0;
ALTER TABLE email_outbox ADD COLUMN smtp_code bigint;
ALTER TABLE email_outbox ADD COLUMN last_error text COLLATE "C";
ALTER TABLE email_outbox ADD COLUMN message_id text COLLATE "C";

UPDATE email_outbox SET status = 'failed', last_error = 'written before delivery existed';

CREATE INDEX email_outbox_pending ON email_outbox(next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX email_outbox_sending ON email_outbox(lease_until) WHERE status = 'sending';

CREATE TABLE mail_rate (
    name  text COLLATE "C" PRIMARY KEY,
    tat   bigint NOT NULL
);
