/*
 * sql_group.c - SQLite statements for groups, memberships, posts, comments
 * and reactions.
 *
 * Conventions of this part of the catalogue:
 *   - statements returning posts or comments take the viewing member's id
 *     as ?1 (0 for anonymous) for the "my reactions" columns;
 *   - the private-group visibility rule (lib/core/group_int.h) is repeated
 *     in group.list (with tier access) and post.list: keep it in step with
 *     cm__group_access_load();
 *   - reaction count columns follow cm__reaction_kinds[] in order: like,
 *     love, insightful, celebrate, curious; then one 0/1 "mine" column per
 *     kind in the same order.
 */
#include "../backend.h"

/* Count of one reaction kind on target (t, id), t and id SQL expressions.
 * (clang-format does not settle on one layout of these string macros.) */
// clang-format off
#define RX_COUNT(t, id, k)                                                                     \
    "(SELECT count(*) FROM reactions r WHERE r.target_type = " t " AND r.target_id = " id     \
    " AND r.kind = '" k "')"
#define RX_MINE(t, id, k)                                                                      \
    "CASE WHEN EXISTS (SELECT 1 FROM reactions r WHERE r.target_type = " t                    \
    " AND r.target_id = " id " AND r.kind = '" k "' AND r.member_id = ?1) THEN 1 ELSE 0 END"
#define REACTION_COLS(t, id)                                                                   \
    RX_COUNT(t, id, "like") ", " RX_COUNT(t, id, "love") ", " RX_COUNT(t, id, "insightful")   \
        ", " RX_COUNT(t, id, "celebrate") ", " RX_COUNT(t, id, "curious") ", "                \
        RX_MINE(t, id, "like") ", " RX_MINE(t, id, "love") ", " RX_MINE(t, id, "insightful")  \
        ", " RX_MINE(t, id, "celebrate") ", " RX_MINE(t, id, "curious")
// clang-format on

/* 0 id, 1 slug, 2 name, 3 description, 4 kind, 5 join_policy, 6 visibility,
 * 7 created_by, 8 created_at, 9 updated_at, 10 member_count, 11 my role,
 * 12 my status. Needs "me" joined: LEFT JOIN group_members me ... ?1. */
#define GROUP_COLS                                                                                 \
    "g.id, g.slug, g.name, g.description, g.kind, g.join_policy, g.visibility, g.created_by, "     \
    "g.created_at, g.updated_at, (SELECT count(*) FROM group_members c WHERE c.group_id = "        \
    "g.id AND c.status = 'active'), me.role, me.status"
#define GROUP_FROM                                                                                 \
    " FROM groups g LEFT JOIN group_members me ON me.group_id = g.id AND me.member_id = ?1 "

/* 0 id, 1 group_id, 2 author_id, 3 author name, 4 kind, 5 title, 6 body,
 * 7 created_at, 8 updated_at, 9 deleted_at, 10 group slug, 11 group name,
 * 12 comment_count, 13.. reactions (5 counts, 5 mine). */
#define POST_COLS                                                                                  \
    "p.id, p.group_id, p.author_id, a.name, p.kind, p.title, p.body, p.created_at, "               \
    "p.updated_at, p.deleted_at, g.slug, g.name, (SELECT count(*) FROM comments c WHERE "          \
    "c.post_id = p.id AND c.deleted_at IS NULL), " REACTION_COLS("'post'", "p.id")
#define POST_FROM                                                                                  \
    " FROM posts p JOIN members a ON a.id = p.author_id LEFT JOIN groups g ON g.id = "             \
    "p.group_id "

/* A subscription of member ?1 in good standing to a tier that unlocks the
 * group (CM__SQL_TIER_GROUP); such a member, unless banned from the group,
 * acts as an active member of it.
 * TIER_G: for group g of a GROUP_FROM query, with ?8 now and ?9 grace;
 * TIER_MEMBER: the same, not banned. */
#define TIER_GROUP CM__SQL_TIER_GROUP
#define TIER_G TIER_GROUP("?1", "g.id", "?8", "?9")
#define TIER_MEMBER "(coalesce(me.status, '') <> 'banned' AND " TIER_G ")"
/* For post.list: the tier opens p's group to ?1 at ?11 (grace ?12), no ban. */
#define TIER_P TIER_GROUP("?1", "p.group_id", "?11", "?12")
#define TIER_POST                                                                                  \
    "(" TIER_P " AND NOT EXISTS (SELECT 1 FROM group_members gb WHERE gb.group_id = p.group_id "   \
    "AND gb.member_id = ?1 AND gb.status = 'banned'))"

/* 0 id, 1 post_id, 2 parent_id, 3 author_id, 4 author name, 5 body,
 * 6 depth, 7 created_at, 8 deleted_at, 9.. reactions (5 counts, 5 mine). */
#define COMMENT_COLS                                                                               \
    "c.id, c.post_id, c.parent_id, c.author_id, a.name, c.body, c.depth, c.created_at, "           \
    "c.deleted_at, " REACTION_COLS("'comment'", "c.id")

const cm__sql_entry cm__sqlite_sql_group[] = {
    /* ---- groups ---- */
    {"group.insert",
     "INSERT INTO groups (slug, name, description, kind, join_policy, visibility, created_by, "
     "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) RETURNING id"},
    /* ?1 group, ?2 member: visibility, join_policy, my role, my status */
    {"group.access",
     "SELECT g.visibility, g.join_policy, gm.role, gm.status FROM groups g "
     "LEFT JOIN group_members gm ON gm.group_id = g.id AND gm.member_id = ?2 WHERE g.id = ?1"},
    {"group.get", "SELECT " GROUP_COLS GROUP_FROM "WHERE g.id = ?2"},
    /* ?1 me, ?2 after id, ?3 staff, ?4 kind, ?5 LIKE pattern, ?6 only mine, ?7 limit,
     * ?8 now, ?9 grace period; GROUP_COLS then 13: 1 when a membership tier
     * unlocks the group for me (TIER_G, whether or not banned) */
    {"group.list",
     "SELECT " GROUP_COLS ", CASE WHEN " TIER_G " THEN 1 ELSE 0 END" GROUP_FROM
     "WHERE g.id > ?2 AND (g.visibility = 'public' OR ?3 = 1 "
     "OR me.status IN ('active', 'invited') OR " TIER_MEMBER ") "
     "AND (?4 IS NULL OR g.kind = ?4) "
     "AND (?5 IS NULL OR g.name LIKE ?5 ESCAPE '\\' OR g.slug LIKE ?5 ESCAPE '\\' "
     "OR g.description LIKE ?5 ESCAPE '\\') "
     "AND (?6 = 0 OR me.status IN ('active', 'pending', 'invited') OR " TIER_MEMBER ") "
     "ORDER BY g.id LIMIT ?7"},
    {"group.update",
     "UPDATE groups SET slug = coalesce(?2, slug), name = coalesce(?3, name), "
     "description = coalesce(?4, description), kind = coalesce(?5, kind), "
     "join_policy = coalesce(?6, join_policy), visibility = coalesce(?7, visibility), "
     "updated_at = ?8 WHERE id = ?1"},
    {"group.member_active", "SELECT id FROM members WHERE id = ?1 AND status = 'active'"},
    {"group.member_get",
     "SELECT role, status FROM group_members WHERE group_id = ?1 AND member_id = ?2"},
    {"group.member_insert",
     "INSERT INTO group_members (group_id, member_id, role, status, created_at, updated_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?5)"},
    {"group.member_set",
     "UPDATE group_members SET role = coalesce(?3, role), status = coalesce(?4, status), "
     "updated_at = ?5 WHERE group_id = ?1 AND member_id = ?2"},
    {"group.member_delete", "DELETE FROM group_members WHERE group_id = ?1 AND member_id = ?2"},
    {"group.owner_count",
     "SELECT count(*) FROM group_members WHERE group_id = ?1 AND role = 'owner' "
     "AND status = 'active'"},
    /* ?1 group, ?2 status, ?3 after member id, ?4 viewer platform role,
     * ?5 privileged viewer (staff or group manager), ?6 viewer id, ?7 limit */
    {"group.members",
     "SELECT gm.member_id, m.name, gm.role, gm.status, gm.created_at, gm.updated_at "
     "FROM group_members gm JOIN members m ON m.id = gm.member_id "
     "WHERE gm.group_id = ?1 AND gm.status = ?2 AND gm.member_id > ?3 "
     "AND (?5 = 1 OR m.id = ?6 OR (m.status = 'active' AND (m.visibility = 'public' "
     "OR (m.visibility = 'members' AND ?4 >= 1)))) "
     "ORDER BY gm.member_id LIMIT ?7"},

    /* ---- posts ---- */
    {"post.insert",
     "INSERT INTO posts (group_id, author_id, kind, title, body, created_at, updated_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING id"},
    {"post.row", "SELECT id, group_id, author_id, kind, deleted_at FROM posts WHERE id = ?1"},
    /* ?1 me, ?2 post id (visibility and deletion are checked by the caller) */
    {"post.get", "SELECT " POST_COLS POST_FROM "WHERE p.id = ?2"},
    /* ?1 me, ?2 staff, ?3 group id or NULL, ?4 platform-wide only, ?5 kind,
     * ?6 author id, ?7 LIKE pattern, ?8/?9 cursor (created_at, id) or NULL,
     * ?10 limit, ?11 now, ?12 grace period. Newest first. */
    {"post.list", "SELECT " POST_COLS POST_FROM "WHERE p.deleted_at IS NULL "
                  "AND (p.group_id IS NULL OR ?2 = 1 OR g.visibility = 'public' "
                  "OR EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = p.group_id "
                  "AND gm.member_id = ?1 AND gm.status = 'active') OR " TIER_POST ") "
                  "AND (?3 IS NULL OR p.group_id = ?3) AND (?4 = 0 OR p.group_id IS NULL) "
                  "AND (?5 IS NULL OR p.kind = ?5) AND (?6 IS NULL OR p.author_id = ?6) "
                  "AND (?7 IS NULL OR p.title LIKE ?7 ESCAPE '\\' OR p.body LIKE ?7 ESCAPE '\\') "
                  "AND (?8 IS NULL OR p.created_at < ?8 OR (p.created_at = ?8 AND p.id < ?9)) "
                  "ORDER BY p.created_at DESC, p.id DESC LIMIT ?10"},
    {"post.update",
     "UPDATE posts SET kind = coalesce(?2, kind), title = coalesce(?3, title), "
     "body = coalesce(?4, body), updated_at = ?5 WHERE id = ?1 AND deleted_at IS NULL"},
    {"post.delete",
     "UPDATE posts SET deleted_at = ?2, updated_at = ?2 WHERE id = ?1 AND deleted_at IS NULL"},

    /* ---- comments ---- */
    {"comment.insert",
     "INSERT INTO comments (post_id, parent_id, author_id, body, depth, created_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id"},
    {"comment.row", "SELECT id, post_id, author_id, depth, deleted_at FROM comments WHERE id = ?1"},
    {"comment.load", "SELECT " COMMENT_COLS " FROM comments c JOIN members a ON a.id = c.author_id "
                     "WHERE c.id = ?2"},
    /* Thread order: depth-first, siblings oldest first (ids grow with time).
     * The path of zero-padded ids sorts the tree; ?3 = id of the last item
     * of the previous page (0 for the first page). ?1 me, ?2 post, ?4 limit. */
    {"comment.list",
     "WITH RECURSIVE t(id, path) AS ("
     "SELECT id, printf('%020d', id) FROM comments WHERE post_id = ?2 AND parent_id IS NULL "
     "UNION ALL "
     "SELECT c.id, t.path || '/' || printf('%020d', c.id) FROM comments c "
     "JOIN t ON c.parent_id = t.id WHERE c.post_id = ?2) "
     "SELECT " COMMENT_COLS " FROM t JOIN comments c ON c.id = t.id "
     "JOIN members a ON a.id = c.author_id "
     "WHERE t.path > coalesce((SELECT t2.path FROM t t2 WHERE t2.id = ?3), '') "
     "ORDER BY t.path LIMIT ?4"},
    {"comment.delete", "UPDATE comments SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL"},

    /* ---- reactions ---- */
    {"reaction.add", "INSERT INTO reactions (target_type, target_id, member_id, kind, created_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5) "
                     "ON CONFLICT (target_type, target_id, member_id, kind) DO NOTHING"},
    {"reaction.remove",
     "DELETE FROM reactions WHERE target_type = ?1 AND target_id = ?2 AND member_id = ?3 "
     "AND kind = ?4"},
    /* ?1 me, ?2 target type, ?3 target id */
    {"reaction.summary", "SELECT " REACTION_COLS("?2", "?3")},
    {NULL, NULL},
};
