/*
 * commerce_int.h - ticket orders inside the library: the order state
 * machine, seats held by orders, the money ledger and ticket issuing
 * (order.c), shared by the order, ticket and check-in operations and by
 * the payment layer, which confirms payments through
 * cm__order_confirm_payment() below. docs/commerce.md describes the
 * behaviour for users.
 *
 * States and transitions (anything else is refused):
 *
 *   reserved ----------> pending_payment     checkout started (payment layer)
 *   reserved, pending -> paid                payment confirmed before the hold ends
 *   reserved, pending -> cancelled           the buyer gives up
 *   reserved, pending -> expired             the hold ended (job or lazily)
 *   paid --------------> partially_refunded  refund of less than what is left
 *   paid, partially ---> refunded            refund of all that is left
 *   (free orders are created paid)
 *
 * Live orders (reserved, pending_payment, paid, partially_refunded) hold
 * their quantity in seats of the event's pool (events.seats_taken, shared
 * with RSVPs) and of their ticket type (ticket_types.sold). Every
 * transition runs under the event's row lock ("event.lock") and is a
 * compare-and-set on the order's state, so two transitions of one order
 * never both happen.
 */
#ifndef CM_COMMERCE_INT_H
#define CM_COMMERCE_INT_H

#include "event_int.h"

/* The default hold (reservation) lifetime: 15 minutes. */
#define CM__ORDER_HOLD_US (15 * 60 * INT64_C(1000000))
/* Bounds of an order's hold and quantity. */
#define CM__ORDER_HOLD_MIN_US (60 * INT64_C(1000000))
#define CM__ORDER_HOLD_MAX_US (24 * 3600 * INT64_C(1000000))
#define CM__ORDER_MAX_QUANTITY 100

typedef enum cm__order_state {
    CM__ORDER_RESERVED = 0,
    CM__ORDER_PENDING_PAYMENT,
    CM__ORDER_PAID,
    CM__ORDER_PARTIALLY_REFUNDED,
    CM__ORDER_REFUNDED,
    CM__ORDER_CANCELLED,
    CM__ORDER_EXPIRED,
    CM__ORDER_N_STATES
} cm__order_state;

/* The state names as stored and returned ("reserved", ...), NULL-ended. */
extern const char *const cm__order_state_names[];
/* The state of a name, or -1. */
int cm__order_state_parse(const char *name);
/* true when the state machine allows from -> to. */
bool cm__order_can(cm__order_state from, cm__order_state to);
/* true for the states that hold seats. */
bool cm__order_live(cm__order_state s);

/* One order as stored, with what the ledger says it has paid and refunded. */
typedef struct cm__order {
    int64_t id, event_id, member_id, ticket_type_id;
    int64_t quantity, unit_price_minor, total_minor;
    char currency[4];
    cm__order_state state;
    int64_t seats, expires_at, created_at, updated_at, paid_at; /* paid_at 0: never */
    int64_t paid_minor, refunded_minor;                         /* sums of the ledger */
    char payment_provider[32];
    char payment_session[256];
} cm__order;

/* Load order id (no lock). CM_ENOTFOUND (field order_id) when absent. */
int cm__order_load(cm__order *o, cm__conn *conn, int64_t id);

/* Lock the event of order id ("event.lock", the lock RSVPs take too), then
 * load the order: what every transition does first. */
int cm__order_lock(cm__order *o, cm__conn *conn, int64_t id);

/* Move a locked order from o->state to `to`: checks the state machine,
 * releases the seats (event pool and type quota) when it leaves the live
 * states, voids its tickets when it becomes refunded, and promotes the
 * event's RSVP waitlist when seats were freed. CM_ECONSTRAINT (field
 * order_id) for a transition the machine refuses. o is updated. */
int cm__order_transition(cm__order *o, cm__conn *conn, int64_t now, cm__order_state to);

/* Expire the holds (reserved, pending_payment) whose expires_at <= now:
 * of event_id only when event_id > 0 (the caller holds its lock), else up
 * to `limit` of any event (each locked in turn). *n receives how many. */
int cm__order_expire_holds(cm__conn *conn, int64_t now, int64_t event_id, int64_t limit,
                           int64_t *n);

/* Issue the tickets of a paid order (one per seat, serial 1..quantity,
 * each with a signed check-in code): does nothing for tickets that exist. */
int cm__order_issue_tickets(cm__conn *conn, const cm__order *o, int64_t now);

/* ---- the payment layer's entry points ---- */

/* What cm__order_confirm_payment() did. */
typedef enum cm__pay_outcome {
    CM__PAY_PAID = 0,     /* recorded; the order is paid and its tickets issued */
    CM__PAY_REPLAY = 1,   /* this payment (same reference, same amount) was recorded before */
    CM__PAY_REFUNDED = 2, /* recorded, but the hold had ended: refunded in full in the ledger */
} cm__pay_outcome;

/*
 * Record a payment of order_id and settle the order, inside conn's open
 * write transaction (the payment layer's webhook handler or
 * "orders.confirm_payment").
 *
 *   reference     the provider's id of the payment (1-255 bytes); with
 *                 the order it is the idempotency key: the same reference
 *                 with the same amount and currency again is a replay
 *                 (CM__PAY_REPLAY, nothing changes), with another amount
 *                 or currency it is CM_ECONFLICT (field reference).
 *   amount_minor, currency  must equal the order's total and currency
 *                 (CM_EINVAL, field amount_minor / currency); a free order
 *                 needs no payment.
 *
 * A reserved or pending_payment order whose hold has not ended becomes
 * paid: a ledger row "payment", tickets issued, metrics counted
 * (CM__PAY_PAID). A payment that arrives after the hold ended (the order
 * is expired, or its expires_at has passed and it is expired now) can
 * never pay it: the payment is recorded and a refund of the same amount
 * (reason "late_payment", reference "late:<reference>") is recorded with
 * it, the order stays expired with a net 0, and the outcome is
 * CM__PAY_REFUNDED: the payment layer must return the money through the
 * provider. A cancelled order is treated the same way. A payment for a
 * paid or refunded order under another reference is CM_ECONSTRAINT
 * (field order_id): never two payments for one order.
 *
 * Takes the event's lock. *outcome (may be NULL) says what happened; *o
 * (may be NULL) receives the order after it. CM_ENOTFOUND when the order
 * does not exist.
 */
int cm__order_confirm_payment(cm__pay_outcome *outcome, cm__order *o, cm__conn *conn, int64_t now,
                              int64_t order_id, int64_t amount_minor, const char *currency,
                              const char *reference);

/*
 * Record a payment of order_id that cannot pay it (its amount or currency
 * differs from the order's total, or the order is paid, refunded or free
 * already) together with a refund of the same amount (reason `reason`,
 * reference "<reason>:<reference>"), inside conn's open write transaction;
 * the order itself does not change. The payment layer calls it when
 * cm__order_confirm_payment() refused a provider's payment, so that the
 * money is accounted for and returned instead of the delivery failing.
 * The same reference again is a replay (*replay = true, nothing changes).
 * Takes the event's lock. CM_ENOTFOUND when the order does not exist.
 */
int cm__order_refuse_payment(bool *replay, cm__conn *conn, int64_t now, int64_t order_id,
                             int64_t amount_minor, const char *currency, const char *reference,
                             const char *reason);

/*
 * Mark a reserved order as pending_payment with the provider's checkout
 * session (provider: a short name such as "stripe"; session: its id),
 * inside conn's open write transaction. Calling it again on a pending order
 * replaces the session. The hold's expires_at does not move: the checkout
 * must complete before it. CM_ECONSTRAINT (field order_id) when the order
 * is not reserved or pending, or its hold has ended (it is expired then).
 */
int cm__order_begin_payment(cm__order *o, cm__conn *conn, int64_t now, int64_t order_id,
                            const char *provider, const char *session);

/*
 * Record a refund of amount_minor (> 0) of a paid or partially refunded
 * order, inside conn's open write transaction. reference (1-255 bytes) is
 * the refund's idempotency key: the same reference with the same amount
 * again is a replay (*replay = true, nothing changes), with another amount
 * CM_ECONFLICT (field reference). A refund larger than what is paid and not
 * yet refunded is CM_ECONSTRAINT (field amount_minor). The order becomes
 * refunded (seats released, tickets void) when nothing is left, else
 * partially_refunded. actor_id (0: system) and reason are recorded.
 */
int cm__order_refund(bool *replay, cm__order *o, cm__conn *conn, int64_t now, int64_t order_id,
                     int64_t amount_minor, const char *reference, const char *reason,
                     int64_t actor_id);

/* The JSON of an order (shape Order): fields, ledger-derived amounts, its
 * ledger rows and its tickets (with codes) when with_tickets. */
int cm__order_json(json_t **out, cm__conn *conn, const cm__order *o, bool with_tickets);

/* ---- signed check-in codes (order.c) ---- */

/* The event's Ed25519 public key (base64url, no padding, 43 chars + NUL),
 * created with the secret key when the event has none yet (its first
 * ticket type, or its first ticket). */
int cm__event_public_key(char out[64], cm__conn *conn, int64_t event_id, int64_t now);

/* The event's public key if it has one: *found false otherwise (nothing is
 * created). */
int cm__event_public_key_find(char out[64], bool *found, cm__conn *conn, int64_t event_id);

/* Verify a check-in code against the event's public key: CM_OK and the
 * event, order and serial it names, or CM_EINVAL when it is malformed or
 * its signature does not verify. Needs no database (offline check). */
int cm__ticket_code_verify(int64_t *event_id, int64_t *order_id, int64_t *serial, const char *code,
                           const char *public_key_b64);

/* ---- tier visibility hook (ticket_access.c) ---- */

/* May the caller see and buy ticket type type_id, restricted to the
 * membership tier of slug `tier` (never NULL here)? *ok is true for the
 * event's organizers and staff, and for a member holding a subscription in
 * good standing (docs/payments.md) to that tier or to a tier whose access
 * table lists the type. CM_OK or a storage error; runs in ctx's
 * transaction (no statement of it may be open). */
int cm__ticket_tier_allows(bool *ok, cm__ctx *ctx, const cm__event *ev, const char *tier,
                           int64_t type_id);

/* The shared result shape of an order (ops_order.c). */
extern const cm__shape cm__shape_order;

#endif /* CM_COMMERCE_INT_H */
