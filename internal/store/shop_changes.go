package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"paybridge/internal/checkout"
)

// Shop audit event kinds of changes made outside a status change.
const (
	// ShopEventCredentialsChanged records new gateway credentials; its
	// detail names the fields that changed, never their values.
	ShopEventCredentialsChanged = "shop_credentials_changed"
	// ShopEventConnectionChecked records a connection check and what it
	// found.
	ShopEventConnectionChecked = "shop_connection_checked"
)

// SetShopCredentials replaces the gateway credentials of shop id (sealed
// like the shop's other secrets), leaving every other field alone, and
// records a [ShopEventCredentialsChanged] event naming the fields that
// changed (not their values), in one transaction. Credentials equal to
// the stored ones change nothing and record nothing; it reports whether
// it wrote. A removed shop is an error wrapping [ErrShopRemoved]; an
// unknown one wraps [checkout.ErrNotFound]; a shop whose secrets do not
// open wraps [ErrUnreadableSecrets] (the fields that changed cannot be
// told).
func (db *DB) SetShopCredentials(ctx context.Context, id string, creds map[string]string, by ShopActor) (changed bool, err error) {
	defer db.shopsChanged()
	if err := by.check("set the credentials of shop " + id); err != nil {
		return false, err
	}
	plain, err := json.Marshal(creds)
	if err != nil {
		return false, fmt.Errorf("store: set the credentials of shop %s: %w", id, err)
	}
	sealed, err := db.kr.Seal(plain, shopAAD(id, colCredentials))
	if err != nil {
		return false, fmt.Errorf("store: set the credentials of shop %s: seal: %w", id, err)
	}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		changed = false
		var cur, stored string
		if err := shopInTx(ctx, tx, id, "status, gateway_credentials", &cur, &stored); err != nil {
			return err
		}
		if checkout.ShopStatus(cur) == checkout.ShopRemoved {
			return ErrShopRemoved
		}
		b, err := db.kr.Open(stored, shopAAD(id, colCredentials))
		if err != nil {
			return fmt.Errorf("%w: open %s: %w", ErrUnreadableSecrets, colCredentials, err)
		}
		var old map[string]string
		if err := json.Unmarshal(b, &old); err != nil {
			return fmt.Errorf("decode credentials: invalid JSON") // no plaintext in errors
		}
		var fields []string
		for _, k := range slices.Sorted(maps.Keys(mergeKeys(old, creds))) {
			if old[k] != creds[k] {
				fields = append(fields, k)
			}
		}
		if len(fields) == 0 {
			return nil
		}
		now := db.now().UTC()
		res, err := tx.ExecContext(ctx, `UPDATE shops SET gateway_credentials = $2, updated_at = $3
			WHERE id = $1 AND status = $4 AND gateway_credentials = $5`, id, sealed, micros(now), cur, stored)
		if err != nil {
			return writeErr("set the credentials of shop "+id, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = checkout.ErrConflict // written meanwhile: read again and decide again
			}
			return err
		}
		changed = true
		return insertShopEvent(ctx, tx, now, ShopEvent{ShopID: id, Kind: ShopEventCredentialsChanged, From: checkout.ShopStatus(cur),
			To: checkout.ShopStatus(cur), Source: by.Source, Detail: eventDetail(by, map[string]any{"fields": fields})})
	})
	if err != nil {
		return false, fmt.Errorf("store: set the credentials of shop %s: %w", id, err)
	}
	return changed, nil
}

func mergeKeys(a, b map[string]string) map[string]bool {
	m := make(map[string]bool, len(a)+len(b))
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

// RecordShopEvent appends e to its shop's audit trail (for an action that
// changes no column, such as a connection check). e.ShopID, e.Kind and
// e.Source are required; e.At is set to now. The detail must hold no
// secret.
func (db *DB) RecordShopEvent(ctx context.Context, e ShopEvent) error {
	if e.ShopID == "" || e.Kind == "" {
		return errors.New("store: record shop event: the shop and the kind are required")
	}
	if err := (ShopActor{Source: e.Source}).check("record " + e.Kind + " of shop " + e.ShopID); err != nil {
		return err
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error { return insertShopEvent(ctx, tx, db.now().UTC(), e) })
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}
