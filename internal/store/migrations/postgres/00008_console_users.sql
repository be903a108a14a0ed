-- Schema v8: the console's users and their sessions. Identical in both
-- dialects.
--
-- A user without shop_id is an operator (every shop); with one, a merchant
-- who sees only that shop, and who goes with the shop. email is kept in
-- lower case. password_hash is an argon2id PHC string ($argon2id$v=19$…).
--
-- A session is known by the SHA-256 of its cookie token (hex): the
-- database never holds a token that would open a session. It ends at
-- expires_at (absolute) or when last_seen_at is older than the idle limit.

-- +goose Up
CREATE TABLE console_users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    shop_id       TEXT REFERENCES shops (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL
);

CREATE TABLE console_sessions (
    token_hash   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- Serves the console's payment list (newest first, every shop or one).
CREATE INDEX payments_created ON payments (created_at, id);
CREATE INDEX payments_shop_created ON payments (shop_id, created_at);

-- +goose Down
DROP INDEX payments_shop_created;
DROP INDEX payments_created;
DROP TABLE console_sessions;
DROP TABLE console_users;
