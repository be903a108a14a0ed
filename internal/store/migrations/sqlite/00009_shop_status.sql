-- Schema v9: a shop's status (connecting, connected, disabled, removed)
-- and the shop's own audit trail. The status follows the platform's
-- connection (Settings "status") until an operator disables or removes the
-- shop; DB.UpdateShop never moves a shop out of disabled or removed.
-- shop_events has no foreign key: the event of a removal outlives the
-- shop's row. Identical in both dialects but for the id line.

-- +goose Up
ALTER TABLE shops ADD COLUMN status TEXT NOT NULL DEFAULT 'connected'
    CHECK (status IN ('connecting', 'connected', 'disabled', 'removed'));
ALTER TABLE shops ADD COLUMN status_changed_at BIGINT;
-- Settings are JSON written by encoding/json (no spaces), so the platform's
-- unfinished connection states match verbatim.
UPDATE shops SET status = 'connecting'
    WHERE settings LIKE '%"status":"%' AND settings NOT LIKE '%"status":"connected"%'
      AND settings NOT LIKE '%"status":""%';

CREATE TABLE shop_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    shop_id     TEXT NOT NULL,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    from_status TEXT NOT NULL DEFAULT '',
    to_status   TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX shop_events_shop ON shop_events (shop_id, id);

-- +goose Down
DROP TABLE shop_events;
ALTER TABLE shops DROP COLUMN status_changed_at;
ALTER TABLE shops DROP COLUMN status;
