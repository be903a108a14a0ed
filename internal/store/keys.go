package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"paybridge/internal/secrets"
)

// This file finishes key rotations: it counts the sealed values by the key
// that sealed them ([DB.KeyUsage]) and re-seals, under the keyring's
// primary key, those sealed with an older one ([DB.Reseal]).

// sealedColumn is one column of sealed values.
type sealedColumn struct {
	column string
	// aad binds a value to its row, from the row's primary-key values.
	aad func(key []string) []byte
}

// sealedTables lists, per table, every sealed column. Add a column here
// when a new one is sealed: [DB.KeyUsage] and [DB.Reseal] cover only these.
var sealedTables = []struct {
	table string
	// key lists the primary-key columns, in index order.
	key     []string
	columns []sealedColumn
}{
	{"shops", []string{"id"}, []sealedColumn{
		{column: colCredentials, aad: func(k []string) []byte { return shopAAD(k[0], colCredentials) }},
		{column: colWebhookSecret, aad: func(k []string) []byte { return shopAAD(k[0], colWebhookSecret) }},
		{column: colSecrets, aad: func(k []string) []byte { return shopAAD(k[0], colSecrets) }},
	}},
	{"customer_tokens", []string{"shop_id", "gateway", "customer_id"}, []sealedColumn{
		{column: "token", aad: func(k []string) []byte { return customerTokenAAD(k[0], k[1], k[2]) }},
	}},
}

// KeyCount is how many values of one column are sealed with one key.
type KeyCount struct {
	// Table and Column name where the values are.
	Table, Column string
	// KeyID is the id of the key that sealed them ([secrets.KeyIDOf]);
	// empty for values that are not sealed values at all (malformed).
	KeyID string
	// Count is how many values.
	Count int64
}

// KeyUsage counts the sealed values of every sealed column by the key id
// they were sealed with, one aggregate query per column. It needs no key.
func (db *DB) KeyUsage(ctx context.Context) ([]KeyCount, error) {
	var out []KeyCount
	for _, t := range sealedTables {
		for _, c := range t.columns {
			// "v1:" + 16 hex digits + ":" is the first 20 characters.
			rows, err := db.r.QueryContext(ctx, `SELECT substr(`+c.column+`, 1, 20), COUNT(*) FROM `+t.table+` GROUP BY 1`)
			if err != nil {
				return nil, fmt.Errorf("store: key usage of %s.%s: %w", t.table, c.column, err)
			}
			byID := map[string]int64{}
			for rows.Next() {
				var (
					prefix string
					n      int64
				)
				if err := rows.Scan(&prefix, &n); err != nil {
					rows.Close()
					return nil, fmt.Errorf("store: key usage of %s.%s: %w", t.table, c.column, err)
				}
				id, err := secrets.KeyIDOf(prefix + "x")
				if err != nil || len(prefix) != 20 {
					id = ""
				}
				byID[id] += n
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return nil, fmt.Errorf("store: key usage of %s.%s: %w", t.table, c.column, err)
			}
			ids := make([]string, 0, len(byID))
			for id := range byID {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			for _, id := range ids {
				out = append(out, KeyCount{Table: t.table, Column: c.column, KeyID: id, Count: byID[id]})
			}
		}
	}
	return out, nil
}

// ResealStats is what [DB.Reseal] did.
type ResealStats struct {
	// Rows is how many rows were looked at; Resealed how many values were
	// re-sealed under the primary key.
	Rows, Resealed int64
	// Raced counts rows that changed between being read and re-sealed;
	// they were read again and re-sealed in a later batch.
	Raced int64
	// Failed lists values that could not be opened with any key of the
	// ring, as "table column key…: reason" (no secret material). They are
	// left as they are.
	Failed []string
}

// maxResealTries bounds how often one row that keeps changing under
// [DB.Reseal] is read again before it is reported as failed.
const maxResealTries = 5

// Reseal re-seals under the keyring's primary key every sealed value that
// another key sealed, batch rows at a time per table (batch <= 0: 500).
// It is safe while the bridge runs: each row is rewritten by a
// compare-and-set on all of its sealed values, so a concurrent update is
// never overwritten (the row is read again instead), and it is resumable:
// values already under the primary key are left alone, so running it again
// after an interruption carries on where it stopped. progress, when not
// nil, is called after every batch.
//
// Values that no key of the ring opens are reported in ResealStats.Failed,
// not returned as an error; the error is for the database failing.
func (db *DB) Reseal(ctx context.Context, batch int, progress func(table string, s ResealStats)) (ResealStats, error) {
	if batch <= 0 {
		batch = 500
	}
	var st ResealStats
	for _, t := range sealedTables {
		if err := db.resealTable(ctx, t.table, t.key, t.columns, batch, &st, progress); err != nil {
			return st, err
		}
	}
	return st, nil
}

func (db *DB) resealTable(ctx context.Context, table string, key []string, cols []sealedColumn, batch int,
	st *ResealStats, progress func(string, ResealStats)) error {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.column
	}
	keyList := strings.Join(key, ", ")
	placeholders := func(from, n int) string {
		p := make([]string, n)
		for i := range p {
			p[i] = fmt.Sprintf("$%d", from+i)
		}
		return strings.Join(p, ", ")
	}
	// Keyset pagination on the primary key: every row is visited once per
	// pass, whatever happens to the rows around it.
	first := `SELECT ` + keyList + `, ` + strings.Join(names, ", ") + ` FROM ` + table +
		` ORDER BY ` + keyList + ` LIMIT $1`
	next := `SELECT ` + keyList + `, ` + strings.Join(names, ", ") + ` FROM ` + table +
		` WHERE (` + keyList + `) > (` + placeholders(2, len(key)) + `) ORDER BY ` + keyList + ` LIMIT $1`
	var sets, where []string
	for i, n := range names {
		sets = append(sets, fmt.Sprintf("%s = $%d", n, i+1))
		where = append(where, fmt.Sprintf("%s = $%d", n, len(names)+i+1))
	}
	for i, k := range key {
		where = append(where, fmt.Sprintf("%s = $%d", k, 2*len(names)+i+1))
	}
	update := `UPDATE ` + table + ` SET ` + strings.Join(sets, ", ") + ` WHERE ` + strings.Join(where, " AND ")
	var keyWhere []string
	for i, k := range key {
		keyWhere = append(keyWhere, fmt.Sprintf("%s = $%d", k, i+1))
	}
	one := `SELECT ` + strings.Join(names, ", ") + ` FROM ` + table + ` WHERE ` + strings.Join(keyWhere, " AND ")

	var after []string
	for {
		var (
			rows *sql.Rows
			err  error
		)
		if after == nil {
			rows, err = db.r.QueryContext(ctx, first, batch)
		} else {
			args := []any{batch}
			for _, k := range after {
				args = append(args, k)
			}
			rows, err = db.r.QueryContext(ctx, next, args...)
		}
		if err != nil {
			return fmt.Errorf("store: reseal %s: %w", table, err)
		}
		type row struct{ key, vals []string }
		var page []row
		for rows.Next() {
			r := row{key: make([]string, len(key)), vals: make([]string, len(names))}
			dest := make([]any, 0, len(key)+len(names))
			for i := range r.key {
				dest = append(dest, &r.key[i])
			}
			for i := range r.vals {
				dest = append(dest, &r.vals[i])
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return fmt.Errorf("store: reseal %s: %w", table, err)
			}
			page = append(page, r)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("store: reseal %s: %w", table, err)
		}
		if db.afterResealRead != nil {
			db.afterResealRead(table)
		}
		for _, r := range page {
			st.Rows++
			vals := r.vals
			for try := 1; ; try++ {
				fresh, n, failed := db.resealRow(table, cols, r.key, vals)
				st.Failed = append(st.Failed, failed...)
				if n == 0 {
					break
				}
				args := make([]any, 0, 2*len(names)+len(key))
				for _, v := range fresh {
					args = append(args, v)
				}
				for _, v := range vals {
					args = append(args, v)
				}
				for _, k := range r.key {
					args = append(args, k)
				}
				res, err := db.w.ExecContext(ctx, update, args...)
				if err != nil {
					return fmt.Errorf("store: reseal %s %s: %w", table, strings.Join(r.key, "/"), err)
				}
				changed, err := res.RowsAffected()
				if err != nil {
					return fmt.Errorf("store: reseal %s %s: %w", table, strings.Join(r.key, "/"), err)
				}
				if changed == 1 {
					st.Resealed += int64(n)
					break
				}
				// The row changed (or went) since it was read: read it
				// again rather than overwrite the newer values.
				st.Raced++
				if try == maxResealTries {
					st.Failed = append(st.Failed, fmt.Sprintf("%s %s: changed %d times while being re-sealed; run again",
						table, strings.Join(r.key, "/"), try))
					break
				}
				args = args[:0]
				for _, k := range r.key {
					args = append(args, k)
				}
				vals = make([]string, len(names))
				dest := make([]any, len(names))
				for i := range vals {
					dest[i] = &vals[i]
				}
				err = db.w.QueryRowContext(ctx, one, args...).Scan(dest...)
				if errors.Is(err, sql.ErrNoRows) {
					break // deleted meanwhile: nothing to re-seal
				}
				if err != nil {
					return fmt.Errorf("store: reseal %s %s: %w", table, strings.Join(r.key, "/"), err)
				}
			}
		}
		if progress != nil {
			progress(table, *st)
		}
		if len(page) < batch {
			return nil
		}
		after = page[len(page)-1].key
	}
}

// resealRow re-seals the values of one row not sealed with the primary
// key. It returns the row's new values, how many changed, and a line per
// value that could not be opened.
func (db *DB) resealRow(table string, cols []sealedColumn, key, vals []string) (fresh []string, n int, failed []string) {
	fresh = slices.Clone(vals)
	for i, c := range cols {
		id, err := secrets.KeyIDOf(vals[i])
		if err == nil && id == db.kr.PrimaryID() {
			continue
		}
		aad := c.aad(key)
		plain, err := db.kr.Open(vals[i], aad)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s %s %s: %v", table, c.column, strings.Join(key, "/"), err))
			continue
		}
		sealed, err := db.kr.Seal(plain, aad)
		clear(plain)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s %s %s: %v", table, c.column, strings.Join(key, "/"), err))
			continue
		}
		fresh[i] = sealed
		n++
	}
	return fresh, n, failed
}

// Keyring returns the keyring the database seals and opens with.
func (db *DB) Keyring() *secrets.Keyring { return db.kr }
