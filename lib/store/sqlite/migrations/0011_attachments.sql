-- 0011_attachments: uploaded files attached to events (slot 'cover'),
-- members ('avatar') and posts ('image'); lib/core/ops_attach.c. Times are
-- INTEGER microseconds.
--
-- One row per version. A cover or an avatar has one current row per
-- target (is_current = 1); a new upload makes the previous one a kept
-- version (is_current = 0, replaced_at set) until the prune removes it.
-- Each post image is its own row. blob_key and thumb_key name the stored
-- objects ("sha256/<hex>": content-addressed, so two rows may share one);
-- storage_version is the S3 version id when the bucket keeps versions.
CREATE TABLE attachments (
    id              INTEGER PRIMARY KEY,
    target_type     TEXT NOT NULL CHECK (target_type IN ('event', 'member', 'post')),
    target_id       INTEGER NOT NULL,
    slot            TEXT NOT NULL CHECK (slot IN ('cover', 'avatar', 'image')),
    version         INTEGER NOT NULL,
    is_current      INTEGER NOT NULL DEFAULT 1 CHECK (is_current IN (0, 1)),
    blob_key        TEXT NOT NULL,
    thumb_key       TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    thumb_type      TEXT NOT NULL,
    size_bytes      INTEGER NOT NULL,
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    filename        TEXT,
    storage_version TEXT,
    uploaded_by     INTEGER REFERENCES members(id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL,
    replaced_at     INTEGER
);
CREATE INDEX attachments_target ON attachments(target_type, target_id, is_current);
CREATE INDEX attachments_blob ON attachments(blob_key);
CREATE INDEX attachments_thumb ON attachments(thumb_key);
CREATE INDEX attachments_uploader ON attachments(uploaded_by);
CREATE INDEX attachments_replaced ON attachments(replaced_at);

-- Stored objects whose last row went (pruned, deleted, erased): the sweep
-- deletes each from storage once no row names it any more, then the entry.
CREATE TABLE blob_trash (
    blob_key   TEXT PRIMARY KEY,
    queued_at  INTEGER NOT NULL
);
