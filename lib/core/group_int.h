/*
 * group_int.h - helpers shared by the group, post, comment and reaction
 * operations (and usable by other modules that attach things to groups,
 * e.g. events): what the acting member may do in a group, the visibility
 * rule of private groups, LIKE patterns and reaction summaries.
 *
 * The visibility rule, stated once (the SQL of group.list / post.list /
 * comment.* applies the same rule; keep them in step):
 *   - a public group and its content are visible to everyone;
 *   - a private group and its content are visible only to its active
 *     members and to staff (platform moderator, admin, system);
 *   - a member invited to a private group sees the group as an invitation
 *     (basic fields only), never its content or member list;
 *   - pending and banned members of a private group, and everybody else,
 *     get CM_ENOTFOUND, exactly as if the group did not exist.
 * A member holding a subscription in good standing to a membership tier
 * whose access table lists the group (cm__tier_grants) acts as an active
 * member of it (unless banned from it), without a group_members row: the
 * access ends with the subscription. cm__group_access_load applies it per
 * group; group.list, post.list, event.get/event.list and the search's
 * embed.allowed_* apply it in SQL (CM__SQL_TIER_GROUP and
 * CM__SQL_GROUP_READER in lib/store/backend.h).
 */
#ifndef CM_GROUP_INT_H
#define CM_GROUP_INT_H

#include "ops_int.h"

/* Group roles, ordered by power. 0 = not an active member. */
enum {
    CM__GR_NONE = 0,
    CM__GR_MEMBER = 1,
    CM__GR_MODERATOR = 2,
    CM__GR_ADMIN = 3,
    CM__GR_OWNER = 4,
};

/* Membership states of group_members.status; NONE = no row. */
enum {
    CM__GM_NONE = 0,
    CM__GM_ACTIVE,
    CM__GM_PENDING,
    CM__GM_INVITED,
    CM__GM_BANNED,
};

/* The acting member's standing in one group. */
typedef struct cm__group_access {
    int64_t id;
    bool is_private;
    char join_policy[16]; /* open | approval | invite */
    int status;           /* CM__GM_* of the actor's row */
    int role;             /* CM__GR_* of the actor's row (whatever its status) */
    bool staff;           /* platform moderator, admin or system */
    bool via_tier;        /* active through a membership tier (status, role set so) */
} cm__group_access;

/* Load the actor's standing in group_id. CM_ENOTFOUND (field `field`)
 * when the group does not exist or is hidden from the actor (see the rule
 * above; invited members of a private group do get CM_OK). */
int cm__group_access_load(cm__group_access *out, cm__ctx *ctx, int64_t group_id, const char *field);

/* May the actor read the group's content (posts, comments, members)? */
bool cm__group_can_read(const cm__group_access *a);
/* Is the group visible to the actor at all (content, or as invitation)? */
bool cm__group_visible(const cm__group_access *a);
/* Role rank of the actor when an active member, else CM__GR_NONE. */
int cm__group_rank(const cm__group_access *a);
/* Rank for administrative acts: the group rank, or CM__GR_OWNER for
 * platform admins and the system actor. */
int cm__group_admin_rank(const cm__group_access *a, cm__ctx *ctx);

/* CM_OK when the actor may read the group's content; otherwise CM_EPERM
 * for an invited member (the group is visible to them) and CM_ENOTFOUND
 * for everybody else, naming `field`. */
int cm__group_require_read(const cm__group_access *a, const char *field);

/* Group role names <-> CM__GR_*; -1 / NULL when unknown. */
int cm__group_role_parse(const char *s);
const char *cm__group_role_name(int rank);
int cm__group_status_parse(const char *s);

/* CM_EAUTH unless the actor is a member (the system actor has no member
 * id and so cannot own, join or author anything). */
int cm__require_member_id(cm__ctx *ctx);

/* "%<q>%" with \, % and _ escaped for LIKE ... ESCAPE '\'; cm__free it.
 * NULL for a NULL q or on out of memory (*oom set). */
char *cm__like_pattern(const char *q, bool *oom);

/* The fixed set of reaction kinds, NULL-terminated. The SQL catalogue
 * returns one count column per kind in this order (see sql_group.c). */
extern const char *const cm__reaction_kinds[];
#define CM__N_REACTION_KINDS 5

/* Add "reactions": {kind: count} and "my_reactions": [kind] to obj from
 * CM__N_REACTION_KINDS count columns starting at col, followed by as many
 * 0/1 "mine" columns. */
void cm__json_set_reactions(json_t *obj, cm__q *q, int col);

#endif /* CM_GROUP_INT_H */
