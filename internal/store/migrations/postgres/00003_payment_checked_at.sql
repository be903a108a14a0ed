-- Schema v3: when the gateway was last asked about a payment, so that the
-- reconciler spaces its re-checks of old open payments instead of asking
-- every interval until they expire. Identical in both dialects.

-- +goose Up
ALTER TABLE payments ADD COLUMN checked_at BIGINT;

-- +goose Down
ALTER TABLE payments DROP COLUMN checked_at;
