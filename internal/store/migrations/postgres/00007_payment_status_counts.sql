-- Schema v7: how many payments are in each status, kept as the payments
-- change (in the same transaction) so that /metrics reads a few rows
-- instead of counting every payment. Spread over 16 shards per status so
-- that concurrent writers rarely wait on one row; a reader sums them.
-- Identical in both dialects.

-- +goose Up
CREATE TABLE payment_status_counts (
    status TEXT    NOT NULL,
    shard  INTEGER NOT NULL,
    n      BIGINT  NOT NULL,
    PRIMARY KEY (status, shard)
);
INSERT INTO payment_status_counts (status, shard, n)
    SELECT status, 0, COUNT(*) FROM payments GROUP BY status;

-- +goose Down
DROP TABLE payment_status_counts;
