-- 0001_core: members and auth, events and RSVPs, groups and posts, audit, metrics.
-- Times are INTEGER microseconds since the Unix epoch (UTC).

CREATE TABLE members (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL,
    email_norm    TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    name          TEXT NOT NULL,
    headline      TEXT NOT NULL DEFAULT '',
    bio           TEXT NOT NULL DEFAULT '',
    interests     TEXT NOT NULL DEFAULT '[]',
    timezone      TEXT NOT NULL DEFAULT 'UTC',
    visibility    TEXT NOT NULL DEFAULT 'members'
                  CHECK (visibility IN ('public', 'members', 'private')),
    discoverable  INTEGER NOT NULL DEFAULT 0 CHECK (discoverable IN (0, 1)),
    role          TEXT NOT NULL DEFAULT 'member'
                  CHECK (role IN ('member', 'organizer', 'moderator', 'admin')),
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    member_id    INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX sessions_member ON sessions(member_id);

CREATE TABLE auth_tokens (
    id          INTEGER PRIMARY KEY,
    member_id   INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('password_reset', 'magic_link')),
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX auth_tokens_member ON auth_tokens(member_id, kind);

CREATE TABLE groups (
    id           INTEGER PRIMARY KEY,
    slug         TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    kind         TEXT NOT NULL CHECK (kind IN ('chapter', 'interest')),
    join_policy  TEXT NOT NULL CHECK (join_policy IN ('open', 'approval', 'invite')),
    visibility   TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
    created_by   INTEGER NOT NULL REFERENCES members(id),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id   INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    member_id  INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'moderator', 'member')),
    status     TEXT NOT NULL CHECK (status IN ('active', 'pending', 'invited', 'banned')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member ON group_members(member_id, status);

CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    title         TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL CHECK (status IN ('draft', 'published', 'cancelled')),
    format        TEXT NOT NULL CHECK (format IN ('in_person', 'online', 'hybrid')),
    venue         TEXT NOT NULL DEFAULT '',
    online_url    TEXT NOT NULL DEFAULT '',
    timezone      TEXT NOT NULL,
    start_local   TEXT NOT NULL,
    end_local     TEXT NOT NULL,
    start_at      INTEGER NOT NULL,
    end_at        INTEGER NOT NULL,
    capacity      INTEGER CHECK (capacity IS NULL OR capacity >= 0),
    seats_taken   INTEGER NOT NULL DEFAULT 0
                  CHECK (seats_taken >= 0 AND (capacity IS NULL OR seats_taken <= capacity)),
    waitlist_count INTEGER NOT NULL DEFAULT 0 CHECK (waitlist_count >= 0),
    -- last rsvps.waitlist_seq handed out for this event (never reused: FIFO order)
    waitlist_last_seq INTEGER NOT NULL DEFAULT 0,
    group_id      INTEGER REFERENCES groups(id),
    created_by    INTEGER NOT NULL REFERENCES members(id),
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    published_at  INTEGER,
    cancelled_at  INTEGER,
    CHECK (end_at > start_at)
);
CREATE INDEX events_upcoming ON events(status, start_at, id);
CREATE INDEX events_group ON events(group_id, start_at);

CREATE TABLE event_organizers (
    event_id   INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    member_id  INTEGER NOT NULL REFERENCES members(id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (event_id, member_id)
);
CREATE INDEX event_organizers_member ON event_organizers(member_id);

CREATE TABLE rsvps (
    id            INTEGER PRIMARY KEY,
    event_id      INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    member_id     INTEGER NOT NULL REFERENCES members(id),
    status        TEXT NOT NULL
                  CHECK (status IN ('going', 'waitlisted', 'not_going', 'cancelled')),
    guests        INTEGER NOT NULL DEFAULT 0 CHECK (guests >= 0 AND guests <= 10),
    seats         INTEGER NOT NULL DEFAULT 0 CHECK (seats >= 0),
    waitlist_seq  INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (event_id, member_id),
    CHECK ((status = 'going') = (seats > 0)),
    CHECK ((status = 'waitlisted') = (waitlist_seq IS NOT NULL))
);
CREATE INDEX rsvps_waitlist ON rsvps(event_id, waitlist_seq) WHERE status = 'waitlisted';
CREATE INDEX rsvps_member ON rsvps(member_id, status);

CREATE TABLE posts (
    id          INTEGER PRIMARY KEY,
    group_id    INTEGER REFERENCES groups(id) ON DELETE CASCADE,
    author_id   INTEGER NOT NULL REFERENCES members(id),
    kind        TEXT NOT NULL CHECK (kind IN ('discussion', 'question', 'announcement')),
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    deleted_at  INTEGER
);
CREATE INDEX posts_feed ON posts(group_id, created_at, id);

CREATE TABLE comments (
    id          INTEGER PRIMARY KEY,
    post_id     INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    parent_id   INTEGER REFERENCES comments(id),
    author_id   INTEGER NOT NULL REFERENCES members(id),
    body        TEXT NOT NULL,
    depth       INTEGER NOT NULL DEFAULT 0 CHECK (depth >= 0 AND depth <= 16),
    created_at  INTEGER NOT NULL,
    deleted_at  INTEGER
);
CREATE INDEX comments_post ON comments(post_id, created_at, id);

CREATE TABLE reactions (
    target_type TEXT NOT NULL CHECK (target_type IN ('post', 'comment')),
    target_id   INTEGER NOT NULL,
    member_id   INTEGER NOT NULL REFERENCES members(id),
    kind        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (target_type, target_id, member_id, kind)
);

CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    actor_id     INTEGER,
    actor_role   TEXT NOT NULL,
    op           TEXT NOT NULL,
    target_type  TEXT NOT NULL DEFAULT '',
    target_id    INTEGER
);
CREATE INDEX audit_log_at ON audit_log(at, id);

CREATE TABLE metric_counters (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE email_outbox (
    id          INTEGER PRIMARY KEY,
    member_id   INTEGER REFERENCES members(id),
    to_addr     TEXT NOT NULL,
    template    TEXT NOT NULL,
    payload     TEXT NOT NULL,
    dedupe_key  TEXT UNIQUE,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER
);
