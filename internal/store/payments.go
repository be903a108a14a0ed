package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"paybridge/internal/checkout"
)

// finalStatuses is the SQL list of final payment statuses. It must match
// the partial index payments_open in the migrations (checked by a test).
var finalStatuses = sqlList(checkout.StatusPaid, checkout.StatusFailed, checkout.StatusCanceled, checkout.StatusExpired)

// finalRefundStatuses is the SQL list of final refund statuses.
var finalRefundStatuses = sqlList(checkout.RefundSucceeded, checkout.RefundFailed)

// sqlList quotes constant identifiers into "('a', 'b')". Only for
// compile-time constants: it does not escape.
func sqlList[T ~string](vs ...T) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = "'" + string(v) + "'"
	}
	return "(" + strings.Join(q, ", ") + ")"
}

const paymentColumns = `id, shop_id, platform, order_id, amount_minor, currency, refunded_minor,
	description, language, payment_method, customer, products, return_url, cancel_url,
	callback_url, metadata, status, sync_state, gateway, gateway_order_id, gateway_ref,
	gateway_url, transaction_id, gateway_data, request_hash, expires_at, created_at,
	updated_at, version, checked_at, options`

const refundColumns = `id, payment_id, amount_minor, currency, reason, status, sync_state,
	gateway_ref, attempts, source, created_at, updated_at, version, reference, splits`

// The statements of [DB.Apply], prepared once (see stmtCache).
const (
	insertPaymentSQL = `INSERT INTO payments (` + paymentColumns + `) VALUES
	($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
	 $21, $22, $23, $24, $25, $26, $27, $28, 1, $29, $30)`
	updatePaymentSQL = `UPDATE payments SET
	shop_id = $2, platform = $3, order_id = $4, amount_minor = $5, currency = $6, refunded_minor = $7,
	description = $8, language = $9, payment_method = $10, customer = $11, products = $12,
	return_url = $13, cancel_url = $14, callback_url = $15, metadata = $16, status = $17,
	sync_state = $18, gateway = $19, gateway_order_id = $20, gateway_ref = $21, gateway_url = $22,
	transaction_id = $23, gateway_data = $24, request_hash = $25, expires_at = $26,
	updated_at = $27, options = $29, version = version + 1
	WHERE id = $1 AND version = $28`
	insertRefundSQL = `INSERT INTO refunds (` + refundColumns + `) VALUES
	($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $14)`
	updateRefundSQL = `UPDATE refunds SET
	payment_id = $2, amount_minor = $3, currency = $4, reason = $5, status = $6, sync_state = $7,
	gateway_ref = $8, attempts = $9, source = $10, updated_at = $11, version = version + 1
	WHERE id = $1 AND version = $12`
)

// maxPreparedEvents is the most events one [DB.Apply] inserts with a
// prepared statement (one statement text per count of rows); more, which
// no write of the core makes, go unprepared.
const maxPreparedEvents = 4

// insertEventsSQL inserts n events in one statement, returning their ids.
func insertEventsSQL(n int) string { return eventsSQL(n, 1) }

// eventsSQL inserts n events with placeholders from $first on.
func eventsSQL(n, first int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO payment_events (payment_id, refund_id, at, kind, from_state, to_state, source, detail) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		k := first + 8*i
		fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", k, k+1, k+2, k+3, k+4, k+5, k+6, k+7)
	}
	b.WriteString(" RETURNING id")
	return b.String()
}

// createSQL inserts, on PostgreSQL, a payment ($1–$30) and n events of it
// ($31 on) in one statement: atomic on its own, so a create needs no
// BEGIN and COMMIT round trips. (The events' foreign key is checked at
// the statement's end, when the payment is there.)
func createSQL(n int) string {
	return `WITH pay AS (` + insertPaymentSQL + ` RETURNING id) ` + eventsSQL(n, 31)
}

// scanIDs reads and closes rows of one BIGINT column.
func scanIDs(rows *sql.Rows) ([]int64, error) {
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// productJSON is how a Product is kept in payments.products: Product's
// Price has no JSON form, so it is spelled out in minor units.
type productJSON struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	PriceMinor  int64  `json:"price_minor"`
	Currency    string `json:"currency"`
	Quantity    int    `json:"quantity"`
}

// paymentRow is a Payment in column form, ready to bind.
type paymentRow struct {
	customer, products, metadata, gatewayData, options string
	refunded                                           int64
}

func encodePayment(p *checkout.Payment) (paymentRow, error) {
	var r paymentRow
	if p.ID == "" || p.ShopID == "" || p.OrderID == "" {
		return r, errors.New("payment needs an id, a shop id and an order id")
	}
	if !p.Status.Valid() {
		return r, fmt.Errorf("payment %s: invalid status %q", p.ID, p.Status)
	}
	if p.Amount.Currency == "" || p.Amount.Minor < 0 {
		return r, fmt.Errorf("payment %s: invalid amount %d %q", p.ID, p.Amount.Minor, p.Amount.Currency)
	}
	if p.Refunded.Currency != "" && p.Refunded.Currency != p.Amount.Currency {
		return r, fmt.Errorf("payment %s: refunded %s: %w", p.ID, p.Refunded.Currency, checkout.ErrCurrencyMismatch)
	}
	if p.Refunded.Minor < 0 {
		return r, fmt.Errorf("payment %s: negative refunded amount", p.ID)
	}
	r.refunded = p.Refunded.Minor
	var products []productJSON
	if p.Products != nil {
		products = make([]productJSON, len(p.Products))
		for i, pr := range p.Products {
			products[i] = productJSON{Name: pr.Name, Description: pr.Description, PriceMinor: pr.Price.Minor, Currency: pr.Price.Currency, Quantity: pr.Quantity}
		}
	}
	for _, f := range []struct {
		dst *string
		v   any
	}{{&r.customer, p.Customer}, {&r.products, products}, {&r.metadata, p.Metadata}, {&r.gatewayData, p.GatewayData}, {&r.options, p.Options}} {
		b, err := json.Marshal(f.v)
		if err != nil {
			return r, fmt.Errorf("payment %s: encode: %w", p.ID, err)
		}
		*f.dst = string(b)
	}
	return r, nil
}

func scanPayment(s rowScanner) (*checkout.Payment, error) {
	var (
		p                                         checkout.Payment
		refunded                                  int64
		customer, products, metadata, gatewayData string
		options                                   string
		expires, checked                          sql.NullInt64
		created, updated                          int64
	)
	err := s.Scan(&p.ID, &p.ShopID, &p.Platform, &p.OrderID, &p.Amount.Minor, &p.Amount.Currency, &refunded,
		&p.Description, &p.Language, &p.PaymentMethod, &customer, &products, &p.ReturnURL, &p.CancelURL,
		&p.CallbackURL, &metadata, &p.Status, &p.SyncState, &p.Gateway, &p.GatewayOrderID, &p.GatewayRef,
		&p.GatewayURL, &p.TransactionID, &gatewayData, &p.RequestHash, &expires, &created,
		&updated, &p.Version, &checked, &options)
	if err != nil {
		return nil, err
	}
	p.Refunded = checkout.Money{Minor: refunded, Currency: p.Amount.Currency}
	p.ExpiresAt = fromNullMicros(expires)
	p.CheckedAt = fromNullMicros(checked)
	p.CreatedAt = fromMicros(created)
	p.UpdatedAt = fromMicros(updated)
	if err := json.Unmarshal([]byte(customer), &p.Customer); err != nil {
		return nil, fmt.Errorf("payment %s: decode customer: %w", p.ID, err)
	}
	var prods []productJSON
	if err := json.Unmarshal([]byte(products), &prods); err != nil {
		return nil, fmt.Errorf("payment %s: decode products: %w", p.ID, err)
	}
	if prods != nil {
		p.Products = make([]checkout.Product, len(prods))
		for i, pr := range prods {
			p.Products[i] = checkout.Product{Name: pr.Name, Description: pr.Description,
				Price: checkout.Money{Minor: pr.PriceMinor, Currency: pr.Currency}, Quantity: pr.Quantity}
		}
	}
	if err := json.Unmarshal([]byte(metadata), &p.Metadata); err != nil {
		return nil, fmt.Errorf("payment %s: decode metadata: %w", p.ID, err)
	}
	if err := json.Unmarshal([]byte(gatewayData), &p.GatewayData); err != nil {
		return nil, fmt.Errorf("payment %s: decode gateway data: %w", p.ID, err)
	}
	if err := json.Unmarshal([]byte(options), &p.Options); err != nil {
		return nil, fmt.Errorf("payment %s: decode options: %w", p.ID, err)
	}
	return &p, nil
}

func scanRefund(s rowScanner) (*checkout.Refund, error) {
	var (
		r                checkout.Refund
		created, updated int64
		splits           string
	)
	err := s.Scan(&r.ID, &r.PaymentID, &r.Amount.Minor, &r.Amount.Currency, &r.Reason, &r.Status, &r.SyncState,
		&r.GatewayRef, &r.Attempts, &r.Source, &created, &updated, &r.Version, &r.Reference, &splits)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(splits), &r.Splits); err != nil {
		return nil, fmt.Errorf("refund %s: decode splits: %w", r.ID, err)
	}
	r.CreatedAt = fromMicros(created)
	r.UpdatedAt = fromMicros(updated)
	return &r, nil
}

func validateRefund(r *checkout.Refund) error {
	if r.ID == "" || r.PaymentID == "" {
		return errors.New("refund needs an id and a payment id")
	}
	switch r.Status {
	case checkout.RefundPending, checkout.RefundSucceeded, checkout.RefundFailed:
	default:
		return fmt.Errorf("refund %s: invalid status %q", r.ID, r.Status)
	}
	if r.Amount.Currency == "" || r.Amount.Minor < 0 {
		return fmt.Errorf("refund %s: invalid amount %d %q", r.ID, r.Amount.Minor, r.Amount.Currency)
	}
	return nil
}

// Apply writes c in one transaction: it inserts c.NewPayment and
// c.NewRefund, updates c.Payment and c.Refund if their stored version still
// equals their Version, and appends c.Events, in that order.
//
// It returns an error wrapping [checkout.ErrConflict] when a
// compare-and-set fails (or [checkout.ErrNotFound] when the row to update
// does not exist) and [checkout.ErrDuplicate] when a new row's key exists
// (a payment's (shop, order id), or an id); then nothing is written and the
// arguments are untouched.
//
// On success the new rows get Version 1 and the updated rows' Version is
// incremented; zero CreatedAt/UpdatedAt of new rows, zero UpdatedAt of
// updated rows and zero Event.At are set to the current time; events get
// their IDs; an event without PaymentID gets the change's payment id.
// Otherwise the caller's timestamps are stored as given (to the
// microsecond): the caller stamps UpdatedAt.
func (db *DB) Apply(ctx context.Context, c checkout.Change) error {
	w, err := db.prepareChange(ctx, c)
	if err != nil {
		return err
	}
	if w.alone {
		if err := w.runAlone(ctx); err != nil {
			return err
		}
		w.reflect()
		return nil
	}
	if db.group != nil {
		return db.group.apply(ctx, w)
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: apply: begin: %w", err)
	}
	if err := w.run(ctx, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: apply: commit: %w", err)
	}
	w.reflect()
	return nil
}

// change is one [checkout.Change] checked, encoded and with its
// statements prepared, ready to run in a transaction.
type change struct {
	c              checkout.Change
	now            time.Time
	newPay, upPay  paymentRow
	evs            []evRow
	evSQL          string
	alone          bool // one statement, run without a transaction (PostgreSQL)
	stmts          map[string]*sql.Stmt
	newPayCreated  time.Time
	newPayUpdated  time.Time
	upPayUpdated   time.Time
	newRefCreated  time.Time
	newRefUpdated  time.Time
	upRefUpdated   time.Time
	ids            []int64
	newRefSplits   string
	defaultPayment string
}

// evRow is an event's columns that Apply fills in.
type evRow struct {
	paymentID string
	at        time.Time
	detail    string
}

// prepareChange checks and encodes c and prepares its statements; nothing
// of c is changed.
func (db *DB) prepareChange(ctx context.Context, c checkout.Change) (*change, error) {
	w := &change{c: c, now: db.now().UTC().Truncate(time.Microsecond)}
	var err error
	if c.NewPayment != nil {
		if w.newPay, err = encodePayment(c.NewPayment); err != nil {
			return nil, fmt.Errorf("store: apply: %w", err)
		}
	}
	if c.Payment != nil {
		if w.upPay, err = encodePayment(c.Payment); err != nil {
			return nil, fmt.Errorf("store: apply: %w", err)
		}
	}
	for _, r := range []*checkout.Refund{c.NewRefund, c.Refund} {
		if r != nil {
			if err := validateRefund(r); err != nil {
				return nil, fmt.Errorf("store: apply: %w", err)
			}
		}
	}
	if r := c.NewRefund; r != nil {
		b, err := json.Marshal(r.Splits)
		if err != nil {
			return nil, fmt.Errorf("store: refund %s: encode splits: %w", r.ID, err)
		}
		w.newRefSplits = string(b)
	}
	switch {
	case c.Payment != nil:
		w.defaultPayment = c.Payment.ID
	case c.NewPayment != nil:
		w.defaultPayment = c.NewPayment.ID
	case c.Refund != nil:
		w.defaultPayment = c.Refund.PaymentID
	case c.NewRefund != nil:
		w.defaultPayment = c.NewRefund.PaymentID
	}
	w.evs = make([]evRow, len(c.Events))
	for i, e := range c.Events {
		ev := evRow{paymentID: e.PaymentID, at: e.At, detail: string(e.Detail)}
		if ev.paymentID == "" {
			ev.paymentID = w.defaultPayment
		}
		if ev.paymentID == "" {
			return nil, fmt.Errorf("store: apply: event %d (%s) has no payment id", i, e.Kind)
		}
		if e.Kind == "" {
			return nil, fmt.Errorf("store: apply: event %d has no kind", i)
		}
		if ev.at.IsZero() {
			ev.at = w.now
		}
		if len(strings.TrimSpace(ev.detail)) == 0 {
			ev.detail = "{}"
		} else if !json.Valid(e.Detail) {
			return nil, fmt.Errorf("store: apply: event %d (%s): detail is not valid JSON", i, e.Kind)
		}
		w.evs[i] = ev
	}

	// The statements are prepared before any transaction begins (see
	// stmtCache.stmt) and bound to it in run.
	var queries []string
	// On PostgreSQL a change that is events, or a new payment and its
	// events, is one statement, with no transaction around it. (SQLite
	// cannot insert in a WITH clause, and its commits are grouped.)
	w.alone = db.dialect == DialectPostgres && c.Payment == nil && c.Refund == nil && c.NewRefund == nil &&
		len(w.evs) > 0 && len(w.evs) <= maxPreparedEvents
	if w.alone {
		w.evSQL = insertEventsSQL(len(w.evs))
		if c.NewPayment != nil {
			w.evSQL = createSQL(len(w.evs))
		}
		queries = append(queries, w.evSQL)
	}
	if c.NewPayment != nil && !w.alone {
		queries = append(queries, insertPaymentSQL)
	}
	if c.Payment != nil {
		queries = append(queries, updatePaymentSQL)
	}
	if c.NewRefund != nil {
		queries = append(queries, insertRefundSQL)
	}
	if c.Refund != nil {
		queries = append(queries, updateRefundSQL)
	}
	if len(w.evs) > 0 && !w.alone {
		w.evSQL = insertEventsSQL(len(w.evs))
		if len(w.evs) <= maxPreparedEvents {
			queries = append(queries, w.evSQL)
		}
	}
	w.stmts = make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		if w.stmts[q], err = db.ws.stmt(ctx, q); err != nil {
			return nil, fmt.Errorf("store: apply: %w", err)
		}
	}
	return w, nil
}

// run writes the change in tx. It keeps what the caller's values get in
// w, for reflect once the transaction commits; on error the caller rolls
// the change back.
func (w *change) run(ctx context.Context, tx *sql.Tx) error {
	c, now := w.c, w.now
	exec := func(q string, args ...any) (sql.Result, error) {
		return tx.StmtContext(ctx, w.stmts[q]).ExecContext(ctx, args...)
	}
	// The counts of payments by status (payment_status_counts) follow
	// the inserts and the status updates by trigger (migration 10).
	if p := c.NewPayment; p != nil {
		if _, err := exec(insertPaymentSQL, w.newPaymentArgs(nil)...); err != nil {
			return writeErr(fmt.Sprintf("insert payment %s (shop %s, order %s)", p.ID, p.ShopID, p.OrderID), err)
		}
	}
	if p := c.Payment; p != nil {
		w.upPayUpdated = orNow(p.UpdatedAt, now)
		res, err := exec(updatePaymentSQL,
			p.ID, p.ShopID, p.Platform, p.OrderID, p.Amount.Minor, p.Amount.Currency, w.upPay.refunded,
			p.Description, p.Language, p.PaymentMethod, w.upPay.customer, w.upPay.products,
			p.ReturnURL, p.CancelURL, p.CallbackURL, w.upPay.metadata, string(p.Status),
			string(p.SyncState), p.Gateway, p.GatewayOrderID, p.GatewayRef, p.GatewayURL,
			p.TransactionID, w.upPay.gatewayData, p.RequestHash, nullMicros(p.ExpiresAt),
			micros(w.upPayUpdated), p.Version, w.upPay.options)
		if err != nil {
			return writeErr("update payment "+p.ID, err)
		}
		if err := checkCAS(ctx, tx, res, "payments", p.ID, p.Version); err != nil {
			return err
		}
	}
	if r := c.NewRefund; r != nil {
		w.newRefCreated = orNow(r.CreatedAt, now)
		w.newRefUpdated = orNow(r.UpdatedAt, w.newRefCreated)
		_, err := exec(insertRefundSQL,
			r.ID, r.PaymentID, r.Amount.Minor, r.Amount.Currency, r.Reason, string(r.Status), string(r.SyncState),
			r.GatewayRef, r.Attempts, r.Source, micros(w.newRefCreated), micros(w.newRefUpdated), r.Reference, w.newRefSplits)
		if err != nil {
			return writeErr(fmt.Sprintf("insert refund %s (payment %s)", r.ID, r.PaymentID), err)
		}
	}
	if r := c.Refund; r != nil {
		w.upRefUpdated = orNow(r.UpdatedAt, now)
		res, err := exec(updateRefundSQL,
			r.ID, r.PaymentID, r.Amount.Minor, r.Amount.Currency, r.Reason, string(r.Status), string(r.SyncState),
			r.GatewayRef, r.Attempts, r.Source, micros(w.upRefUpdated), r.Version)
		if err != nil {
			return writeErr("update refund "+r.ID, err)
		}
		if err := checkCAS(ctx, tx, res, "refunds", r.ID, r.Version); err != nil {
			return err
		}
	}
	w.ids = nil
	if len(w.evs) > 0 {
		var (
			rows *sql.Rows
			err  error
		)
		if st, ok := w.stmts[w.evSQL]; ok {
			rows, err = tx.StmtContext(ctx, st).QueryContext(ctx, w.eventArgs(nil)...)
		} else {
			rows, err = tx.QueryContext(ctx, w.evSQL, w.eventArgs(nil)...)
		}
		if err == nil {
			err = w.scanEventIDs(rows)
		}
		if err != nil {
			return writeErr(fmt.Sprintf("append %d events (%s…) to payment %s", len(w.evs), c.Events[0].Kind, w.evs[0].paymentID), err)
		}
	}
	return nil
}

// runAlone writes a change that is one statement (w.alone), without a
// transaction.
func (w *change) runAlone(ctx context.Context) error {
	var args []any
	what := fmt.Sprintf("append %d events (%s…) to payment %s", len(w.evs), w.c.Events[0].Kind, w.evs[0].paymentID)
	if p := w.c.NewPayment; p != nil {
		args = w.newPaymentArgs(make([]any, 0, 30+8*len(w.evs)))
		what = fmt.Sprintf("insert payment %s (shop %s, order %s) with %d events", p.ID, p.ShopID, p.OrderID, len(w.evs))
	}
	rows, err := w.stmts[w.evSQL].QueryContext(ctx, w.eventArgs(args)...)
	if err == nil {
		err = w.scanEventIDs(rows)
	}
	if err != nil {
		return writeErr(what, err)
	}
	return nil
}

// newPaymentArgs appends the insert's arguments for the new payment to
// args, setting its timestamps in w.
func (w *change) newPaymentArgs(args []any) []any {
	p := w.c.NewPayment
	w.newPayCreated = orNow(p.CreatedAt, w.now)
	w.newPayUpdated = orNow(p.UpdatedAt, w.newPayCreated)
	return append(args,
		p.ID, p.ShopID, p.Platform, p.OrderID, p.Amount.Minor, p.Amount.Currency, w.newPay.refunded,
		p.Description, p.Language, p.PaymentMethod, w.newPay.customer, w.newPay.products, p.ReturnURL, p.CancelURL,
		p.CallbackURL, w.newPay.metadata, string(p.Status), string(p.SyncState), p.Gateway, p.GatewayOrderID, p.GatewayRef,
		p.GatewayURL, p.TransactionID, w.newPay.gatewayData, p.RequestHash, nullMicros(p.ExpiresAt), micros(w.newPayCreated),
		micros(w.newPayUpdated), nullMicros(p.CheckedAt), w.newPay.options)
}

// eventArgs appends the events' insert arguments to args.
func (w *change) eventArgs(args []any) []any {
	if args == nil {
		args = make([]any, 0, 8*len(w.evs))
	}
	for i, e := range w.c.Events {
		ev := w.evs[i]
		args = append(args, ev.paymentID, e.RefundID, micros(ev.at), e.Kind, e.From, e.To, e.Source, ev.detail)
	}
	return args
}

// scanEventIDs reads the ids the events' insert returned into w.ids.
func (w *change) scanEventIDs(rows *sql.Rows) error {
	ids, err := scanIDs(rows)
	if err == nil && len(ids) != len(w.evs) {
		err = fmt.Errorf("%d ids for %d events", len(ids), len(w.evs))
	}
	if err != nil {
		return err
	}
	// The ids grow in the order the rows were inserted, which is the
	// VALUES order; RETURNING may list them in any order.
	slices.Sort(ids)
	w.ids = ids
	return nil
}

// reflect sets the committed write on the caller's values.
func (w *change) reflect() {
	c := w.c
	if p := c.NewPayment; p != nil {
		p.Version, p.CreatedAt, p.UpdatedAt = 1, w.newPayCreated, w.newPayUpdated
	}
	if p := c.Payment; p != nil {
		p.Version++
		p.UpdatedAt = w.upPayUpdated
	}
	if r := c.NewRefund; r != nil {
		r.Version, r.CreatedAt, r.UpdatedAt = 1, w.newRefCreated, w.newRefUpdated
	}
	if r := c.Refund; r != nil {
		r.Version++
		r.UpdatedAt = w.upRefUpdated
	}
	for i := range c.Events {
		c.Events[i].ID = w.ids[i]
		c.Events[i].PaymentID = w.evs[i].paymentID
		c.Events[i].At = w.evs[i].at.UTC().Truncate(time.Microsecond) // as stored
		if len(c.Events[i].Detail) == 0 {
			c.Events[i].Detail = json.RawMessage(w.evs[i].detail)
		}
	}
}

// orNow returns t, or def when t is zero.
func orNow(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}

// checkCAS turns a compare-and-set that matched no row into ErrConflict, or
// ErrNotFound when the row does not exist at all.
func checkCAS(ctx context.Context, tx *sql.Tx, res sql.Result, table, id string, version int64) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: update %s %s: %w", table, id, err)
	}
	if n == 1 {
		return nil
	}
	var stored int64
	err = tx.QueryRowContext(ctx, `SELECT version FROM `+table+` WHERE id = $1`, id).Scan(&stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: update %s %s: %w", table, id, checkout.ErrNotFound)
	case err != nil:
		return fmt.Errorf("store: update %s %s: %w", table, id, err)
	}
	return fmt.Errorf("store: update %s %s: have version %d, stored %d: %w", table, id, version, stored, checkout.ErrConflict)
}

// Payment returns the payment with the given id, or an error wrapping
// [checkout.ErrNotFound].
func (db *DB) Payment(ctx context.Context, id string) (*checkout.Payment, error) {
	p, err := scanPayment(db.queryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1`, id))
	return p, notFound(err, "payment "+id)
}

// PaymentByOrder returns the shop's payment for the platform order id, or
// an error wrapping [checkout.ErrNotFound].
func (db *DB) PaymentByOrder(ctx context.Context, shopID, orderID string) (*checkout.Payment, error) {
	p, err := scanPayment(db.queryRow(ctx,
		`SELECT `+paymentColumns+` FROM payments WHERE shop_id = $1 AND order_id = $2`, shopID, orderID))
	return p, notFound(err, fmt.Sprintf("payment for shop %s order %s", shopID, orderID))
}

// PaymentByGatewayRef returns the payment a gateway knows by ref (its
// transaction reference), or an error wrapping [checkout.ErrNotFound].
// Several matches (a reference reused across shops) are refused.
func (db *DB) PaymentByGatewayRef(ctx context.Context, gateway, ref string) (*checkout.Payment, error) {
	if ref == "" {
		return nil, fmt.Errorf("store: payment by gateway ref: empty ref: %w", checkout.ErrNotFound)
	}
	ps, err := db.listPayments(ctx, `WHERE gateway = $1 AND gateway_ref = $2 ORDER BY created_at LIMIT 2`, gateway, ref)
	if err != nil {
		return nil, err
	}
	switch len(ps) {
	case 0:
		return nil, fmt.Errorf("store: payment by %s ref %s: %w", gateway, ref, checkout.ErrNotFound)
	case 1:
		return ps[0], nil
	}
	return nil, fmt.Errorf("store: payment by %s ref %s: several payments match", gateway, ref)
}

func notFound(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: %s: %w", what, checkout.ErrNotFound)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

// Events returns the payment's audit trail in the order it was written
// (oldest first). An unknown payment has no events.
func (db *DB) Events(ctx context.Context, paymentID string) ([]checkout.Event, error) {
	rows, err := db.query(ctx, `SELECT id, payment_id, refund_id, at, kind, from_state, to_state, source, detail
		FROM payment_events WHERE payment_id = $1 ORDER BY id`, paymentID)
	if err != nil {
		return nil, fmt.Errorf("store: events of payment %s: %w", paymentID, err)
	}
	defer rows.Close()
	var evs []checkout.Event
	for rows.Next() {
		var (
			e      checkout.Event
			at     int64
			detail string
		)
		if err := rows.Scan(&e.ID, &e.PaymentID, &e.RefundID, &at, &e.Kind, &e.From, &e.To, &e.Source, &detail); err != nil {
			return nil, fmt.Errorf("store: events of payment %s: %w", paymentID, err)
		}
		e.At = fromMicros(at)
		e.Detail = json.RawMessage(detail)
		evs = append(evs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: events of payment %s: %w", paymentID, err)
	}
	return evs, nil
}

func (db *DB) listPayments(ctx context.Context, where string, args ...any) ([]*checkout.Payment, error) {
	rows, err := db.query(ctx, `SELECT `+paymentColumns+` FROM payments `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list payments: %w", err)
	}
	defer rows.Close()
	var ps []*checkout.Payment
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list payments: %w", err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list payments: %w", err)
	}
	return ps, nil
}

// OpenPayments lists payments not in a final status last updated before
// before, oldest update first. limit <= 0 means 100.
func (db *DB) OpenPayments(ctx context.Context, before time.Time, limit int) ([]*checkout.Payment, error) {
	return db.listPayments(ctx, `WHERE status NOT IN `+finalStatuses+` AND updated_at < $1
		ORDER BY COALESCE(checked_at, 0), updated_at, id LIMIT $2`, micros(before), limitOrDefault(limit))
}

// MarkChecked records when the gateway was last asked about a payment. It
// is bookkeeping for the reconciler's spacing, not a state change: no
// version bump, no event.
func (db *DB) MarkChecked(ctx context.Context, id string, at time.Time) error {
	const q = `UPDATE payments SET checked_at = $2 WHERE id = $1`
	var err error
	if db.group != nil {
		// With the other writes of the moment: one commit fewer.
		var st *sql.Stmt
		if st, err = db.ws.stmt(ctx, q); err == nil {
			err = db.group.apply(ctx, &stmtWrite{st: st, args: []any{id, micros(at)}})
		}
	} else {
		_, err = db.exec(ctx, q, id, micros(at))
	}
	if err != nil {
		return fmt.Errorf("store: mark %s checked: %w", id, err)
	}
	return nil
}

// stmtWrite is one prepared statement as a groupCommit write.
type stmtWrite struct {
	st   *sql.Stmt
	args []any
}

func (w *stmtWrite) run(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.StmtContext(ctx, w.st).ExecContext(ctx, w.args...)
	return err
}

func (w *stmtWrite) reflect() {}

// UnsyncedPayments lists final payments whose SyncState is
// [checkout.SyncPending] and that were last updated before before, oldest
// update first. limit <= 0 means 100.
func (db *DB) UnsyncedPayments(ctx context.Context, before time.Time, limit int) ([]*checkout.Payment, error) {
	return db.listPayments(ctx, `WHERE sync_state = '`+string(checkout.SyncPending)+`' AND status IN `+finalStatuses+`
		AND updated_at < $1 ORDER BY updated_at, id LIMIT $2`, micros(before), limitOrDefault(limit))
}

// ListPayments lists a shop's payments, newest first, created before
// before (zero: no bound), for paging. limit <= 0 means 100.
func (db *DB) ListPayments(ctx context.Context, shopID string, before time.Time, limit int) ([]*checkout.Payment, error) {
	if before.IsZero() {
		return db.listPayments(ctx, `WHERE shop_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, shopID, limitOrDefault(limit))
	}
	return db.listPayments(ctx, `WHERE shop_id = $1 AND created_at < $2 ORDER BY created_at DESC, id DESC LIMIT $3`,
		shopID, micros(before), limitOrDefault(limit))
}

func (db *DB) listRefunds(ctx context.Context, where string, args ...any) ([]*checkout.Refund, error) {
	rows, err := db.query(ctx, `SELECT `+refundColumns+` FROM refunds `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list refunds: %w", err)
	}
	defer rows.Close()
	var rs []*checkout.Refund
	for rows.Next() {
		r, err := scanRefund(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list refunds: %w", err)
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list refunds: %w", err)
	}
	return rs, nil
}

// Refund returns the refund with the given id, or an error wrapping
// [checkout.ErrNotFound].
func (db *DB) Refund(ctx context.Context, id string) (*checkout.Refund, error) {
	r, err := scanRefund(db.queryRow(ctx, `SELECT `+refundColumns+` FROM refunds WHERE id = $1`, id))
	return r, notFound(err, "refund "+id)
}

// Refunds lists the payment's refunds, oldest first.
func (db *DB) Refunds(ctx context.Context, paymentID string) ([]*checkout.Refund, error) {
	return db.listRefunds(ctx, `WHERE payment_id = $1 ORDER BY created_at, id`, paymentID)
}

// OpenRefunds lists refunds pending at the gateway, or final but unsynced
// ([checkout.SyncPending]), last updated before before, oldest update
// first. limit <= 0 means 100.
func (db *DB) OpenRefunds(ctx context.Context, before time.Time, limit int) ([]*checkout.Refund, error) {
	return db.listRefunds(ctx, `WHERE (status = '`+string(checkout.RefundPending)+`'
			OR (status IN `+finalRefundStatuses+` AND sync_state = '`+string(checkout.SyncPending)+`'))
		AND updated_at < $1 ORDER BY updated_at, id LIMIT $2`, micros(before), limitOrDefault(limit))
}

// CountPaymentsByStatus counts payments by status, for the bridge_payments
// gauge. Every valid status is present, with 0 when no payment has it.
func (db *DB) CountPaymentsByStatus(ctx context.Context) (map[string]int64, error) {
	counts := map[string]int64{}
	for _, s := range []checkout.Status{checkout.StatusCreated, checkout.StatusRedirected, checkout.StatusPending,
		checkout.StatusPaid, checkout.StatusFailed, checkout.StatusCanceled, checkout.StatusExpired} {
		counts[string(s)] = 0
	}
	rows, err := db.query(ctx, `SELECT status, SUM(n) FROM payment_status_counts GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("store: count payments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			s string
			n int64
		)
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("store: count payments: %w", err)
		}
		counts[s] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: count payments: %w", err)
	}
	return counts, nil
}
