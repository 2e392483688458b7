-- 0017_requested_refunds: refunds an organizer or admin records
-- (orders.refund) of an order paid at the provider are owed there too.
--
-- A refund owed at the provider now belongs to one refund row of the ledger
-- (ledger_reference, unique per order) rather than to one payment: a payment
-- can be given back in parts. reason 'requested' is such a refund; the
-- automatic ones (late_payment, amount_mismatch, already_paid) keep theirs,
-- and their ledger rows are named "<reason>:<payment>" ("late:<payment>").
ALTER TABLE payment_refunds ADD COLUMN ledger_reference text COLLATE "C";
UPDATE payment_refunds
SET ledger_reference = CASE reason WHEN 'late_payment' THEN 'late:' ELSE reason || ':' END
                       || payment_reference;
ALTER TABLE payment_refunds ALTER COLUMN ledger_reference SET NOT NULL;
ALTER TABLE payment_refunds DROP CONSTRAINT payment_refunds_payment_reference_key;
ALTER TABLE payment_refunds ADD CONSTRAINT payment_refunds_ledger_key
    UNIQUE (order_id, ledger_reference);
ALTER TABLE payment_refunds DROP CONSTRAINT payment_refunds_reason_check;
ALTER TABLE payment_refunds ADD CONSTRAINT payment_refunds_reason_check
    CHECK (reason IN ('late_payment', 'amount_mismatch', 'already_paid', 'requested'));
CREATE INDEX payment_refunds_payment ON payment_refunds(payment_reference);
