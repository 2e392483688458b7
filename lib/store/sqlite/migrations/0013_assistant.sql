-- 0013_assistant: the AI assistant's chat history (lib/core/ops_assistant.c,
-- lib/core/assistant_store.c). Times are INTEGER microseconds.
--
-- A conversation belongs to one member. Its messages keep their content
-- ({"text": ...}), the tool calls the assistant made and the events and
-- posts it cited as JSON documents: columns of type JSON holding checked
-- JSON text here, jsonb on PostgreSQL. A write the assistant proposes
-- waits in assistant_actions until the member confirms it: single use
-- (used_at), until expires_at, for that member and conversation only; the
-- token is stored as its SHA-256. Deleting a conversation deletes its
-- messages and actions.
CREATE TABLE assistant_conversations (
    id         INTEGER PRIMARY KEY,
    member_id  INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX assistant_conversations_member ON assistant_conversations(member_id, updated_at, id);
CREATE INDEX assistant_conversations_updated ON assistant_conversations(updated_at);

CREATE TABLE assistant_messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES assistant_conversations(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content         JSON NOT NULL CHECK (json_valid(content) AND json_type(content) = 'object'),
    tool_calls      JSON CHECK (tool_calls IS NULL OR (json_valid(tool_calls) AND
                                                    json_type(tool_calls) = 'array')),
    citations       JSON CHECK (citations IS NULL OR (json_valid(citations) AND
                                                  json_type(citations) = 'array')),
    model           TEXT,
    tokens_in       INTEGER NOT NULL DEFAULT 0,
    tokens_out      INTEGER NOT NULL DEFAULT 0,
    latency_us      INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);
CREATE INDEX assistant_messages_conversation ON assistant_messages(conversation_id, id);

CREATE TABLE assistant_actions (
    id              INTEGER PRIMARY KEY,
    token_hash      TEXT NOT NULL UNIQUE,
    member_id       INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES assistant_conversations(id) ON DELETE CASCADE,
    message_id      INTEGER NOT NULL REFERENCES assistant_messages(id) ON DELETE CASCADE,
    op              TEXT NOT NULL,
    input           JSON NOT NULL CHECK (json_valid(input) AND json_type(input) = 'object'),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
);
CREATE INDEX assistant_actions_conversation ON assistant_actions(conversation_id);
CREATE INDEX assistant_actions_message ON assistant_actions(message_id);
CREATE INDEX assistant_actions_member ON assistant_actions(member_id);
CREATE INDEX assistant_actions_expires ON assistant_actions(expires_at);

-- The platform's policy (one row): conversations untouched for
-- retention_days are deleted by the job platform.assistant_retention
-- (0: kept until deleted); admin_access = 1 lets administrators list, read,
-- export and delete any member's conversations.
CREATE TABLE assistant_policy (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    retention_days INTEGER NOT NULL CHECK (retention_days BETWEEN 0 AND 3650),
    admin_access   INTEGER NOT NULL CHECK (admin_access IN (0, 1)),
    updated_at     INTEGER NOT NULL
);
INSERT INTO assistant_policy (id, retention_days, admin_access, updated_at) VALUES (1, 90, 0, 0);
