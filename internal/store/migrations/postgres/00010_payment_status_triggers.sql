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
CREATE FUNCTION payment_status_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO payment_status_counts (status, shard, n) VALUES (OLD.status, floor(random() * 16)::int, -1)
            ON CONFLICT (status, shard) DO UPDATE SET n = payment_status_counts.n + excluded.n;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO payment_status_counts (status, shard, n) VALUES (NEW.status, floor(random() * 16)::int, 1)
            ON CONFLICT (status, shard) DO UPDATE SET n = payment_status_counts.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER payments_count_insert AFTER INSERT OR DELETE ON payments
    FOR EACH ROW EXECUTE FUNCTION payment_status_count();
CREATE TRIGGER payments_count_update AFTER UPDATE OF status ON payments
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION payment_status_count();

-- +goose Down
DROP TRIGGER payments_count_update ON payments;
DROP TRIGGER payments_count_insert ON payments;
DROP FUNCTION payment_status_count();
