/*
 * assistant_config.c - the store's chat provider for the assistant: the
 * one the environment names on first use (COMMUNITY_ASSISTANT: "offline",
 * the deterministic provider, by default, or "openai", an OpenAI-compatible
 * service), or one set by cm__assistant_set_provider().
 */
#include "assistant_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct cm__assistant_state {
    const cm__chat_provider *provider;
    cm__chat_provider *owned; /* made here; freed with the store */
};

/* Serialises the first use of every store's state (rare and short). */
static pthread_mutex_t make_lock = PTHREAD_MUTEX_INITIALIZER;

static void state_free(struct cm__assistant_state *st)
{
    if (!st)
        return;
    if (st->owned && st->owned->free)
        st->owned->free(st->owned);
    cm__free(st);
}

static uint32_t env_u32(const char *name, uint32_t def)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    unsigned long x = strtoul(v, &end, 10);
    return *end || x > UINT32_MAX ? def : (uint32_t)x;
}

/* The provider the environment names: COMMUNITY_ASSISTANT=offline (the
 * default) or openai with COMMUNITY_ASSISTANT_URL, _KEY, _MODEL,
 * _TIMEOUT_MS, _RETRIES and _BACKOFF_MS. *owned is set when it was made
 * here. An unusable setting falls back to offline (logged). */
static const cm__chat_provider *from_env(cm__chat_provider **owned)
{
    *owned = NULL;
    const char *kind = getenv("COMMUNITY_ASSISTANT");
    if (kind && strcmp(kind, "openai") == 0) {
        const char *model = getenv("COMMUNITY_ASSISTANT_MODEL");
        cm__chat_openai_config c = {
            .base_url = getenv("COMMUNITY_ASSISTANT_URL"),
            .api_key = getenv("COMMUNITY_ASSISTANT_KEY"),
            .model = model && *model ? model : "gpt-4o-mini",
            .timeout_ms = env_u32("COMMUNITY_ASSISTANT_TIMEOUT_MS", 60000),
            .retries = env_u32("COMMUNITY_ASSISTANT_RETRIES", 2),
            .backoff_ms = env_u32("COMMUNITY_ASSISTANT_BACKOFF_MS", 500),
        };
        if (!c.base_url || !*c.base_url)
            c.base_url = "https://api.openai.com/v1";
        if (cm__chat_openai_new(owned, &c) == CM_OK)
            return *owned;
        cm__log(CM_LOG_WARN, "assistant", "COMMUNITY_ASSISTANT=openai: %s; using offline",
                cm_error_message());
        cm_error_clear();
    } else if (kind && *kind && strcmp(kind, "offline") != 0) {
        cm__log(CM_LOG_WARN, "assistant",
                "COMMUNITY_ASSISTANT=%.32s is not a known provider: using offline", kind);
    }
    return cm__chat_offline();
}

static int state_of(struct cm__assistant_state **out, cm_store *store)
{
    pthread_mutex_lock(&make_lock);
    if (!store->assistant) {
        struct cm__assistant_state *st = cm__calloc(1, sizeof *st);
        if (!st) {
            pthread_mutex_unlock(&make_lock);
            return cm__oom();
        }
        st->provider = from_env(&st->owned);
        store->assistant = st;
        store->assistant_free = state_free;
    }
    *out = store->assistant;
    pthread_mutex_unlock(&make_lock);
    return CM_OK;
}

int cm__assistant_provider(const cm__chat_provider **out, cm_store *store)
{
    struct cm__assistant_state *st;
    int rc = state_of(&st, store);
    if (rc)
        return rc;
    pthread_mutex_lock(&make_lock);
    *out = st->provider;
    pthread_mutex_unlock(&make_lock);
    return CM_OK;
}

int cm__assistant_set_provider(cm_store *store, const cm__chat_provider *p)
{
    struct cm__assistant_state *st;
    int rc = state_of(&st, store);
    if (rc)
        return rc;
    pthread_mutex_lock(&make_lock);
    st->provider = p ? p : cm__chat_offline();
    pthread_mutex_unlock(&make_lock);
    return CM_OK;
}
