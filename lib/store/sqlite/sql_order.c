/*
 * sql_order.c - SQLite statements of commerce (lib/core/order.c,
 * ops_ticket.c, ops_order.c, ops_checkin.c): ticket types and their
 * sub-quotas, orders, the append-only ledger, tickets, the scan log and the
 * events' signing keys.
 *
 * Seats of orders are taken from the event's pool by "event.seats_take"
 * (sql_rsvp.c), the statement RSVPs use, and from the type's sub-quota by
 * the conditional UPDATE "ticket_type.take" (the CHECK on
 * ticket_types.sold is the backstop).
 */
#include "../backend.h"

#define TT_COLS                                                                                    \
    "id, event_id, name, description, price_minor, currency, sales_start, sales_end, quantity, "   \
    "sold, per_order_max, per_member_max, tier, active, created_at, updated_at"
#define ORDER_COLS                                                                                 \
    "o.id, o.event_id, o.member_id, o.ticket_type_id, o.quantity, o.unit_price_minor, "            \
    "o.total_minor, o.currency, o.state, o.seats, o.expires_at, o.payment_provider, "              \
    "o.payment_session, o.created_at, o.updated_at, o.paid_at, "                                   \
    "(SELECT coalesce(sum(amount_minor), 0) FROM ledger l WHERE l.order_id = o.id "                \
    "AND l.kind = 'payment'), "                                                                    \
    "(SELECT coalesce(sum(amount_minor), 0) FROM ledger l WHERE l.order_id = o.id "                \
    "AND l.kind = 'refund')"

const cm__sql_entry cm__sqlite_sql_order[] = {
    /* ---- ticket types ---- */
    {"ticket_type.insert",
     "INSERT INTO ticket_types (event_id, name, description, price_minor, currency, sales_start, "
     "sales_end, quantity, per_order_max, per_member_max, tier, active, created_at, updated_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13) RETURNING id"},
    {"ticket_type.get", "SELECT " TT_COLS " FROM ticket_types WHERE id = ?1"},
    {"ticket_type.list", "SELECT " TT_COLS " FROM ticket_types WHERE event_id = ?1 ORDER BY id"},
    {"ticket_type.update",
     "UPDATE ticket_types SET name = ?2, description = ?3, price_minor = ?4, currency = ?5, "
     "sales_start = ?6, sales_end = ?7, quantity = ?8, per_order_max = ?9, per_member_max = ?10, "
     "tier = ?11, active = ?12, updated_at = ?13 WHERE id = ?1"},
    /* Take ?2 seats of the type's sub-quota if they fit. */
    {"ticket_type.take", "UPDATE ticket_types SET sold = sold + ?2 WHERE id = ?1 "
                         "AND (quantity IS NULL OR sold + ?2 <= quantity)"},
    {"ticket_type.release", "UPDATE ticket_types SET sold = sold - ?2 WHERE id = ?1"},

    /* ---- orders ---- */
    /* Seats the member holds in live orders of a type. */
    {"order.member_count",
     "SELECT coalesce(sum(quantity), 0) FROM orders WHERE ticket_type_id = ?1 AND member_id = ?2 "
     "AND state IN ('reserved', 'pending_payment', 'paid', 'partially_refunded')"},
    {"order.by_key", "SELECT id, request_hash FROM orders WHERE member_id = ?1 AND idem_key = ?2"},
    {"order.insert",
     "INSERT INTO orders (event_id, member_id, ticket_type_id, quantity, unit_price_minor, "
     "total_minor, currency, state, seats, expires_at, idem_key, request_hash, created_at, "
     "updated_at, paid_at) VALUES (?1, ?2, ?3, ?4, ?5, ?13, ?6, ?7, ?4, ?8, ?9, ?10, ?11, "
     "?11, ?12) RETURNING id"},
    {"order.get", "SELECT " ORDER_COLS " FROM orders o WHERE o.id = ?1"},
    /* Compare-and-set of an order's state: changes nothing unless it is ?5. */
    {"order.set_state",
     "UPDATE orders SET state = ?2, seats = ?3, updated_at = ?4, "
     "paid_at = CASE WHEN ?2 = 'paid' THEN ?4 ELSE paid_at END WHERE id = ?1 AND state = ?5"},
    {"order.set_payment",
     "UPDATE orders SET state = 'pending_payment', payment_provider = ?2, payment_session = ?3, "
     "updated_at = ?4 WHERE id = ?1 AND state IN ('reserved', 'pending_payment')"},
    /* Holds that ended: of event ?2 when not NULL, oldest first, ?3 at most. */
    {"order.ended_holds",
     "SELECT id FROM orders WHERE state IN ('reserved', 'pending_payment') AND expires_at <= ?1 "
     "AND (?2 IS NULL OR event_id = ?2) ORDER BY expires_at, id LIMIT ?3"},
    /* The member's orders, newest first. ?1 member, ?2 cursor (id), ?3 limit. */
    {"order.mine",
     "SELECT " ORDER_COLS ", e.title, t.name FROM orders o JOIN events e ON e.id = o.event_id "
     "JOIN ticket_types t ON t.id = o.ticket_type_id "
     "WHERE o.member_id = ?1 AND (?2 IS NULL OR o.id < ?2) ORDER BY o.id DESC LIMIT ?3"},

    /* ---- the ledger (append-only) ---- */
    {"ledger.insert",
     "INSERT INTO ledger (order_id, kind, amount_minor, currency, reference, reason, actor_id, "
     "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
    {"ledger.find", "SELECT amount_minor, currency FROM ledger WHERE order_id = ?1 AND kind = ?2 "
                    "AND reference = ?3"},
    {"ledger.of_order", "SELECT id, kind, amount_minor, currency, reference, reason, created_at "
                        "FROM ledger WHERE order_id = ?1 ORDER BY id"},
    /* Revenue by currency: paid, refunded. */
    {"ledger.revenue",
     "SELECT currency, coalesce(sum(CASE WHEN kind = 'payment' THEN amount_minor ELSE 0 END), 0), "
     "coalesce(sum(CASE WHEN kind = 'refund' THEN amount_minor ELSE 0 END), 0) FROM ledger "
     "GROUP BY currency ORDER BY currency"},

    /* ---- tickets and check-in ---- */
    {"ticket.insert",
     "INSERT INTO tickets (order_id, event_id, ticket_type_id, member_id, serial, code, status, "
     "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'valid', ?7) "
     "ON CONFLICT (order_id, serial) DO NOTHING"},
    {"ticket.of_order",
     "SELECT id, serial, code, status, checked_in_at FROM tickets WHERE order_id = ?1 "
     "ORDER BY serial"},
    {"ticket.void_order", "UPDATE tickets SET status = 'void' WHERE order_id = ?1"},
    {"ticket.by_serial",
     "SELECT t.id, t.status, t.checked_in_at, t.checked_in_by, t.member_id, m.name, "
     "coalesce(s.name, '') FROM tickets t JOIN members m ON m.id = t.member_id "
     "LEFT JOIN members s ON s.id = t.checked_in_by WHERE t.order_id = ?1 AND t.serial = ?2"},
    {"ticket.get",
     "SELECT t.id, t.order_id, t.event_id, t.member_id, t.serial, t.code, t.status, "
     "t.checked_in_at, e.title, y.name FROM tickets t JOIN events e ON e.id = t.event_id "
     "JOIN ticket_types y ON y.id = t.ticket_type_id WHERE t.id = ?1"},
    /* Single use: only the first scan of a valid ticket changes it. */
    {"ticket.check_in", "UPDATE tickets SET checked_in_at = ?2, checked_in_by = ?3 WHERE id = ?1 "
                        "AND status = 'valid' AND checked_in_at IS NULL"},
    {"checkin.log", "INSERT INTO checkin_scans (event_id, ticket_id, result, scanned_by, at) "
                    "VALUES (?1, ?2, ?3, ?4, ?5)"},
    {"event_key.insert", "INSERT INTO event_keys (event_id, public_key, secret_key, created_at) "
                         "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (event_id) DO NOTHING"},
    {"event_key.get", "SELECT public_key, secret_key FROM event_keys WHERE event_id = ?1"},
    {NULL, NULL},
};
