-- 0014_payment_refunds: refunds the library owes at the payment provider.
-- A payment that cannot pay its order (it arrived after the hold ended, its
-- amount or currency differs from the order's, or the order was paid
-- already) is recorded in the ledger with an equal refund, and a row here,
-- in the same transaction; the platform job "platform.payment_refunds" (or
-- payments.send_refunds) then asks the provider for the refund, with the
-- row's id in the Idempotency-Key, and records its answer.
CREATE TABLE payment_refunds (
    id                 INTEGER PRIMARY KEY,
    order_id           INTEGER NOT NULL REFERENCES orders(id),
    payment_reference  TEXT NOT NULL UNIQUE,
    amount             INTEGER NOT NULL CHECK (amount > 0),
    currency           TEXT NOT NULL,
    reason             TEXT NOT NULL CHECK (reason IN ('late_payment', 'amount_mismatch', 'already_paid')),
    status             TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    provider_refund_id TEXT,
    attempts           INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX payment_refunds_status ON payment_refunds(status, id);
