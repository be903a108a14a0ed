-- Schema v10: the counts of payments by status (v7) are kept by triggers
-- instead of by the bridge: the write that changes a payment's status no
-- longer reads the old status first, and every writer (the CLI, a seed
-- script) keeps the counts right. A random one of the 16 shards takes each
-- change. The triggers differ by dialect (a store test allows it); they
-- do the same.
--
-- Upgrade every bridge process together: a bridge older than v10 still
-- counts by itself and would count twice.

-- +goose Up
-- +goose StatementBegin
CREATE TRIGGER payments_count_insert AFTER INSERT ON payments
BEGIN
    INSERT INTO payment_status_counts (status, shard, n) VALUES (NEW.status, random() & 15, 1)
        ON CONFLICT (status, shard) DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER payments_count_update AFTER UPDATE OF status ON payments
    WHEN OLD.status IS NOT NEW.status
BEGIN
    INSERT INTO payment_status_counts (status, shard, n) VALUES (OLD.status, random() & 15, -1)
        ON CONFLICT (status, shard) DO UPDATE SET n = n + excluded.n;
    INSERT INTO payment_status_counts (status, shard, n) VALUES (NEW.status, random() & 15, 1)
        ON CONFLICT (status, shard) DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER payments_count_delete AFTER DELETE ON payments
BEGIN
    INSERT INTO payment_status_counts (status, shard, n) VALUES (OLD.status, random() & 15, -1)
        ON CONFLICT (status, shard) DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER payments_count_delete;
DROP TRIGGER payments_count_update;
DROP TRIGGER payments_count_insert;
