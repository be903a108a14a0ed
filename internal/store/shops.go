package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"paybridge/internal/checkout"
)

const shopColumns = `id, name, platform, domain, gateway, gateway_sandbox, gateway_credentials,
	api_key_hash, webhook_secret, secrets, settings, created_at, status`

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
		status  string
	)
	err := sc.Scan(&s.ID, &s.Name, &s.Platform, &s.Domain, &s.Gateway.Gateway, &s.Gateway.Sandbox, &r.credentials,
		&s.APIKeyHash, &r.webhookSecret, &r.secrets, &r.settings, &created, &status)
	if err != nil {
		return nil, err
	}
	s.CreatedAt, s.Status = fromMicros(created), checkout.ShopStatus(status)
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
// and platform secrets. A zero CreatedAt is set to now; s.Status is set to
// the status its settings give ([checkout.ConnectionStatus]: a shop is
// created connecting or connected, whatever s.Status said). It returns an
// error wrapping [checkout.ErrDuplicate] when the id, the API key hash or
// the (platform, domain) pair is taken.
func (db *DB) CreateShop(ctx context.Context, s *checkout.Shop) error {
	defer db.shopsChanged()
	r, err := db.encodeShop(s)
	if err != nil {
		return fmt.Errorf("store: create shop: %w", err)
	}
	now := db.now().UTC().Truncate(time.Microsecond)
	created := orNow(s.CreatedAt, now)
	status := checkout.ConnectionStatus(s.Settings)
	_, err = db.w.ExecContext(ctx, `INSERT INTO shops (`+shopColumns+`, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		s.ID, s.Name, s.Platform, s.Domain, s.Gateway.Gateway, s.Gateway.Sandbox, r.credentials,
		s.APIKeyHash, r.webhookSecret, r.secrets, r.settings, micros(created), string(status), micros(now))
	if err != nil {
		return writeErr("create shop "+s.ID, err)
	}
	s.CreatedAt, s.Status = created, status
	return nil
}

// UpdateShop overwrites every field of the stored shop s.ID except its
// creation time and status, re-sealing the secrets (with the keyring's
// primary key, so it also completes a key rotation for that shop). The
// status follows the new settings ([checkout.ConnectionStatus]) unless an
// operator disabled the shop, which stays disabled ([DB.EnableShop]). It
// returns an error wrapping [checkout.ErrNotFound] for an unknown or
// removed shop (a platform's write must not bring back the secrets
// [DB.RemoveShop] erased) and [checkout.ErrDuplicate] when the new API key
// hash or domain is taken.
func (db *DB) UpdateShop(ctx context.Context, s *checkout.Shop) error {
	defer db.shopsChanged()
	r, err := db.encodeShop(s)
	if err != nil {
		return fmt.Errorf("store: update shop: %w", err)
	}
	res, err := db.w.ExecContext(ctx, `UPDATE shops SET name = $2, platform = $3, domain = $4, gateway = $5,
		gateway_sandbox = $6, gateway_credentials = $7, api_key_hash = $8, webhook_secret = $9, secrets = $10,
		settings = $11, updated_at = $12,
		status = CASE WHEN status = '`+string(checkout.ShopDisabled)+`' THEN status ELSE $13 END
		WHERE id = $1 AND status <> '`+string(checkout.ShopRemoved)+`'`,
		s.ID, s.Name, s.Platform, s.Domain, s.Gateway.Gateway, s.Gateway.Sandbox, r.credentials,
		s.APIKeyHash, r.webhookSecret, r.secrets, r.settings, micros(db.now()), string(checkout.ConnectionStatus(s.Settings)))
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
// wrapping [checkout.ErrNotFound]. A removed shop is returned (with its
// status, its secrets erased), so that the payments it left open can
// still be confirmed; the lookups by API key and domain never find one.
func (db *DB) Shop(ctx context.Context, id string) (*checkout.Shop, error) {
	s, err := db.cachedShop(ctx, "id\x00"+id, func() (*checkout.Shop, error) {
		return db.scanShop(db.queryRow(ctx, `SELECT `+shopColumns+` FROM shops WHERE id = $1`, id))
	})
	return s, notFound(err, "shop "+id)
}

// ShopByAPIKeyHash returns the shop whose API key hashes to hash (SHA-256,
// hex), or an error wrapping [checkout.ErrNotFound]. An empty hash never
// matches.
func (db *DB) ShopByAPIKeyHash(ctx context.Context, hash string) (*checkout.Shop, error) {
	if hash == "" {
		return nil, fmt.Errorf("store: shop by API key: empty hash: %w", checkout.ErrNotFound)
	}
	s, err := db.cachedShop(ctx, "key\x00"+hash, func() (*checkout.Shop, error) {
		return db.scanShop(db.queryRow(ctx, `SELECT `+shopColumns+` FROM shops WHERE api_key_hash = $1`, hash))
	})
	return s, notFound(err, "shop by API key")
}

// ShopByDomain returns the platform's shop at domain, or an error wrapping
// [checkout.ErrNotFound]. An empty domain never matches.
func (db *DB) ShopByDomain(ctx context.Context, platform, domain string) (*checkout.Shop, error) {
	if domain == "" {
		return nil, fmt.Errorf("store: shop by domain: empty domain: %w", checkout.ErrNotFound)
	}
	s, err := db.cachedShop(ctx, "domain\x00"+platform+"\x00"+domain, func() (*checkout.Shop, error) {
		return db.scanShop(db.queryRow(ctx,
			`SELECT `+shopColumns+` FROM shops WHERE platform = $1 AND domain = $2`, platform, domain))
	})
	return s, notFound(err, fmt.Sprintf("%s shop %s", platform, domain))
}

// ListShops returns every shop whose secrets open and that was not
// removed, oldest first, secrets opened. Shops whose secrets no configured
// key opens are left out, so that one of them does not stop the work on
// the others; [DB.ShopListing] lists them too, and the removed ones.
func (db *DB) ListShops(ctx context.Context) ([]*checkout.Shop, error) {
	all, err := db.ShopListing(ctx)
	if err != nil {
		return nil, err
	}
	shops := make([]*checkout.Shop, 0, len(all))
	for _, l := range all {
		if l.Err == nil && l.Shop.Status != checkout.ShopRemoved {
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

// ShopListing returns every shop, removed ones included, oldest first,
// with its secrets opened or the reason they do not open.
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

// Shop audit event kinds ([ShopEvent.Kind]).
const (
	ShopEventDisabled   = "shop_disabled"
	ShopEventEnabled    = "shop_enabled"
	ShopEventRemoved    = "shop_removed"
	ShopEventKeyRotated = "shop_key_rotated"
)

// ShopEvent is one entry of a shop's audit trail: a change of its status
// or of its credentials, by whom and why. Like the payments' events, they
// are never updated or deleted, and they outlive a deleted shop.
type ShopEvent struct {
	ID     int64
	ShopID string
	At     time.Time
	Kind   string
	From   checkout.ShopStatus
	To     checkout.ShopStatus
	// Source says who asked ("cli", a console user).
	Source string
	// Detail is JSON: the reason given, what a removal kept or erased.
	// It never holds a secret.
	Detail json.RawMessage
}

// ShopActor is who asks for a change of a shop, and why, as its audit
// event records it.
type ShopActor struct {
	// Source names them ("cli", "console:ops@example.com"); required.
	Source string
	// Reason is optional free text.
	Reason string
}

func (a ShopActor) check(what string) error {
	if strings.TrimSpace(a.Source) == "" {
		return fmt.Errorf("store: %s: the change needs a source for its audit event", what)
	}
	return nil
}

// ErrShopRemoved marks a change refused because the shop was removed.
var ErrShopRemoved = errors.New("the shop was removed")

// shopCASAttempts bounds the compare-and-set loops on a shop's status.
const shopCASAttempts = 8

// inTx runs fn in a write transaction, committing when it returns nil.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func insertShopEvent(ctx context.Context, tx *sql.Tx, at time.Time, e ShopEvent) error {
	d := e.Detail
	if len(d) == 0 {
		d = json.RawMessage(`{}`)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO shop_events (shop_id, at, kind, from_status, to_status, source, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.ShopID, micros(at), e.Kind, string(e.From), string(e.To), e.Source, string(d))
	if err != nil {
		return fmt.Errorf("record %s of shop %s: %w", e.Kind, e.ShopID, err)
	}
	return nil
}

// eventDetail is the JSON detail of a shop event: the reason, when one
// was given, and extra fields.
func eventDetail(by ShopActor, extra map[string]any) json.RawMessage {
	m := maps.Clone(extra)
	if m == nil {
		m = map[string]any{}
	}
	if r := strings.TrimSpace(by.Reason); r != "" {
		m["reason"] = r
	}
	b, _ := json.Marshal(m) // strings, numbers and booleans only
	return b
}

// shopInTx reads columns of shop id in tx into dest, or fails wrapping
// checkout.ErrNotFound for a shop that does not exist.
func shopInTx(ctx context.Context, tx *sql.Tx, id, columns string, dest ...any) error {
	err := tx.QueryRowContext(ctx, `SELECT `+columns+` FROM shops WHERE id = $1`, id).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("shop %s: %w", id, checkout.ErrNotFound)
	}
	return err
}

// setShopStatus moves shop id from a status allowed by from to the status
// next returns for it (given its settings), with an audit event, in one
// transaction. The write is a compare-and-set on the status and settings
// it read, retried when a platform wrote the shop meanwhile. It returns the
// status before and after; equal when there was nothing to do.
func (db *DB) setShopStatus(ctx context.Context, id, what, kind string, by ShopActor,
	next func(cur checkout.ShopStatus, settings string) (checkout.ShopStatus, error)) (from, to checkout.ShopStatus, err error) {
	defer db.shopsChanged()
	if err := by.check(what + " shop " + id); err != nil {
		return "", "", err
	}
	for range shopCASAttempts {
		var (
			cur      string
			settings string
			won      bool
		)
		err = db.inTx(ctx, func(tx *sql.Tx) error {
			if err := shopInTx(ctx, tx, id, "status, settings", &cur, &settings); err != nil {
				return err
			}
			from = checkout.ShopStatus(cur)
			if to, err = next(from, settings); err != nil {
				return err
			}
			if to == from {
				won = true
				return nil
			}
			now := db.now().UTC()
			res, err := tx.ExecContext(ctx, `UPDATE shops SET status = $2, status_changed_at = $3, updated_at = $3
				WHERE id = $1 AND status = $4 AND settings = $5`, id, string(to), micros(now), cur, settings)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return err // lost to another writer: read again
			}
			won = true
			return insertShopEvent(ctx, tx, now, ShopEvent{ShopID: id, Kind: kind, From: from, To: to,
				Source: by.Source, Detail: eventDetail(by, nil)})
		})
		if err != nil {
			return "", "", fmt.Errorf("store: %s shop %s: %w", what, id, err)
		}
		if won {
			return from, to, nil
		}
	}
	return "", "", fmt.Errorf("store: %s shop %s: %w", what, id, checkout.ErrConflict)
}

// DisableShop disables a connecting or connected shop: the core refuses
// its new payments ([checkout.ErrShopDisabled]) and goes on confirming,
// syncing and refunding the ones started before. It returns the status
// the shop had; disabling a disabled shop changes nothing and returns
// [checkout.ShopDisabled]. A removed shop is an error wrapping
// [ErrShopRemoved]; an unknown one wraps [checkout.ErrNotFound].
func (db *DB) DisableShop(ctx context.Context, id string, by ShopActor) (was checkout.ShopStatus, err error) {
	was, _, err = db.setShopStatus(ctx, id, "disable", ShopEventDisabled, by, func(cur checkout.ShopStatus, _ string) (checkout.ShopStatus, error) {
		if cur == checkout.ShopRemoved {
			return "", ErrShopRemoved
		}
		return checkout.ShopDisabled, nil
	})
	return was, err
}

// EnableShop enables a disabled shop again: it is connecting or connected
// as its platform's settings say ([checkout.ConnectionStatus]), and
// returned. Enabling a shop that is not disabled changes nothing and
// returns its status. A removed shop is an error wrapping
// [ErrShopRemoved]; an unknown one wraps [checkout.ErrNotFound].
func (db *DB) EnableShop(ctx context.Context, id string, by ShopActor) (checkout.ShopStatus, error) {
	_, to, err := db.setShopStatus(ctx, id, "enable", ShopEventEnabled, by, func(cur checkout.ShopStatus, settings string) (checkout.ShopStatus, error) {
		switch cur {
		case checkout.ShopRemoved:
			return "", ErrShopRemoved
		case checkout.ShopDisabled:
			var m map[string]string
			if err := json.Unmarshal([]byte(settings), &m); err != nil {
				return "", fmt.Errorf("decode settings: %w", err)
			}
			return checkout.ConnectionStatus(m), nil
		}
		return cur, nil
	})
	return to, err
}

// ShopEvents returns a shop's audit trail, oldest first.
func (db *DB) ShopEvents(ctx context.Context, shopID string) ([]ShopEvent, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, shop_id, at, kind, from_status, to_status, source, detail
		FROM shop_events WHERE shop_id = $1 ORDER BY id`, shopID)
	if err != nil {
		return nil, fmt.Errorf("store: events of shop %s: %w", shopID, err)
	}
	defer rows.Close()
	var evs []ShopEvent
	for rows.Next() {
		var (
			e           ShopEvent
			at          int64
			from, to, d string
		)
		if err := rows.Scan(&e.ID, &e.ShopID, &at, &e.Kind, &from, &to, &e.Source, &d); err != nil {
			return nil, fmt.Errorf("store: events of shop %s: %w", shopID, err)
		}
		e.At, e.From, e.To, e.Detail = fromMicros(at), checkout.ShopStatus(from), checkout.ShopStatus(to), json.RawMessage(d)
		evs = append(evs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: events of shop %s: %w", shopID, err)
	}
	return evs, nil
}

// RotateShopKey replaces the shop's API key hash and webhook secret (the
// caller made both and shows them once); the old ones stop working with
// the commit. The secret is sealed like the shop's others. It records an
// audit event without either value. A removed shop is an error wrapping
// [ErrShopRemoved]; an unknown one wraps [checkout.ErrNotFound].
func (db *DB) RotateShopKey(ctx context.Context, id, apiKeyHash, webhookSecret string, by ShopActor) error {
	defer db.shopsChanged()
	if err := by.check("rotate the key of shop " + id); err != nil {
		return err
	}
	if apiKeyHash == "" || webhookSecret == "" {
		return fmt.Errorf("store: rotate the key of shop %s: the API key hash and the webhook secret are required", id)
	}
	sealed, err := db.kr.Seal([]byte(webhookSecret), shopAAD(id, colWebhookSecret))
	if err != nil {
		return fmt.Errorf("store: rotate the key of shop %s: seal %s: %w", id, colWebhookSecret, err)
	}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		var cur string
		if err := shopInTx(ctx, tx, id, "status", &cur); err != nil {
			return err
		}
		if checkout.ShopStatus(cur) == checkout.ShopRemoved {
			return ErrShopRemoved
		}
		now := db.now().UTC()
		res, err := tx.ExecContext(ctx, `UPDATE shops SET api_key_hash = $2, webhook_secret = $3, updated_at = $4
			WHERE id = $1 AND status = $5`, id, apiKeyHash, sealed, micros(now), cur)
		if err != nil {
			return writeErr("rotate the key of shop "+id, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = checkout.ErrConflict // its status changed meanwhile: run it again
			}
			return err
		}
		return insertShopEvent(ctx, tx, now, ShopEvent{ShopID: id, Kind: ShopEventKeyRotated, From: checkout.ShopStatus(cur),
			To: checkout.ShopStatus(cur), Source: by.Source, Detail: eventDetail(by, map[string]any{"rotated": "api_key, webhook_secret"})})
	})
	if err != nil {
		return fmt.Errorf("store: rotate the key of shop %s: %w", id, err)
	}
	return nil
}

// OpenPayment is a payment not final yet, as [DB.RemoveShop] lists it.
type OpenPayment struct {
	ID        string
	OrderID   string
	Status    checkout.Status
	Amount    checkout.Money
	CreatedAt time.Time
}

// maxOpenListed bounds the open payments a refused removal lists.
const maxOpenListed = 20

// OpenPaymentsError is [DB.RemoveShop]'s refusal: the shop has payments
// that are not final. It wraps [ErrOpenPayments].
type OpenPaymentsError struct {
	ShopID string
	// Count is how many are open; Open lists the oldest of them (at most
	// 20).
	Count int
	Open  []OpenPayment
}

// ErrOpenPayments is wrapped by [OpenPaymentsError].
var ErrOpenPayments = errors.New("the shop has payments that are not final")

func (e *OpenPaymentsError) Error() string {
	return fmt.Sprintf("shop %s has %d payment(s) that are not final", e.ShopID, e.Count)
}

func (e *OpenPaymentsError) Unwrap() error { return ErrOpenPayments }

// ShopRemoval says what [DB.RemoveShop] did.
type ShopRemoval struct {
	// Deleted is true when the shop had no payment at all: its row is
	// gone. Otherwise the row stays, status removed, as the owner of its
	// Payments, whose refunds and audit trails are kept.
	Deleted  bool
	Payments int
	// Open are the payments that were not final (removed with force).
	Open []OpenPayment
	// OpenCount counts them.
	OpenCount int
	// GatewayKept is true when open payments remain: the shop's gateway
	// account is kept, sealed, so that they can still be confirmed (their
	// result is recorded). Remove the shop again once they are final to
	// erase it.
	GatewayKept bool
	// Unchanged is true when the shop was removed before and there was
	// nothing more to erase.
	Unchanged bool
}

// RemoveShop removes a shop. Without force it refuses, with an
// [*OpenPaymentsError], while the shop has payments that are not final.
//
// A shop without any payment is deleted (row and saved-card tokens). A
// shop with payments is not: its payments, refunds and their audit trails
// are the merchant's financial record (disputes and chargebacks arrive
// months later, accounts must be kept for years) and the payments' audit
// trail is append-only. Its row stays as their owner, status removed, with
// every way to act as the shop erased at once: the API key hash, the
// domain (the store may connect again, as a new shop), the webhook secret
// (replaced by a random one nobody knows), the platform secrets and
// settings, the saved-card tokens, and the gateway credentials — kept
// only while open payments remain (force), so that their results still
// come in; removing the shop again erases them. The removal is an audit
// event ([ShopEventRemoved]), kept even when the row goes. Removing a
// removed shop with nothing left to erase changes nothing. An unknown shop
// is an error wrapping [checkout.ErrNotFound].
func (db *DB) RemoveShop(ctx context.Context, id string, force bool, by ShopActor) (*ShopRemoval, error) {
	defer db.shopsChanged()
	if err := by.check("remove shop " + id); err != nil {
		return nil, err
	}
	// Sealed before the transaction: the values of a removed shop.
	whsec := make([]byte, 32)
	if _, err := rand.Read(whsec); err != nil {
		return nil, fmt.Errorf("store: remove shop %s: %w", id, err)
	}
	sealedWH, err := db.kr.Seal([]byte(hex.EncodeToString(whsec)), shopAAD(id, colWebhookSecret))
	if err != nil {
		return nil, fmt.Errorf("store: remove shop %s: seal: %w", id, err)
	}
	sealedSecrets, err := db.kr.Seal([]byte(`{}`), shopAAD(id, colSecrets))
	if err != nil {
		return nil, fmt.Errorf("store: remove shop %s: seal: %w", id, err)
	}
	sealedCreds, err := db.kr.Seal([]byte(`{}`), shopAAD(id, colCredentials))
	if err != nil {
		return nil, fmt.Errorf("store: remove shop %s: seal: %w", id, err)
	}
	var out ShopRemoval
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		out = ShopRemoval{}
		var cur, creds string
		if err := shopInTx(ctx, tx, id, "status, gateway_credentials", &cur, &creds); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM payments WHERE shop_id = $1`, id).Scan(&out.Payments); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM payments WHERE shop_id = $1 AND status NOT IN `+finalStatuses,
			id).Scan(&out.OpenCount); err != nil {
			return err
		}
		if out.OpenCount > 0 {
			if out.Open, err = openPayments(ctx, tx, id); err != nil {
				return err
			}
			if !force {
				return &OpenPaymentsError{ShopID: id, Count: out.OpenCount, Open: out.Open}
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM customer_tokens WHERE shop_id = $1`, id); err != nil {
			return err
		}
		now := db.now().UTC()
		from := checkout.ShopStatus(cur)
		detail := map[string]any{"payments": out.Payments, "open_payments": out.OpenCount, "forced": force && out.OpenCount > 0}
		if out.Payments == 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM shops WHERE id = $1`, id); err != nil {
				return err
			}
			out.Deleted, detail["deleted"] = true, true
		} else {
			out.GatewayKept = out.OpenCount > 0
			if from == checkout.ShopRemoved {
				if out.GatewayKept {
					out.Unchanged = true // still needed by the open payments
					return nil
				}
				if b, err := db.kr.Open(creds, shopAAD(id, colCredentials)); err == nil && string(b) == "{}" {
					out.Unchanged = true // erased already
					return nil
				}
			}
			newCreds := sealedCreds
			if out.GatewayKept {
				newCreds = creds
			}
			if _, err := tx.ExecContext(ctx, `UPDATE shops SET status = $2, status_changed_at = $3, updated_at = $3,
				api_key_hash = '', domain = '', webhook_secret = $4, secrets = $5, settings = '{}', gateway_credentials = $6
				WHERE id = $1`, id, string(checkout.ShopRemoved), micros(now), sealedWH, sealedSecrets, newCreds); err != nil {
				return err
			}
			detail["gateway_account_kept"] = out.GatewayKept
		}
		return insertShopEvent(ctx, tx, now, ShopEvent{ShopID: id, Kind: ShopEventRemoved, From: from, To: checkout.ShopRemoved,
			Source: by.Source, Detail: eventDetail(by, detail)})
	})
	var oe *OpenPaymentsError
	if errors.As(err, &oe) {
		return nil, oe
	}
	if err != nil {
		return nil, fmt.Errorf("store: remove shop %s: %w", id, err)
	}
	return &out, nil
}

// openPayments lists the oldest of a shop's payments that are not final.
func openPayments(ctx context.Context, tx *sql.Tx, shopID string) ([]OpenPayment, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, order_id, status, amount_minor, currency, created_at FROM payments
		WHERE shop_id = $1 AND status NOT IN `+finalStatuses+` ORDER BY created_at, id LIMIT $2`, shopID, maxOpenListed)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []OpenPayment
	for rows.Next() {
		var (
			p       OpenPayment
			status  string
			created int64
		)
		if err := rows.Scan(&p.ID, &p.OrderID, &status, &p.Amount.Minor, &p.Amount.Currency, &created); err != nil {
			return nil, err
		}
		p.Status, p.CreatedAt = checkout.Status(status), fromMicros(created)
		out = append(out, p)
	}
	return out, rows.Err()
}
