-- +goose Up
-- Schema v1. Kept identical to ../postgres/00001_init.sql except for the
-- payment_events.id line (see TestMigrationsInSync). Times are BIGINT unix
-- microseconds, UTC; money is BIGINT minor units plus a currency code.

CREATE TABLE shops (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    platform            TEXT NOT NULL,
    domain              TEXT NOT NULL DEFAULT '',
    gateway             TEXT NOT NULL DEFAULT '',
    gateway_sandbox     BOOLEAN NOT NULL DEFAULT FALSE,
    gateway_credentials TEXT NOT NULL,
    api_key_hash        TEXT NOT NULL DEFAULT '',
    webhook_secret      TEXT NOT NULL,
    secrets             TEXT NOT NULL,
    settings            TEXT NOT NULL DEFAULT '{}',
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE UNIQUE INDEX shops_api_key_hash ON shops (api_key_hash) WHERE api_key_hash <> '';
CREATE UNIQUE INDEX shops_platform_domain ON shops (platform, domain) WHERE domain <> '';

CREATE TABLE payments (
    id               TEXT PRIMARY KEY,
    shop_id          TEXT NOT NULL REFERENCES shops (id),
    platform         TEXT NOT NULL,
    order_id         TEXT NOT NULL,
    amount_minor     BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency         TEXT NOT NULL,
    refunded_minor   BIGINT NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
    description      TEXT NOT NULL DEFAULT '',
    language         TEXT NOT NULL DEFAULT '',
    payment_method   TEXT NOT NULL DEFAULT '',
    customer         TEXT NOT NULL DEFAULT '{}',
    products         TEXT NOT NULL DEFAULT 'null',
    return_url       TEXT NOT NULL DEFAULT '',
    cancel_url       TEXT NOT NULL DEFAULT '',
    callback_url     TEXT NOT NULL DEFAULT '',
    metadata         TEXT NOT NULL DEFAULT 'null',
    status           TEXT NOT NULL,
    sync_state       TEXT NOT NULL DEFAULT '',
    gateway          TEXT NOT NULL DEFAULT '',
    gateway_order_id TEXT NOT NULL DEFAULT '',
    gateway_ref      TEXT NOT NULL DEFAULT '',
    gateway_url      TEXT NOT NULL DEFAULT '',
    transaction_id   TEXT NOT NULL DEFAULT '',
    gateway_data     TEXT NOT NULL DEFAULT 'null',
    request_hash     TEXT NOT NULL DEFAULT '',
    expires_at       BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    version          BIGINT NOT NULL,
    CONSTRAINT payments_shop_order UNIQUE (shop_id, order_id)
);
-- Serves UnsyncedPayments (status IN final, sync_state =, updated_at <)
-- and the per-status counts.
CREATE INDEX payments_status_sync ON payments (status, sync_state, updated_at);
-- Serves OpenPayments; its WHERE clause is repeated verbatim by the query
-- in payments.go, or the index cannot be used.
CREATE INDEX payments_open ON payments (updated_at)
    WHERE status NOT IN ('paid', 'failed', 'canceled', 'expired');
CREATE INDEX payments_gateway_ref ON payments (gateway, gateway_ref);

CREATE TABLE refunds (
    id           TEXT PRIMARY KEY,
    payment_id   TEXT NOT NULL REFERENCES payments (id),
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency     TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,
    sync_state   TEXT NOT NULL DEFAULT '',
    gateway_ref  TEXT NOT NULL DEFAULT '',
    attempts     BIGINT NOT NULL DEFAULT 0,
    source       TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    version      BIGINT NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id, created_at);
CREATE INDEX refunds_status_updated ON refunds (status, updated_at);
CREATE INDEX refunds_sync_updated ON refunds (sync_state, updated_at);

-- Append-only audit trail: the store never updates or deletes these rows.
CREATE TABLE payment_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id  TEXT NOT NULL REFERENCES payments (id),
    refund_id   TEXT NOT NULL DEFAULT '',
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    from_state  TEXT NOT NULL DEFAULT '',
    to_state    TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX payment_events_payment ON payment_events (payment_id, id);

CREATE TABLE webhook_receipts (
    source      TEXT NOT NULL,
    receipt_id  TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (source, receipt_id)
);
CREATE INDEX webhook_receipts_received ON webhook_receipts (received_at);

CREATE TABLE oauth_states (
    state       TEXT PRIMARY KEY,
    platform    TEXT NOT NULL,
    shop_domain TEXT NOT NULL DEFAULT '',
    purpose     TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);

-- +goose Down
DROP TABLE oauth_states;
DROP TABLE webhook_receipts;
DROP TABLE payment_events;
DROP TABLE refunds;
DROP TABLE payments;
DROP TABLE shops;
