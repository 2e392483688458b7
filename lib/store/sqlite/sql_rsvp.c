/*
 * sql_rsvp.c - SQLite statements of the RSVP operations (ops_rsvp.c): seats,
 * the waitlist and RSVPs.
 *
 * Seats are taken by conditional UPDATEs on events (the row that holds
 * capacity, seats_taken and waitlist_count), so that "confirmed seats
 * never exceed capacity" is decided by the database in one statement; the
 * CHECK constraint on events.seats_taken is the backstop.
 */
#include "../backend.h"

const cm__sql_entry cm__sqlite_sql_rsvp[] = {
    /* ---- seats and the waitlist (the capacity invariant lives here) ---- */
    /* Serialise changes to one event's seats and RSVPs before reading its state:
     * a no-op UPDATE takes the row lock until commit on backends with row locks
     * (PostgreSQL at READ COMMITTED); SQLite writers hold the database lock anyway. */
    {"event.lock", "UPDATE events SET seats_taken = seats_taken WHERE id = ?1"},
    /* Take ?2 seats if they fit; with ?3 = 1 only when nobody is waiting (FIFO). */
    {"event.seats_take",
     "UPDATE events SET seats_taken = seats_taken + ?2 WHERE id = ?1 "
     "AND (capacity IS NULL OR seats_taken + ?2 <= capacity) AND (?3 = 0 OR waitlist_count = 0)"},
    {"event.seats_release", "UPDATE events SET seats_taken = seats_taken - ?2 WHERE id = ?1"},
    {"event.waitlist_push",
     "UPDATE events SET waitlist_count = waitlist_count + 1, "
     "waitlist_last_seq = waitlist_last_seq + 1 WHERE id = ?1 RETURNING waitlist_last_seq"},
    {"event.waitlist_leave", "UPDATE events SET waitlist_count = waitlist_count - 1 WHERE id = ?1"},
    /* Move ?2 seats from the waitlist to confirmed, if they fit. */
    {"event.waitlist_promote",
     "UPDATE events SET seats_taken = seats_taken + ?2, waitlist_count = waitlist_count - 1 "
     "WHERE id = ?1 AND (capacity IS NULL OR seats_taken + ?2 <= capacity)"},

    /* ---- rsvps ---- */
    {"rsvp.get",
     "SELECT id, status, guests, seats, waitlist_seq, created_at, updated_at FROM rsvps "
     "WHERE event_id = ?1 AND member_id = ?2"},
    {"rsvp.by_id",
     "SELECT id, event_id, member_id, status, guests, seats, waitlist_seq, created_at, "
     "updated_at FROM rsvps WHERE id = ?1"},
    {"rsvp.upsert",
     "INSERT INTO rsvps (event_id, member_id, status, guests, seats, waitlist_seq, created_at, "
     "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT (event_id, member_id) "
     "DO UPDATE SET status = excluded.status, guests = excluded.guests, seats = excluded.seats, "
     "waitlist_seq = excluded.waitlist_seq, updated_at = excluded.updated_at RETURNING id"},
    {"rsvp.set", "UPDATE rsvps SET status = ?2, seats = ?3, waitlist_seq = ?4, updated_at = ?5 "
                 "WHERE id = ?1"},
    {"rsvp.waitlist_head",
     "SELECT id, member_id, guests, waitlist_seq FROM rsvps "
     "WHERE event_id = ?1 AND status = 'waitlisted' ORDER BY waitlist_seq LIMIT 1"},
    /* 1-based place in the queue of the waitlisted RSVP with sequence ?2. */
    {"rsvp.position", "SELECT count(*) FROM rsvps WHERE event_id = ?1 AND status = 'waitlisted' "
                      "AND waitlist_seq <= ?2"},
    /* Attendees: going, then the waitlist in queue order, then the rest.
     * ?1 event, ?2 status filter, ?3/?4 cursor (bucket, key), ?5 limit. */
    {"rsvp.list",
     "SELECT id, member_id, name, status, guests, seats, waitlist_seq, created_at, updated_at, "
     "bucket, k FROM (SELECT r.id, r.member_id, m.name, r.status, r.guests, r.seats, "
     "r.waitlist_seq, r.created_at, r.updated_at, CASE r.status WHEN 'going' THEN 0 "
     "WHEN 'waitlisted' THEN 1 WHEN 'not_going' THEN 2 ELSE 3 END AS bucket, "
     "CASE WHEN r.status = 'waitlisted' THEN r.waitlist_seq ELSE r.id END AS k "
     "FROM rsvps r JOIN members m ON m.id = r.member_id "
     "WHERE r.event_id = ?1 AND (?2 IS NULL OR r.status = ?2)) s "
     "WHERE ?3 IS NULL OR s.bucket > ?3 OR (s.bucket = ?3 AND s.k > ?4) "
     "ORDER BY s.bucket, s.k LIMIT ?5"},
    /* The member's RSVPs, events not yet ended first (soonest first), then past ones
     * (latest first). ?1 member, ?2 now, ?3 status filter, ?4/?5 cursor (key, id),
     * ?6 limit. */
    {"rsvp.mine",
     "SELECT id, event_id, status, guests, seats, waitlist_seq, created_at, updated_at, title, "
     "event_status, format, timezone, start_local, end_local, start_at, end_at, online_url, "
     "is_org, k FROM (SELECT r.id, r.event_id, r.status, r.guests, r.seats, r.waitlist_seq, "
     "r.created_at, r.updated_at, e.title, e.status AS event_status, e.format, e.timezone, "
     "e.start_local, e.end_local, e.start_at, e.end_at, e.online_url, "
     "EXISTS (SELECT 1 FROM event_organizers o WHERE o.event_id = e.id "
     "AND o.member_id = r.member_id) AS is_org, "
     "CASE WHEN e.end_at > ?2 THEN e.start_at ELSE 4611686018427387904 - e.start_at END AS k "
     "FROM rsvps r JOIN events e ON e.id = r.event_id "
     "WHERE r.member_id = ?1 AND (?3 IS NULL OR r.status = ?3)) s "
     "WHERE ?4 IS NULL OR s.k > ?4 OR (s.k = ?4 AND s.id > ?5) ORDER BY s.k, s.id LIMIT ?6"},
    {NULL, NULL},
};
