-- Schema v6: how a refund of a split payment divides between the vendors
-- (the JSON of []checkout.RefundSplit; 'null' for other refunds). Written
-- once, with the refund. Identical in both dialects.

-- +goose Up
ALTER TABLE refunds ADD COLUMN splits TEXT NOT NULL DEFAULT 'null';

-- +goose Down
ALTER TABLE refunds DROP COLUMN splits;
