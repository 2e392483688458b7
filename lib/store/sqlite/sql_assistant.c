/*
 * sql_assistant.c - SQLite statements of the AI assistant's chat history
 * (lib/core/assistant_store.c, migration 0013_assistant). Plain SQL: the
 * PostgreSQL dialect is the same text (the JSON parameters become jsonb by
 * the columns they are written to).
 */
#include "../backend.h"

#define CONV_COLS                                                                                  \
    "c.id, c.member_id, c.title, c.created_at, c.updated_at, (SELECT COUNT(*) FROM "               \
    "assistant_messages m WHERE m.conversation_id = c.id)"
#define MSG_COLS                                                                                   \
    "id, conversation_id, role, content, tool_calls, citations, model, tokens_in, tokens_out, "    \
    "latency_us, created_at"

const cm__sql_entry cm__sqlite_sql_assistant[] = {
    {"assistant.policy_get",
     "SELECT retention_days, admin_access, updated_at FROM assistant_policy WHERE id = 1"},
    /* ?1 retention_days ?2 admin_access ?3 now */
    {"assistant.policy_set", "UPDATE assistant_policy SET retention_days = ?1, admin_access = ?2, "
                             "updated_at = ?3 WHERE id = 1"},
    /* ?1 member ?2 title ?3 now */
    {"assistant.conv_insert", "INSERT INTO assistant_conversations (member_id, title, created_at, "
                              "updated_at) VALUES (?1, ?2, ?3, ?3) RETURNING id"},
    {"assistant.conv_get", "SELECT " CONV_COLS " FROM assistant_conversations c WHERE c.id = ?1"},
    /* a member's conversations, last touched first: ?1 member, after the
     * cursor (?2 updated_at, ?3 id), ?4 rows */
    {"assistant.conv_list",
     "SELECT " CONV_COLS " FROM assistant_conversations c WHERE c.member_id = ?1 AND "
     "(c.updated_at < ?2 OR (c.updated_at = ?2 AND c.id < ?3)) "
     "ORDER BY c.updated_at DESC, c.id DESC LIMIT ?4"},
    {"assistant.conv_of_member", "SELECT " CONV_COLS " FROM assistant_conversations c "
                                 "WHERE c.member_id = ?1 ORDER BY c.id"},
    {"assistant.conv_touch", "UPDATE assistant_conversations SET updated_at = ?2 WHERE id = ?1"},
    {"assistant.conv_delete", "DELETE FROM assistant_conversations WHERE id = ?1"},
    /* ?1 conversation ?2 role ?3 content ?4 tool_calls ?5 citations ?6 model ?7 tokens_in
     * ?8 tokens_out ?9 latency_us ?10 now */
    {"assistant.msg_insert",
     "INSERT INTO assistant_messages (conversation_id, role, content, tool_calls, citations, "
     "model, tokens_in, tokens_out, latency_us, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
     "?8, ?9, ?10) RETURNING id"},
    {"assistant.msg_get", "SELECT " MSG_COLS " FROM assistant_messages WHERE id = ?1"},
    {"assistant.msg_list", "SELECT " MSG_COLS " FROM assistant_messages "
                           "WHERE conversation_id = ?1 ORDER BY id"},
    /* the last ?2 messages of ?1, newest first */
    {"assistant.msg_recent", "SELECT " MSG_COLS " FROM assistant_messages "
                             "WHERE conversation_id = ?1 ORDER BY id DESC LIMIT ?2"},
    {"assistant.msg_set_tools", "UPDATE assistant_messages SET tool_calls = ?2 WHERE id = ?1"},
    /* ?1 token_hash ?2 member ?3 conversation ?4 message ?5 op ?6 input ?7 now ?8 expires_at */
    {"assistant.action_insert",
     "INSERT INTO assistant_actions (token_hash, member_id, conversation_id, message_id, op, "
     "input, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id"},
    /* Single use: ?1 token_hash, only for member ?2 in conversation ?3, not
     * used, not expired at ?4; marks it used at ?4. */
    {"assistant.action_take",
     "UPDATE assistant_actions SET used_at = ?4 WHERE token_hash = ?1 AND member_id = ?2 AND "
     "conversation_id = ?3 AND used_at IS NULL AND expires_at > ?4 "
     "RETURNING id, op, input, message_id"},
    /* member erasure: conversations, and with them messages and actions */
    {"assistant.erase_member", "DELETE FROM assistant_conversations WHERE member_id = ?1"},
    /* retention: conversations untouched since ?1, at most ?2 */
    {"assistant.prune_conversations",
     "DELETE FROM assistant_conversations WHERE id IN (SELECT id FROM assistant_conversations "
     "WHERE updated_at < ?1 ORDER BY updated_at, id LIMIT ?2)"},
    /* actions expired before ?1 (used or not: their messages keep the outcome) */
    {"assistant.prune_actions", "DELETE FROM assistant_actions WHERE expires_at < ?1"},
    /* inference per model: count, latency sum (us), tokens in and out, then
     * how many took at most 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 s */
    {"assistant.stats", "SELECT model, COUNT(*), SUM(latency_us), SUM(tokens_in), SUM(tokens_out), "
                        "SUM(CASE WHEN latency_us <= 50000 THEN 1 ELSE 0 END), "
                        "SUM(CASE WHEN latency_us <= 100000 THEN 1 ELSE 0 END), "
                        "SUM(CASE WHEN latency_us <= 250000 THEN 1 ELSE 0 END), "
                        "SUM(CASE WHEN latency_us <= 500000 THEN 1 ELSE 0 END), "
                        "SUM(CASE WHEN latency_us <= 1000000 THEN 1 ELSE 0 END), "
                        "SUM(CASE WHEN latency_us <= 2500000 THEN 1 ELSE 0 END), "
                        "SUM(CASE WHEN latency_us <= 5000000 THEN 1 ELSE 0 END), "
                        "SUM(CASE WHEN latency_us <= 10000000 THEN 1 ELSE 0 END), "
                        "SUM(CASE WHEN latency_us <= 30000000 THEN 1 ELSE 0 END), "
                        "SUM(CASE WHEN latency_us <= 60000000 THEN 1 ELSE 0 END) "
                        "FROM assistant_messages WHERE role = 'assistant' AND model IS NOT NULL "
                        "GROUP BY model ORDER BY model"},
    {NULL, NULL},
};
