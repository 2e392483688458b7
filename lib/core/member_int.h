/*
 * member_int.h - member helpers shared by the member, auth and other
 * modules.
 */
#ifndef CM_MEMBER_INT_H
#define CM_MEMBER_INT_H

#include "ops_int.h"

/* Member JSON from a "member.get"-shaped row. */
json_t *cm__member_json(cm__q *q, bool with_private);
/* May the actor see a profile with this visibility? */
bool cm__member_visible(cm__ctx *ctx, int64_t member_id, const char *visibility);
/* Load a member as the actor may see it; CM_ENOTFOUND when hidden. */
int cm__member_load(json_t **out, cm__ctx *ctx, int64_t id);

/* Lower-case an e-mail address for uniqueness (ASCII; UTF-8 bytes kept). */
void cm__email_normalize(char *dst, const char *src, size_t cap);

/* prepare hook: hash "password"/"new_password" into "_password_hash". */
int cm__password_hash_prepare(cm__ctx *ctx, json_t *in);
/* Create a session; adds {session: {token, expires_at}} to result. */
int cm__session_create(cm__ctx *ctx, int64_t member_id, json_t *result);

/* Session lifetime and single-use token lifetimes, in microseconds. */
#define CM__SESSION_TTL_US (30LL * 24 * 3600 * 1000000)
#define CM__RESET_TTL_US (3600LL * 1000000)
#define CM__MAGIC_TTL_US (15LL * 60 * 1000000)

#endif /* CM_MEMBER_INT_H */
