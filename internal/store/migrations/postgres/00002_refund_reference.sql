-- Schema v2: a refund may carry the platform's own reference for it (a
-- Shopify refund session id, a WooCommerce refund id), so that a platform
-- retrying the same refund gets the same refund back. Identical in both
-- dialects.

-- +goose Up
ALTER TABLE refunds ADD COLUMN reference TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX refunds_reference ON refunds (payment_id, reference) WHERE reference <> '';

-- +goose Down
DROP INDEX refunds_reference;
ALTER TABLE refunds DROP COLUMN reference;
