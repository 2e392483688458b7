/*
 * chat.h - chat completion providers for the assistant
 * (lib/core/ops_assistant.c): the interface every provider implements and
 * the deterministic offline provider. No SQL and no domain here: a
 * provider gets OpenAI-shaped messages, the tools it may call and what
 * retrieval found, and answers with text and tool calls. Deciding what a
 * tool call may do (run it, ask the member first, refuse it) is the
 * caller's job, never the provider's.
 */
#ifndef CM_AI_CHAT_H
#define CM_AI_CHAT_H

#include "../util/json.h"

/* One completion request; everything is borrowed for the call. */
typedef struct cm__chat_request {
    /* [{"role": "system" | "user" | "assistant" | "tool", "content": "...",
     *   "tool_calls"?: [...], "tool_call_id"?: "..."}], oldest first */
    const json_t *messages;
    /* [{"type": "function", "function": {"name", "description",
     *   "parameters"}}], or NULL */
    const json_t *tools;
    /* What retrieval found for the question, also rendered into the
     * messages: [{"type": "event" | "post" | "member", "id", "title",
     * "score", "start"?, "text"?}], best first. */
    const json_t *context;
    /* Streaming (optional): each piece of answer text as it arrives. A
     * non-zero return stops the request, which fails with CM_ECANCELED. */
    int (*on_text)(void *payload, const char *text, size_t len);
    void *payload;
} cm__chat_request;

/* What a provider answers. */
typedef struct cm__chat_reply {
    char *text;         /* never NULL after success; "" when it only called tools */
    json_t *tool_calls; /* [{"id", "name", "arguments": {...}}], or NULL */
    char *model;        /* the model that answered */
    int64_t tokens_in, tokens_out;
} cm__chat_reply;

/* Free what a reply holds (not the struct); safe on a zeroed reply. */
void cm__chat_reply_dispose(cm__chat_reply *r);

/* A provider. complete() may be called from several threads at once. On
 * failure it returns a CM_E* code with the detail set and leaves *out
 * zeroed. */
typedef struct cm__chat_provider cm__chat_provider;
struct cm__chat_provider {
    const char *name;
    int (*complete)(const cm__chat_provider *p, cm__chat_reply *out, const cm__chat_request *req);
    void (*free)(cm__chat_provider *p); /* NULL for a static provider */
};

/* The offline provider: deterministic, no network. It answers from the
 * context only (a list of what was found, each with a citation marker
 * "[event:12]"), and turns a request to RSVP ("RSVP me to the next Rust
 * meetup") into a call of the tool rsvps_add for the soonest of the best
 * matching events (rsvps_cancel for "cancel my RSVP to ..."). Tokens are
 * counted as words. Static: never freed. */
const cm__chat_provider *cm__chat_offline(void);
#define CM__CHAT_OFFLINE_MODEL "offline-compose-v1"

/* The OpenAI-compatible provider (chat_openai.c): POST
 * {base_url}/chat/completions, streamed as server-sent events. */
typedef struct cm__chat_openai_config {
    const char *base_url; /* "https://api.openai.com/v1" (required) */
    const char *api_key;  /* sent as a Bearer token; NULL: none */
    const char *model;    /* required */
    uint32_t timeout_ms;  /* a whole request; 0: 60000 */
    uint32_t retries;     /* tries after a 429, a 5xx or no connection */
    uint32_t backoff_ms;  /* the first retry's wait, doubled each time; 0: 500 */
} cm__chat_openai_config;
/* A new provider (the strings are copied); release it through p->free. On
 * failure CM_EINVAL (base_url not http(s), no model) or CM_ENOMEM. A
 * request fails with CM_ETIMEOUT, CM_ETHROTTLED (429), CM_EUNAVAILABLE
 * (5xx, no connection), CM_ECANCELED (on_text stopped it) or CM_EIO (any
 * other status, a malformed stream, an error event), the detail naming the
 * URL and status and quoting the service's message without the key. */
int cm__chat_openai_new(cm__chat_provider **out, const cm__chat_openai_config *cfg);

/* Words of s (runs of non-blank bytes): the offline token count. */
int64_t cm__chat_count_words(const char *s);

#endif /* CM_AI_CHAT_H */
