package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"paybridge/internal/checkout"
)

func customerTokenAAD(shopID, gateway, customerID string) []byte {
	return []byte("paybridge/customer_tokens/" + shopID + "/" + gateway + "/" + customerID)
}

// CustomerToken returns the saved-card token of a shop's customer at a
// gateway, or checkout.ErrNotFound.
func (db *DB) CustomerToken(ctx context.Context, shopID, gateway, customerID string) (string, error) {
	var sealed sql.NullString
	err := db.queryRow(ctx, `SELECT token FROM customer_tokens WHERE shop_id = $1 AND gateway = $2 AND customer_id = $3`,
		shopID, gateway, customerID).Scan(&sealed)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: customer token of %s at %s: %w", shopID, gateway, err)
	}
	return db.openCustomerToken(shopID, gateway, customerID, sealed)
}

// PaymentByOrderWithToken is [DB.PaymentByOrder] and, when customerID is
// not "", [DB.CustomerToken], in one read: the ids are asked for first,
// and the payment's row read only when the order has one (a create's
// retry). err is PaymentByOrder's; token and tokenErr are CustomerToken's
// (tokenErr wraps checkout.ErrNotFound when customerID is "").
func (db *DB) PaymentByOrderWithToken(ctx context.Context, shopID, orderID, gateway, customerID string) (p *checkout.Payment, token string, tokenErr, err error) {
	var id, sealed sql.NullString
	err = db.queryRow(ctx, `SELECT (SELECT id FROM payments WHERE shop_id = $1 AND order_id = $2),
		(SELECT token FROM customer_tokens WHERE shop_id = $1 AND gateway = $3 AND customer_id = $4 AND $4 <> '')`,
		shopID, orderID, gateway, customerID).Scan(&id, &sealed)
	if err != nil {
		return nil, "", nil, fmt.Errorf("store: payment for shop %s order %s: %w", shopID, orderID, err)
	}
	token, tokenErr = db.openCustomerToken(shopID, gateway, customerID, sealed)
	if !id.Valid {
		return nil, token, tokenErr, fmt.Errorf("store: payment for shop %s order %s: %w", shopID, orderID, checkout.ErrNotFound)
	}
	p, err = db.PaymentByOrder(ctx, shopID, orderID)
	return p, token, tokenErr, err
}

// openCustomerToken opens a customer token as read (NULL: none).
func (db *DB) openCustomerToken(shopID, gateway, customerID string, sealed sql.NullString) (string, error) {
	if !sealed.Valid {
		return "", fmt.Errorf("store: customer token of %s at %s: %w", shopID, gateway, checkout.ErrNotFound)
	}
	b, err := db.kr.Open(sealed.String, customerTokenAAD(shopID, gateway, customerID))
	if err != nil {
		return "", fmt.Errorf("store: customer token of %s at %s: %w: %w", shopID, gateway, ErrUnreadableSecrets, err)
	}
	return string(b), nil
}

// PutCustomerToken keeps token as the customer's, sealed, unless the
// customer has one already (another request won a race): it returns the
// token that is kept.
func (db *DB) PutCustomerToken(ctx context.Context, shopID, gateway, customerID, token string) (string, error) {
	if shopID == "" || gateway == "" || customerID == "" || token == "" {
		return "", errors.New("store: put customer token: shop, gateway, customer and token are required")
	}
	sealed, err := db.kr.Seal([]byte(token), customerTokenAAD(shopID, gateway, customerID))
	if err != nil {
		return "", fmt.Errorf("store: seal customer token: %w", err)
	}
	if _, err := db.w.ExecContext(ctx, `INSERT INTO customer_tokens (shop_id, gateway, customer_id, token, created_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (shop_id, gateway, customer_id) DO NOTHING`,
		shopID, gateway, customerID, sealed, micros(db.now())); err != nil {
		return "", fmt.Errorf("store: put customer token of %s at %s: %w", shopID, gateway, err)
	}
	return db.CustomerToken(ctx, shopID, gateway, customerID)
}

// ForgetCustomer deletes a shop's customer's tokens at every gateway and
// returns how many went.
func (db *DB) ForgetCustomer(ctx context.Context, shopID, customerID string) (int64, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM customer_tokens WHERE shop_id = $1 AND customer_id = $2`, shopID, customerID)
	if err != nil {
		return 0, fmt.Errorf("store: forget customer of %s: %w", shopID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: forget customer of %s: %w", shopID, err)
	}
	return n, nil
}
