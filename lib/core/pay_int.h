/*
 * pay_int.h - payments inside lib/core: the store's provider settings
 * (pay_config.c), the webhook processing and the access lookup other
 * features call (ops_pay.c).
 */
#ifndef CM_PAY_INT_H
#define CM_PAY_INT_H

#include "ops_int.h"

#include "../pay/pay.h"

/* A copy of the store's settings (cm__pay_settings_dispose frees it). */
typedef struct cm__pay_settings {
    cm__pay_cfg cfg; /* base_url, secret_key, webhook_secret, timeout_ms */
    char *success_url, *cancel_url;
    uint32_t tolerance_s; /* resolved: never 0 */
    int64_t grace_us;     /* resolved: never 0 */
} cm__pay_settings;

int cm__pay_settings_get(cm__pay_settings *out, cm_store *store);
void cm__pay_settings_dispose(cm__pay_settings *s);
/* The grace period of past_due subscriptions, microseconds. */
int64_t cm__pay_grace_us(cm_store *store);

/*
 * Does member_id hold, at `now`, a subscription in good standing (trialing,
 * active, or past_due for less than the store's grace period) to a tier
 * whose access table lists (kind, target_id)? kind is "ticket_type",
 * "group" or "newsletter". *out is set; CM_OK or a storage error. Runs in
 * ctx's transaction; the feature that gates something decides what a
 * "no" means (e.g. a ticket type visible to one tier only).
 */
int cm__tier_grants(bool *out, cm__ctx *ctx, int64_t member_id, const char *kind,
                    int64_t target_id);

/* Does member_id hold, at `now`, a subscription in good standing to the
 * tier of slug `slug`? Same contract as cm__tier_grants(). */
int cm__tier_holds(bool *out, cm__ctx *ctx, int64_t member_id, const char *slug);

/* A refund recorded by orders.refund (ledger row `ledger_ref`, amount > 0)
 * of order_id: when the order's checkout was opened at a provider
 * (`provider` not empty) and a payment paid it, the refund is owed there
 * too (payment_refunds, reason "requested", sent by
 * cm__pay_send_refunds); *id receives the row id (0: nothing owed). The
 * same ledger row again owes nothing more. Runs in the transaction that
 * records the ledger row. */
int cm__pay_refund_requested(int64_t *id, cm__conn *conn, int64_t now, int64_t order_id,
                             const char *provider, const char *currency, const char *ledger_ref,
                             int64_t amount);

/* Ask the provider for up to `limit` pending refunds of payment_refunds
 * (each with an Idempotency-Key of its own: "cm-refund-<payment>" for an
 * automatic refund, "cm-refund-<payment>-<row id>" for a requested one, so a
 * repeat never refunds twice) and record each answer; a refund that failed 5 times becomes
 * 'failed'. Runs its own transactions and the network between them: call
 * outside any transaction (the platform job "platform.payment_refunds",
 * payments.send_refunds). *sent and *failed count this call's outcomes. */
int cm__pay_send_refunds(cm_store *store, int64_t limit, int64_t *sent, int64_t *failed);

#endif /* CM_PAY_INT_H */
