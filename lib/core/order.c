/*
 * order.c - the order state machine (see commerce_int.h), the seats that
 * orders hold, the ledger of money movements, payment confirmation and
 * refunds, the expiry of holds, and tickets with Ed25519-signed check-in
 * codes.
 *
 * Every function here runs inside the caller's open write transaction and
 * takes the order's event lock ("event.lock", shared with RSVPs) before
 * it reads anything it then changes, so concurrent transitions of one
 * order, and seat changes of one event, are serialised by the database.
 */
#include "commerce_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cm__sodium_ready(void);

const char *const cm__order_state_names[] = {
    "reserved", "pending_payment", "paid",    "partially_refunded",
    "refunded", "cancelled",       "expired", NULL,
};

int cm__order_state_parse(const char *name)
{
    for (int i = 0; name && cm__order_state_names[i]; i++)
        if (strcmp(name, cm__order_state_names[i]) == 0)
            return i;
    return -1;
}

bool cm__order_can(cm__order_state from, cm__order_state to)
{
    switch (from) {
        case CM__ORDER_RESERVED:
            return to == CM__ORDER_PENDING_PAYMENT || to == CM__ORDER_PAID ||
                   to == CM__ORDER_CANCELLED || to == CM__ORDER_EXPIRED;
        case CM__ORDER_PENDING_PAYMENT:
            return to == CM__ORDER_PAID || to == CM__ORDER_CANCELLED || to == CM__ORDER_EXPIRED;
        case CM__ORDER_PAID:
            /* cancelled: only a free order (the caller checks); paid money goes back by refund */
            return to == CM__ORDER_PARTIALLY_REFUNDED || to == CM__ORDER_REFUNDED ||
                   to == CM__ORDER_CANCELLED;
        case CM__ORDER_PARTIALLY_REFUNDED:
            return to == CM__ORDER_REFUNDED;
        default:
            return false; /* refunded, cancelled, expired are final */
    }
}

bool cm__order_live(cm__order_state s)
{
    return s == CM__ORDER_RESERVED || s == CM__ORDER_PENDING_PAYMENT || s == CM__ORDER_PAID ||
           s == CM__ORDER_PARTIALLY_REFUNDED;
}

static bool is_hold(cm__order_state s)
{
    return s == CM__ORDER_RESERVED || s == CM__ORDER_PENDING_PAYMENT;
}

/* Fill o from a row of ORDER_COLS (sql_order.c). */
static void order_read(cm__order *o, cm__q *q)
{
    memset(o, 0, sizeof *o);
    o->id = cm__q_col_int64(q, 0);
    o->event_id = cm__q_col_int64(q, 1);
    o->member_id = cm__q_col_int64(q, 2);
    o->ticket_type_id = cm__q_col_int64(q, 3);
    o->quantity = cm__q_col_int64(q, 4);
    o->unit_price_minor = cm__q_col_int64(q, 5);
    o->total_minor = cm__q_col_int64(q, 6);
    (void)snprintf(o->currency, sizeof o->currency, "%s", cm__q_col_text(q, 7));
    int st = cm__order_state_parse(cm__q_col_text(q, 8));
    o->state = st < 0 ? CM__ORDER_EXPIRED : (cm__order_state)st;
    o->seats = cm__q_col_int64(q, 9);
    o->expires_at = cm__q_col_int64(q, 10);
    if (!cm__q_is_null(q, 11))
        (void)snprintf(o->payment_provider, sizeof o->payment_provider, "%s",
                       cm__q_col_text(q, 11));
    if (!cm__q_is_null(q, 12))
        (void)snprintf(o->payment_session, sizeof o->payment_session, "%s", cm__q_col_text(q, 12));
    o->created_at = cm__q_col_int64(q, 13);
    o->updated_at = cm__q_col_int64(q, 14);
    o->paid_at = cm__q_is_null(q, 15) ? 0 : cm__q_col_int64(q, 15);
    o->paid_minor = cm__q_col_int64(q, 16);
    o->refunded_minor = cm__q_col_int64(q, 17);
}

int cm__order_load(cm__order *o, cm__conn *conn, int64_t id)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "order.get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    if (rc == 1)
        order_read(o, &q);
    cm__q_close(&q);
    if (rc == 0)
        return cm__error_set_field(CM_ENOTFOUND, "order_id", "order_id: order %lld not found",
                                   (long long)id);
    return cm__ok(rc);
}

static int event_lock(cm__conn *conn, int64_t event_id)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "event.lock");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, event_id);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    return cm__ok(rc);
}

int cm__order_lock(cm__order *o, cm__conn *conn, int64_t id)
{
    int rc = cm__order_load(o, conn, id);
    if (rc || (rc = event_lock(conn, o->event_id)))
        return rc;
    return cm__order_load(o, conn, id); /* what it is now that we hold the lock */
}

/* Run a seat statement with (id, n): "event.seats_release", "ticket_type.release". */
static int seats_stmt(cm__conn *conn, const char *stmt, int64_t id, int64_t n)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, stmt);
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    cm__q_int64(&q, 2, n);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc;
}

static int exec_id(cm__conn *conn, const char *stmt, int64_t id)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, stmt);
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc;
}

/* Seats of event_id were freed: serve its RSVP waitlist (as the system). */
static int promote_waitlist(cm__conn *conn, int64_t now, int64_t event_id)
{
    static const cm_actor sys = {.member_id = 0, .role = CM_ROLE_SYSTEM};
    cm__ctx ctx = {.conn = conn, .actor = &sys, .now = now};
    cm__event ev;
    int rc = cm__event_load(&ev, NULL, &ctx, event_id);
    return rc ? rc : cm__rsvp_promote(&ctx, &ev, NULL);
}

int cm__order_transition(cm__order *o, cm__conn *conn, int64_t now, cm__order_state to)
{
    if (!cm__order_can(o->state, to))
        return cm__error_set_field(CM_ECONSTRAINT, "order_id",
                                   "order_id: a %s order cannot become %s",
                                   cm__order_state_names[o->state], cm__order_state_names[to]);
    bool release = cm__order_live(o->state) && !cm__order_live(to);
    int64_t seats = release ? 0 : o->seats;
    cm__q q;
    int rc = cm__q_open(&q, conn, "order.set_state");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, o->id);
    cm__q_text(&q, 2, cm__order_state_names[to]);
    cm__q_int64(&q, 3, seats);
    cm__q_int64(&q, 4, now);
    cm__q_text(&q, 5, cm__order_state_names[o->state]);
    rc = cm__q_step(&q);
    int64_t changed = rc == 0 ? cm__q_changes(&q) : 0;
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (changed != 1) /* only without the event lock: a caller bug */
        return cm__error_set_field(CM_ECONFLICT, "order_id",
                                   "order_id: order %lld changed concurrently", (long long)o->id);
    if (release) {
        if ((rc = seats_stmt(conn, "event.seats_release", o->event_id, o->seats)) ||
            (rc = seats_stmt(conn, "ticket_type.release", o->ticket_type_id, o->seats)))
            return rc;
    }
    if ((to == CM__ORDER_REFUNDED || to == CM__ORDER_CANCELLED) && o->state != CM__ORDER_RESERVED &&
        o->state != CM__ORDER_PENDING_PAYMENT && (rc = exec_id(conn, "ticket.void_order", o->id)))
        return rc;
    if (to == CM__ORDER_PAID)
        o->paid_at = now;
    o->state = to;
    o->seats = seats;
    o->updated_at = now;
    if (release && (rc = promote_waitlist(conn, now, o->event_id)))
        return rc;
    return CM_OK;
}

/* ---- expiry of holds ---- */

static int cmp_i64_pair(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

int cm__order_expire_holds(cm__conn *conn, int64_t now, int64_t event_id, int64_t limit, int64_t *n)
{
    enum { BATCH = 64 };
    int64_t done = 0;
    int rc = CM_OK;
    while (rc == CM_OK && done < limit) {
        int64_t ids[BATCH][2]; /* event, order: locked in event order (no lock cycles) */
        size_t k = 0;
        cm__q q;
        if ((rc = cm__q_open(&q, conn, "order.ended_holds")))
            break;
        cm__q_int64(&q, 1, now);
        if (event_id > 0)
            cm__q_int64(&q, 2, event_id);
        else
            cm__q_null(&q, 2);
        cm__q_int64(&q, 3, limit - done < BATCH ? limit - done : BATCH);
        while (k < BATCH && (rc = cm__q_step(&q)) == 1)
            ids[k++][1] = cm__q_col_int64(&q, 0);
        cm__q_close(&q);
        if ((rc = cm__ok(rc)) || k == 0)
            break;
        for (size_t i = 0; rc == CM_OK && i < k; i++) {
            cm__order o;
            if ((rc = cm__order_load(&o, conn, ids[i][1])) == CM_OK)
                ids[i][0] = o.event_id;
        }
        if (rc)
            break;
        qsort(ids, k, sizeof ids[0], cmp_i64_pair);
        size_t expired = 0;
        for (size_t i = 0; rc == CM_OK && i < k; i++) {
            cm__order o;
            if ((rc = event_id > 0 ? cm__order_load(&o, conn, ids[i][1])
                                   : cm__order_lock(&o, conn, ids[i][1])))
                break;
            if (is_hold(o.state) && o.expires_at <= now) { /* still: nobody paid meanwhile */
                rc = cm__order_transition(&o, conn, now, CM__ORDER_EXPIRED);
                expired++;
            }
        }
        done += (int64_t)expired;
        if (k < BATCH || expired == 0)
            break;
    }
    if (n)
        *n = done;
    return rc;
}

/* ---- signing keys and check-in codes ---- */

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

static int key_get(char pk[64], unsigned char sk[crypto_sign_SECRETKEYBYTES], bool *found,
                   cm__conn *conn, int64_t event_id)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "event_key.get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, event_id);
    rc = cm__q_step(&q);
    *found = rc == 1;
    if (rc == 1) {
        (void)snprintf(pk, 64, "%s", cm__q_col_text(&q, 0));
        const char *s = cm__q_col_text(&q, 1);
        size_t len = 0;
        if (sk && (sodium_base642bin(sk, crypto_sign_SECRETKEYBYTES, s, strlen(s), NULL, &len, NULL,
                                     B64) != 0 ||
                   len != crypto_sign_SECRETKEYBYTES))
            rc = cm__error_set(CM_ECORRUPT, "the signing key of event %lld is corrupt",
                               (long long)event_id);
    }
    cm__q_close(&q);
    return cm__ok(rc);
}

/* The event's key pair, made (and stored) when it has none. */
static int event_keys(char pk[64], unsigned char sk[crypto_sign_SECRETKEYBYTES], cm__conn *conn,
                      int64_t event_id, int64_t now)
{
    bool found;
    int rc = key_get(pk, sk, &found, conn, event_id);
    if (rc || found)
        return rc;
    if ((rc = cm__sodium_ready()))
        return rc;
    unsigned char npk[crypto_sign_PUBLICKEYBYTES], nsk[crypto_sign_SECRETKEYBYTES];
    char pk64[64], sk64[128];
    crypto_sign_keypair(npk, nsk);
    sodium_bin2base64(pk64, sizeof pk64, npk, sizeof npk, B64);
    sodium_bin2base64(sk64, sizeof sk64, nsk, sizeof nsk, B64);
    sodium_memzero(nsk, sizeof nsk);
    cm__q q;
    if ((rc = cm__q_open(&q, conn, "event_key.insert")) == CM_OK) {
        cm__q_int64(&q, 1, event_id);
        cm__q_text(&q, 2, pk64);
        cm__q_text(&q, 3, sk64);
        cm__q_int64(&q, 4, now);
        rc = cm__ok(cm__q_step(&q));
        cm__q_close(&q);
    }
    sodium_memzero(sk64, sizeof sk64);
    if (rc)
        return rc;
    if ((rc = key_get(pk, sk, &found, conn, event_id)) == CM_OK && !found)
        rc = cm__error_set(CM_ERROR, "event %lld: the signing key was not stored",
                           (long long)event_id);
    return rc;
}

int cm__event_public_key(char out[64], cm__conn *conn, int64_t event_id, int64_t now)
{
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    int rc = event_keys(out, sk, conn, event_id, now);
    sodium_memzero(sk, sizeof sk);
    return rc;
}

int cm__event_public_key_find(char out[64], bool *found, cm__conn *conn, int64_t event_id)
{
    return key_get(out, NULL, found, conn, event_id);
}

/* "CM1.<event>.<order>.<serial>.<nonce>.<signature>": the signature
 * (base64url) covers everything before its dot. */
#define CODE_PREFIX "CM1."
#define CODE_MAX 192

static int code_sign(char out[CODE_MAX], const unsigned char *sk, int64_t event_id,
                     int64_t order_id, int64_t serial)
{
    unsigned char nonce[6], sig[crypto_sign_BYTES];
    int rc = cm__random_bytes(nonce, sizeof nonce);
    if (rc)
        return rc;
    char n64[16];
    sodium_bin2base64(n64, sizeof n64, nonce, sizeof nonce, B64);
    int len = snprintf(out, CODE_MAX, CODE_PREFIX "%lld.%lld.%lld.%s", (long long)event_id,
                       (long long)order_id, (long long)serial, n64);
    crypto_sign_detached(sig, NULL, (const unsigned char *)out, (unsigned long long)len, sk);
    out[len++] = '.';
    sodium_bin2base64(out + len, (size_t)(CODE_MAX - len), sig, sizeof sig, B64);
    return CM_OK;
}

static bool parse_id(int64_t *v, const char **p)
{
    char *end;
    if (**p < '1' || **p > '9')
        return false;
    long long x = strtoll(*p, &end, 10);
    if (*end != '.' || x <= 0)
        return false;
    *v = x;
    *p = end + 1;
    return true;
}

int cm__ticket_code_verify(int64_t *event_id, int64_t *order_id, int64_t *serial, const char *code,
                           const char *public_key_b64)
{
    int rc = cm__sodium_ready();
    if (rc)
        return rc;
    size_t n = code ? strlen(code) : 0;
    const char *dot = n ? strrchr(code, '.') : NULL;
    const char *p = code + (sizeof CODE_PREFIX - 1);
    unsigned char sig[crypto_sign_BYTES], pk[crypto_sign_PUBLICKEYBYTES];
    size_t siglen = 0, pklen = 0;
    if (n < sizeof CODE_PREFIX || n >= CODE_MAX || strncmp(code, CODE_PREFIX, 4) != 0 || !dot ||
        !parse_id(event_id, &p) || !parse_id(order_id, &p) || !parse_id(serial, &p) || p >= dot ||
        sodium_base642bin(sig, sizeof sig, dot + 1, strlen(dot + 1), NULL, &siglen, NULL, B64) !=
            0 ||
        siglen != sizeof sig)
        return cm__error_set_field(CM_EINVAL, "code", "code: not a ticket code");
    if (sodium_base642bin(pk, sizeof pk, public_key_b64, strlen(public_key_b64), NULL, &pklen, NULL,
                          B64) != 0 ||
        pklen != sizeof pk)
        return cm__error_set(CM_ECORRUPT, "the event's public key is corrupt");
    if (crypto_sign_verify_detached(sig, (const unsigned char *)code,
                                    (unsigned long long)(dot - code), pk) != 0)
        return cm__error_set_field(CM_EINVAL, "code", "code: the signature does not verify");
    return CM_OK;
}

int cm__order_issue_tickets(cm__conn *conn, const cm__order *o, int64_t now)
{
    char pk[64];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    int rc = event_keys(pk, sk, conn, o->event_id, now);
    for (int64_t s = 1; rc == CM_OK && s <= o->quantity; s++) {
        char code[CODE_MAX];
        if ((rc = code_sign(code, sk, o->event_id, o->id, s)))
            break;
        cm__q q;
        if ((rc = cm__q_open(&q, conn, "ticket.insert")))
            break;
        cm__q_int64(&q, 1, o->id);
        cm__q_int64(&q, 2, o->event_id);
        cm__q_int64(&q, 3, o->ticket_type_id);
        cm__q_int64(&q, 4, o->member_id);
        cm__q_int64(&q, 5, s);
        cm__q_text(&q, 6, code);
        cm__q_int64(&q, 7, now);
        rc = cm__ok(cm__q_step(&q));
        cm__q_close(&q);
    }
    sodium_memzero(sk, sizeof sk);
    return rc;
}

/* ---- the ledger ---- */

/* Find the ledger row (order, kind, reference): *found, its amount and currency. */
static int ledger_find(bool *found, int64_t *amount, char currency[4], cm__conn *conn,
                       int64_t order_id, const char *kind, const char *reference)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "ledger.find");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, order_id);
    cm__q_text(&q, 2, kind);
    cm__q_text(&q, 3, reference);
    rc = cm__q_step(&q);
    *found = rc == 1;
    if (rc == 1) {
        *amount = cm__q_col_int64(&q, 0);
        (void)snprintf(currency, 4, "%s", cm__q_col_text(&q, 1));
    }
    cm__q_close(&q);
    return cm__ok(rc);
}

static int ledger_add(cm__conn *conn, int64_t now, int64_t order_id, const char *kind,
                      int64_t amount, const char *currency, const char *reference,
                      const char *reason, int64_t actor_id)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "ledger.insert");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, order_id);
    cm__q_text(&q, 2, kind);
    cm__q_int64(&q, 3, amount);
    cm__q_text(&q, 4, currency);
    cm__q_text(&q, 5, reference);
    cm__q_text(&q, 6, reason ? reason : "");
    if (actor_id > 0)
        cm__q_int64(&q, 7, actor_id);
    else
        cm__q_null(&q, 7);
    cm__q_int64(&q, 8, now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc;
}

static int check_reference(const char *reference)
{
    size_t n = reference ? strlen(reference) : 0;
    if (n < 1 || n > 255)
        return cm__error_set_field(CM_EINVAL, "reference", "reference: 1-255 bytes");
    return CM_OK;
}

int cm__order_confirm_payment(cm__pay_outcome *outcome, cm__order *out, cm__conn *conn, int64_t now,
                              int64_t order_id, int64_t amount_minor, const char *currency,
                              const char *reference)
{
    int rc = check_reference(reference);
    if (rc)
        return rc;
    if (amount_minor <= 0)
        return cm__error_set_field(CM_EINVAL, "amount_minor", "amount_minor: must be > 0");
    if (!currency || strlen(currency) != 3)
        return cm__error_set_field(CM_EINVAL, "currency", "currency: an ISO 4217 code");
    cm__order o;
    if ((rc = cm__order_lock(&o, conn, order_id)))
        return rc;
    bool found;
    int64_t amount = 0;
    char cur[4] = "";
    if ((rc = ledger_find(&found, &amount, cur, conn, o.id, "payment", reference)))
        return rc;
    cm__pay_outcome oc = CM__PAY_PAID;
    if (found) {
        if (amount != amount_minor || strcmp(cur, currency) != 0)
            return cm__error_set_field(CM_ECONFLICT, "reference",
                                       "reference: payment %s of order %lld was recorded with "
                                       "another amount or currency",
                                       reference, (long long)o.id);
        oc = CM__PAY_REPLAY;
        goto done;
    }
    if (o.total_minor == 0)
        return cm__error_set_field(CM_ECONSTRAINT, "order_id",
                                   "order_id: order %lld is free and needs no payment",
                                   (long long)o.id);
    if (amount_minor != o.total_minor)
        return cm__error_set_field(CM_EINVAL, "amount_minor",
                                   "amount_minor: order %lld costs %lld, not %lld", (long long)o.id,
                                   (long long)o.total_minor, (long long)amount_minor);
    if (strcmp(currency, o.currency) != 0)
        return cm__error_set_field(CM_EINVAL, "currency", "currency: order %lld is in %s",
                                   (long long)o.id, o.currency);
    if (is_hold(o.state) && o.expires_at <= now &&
        (rc = cm__order_transition(&o, conn, now, CM__ORDER_EXPIRED)))
        return rc;
    if (is_hold(o.state)) {
        if ((rc = ledger_add(conn, now, o.id, "payment", amount_minor, currency, reference, "",
                             0)) ||
            (rc = cm__order_transition(&o, conn, now, CM__ORDER_PAID)) ||
            (rc = cm__order_issue_tickets(conn, &o, now)) ||
            (rc = cm__metric_add(conn, "ticket_purchases", 1)) ||
            (rc = cm__metric_add(conn, "tickets_sold", o.quantity)))
            return rc;
    } else if (o.state == CM__ORDER_EXPIRED || o.state == CM__ORDER_CANCELLED) {
        /* The hold is gone: the payment is recorded and given back in full. */
        char late[300];
        (void)snprintf(late, sizeof late, "late:%s", reference);
        if ((rc = ledger_add(conn, now, o.id, "payment", amount_minor, currency, reference, "",
                             0)) ||
            (rc = ledger_add(conn, now, o.id, "refund", amount_minor, currency, late,
                             "late_payment", 0)))
            return rc;
        oc = CM__PAY_REFUNDED;
    } else {
        return cm__error_set_field(CM_ECONSTRAINT, "order_id",
                                   "order_id: order %lld is %s; it takes no other payment",
                                   (long long)o.id, cm__order_state_names[o.state]);
    }
done:
    if (outcome)
        *outcome = oc;
    if (out)
        rc = cm__order_load(out, conn, o.id);
    return rc;
}

int cm__order_refuse_payment(bool *replay, cm__conn *conn, int64_t now, int64_t order_id,
                             int64_t amount_minor, const char *currency, const char *reference,
                             const char *reason)
{
    *replay = false;
    int rc = check_reference(reference);
    if (rc)
        return rc;
    if (amount_minor <= 0)
        return cm__error_set_field(CM_EINVAL, "amount_minor", "amount_minor: must be > 0");
    if (!currency || strlen(currency) != 3)
        return cm__error_set_field(CM_EINVAL, "currency", "currency: an ISO 4217 code");
    cm__order o;
    if ((rc = cm__order_lock(&o, conn, order_id)))
        return rc;
    bool found;
    int64_t amount = 0;
    char cur[4] = "";
    if ((rc = ledger_find(&found, &amount, cur, conn, o.id, "payment", reference)))
        return rc;
    if (found) {
        *replay = true;
        return CM_OK;
    }
    char back[300];
    (void)snprintf(back, sizeof back, "%s:%s", reason, reference);
    if ((rc = ledger_add(conn, now, o.id, "payment", amount_minor, currency, reference, "", 0)))
        return rc;
    return ledger_add(conn, now, o.id, "refund", amount_minor, currency, back, reason, 0);
}

int cm__order_begin_payment(cm__order *out, cm__conn *conn, int64_t now, int64_t order_id,
                            const char *provider, const char *session)
{
    cm__order o;
    int rc = cm__order_lock(&o, conn, order_id);
    if (rc)
        return rc;
    if (is_hold(o.state) && o.expires_at <= now &&
        (rc = cm__order_transition(&o, conn, now, CM__ORDER_EXPIRED)))
        return rc;
    if (!is_hold(o.state))
        return cm__error_set_field(CM_ECONSTRAINT, "order_id",
                                   "order_id: order %lld is %s, not awaiting payment",
                                   (long long)o.id, cm__order_state_names[o.state]);
    cm__q q;
    if ((rc = cm__q_open(&q, conn, "order.set_payment")))
        return rc;
    cm__q_int64(&q, 1, o.id);
    cm__q_text(&q, 2, provider ? provider : "");
    cm__q_text(&q, 3, session ? session : "");
    cm__q_int64(&q, 4, now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    if (rc == CM_OK && out)
        rc = cm__order_load(out, conn, o.id);
    return rc;
}

int cm__order_refund(bool *replay, cm__order *out, cm__conn *conn, int64_t now, int64_t order_id,
                     int64_t amount_minor, const char *reference, const char *reason,
                     int64_t actor_id)
{
    int rc = check_reference(reference);
    if (rc)
        return rc;
    if (amount_minor <= 0)
        return cm__error_set_field(CM_EINVAL, "amount_minor", "amount_minor: must be > 0");
    cm__order o;
    if ((rc = cm__order_lock(&o, conn, order_id)))
        return rc;
    bool found;
    int64_t amount = 0;
    char cur[4];
    if ((rc = ledger_find(&found, &amount, cur, conn, o.id, "refund", reference)))
        return rc;
    if (replay)
        *replay = found;
    if (found) {
        if (amount != amount_minor)
            return cm__error_set_field(CM_ECONFLICT, "reference",
                                       "reference: refund %s of order %lld was recorded with "
                                       "another amount",
                                       reference, (long long)o.id);
    } else {
        if (o.state != CM__ORDER_PAID && o.state != CM__ORDER_PARTIALLY_REFUNDED)
            return cm__error_set_field(CM_ECONSTRAINT, "order_id",
                                       "order_id: order %lld is %s; only paid orders are refunded",
                                       (long long)o.id, cm__order_state_names[o.state]);
        int64_t left = o.paid_minor - o.refunded_minor;
        if (amount_minor > left)
            return cm__error_set_field(CM_ECONSTRAINT, "amount_minor",
                                       "amount_minor: %lld exceeds the %lld %s left to refund",
                                       (long long)amount_minor, (long long)left, o.currency);
        if ((rc = ledger_add(conn, now, o.id, "refund", amount_minor, o.currency, reference, reason,
                             actor_id)))
            return rc;
        cm__order_state to =
            amount_minor == left ? CM__ORDER_REFUNDED : CM__ORDER_PARTIALLY_REFUNDED;
        if (to != o.state && (rc = cm__order_transition(&o, conn, now, to)))
            return rc;
    }
    return out ? cm__order_load(out, conn, o.id) : CM_OK;
}

/* ---- JSON ---- */

int cm__order_json(json_t **out, cm__conn *conn, const cm__order *o, bool with_tickets)
{
    json_t *r = json_object();
    json_object_set_new(r, "id", json_integer(o->id));
    json_object_set_new(r, "event_id", json_integer(o->event_id));
    json_object_set_new(r, "member_id", json_integer(o->member_id));
    json_object_set_new(r, "ticket_type_id", json_integer(o->ticket_type_id));
    json_object_set_new(r, "quantity", json_integer(o->quantity));
    json_object_set_new(r, "unit_price_minor", json_integer(o->unit_price_minor));
    json_object_set_new(r, "total_minor", json_integer(o->total_minor));
    json_object_set_new(r, "currency", json_string(o->currency));
    json_object_set_new(r, "state", json_string(cm__order_state_names[o->state]));
    json_object_set_new(r, "paid_minor", json_integer(o->paid_minor));
    json_object_set_new(r, "refunded_minor", json_integer(o->refunded_minor));
    cm__json_set_time(r, "expires_at", o->expires_at);
    cm__json_set_time(r, "created_at", o->created_at);
    cm__json_set_time(r, "updated_at", o->updated_at);
    if (o->paid_at)
        cm__json_set_time(r, "paid_at", o->paid_at);
    else
        json_object_set_new(r, "paid_at", json_null());
    json_object_set_new(r, "payment_provider",
                        o->payment_provider[0] ? json_string(o->payment_provider) : json_null());
    json_t *ledger = json_array();
    json_object_set_new(r, "ledger", ledger);
    cm__q q;
    int rc = cm__q_open(&q, conn, "ledger.of_order");
    if (rc == CM_OK) {
        cm__q_int64(&q, 1, o->id);
        while ((rc = cm__q_step(&q)) == 1) {
            json_t *e = json_object();
            cm__json_set_col_int(e, "id", &q, 0);
            cm__json_set_col_text(e, "kind", &q, 1);
            cm__json_set_col_int(e, "amount_minor", &q, 2);
            cm__json_set_col_text(e, "currency", &q, 3);
            cm__json_set_col_text(e, "reference", &q, 4);
            cm__json_set_col_text(e, "reason", &q, 5);
            cm__json_set_col_time(e, "at", &q, 6);
            json_array_append_new(ledger, e);
        }
        cm__q_close(&q);
        rc = cm__ok(rc);
    }
    if (rc == CM_OK && with_tickets) {
        json_t *tickets = json_array();
        json_object_set_new(r, "tickets", tickets);
        if ((rc = cm__q_open(&q, conn, "ticket.of_order")) == CM_OK) {
            cm__q_int64(&q, 1, o->id);
            while ((rc = cm__q_step(&q)) == 1) {
                json_t *t = json_object();
                cm__json_set_col_int(t, "id", &q, 0);
                cm__json_set_col_int(t, "serial", &q, 1);
                cm__json_set_col_text(t, "code", &q, 2);
                cm__json_set_col_text(t, "status", &q, 3);
                if (cm__q_is_null(&q, 4))
                    json_object_set_new(t, "checked_in_at", json_null());
                else
                    cm__json_set_col_time(t, "checked_in_at", &q, 4);
                json_array_append_new(tickets, t);
            }
            cm__q_close(&q);
            rc = cm__ok(rc);
        }
    }
    if (rc) {
        json_decref(r);
        return rc;
    }
    *out = r;
    return CM_OK;
}
