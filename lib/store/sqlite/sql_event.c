/*
 * sql_event.c - SQLite statements of the event operations (ops_event.c,
 * event_load.c): events and organizers. The group look-ups the event
 * module needs live here too, under the "event." prefix. Seats, the
 * waitlist and RSVPs are in sql_rsvp.c.
 */
#include "../backend.h"

/* The columns of "event.get" and "event.list", in the order event_load.c
 * reads them; V is the parameter that holds the viewer's member id (0 for
 * anonymous and the system actor), NOW and GRACE those of the time and the
 * grace period of past_due subscriptions. The last column is 1 when V reads
 * the event's group as a member: an active one, or through a membership
 * tier and not banned (CM__SQL_GROUP_READER). */
#define EVENT_COLS(V, NOW, GRACE)                                                                  \
    "e.id, e.title, e.description, e.status, e.format, e.venue, e.online_url, e.timezone, "        \
    "e.start_local, e.end_local, e.start_at, e.end_at, e.capacity, e.seats_taken, "                \
    "e.waitlist_count, e.group_id, e.created_by, e.version, e.created_at, e.updated_at, "          \
    "e.published_at, e.cancelled_at, "                                                             \
    "(SELECT r.status FROM rsvps r WHERE r.event_id = e.id AND r.member_id = " V "), "             \
    "EXISTS (SELECT 1 FROM event_organizers o WHERE o.event_id = e.id AND o.member_id = " V        \
    "), g.visibility, " CM__SQL_GROUP_READER(V, "e.group_id", NOW, GRACE)

#define EVENT_FROM " FROM events e LEFT JOIN groups g ON g.id = e.group_id"

const cm__sql_entry cm__sqlite_sql_event[] = {
    /* ---- events ---- */
    {"event.insert",
     "INSERT INTO events (title, description, status, format, venue, online_url, timezone, "
     "start_local, end_local, start_at, end_at, capacity, group_id, created_by, created_at, "
     "updated_at, published_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
     "?13, ?14, ?15, ?15, ?16) RETURNING id"},
    /* ?1 id, ?2 viewer, ?3 now, ?4 grace period. */
    {"event.get", "SELECT " EVENT_COLS("?2", "?3", "?4") EVENT_FROM " WHERE e.id = ?1"},
    /* ?1 id, ?2 title, ?3 description, ?4 format, ?5 venue, ?6 online_url (NULL keeps
     * each), ?7 timezone, ?8 start_local, ?9 end_local, ?10 start_at, ?11 end_at,
     * ?12 capacity (set only when ?13 = 1), ?14 now, ?15 expected version. */
    {"event.update",
     "UPDATE events SET title = coalesce(?2, title), description = coalesce(?3, description), "
     "format = coalesce(?4, format), venue = coalesce(?5, venue), "
     "online_url = coalesce(?6, online_url), timezone = ?7, start_local = ?8, end_local = ?9, "
     "start_at = ?10, end_at = ?11, capacity = CASE WHEN ?13 = 1 THEN ?12 ELSE capacity END, "
     "version = version + 1, updated_at = ?14 WHERE id = ?1 AND version = ?15 RETURNING version"},
    {"event.publish", "UPDATE events SET status = 'published', published_at = ?2, updated_at = ?2, "
                      "version = version + 1 WHERE id = ?1 AND status = 'draft'"},
    {"event.cancel", "UPDATE events SET status = 'cancelled', cancelled_at = ?2, updated_at = ?2, "
                     "version = version + 1 WHERE id = ?1 AND status <> 'cancelled'"},
    /* One notice per attendee (going or waitlisted) of a cancelled event. */
    {"event.cancel_notify",
     "INSERT INTO email_outbox (member_id, to_addr, template, payload, dedupe_key, created_at) "
     "SELECT m.id, m.email, 'event_cancelled', '{\"event_id\":' || r.event_id || '}', "
     "'cancelled:' || r.event_id || ':' || m.id, ?2 FROM rsvps r "
     "JOIN members m ON m.id = r.member_id WHERE r.event_id = ?1 "
     "AND r.status IN ('going', 'waitlisted') ON CONFLICT (dedupe_key) DO NOTHING"},
    /* ?1 viewer, ?2 staff (0/1), ?3 include drafts (0/1), ?4 ends after, ?5 starts before,
     * ?6 format, ?7 group_id, ?8 organizer_id, ?9 LIKE pattern on lower(title),
     * ?10/?11 cursor (start_at, id), ?12 limit, ?13 now, ?14 grace period. */
    {"event.list", "SELECT " EVENT_COLS("?1", "?13", "?14") EVENT_FROM
     " WHERE e.end_at > ?4 "
     "AND (?5 IS NULL OR e.start_at < ?5) AND (?6 IS NULL OR e.format = ?6) "
     "AND (?7 IS NULL OR e.group_id = ?7) "
     "AND (?8 IS NULL OR EXISTS (SELECT 1 FROM event_organizers o2 "
     "WHERE o2.event_id = e.id AND o2.member_id = ?8)) "
     "AND (?9 IS NULL OR lower(e.title) LIKE ?9 ESCAPE '\\') "
     "AND (?10 IS NULL OR e.start_at > ?10 OR (e.start_at = ?10 AND e.id > ?11)) "
     "AND (CASE WHEN e.status = 'draft' THEN ?3 = 1 AND (?2 = 1 OR EXISTS (SELECT 1 FROM "
     "event_organizers o3 WHERE o3.event_id = e.id AND o3.member_id = ?1)) "
     "ELSE ?2 = 1 OR e.group_id IS NULL OR g.visibility = 'public' "
     "OR EXISTS (SELECT 1 FROM event_organizers o4 WHERE o4.event_id = e.id "
     "AND o4.member_id = ?1) "
     "OR " CM__SQL_GROUP_READER("?1", "e.group_id", "?13",
                                "?14") " END) "
                                       "ORDER BY e.start_at, e.id LIMIT ?12"},

    /* ---- organizers ---- */
    {"event.organizer_add",
     "INSERT INTO event_organizers (event_id, member_id, created_at) VALUES (?1, ?2, ?3) "
     "ON CONFLICT (event_id, member_id) DO NOTHING"},
    {"event.organizer_remove",
     "DELETE FROM event_organizers WHERE event_id = ?1 AND member_id = ?2"},
    {"event.organizer_count", "SELECT count(*) FROM event_organizers WHERE event_id = ?1"},
    {"event.organizers",
     "SELECT o.member_id, m.name FROM event_organizers o JOIN members m ON m.id = o.member_id "
     "WHERE o.event_id = ?1 ORDER BY o.created_at, o.member_id"},
    {"event.member_active", "SELECT id FROM members WHERE id = ?1 AND status = 'active'"},

    /* ---- groups, as events see them ---- */
    /* The group's visibility and the member's active role in it (NULL: not a member). */
    {"event.group_access",
     "SELECT g.visibility, (SELECT gm.role FROM group_members gm WHERE gm.group_id = g.id "
     "AND gm.member_id = ?2 AND gm.status = 'active') FROM groups g WHERE g.id = ?1"},
    {NULL, NULL},
};
