-- Schema v11: shop_version counts the changes to shops, by trigger, so
-- that a process keeping shops in memory (the store's shop cache) learns
-- from one small read that another process (the CLI, another replica)
-- changed one. The triggers differ by dialect (a store test allows it);
-- they do the same.

-- +goose Up
CREATE TABLE shop_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  BIGINT NOT NULL
);
INSERT INTO shop_version (id, n) VALUES (1, 0);
-- +goose StatementBegin
CREATE FUNCTION shop_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE shop_version SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER shops_version AFTER INSERT OR UPDATE OR DELETE ON shops
    FOR EACH STATEMENT EXECUTE FUNCTION shop_version_bump();

-- +goose Down
DROP TRIGGER shops_version ON shops;
DROP FUNCTION shop_version_bump();
DROP TABLE shop_version;
