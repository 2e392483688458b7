/*
 * sql_ai.c - SQLite statements of the embeddings (lib/ai) and of the AI
 * operations (lib/core/ops_ai.c): vectors and their bookkeeping, the text
 * each entity type is embedded from, and the sets of ids a caller may see,
 * computed before any ranking.
 *
 * The visibility rules are those of event.list, member.list and post.list
 * (see event_int.h and group_int.h): keep them in step.
 */
#include "../backend.h"

/* An event row `e` (joined with its group `g`) is visible to viewer V when
 * staff S = 1, outside groups, in a public group, to its organizers and to
 * those who read its group as members at NOW (grace period GRACE): active
 * members, and members a tier lets in who are not banned from it. */
#define EVENT_VISIBLE(V, S, NOW, GRACE)                                                            \
    "(" S " = 1 OR e.group_id IS NULL OR g.visibility = 'public' "                                 \
    "OR EXISTS (SELECT 1 FROM event_organizers o WHERE o.event_id = e.id AND o.member_id = " V     \
    ") OR " CM__SQL_GROUP_READER(V, "e.group_id", NOW, GRACE) ")"

/* Entities whose vector is missing, stale, or of another model or size:
 * ?1 model, ?2 dim (0: not known yet, any size), ?3 after this id, ?4 limit. */
#define PENDING(TABLE, TYPE, EXTRA)                                                                \
    "SELECT t.id FROM " TABLE " t LEFT JOIN embeddings x ON x.entity_type = '" TYPE "' "           \
    "AND x.entity_id = t.id WHERE t.id > ?3 " EXTRA "AND (x.entity_id IS NULL OR x.stale = 1 "     \
    "OR x.model <> ?1 OR (?2 > 0 AND x.dim <> ?2)) ORDER BY t.id LIMIT ?4"

const cm__sql_entry cm__sqlite_sql_ai[] = {
    /* ---- vectors ---- */
    /* ?1 type, ?2 id: content_hash, model, dim, stale, 1 when the vector is NULL. */
    {"embed.get",
     "SELECT content_hash, model, dim, stale, CASE WHEN vector IS NULL THEN 1 ELSE 0 END "
     "FROM embeddings WHERE entity_type = ?1 AND entity_id = ?2"},
    /* ?1 type, ?2 id: model, dim, vector. */
    {"embed.vector",
     "SELECT model, dim, vector FROM embeddings WHERE entity_type = ?1 AND entity_id = ?2 "
     "AND vector IS NOT NULL"},
    /* ?1 type, ?2 id, ?3 model, ?4 dim, ?5 vector, ?6 content hash, ?7 generation, ?8 now. */
    {"embed.upsert",
     "INSERT INTO embeddings (entity_type, entity_id, model, dim, vector, content_hash, stale, "
     "generation, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8) "
     "ON CONFLICT (entity_type, entity_id) DO UPDATE SET model = excluded.model, "
     "dim = excluded.dim, vector = excluded.vector, content_hash = excluded.content_hash, "
     "stale = 0, generation = excluded.generation, updated_at = excluded.updated_at"},
    /* The same from a refresh, which embedded the text of hash ?6 outside the
     * transaction: never over a row marked stale for a newer text, nor over a fresh
     * vector of the current model. */
    {"embed.upsert_if",
     "INSERT INTO embeddings (entity_type, entity_id, model, dim, vector, content_hash, stale, "
     "generation, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8) "
     "ON CONFLICT (entity_type, entity_id) DO UPDATE SET model = excluded.model, "
     "dim = excluded.dim, vector = excluded.vector, content_hash = excluded.content_hash, "
     "stale = 0, generation = excluded.generation, updated_at = excluded.updated_at "
     "WHERE embeddings.content_hash = excluded.content_hash OR (embeddings.stale = 0 "
     "AND (embeddings.model <> excluded.model OR embeddings.dim <> excluded.dim))"},
    /* The text changed and will be embedded later: ?1 type, ?2 id, ?3 model, ?4 content
     * hash, ?5 now. A vector of the same model stays (searchable) until then; one of
     * another model is dropped. */
    {"embed.mark_stale",
     "INSERT INTO embeddings (entity_type, entity_id, model, dim, vector, content_hash, stale, "
     "generation, updated_at) VALUES (?1, ?2, ?3, 0, NULL, ?4, 1, 0, ?5) "
     "ON CONFLICT (entity_type, entity_id) DO UPDATE SET content_hash = excluded.content_hash, "
     "stale = 1, updated_at = excluded.updated_at, "
     "vector = CASE WHEN embeddings.model = excluded.model THEN embeddings.vector ELSE NULL END, "
     "dim = CASE WHEN embeddings.model = excluded.model THEN embeddings.dim ELSE 0 END, "
     "model = excluded.model"},
    /* ?1 type: the next generation of that type (orders concurrent writers). */
    {"embed.bump", "UPDATE embedding_state SET generation = generation + 1 WHERE entity_type = ?1 "
                   "RETURNING generation"},
    /* ?1 type, ?2 generation: rows written after it, in order. */
    {"embed.changed", "SELECT entity_id, model, dim, vector, generation FROM embeddings "
                      "WHERE entity_type = ?1 AND generation > ?2 ORDER BY generation, entity_id"},
    /* ?1 limit: the refresh queue. */
    {"embed.stale", "SELECT entity_type, entity_id FROM embeddings WHERE stale = 1 "
                    "ORDER BY entity_type, entity_id LIMIT ?1"},
    {"embed.pending_event", PENDING("events", "event", "")},
    {"embed.pending_member", PENDING("members", "member", "")},
    {"embed.pending_post", PENDING("posts", "post", "AND t.deleted_at IS NULL ")},

    /* ---- what each entity type is embedded from (?1 id) ---- */
    {"embed.text_event", "SELECT title, description, venue FROM events WHERE id = ?1"},
    {"embed.text_member", "SELECT headline, bio, interests FROM members WHERE id = ?1"},
    {"embed.text_post", "SELECT title, body FROM posts WHERE id = ?1"},

    /* ---- what the caller may see, before ranking ---- */
    /* ?1 viewer, ?2 staff (0/1), ?3 upcoming only (0/1), ?4 now, ?5 grace period. */
    {"embed.allowed_event",
     "SELECT e.id FROM events e LEFT JOIN groups g ON g.id = e.group_id "
     "WHERE e.status = 'published' AND (?3 = 0 OR e.end_at > ?4) AND " EVENT_VISIBLE(
         "?1", "?2", "?4", "?5") " ORDER BY e.id"},
    /* Recommendations for ?1 (staff ?2, now ?3, grace period ?4): published, not started, not full,
     * no RSVP of the member (other than a cancelled one), not organized by them. */
    {"embed.allowed_recommend",
     "SELECT e.id FROM events e LEFT JOIN groups g ON g.id = e.group_id "
     "WHERE e.status = 'published' AND e.start_at > ?3 "
     "AND (e.capacity IS NULL OR e.seats_taken < e.capacity) "
     "AND NOT EXISTS (SELECT 1 FROM rsvps r WHERE r.event_id = e.id AND r.member_id = ?1 "
     "AND r.status <> 'cancelled') "
     "AND NOT EXISTS (SELECT 1 FROM event_organizers o2 WHERE o2.event_id = e.id "
     "AND o2.member_id = ?1) AND " EVENT_VISIBLE("?1", "?2", "?3", "?4") " ORDER BY e.id"},
    /* Members who opted in (discoverable) and whose profile ?1 (role ?2) may see. */
    {"embed.allowed_member",
     "SELECT id FROM members WHERE status = 'active' AND discoverable = 1 "
     "AND (visibility = 'public' OR (visibility = 'members' AND ?2 >= 1) OR ?2 >= 3 "
     "OR id = ?1) ORDER BY id"},
    /* ?1 viewer, ?2 staff (0/1), ?3 now, ?4 grace period. */
    {"embed.allowed_post",
     "SELECT p.id FROM posts p LEFT JOIN groups g ON g.id = p.group_id "
     "WHERE p.deleted_at IS NULL AND (p.group_id IS NULL OR ?2 = 1 OR g.visibility = 'public' "
     "OR " CM__SQL_GROUP_READER("?1", "p.group_id", "?3", "?4") ") ORDER BY p.id"},

    /* ---- full text (migration 0006_search) ---- */
    /* ?1 search terms (lower-case words separated by single spaces, no quotes),
     * ?2 limit: (type 0 event / 1 member / 2 post, id, relevance; higher is better)
     * of the entities that contain any term, best first. */
    {"search.text", "SELECT rowid % 4, rowid / 4, -bm25(search_fts, 4.0, 1.0) AS s FROM search_fts "
                    "WHERE search_fts MATCH '\"' || replace(?1, ' ', '\" OR \"') || '\"' "
                    "ORDER BY s DESC, rowid LIMIT ?2"},

    /* ---- result summaries (?1 id) and recommendation inputs ---- */
    {"embed.summary_event", "SELECT title, start_at, group_id FROM events WHERE id = ?1"},
    {"embed.summary_member", "SELECT name, headline FROM members WHERE id = ?1"},
    {"embed.summary_post", "SELECT title, group_id FROM posts WHERE id = ?1"},
    /* The events ?1 is going to (latest first): their vectors shape recommendations. */
    {"embed.going_events", "SELECT event_id FROM rsvps WHERE member_id = ?1 AND status = 'going' "
                           "ORDER BY updated_at DESC, event_id DESC LIMIT 50"},
    {NULL, NULL},
};
