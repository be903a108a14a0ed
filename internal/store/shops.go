package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"paybridge/internal/checkout"
)

const shopColumns = `id, name, platform, domain, gateway, gateway_sandbox, gateway_credentials,
	api_key_hash, webhook_secret, secrets, settings, created_at`

// Sealed shop columns. The AAD binds each ciphertext to its shop and column,
// so a value copied into another row or column does not open.
const (
	colCredentials   = "gateway_credentials"
	colWebhookSecret = "webhook_secret"
	colSecrets       = "secrets"
)

func shopAAD(shopID, column string) []byte {
	return []byte("paybridge/shops/" + shopID + "/" + column)
}

// shopRow is a Shop in column form, secrets sealed.
type shopRow struct {
	credentials, webhookSecret, secrets, settings string
}

func (db *DB) encodeShop(s *checkout.Shop) (shopRow, error) {
	var r shopRow
	if s.ID == "" {
		return r, errors.New("shop needs an id")
	}
	if s.Platform == "" {
		return r, fmt.Errorf("shop %s needs a platform", s.ID)
	}
	seal := func(column string, plain []byte) (string, error) {
		v, err := db.kr.Seal(plain, shopAAD(s.ID, column))
		if err != nil {
			return "", fmt.Errorf("shop %s: seal %s: %w", s.ID, column, err)
		}
		return v, nil
	}
	creds, err := json.Marshal(s.Gateway.Credentials)
	if err != nil {
		return r, fmt.Errorf("shop %s: encode credentials: %w", s.ID, err)
	}
	if r.credentials, err = seal(colCredentials, creds); err != nil {
		return r, err
	}
	if r.webhookSecret, err = seal(colWebhookSecret, []byte(s.WebhookSecret)); err != nil {
		return r, err
	}
	sec, err := json.Marshal(s.Secrets)
	if err != nil {
		return r, fmt.Errorf("shop %s: encode secrets: %w", s.ID, err)
	}
	if r.secrets, err = seal(colSecrets, sec); err != nil {
		return r, err
	}
	settings, err := json.Marshal(s.Settings)
	if err != nil {
		return r, fmt.Errorf("shop %s: encode settings: %w", s.ID, err)
	}
	r.settings = string(settings)
	return r, nil
}

// ErrUnreadableSecrets marks a shop (or a saved-card token) whose sealed
// values no key of the keyring opens (the key that sealed them is not
// configured, or a value was altered). Errors wrapping it also wrap the
// [secrets] error saying which.
var ErrUnreadableSecrets = errors.New("its secrets cannot be opened with the configured keys (see `bridge keys check`)")

func (db *DB) scanShop(sc rowScanner) (*checkout.Shop, error) {
	s, err := db.scanShopRow(sc)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// scanShopRow scans a shop. When its secrets do not open, it returns the
// shop without them (credentials, webhook secret and secrets empty)
// together with an error wrapping [ErrUnreadableSecrets]; other errors
// come with a nil shop.
func (db *DB) scanShopRow(sc rowScanner) (*checkout.Shop, error) {
	var (
		s       checkout.Shop
		r       shopRow
		created int64
	)
	err := sc.Scan(&s.ID, &s.Name, &s.Platform, &s.Domain, &s.Gateway.Gateway, &s.Gateway.Sandbox, &r.credentials,
		&s.APIKeyHash, &r.webhookSecret, &r.secrets, &r.settings, &created)
	if err != nil {
		return nil, err
	}
	s.CreatedAt = fromMicros(created)
	if err := json.Unmarshal([]byte(r.settings), &s.Settings); err != nil {
		return nil, fmt.Errorf("shop %s: decode settings: %w", s.ID, err)
	}
	bare := s
	open := func(column, sealed string) ([]byte, error) {
		b, err := db.kr.Open(sealed, shopAAD(s.ID, column))
		if err != nil {
			return nil, fmt.Errorf("shop %s: %w: open %s: %w", s.ID, ErrUnreadableSecrets, column, err)
		}
		return b, nil
	}
	b, err := open(colCredentials, r.credentials)
	if err != nil {
		return &bare, err
	}
	if err := json.Unmarshal(b, &s.Gateway.Credentials); err != nil {
		return nil, fmt.Errorf("shop %s: decode credentials: invalid JSON", s.ID) // no plaintext in errors
	}
	if b, err = open(colWebhookSecret, r.webhookSecret); err != nil {
		return &bare, err
	}
	s.WebhookSecret = string(b)
	if b, err = open(colSecrets, r.secrets); err != nil {
		return &bare, err
	}
	if err := json.Unmarshal(b, &s.Secrets); err != nil {
		return nil, fmt.Errorf("shop %s: decode secrets: invalid JSON", s.ID)
	}
	return &s, nil
}

// CreateShop inserts s, sealing its gateway credentials, webhook secret
// and platform secrets. A zero CreatedAt is set to now. It returns an error
// wrapping [checkout.ErrDuplicate] when the id, the API key hash or the
// (platform, domain) pair is taken.
func (db *DB) CreateShop(ctx context.Context, s *checkout.Shop) error {
	r, err := db.encodeShop(s)
	if err != nil {
		return fmt.Errorf("store: create shop: %w", err)
	}
	now := db.now().UTC().Truncate(time.Microsecond)
	created := orNow(s.CreatedAt, now)
	_, err = db.w.ExecContext(ctx, `INSERT INTO shops (`+shopColumns+`, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		s.ID, s.Name, s.Platform, s.Domain, s.Gateway.Gateway, s.Gateway.Sandbox, r.credentials,
		s.APIKeyHash, r.webhookSecret, r.secrets, r.settings, micros(created), micros(now))
	if err != nil {
		return writeErr("create shop "+s.ID, err)
	}
	s.CreatedAt = created
	return nil
}

// UpdateShop overwrites every field of the stored shop s.ID except its
// creation time, re-sealing the secrets (with the keyring's primary key, so
// it also completes a key rotation for that shop). It returns an error
// wrapping [checkout.ErrNotFound] for an unknown shop and
// [checkout.ErrDuplicate] when the new API key hash or domain is taken.
func (db *DB) UpdateShop(ctx context.Context, s *checkout.Shop) error {
	r, err := db.encodeShop(s)
	if err != nil {
		return fmt.Errorf("store: update shop: %w", err)
	}
	res, err := db.w.ExecContext(ctx, `UPDATE shops SET name = $2, platform = $3, domain = $4, gateway = $5,
		gateway_sandbox = $6, gateway_credentials = $7, api_key_hash = $8, webhook_secret = $9, secrets = $10,
		settings = $11, updated_at = $12 WHERE id = $1`,
		s.ID, s.Name, s.Platform, s.Domain, s.Gateway.Gateway, s.Gateway.Sandbox, r.credentials,
		s.APIKeyHash, r.webhookSecret, r.secrets, r.settings, micros(db.now()))
	if err != nil {
		return writeErr("update shop "+s.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: update shop %s: %w", s.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("store: update shop %s: %w", s.ID, checkout.ErrNotFound)
	}
	return nil
}

// Shop returns the shop with the given id, secrets opened, or an error
// wrapping [checkout.ErrNotFound].
func (db *DB) Shop(ctx context.Context, id string) (*checkout.Shop, error) {
	s, err := db.scanShop(db.r.QueryRowContext(ctx, `SELECT `+shopColumns+` FROM shops WHERE id = $1`, id))
	return s, notFound(err, "shop "+id)
}

// ShopByAPIKeyHash returns the shop whose API key hashes to hash (SHA-256,
// hex), or an error wrapping [checkout.ErrNotFound]. An empty hash never
// matches.
func (db *DB) ShopByAPIKeyHash(ctx context.Context, hash string) (*checkout.Shop, error) {
	if hash == "" {
		return nil, fmt.Errorf("store: shop by API key: empty hash: %w", checkout.ErrNotFound)
	}
	s, err := db.scanShop(db.r.QueryRowContext(ctx, `SELECT `+shopColumns+` FROM shops WHERE api_key_hash = $1`, hash))
	return s, notFound(err, "shop by API key")
}

// ShopByDomain returns the platform's shop at domain, or an error wrapping
// [checkout.ErrNotFound]. An empty domain never matches.
func (db *DB) ShopByDomain(ctx context.Context, platform, domain string) (*checkout.Shop, error) {
	if domain == "" {
		return nil, fmt.Errorf("store: shop by domain: empty domain: %w", checkout.ErrNotFound)
	}
	s, err := db.scanShop(db.r.QueryRowContext(ctx,
		`SELECT `+shopColumns+` FROM shops WHERE platform = $1 AND domain = $2`, platform, domain))
	return s, notFound(err, fmt.Sprintf("%s shop %s", platform, domain))
}

// ListShops returns every shop whose secrets open, oldest first, secrets
// opened. Shops whose secrets no configured key opens are left out, so that
// one of them does not stop the work on the others; [DB.ShopListing] lists
// them too.
func (db *DB) ListShops(ctx context.Context) ([]*checkout.Shop, error) {
	all, err := db.ShopListing(ctx)
	if err != nil {
		return nil, err
	}
	shops := make([]*checkout.Shop, 0, len(all))
	for _, l := range all {
		if l.Err == nil {
			shops = append(shops, l.Shop)
		}
	}
	return shops, nil
}

// ListedShop is one shop of [DB.ShopListing].
type ListedShop struct {
	// Shop is the shop; without its credentials, webhook secret and
	// secrets when Err is set.
	Shop *checkout.Shop
	// Err, when set, wraps [ErrUnreadableSecrets]: the shop's secrets do
	// not open with the configured keys.
	Err error
}

// ShopListing returns every shop, oldest first, with its secrets opened or
// the reason they do not open.
func (db *DB) ShopListing(ctx context.Context) ([]ListedShop, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+shopColumns+` FROM shops ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: list shops: %w", err)
	}
	defer rows.Close()
	var shops []ListedShop
	for rows.Next() {
		s, err := db.scanShopRow(rows)
		if err != nil && (s == nil || !errors.Is(err, ErrUnreadableSecrets)) {
			return nil, fmt.Errorf("store: list shops: %w", err)
		}
		shops = append(shops, ListedShop{Shop: s, Err: err})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list shops: %w", err)
	}
	return shops, nil
}

// RecordReceipt notes that the webhook or notification id from source was
// received, and reports whether this is the first time. Use it to drop
// replays; the row is written whether or not processing later succeeds, so
// record only once the delivery is durably handled (or accept its loss).
func (db *DB) RecordReceipt(ctx context.Context, source, id string) (first bool, err error) {
	if source == "" || id == "" {
		return false, errors.New("store: record receipt: source and id are required")
	}
	res, err := db.w.ExecContext(ctx, `INSERT INTO webhook_receipts (source, receipt_id, received_at)
		VALUES ($1, $2, $3) ON CONFLICT (source, receipt_id) DO NOTHING`, source, id, micros(db.now()))
	if err != nil {
		return false, fmt.Errorf("store: record receipt %s/%s: %w", source, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: record receipt %s/%s: %w", source, id, err)
	}
	return n == 1, nil
}

// PruneReceipts deletes receipts received before before and returns how
// many went.
func (db *DB) PruneReceipts(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM webhook_receipts WHERE received_at < $1`, micros(before))
	if err != nil {
		return 0, fmt.Errorf("store: prune receipts: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: prune receipts: %w", err)
	}
	return n, nil
}

// OAuthState is a pending OAuth (or install) flow, as stored by
// [DB.PutOAuthState].
type OAuthState struct {
	// Platform is the platform the flow is for ("shopify").
	Platform string
	// ShopDomain is the store the flow was started for, if known.
	ShopDomain string
	// Purpose is the caller's label for the flow ("install", "connect").
	Purpose string
	// CreatedAt is when the state was put; ExpiresAt is its deadline.
	CreatedAt time.Time
	ExpiresAt time.Time
}

// stateKey is how a state is stored: its SHA-256, so that a database
// reader cannot complete a flow in progress.
func stateKey(state string) string {
	h := sha256.Sum256([]byte("paybridge/oauth-state\x00" + state))
	return hex.EncodeToString(h[:])
}

// PutOAuthState records state (a random nonce the caller generated) for a
// flow that must complete before expires. It returns an error wrapping
// [checkout.ErrDuplicate] if the state exists.
func (db *DB) PutOAuthState(ctx context.Context, state, platform, shopDomain, purpose string, expires time.Time) error {
	if state == "" || platform == "" {
		return errors.New("store: put oauth state: state and platform are required")
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO oauth_states (state, platform, shop_domain, purpose, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, stateKey(state), platform, shopDomain, purpose, micros(db.now()), micros(expires))
	if err != nil {
		return writeErr("put oauth state", err)
	}
	return nil
}

// TakeOAuthState consumes state: it succeeds once, and only before the
// state expires. Otherwise — unknown, already used or expired, which are
// deliberately not told apart — it returns an error wrapping
// [checkout.ErrNotFound].
func (db *DB) TakeOAuthState(ctx context.Context, state string) (*OAuthState, error) {
	var (
		st               OAuthState
		created, expires int64
	)
	now := micros(db.now())
	err := db.w.QueryRowContext(ctx, `UPDATE oauth_states SET used_at = $1
		WHERE state = $2 AND used_at IS NULL AND expires_at > $1
		RETURNING platform, shop_domain, purpose, created_at, expires_at`, now, stateKey(state)).
		Scan(&st.Platform, &st.ShopDomain, &st.Purpose, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: oauth state unknown, used or expired: %w", checkout.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: take oauth state: %w", err)
	}
	st.CreatedAt, st.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &st, nil
}

// PruneOAuthStates deletes states that expired before before and returns
// how many went.
func (db *DB) PruneOAuthStates(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM oauth_states WHERE expires_at < $1`, micros(before))
	if err != nil {
		return 0, fmt.Errorf("store: prune oauth states: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: prune oauth states: %w", err)
	}
	return n, nil
}
