/*
 * assistant_config.c - the store's chat provider for the assistant: the
 * one the environment names on first use (COMMUNITY_ASSISTANT; "offline",
 * the deterministic provider, is the default), or one set by
 * cm__assistant_set_provider().
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

/* The provider the environment names. */
static const cm__chat_provider *from_env(void)
{
    const char *kind = getenv("COMMUNITY_ASSISTANT");
    if (kind && *kind && strcmp(kind, "offline") != 0)
        cm__log(CM_LOG_WARN, "assistant",
                "COMMUNITY_ASSISTANT=%.32s is not a known provider: using offline", kind);
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
        st->provider = from_env();
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
