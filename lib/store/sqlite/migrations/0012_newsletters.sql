-- 0012_newsletters: newsletters, members' mail preferences, and the secret
-- that signs unsubscribe links (lib/core/ops_newsletter.c). Times are
-- INTEGER microseconds since the Unix epoch.
--
-- A newsletter's recipients are email_outbox rows (template 'newsletter',
-- newsletter_id set), written in batches by the "platform.newsletter_fill"
-- job: fill_cursor is the last member id given a row, audience_done says the
-- audience has been walked to its end. Delivery is the outbox's own
-- (0004_mail): exactly once per row. Only rows of a newsletter whose status
-- is 'sending' are claimed; pausing also pushes its pending rows' next
-- attempt 2^60 us into the future (resuming takes it back), so that a
-- paused newsletter costs the claim nothing.
--
--   draft --send--> scheduled --send_at--> sending --all rows done--> (sent)
--                       \                   |   ^
--                        +----> paused <----+   |  (resume)
--   any but cancelled --cancel--> cancelled: its pending rows are deleted
--
-- audience: 'subscribers' (members whose 'newsletters' preference is on),
-- 'group' (active members of group audience_id), 'event' (members going to
-- event audience_id). A new kind of audience (e.g. a membership tier) is a
-- new value here and one catalogue statement.
CREATE TABLE newsletters (
    id             INTEGER PRIMARY KEY,
    author_id      INTEGER NOT NULL REFERENCES members(id),
    subject        TEXT NOT NULL,
    body_md        TEXT NOT NULL,
    audience       TEXT NOT NULL CHECK (audience IN ('subscribers', 'group', 'event')),
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
CREATE INDEX newsletters_created ON newsletters(created_at, id);

ALTER TABLE email_outbox ADD COLUMN newsletter_id INTEGER REFERENCES newsletters(id);
CREATE INDEX email_outbox_newsletter ON email_outbox(newsletter_id, status)
    WHERE newsletter_id IS NOT NULL;

-- One row per (member, category) the member has chosen; no row: the
-- category's default (newsletters off, the others on).
CREATE TABLE mail_prefs (
    member_id   INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    category    TEXT NOT NULL
                CHECK (category IN ('newsletters', 'event_reminders', 'waitlist_news')),
    subscribed  INTEGER NOT NULL CHECK (subscribed IN (0, 1)),
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (member_id, category)
);

-- Keys the library makes for itself (random, written once): 'unsubscribe'
-- signs the links of List-Unsubscribe and of the preferences page.
CREATE TABLE site_keys (
    name        TEXT PRIMARY KEY,
    secret      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

INSERT INTO job_kinds (kind, queue, priority, max_attempts, backoff, backoff_us, backoff_max_us,
                       timeout_us, max_payload, created_at, updated_at)
VALUES ('platform.newsletter_fill', 'platform', 0, 20, 'exponential', 1000000, 60000000,
        120000000, 4096, 0, 0);
