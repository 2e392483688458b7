/*
 * assistant_int.h - the AI assistant's internals shared within lib/core:
 * the chat history (assistant_store.c), the store's chat provider
 * (assistant_config.c) and what member erasure, export and the platform's
 * retention job use.
 */
#ifndef CM_ASSISTANT_INT_H
#define CM_ASSISTANT_INT_H

#include "ops_int.h"

#include "ai/chat.h"

#include <community/jobs.h>

/* ---- the provider (assistant_config.c) ---- */

/* The store's chat provider: the one set by cm__assistant_set_provider, or
 * the one the environment names on first use (COMMUNITY_ASSISTANT=offline,
 * the default, or openai with COMMUNITY_ASSISTANT_URL, _KEY, _MODEL,
 * _TIMEOUT_MS, _RETRIES, _BACKOFF_MS). Borrowed until the store closes or
 * the provider is replaced. */
int cm__assistant_provider(const cm__chat_provider **out, cm_store *store);
/* Use p for the store's assistant (NULL: the offline provider). The store
 * borrows p: it must outlive the store or the next call. For tests and
 * embedders; not thread-safe against a concurrent assistant.ask. */
int cm__assistant_set_provider(cm_store *store, const cm__chat_provider *p);

/* ---- chat history (assistant_store.c) ---- */

/* The platform's policy row. */
typedef struct cm__assistant_policy {
    int64_t retention_days; /* 0: kept until deleted */
    bool admin_access;      /* admins may read and delete any member's history */
    int64_t updated_at;
} cm__assistant_policy;
int cm__assistant_policy_read(cm__assistant_policy *out, cm__conn *conn);

/* May ctx's actor read (and delete) the history of member_id? Its owner,
 * the system actor, and admins when the policy allows it. */
int cm__assistant_may_access(bool *out, cm__ctx *ctx, int64_t member_id);

/* A conversation as JSON (shape AssistantConversation) from the current
 * row of a "assistant.conv_*" statement; *member_out gets its owner. */
json_t *cm__assistant_conv_json(cm__q *q, int64_t *member_out);
/* A message as JSON (shape AssistantMessage) from the current row of a
 * "assistant.msg_*" statement; NULL when out of memory. */
json_t *cm__assistant_msg_json(cm__q *q);
/* Load conversation id with its messages, oldest first:
 * {conversation, messages}. CM_ENOTFOUND when absent. */
int cm__assistant_conv_load(json_t **out, cm__conn *conn, int64_t id, int64_t *member_out);

/* Everything the assistant keeps for a member, for members.export:
 * [{...conversation, messages: [...]}], oldest first. */
int cm__assistant_export_member(json_t **out, cm__conn *conn, int64_t member_id);
/* The shape of one item of that array (ops_assistant.c). */
extern const cm__shape cm__assistant_export_conv;
/* Delete a member's conversations with their messages and pending
 * actions, for members.erase, inside its transaction. *deleted (may be
 * NULL) gets the number of conversations. */
int cm__assistant_erase_member(cm__conn *conn, int64_t member_id, int64_t *deleted);
/* Retention: delete up to max conversations untouched for the policy's
 * retention_days before now (none when it is 0), and the pending actions
 * that expired more than a day ago. *deleted (may be NULL) gets the
 * number of conversations. */
int cm__assistant_prune(cm__conn *conn, int64_t now, int64_t max, int64_t *deleted);
/* The handler of the platform job "platform.assistant_retention". */
int cm__assistant_retention_handler(cm_job *job, void *payload);

#endif /* CM_ASSISTANT_INT_H */
