/*
 * payments.h - the store's payment provider: where checkout sessions are
 * opened and how webhook deliveries are verified (docs/payments.md).
 * Membership tiers, subscriptions, checkouts and the webhook inbox are
 * operations of the operation table ("memberships.*", "payments.*").
 */
#ifndef COMMUNITY_PAYMENTS_H
#define COMMUNITY_PAYMENTS_H

#include <community/common.h>

CM_BEGIN_DECLS

/**
 * Configuration of a store's payment provider (an API shaped like
 * Stripe's). Fill with CM_PAYMENTS_OPTIONS_INIT or
 * cm_payments_options_init(); grows only by appending fields. Strings are
 * copied by cm_store_set_payments(). Without a call, the store reads the
 * environment (COMMUNITY_PAYMENTS_URL, COMMUNITY_PAYMENTS_SECRET_KEY,
 * COMMUNITY_PAYMENTS_WEBHOOK_SECRET, COMMUNITY_PAYMENTS_SUCCESS_URL,
 * COMMUNITY_PAYMENTS_CANCEL_URL, COMMUNITY_PAYMENTS_TOLERANCE_S,
 * COMMUNITY_PAYMENTS_GRACE_S) on first use.
 * @since 0.1
 */
typedef struct cm_payments_options {
    uint32_t size;              /**< sizeof(cm_payments_options) */
    const char *base_url;       /**< "https://api.stripe.com" in production */
    const char *secret_key;     /**< API secret key; never logged */
    const char *webhook_secret; /**< signing secret of the webhook endpoint; never logged */
    const char *success_url;    /**< where a payer returns after paying ({CHECKOUT_SESSION_ID}
                                     is the provider's placeholder) */
    const char *cancel_url;     /**< where a payer returns after giving up */
    uint32_t tolerance_s;       /**< webhook timestamp tolerance; 0 = 300 s */
    uint32_t grace_s;           /**< access kept while past_due; 0 = 3 days */
    uint32_t timeout_ms;        /**< provider request timeout; 0 = 30000 */
} cm_payments_options;

#define CM_PAYMENTS_OPTIONS_INIT                                                                   \
    {                                                                                              \
        (uint32_t)sizeof(cm_payments_options), NULL, NULL, NULL, NULL, NULL, 0, 0, 0               \
    }

/**
 * Initialise payment options to the defaults (`size` = size).
 * @return CM_OK; CM_EINVAL when opts is NULL or size too small.
 * @since 0.1
 */
CM_API int cm_payments_options_init(cm_payments_options *opts, uint32_t size);

/**
 * Method of cm_store: choose the store's payment provider settings
 * (replacing the environment's or an earlier choice). Nothing is sent
 * over the network here.
 *
 * @param store  the store.
 * @param opts   the configuration (copied); NULL to read the environment again.
 * @return CM_OK; CM_EINVAL (field "base_url", "success_url" or
 *         "cancel_url" not an http(s) URL); CM_ENOMEM.
 * Thread-safe; operations already running finish with the old settings.
 * @since 0.1
 */
CM_API int cm_store_set_payments(cm_store *store, const cm_payments_options *opts);

CM_END_DECLS

#endif /* COMMUNITY_PAYMENTS_H */
