/*
 * actor.c - actors: who calls an operation. Built from a session token, a
 * trusted member id, or as the all-powerful system actor.
 */
#include "member_int.h"

#include <string.h>

static int new_actor(cm_actor **out, int64_t member_id, int role)
{
    cm_actor *a = cm__malloc(sizeof *a);
    if (!a)
        return cm__oom();
    a->member_id = member_id;
    a->role = role;
    *out = a;
    return CM_OK;
}

typedef struct lookup {
    const char *token;
    int64_t member_id;
    int role;
} lookup;

static int lookup_session(cm__conn *c, void *payload)
{
    lookup *l = payload;
    char hash[65];
    cm__token_hash(hash, l->token);
    cm__q q;
    int rc = cm__q_open(&q, c, "session.actor");
    if (rc)
        return rc;
    cm__q_text(&q, 1, hash);
    cm__q_int64(&q, 2, cm_now_us());
    rc = cm__q_step(&q);
    if (rc == 1) {
        l->member_id = cm__q_col_int64(&q, 0);
        l->role = cm__role_parse(cm__q_col_text(&q, 1));
        rc = CM_OK;
    } else if (rc == 0) {
        rc = cm__error_set(CM_EAUTH, "session is unknown, expired or revoked");
    }
    cm__q_close(&q);
    return rc;
}

int cm_actor_from_session(cm_actor **out, cm_store *store, const char *token)
{
    if (!out)
        return cm__error_set(CM_EINVAL, "cm_actor_from_session: out is NULL");
    *out = NULL;
    if (!store || !token)
        return cm__error_set(CM_EINVAL, "cm_actor_from_session: NULL argument");
    if (strlen(token) > 256)
        return cm__error_set(CM_EAUTH, "session is unknown, expired or revoked");
    lookup l = {token, 0, -1};
    int rc = cm__store_run_tx(store, false, lookup_session, &l);
    if (rc)
        return rc;
    return new_actor(out, l.member_id, l.role < 0 ? CM_ROLE_MEMBER : l.role);
}

static int lookup_member(cm__conn *c, void *payload)
{
    lookup *l = payload;
    cm__q q;
    int rc = cm__q_open(&q, c, "member.role");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, l->member_id);
    rc = cm__q_step(&q);
    if (rc == 1) {
        l->role = cm__role_parse(cm__q_col_text(&q, 0));
        rc = CM_OK;
    } else if (rc == 0) {
        rc = cm__error_set(CM_ENOTFOUND, "no active member %lld", (long long)l->member_id);
    }
    cm__q_close(&q);
    return rc;
}

int cm_actor_for_member(cm_actor **out, cm_store *store, int64_t member_id)
{
    if (!out)
        return cm__error_set(CM_EINVAL, "cm_actor_for_member: out is NULL");
    *out = NULL;
    if (!store || member_id < 1)
        return cm__error_set(CM_EINVAL, "cm_actor_for_member: bad argument");
    lookup l = {NULL, member_id, -1};
    int rc = cm__store_run_tx(store, false, lookup_member, &l);
    if (rc)
        return rc;
    return new_actor(out, member_id, l.role < 0 ? CM_ROLE_MEMBER : l.role);
}

typedef struct email_lookup {
    const char *email;
    int64_t id;
} email_lookup;

static int lookup_email(cm__conn *c, void *payload)
{
    email_lookup *l = payload;
    char norm[256];
    cm__email_normalize(norm, l->email, sizeof norm);
    cm__q q;
    int rc = cm__q_open(&q, c, "member.by_email");
    if (rc)
        return rc;
    cm__q_text(&q, 1, norm);
    rc = cm__q_step(&q);
    if (rc == 1)
        l->id = cm__q_col_int64(&q, 0);
    cm__q_close(&q);
    if (rc == 0)
        return cm__error_set_field(CM_ENOTFOUND, "email", "no member with e-mail %.100s", l->email);
    return cm__ok(rc);
}

int cm_actor_for_email(cm_actor **out, cm_store *store, const char *email)
{
    if (!out)
        return cm__error_set(CM_EINVAL, "cm_actor_for_email: out is NULL");
    *out = NULL;
    if (!store || !email || strlen(email) > 254)
        return cm__error_set(CM_EINVAL, "cm_actor_for_email: bad argument");
    email_lookup l = {email, 0};
    int rc = cm__store_run_tx(store, false, lookup_email, &l);
    return rc ? rc : cm_actor_for_member(out, store, l.id);
}

int cm_actor_system(cm_actor **out)
{
    if (!out)
        return cm__error_set(CM_EINVAL, "cm_actor_system: out is NULL");
    return new_actor(out, 0, CM_ROLE_SYSTEM);
}

int64_t cm_actor_member_id(const cm_actor *a)
{
    return a ? a->member_id : 0;
}
int cm_actor_role(const cm_actor *a)
{
    return a ? a->role : CM_ROLE_ANONYMOUS;
}
void cm_actor_free(cm_actor *a)
{
    cm__free(a);
}
