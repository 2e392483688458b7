-- 0003_embeddings (PostgreSQL): mirrors lib/store/sqlite/migrations/0003_embeddings.sql
-- (same conversions as 0001_core; BLOB -> bytea). One embedding vector per event,
-- member and post for the AI operations. A plain table: pgvector support may come
-- later.
--
-- vector: `dim` float32 values, little-endian (4 * dim bytes); NULL while an
-- entity waits for its first vector from an HTTP provider. content_hash: the
-- SHA-256 (hex) of the text the entity has now; stale = 1 when that text has
-- not been embedded yet or the row was written by another model. generation:
-- embedding_state.generation of the entity type when the vector was written.

CREATE TABLE embeddings (
    entity_type   text COLLATE "C" NOT NULL CHECK (entity_type IN ('event', 'member', 'post')),
    entity_id     bigint NOT NULL,
    model         text COLLATE "C" NOT NULL,
    dim           bigint NOT NULL CHECK (dim >= 0),
    vector        bytea,
    content_hash  text COLLATE "C" NOT NULL,
    stale         bigint NOT NULL DEFAULT 0 CHECK (stale IN (0, 1)),
    generation    bigint NOT NULL DEFAULT 0,
    updated_at    bigint NOT NULL,
    PRIMARY KEY (entity_type, entity_id),
    CHECK (vector IS NULL OR length(vector) = 4 * dim)
);
CREATE INDEX embeddings_generation ON embeddings(entity_type, generation);
CREATE INDEX embeddings_stale ON embeddings(entity_type, entity_id) WHERE stale = 1;

CREATE TABLE embedding_state (
    entity_type  text COLLATE "C" PRIMARY KEY CHECK (entity_type IN ('event', 'member', 'post')),
    generation   bigint NOT NULL DEFAULT 0
);
INSERT INTO embedding_state (entity_type, generation)
VALUES ('event', 0), ('member', 0), ('post', 0);
