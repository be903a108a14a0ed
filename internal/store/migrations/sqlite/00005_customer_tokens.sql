-- Schema v5: the token under which a gateway keeps a customer's saved
-- cards (UPayments customerUniqueToken, Checkout.com KFast), one per shop,
-- gateway and customer (the store's id for them). The token is sealed; the
-- AAD binds it to its row. Identical in both dialects.

-- +goose Up
CREATE TABLE customer_tokens (
    shop_id      TEXT NOT NULL,
    gateway      TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    token        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (shop_id, gateway, customer_id)
);

-- +goose Down
DROP TABLE customer_tokens;
