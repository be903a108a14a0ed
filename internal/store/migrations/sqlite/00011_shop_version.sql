-- Schema v11: shop_version counts the changes to shops, by trigger, so
-- that a process keeping shops in memory (the store's shop cache) learns
-- from one small read that another process (the CLI, another replica)
-- changed one. The triggers differ by dialect (a store test allows it);
-- they do the same.

-- +goose Up
CREATE TABLE shop_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO shop_version (id, n) VALUES (1, 0);
-- +goose StatementBegin
CREATE TRIGGER shops_version_insert AFTER INSERT ON shops
BEGIN
    UPDATE shop_version SET n = n + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER shops_version_update AFTER UPDATE ON shops
BEGIN
    UPDATE shop_version SET n = n + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER shops_version_delete AFTER DELETE ON shops
BEGIN
    UPDATE shop_version SET n = n + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER shops_version_delete;
DROP TRIGGER shops_version_update;
DROP TRIGGER shops_version_insert;
DROP TABLE shop_version;
