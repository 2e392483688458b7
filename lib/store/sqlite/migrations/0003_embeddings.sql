-- 0003_embeddings: one embedding vector per event, member and post, for the
-- AI operations (lib/ai, lib/core/ops_ai.c). Times are INTEGER microseconds.
--
-- vector: `dim` float32 values, little-endian (4 * dim bytes); NULL while an
-- entity waits for its first vector from an HTTP provider. content_hash: the
-- SHA-256 (hex) of the text the entity has now; stale = 1 when that text has
-- not been embedded yet (the vector, if any, is of an older text) or when
-- the row was written by another model. generation: the value of
-- embedding_state.generation for this entity type when the vector was
-- written; in-memory indexes load only the rows newer than what they hold.
-- pgvector support may replace this plain table later.

CREATE TABLE embeddings (
    entity_type   TEXT NOT NULL CHECK (entity_type IN ('event', 'member', 'post')),
    entity_id     INTEGER NOT NULL,
    model         TEXT NOT NULL,
    dim           INTEGER NOT NULL CHECK (dim >= 0),
    vector        BLOB,
    content_hash  TEXT NOT NULL,
    stale         INTEGER NOT NULL DEFAULT 0 CHECK (stale IN (0, 1)),
    generation    INTEGER NOT NULL DEFAULT 0,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (entity_type, entity_id),
    CHECK (vector IS NULL OR length(vector) = 4 * dim)
);
-- Catching up an in-memory index: the rows written after a generation.
CREATE INDEX embeddings_generation ON embeddings(entity_type, generation);
-- The refresh queue of HTTP providers.
CREATE INDEX embeddings_stale ON embeddings(entity_type, entity_id) WHERE stale = 1;

-- One counter per entity type, bumped by every transaction that writes
-- vectors of that type (the row lock orders concurrent writers).
CREATE TABLE embedding_state (
    entity_type  TEXT PRIMARY KEY CHECK (entity_type IN ('event', 'member', 'post')),
    generation   INTEGER NOT NULL DEFAULT 0
);
INSERT INTO embedding_state (entity_type, generation)
VALUES ('event', 0), ('member', 0), ('post', 0);
