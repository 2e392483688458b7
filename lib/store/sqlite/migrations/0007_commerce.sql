-- 0007_commerce: ticket types, orders, the money ledger, tickets with signed
-- check-in codes, the scan log and the per-event signing keys
-- (lib/core/ops_ticket.c, order.c, ops_order.c, ops_checkin.c; docs/commerce.md).
-- Money is INTEGER minor units with an ISO 4217 code; times are INTEGER
-- microseconds since the Unix epoch.
--
-- Seats: an order that is live (reserved, pending_payment, paid,
-- partially_refunded) holds `seats` seats in its event's pool
-- (events.seats_taken, shared with RSVPs going) and in its ticket type's
-- sub-quota (ticket_types.sold); both are taken and released by conditional
-- UPDATEs in the same transaction as the order's state, and the CHECKs below
-- are the backstop.

CREATE TABLE ticket_types (
    id             INTEGER PRIMARY KEY,
    event_id       INTEGER NOT NULL REFERENCES events(id),
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    price_minor    INTEGER NOT NULL CHECK (price_minor >= 0),
    currency       TEXT NOT NULL CHECK (length(currency) = 3),
    sales_start    INTEGER,
    sales_end      INTEGER,
    -- the type's sub-quota inside the event's capacity (NULL: the pool only)
    quantity       INTEGER CHECK (quantity IS NULL OR quantity >= 0),
    -- seats held by live orders of this type
    sold           INTEGER NOT NULL DEFAULT 0
                   CHECK (sold >= 0 AND (quantity IS NULL OR sold <= quantity)),
    per_order_max  INTEGER NOT NULL CHECK (per_order_max >= 1),
    per_member_max INTEGER CHECK (per_member_max IS NULL OR per_member_max >= 1),
    -- only members of this membership tier may see and buy it (NULL: everyone)
    tier           TEXT,
    active         INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    CHECK (sales_start IS NULL OR sales_end IS NULL OR sales_end > sales_start)
);
CREATE INDEX ticket_types_event ON ticket_types(event_id, id);

CREATE TABLE orders (
    id               INTEGER PRIMARY KEY,
    event_id         INTEGER NOT NULL REFERENCES events(id),
    member_id        INTEGER NOT NULL REFERENCES members(id),
    ticket_type_id   INTEGER NOT NULL REFERENCES ticket_types(id),
    quantity         INTEGER NOT NULL CHECK (quantity >= 1),
    unit_price_minor INTEGER NOT NULL CHECK (unit_price_minor >= 0),
    total_minor      INTEGER NOT NULL CHECK (total_minor = unit_price_minor * quantity),
    currency         TEXT NOT NULL CHECK (length(currency) = 3),
    state            TEXT NOT NULL
                     CHECK (state IN ('reserved', 'pending_payment', 'paid',
                                      'partially_refunded', 'refunded', 'cancelled', 'expired')),
    seats            INTEGER NOT NULL CHECK (seats >= 0),
    -- the hold's end; a reserved or pending_payment order is never paid after it
    expires_at       INTEGER NOT NULL,
    idem_key         TEXT,
    request_hash     TEXT,
    payment_provider TEXT,
    payment_session  TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    paid_at          INTEGER,
    CHECK ((state IN ('reserved', 'pending_payment', 'paid', 'partially_refunded'))
           = (seats > 0)),
    CHECK (seats = 0 OR seats = quantity),
    UNIQUE (member_id, idem_key)
);
CREATE INDEX orders_holds ON orders(expires_at) WHERE state IN ('reserved', 'pending_payment');
CREATE INDEX orders_member ON orders(member_id, id);
CREATE INDEX orders_event ON orders(event_id, state);
CREATE INDEX orders_type_member ON orders(ticket_type_id, member_id);

-- Every money movement of an order, append-only (the triggers refuse UPDATE
-- and DELETE). amount_minor is positive; kind says the direction. What an
-- order has paid and refunded is the sum of its rows. reference names the
-- movement (the provider's payment id, a refund's idempotency key) and is
-- unique per order and kind: recording the same movement twice is a replay.
CREATE TABLE ledger (
    id            INTEGER PRIMARY KEY,
    order_id      INTEGER NOT NULL REFERENCES orders(id),
    kind          TEXT NOT NULL CHECK (kind IN ('payment', 'refund')),
    amount_minor  INTEGER NOT NULL CHECK (amount_minor > 0),
    currency      TEXT NOT NULL CHECK (length(currency) = 3),
    reference     TEXT NOT NULL,
    reason        TEXT NOT NULL DEFAULT '',
    actor_id      INTEGER,
    created_at    INTEGER NOT NULL,
    UNIQUE (order_id, kind, reference)
);
CREATE INDEX ledger_currency ON ledger(currency, kind);
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger rows are append-only');
END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger rows are append-only');
END;

-- One row per seat of a paid (or free) order. code is the signed check-in
-- code (docs/commerce.md); status void once the order is fully refunded.
CREATE TABLE tickets (
    id             INTEGER PRIMARY KEY,
    order_id       INTEGER NOT NULL REFERENCES orders(id),
    event_id       INTEGER NOT NULL REFERENCES events(id),
    ticket_type_id INTEGER NOT NULL REFERENCES ticket_types(id),
    member_id      INTEGER NOT NULL REFERENCES members(id),
    serial         INTEGER NOT NULL CHECK (serial >= 1),
    code           TEXT NOT NULL UNIQUE,
    status         TEXT NOT NULL CHECK (status IN ('valid', 'void')),
    created_at     INTEGER NOT NULL,
    checked_in_at  INTEGER,
    checked_in_by  INTEGER,
    UNIQUE (order_id, serial)
);
CREATE INDEX tickets_member ON tickets(member_id, id);

-- Every scan at the door, whatever its result.
CREATE TABLE checkin_scans (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES events(id),
    ticket_id   INTEGER REFERENCES tickets(id),
    result      TEXT NOT NULL
                CHECK (result IN ('ok', 'duplicate', 'invalid', 'void', 'wrong_event')),
    scanned_by  INTEGER,
    at          INTEGER NOT NULL
);
CREATE INDEX checkin_scans_event ON checkin_scans(event_id, id);

-- The Ed25519 key pair that signs an event's check-in codes (base64url, no
-- padding), made when the event's first ticket is issued or its key asked for.
CREATE TABLE event_keys (
    event_id    INTEGER PRIMARY KEY REFERENCES events(id),
    public_key  TEXT NOT NULL,
    secret_key  TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
