package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/platforms/api"
	"paybridge/internal/routes"
	"paybridge/internal/store"
)

// maxCredentialLen bounds one credential typed into the form.
const maxCredentialLen = 4096

// maxReasonLen bounds the reason typed for a change.
const maxReasonLen = 500

// listedShop is one shop on the shops page.
type listedShop struct {
	*checkout.Shop
	// Unreadable is true when the shop's secrets do not open with the
	// configured keys: its payments cannot be made or confirmed.
	Unreadable bool
}

func (c *Console) shops(g *gin.Context) {
	u := currentUser(g)
	ls, err := c.cfg.Store.ShopListing(g.Request.Context())
	if err != nil {
		c.renderError(g, http.StatusInternalServerError, "err_internal", err)
		return
	}
	var rows []listedShop
	for _, l := range ls {
		if !canSee(u, l.Shop.ID) {
			continue
		}
		rows = append(rows, listedShop{Shop: l.Shop, Unreadable: l.Err != nil})
	}
	c.render(g, http.StatusOK, "shops.html", c.newPage(g, tr(lang(g), "shops_title"), "shops", rows))
}

// visibleShop loads the :id shop if the user may see it, and answers 404
// otherwise (unknown and another shop's alike). unreadable is true when
// its secrets do not open (the shop comes without them).
func (c *Console) visibleShop(g *gin.Context) (s *checkout.Shop, unreadable, ok bool) {
	id := g.Param("id")
	s, err := c.cfg.Store.Shop(g.Request.Context(), id)
	switch {
	case errors.Is(err, checkout.ErrNotFound):
		c.renderError(g, http.StatusNotFound, "err_not_found", nil)
		return nil, false, false
	case s != nil && errors.Is(err, store.ErrUnreadableSecrets):
		unreadable = true
	case err != nil:
		c.renderError(g, http.StatusInternalServerError, "err_internal", err)
		return nil, false, false
	}
	if !canSee(currentUser(g), s.ID) {
		c.renderError(g, http.StatusNotFound, "err_not_found", fmt.Errorf("console: %s may not see shop %s", currentUser(g).Email, s.ID))
		return nil, false, false
	}
	return s, unreadable, true
}

// actor is the current user as a shop change's author.
func actor(g *gin.Context) store.ShopActor {
	return store.ShopActor{Source: source + ":" + currentUser(g).Email, Reason: reason(g)}
}

// reason is the form's reason, trimmed and bounded.
func reason(g *gin.Context) string {
	r := strings.TrimSpace(g.PostForm("reason"))
	if len(r) > maxReasonLen {
		r = r[:maxReasonLen]
	}
	return strings.ToValidUTF8(r, "")
}

// credentialField is one field of the credentials form.
type credentialField struct {
	Name, Label string
	Required    bool
	// Set is true when a value is stored (never shown).
	Set bool
}

// shopEventView is one shop audit event as shown.
type shopEventView struct {
	store.ShopEvent
	Detail string
}

// checkView is a connection check as its audit event recorded it.
type checkView struct {
	At            time.Time
	By            string
	Gateway       sideView
	Store         sideView
	StoreNotShown bool
}

// sideView is one side of a connection check.
type sideView struct {
	Outcome    string `json:"outcome"`
	HTTPStatus int    `json:"http_status,omitempty"`
	Detail     string `json:"detail,omitempty"`
	Millis     int64  `json:"ms"`
}

// Tone is the badge colour of the outcome.
func (s sideView) Tone() string {
	switch checkout.CheckOutcome(s.Outcome) {
	case checkout.CheckOK:
		return "good"
	case checkout.CheckNotOffered:
		return "none"
	case checkout.CheckUnreachable:
		return "wait"
	}
	return "bad"
}

// shopData is the shop page's.
type shopData struct {
	S          *checkout.Shop
	Unreadable bool
	// GatewayName is the gateway's name for people; Known is false when
	// no adapter of the shop's gateway is configured.
	GatewayName string
	Known       bool
	Fields      []credentialField
	Events      []shopEventView
	LastCheck   *checkView
	// CanRotate is true for an api shop that was not removed.
	CanRotate bool
	Removed   bool
}

func (c *Console) shop(g *gin.Context) {
	s, unreadable, ok := c.visibleShop(g)
	if !ok {
		return
	}
	d := shopData{S: s, Unreadable: unreadable, Removed: s.Status == checkout.ShopRemoved,
		CanRotate: s.Platform == checkout.PlatformAPI && s.Status != checkout.ShopRemoved}
	caps, known := c.cfg.Core.Capabilities(s.Gateway.Gateway)
	d.GatewayName, d.Known = s.Gateway.Gateway, known
	if known {
		d.GatewayName = caps.DisplayName
		for _, f := range caps.Credentials {
			label := f.Label
			if lang(g) == "ar" && f.LabelAR != "" {
				label = f.LabelAR
			}
			d.Fields = append(d.Fields, credentialField{Name: f.Name, Label: label, Required: f.Required,
				Set: strings.TrimSpace(s.Gateway.Credentials[f.Name]) != ""})
		}
	}
	evs, err := c.cfg.Store.ShopEvents(g.Request.Context(), s.ID)
	if err != nil {
		c.renderError(g, http.StatusInternalServerError, "err_internal", err)
		return
	}
	for i := len(evs) - 1; i >= 0; i-- { // newest first
		e := evs[i]
		v := shopEventView{ShopEvent: e, Detail: string(redactJSON(e.Detail))}
		if v.Detail == "{}" {
			v.Detail = ""
		}
		d.Events = append(d.Events, v)
		if e.Kind == store.ShopEventConnectionChecked && d.LastCheck == nil {
			d.LastCheck = readCheck(e)
		}
	}
	c.render(g, http.StatusOK, "shop.html", c.newPage(g, tr(lang(g), "shop_title")+" "+s.Name, "shops", d))
}

// readCheck reads a connection check back from its audit event.
func readCheck(e store.ShopEvent) *checkView {
	var d struct {
		Gateway sideView `json:"gateway"`
		Store   sideView `json:"store"`
	}
	if json.Unmarshal(e.Detail, &d) != nil || d.Gateway.Outcome == "" {
		return nil
	}
	d.Gateway.Detail, d.Store.Detail = redactString(d.Gateway.Detail), redactString(d.Store.Detail)
	return &checkView{At: e.At, By: strings.TrimPrefix(e.Source, source+":"), Gateway: d.Gateway, Store: d.Store,
		StoreNotShown: d.Store.Outcome == string(checkout.CheckNotOffered)}
}

// shopChangeErr is the message key of a refused shop change.
func shopChangeErr(err error) string {
	var oe *store.OpenPaymentsError
	switch {
	case errors.As(err, &oe):
		return "e_shop_open_payments"
	case errors.Is(err, store.ErrShopRemoved):
		return "e_shop_removed"
	case errors.Is(err, checkout.ErrConflict):
		return "e_shop_conflict"
	}
	return "e_shop_change"
}

func (c *Console) disableShop(g *gin.Context) {
	c.shopStatusAction(g, "disable", "n_shop_disabled", func(ctx context.Context, id string, by store.ShopActor) error {
		_, err := c.cfg.Store.DisableShop(ctx, id, by)
		return err
	})
}

func (c *Console) enableShop(g *gin.Context) {
	c.shopStatusAction(g, "enable", "n_shop_enabled", func(ctx context.Context, id string, by store.ShopActor) error {
		_, err := c.cfg.Store.EnableShop(ctx, id, by)
		return err
	})
}

// shopStatusAction runs an operator's change of a shop's status; the
// store records it in the shop's audit trail with the user and reason.
func (c *Console) shopStatusAction(g *gin.Context, what, notice string, do func(ctx context.Context, id string, by store.ShopActor) error) {
	s, _, ok := c.visibleShop(g)
	if !ok {
		return
	}
	ctx, cancel := actionCtx(g)
	defer cancel()
	by := actor(g)
	err := do(ctx, s.ID, by)
	c.log.InfoContext(ctx, "console shop action", "shop", s.ID, "action", what, "user", currentUser(g).Email, "err", err)
	if err != nil {
		redirect(g, routes.ConsoleShopPath(s.ID), shopChangeErr(err))
		return
	}
	redirect(g, routes.ConsoleShopPath(s.ID), notice)
}

func (c *Console) removeShop(g *gin.Context) {
	s, _, ok := c.visibleShop(g)
	if !ok {
		return
	}
	if g.PostForm("confirm") != s.ID {
		redirect(g, routes.ConsoleShopPath(s.ID), "e_shop_confirm")
		return
	}
	ctx, cancel := actionCtx(g)
	defer cancel()
	out, err := c.cfg.Store.RemoveShop(ctx, s.ID, false, actor(g))
	c.log.InfoContext(ctx, "console shop action", "shop", s.ID, "action", "remove", "user", currentUser(g).Email, "err", err)
	switch {
	case err != nil:
		redirect(g, routes.ConsoleShopPath(s.ID), shopChangeErr(err))
	case out.Deleted:
		redirect(g, routes.ConsoleShops, "n_shop_deleted")
	default:
		redirect(g, routes.ConsoleShopPath(s.ID), "n_shop_removed")
	}
}

// rotatedData is the page showing an api shop's new credentials, once.
type rotatedData struct {
	S                     *checkout.Shop
	APIKey, WebhookSecret string
}

// rotateKey gives an api shop a new API key and webhook secret and shows
// them in this answer only: the key is kept as its hash, the secret
// sealed, and neither is logged nor put in the audit trail. A merchant
// may rotate their own shop's key: they hold it, and when it leaks they
// are the ones who must act at once.
func (c *Console) rotateKey(g *gin.Context) {
	s, _, ok := c.visibleShop(g)
	if !ok {
		return
	}
	if s.Platform != checkout.PlatformAPI {
		redirect(g, routes.ConsoleShopPath(s.ID), "e_shop_no_key")
		return
	}
	key, whsec := api.NewCredentials()
	ctx, cancel := actionCtx(g)
	defer cancel()
	err := c.cfg.Store.RotateShopKey(ctx, s.ID, api.HashAPIKey(key), whsec, actor(g))
	c.log.InfoContext(ctx, "console shop action", "shop", s.ID, "action", "rotate_key", "user", currentUser(g).Email, "err", err)
	if err != nil {
		redirect(g, routes.ConsoleShopPath(s.ID), shopChangeErr(err))
		return
	}
	g.Header("Cache-Control", "no-store")
	g.Header("Pragma", "no-cache")
	g.Header("Referrer-Policy", "no-referrer")
	c.render(g, http.StatusOK, "rotated.html", c.newPage(g, tr(lang(g), "rotated_title"), "shops",
		rotatedData{S: s, APIKey: key, WebhookSecret: whsec}))
}

// saveCredentials replaces the shop's gateway credentials with the form's:
// an empty field keeps the stored value (which the form never shows).
func (c *Console) saveCredentials(g *gin.Context) {
	s, unreadable, ok := c.visibleShop(g)
	if !ok {
		return
	}
	back := routes.ConsoleShopPath(s.ID)
	caps, known := c.cfg.Core.Capabilities(s.Gateway.Gateway)
	switch {
	case unreadable:
		redirect(g, back, "e_shop_unreadable")
		return
	case !known:
		redirect(g, back, "e_shop_gateway_unknown")
		return
	case s.Status == checkout.ShopRemoved:
		redirect(g, back, "e_shop_removed")
		return
	}
	creds := make(map[string]string, len(s.Gateway.Credentials))
	for k, v := range s.Gateway.Credentials {
		creds[k] = v
	}
	for _, f := range caps.Credentials {
		v := strings.TrimSpace(g.PostForm("cred_" + f.Name))
		if len(v) > maxCredentialLen || strings.ContainsAny(v, "\r\n\x00") {
			redirect(g, back, "e_credentials_bad")
			return
		}
		if v != "" {
			creds[f.Name] = v
		}
	}
	if err := caps.CheckCredentials(creds); err != nil {
		redirect(g, back, "e_credentials_missing")
		return
	}
	ctx, cancel := actionCtx(g)
	defer cancel()
	changed, err := c.cfg.Store.SetShopCredentials(ctx, s.ID, creds, actor(g))
	c.log.InfoContext(ctx, "console shop action", "shop", s.ID, "action", "set_credentials", "user", currentUser(g).Email,
		"changed", changed, "err", err)
	switch {
	case err != nil:
		redirect(g, back, shopChangeErr(err))
	case !changed:
		redirect(g, back, "n_credentials_unchanged")
	default:
		redirect(g, back, "n_credentials_saved")
	}
}

// checkConnection asks the shop's gateway and store whether they accept
// the bridge, records what was found in the shop's audit trail, and goes
// back to the shop's page, which shows it.
func (c *Console) checkConnection(g *gin.Context) {
	s, unreadable, ok := c.visibleShop(g)
	if !ok {
		return
	}
	back := routes.ConsoleShopPath(s.ID)
	switch {
	case unreadable:
		redirect(g, back, "e_shop_unreadable")
		return
	case s.Status == checkout.ShopRemoved:
		redirect(g, back, "e_shop_removed")
		return
	}
	ctx, cancel := actionCtx(g)
	defer cancel()
	res := c.cfg.Core.CheckConnection(ctx, s)
	side := func(r checkout.CheckResult) sideView {
		return sideView{Outcome: string(r.Outcome), HTTPStatus: r.HTTPStatus, Detail: redactString(r.Detail), Millis: r.Took.Milliseconds()}
	}
	detail := mustJSON(map[string]any{"gateway": side(res.Gateway), "store": side(res.Store)})
	err := c.cfg.Store.RecordShopEvent(ctx, store.ShopEvent{ShopID: s.ID, Kind: store.ShopEventConnectionChecked,
		From: s.Status, To: s.Status, Source: actor(g).Source, Detail: detail})
	c.log.InfoContext(ctx, "console shop action", "shop", s.ID, "action", "check_connection", "user", currentUser(g).Email,
		"gateway", res.Gateway.Outcome, "gateway_ms", res.Gateway.Took.Milliseconds(),
		"store", res.Store.Outcome, "store_ms", res.Store.Took.Milliseconds(), "err", err)
	if err != nil {
		c.renderError(g, http.StatusInternalServerError, "err_internal", err)
		return
	}
	if res.Gateway.OK() && (res.Store.OK() || res.Store.Outcome == checkout.CheckNotOffered) {
		redirect(g, back, "n_check_ok")
		return
	}
	redirect(g, back, "e_check_problem")
}
