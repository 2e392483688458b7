-- 0016_newsletter_tier: a membership tier as a newsletter audience.
--
-- audience 'tier': the members whose subscription to tier audience_id is in
-- good standing when a batch of recipients is written (trialing, active, or
-- past_due within the grace period, as tier_access grants) and who opted in
-- to newsletters.
--
-- SQLite cannot change a CHECK constraint in place, and foreign keys cannot
-- be turned off inside the migration's transaction, so the table is rebuilt
-- under its own name: its rows are copied aside, the table is dropped and
-- created again with the wider CHECK, and the rows (same ids) come back.
-- email_outbox.newsletter_id names the table, so it refers to the new one;
-- with defer_foreign_keys, the outbox rows that lost their newsletter at
-- the DROP count as violations until the same ids are inserted again, and
-- the commit fails if any is left.
PRAGMA defer_foreign_keys = ON;

CREATE TEMP TABLE newsletters_0016 AS SELECT * FROM newsletters;
DROP TABLE newsletters;
CREATE TABLE newsletters (
    id             INTEGER PRIMARY KEY,
    author_id      INTEGER NOT NULL REFERENCES members(id),
    subject        TEXT NOT NULL,
    body_md        TEXT NOT NULL,
    audience       TEXT NOT NULL CHECK (audience IN ('subscribers', 'group', 'event', 'tier')),
    audience_id    INTEGER,
    status         TEXT NOT NULL DEFAULT 'draft'
                   CHECK (status IN ('draft', 'scheduled', 'sending', 'paused', 'cancelled')),
    send_at        INTEGER,
    fill_cursor    INTEGER NOT NULL DEFAULT 0,
    queued         INTEGER NOT NULL DEFAULT 0,
    audience_done  INTEGER NOT NULL DEFAULT 0 CHECK (audience_done IN (0, 1)),
    cancelled_rows INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
INSERT INTO newsletters (id, author_id, subject, body_md, audience, audience_id, status, send_at,
                         fill_cursor, queued, audience_done, cancelled_rows, created_at,
                         updated_at)
SELECT id, author_id, subject, body_md, audience, audience_id, status, send_at, fill_cursor,
       queued, audience_done, cancelled_rows, created_at, updated_at
FROM temp.newsletters_0016 ORDER BY id;
DROP TABLE temp.newsletters_0016;
CREATE INDEX newsletters_created ON newsletters(created_at, id);
