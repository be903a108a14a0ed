-- Schema v4: what a payment asks of the gateway besides the charge (an
-- invoice the gateway sends, …) as the JSON of checkout.Options. Identical
-- in both dialects.

-- +goose Up
ALTER TABLE payments ADD COLUMN options TEXT NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE payments DROP COLUMN options;
