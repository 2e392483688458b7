-- 0017_requested_refunds: refunds an organizer or admin records
-- (orders.refund) of an order paid at the provider are owed there too.
--
-- A refund owed at the provider now belongs to one refund row of the ledger
-- (ledger_reference, unique per order) rather than to one payment: a payment
-- can be given back in parts. reason 'requested' is such a refund; the
-- automatic ones (late_payment, amount_mismatch, already_paid) keep theirs,
-- and their ledger rows are named "<reason>:<payment>" ("late:<payment>").
--
-- SQLite cannot change a CHECK or drop a UNIQUE constraint in place, so the
-- table is rebuilt: nothing refers to it, its rows keep their ids.
CREATE TEMP TABLE payment_refunds_0017 AS SELECT * FROM payment_refunds;
DROP TABLE payment_refunds;
CREATE TABLE payment_refunds (
    id                 INTEGER PRIMARY KEY,
    order_id           INTEGER NOT NULL REFERENCES orders(id),
    payment_reference  TEXT NOT NULL,
    ledger_reference   TEXT NOT NULL,
    amount             INTEGER NOT NULL CHECK (amount > 0),
    currency           TEXT NOT NULL,
    reason             TEXT NOT NULL CHECK (reason IN ('late_payment', 'amount_mismatch',
                                                      'already_paid', 'requested')),
    status             TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    provider_refund_id TEXT,
    attempts           INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (order_id, ledger_reference)
);
INSERT INTO payment_refunds (id, order_id, payment_reference, ledger_reference, amount, currency,
                             reason, status, provider_refund_id, attempts, last_error, created_at,
                             updated_at)
SELECT id, order_id, payment_reference,
       CASE reason WHEN 'late_payment' THEN 'late:' ELSE reason || ':' END || payment_reference,
       amount, currency, reason, status, provider_refund_id, attempts, last_error, created_at,
       updated_at
FROM temp.payment_refunds_0017 ORDER BY id;
DROP TABLE temp.payment_refunds_0017;
CREATE INDEX payment_refunds_status ON payment_refunds(status, id);
CREATE INDEX payment_refunds_payment ON payment_refunds(payment_reference);
