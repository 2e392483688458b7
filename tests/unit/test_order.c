/*
 * test_order.c - ticket types, orders, the ledger and check-in through
 * cm_exec: free and paid orders, holds that expire (the sweep, lazily, and
 * a payment that arrives too late), the one seat pool shared with RSVPs and
 * the per-type sub-quotas, limits and sales windows, idempotency of order
 * creation, payments and refunds, refund bounds, the append-only ledger,
 * revenue in the business metrics, signed check-in codes (verified offline
 * here with libsodium and the event's public key), single-use scans with
 * their log, QR images, bad input, threads racing for the last seats, a
 * storm of 4 processes x 200 buyers on 100 seats shared with RSVPs, and
 * allocation-failure walking of the order path.
 */
#include "fixtures.h"

#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* 2026-01-01T00:00:00Z: every test runs on this fixed clock. */
#define T0 1767225600000000LL
#define MINUTE 60000000LL

#define S fx_str
#define I fx_int

static void setup(void)
{
    fx_setup();
    fx_clock_set(T0);
}

static long long q1(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long q1(const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return fx_count(sql);
}

/* A published online event on 2026-05-01; capacity < 0: unlimited. */
static json_int_t mk_event(const cm_actor *org, json_int_t capacity)
{
    json_t *in =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "title", "Gala", "format", "online",
                  "online_url", "https://meet.example/x", "start_local", "2026-05-01T18:00",
                  "end_local", "2026-05-01T20:00", "timezone", "UTC", "publish", 1);
    if (capacity >= 0)
        json_object_set_new(in, "capacity", json_integer(capacity));
    json_t *r;
    ck_assert_ok(fx_exec_obj(&r, org, "events.create", in));
    json_int_t id = I(r, "id");
    json_decref(r);
    return id;
}

/* A ticket type of event ev at price (EUR); extra: more fields or NULL. */
static json_int_t mk_type(const cm_actor *org, json_int_t ev, json_int_t price, json_t *extra)
{
    json_t *in = json_pack("{s:I,s:s,s:I,s:s}", "event_id", ev, "name", "Standard", "price_minor",
                           price, "currency", "EUR");
    if (extra) {
        json_object_update(in, extra);
        json_decref(extra);
    }
    json_t *r;
    ck_assert_ok(fx_exec_obj(&r, org, "ticket_types.create", in));
    json_int_t id = I(r, "id");
    json_decref(r);
    return id;
}

/* orders.create of n tickets of type tt as a; returns the status, *out the order. */
static int order(json_t **out, const cm_actor *a, json_int_t tt, int n)
{
    return fx_exec(out, a, "orders.create", "{s:I,s:i}", "ticket_type_id", tt, "quantity", n);
}

static int pay(json_t **out, json_int_t order_id, json_int_t amount, const char *ref)
{
    return fx_exec(out, FX.sys, "orders.confirm_payment", "{s:I,s:I,s:s,s:s}", "order_id", order_id,
                   "amount_minor", amount, "currency", "EUR", "reference", ref);
}

/* "seats_taken/waitlist_count" of an event. */
static const char *seats(json_int_t ev)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "%lld/%lld", q1("SELECT seats_taken FROM events WHERE id = %lld", ev),
             q1("SELECT waitlist_count FROM events WHERE id = %lld", ev));
    return buf;
}

static long long metric(const char *name)
{
    return q1("SELECT coalesce(sum(value), 0) FROM metric_counters WHERE name = '%s'", name);
}

/* ---- ticket types ---- */

START_TEST(ticket_types_are_managed_by_organizers)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    json_int_t ev = mk_event(org, 100);
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "ticket_types.create", "{s:I,s:s,s:i,s:s,s:i,s:i,s:i}",
                         "event_id", ev, "name", "Early bird", "price_minor", 1500, "currency",
                         "EUR", "quantity", 20, "per_order_max", 4, "per_member_max", 6));
    ck_assert_str_eq(S(r, "name"), "Early bird");
    ck_assert_int_eq(I(r, "price_minor"), 1500);
    ck_assert_int_eq(I(r, "available"), 20);
    ck_assert_int_eq(I(r, "sold"), 0);
    json_int_t tt = I(r, "id");
    json_decref(r);
    /* a member may not sell tickets for someone else's event */
    ck_assert_int_eq(fx_exec(NULL, m, "ticket_types.create", "{s:I,s:s,s:i,s:s}", "event_id", ev,
                             "name", "x", "price_minor", 1, "currency", "EUR"),
                     CM_EPERM);
    /* change the price; clear the sub-quota */
    ck_assert_ok(fx_exec(&r, org, "ticket_types.update", "{s:I,s:i,s:n}", "ticket_type_id", tt,
                         "price_minor", 1800, "quantity"));
    ck_assert_int_eq(I(r, "price_minor"), 1800);
    ck_assert(json_is_null(json_object_get(r, "quantity")));
    ck_assert_int_eq(I(r, "available"), 100);
    json_decref(r);
    /* a tier-restricted and an inactive type are hidden from members */
    mk_type(org, ev, 0, json_pack("{s:s}", "tier", "gold"));
    mk_type(org, ev, 0, json_pack("{s:b}", "active", 0));
    ck_assert_ok(fx_exec(&r, m, "ticket_types.list", "{s:I}", "event_id", ev));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 1);
    json_decref(r);
    ck_assert_ok(fx_exec(&r, org, "ticket_types.list", "{s:I}", "event_id", ev));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 3);
    json_decref(r);
    cm_actor_free(org);
    cm_actor_free(m);
}
END_TEST

START_TEST(bad_ticket_type_input_is_rejected)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_int_t ev = mk_event(org, 100);
    long long before = fx_count("SELECT count(*) FROM ticket_types");
    ck_assert_int_eq(fx_exec(NULL, org, "ticket_types.create", "{s:I,s:s,s:i,s:s}", "event_id", ev,
                             "name", "x", "price_minor", 100, "currency", "eur"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "currency");
    ck_assert_int_eq(fx_exec(NULL, org, "ticket_types.create", "{s:I,s:s,s:i,s:s}", "event_id", ev,
                             "name", "x", "price_minor", -1, "currency", "EUR"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "price_minor");
    ck_assert_int_eq(fx_exec(NULL, org, "ticket_types.create", "{s:I,s:s,s:i,s:s,s:s,s:s}",
                             "event_id", ev, "name", "x", "price_minor", 1, "currency", "EUR",
                             "sales_start", "2026-02-01T00:00:00Z", "sales_end",
                             "2026-01-01T00:00:00Z"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "sales_end");
    ck_assert_int_eq(fx_exec(NULL, org, "ticket_types.create", "{s:I,s:s,s:i}", "event_id", ev,
                             "name", "x", "price_minor", 1),
                     CM_EINVAL);
    ck_assert_int_eq(fx_exec(NULL, org, "ticket_types.create", "{s:I,s:s,s:i,s:s,s:i}", "event_id",
                             ev, "name", "x", "price_minor", 1, "currency", "EUR", "per_order_max",
                             0),
                     CM_EINVAL);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM ticket_types"), before);
    cm_actor_free(org);
}
END_TEST

/* ---- orders ---- */

START_TEST(free_tickets_are_paid_at_once)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    json_int_t ev = mk_event(org, 10);
    json_int_t tt = mk_type(org, ev, 0, NULL);
    json_t *r;
    ck_assert_ok(order(&r, m, tt, 2));
    ck_assert_str_eq(S(r, "state"), "paid");
    ck_assert_int_eq(I(r, "total_minor"), 0);
    json_t *tickets = json_object_get(r, "tickets");
    ck_assert_int_eq(json_array_size(tickets), 2);
    ck_assert_str_eq(S(json_array_get(tickets, 0), "status"), "valid");
    ck_assert_int_eq(json_array_size(json_object_get(r, "ledger")), 0);
    json_int_t oid = I(r, "id");
    json_decref(r);
    ck_assert_str_eq(seats(ev), "2/0");
    ck_assert_int_eq(metric("ticket_purchases"), 1);
    ck_assert_int_eq(metric("tickets_sold"), 2);
    /* a free order can be cancelled: seats back, tickets void */
    ck_assert_ok(fx_exec(&r, m, "orders.cancel", "{s:I}", "order_id", oid));
    ck_assert_str_eq(S(r, "state"), "cancelled");
    json_decref(r);
    ck_assert_str_eq(seats(ev), "0/0");
    ck_assert_int_eq(q1("SELECT count(*) FROM tickets WHERE order_id = %lld AND status = 'void'",
                        (long long)oid),
                     2);
    cm_actor_free(org);
    cm_actor_free(m);
}
END_TEST

START_TEST(a_paid_order_walks_the_state_machine)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    cm_actor *other = fx_member("o@example.org", "member");
    json_int_t ev = mk_event(org, 10);
    json_int_t tt = mk_type(org, ev, 2500, NULL);
    json_t *r;
    ck_assert_ok(order(&r, m, tt, 2));
    ck_assert_str_eq(S(r, "state"), "reserved");
    ck_assert_int_eq(I(r, "total_minor"), 5000);
    ck_assert_str_eq(S(r, "currency"), "EUR");
    ck_assert_str_eq(S(r, "expires_at"), "2026-01-01T00:15:00Z");
    ck_assert_int_eq(json_array_size(json_object_get(r, "tickets")), 0);
    json_int_t oid = I(r, "id");
    json_decref(r);
    ck_assert_str_eq(seats(ev), "2/0");
    /* someone else cannot see it */
    ck_assert_int_eq(fx_exec(NULL, other, "orders.get", "{s:I}", "order_id", oid), CM_ENOTFOUND);
    /* a member cannot confirm payments */
    ck_assert_int_eq(fx_exec(NULL, m, "orders.confirm_payment", "{s:I,s:i,s:s,s:s}", "order_id",
                             oid, "amount_minor", 5000, "currency", "EUR", "reference", "pi_1"),
                     CM_EPERM);
    /* wrong amount or currency */
    ck_assert_int_eq(pay(NULL, oid, 4999, "pi_1"), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "amount_minor");
    ck_assert_int_eq(fx_exec(NULL, FX.sys, "orders.confirm_payment", "{s:I,s:i,s:s,s:s}",
                             "order_id", oid, "amount_minor", 5000, "currency", "USD", "reference",
                             "pi_1"),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "currency");
    fx_clock_advance(5 * MINUTE);
    ck_assert_ok(pay(&r, oid, 5000, "pi_1"));
    ck_assert_str_eq(S(r, "outcome"), "paid");
    json_t *o = json_object_get(r, "order");
    ck_assert_str_eq(S(o, "state"), "paid");
    ck_assert_int_eq(I(o, "paid_minor"), 5000);
    ck_assert_int_eq(json_array_size(json_object_get(o, "tickets")), 2);
    json_decref(r);
    /* the same payment again is a replay; another amount under its reference a conflict */
    ck_assert_ok(pay(&r, oid, 5000, "pi_1"));
    ck_assert_str_eq(S(r, "outcome"), "replay");
    json_decref(r);
    ck_assert_int_eq(pay(NULL, oid, 4000, "pi_1"), CM_ECONFLICT);
    ck_assert_str_eq(cm_error_field(), "reference");
    /* a second payment of a paid order is refused */
    ck_assert_int_eq(pay(NULL, oid, 5000, "pi_2"), CM_ECONSTRAINT);
    ck_assert_int_eq(q1("SELECT count(*) FROM ledger WHERE order_id = %lld", (long long)oid), 1);
    /* a paid order is not cancelled but refunded */
    ck_assert_int_eq(fx_exec(NULL, m, "orders.cancel", "{s:I}", "order_id", oid), CM_ECONSTRAINT);
    ck_assert_int_eq(metric("ticket_purchases"), 1);
    ck_assert_int_eq(metric("tickets_sold"), 2);
    /* the buyer's orders */
    ck_assert_ok(fx_exec(&r, m, "orders.mine", "{}"));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 1);
    ck_assert_str_eq(S(json_array_get(json_object_get(r, "items"), 0), "event_title"), "Gala");
    json_decref(r);
    cm_actor_free(org);
    cm_actor_free(m);
    cm_actor_free(other);
}
END_TEST

START_TEST(refunds_never_exceed_what_was_paid)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    json_int_t ev = mk_event(org, 10);
    json_int_t tt = mk_type(org, ev, 1000, NULL);
    json_t *r;
    ck_assert_ok(order(&r, m, tt, 3));
    json_int_t oid = I(r, "id");
    json_decref(r);
    /* nothing paid yet: nothing to refund */
    ck_assert_int_eq(fx_exec(NULL, org, "orders.refund", "{s:I,s:i,s:s}", "order_id", oid,
                             "amount_minor", 100, "reference", "r0"),
                     CM_ECONSTRAINT);
    ck_assert_ok(pay(NULL, oid, 3000, "pi_9"));
    /* the buyer may not refund themself */
    ck_assert_int_eq(fx_exec(NULL, m, "orders.refund", "{s:I,s:i,s:s}", "order_id", oid,
                             "amount_minor", 100, "reference", "r1"),
                     CM_EPERM);
    ck_assert_ok(fx_exec(&r, org, "orders.refund", "{s:I,s:i,s:s,s:s}", "order_id", oid,
                         "amount_minor", 1000, "reference", "r1", "reason", "one guest ill"));
    ck_assert(!json_is_true(json_object_get(r, "replay")));
    ck_assert_str_eq(S(json_object_get(r, "order"), "state"), "partially_refunded");
    ck_assert_int_eq(I(json_object_get(r, "order"), "refunded_minor"), 1000);
    json_decref(r);
    ck_assert_str_eq(seats(ev), "3/0");
    /* replay and conflict of the refund key */
    ck_assert_ok(fx_exec(&r, org, "orders.refund", "{s:I,s:i,s:s}", "order_id", oid, "amount_minor",
                         1000, "reference", "r1"));
    ck_assert(json_is_true(json_object_get(r, "replay")));
    json_decref(r);
    ck_assert_int_eq(fx_exec(NULL, org, "orders.refund", "{s:I,s:i,s:s}", "order_id", oid,
                             "amount_minor", 500, "reference", "r1"),
                     CM_ECONFLICT);
    /* more than is left */
    ck_assert_int_eq(fx_exec(NULL, org, "orders.refund", "{s:I,s:i,s:s}", "order_id", oid,
                             "amount_minor", 2001, "reference", "r2"),
                     CM_ECONSTRAINT);
    ck_assert_str_eq(cm_error_field(), "amount_minor");
    /* the rest (default amount): refunded, seats back, tickets void */
    ck_assert_ok(
        fx_exec(&r, org, "orders.refund", "{s:I,s:s}", "order_id", oid, "reference", "r3"));
    ck_assert_str_eq(S(json_object_get(r, "order"), "state"), "refunded");
    ck_assert_int_eq(I(json_object_get(r, "order"), "refunded_minor"), 3000);
    json_decref(r);
    ck_assert_str_eq(seats(ev), "0/0");
    ck_assert_int_eq(q1("SELECT count(*) FROM tickets WHERE order_id = %lld AND status = 'void'",
                        (long long)oid),
                     3);
    ck_assert_int_eq(fx_exec(NULL, org, "orders.refund", "{s:I,s:i,s:s}", "order_id", oid,
                             "amount_minor", 1, "reference", "r4"),
                     CM_ECONSTRAINT);
    /* the ledger is the truth and is append-only */
    ck_assert_int_eq(q1("SELECT sum(CASE WHEN kind = 'payment' THEN amount_minor ELSE "
                        "-amount_minor END) FROM ledger WHERE order_id = %lld",
                        (long long)oid),
                     0);
    ck_assert_int_ne(fx_try_sql("UPDATE ledger SET amount_minor = 1"), CM_OK);
    ck_assert_int_ne(fx_try_sql("DELETE FROM ledger"), CM_OK);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM ledger"), 3);
    /* revenue by currency in the business metrics */
    ck_assert_ok(fx_exec(&r, FX.sys, "metrics.get", "{}"));
    json_t *eur = json_object_get(json_object_get(r, "revenue"), "EUR");
    ck_assert_int_eq(I(eur, "paid_minor"), 3000);
    ck_assert_int_eq(I(eur, "refunded_minor"), 3000);
    ck_assert_int_eq(I(eur, "net_minor"), 0);
    ck_assert_int_eq(I(json_object_get(r, "counters"), "ticket_purchases"), 1);
    json_decref(r);
    cm_actor_free(org);
    cm_actor_free(m);
}
END_TEST

START_TEST(holds_expire_and_late_payments_are_refunded)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *b = fx_member("b@example.org", "member");
    json_int_t ev = mk_event(org, 2);
    json_int_t tt = mk_type(org, ev, 700, NULL);
    json_t *r;
    ck_assert_ok(fx_exec(&r, a, "orders.create", "{s:I,s:i,s:i}", "ticket_type_id", tt, "quantity",
                         2, "hold_minutes", 10));
    json_int_t oa = I(r, "id");
    json_decref(r);
    ck_assert_int_eq(order(NULL, b, tt, 1), CM_ECONSTRAINT);
    ck_assert_str_eq(cm_error_field(), "quantity");
    /* the hold ends: b's order expires a's lazily and takes the seat */
    fx_clock_advance(10 * MINUTE);
    ck_assert_ok(order(&r, b, tt, 1));
    json_int_t ob = I(r, "id");
    json_decref(r);
    ck_assert_str_eq(fx_text("SELECT state FROM orders WHERE id = 1"), "expired");
    ck_assert_str_eq(seats(ev), "1/0");
    /* a's payment arrives late: recorded and refunded in full, never paid */
    ck_assert_ok(pay(&r, oa, 1400, "pi_late"));
    ck_assert_str_eq(S(r, "outcome"), "refunded");
    json_t *o = json_object_get(r, "order");
    ck_assert_str_eq(S(o, "state"), "expired");
    ck_assert_int_eq(I(o, "paid_minor"), 1400);
    ck_assert_int_eq(I(o, "refunded_minor"), 1400);
    ck_assert_int_eq(json_array_size(json_object_get(o, "tickets")), 0);
    json_decref(r);
    ck_assert_ok(pay(&r, oa, 1400, "pi_late"));
    ck_assert_str_eq(S(r, "outcome"), "replay");
    json_decref(r);
    ck_assert_str_eq(seats(ev), "1/0");
    /* b's hold: the sweep (the job's body) expires it once its time is up */
    ck_assert_ok(fx_exec(&r, b, "orders.get", "{s:I}", "order_id", ob));
    ck_assert_str_eq(S(r, "state"), "reserved");
    json_decref(r);
    fx_clock_advance(15 * MINUTE);
    ck_assert_ok(fx_exec(&r, FX.sys, "orders.expire_holds", "{}"));
    ck_assert_int_eq(I(r, "expired"), 1);
    json_decref(r);
    ck_assert_str_eq(seats(ev), "0/0");
    ck_assert_int_eq(q1("SELECT sold FROM ticket_types WHERE id = %lld", (long long)tt), 0);
    /* an expired hold cannot be cancelled or paid into life */
    ck_assert_int_eq(fx_exec(NULL, b, "orders.cancel", "{s:I}", "order_id", ob), CM_ECONSTRAINT);
    ck_assert_int_eq(metric("ticket_purchases"), 0);
    cm_actor_free(org);
    cm_actor_free(a);
    cm_actor_free(b);
}
END_TEST

START_TEST(tickets_and_rsvps_share_one_pool)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *b = fx_member("b@example.org", "member");
    cm_actor *c = fx_member("c@example.org", "member");
    json_int_t ev = mk_event(org, 4);
    json_int_t tt = mk_type(org, ev, 1000, json_pack("{s:i}", "quantity", 2));
    json_int_t free_tt = mk_type(org, ev, 0, NULL);
    json_t *r;
    ck_assert_ok(fx_exec(NULL, a, "rsvps.add", "{s:I,s:i}", "event_id", ev, "guests", 1));
    ck_assert_str_eq(seats(ev), "2/0");
    /* the sub-quota of 2 and the pool of 4 */
    ck_assert_int_eq(order(NULL, b, tt, 3), CM_ECONSTRAINT);
    ck_assert_ok(order(&r, b, tt, 2));
    json_int_t ob = I(r, "id");
    json_decref(r);
    ck_assert_str_eq(seats(ev), "4/0");
    ck_assert_int_eq(order(NULL, c, free_tt, 1), CM_ECONSTRAINT);
    /* a free RSVP now waits */
    ck_assert_ok(fx_exec(&r, c, "rsvps.add", "{s:I}", "event_id", ev));
    ck_assert_str_eq(S(r, "status"), "waitlisted");
    json_decref(r);
    /* the hold is cancelled: its seats go to the waitlist first */
    ck_assert_ok(fx_exec(NULL, b, "orders.cancel", "{s:I}", "order_id", ob));
    ck_assert_str_eq(seats(ev), "3/0");
    ck_assert_str_eq(fx_text("SELECT status FROM rsvps WHERE member_id = 4"), "going");
    ck_assert_ok(fx_exec(&r, b, "ticket_types.list", "{s:I}", "event_id", ev));
    ck_assert_int_eq(I(json_array_get(json_object_get(r, "items"), 0), "available"), 1);
    json_decref(r);
    cm_actor_free(org);
    cm_actor_free(a);
    cm_actor_free(b);
    cm_actor_free(c);
}
END_TEST

START_TEST(limits_and_sales_windows)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    json_int_t ev = mk_event(org, 100);
    json_int_t tt =
        mk_type(org, ev, 100, json_pack("{s:i,s:i}", "per_order_max", 2, "per_member_max", 3));
    ck_assert_int_eq(order(NULL, m, tt, 3), CM_ECONSTRAINT);
    ck_assert_str_eq(cm_error_field(), "quantity");
    ck_assert_ok(order(NULL, m, tt, 2));
    ck_assert_int_eq(order(NULL, m, tt, 2), CM_ECONSTRAINT);
    ck_assert_ok(order(NULL, m, tt, 1));
    json_int_t later = mk_type(org, ev, 100,
                               json_pack("{s:s,s:s}", "sales_start", "2026-02-01T00:00:00Z",
                                         "sales_end", "2026-03-01T00:00:00Z"));
    ck_assert_int_eq(order(NULL, m, later, 1), CM_ECONSTRAINT);
    fx_clock_set(T0 + 40LL * 24 * 3600 * 1000000);
    ck_assert_ok(order(NULL, m, later, 1));
    fx_clock_set(T0 + 60LL * 24 * 3600 * 1000000);
    ck_assert_int_eq(order(NULL, m, later, 1), CM_ECONSTRAINT);
    /* a gold-tier type cannot be bought by a member without the tier */
    json_int_t gold = mk_type(org, ev, 100, json_pack("{s:s}", "tier", "gold"));
    ck_assert_int_eq(order(NULL, m, gold, 1), CM_ENOTFOUND);
    /* bad input */
    ck_assert_int_eq(order(NULL, m, tt, 0), CM_EINVAL);
    ck_assert_int_eq(order(NULL, m, 999, 1), CM_ENOTFOUND);
    ck_assert_int_eq(
        fx_exec(NULL, m, "orders.create", "{s:I,s:s}", "ticket_type_id", tt, "idempotency_key", ""),
        CM_EINVAL);
    cm_actor_free(org);
    cm_actor_free(m);
}
END_TEST

START_TEST(order_creation_is_idempotent)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    cm_actor *n = fx_member("n@example.org", "member");
    json_int_t ev = mk_event(org, 100);
    json_int_t tt = mk_type(org, ev, 100, NULL);
    json_t *r1, *r2;
    ck_assert_ok(fx_exec(&r1, m, "orders.create", "{s:I,s:i,s:s}", "ticket_type_id", tt, "quantity",
                         2, "idempotency_key", "k-1"));
    ck_assert_ok(fx_exec(&r2, m, "orders.create", "{s:I,s:i,s:s}", "ticket_type_id", tt, "quantity",
                         2, "idempotency_key", "k-1"));
    ck_assert_int_eq(I(r1, "id"), I(r2, "id"));
    json_decref(r1);
    json_decref(r2);
    ck_assert_str_eq(seats(ev), "2/0");
    ck_assert_int_eq(fx_exec(NULL, m, "orders.create", "{s:I,s:i,s:s}", "ticket_type_id", tt,
                             "quantity", 3, "idempotency_key", "k-1"),
                     CM_ECONFLICT);
    ck_assert_str_eq(cm_error_field(), "idempotency_key");
    /* keys belong to their member */
    ck_assert_ok(fx_exec(&r1, n, "orders.create", "{s:I,s:i,s:s}", "ticket_type_id", tt, "quantity",
                         3, "idempotency_key", "k-1"));
    json_decref(r1);
    ck_assert_str_eq(seats(ev), "5/0");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM orders"), 2);
    cm_actor_free(org);
    cm_actor_free(m);
    cm_actor_free(n);
}
END_TEST

/* ---- check-in ---- */

/* Verify a ticket code as a door app does, offline: split at the last dot,
 * check the Ed25519 signature of what precedes it with the public key. */
static bool door_verifies(const char *code, const char *pk64)
{
    const char *dot = strrchr(code, '.');
    unsigned char sig[crypto_sign_BYTES], pk[crypto_sign_PUBLICKEYBYTES];
    size_t n = 0, m = 0;
    if (!dot || sodium_init() < 0 ||
        sodium_base642bin(sig, sizeof sig, dot + 1, strlen(dot + 1), NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        sodium_base642bin(pk, sizeof pk, pk64, strlen(pk64), NULL, &m, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return false;
    return n == sizeof sig && m == sizeof pk &&
           crypto_sign_verify_detached(sig, (const unsigned char *)code,
                                       (unsigned long long)(dot - code), pk) == 0;
}

static json_t *scan(const cm_actor *a, json_int_t ev, const char *code)
{
    json_t *r = NULL;
    ck_assert_ok(fx_exec(&r, a, "checkin.scan", "{s:I,s:s}", "event_id", ev, "code", code));
    return r;
}

START_TEST(tickets_check_in_once)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    json_int_t ev = mk_event(org, 10);
    json_int_t other_ev = mk_event(org, 10);
    json_int_t tt = mk_type(org, ev, 1200, NULL);
    json_int_t other_tt = mk_type(org, other_ev, 0, NULL);
    json_t *r;
    /* the key exists from the first ticket type on, so door apps load it early; an
     * event that sells no tickets has none */
    json_t *k0;
    ck_assert_ok(fx_exec(&k0, NULL, "checkin.key", "{s:I}", "event_id", ev));
    ck_assert_int_eq(fx_exec(NULL, NULL, "checkin.key", "{s:I}", "event_id", mk_event(org, 5)),
                     CM_ENOTFOUND);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM event_keys"), 2);
    ck_assert_ok(order(&r, m, tt, 2));
    json_int_t oid = I(r, "id");
    json_decref(r);
    ck_assert_ok(pay(&r, oid, 2400, "pi_c"));
    json_t *tickets = json_object_get(json_object_get(r, "order"), "tickets");
    char code1[256], code2[256];
    snprintf(code1, sizeof code1, "%s", S(json_array_get(tickets, 0), "code"));
    snprintf(code2, sizeof code2, "%s", S(json_array_get(tickets, 1), "code"));
    json_int_t tid = I(json_array_get(tickets, 0), "id");
    json_decref(r);
    ck_assert_str_ne(code1, code2);
    /* anyone may fetch the public key and verify codes offline */
    json_t *k;
    ck_assert_ok(fx_exec(&k, NULL, "checkin.key", "{s:I}", "event_id", ev));
    ck_assert_str_eq(S(k, "algorithm"), "Ed25519");
    ck_assert_str_eq(S(k, "public_key"), S(k0, "public_key"));
    json_decref(k0);
    ck_assert(door_verifies(code1, S(k, "public_key")));
    char forged[256];
    snprintf(forged, sizeof forged, "%s", code1);
    forged[4] = forged[4] == '9' ? '8' : '9'; /* another event id, same signature */
    ck_assert(!door_verifies(forged, S(k, "public_key")));
    /* the first scan admits, the second is answered with who and when */
    r = scan(org, ev, code1);
    ck_assert_str_eq(S(r, "result"), "ok");
    ck_assert_int_eq(I(r, "ticket_id"), tid);
    ck_assert_str_eq(S(json_object_get(r, "holder"), "name"), fx_text("SELECT name FROM members "
                                                                      "WHERE email = "
                                                                      "'m@example.org'"));
    json_decref(r);
    fx_clock_advance(MINUTE);
    r = scan(org, ev, code1);
    ck_assert_str_eq(S(r, "result"), "duplicate");
    json_t *first = json_object_get(r, "first_scan");
    ck_assert_str_eq(S(first, "at"), "2026-01-01T00:00:00Z");
    ck_assert_int_eq(I(json_object_get(first, "by"), "id"), fx_id_of(org));
    json_decref(r);
    /* forged, garbage, another event's genuine ticket */
    r = scan(org, ev, forged);
    ck_assert_str_eq(S(r, "result"), "invalid");
    json_decref(r);
    r = scan(org, ev, "hello");
    ck_assert_str_eq(S(r, "result"), "invalid");
    json_decref(r);
    ck_assert_ok(order(&r, m, other_tt, 1));
    char other_code[256];
    snprintf(other_code, sizeof other_code, "%s",
             S(json_array_get(json_object_get(r, "tickets"), 0), "code"));
    json_decref(r);
    r = scan(org, ev, other_code);
    ck_assert_str_eq(S(r, "result"), "wrong_event");
    json_decref(r);
    /* only the event's organizers scan */
    ck_assert_int_eq(fx_exec(NULL, m, "checkin.scan", "{s:I,s:s}", "event_id", ev, "code", code2),
                     CM_EPERM);
    ck_assert_int_eq(fx_exec(NULL, org, "checkin.scan", "{s:I,s:s}", "event_id", ev, "code", ""),
                     CM_EINVAL);
    /* a refunded order's tickets are void */
    ck_assert_ok(
        fx_exec(NULL, org, "orders.refund", "{s:I,s:s}", "order_id", oid, "reference", "all"));
    r = scan(org, ev, code2);
    ck_assert_str_eq(S(r, "result"), "void");
    json_decref(r);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM checkin_scans"), 6);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM checkin_scans WHERE result = 'ok'"), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM tickets WHERE checked_in_at IS NOT NULL"), 1);
    /* the QR image of a ticket, for its holder and the organizers only */
    ck_assert_ok(fx_exec(&r, m, "tickets.qr", "{s:I}", "ticket_id", tid));
    ck_assert_str_eq(S(r, "code"), code1);
    ck_assert(strncmp(S(r, "qr_svg"), "<svg ", 5) == 0);
    ck_assert(strstr(S(r, "qr_svg"), "</svg>") != NULL);
    json_decref(r);
    ck_assert_ok(fx_exec(NULL, org, "tickets.qr", "{s:I}", "ticket_id", tid));
    cm_actor *stranger = fx_member("s@example.org", "member");
    ck_assert_int_eq(fx_exec(NULL, stranger, "tickets.qr", "{s:I}", "ticket_id", tid),
                     CM_ENOTFOUND);
    json_decref(k);
    cm_actor_free(stranger);
    cm_actor_free(org);
    cm_actor_free(m);
}
END_TEST

/* ---- threads racing for the last seats ---- */

#define THREADS 8
#define BUYERS 25
static json_int_t race_tt, race_ev;
static cm_actor *race_buyers[THREADS * BUYERS];

/* Thread t's buyers each order one ticket and pay for it. Returns how many paid. */
static void *buyer(void *arg)
{
    intptr_t t = (intptr_t)arg;
    intptr_t ok = 0;
    for (int i = 0; i < BUYERS; i++) {
        char in[160], *out = NULL;
        snprintf(in, sizeof in, "{\"ticket_type_id\":%lld}", (long long)race_tt);
        int rc =
            cm_exec(&out, FX.store, race_buyers[t * BUYERS + i], "orders.create", in, strlen(in));
        if (rc != CM_OK)
            continue;
        json_t *o = json_loads(out, 0, NULL);
        cm_free(out);
        long long id = (long long)json_integer_value(json_object_get(o, "id"));
        json_decref(o);
        snprintf(in, sizeof in,
                 "{\"order_id\":%lld,\"amount_minor\":500,\"currency\":\"EUR\","
                 "\"reference\":\"pi_%lld\"}",
                 id, id);
        rc = cm_exec(&out, FX.store, FX.sys, "orders.confirm_payment", in, strlen(in));
        cm_free(out);
        ok += rc == CM_OK;
    }
    return (void *)ok;
}

START_TEST(racing_buyers_never_oversell)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    race_ev = mk_event(org, 30);
    race_tt = mk_type(org, race_ev, 500, NULL);
    char ins[512];
    snprintf(ins, sizeof ins,
             "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
             "INSERT INTO members (email, email_norm, name, created_at, updated_at) "
             "SELECT 'b' || (10000 + i) || '@example.org', 'b' || (10000 + i) || "
             "'@example.org', 'Buyer ' || i, %lld, %lld FROM n ORDER BY i",
             THREADS * BUYERS - 1, T0, T0);
    fx_sql(ins);
    json_int_t first = (json_int_t)fx_count("SELECT id FROM members WHERE email = "
                                            "'b10000@example.org'");
    for (int i = 0; i < THREADS * BUYERS; i++)
        ck_assert_ok(cm_actor_for_member(&race_buyers[i], FX.store, first + i));
    pthread_t th[THREADS];
    for (intptr_t t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, buyer, (void *)t), 0);
    long long paid = 0;
    for (int t = 0; t < THREADS; t++) {
        void *res;
        pthread_join(th[t], &res);
        paid += (intptr_t)res;
    }
    for (int i = 0; i < THREADS * BUYERS; i++)
        cm_actor_free(race_buyers[i]);
    ck_assert_int_eq(paid, 30);
    ck_assert_int_eq(q1("SELECT seats_taken FROM events WHERE id = %lld", (long long)race_ev), 30);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM orders WHERE state = 'paid'"), 30);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM orders"), 30);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM tickets"), 30);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM ledger"), 30);
    cm_actor_free(org);
}
END_TEST

/* ---- a storm: 4 processes x 200 buyers on 100 seats shared with RSVPs ---- */

#define PROCS 4
#define PER_PROC 200
#define STORM_SEATS 100

/* Run op (JSON text) on s as a, retrying what the backend asks to retry.
 * *id receives the result's "id" when it has one. */
static int storm_exec(int64_t *id, cm_store *s, const cm_actor *a, const char *op, const char *in)
{
    int rc;
    for (int tries = 0;; tries++) {
        char *out = NULL;
        rc = cm_exec(&out, s, a, op, in, strlen(in));
        if (rc == CM_OK && id) {
            json_t *r = json_loads(out, 0, NULL);
            json_t *o = json_object_get(r, "order");
            *id = json_integer_value(json_object_get(o ? o : r, "id"));
            json_decref(r);
        }
        cm_free(out);
        if ((rc != CM_EBUSY && rc != CM_ECONFLICT) || tries == 50)
            return rc;
    }
}

/* One storm process: PER_PROC members, each either RSVPs (1 in 5) or
 * orders one ticket with a 1-minute hold, then pays at once (1 in 3),
 * abandons the hold (1 in 3) or pays 40 buyers later, after the hold
 * ended (1 in 3). The process's clock moves 2 s per buyer; every 25
 * buyers it runs the expiry sweep. Returns the exit status. */
static int storm_child(int k, json_int_t first, json_int_t ev, json_int_t tt)
{
    cm_store *s = NULL;
    if (cm_store_open(&s, FX.uri, NULL) != CM_OK)
        return 2;
    fx_clock_set(T0);
    int64_t late[PER_PROC];
    int late_at[PER_PROC], n_late = 0, bad = 0;
    char in[200];
    for (int i = 0; i < PER_PROC && !bad; i++) {
        fx_clock_advance(2000000);
        cm_actor *a = NULL;
        if (cm_actor_for_member(&a, s, first + k * PER_PROC + i) != CM_OK) {
            bad = 3;
            break;
        }
        int rc;
        int64_t id = 0;
        if (i % 5 == 0) {
            snprintf(in, sizeof in, "{\"event_id\":%lld}", (long long)ev);
            rc = storm_exec(NULL, s, a, "rsvps.add", in);
        } else {
            snprintf(in, sizeof in,
                     "{\"ticket_type_id\":%lld,\"hold_minutes\":1,\"idempotency_key\":\"s%d\"}",
                     (long long)tt, i);
            rc = storm_exec(&id, s, a, "orders.create", in);
            if (rc == CM_ECONSTRAINT) /* sold out: the answer many get */
                rc = CM_OK;
            else if (rc == CM_OK && i % 3 == 0) {
                late[n_late] = id;
                late_at[n_late++] = i + 40;
                id = 0;
            } else if (rc == CM_OK && i % 3 == 1) {
                id = 0; /* abandoned */
            }
        }
        cm_actor_free(a);
        if (rc == CM_OK && id) {
            snprintf(in, sizeof in,
                     "{\"order_id\":%lld,\"amount_minor\":1000,\"currency\":\"EUR\","
                     "\"reference\":\"pi_%lld\"}",
                     (long long)id, (long long)id);
            rc = storm_exec(NULL, s, FX.sys, "orders.confirm_payment", in);
        }
        for (int j = 0; rc == CM_OK && j < n_late; j++) {
            if (late_at[j] != i)
                continue;
            snprintf(in, sizeof in,
                     "{\"order_id\":%lld,\"amount_minor\":1000,\"currency\":\"EUR\","
                     "\"reference\":\"pi_%lld\"}",
                     (long long)late[j], (long long)late[j]);
            rc = storm_exec(NULL, s, FX.sys, "orders.confirm_payment", in);
        }
        if (rc == CM_OK && i % 25 == 24)
            rc = storm_exec(NULL, s, FX.sys, "orders.expire_holds", "{}");
        if (rc != CM_OK) {
            fprintf(stderr, "storm %d buyer %d: %s %s\n", k, i, cm_status_name(rc),
                    cm_error_message());
            bad = 1;
        }
    }
    return bad;
}

START_TEST(a_storm_of_buyers_never_oversells)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_int_t ev = mk_event(org, STORM_SEATS);
    json_int_t tt = mk_type(org, ev, 1000, NULL);
    char ins[512];
    snprintf(ins, sizeof ins,
             "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
             "INSERT INTO members (email, email_norm, name, created_at, updated_at) "
             "SELECT 's' || (10000 + i) || '@example.org', 's' || (10000 + i) || "
             "'@example.org', 'Storm ' || i, %lld, %lld FROM n ORDER BY i",
             PROCS * PER_PROC - 1, T0, T0);
    fx_sql(ins);
    json_int_t first = (json_int_t)fx_count("SELECT id FROM members WHERE email = "
                                            "'s10000@example.org'");
    pid_t pids[PROCS];
    for (int k = 0; k < PROCS; k++) {
        pids[k] = fork();
        ck_assert_int_ge(pids[k], 0);
        if (pids[k] == 0)
            _exit(storm_child(k, first, ev, tt)); /* the parent's connections stay untouched */
    }
    for (int k = 0; k < PROCS; k++) {
        int st = 0;
        ck_assert_int_eq(waitpid(pids[k], &st, 0), pids[k]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "storm process %d failed (%d)", k, st);
    }
    /* 0 oversold: the pool holds exactly the RSVPs going and the live orders */
    long long taken = q1("SELECT seats_taken FROM events WHERE id = %lld", (long long)ev);
    ck_assert_int_le(taken, STORM_SEATS);
    ck_assert_int_eq(taken, fx_count("SELECT coalesce(sum(seats), 0) FROM rsvps WHERE status = "
                                     "'going'") +
                                fx_count("SELECT coalesce(sum(seats), 0) FROM orders"));
    ck_assert_int_eq(q1("SELECT sold FROM ticket_types WHERE id = %lld", (long long)tt),
                     fx_count("SELECT coalesce(sum(seats), 0) FROM orders"));
    ck_assert_int_eq(q1("SELECT waitlist_count FROM events WHERE id = %lld", (long long)ev),
                     fx_count("SELECT count(*) FROM rsvps WHERE status = 'waitlisted'"));
    /* 0 paid orders without their tickets, 0 valid tickets without a paid order */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM orders o WHERE o.state = 'paid' AND "
                              "(SELECT count(*) FROM tickets t WHERE t.order_id = o.id AND "
                              "t.status = 'valid') <> o.quantity"),
                     0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM tickets t JOIN orders o ON o.id = t.order_id "
                              "WHERE t.status = 'valid' AND o.state <> 'paid'"),
                     0);
    /* the ledger: paid orders paid their total once; the others net 0 */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM orders o WHERE o.state = 'paid' AND "
                              "(SELECT coalesce(sum(amount_minor), 0) FROM ledger l WHERE "
                              "l.order_id = o.id AND l.kind = 'payment') <> o.total_minor"),
                     0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM orders o WHERE o.state <> 'paid' AND "
                              "(SELECT coalesce(sum(CASE WHEN kind = 'payment' THEN amount_minor "
                              "ELSE -amount_minor END), 0) FROM ledger l WHERE "
                              "l.order_id = o.id) <> 0"),
                     0);
    /* holds expired under load, and late payments were given back */
    long long expired = fx_count("SELECT count(*) FROM orders WHERE state = 'expired'");
    long long late = fx_count("SELECT count(*) FROM ledger WHERE reason = 'late_payment'");
    long long paid = fx_count("SELECT count(*) FROM orders WHERE state = 'paid'");
    ck_assert_int_gt(expired, 0);
    ck_assert_int_gt(late, 0);
    ck_assert_int_gt(paid, 0);
    /* every hold ends: then only RSVPs going and paid orders hold seats */
    fx_clock_set(T0 + 3600LL * 1000000);
    ck_assert_ok(fx_exec(NULL, FX.sys, "orders.expire_holds", "{}"));
    ck_assert_int_eq(q1("SELECT seats_taken FROM events WHERE id = %lld", (long long)ev),
                     fx_count("SELECT coalesce(sum(seats), 0) FROM rsvps WHERE status = "
                              "'going'") +
                         fx_count("SELECT coalesce(sum(quantity), 0) FROM orders WHERE state = "
                                  "'paid'"));
    printf("# storm: %lld paid, %lld expired (%lld paid late and refunded), %lld RSVPs going, "
           "%lld waiting, %lld seats taken of %d\n",
           paid, expired, late, fx_count("SELECT count(*) FROM rsvps WHERE status = 'going'"),
           fx_count("SELECT count(*) FROM rsvps WHERE status = 'waitlisted'"),
           q1("SELECT seats_taken FROM events WHERE id = %lld", (long long)ev), STORM_SEATS);
    cm_actor_free(org);
}
END_TEST

/* ---- allocation failures leave the database as it was ---- */

static void snapshot(char *buf, size_t cap)
{
    snprintf(buf, cap, "%lld|%lld|%lld|%lld|%lld|%lld|%lld|%lld|%lld",
             fx_count("SELECT count(*) * 100 + coalesce(sum(seats), 0) FROM orders"),
             fx_count("SELECT count(*) FROM orders WHERE state = 'paid'"),
             fx_count("SELECT count(*) FROM ledger"), fx_count("SELECT count(*) FROM tickets"),
             fx_count("SELECT coalesce(sum(seats_taken), 0) FROM events"),
             fx_count("SELECT coalesce(sum(sold), 0) FROM ticket_types"),
             fx_count("SELECT count(*) FROM audit_log"),
             fx_count("SELECT count(*) FROM checkin_scans"),
             fx_count("SELECT count(*) FROM tickets WHERE checked_in_at IS NOT NULL"));
}

static json_t *walk(const cm_actor *a, const char *op, const char *json, int *failures)
{
    char before[256], after[256];
    snapshot(before, sizeof before);
    *failures = 0;
    for (long n = 1; n < 10000; n++) {
        char *out = NULL;
        fx_alloc_arm(n);
        int rc = cm_exec(&out, FX.store, a, op, json, strlen(json));
        long injected = fx_alloc_disarm();
        if (rc == 0) {
            json_t *r = json_loads(out, 0, NULL);
            cm_free(out);
            ck_assert_ptr_nonnull(r);
            return r;
        }
        ck_assert_ptr_null(out);
        ck_assert_msg(injected == 1, "%s failed at N=%ld without an injected failure: %s", op, n,
                      cm_error_message());
        ck_assert_msg(rc == CM_ENOMEM, "%s at N=%ld: %s (%s)", op, n, cm_status_name(rc),
                      cm_error_message());
        snapshot(after, sizeof after);
        ck_assert_msg(strcmp(before, after) == 0,
                      "%s failed at N=%ld but changed the database: %s -> %s", op, n, before,
                      after);
        (*failures)++;
    }
    ck_abort_msg("%s never succeeded", op);
    return NULL;
}

START_TEST(allocation_failures_change_nothing)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *m = fx_member("m@example.org", "member");
    json_int_t ev = mk_event(org, 5);
    json_int_t tt = mk_type(org, ev, 900, NULL);
    char in[160];
    int failures;
    snprintf(in, sizeof in, "{\"ticket_type_id\":%lld,\"quantity\":2,\"idempotency_key\":\"w\"}",
             (long long)tt);
    json_t *r = walk(m, "orders.create", in, &failures);
    ck_assert_int_ge(failures, 1);
    ck_assert_str_eq(S(r, "state"), "reserved");
    json_int_t oid = I(r, "id");
    json_decref(r);
    snprintf(in, sizeof in,
             "{\"order_id\":%lld,\"amount_minor\":1800,\"currency\":\"EUR\",\"reference\":\"p\"}",
             (long long)oid);
    r = walk(FX.sys, "orders.confirm_payment", in, &failures);
    ck_assert_int_ge(failures, 1);
    ck_assert_str_eq(S(r, "outcome"), "paid");
    json_decref(r);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM tickets"), 2);
    char scan_in[400];
    snprintf(scan_in, sizeof scan_in, "{\"event_id\":%lld,\"code\":\"%s\"}", (long long)ev,
             fx_text("SELECT code FROM tickets WHERE serial = 1"));
    r = walk(org, "checkin.scan", scan_in, &failures);
    ck_assert_int_ge(failures, 1);
    ck_assert_str_eq(S(r, "result"), "ok");
    json_decref(r);
    snprintf(in, sizeof in, "{\"order_id\":%lld,\"amount_minor\":900,\"reference\":\"r\"}",
             (long long)oid);
    r = walk(org, "orders.refund", in, &failures);
    ck_assert_int_ge(failures, 1);
    json_decref(r);
    ck_assert_str_eq(seats(ev), "2/0");
    cm_actor_free(org);
    cm_actor_free(m);
}
END_TEST

int main(void)
{
    if (fx_alloc_install() != CM_OK)
        return EXIT_FAILURE;
    Suite *s = suite_create("order");
    TCase *tc = tcase_create("orders");
    tcase_add_checked_fixture(tc, setup, fx_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, ticket_types_are_managed_by_organizers);
    tcase_add_test(tc, bad_ticket_type_input_is_rejected);
    tcase_add_test(tc, free_tickets_are_paid_at_once);
    tcase_add_test(tc, a_paid_order_walks_the_state_machine);
    tcase_add_test(tc, refunds_never_exceed_what_was_paid);
    tcase_add_test(tc, holds_expire_and_late_payments_are_refunded);
    tcase_add_test(tc, tickets_and_rsvps_share_one_pool);
    tcase_add_test(tc, limits_and_sales_windows);
    tcase_add_test(tc, order_creation_is_idempotent);
    tcase_add_test(tc, tickets_check_in_once);
    tcase_add_test(tc, allocation_failures_change_nothing);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("race");
    tcase_add_checked_fixture(tr, setup, fx_teardown);
    tcase_set_timeout(tr, 600);
    tcase_add_test(tr, racing_buyers_never_oversell);
    tcase_add_test(tr, a_storm_of_buyers_never_oversells);
    suite_add_tcase(s, tr);
    return fx_run(s);
}
