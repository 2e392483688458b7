/*
 * pay.h - the payment-provider interface: open a hosted checkout session,
 * refund a payment and verify the signature of a webhook delivery. One
 * implementation, cm__pay_stripe, speaks Stripe's API (Checkout Sessions
 * and Refunds over HTTPS through lib/util/http_client.h, `Stripe-Signature`
 * HMAC-SHA256 webhooks) against a configured base URL, so the same code
 * talks to Stripe in production and to the local stand-in
 * (tests/payments/standin.py) in tests.
 *
 * This layer depends only on lib/util: no SQL, no domain. lib/core keeps
 * the configuration per store and decides what a checkout pays for.
 *
 * Secrets: the secret key travels only in the Authorization header, the
 * webhook secret only into the HMAC; neither is ever logged or copied into
 * an error message (a server reply that echoes the key is redacted).
 */
#ifndef CM_PAY_H
#define CM_PAY_H

#include "../util/util.h"

#include <stdint.h>

/* A provider's settings (strings owned by whoever fills it). */
typedef struct cm__pay_cfg {
    const char *base_url;       /* "https://api.stripe.com" */
    const char *secret_key;     /* API key, sent as a bearer token */
    const char *webhook_secret; /* HMAC key of the webhook signatures */
    uint32_t timeout_ms;        /* whole-request timeout; 0 = 30000 */
} cm__pay_cfg;

/* One line item paid through a hosted checkout page. */
typedef struct cm__checkout_req {
    const char *mode;            /* "payment" (one-off) or "subscription" */
    const char *currency;        /* ISO 4217, lower or upper case */
    int64_t amount;              /* unit price in minor units, > 0 */
    int64_t quantity;            /* >= 1 */
    const char *interval;        /* subscription: "month" or "year" */
    uint32_t trial_days;         /* subscription: 0 = none */
    const char *product_name;    /* shown on the payment page */
    const char *reference;       /* client_reference_id: ours, echoed back */
    const char *customer_email;  /* may be NULL */
    const char *success_url;     /* where the payer returns */
    const char *cancel_url;      /* where an abandoned payment returns */
    const char *idempotency_key; /* same key: the provider answers the same session */
    /* metadata copied onto the session (and the subscription it creates) */
    const char *meta_key, *meta_value;
} cm__checkout_req;

/* What the provider answered. */
typedef struct cm__checkout_session {
    char id[128];       /* "cs_..." */
    char *url;          /* the hosted payment page (cm__free) */
    int64_t expires_at; /* microseconds; 0 if not given */
} cm__checkout_session;

/* A refund of (part of) a payment. */
typedef struct cm__refund_req {
    const char *payment;         /* the provider's payment id ("pi_...") */
    int64_t amount;              /* minor units, > 0 */
    const char *reason;          /* ours, kept as metadata[cm_reason]; may be NULL */
    const char *idempotency_key; /* same key: the provider answers the same refund */
} cm__refund_req;

typedef struct cm__pay_provider {
    const char *name; /* "stripe" */
    /* Open a checkout session. CM_OK with *out filled (free out->url);
     * CM_EINVAL (a request field), CM_EIO (network, HTTP error status or
     * malformed reply), CM_ETIMEOUT, CM_ENOMEM. Blocks on the network: call
     * outside any transaction. */
    int (*checkout_create)(cm__checkout_session *out, const cm__pay_cfg *cfg,
                           const cm__checkout_req *req);
    /* Refund (part of) a payment: POST /v1/refunds. CM_OK with the
     * provider's refund id in id_out; errors as checkout_create. Blocks on
     * the network: call outside any transaction. */
    int (*refund_create)(char id_out[128], const cm__pay_cfg *cfg, const cm__refund_req *req);
    /* Verify a webhook delivery: `sig` is the signature header as received,
     * payload the raw body. CM_OK when one of its signatures is the HMAC of
     * the payload under cfg->webhook_secret and its timestamp is within
     * tolerance_s of now_us (either direction); CM_EAUTH otherwise (the
     * message says why: malformed header, no matching signature, timestamp
     * outside the tolerance). Constant-time comparison. */
    int (*verify)(const cm__pay_cfg *cfg, const char *payload, size_t len, const char *sig,
                  int64_t now_us, uint32_t tolerance_s);
} cm__pay_provider;

extern const cm__pay_provider cm__pay_stripe;

/* A `Stripe-Signature` header value for payload signed at time t (seconds)
 * with secret: "t=<t>,v1=<hex>" into out (>= 96 bytes). For tests and the
 * stand-in's documentation; the library itself only verifies. */
void cm__pay_sign(char *out, size_t cap, const char *secret, int64_t t, const char *payload,
                  size_t len);

#endif /* CM_PAY_H */
