package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/jobs"
	"paybridge/internal/platforms/api"
	"paybridge/internal/routes"
	"paybridge/internal/store"
)

// actionTimeout bounds a button's call to a gateway or a store.
const actionTimeout = 30 * time.Second

// statuses are the payment statuses in the search form, in their order of
// life.
var statuses = []checkout.Status{checkout.StatusCreated, checkout.StatusRedirected, checkout.StatusPending,
	checkout.StatusPaid, checkout.StatusFailed, checkout.StatusCanceled, checkout.StatusExpired}

// shopOption is one shop in the search form.
type shopOption struct{ ID, Name string }

// listData is the payments page's.
type listData struct {
	Ref, Shop, Status, From, To string
	Shops                       []shopOption
	Statuses                    []string
	Rows                        []listRow
	NextURL, FirstURL           string
}

type listRow struct {
	*checkout.Payment
	ShopName string
}

// shopNames maps shop ids to names (every shop's, names only).
func (c *Console) shopNames(g *gin.Context) (map[string]string, []shopOption, error) {
	ls, err := c.cfg.Store.ShopListing(g.Request.Context())
	if err != nil {
		return nil, nil, err
	}
	names := map[string]string{}
	var opts []shopOption
	for _, l := range ls {
		names[l.Shop.ID] = l.Shop.Name
		opts = append(opts, shopOption{l.Shop.ID, l.Shop.Name})
	}
	return names, opts, nil
}

// parseDay reads a YYYY-MM-DD date (UTC); empty is the zero time.
func parseDay(s string) (time.Time, error) {
	if s = strings.TrimSpace(s); s == "" {
		return time.Time{}, nil
	}
	return time.Parse("2006-01-02", s)
}

// cursor writes and reads the paging position "micros.id".
func cursor(p *checkout.Payment) string {
	return strconv.FormatInt(p.CreatedAt.UnixMicro(), 10) + "." + p.ID
}

func parseCursor(s string) (time.Time, string, bool) {
	us, id, ok := strings.Cut(s, ".")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", false
	}
	return time.UnixMicro(n).UTC(), id, true
}

func (c *Console) payments(g *gin.Context) {
	u := currentUser(g)
	d := listData{Ref: strings.TrimSpace(g.Query("q")), Status: g.Query("status"), From: g.Query("from"), To: g.Query("to")}
	for _, s := range statuses {
		d.Statuses = append(d.Statuses, string(s))
	}
	q := store.PaymentSearch{Ref: d.Ref, Limit: PageSize + 1}
	var problem string
	if d.Status != "" {
		if !checkout.Status(d.Status).Valid() {
			problem, d.Status = "e_search", ""
		} else {
			q.Status = checkout.Status(d.Status)
		}
	}
	from, err1 := parseDay(d.From)
	to, err2 := parseDay(d.To)
	if err1 != nil || err2 != nil {
		problem = "e_search"
	} else {
		q.From = from
		if !to.IsZero() {
			q.To = to.AddDate(0, 0, 1) // the "to" day is included
		}
	}
	names, opts, err := c.shopNames(g)
	if err != nil {
		c.renderError(g, http.StatusInternalServerError, "err_internal", err)
		return
	}
	if u.Operator() {
		d.Shop = g.Query("shop")
		d.Shops = opts
	} else {
		d.Shop = u.ShopID
	}
	q.ShopID = d.Shop
	if at, id, ok := parseCursor(g.Query("after")); ok {
		q.AfterCreated, q.AfterID = at, id
	}
	ps, err := c.cfg.Store.SearchPayments(g.Request.Context(), q)
	if err != nil {
		c.renderError(g, http.StatusInternalServerError, "err_internal", err)
		return
	}
	params := url.Values{}
	for k, v := range map[string]string{"q": d.Ref, "status": d.Status, "from": d.From, "to": d.To} {
		if v != "" {
			params.Set(k, v)
		}
	}
	if u.Operator() && d.Shop != "" {
		params.Set("shop", d.Shop)
	}
	if len(ps) > PageSize {
		ps = ps[:PageSize]
		next := url.Values{}
		for k, v := range params {
			next[k] = v
		}
		next.Set("after", cursor(ps[len(ps)-1]))
		d.NextURL = routes.ConsolePayments + "?" + next.Encode()
	}
	if g.Query("after") != "" {
		d.FirstURL = routes.ConsolePayments + "?" + params.Encode()
	}
	for _, p := range ps {
		d.Rows = append(d.Rows, listRow{Payment: p, ShopName: names[p.ShopID]})
	}
	pg := c.newPage(g, tr(lang(g), "payments_title"), "payments", d)
	if problem != "" {
		pg.Problem = problem
	}
	c.render(g, http.StatusOK, "payments.html", pg)
}

// visiblePayment loads the :id payment if the user may see it, and
// answers 404 otherwise (unknown and another shop's alike).
func (c *Console) visiblePayment(g *gin.Context) (*checkout.Payment, bool) {
	p, err := c.cfg.Store.Payment(g.Request.Context(), g.Param("id"))
	switch {
	case errors.Is(err, checkout.ErrNotFound):
		c.renderError(g, http.StatusNotFound, "err_not_found", nil)
		return nil, false
	case err != nil:
		c.renderError(g, http.StatusInternalServerError, "err_internal", err)
		return nil, false
	case !canSee(currentUser(g), p.ShopID):
		c.renderError(g, http.StatusNotFound, "err_not_found", fmt.Errorf("console: %s may not see payment %s of shop %s", currentUser(g).Email, p.ID, p.ShopID))
		return nil, false
	}
	return p, true
}

// eventView is one audit event as shown.
type eventView struct {
	checkout.Event
	Detail string
	// HTTPStatus is the HTTP status a store or callback answered, when
	// the event's detail quotes one.
	HTTPStatus string
}

// httpStatus finds "HTTP 503" (or "status 503") in an error text.
var httpStatus = regexp.MustCompile(`(?i)\b(?:HTTP|status)\s+([1-5][0-9]{2})\b`)

func viewEvent(e checkout.Event) eventView {
	v := eventView{Event: e, Detail: string(redactJSON(e.Detail))}
	if v.Detail == "{}" {
		v.Detail = ""
	}
	if m := httpStatus.FindStringSubmatch(string(e.Detail)); m != nil {
		v.HTTPStatus = m[1]
	}
	return v
}

// syncKinds are the events that record telling the store (or the API's
// callback_url) about a payment or refund; a re-send from the console is
// one too.
var syncKinds = []string{checkout.EventSyncSucceeded, checkout.EventSyncAttemptFailed, checkout.EventSyncFailed}

// paymentData is the payment page's.
type paymentData struct {
	P        *checkout.Payment
	ShopName string
	Events   []eventView
	Syncs    []eventView
	Refunds  []*checkout.Refund
	Dead     []deadJob
	// DeadErr is set when the queue could not be asked for dead jobs.
	DeadErr bool
	// Refund form.
	CanRefund, PartialRefund bool
	RefundWhyNot             string
	Available                checkout.Money
	RefundToken              string
	CanResync                bool
	ResyncWhyNot             string
	Final                    bool
}

func (c *Console) payment(g *gin.Context) {
	p, ok := c.visiblePayment(g)
	if !ok {
		return
	}
	d := paymentData{P: p, Final: p.Status.Final()}
	evs, err := c.cfg.Store.Events(g.Request.Context(), p.ID)
	if err != nil {
		c.renderError(g, http.StatusInternalServerError, "err_internal", err)
		return
	}
	for _, e := range evs {
		v := viewEvent(e)
		d.Events = append(d.Events, v)
		if slices.Contains(syncKinds, e.Kind) || (e.Kind == EventConsoleAction && strings.Contains(string(e.Detail), `"action":"resync"`)) {
			d.Syncs = append(d.Syncs, v)
		}
	}
	if d.Refunds, err = c.cfg.Store.Refunds(g.Request.Context(), p.ID); err != nil {
		c.renderError(g, http.StatusInternalServerError, "err_internal", err)
		return
	}
	names, _, err := c.shopNames(g)
	if err != nil {
		c.renderError(g, http.StatusInternalServerError, "err_internal", err)
		return
	}
	d.ShopName = names[p.ShopID]
	dead, err := c.deadOf(g, p, d.Refunds)
	d.Dead, d.DeadErr = dead, err != nil
	if err != nil {
		c.log.WarnContext(g.Request.Context(), "console: list dead jobs", "err", err)
	}
	d.Available = checkout.RefundAvailable(p, d.Refunds)
	switch {
	case p.Status != checkout.StatusPaid:
		d.RefundWhyNot = "refund_not_paid"
	case c.cfg.Core.Supports(p.Gateway, checkout.FeatureRefund) != nil:
		d.RefundWhyNot = "refund_unsupported"
	case !d.Available.Positive():
		d.RefundWhyNot = "refund_nothing"
	default:
		d.CanRefund = true
		d.PartialRefund = c.cfg.Core.Supports(p.Gateway, checkout.FeaturePartialRefund) == nil
		d.RefundToken = newToken()[:22]
	}
	switch {
	case !p.Status.Final():
		d.ResyncWhyNot = "resync_not_final"
	case p.SyncState == checkout.SyncDone:
		d.ResyncWhyNot = "resync_done"
	default:
		d.CanResync = true
	}
	c.render(g, http.StatusOK, "payment.html", c.newPage(g, tr(lang(g), "payment_title")+" "+p.OrderID, "payments", d))
}

// actionCtx bounds a button's work and keeps it going if the browser
// leaves: the gateway may already have been asked.
func actionCtx(g *gin.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(g.Request.Context()), actionTimeout)
}

func (c *Console) recheck(g *gin.Context) {
	p, ok := c.visiblePayment(g)
	if !ok {
		return
	}
	ctx, cancel := actionCtx(g)
	defer cancel()
	after, err := c.cfg.Core.Confirm(ctx, p.ID, source)
	if errors.Is(err, checkout.ErrNotSettled) {
		err = nil // the gateway answered: not settled yet is an answer
	}
	extra := map[string]any{"status_before": p.Status}
	if after != nil {
		extra["status_after"] = after.Status
	}
	c.action(g, p.ID, "", "recheck", extra, err)
	if err != nil {
		redirect(g, routes.ConsolePaymentPath(p.ID), "e_gateway")
		return
	}
	redirect(g, routes.ConsolePaymentPath(p.ID), "n_rechecked")
}

func (c *Console) resync(g *gin.Context) {
	p, ok := c.visiblePayment(g)
	if !ok {
		return
	}
	if !p.Status.Final() || p.SyncState == checkout.SyncDone {
		redirect(g, routes.ConsolePaymentPath(p.ID), "e_generic")
		return
	}
	ctx, cancel := actionCtx(g)
	defer cancel()
	err := c.cfg.Core.SyncPayment(ctx, p.ID)
	c.action(g, p.ID, "", "resync", map[string]any{"status": p.Status, "sync_state_before": p.SyncState}, err)
	if err != nil {
		redirect(g, routes.ConsolePaymentPath(p.ID), "e_sync")
		return
	}
	redirect(g, routes.ConsolePaymentPath(p.ID), "n_resynced")
}

func (c *Console) refund(g *gin.Context) {
	p, ok := c.visiblePayment(g)
	if !ok {
		return
	}
	amount, err := checkout.ParseMoney(strings.TrimSpace(g.PostForm("amount")), p.Amount.Currency)
	if err != nil || !amount.Positive() {
		redirect(g, routes.ConsolePaymentPath(p.ID), "e_refund_amount")
		return
	}
	req := checkout.RefundRequest{Amount: amount, Reason: strings.TrimSpace(g.PostForm("reason")), Source: source}
	if tok := g.PostForm("once"); tok != "" && len(tok) <= 64 {
		// The form's own token: a double click asks for one refund.
		req.Reference = "console:" + tok
	}
	ctx, cancel := actionCtx(g)
	defer cancel()
	r, _, err := c.cfg.Core.CreateRefund(ctx, p.ID, req)
	extra := map[string]any{"amount": amount.String(), "currency": amount.Currency, "reason": req.Reason}
	refundID := ""
	if r != nil {
		refundID = r.ID
	}
	c.action(g, p.ID, refundID, "refund", extra, err)
	var ve *checkout.ValidationError
	switch {
	case err == nil:
		redirect(g, routes.ConsolePaymentPath(p.ID), "n_refunded")
	case errors.Is(err, checkout.ErrRefundExceeds):
		redirect(g, routes.ConsolePaymentPath(p.ID), "e_refund_exceeds")
	case errors.As(err, &ve):
		redirect(g, routes.ConsolePaymentPath(p.ID), "e_refund_amount")
	default:
		redirect(g, routes.ConsolePaymentPath(p.ID), "e_refund_refused")
	}
}

// Export is the support file of one payment: its whole story, secrets
// redacted, for a merchant's support ticket.
type Export struct {
	// Format names this layout.
	Format     string          `json:"format"`
	ExportedAt time.Time       `json:"exported_at"`
	ExportedBy string          `json:"exported_by"`
	Shop       ExportShop      `json:"shop"`
	Payment    api.PaymentJSON `json:"payment"`
	// SyncState is the store sync state (unsynced, synced, sync_failed).
	SyncState string           `json:"sync_state"`
	Refunds   []api.RefundJSON `json:"refunds"`
	DeadJobs  []ExportJob      `json:"dead_jobs"`
	// DeadJobsError says why dead jobs could not be listed, if so.
	DeadJobsError string `json:"dead_jobs_error,omitempty"`
}

// ExportShop is the shop in an [Export]: no credentials, no keys.
type ExportShop struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Platform string `json:"platform"`
	Gateway  string `json:"gateway"`
	Sandbox  bool   `json:"sandbox"`
}

// ExportJob is a dead job in an [Export].
type ExportJob struct {
	Queue     string    `json:"queue"`
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	RefundID  string    `json:"refund_id,omitempty"`
	Retried   int       `json:"retried"`
	FailedAt  time.Time `json:"failed_at"`
	LastError string    `json:"last_error"`
}

func (c *Console) export(g *gin.Context) {
	p, ok := c.visiblePayment(g)
	if !ok {
		return
	}
	evs, err := c.cfg.Store.Events(g.Request.Context(), p.ID)
	if err != nil {
		c.renderError(g, http.StatusInternalServerError, "err_internal", err)
		return
	}
	refunds, err := c.cfg.Store.Refunds(g.Request.Context(), p.ID)
	if err != nil {
		c.renderError(g, http.StatusInternalServerError, "err_internal", err)
		return
	}
	for i := range evs {
		evs[i].Detail = redactJSON(evs[i].Detail)
	}
	out := Export{Format: "paybridge-support-v1", ExportedAt: c.cfg.Now().UTC().Truncate(time.Second), ExportedBy: currentUser(g).Email,
		Payment: api.NewPaymentJSON(p, routes.PayURL(c.cfg.PublicURL, p.ID), evs), SyncState: string(p.SyncState),
		Refunds: []api.RefundJSON{}, DeadJobs: []ExportJob{}}
	for _, r := range refunds {
		out.Refunds = append(out.Refunds, api.NewRefundJSON(r))
	}
	if ls, err := c.cfg.Store.ShopListing(g.Request.Context()); err == nil {
		for _, l := range ls {
			if l.Shop.ID == p.ShopID {
				s := l.Shop
				out.Shop = ExportShop{ID: s.ID, Name: s.Name, Platform: s.Platform, Gateway: s.Gateway.Gateway, Sandbox: s.Gateway.Sandbox}
			}
		}
	}
	dead, err := c.deadOf(g, p, refunds)
	if err != nil {
		out.DeadJobsError = "the queue could not be reached"
	}
	for _, j := range dead {
		out.DeadJobs = append(out.DeadJobs, ExportJob{Queue: j.Queue, ID: j.ID, Type: j.Type, RefundID: j.RefundID,
			Retried: j.Retried, FailedAt: j.LastFailedAt, LastError: redactString(j.LastError)})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		c.renderError(g, http.StatusInternalServerError, "err_internal", err)
		return
	}
	c.action(g, p.ID, "", "export", nil, nil)
	g.Header("Content-Disposition", `attachment; filename="paybridge-`+p.ID+`.json"`)
	g.Data(http.StatusOK, "application/json; charset=utf-8", append(b, '\n'))
}

// deadOf lists the dead jobs of p and its refunds.
func (c *Console) deadOf(g *gin.Context, p *checkout.Payment, refunds []*checkout.Refund) ([]deadJob, error) {
	all, err := c.deadJobsFor(g)
	if err != nil {
		return nil, err
	}
	mine := map[string]bool{}
	for _, r := range refunds {
		mine[r.ID] = true
	}
	var out []deadJob
	for _, j := range all {
		if j.PaymentID == p.ID || (j.RefundID != "" && mine[j.RefundID]) {
			out = append(out, j)
		}
	}
	return out, nil
}

// deadJob is a dead job with the payment and shop it belongs to.
type deadJob struct {
	jobs.ArchivedTask
	// PaymentID is the task's payment, found through its refund when the
	// payload names only that; ShopID its shop ("" when unknown).
	ShopID, ShopName string
}
