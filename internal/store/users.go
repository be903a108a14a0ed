package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"paybridge/internal/checkout"
)

// User is a person who signs in to the console. An operator (ShopID
// empty) sees every shop; a merchant only the shop ShopID.
type User struct {
	ID string
	// Email is the sign-in name, kept in lower case.
	Email string
	// PasswordHash is the password's argon2id hash as a PHC string; the
	// store never sees the password.
	PasswordHash string
	// ShopID is the merchant's shop, or "" for an operator.
	ShopID    string
	CreatedAt time.Time
}

// Operator reports whether u sees every shop.
func (u *User) Operator() bool { return u.ShopID == "" }

// NormalizeEmail is the form in which e-mail addresses are stored and
// looked up: trimmed and in lower case.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

const userColumns = `id, email, password_hash, shop_id, created_at`

func scanUser(s rowScanner) (*User, error) {
	var (
		u       User
		shop    sql.NullString
		created int64
	)
	if err := s.Scan(&u.ID, &u.Email, &u.PasswordHash, &shop, &created); err != nil {
		return nil, err
	}
	u.ShopID = shop.String
	u.CreatedAt = fromMicros(created)
	return &u, nil
}

// CreateUser inserts u, its e-mail normalized ([NormalizeEmail]). A zero
// CreatedAt is set to now. It returns an error wrapping
// [checkout.ErrDuplicate] when the e-mail is taken and one wrapping
// [checkout.ErrNotFound] when ShopID names no shop.
func (db *DB) CreateUser(ctx context.Context, u *User) error {
	u.Email = NormalizeEmail(u.Email)
	switch {
	case u.ID == "":
		return errors.New("store: create user: no id")
	case u.Email == "":
		return errors.New("store: create user: no e-mail")
	case u.PasswordHash == "":
		return fmt.Errorf("store: create user %s: no password hash", u.Email)
	}
	u.CreatedAt = orNow(u.CreatedAt, db.now().UTC().Truncate(time.Microsecond))
	shop := sql.NullString{String: u.ShopID, Valid: u.ShopID != ""}
	_, err := db.w.ExecContext(ctx, `INSERT INTO console_users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		u.ID, u.Email, u.PasswordHash, shop, micros(u.CreatedAt))
	if err != nil {
		return writeErr("create user "+u.Email, err)
	}
	return nil
}

// User returns the user with the given id, or an error wrapping
// [checkout.ErrNotFound].
func (db *DB) User(ctx context.Context, id string) (*User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM console_users WHERE id = $1`, id))
	return u, notFound(err, "user "+id)
}

// UserByEmail returns the user signing in as email (any case), or an
// error wrapping [checkout.ErrNotFound].
func (db *DB) UserByEmail(ctx context.Context, email string) (*User, error) {
	email = NormalizeEmail(email)
	u, err := scanUser(db.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM console_users WHERE email = $1`, email))
	return u, notFound(err, "user "+email)
}

// Users lists every user, operators first, then by e-mail.
func (db *DB) Users(ctx context.Context) ([]*User, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+userColumns+` FROM console_users
		ORDER BY CASE WHEN shop_id IS NULL THEN 0 ELSE 1 END, email`)
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	defer rows.Close()
	var us []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list users: %w", err)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	return us, nil
}

// RemoveUser deletes the user signing in as email, and with it every one
// of their sessions. An unknown e-mail is an error wrapping
// [checkout.ErrNotFound].
func (db *DB) RemoveUser(ctx context.Context, email string) error {
	email = NormalizeEmail(email)
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: remove user %s: %w", email, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	// Sessions first: the cascade needs SQLite's foreign keys on, which
	// every connection here has, but an explicit delete says what happens.
	if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE user_id IN
		(SELECT id FROM console_users WHERE email = $1)`, email); err != nil {
		return fmt.Errorf("store: remove sessions of %s: %w", email, err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM console_users WHERE email = $1`, email)
	if err != nil {
		return fmt.Errorf("store: remove user %s: %w", email, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: remove user %s: %w", email, err)
	} else if n == 0 {
		return fmt.Errorf("store: remove user %s: %w", email, checkout.ErrNotFound)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: remove user %s: commit: %w", email, err)
	}
	return nil
}

// Session is a signed-in console session, known by the SHA-256 of its
// cookie token.
type Session struct {
	// TokenHash is the hex SHA-256 of the cookie's token.
	TokenHash string
	UserID    string
	CreatedAt time.Time
	// LastSeenAt is when the session last served a request; the console
	// ends it when that is longer ago than its idle limit.
	LastSeenAt time.Time
	// ExpiresAt is when the session ends however active it is.
	ExpiresAt time.Time
}

// CreateSession inserts s. It returns an error wrapping
// [checkout.ErrNotFound] when the user does not exist.
func (db *DB) CreateSession(ctx context.Context, s *Session) error {
	if s.TokenHash == "" || s.UserID == "" || s.ExpiresAt.IsZero() {
		return errors.New("store: create session: needs a token hash, a user and an expiry")
	}
	now := db.now().UTC().Truncate(time.Microsecond)
	s.CreatedAt = orNow(s.CreatedAt, now)
	s.LastSeenAt = orNow(s.LastSeenAt, s.CreatedAt)
	_, err := db.w.ExecContext(ctx, `INSERT INTO console_sessions (token_hash, user_id, created_at, last_seen_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, s.TokenHash, s.UserID, micros(s.CreatedAt), micros(s.LastSeenAt), micros(s.ExpiresAt))
	if err != nil {
		return writeErr("create session", err)
	}
	return nil
}

// SessionUser returns the session with the given token hash and its user,
// or an error wrapping [checkout.ErrNotFound]. It does not judge expiry:
// the caller compares LastSeenAt and ExpiresAt with its limits.
func (db *DB) SessionUser(ctx context.Context, tokenHash string) (*Session, *User, error) {
	var (
		s                      Session
		created, seen, expires int64
	)
	row := db.r.QueryRowContext(ctx, `SELECT s.token_hash, s.user_id, s.created_at, s.last_seen_at, s.expires_at,
		u.id, u.email, u.password_hash, u.shop_id, u.created_at
		FROM console_sessions s JOIN console_users u ON u.id = s.user_id WHERE s.token_hash = $1`, tokenHash)
	var (
		u        User
		shop     sql.NullString
		uCreated int64
	)
	err := row.Scan(&s.TokenHash, &s.UserID, &created, &seen, &expires, &u.ID, &u.Email, &u.PasswordHash, &shop, &uCreated)
	if err != nil {
		return nil, nil, notFound(err, "session")
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expires)
	u.ShopID, u.CreatedAt = shop.String, fromMicros(uCreated)
	return &s, &u, nil
}

// TouchSession records that the session served a request at at.
func (db *DB) TouchSession(ctx context.Context, tokenHash string, at time.Time) error {
	if _, err := db.w.ExecContext(ctx, `UPDATE console_sessions SET last_seen_at = $2 WHERE token_hash = $1`,
		tokenHash, micros(at)); err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	return nil
}

// DeleteSession ends a session (sign-out). Deleting one that is gone is
// not an error.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM console_sessions WHERE token_hash = $1`, tokenHash); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// PruneSessions deletes the sessions past their expiry at now or last
// seen before idleBefore, and says how many it deleted.
func (db *DB) PruneSessions(ctx context.Context, now, idleBefore time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen_at < $2`,
		micros(now), micros(idleBefore))
	if err != nil {
		return 0, fmt.Errorf("store: prune sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: prune sessions: %w", err)
	}
	return n, nil
}
