package woocommerce

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/routes"
	"paybridge/internal/server"
)

// connectStateTTL is how long a merchant has to approve the wc-auth grant.
const connectStateTTL = time.Hour

const browserCookie = "pb_wc_connect"

// WebhookTopic is the one topic the bridge subscribes to.
const WebhookTopic = "order.updated"

// WebhookName names our webhook in the store's list.
const WebhookName = "paybridge: order updates"

// The connect and result pages. Their texts are in connectTexts, in
// English and Arabic; the page's language is ?lang= (or the form's lang
// field), else the browser's Accept-Language.

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("pages").ParseFS(templateFS, "templates/*.html"))

// pageData is what the connect and result templates read.
type pageData struct {
	Lang, Dir, Title         string
	ConnectURL, OtherLangURL string
	PluginURL                string
	Refresh                  bool
	Nonce                    string // the CSP nonce, set by renderPage

	// The connect form.
	Action, StoreURL, AgainURL string
	Error, ErrorDetail         string
	Gateways                   []connectGateway
	Sandbox                    bool

	// The result page: State is "connected", "waiting" or "problem".
	State, Message, Detail, Store string
	ShopID, Secret, BridgeURL     string
}

// T returns the page's text for key in its language.
func (d pageData) T(key string) string { return connectText(d.Lang, key) }

func connectText(lang, key string) string {
	if s, ok := connectTexts[lang][key]; ok {
		return s
	}
	return connectTexts["en"][key]
}

// pageLang is the language asked for (?lang= or the form's lang), else
// the browser's.
func pageLang(c *gin.Context, fallback string) string {
	switch l := c.Query("lang") + c.PostForm("lang"); l {
	case "ar", "en":
		return l
	}
	if fallback == "ar" || fallback == "en" {
		return fallback
	}
	return server.PreferredLang(c.GetHeader("Accept-Language"))
}

func (p *Platform) newPage(c *gin.Context, lang, titleKey string) pageData {
	other := "ar"
	if lang == "ar" {
		other = "en"
	}
	u := *c.Request.URL
	q := url.Values{}
	if c.Request.Method == http.MethodGet {
		q = u.Query()
	}
	q.Set("lang", other)
	d := pageData{Lang: lang, Dir: "ltr", ConnectURL: routes.WooCommerceConnectURL(p.cfg.PublicURL) + "?lang=" + lang,
		OtherLangURL: u.Path + "?" + q.Encode(), PluginURL: routes.WooCommercePluginURL(p.cfg.PublicURL),
		Action: routes.WooCommerceConnectURL(p.cfg.PublicURL), BridgeURL: p.cfg.PublicURL}
	if lang == "ar" {
		d.Dir = "rtl"
	}
	d.Title = d.T(titleKey)
	return d
}

// connectGateway is one gateway offered on the connect form, with the
// credential fields its account needs.
type connectGateway struct {
	Name, Title, Currencies string
	Checked                 bool
	Fields                  []connectField
}

type connectField struct {
	Input, Label     string
	Required, Secret bool
}

// credentialFields are the fields a gateway's account needs: those it
// reports, or one API key when it reports none.
func credentialFields(caps checkout.Capabilities) []checkout.CredentialField {
	if len(caps.Credentials) > 0 {
		return caps.Credentials
	}
	return []checkout.CredentialField{{Name: "api_key", Label: caps.DisplayName + " API key", Required: true}}
}

// credentialInput is the form field name of a gateway's credential.
func credentialInput(gateway, name string) string { return "cred." + gateway + "." + name }

// isSecretField guesses whether a credential should be typed unseen.
func isSecretField(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "key") || strings.Contains(n, "secret") || strings.Contains(n, "token") || strings.Contains(n, "password")
}

// connectGateways lists every registered gateway for the form, in
// registration order (the bridge's default, UPayments, first), selected
// checked (the first one when selected is not registered), with the
// credential labels in lang.
func (p *Platform) connectGateways(selected, lang string) []connectGateway {
	names := p.svc.GatewayNames()
	if !slices.Contains(names, selected) && len(names) > 0 {
		selected = names[0]
	}
	out := make([]connectGateway, 0, len(names))
	for _, name := range names {
		caps, _ := p.svc.Capabilities(name)
		g := connectGateway{Name: name, Title: caps.DisplayName, Checked: name == selected}
		if len(caps.Currencies) > 0 {
			g.Currencies = strings.Join(caps.Currencies, ", ")
		}
		for _, f := range credentialFields(caps) {
			label := f.Label
			if lang == "ar" && f.LabelAR != "" {
				label = f.LabelAR
			}
			g.Fields = append(g.Fields, connectField{Input: credentialInput(name, f.Name), Label: label,
				Required: f.Required, Secret: isSecretField(f.Name)})
		}
		out = append(out, g)
	}
	return out
}

// connectAccount reads the gateway account from the posted connect form
// and checks it has every required credential. A legacy "gateway_key"
// (the form's one field before gateways had their own) fills the first.
func (p *Platform) connectAccount(c *gin.Context) (checkout.GatewayAccount, error) {
	gw := c.PostForm("gateway")
	if gw == "" {
		return checkout.GatewayAccount{}, &formError{"err_gateway", errors.New("choose a payment gateway")}
	}
	caps, ok := p.svc.Capabilities(gw)
	if !ok {
		return checkout.GatewayAccount{}, &formError{"err_gateway", fmt.Errorf("gateway %q is not available", gw)}
	}
	fields := credentialFields(caps)
	creds := map[string]string{}
	for _, f := range fields {
		if v := strings.TrimSpace(c.PostForm(credentialInput(gw, f.Name))); v != "" {
			creds[f.Name] = v
		}
	}
	if v := strings.TrimSpace(c.PostForm("gateway_key")); v != "" && creds[fields[0].Name] == "" {
		creds[fields[0].Name] = v
	}
	check := caps
	check.Credentials = fields
	if err := check.CheckCredentials(creds); err != nil {
		return checkout.GatewayAccount{}, &formError{"err_credentials", err}
	}
	return checkout.GatewayAccount{Gateway: gw, Sandbox: c.PostForm("sandbox") != "", Credentials: creds}, nil
}

// formError is a connect form the bridge refuses: key names the
// merchant's explanation in connectTexts; err is the detail.
type formError struct {
	key string
	err error
}

func (e *formError) Error() string { return e.err.Error() }
func (e *formError) Unwrap() error { return e.err }

// pagePolicy is the pages' Content-Security-Policy: their nonced inline
// stylesheet and script (the copy buttons), nothing from elsewhere.
// form-action is left open: the form's answer redirects to the store's
// wc-auth page, which form-action would also govern.
var pagePolicy = func() server.Policy {
	p := server.StrictPolicy()
	delete(p, "form-action")
	return p
}()

func renderPage(c *gin.Context, status int, name string, d pageData) {
	d.Nonce = server.SetPolicy(c, pagePolicy)
	c.Header("Cache-Control", "no-store")
	c.Header("X-Frame-Options", "DENY")
	c.Status(status)
	c.Header("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(c.Writer, name, d); err != nil {
		_ = c.Error(err)
	}
}

func (p *Platform) connectForm(c *gin.Context) {
	lang := pageLang(c, "")
	d := p.newPage(c, lang, "connect_title")
	d.StoreURL, d.AgainURL = c.Query("store_url"), c.Query("store_url")
	d.Gateways, d.Sandbox = p.connectGateways(c.Query("gateway"), lang), c.Query("sandbox") != ""
	renderPage(c, http.StatusOK, "connect", d)
}

func hashHex(s string) string {
	h := sha256.Sum256([]byte("paybridge/wc-connect\x00" + s))
	return hex.EncodeToString(h[:])
}

// Settings of the shops the connect form creates (besides SettingStatus
// and SettingStoreURL).
const (
	// settingIntent is "show" on a connection made only to show the plugin
	// settings of the store's existing shop again: it carries no gateway
	// account, and its keys go to that shop.
	settingIntent = "connect_intent"
	// settingLang is the connect page's language, for the result page.
	settingLang = "connect_lang"
	// settingProblem is why a connection stopped ("refused": the store
	// did not take the keys it sent; a reveal for a store with no shop).
	settingProblem = "connect_problem"
)

// connectStart records a pending shop (fresh secrets, no store keys yet;
// a gateway account, or none for intent=show), issues a one-time state and
// sends the merchant to the store's wc-auth grant screen.
//
// intent=show is how a merchant sees the plugin settings again, on any
// device: the store's own approval screen (its administrator logs in and
// approves) is the proof, and the settings are shown once the keys the
// store then sends have been checked with the store. Knowing the store's
// address is not enough: the values are never shown to a browser whose
// connection the store has not approved.
func (p *Platform) connectStart(c *gin.Context) {
	ctx := c.Request.Context()
	lang := pageLang(c, "")
	show := c.PostForm("intent") == "show"
	// The form comes back with the store, gateway and sandbox choice kept;
	// credentials are never echoed into the page.
	form := p.newPage(c, lang, "connect_title")
	if show {
		form.AgainURL = c.PostForm("store_url")
	} else {
		form.StoreURL = c.PostForm("store_url")
	}
	form.Gateways, form.Sandbox = p.connectGateways(c.PostForm("gateway"), lang), c.PostForm("sandbox") != ""
	storeURL, err := NormalizeStoreURL(c.PostForm("store_url"), p.cfg.AllowInsecureURLs)
	if err != nil {
		err = &formError{"err_store_url", err}
	}
	var acct checkout.GatewayAccount
	switch {
	case err != nil:
	case show:
		existing, lookup := p.store.ShopByDomain(ctx, checkout.PlatformWooCommerce, storeURL)
		if errors.Is(lookup, checkout.ErrNotFound) {
			err = &formError{"err_not_connected", fmt.Errorf("%s is not connected to this bridge", storeURL)}
		} else if lookup != nil {
			p.fail(c, lang, lookup)
			return
		} else if existing.Secrets[SecretPlugin] == "" {
			err = &formError{"err_not_connected", fmt.Errorf("%s has no plugin settings on this bridge", storeURL)}
		}
	default:
		acct, err = p.connectAccount(c)
	}
	if err != nil {
		var fe *formError
		if errors.As(err, &fe) {
			form.Error, form.ErrorDetail = form.T(fe.key), fe.err.Error()
		} else {
			form.Error = err.Error()
		}
		renderPage(c, http.StatusUnprocessableEntity, "connect", form)
		return
	}
	u, _ := url.Parse(storeURL)
	token, state := NewSecret(40), NewSecret(40)
	shop := &checkout.Shop{
		ID: checkout.NewID("shop"), Name: u.Host + u.Path, Platform: checkout.PlatformWooCommerce,
		Gateway:       acct,
		WebhookSecret: NewSecret(48),
		Secrets:       map[string]string{SecretPlugin: NewSecret(48)},
		Settings: map[string]string{SettingStatus: "pending", SettingStoreURL: storeURL, settingBrowser: hashHex(token),
			settingLang: lang},
		CreatedAt: p.cfg.Now().UTC(),
	}
	if show {
		shop.Settings[settingIntent] = "show"
	}
	if err := p.store.CreateShop(ctx, shop); err != nil {
		p.fail(c, lang, err)
		return
	}
	if err := p.store.PutOAuthState(ctx, state, checkout.PlatformWooCommerce, storeURL, "connect:"+shop.ID, p.cfg.Now().Add(connectStateTTL)); err != nil {
		p.fail(c, lang, err)
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: browserCookie, Value: token, Path: routes.WooCommerceAuthReturnPath,
		MaxAge: int(connectStateTTL.Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: strings.HasPrefix(p.cfg.PublicURL, "https://")})
	q := url.Values{
		"app_name":     {p.cfg.AppName},
		"scope":        {"read_write"},
		"user_id":      {state},
		"return_url":   {routes.WooCommerceAuthReturnURL(p.cfg.PublicURL, shop.ID)},
		"callback_url": {routes.WooCommerceAuthCallbackURL(p.cfg.PublicURL)},
	}
	c.Redirect(http.StatusFound, storeURL+"/wc-auth/v1/authorize?"+q.Encode())
}

// authKeys is wc-auth's callback body. user_id echoes our state; it is a
// JSON string in practice and a number in the docs' example.
type authKeys struct {
	KeyID          json.Number     `json:"key_id"`
	UserID         json.RawMessage `json:"user_id"`
	ConsumerKey    string          `json:"consumer_key"`
	ConsumerSecret string          `json:"consumer_secret"`
	KeyPermissions string          `json:"key_permissions"`
}

func (k authKeys) state() string {
	var s string
	if json.Unmarshal(k.UserID, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(k.UserID))
}

// authCallback takes the keys wc-auth POSTs — only for a state we issued
// and that was never used — stores them sealed on the connection's own
// (pending) shop, answers exactly 200, and then checks them and registers
// our webhook in the background.
//
// The callback is unsigned, and the state is no secret from whoever
// started the connection (it is in the grant URL they were sent to), so
// its keys are taken on trust only as far as the pending shop: they reach
// the store's shop (its domain claimed, or an existing shop's keys and
// gateway account replaced) and the plugin settings are shown only after
// the store itself accepted them (see claim).
func (p *Platform) authCallback(c *gin.Context) {
	ctx := c.Request.Context()
	var k authKeys
	if err := server.ReadJSON(c, &k); err != nil {
		server.WriteError(c, err)
		return
	}
	state := k.state()
	if state == "" || k.ConsumerKey == "" || k.ConsumerSecret == "" {
		server.WriteError(c, server.Error(http.StatusBadRequest, "bad_request", "want user_id, consumer_key and consumer_secret"))
		return
	}
	if k.KeyPermissions != "read_write" {
		server.WriteError(c, server.Error(http.StatusBadRequest, "bad_scope", "paybridge needs read_write keys"))
		return
	}
	st, err := p.store.TakeOAuthState(ctx, state)
	if err != nil {
		if errors.Is(err, checkout.ErrNotFound) {
			server.WriteError(c, server.Error(http.StatusForbidden, "unknown_state", "this connection was not started here, was already completed, or expired"))
			return
		}
		server.WriteError(c, err)
		return
	}
	shopID, ok := strings.CutPrefix(st.Purpose, "connect:")
	if st.Platform != checkout.PlatformWooCommerce || !ok {
		server.WriteError(c, server.Error(http.StatusForbidden, "unknown_state", "this state is not a WooCommerce connection"))
		return
	}
	pending, err := p.store.Shop(ctx, shopID)
	if err != nil {
		server.WriteError(c, err)
		return
	}
	if pending.Secrets == nil {
		pending.Secrets = map[string]string{}
	}
	if pending.Settings == nil {
		pending.Settings = map[string]string{}
	}
	pending.Secrets[SecretConsumerKey], pending.Secrets[SecretConsumerSecret] = k.ConsumerKey, k.ConsumerSecret
	pending.Settings[SettingStatus], pending.Settings[SettingStoreURL] = "verifying", st.ShopDomain
	if err := p.store.UpdateShop(ctx, pending); err != nil {
		server.WriteError(c, err)
		return
	}
	p.log.InfoContext(ctx, "woocommerce: keys received", "shop", pending.ID, "store", st.ShopDomain, "key_id", k.KeyID.String())
	c.Status(http.StatusOK)
	p.bg.Add(1)
	go p.finishConnect(pending.ID)
}

// finishConnect checks the keys and registers the webhook, after the
// callback has been answered (the store waits for our 200 before the keys
// are final). The reconciler's CheckWebhooks does it again if this fails.
func (p *Platform) finishConnect(shopID string) {
	defer p.bg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	shop, err := p.store.Shop(ctx, shopID)
	if err == nil {
		err = p.advance(ctx, shop)
	}
	if err != nil {
		p.log.Warn("woocommerce: finish connection (the reconciler will retry)", "shop", shopID, "err", err)
	}
}

// advance moves a connection on: keys not yet checked are checked and
// claimed, then the shop they went to gets its webhook.
func (p *Platform) advance(ctx context.Context, shop *checkout.Shop) error {
	if shop.Settings[SettingStatus] == "verifying" {
		target, err := p.claim(ctx, shop)
		if err != nil {
			return err
		}
		shop = target
	}
	if shop.Settings[SettingStatus] == "disabled" {
		return nil
	}
	return p.ensureShop(ctx, shop)
}

// errRefused marks a connection whose store did not take the keys sent for
// it; retrying cannot help.
var errRefused = errors.New("the store did not accept the keys sent for it")

// claim checks a pending shop's keys with a read from its store. Only keys
// the store accepts are the store's: the pending shop then becomes the
// store's shop, or, when the store has one already (a reconnect, or a
// merchant asking to see the plugin settings again), that shop gets the
// keys (and, on a reconnect, the new gateway account) and the pending shop
// is marked merged into it. Keys the store refuses (401, 403) end the
// connection ("refused"); any other failure leaves it to be retried.
func (p *Platform) claim(ctx context.Context, pending *checkout.Shop) (*checkout.Shop, error) {
	storeURL := pending.Settings[SettingStoreURL]
	key, secret := pending.Secrets[SecretConsumerKey], pending.Secrets[SecretConsumerSecret]
	if storeURL == "" || key == "" || secret == "" {
		return nil, fmt.Errorf("connection %s: %w", pending.ID, errNotConnected)
	}
	if err := NewClient(storeURL, key, secret, p.cfg.Timeout).Ping(ctx); err != nil {
		var ae *APIError
		if !errors.As(err, &ae) || (ae.HTTPStatus != http.StatusUnauthorized && ae.HTTPStatus != http.StatusForbidden) {
			return nil, fmt.Errorf("check the store's keys: %w", err)
		}
		return nil, p.stop(ctx, pending, "refused", fmt.Errorf("%w: %w", errRefused, err))
	}
	existing, err := p.store.ShopByDomain(ctx, checkout.PlatformWooCommerce, storeURL)
	switch {
	case err == nil && existing.ID != pending.ID:
		if pending.Settings[settingIntent] != "show" {
			existing.Gateway = pending.Gateway
		}
		if existing.Secrets == nil {
			existing.Secrets = map[string]string{}
		}
		if existing.Settings == nil {
			existing.Settings = map[string]string{}
		}
		existing.Secrets[SecretConsumerKey], existing.Secrets[SecretConsumerSecret] = key, secret
		if existing.Settings[SettingStatus] != "disabled" { // an operator's decision stays
			existing.Settings[SettingStatus] = "connecting"
		}
		if err := p.store.UpdateShop(ctx, existing); err != nil {
			return nil, err
		}
		delete(pending.Secrets, SecretConsumerKey)
		delete(pending.Secrets, SecretConsumerSecret)
		pending.Settings[SettingStatus], pending.Settings[SettingMergedInto] = "merged", existing.ID
		if err := p.store.UpdateShop(ctx, pending); err != nil {
			return nil, err
		}
		return existing, nil
	case err != nil && !errors.Is(err, checkout.ErrNotFound):
		return nil, err
	case pending.Settings[settingIntent] == "show":
		return nil, p.stop(ctx, pending, "gone", fmt.Errorf("%s has no shop on this bridge any more", storeURL))
	}
	pending.Domain = storeURL
	pending.Settings[SettingStatus] = "connecting"
	delete(pending.Settings, SettingStoreURL)
	if err := p.store.UpdateShop(ctx, pending); err != nil {
		return nil, err
	}
	return pending, nil
}

// stop ends a connection that cannot go on, recording why (problem) for
// its result page, and returns err.
func (p *Platform) stop(ctx context.Context, pending *checkout.Shop, problem string, err error) error {
	delete(pending.Secrets, SecretConsumerKey)
	delete(pending.Secrets, SecretConsumerSecret)
	pending.Settings[SettingStatus], pending.Settings[settingProblem] = "refused", problem
	if uerr := p.store.UpdateShop(ctx, pending); uerr != nil {
		return errors.Join(err, uerr)
	}
	return err
}

// ensureShop checks the keys with a read and makes sure our webhook exists
// and is active; a shop still "connecting" becomes "connected".
func (p *Platform) ensureShop(ctx context.Context, shop *checkout.Shop) error {
	cl, err := clientFor(shop, p.cfg.Timeout)
	if err != nil {
		return err
	}
	if shop.Settings[SettingStatus] == "connecting" {
		if err := cl.Ping(ctx); err != nil {
			return fmt.Errorf("check the store's keys: %w", err)
		}
	}
	wh, err := ensureWebhook(ctx, cl, p.cfg.PublicURL, shop)
	if err != nil {
		return err
	}
	want := fmt.Sprint(wh.ID)
	if shop.Settings[SettingStatus] != "connected" || shop.Settings[SettingWebhookID] != want {
		if shop.Settings == nil {
			shop.Settings = map[string]string{}
		}
		shop.Settings[SettingStatus], shop.Settings[SettingWebhookID] = "connected", want
		if err := p.store.UpdateShop(ctx, shop); err != nil {
			return err
		}
	}
	return nil
}

// webhookURL is where a shop's webhooks are delivered.
func webhookURL(publicURL, shopID string) string {
	return routes.WooCommerceWebhooksURL(strings.TrimRight(publicURL, "/"), shopID)
}

// ensureWebhook finds our webhook (by delivery URL and topic), creates it
// with the shop's alphanumeric secret when missing, and re-activates it
// when WooCommerce disabled it after delivery failures (it never retries).
// Two callers at once (`bridge shops add` and a running bridge's
// reconciler) may both create one: each then keeps the oldest (lowest id)
// and deletes the others, so the store ends with one and every order
// change is delivered once.
func ensureWebhook(ctx context.Context, cl *Client, publicURL string, shop *checkout.Shop) (*Webhook, error) {
	target := webhookURL(publicURL, shop.ID)
	ours := func() ([]Webhook, error) {
		list, err := cl.Webhooks(ctx)
		if err != nil {
			return nil, fmt.Errorf("list webhooks: %w", err)
		}
		var out []Webhook
		for _, w := range list {
			if w.DeliveryURL == target && w.Topic == WebhookTopic {
				out = append(out, w)
			}
		}
		slices.SortFunc(out, func(a, b Webhook) int { return cmp.Compare(a.ID, b.ID) })
		return out, nil
	}
	list, err := ours()
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		if _, err := cl.CreateWebhook(ctx, WebhookName, WebhookTopic, target, shop.WebhookSecret); err != nil {
			return nil, fmt.Errorf("create webhook: %w", err)
		}
		if list, err = ours(); err != nil {
			return nil, err
		}
		if len(list) == 0 {
			return nil, errors.New("create webhook: the store does not list the webhook it created")
		}
	}
	keep := list[0]
	for _, extra := range list[1:] {
		var ae *APIError
		if err := cl.DeleteWebhook(ctx, extra.ID); err != nil && !(errors.As(err, &ae) && ae.HTTPStatus == http.StatusNotFound) {
			return nil, fmt.Errorf("delete duplicate webhook %d: %w", extra.ID, err)
		}
	}
	if keep.Status == "active" {
		return &keep, nil
	}
	got, err := cl.UpdateWebhook(ctx, keep.ID, map[string]any{"status": "active"})
	if err != nil {
		return nil, fmt.Errorf("re-activate webhook %d: %w", keep.ID, err)
	}
	return got, nil
}

// CheckWebhooks is for the periodic reconciler: it finishes connections
// whose keys were received but not yet checked, and on every connected (or
// half-connected) WooCommerce shop it makes sure our webhook exists and is
// active, re-enabling it when WooCommerce disabled it. Errors of single
// shops are joined; one failing store does not stop the others.
func (p *Platform) CheckWebhooks(ctx context.Context) error {
	shops, err := p.store.ListShops(ctx)
	if err != nil {
		return fmt.Errorf("woocommerce: list shops: %w", err)
	}
	var errs []error
	for _, s := range shops {
		if s.Platform != checkout.PlatformWooCommerce {
			continue
		}
		if s.Settings[SettingStatus] == "verifying" {
			if err := p.advance(ctx, s); err != nil && !errors.Is(err, errRefused) {
				errs = append(errs, fmt.Errorf("woocommerce connection %s (%s): %w", s.ID, s.Settings[SettingStoreURL], err))
			}
			continue
		}
		if s.Domain == "" || s.Secrets[SecretConsumerKey] == "" {
			continue
		}
		if st := s.Settings[SettingStatus]; st == "pending" || st == "merged" || st == "refused" {
			continue
		}
		if err := p.ensureShop(ctx, s); err != nil {
			errs = append(errs, fmt.Errorf("woocommerce shop %s (%s): %w", s.ID, s.Domain, err))
		}
	}
	return errors.Join(errs...)
}

// authReturn is where wc-auth sends the merchant back. It is
// unauthenticated: it says how the connection stands, and shows the
// plugin settings only to the browser that started the connection (its
// cookie), and only once the store accepted the keys it sent.
func (p *Platform) authReturn(c *gin.Context) {
	ctx := c.Request.Context()
	var shop *checkout.Shop
	err := checkout.ErrNotFound
	if checkout.ValidID("shop", c.Param("shop")) {
		shop, err = p.store.Shop(ctx, c.Param("shop"))
	}
	if err == nil && shop.Platform != checkout.PlatformWooCommerce {
		err = checkout.ErrNotFound
	}
	if err != nil && !errors.Is(err, checkout.ErrNotFound) {
		p.fail(c, pageLang(c, ""), err)
		return
	}
	if err != nil {
		d := p.newPage(c, pageLang(c, ""), "notfound_h")
		d.State, d.Message = "problem", d.T("notfound_p")
		renderPage(c, http.StatusNotFound, "result", d)
		return
	}
	lang := pageLang(c, shop.Settings[settingLang])
	if c.Query("success") == "0" {
		d := p.newPage(c, lang, "denied_h")
		d.State, d.Message = "problem", d.T("denied_p")
		renderPage(c, http.StatusOK, "result", d)
		return
	}
	cookie, _ := c.Cookie(browserCookie)
	mine := cookie != "" && subtle.ConstantTimeCompare([]byte(hashHex(cookie)), []byte(shop.Settings[settingBrowser])) == 1
	if into := shop.Settings[SettingMergedInto]; into != "" {
		if shop, err = p.store.Shop(ctx, into); err != nil {
			p.fail(c, lang, err)
			return
		}
	}
	var d pageData
	switch st := shop.Settings[SettingStatus]; st {
	case "connected":
		d = p.newPage(c, lang, "connected_h1")
		d.State = "connected"
	case "connecting":
		d = p.newPage(c, lang, "finishing_h")
		d.State, d.Message, d.Refresh = "waiting", d.T("finishing_p"), true
	case "refused":
		key := "refused"
		if shop.Settings[settingProblem] == "gone" {
			key = "gone"
		}
		d = p.newPage(c, lang, key+"_h")
		d.State, d.Message = "problem", d.T(key+"_p")
	case "pending":
		d = p.newPage(c, lang, "waiting_h")
		d.State, d.Message, d.Refresh = "waiting", d.T("waiting_p"), true
	default: // verifying
		d = p.newPage(c, lang, "checking_h")
		d.State, d.Message, d.Refresh = "waiting", d.T("checking_p"), true
	}
	if st := shop.Settings[SettingStatus]; st == "connected" || st == "connecting" {
		d.Store = shop.Domain
		if mine {
			d.ShopID, d.Secret = shop.ID, shop.Secrets[SecretPlugin]
		}
	}
	renderPage(c, http.StatusOK, "result", d)
}

// AddShopParams are the inputs of [AddShop] (`bridge shops add --platform
// woocommerce`).
type AddShopParams struct {
	// Name defaults to the store's host.
	Name string
	// StoreURL is the store's address (--url).
	StoreURL string
	// ConsumerKey and ConsumerSecret are REST keys with read_write
	// permission (--consumer-key, --consumer-secret).
	ConsumerKey    string
	ConsumerSecret string
	// Account is the gateway account taking the shop's payments (--gateway
	// and that gateway's credential flags, --sandbox).
	Account checkout.GatewayAccount
}

// AddShop connects a store with keys made by hand (where wc-auth is not
// possible): it checks the keys with a read, creates the shop with fresh
// webhook and plugin secrets, and registers our webhook. When only the
// webhook registration fails, the shop is returned with the error (the
// reconciler's CheckWebhooks retries it). The plugin's settings are
// [PluginSettingsFor] the returned shop.
func AddShop(ctx context.Context, st Store, cfg Config, in AddShopParams) (*checkout.Shop, error) {
	cfg = cfg.withDefaults()
	storeURL, err := NormalizeStoreURL(in.StoreURL, cfg.AllowInsecureURLs)
	if err != nil {
		return nil, err
	}
	if in.ConsumerKey == "" || in.ConsumerSecret == "" {
		return nil, errors.New("the consumer key and secret are required")
	}
	if in.Account.Gateway == "" || len(in.Account.Credentials) == 0 {
		return nil, errors.New("the gateway and its credentials are required")
	}
	if _, err := st.ShopByDomain(ctx, checkout.PlatformWooCommerce, storeURL); err == nil {
		return nil, fmt.Errorf("a WooCommerce shop for %s exists: %w", storeURL, checkout.ErrDuplicate)
	} else if !errors.Is(err, checkout.ErrNotFound) {
		return nil, err
	}
	cl := NewClient(storeURL, in.ConsumerKey, in.ConsumerSecret, cfg.Timeout)
	if err := cl.Ping(ctx); err != nil {
		return nil, fmt.Errorf("the store did not accept the keys for reading orders: %w", err)
	}
	name := in.Name
	if name == "" {
		u, _ := url.Parse(storeURL)
		name = u.Host + u.Path
	}
	shop := &checkout.Shop{
		ID: checkout.NewID("shop"), Name: name, Platform: checkout.PlatformWooCommerce, Domain: storeURL,
		Gateway:       in.Account,
		WebhookSecret: NewSecret(48),
		Secrets: map[string]string{SecretConsumerKey: in.ConsumerKey, SecretConsumerSecret: in.ConsumerSecret,
			SecretPlugin: NewSecret(48)},
		Settings:  map[string]string{SettingStatus: "connecting"},
		CreatedAt: cfg.Now().UTC(),
	}
	if err := st.CreateShop(ctx, shop); err != nil {
		return nil, err
	}
	wh, err := ensureWebhook(ctx, cl, cfg.PublicURL, shop)
	if err != nil {
		return shop, fmt.Errorf("shop %s created, but its webhook could not be registered (the reconciler retries): %w", shop.ID, err)
	}
	shop.Settings[SettingStatus], shop.Settings[SettingWebhookID] = "connected", fmt.Sprint(wh.ID)
	if err := st.UpdateShop(ctx, shop); err != nil {
		return shop, err
	}
	return shop, nil
}

// PluginSettings are what the merchant enters in the gateway plugin.
type PluginSettings struct {
	BridgeURL    string `json:"bridge_url"`
	ShopID       string `json:"shop_id"`
	SharedSecret string `json:"shared_secret"`
}

// PluginSettingsFor returns the plugin settings of a WooCommerce shop.
func PluginSettingsFor(publicURL string, shop *checkout.Shop) PluginSettings {
	return PluginSettings{BridgeURL: strings.TrimRight(publicURL, "/"), ShopID: shop.ID, SharedSecret: shop.Secrets[SecretPlugin]}
}

// connectTexts are the connect and result pages' texts, by language. The
// plugin's own field names (Bridge URL, Shop ID, Shared secret) stay in
// English on both: the plugin shows them so.
var connectTexts = map[string]map[string]string{
	"en": {
		"lang_nav":          "Language",
		"connect_title":     "Connect your WooCommerce store",
		"connect_h1":        "Connect your WooCommerce store",
		"connect_lead":      "Four steps, a few minutes: your store, your payment account, the plugin, and three values to paste.",
		"error_title":       "The store could not be connected",
		"steps_h":           "Steps",
		"step1_h":           "Your store and payment account",
		"store_url":         "Store address",
		"store_url_hint":    "The address of your WordPress site, as shoppers see it.",
		"gateway":           "Payment gateway",
		"no_gateway":        "No payment gateway is set up on this bridge.",
		"sandbox":           "Sandbox (test) account",
		"sandbox_hint":      "Tick this with your gateway's test credentials; untick it with your live ones.",
		"required":          "required",
		"connect_btn":       "Connect store",
		"step2_h":           "Approve paybridge in your store",
		"step2_p":           "Your store asks you to log in to WordPress and approve read and write access for paybridge. You then come back here.",
		"step3_h":           "Install the plugin",
		"step3_p":           "In WordPress: Plugins › Add New Plugin › Upload Plugin, choose the file, Install Now, then Activate.",
		"download":          "Download the plugin",
		"step4_h":           "Paste three values",
		"step4_p":           "Once your store approves, this page shows the Bridge URL, Shop ID and Shared secret, each with a copy button.",
		"again_h":           "Already connected?",
		"again_p":           "See your plugin settings again, on any device: your store asks you to approve paybridge once more, then the three values are shown in this browser. Your payment account stays as it is.",
		"again_btn":         "Show my plugin settings",
		"err_store_url":     "Check the store address: it must be your site's https:// address.",
		"err_gateway":       "Choose a payment gateway.",
		"err_credentials":   "Some of your payment account's details are missing: fill in the fields marked *.",
		"err_not_connected": "This store is not connected to paybridge yet: connect it with the form above.",
		"connected_h1":      "Your store is connected",
		"connected_p":       "paybridge can now read your orders and mark them paid once your gateway confirms each payment.",
		"finishing_h":       "Finishing the connection",
		"finishing_p":       "Your store accepted paybridge; its order updates are being set up. This page refreshes by itself.",
		"checking_h":        "Checking the keys your store sent",
		"checking_p":        "Your store approved paybridge. This page refreshes by itself in a moment.",
		"waiting_h":         "Waiting for your store",
		"waiting_p":         "Your store has not sent paybridge its keys yet. This page refreshes by itself.",
		"refused_h":         "Your store did not accept the connection",
		"refused_p":         "The keys sent in your store's name did not work with your store. Start again from the connect page.",
		"gone_h":            "This store is not connected any more",
		"gone_p":            "paybridge has no shop for this store now. Connect it again from the connect page.",
		"denied_h":          "Access was not granted",
		"denied_p":          "Your store did not approve the connection. You can start again from the connect page.",
		"notfound_h":        "Connection not found",
		"notfound_p":        "This link is not (or no longer) a connection. Start again from the connect page.",
		"start_again":       "Back to the connect page",
		"next_h":            "Now set up the plugin",
		"r_step1_h":         "Install the plugin",
		"r_step1_p":         "In WordPress: Plugins › Add New Plugin › Upload Plugin, choose the file, Install Now, then Activate.",
		"r_step2_h":         "Paste these three values",
		"r_step2_p":         "WooCommerce › Settings › Payments ›",
		"bridge_url":        "Bridge URL",
		"shop_id":           "Shop ID",
		"shared_secret":     "Shared secret",
		"copy":              "Copy",
		"copied":            "Copied",
		"copied_live":       "Copied to the clipboard.",
		"copy_failed":       "Could not copy: select the value and copy it by hand.",
		"r_step3_h":         "Turn it on",
		"r_step3_a":         "Tick “",
		"r_step3_b":         "” and save. Your shoppers now see it at checkout.",
		"keep_h":            "Keep the shared secret private.",
		"keep_p":            "It lets the plugin ask for payments and refunds in your shop's name.",
		"again_later":       "Need these values again later?",
		"again_link":        "Show my plugin settings",
		"not_here_h":        "The plugin settings are not shown in this browser",
		"not_here_p":        "They are shown only in the browser that started the connection. To see them here, ask for them again: your store will ask you to approve.",
	},
	"ar": {
		"lang_nav":          "اللغة",
		"connect_title":     "اربط متجر WooCommerce",
		"connect_h1":        "اربط متجر WooCommerce الخاص بك",
		"connect_lead":      "أربع خطوات تستغرق بضع دقائق: متجرك، وحساب الدفع، والإضافة، وثلاث قيم تلصقها.",
		"error_title":       "تعذّر ربط المتجر",
		"steps_h":           "الخطوات",
		"step1_h":           "متجرك وحساب الدفع",
		"store_url":         "عنوان المتجر",
		"store_url_hint":    "عنوان موقع ووردبريس الخاص بك كما يراه المتسوقون.",
		"gateway":           "بوابة الدفع",
		"no_gateway":        "لم تُضبط أي بوابة دفع على هذا الجسر.",
		"sandbox":           "حساب تجريبي (Sandbox)",
		"sandbox_hint":      "حدّد هذا الخيار مع بيانات الاختبار لبوابتك، وألغِ تحديده مع بياناتك الفعلية.",
		"required":          "مطلوب",
		"connect_btn":       "اربط المتجر",
		"step2_h":           "وافق على paybridge في متجرك",
		"step2_p":           "سيطلب منك متجرك تسجيل الدخول إلى ووردبريس والموافقة على منح paybridge صلاحية القراءة والكتابة، ثم تعود إلى هنا.",
		"step3_h":           "ثبّت الإضافة",
		"step3_p":           "في ووردبريس: الإضافات › أضف إضافة جديدة › رفع إضافة، اختر الملف، ثم التثبيت الآن، ثم التفعيل.",
		"download":          "نزّل الإضافة",
		"step4_h":           "الصق ثلاث قيم",
		"step4_p":           "بعد موافقة متجرك تعرض هذه الصفحة Bridge URL وShop ID وShared secret، ولكل منها زر نسخ.",
		"again_h":           "هل متجرك مربوط بالفعل؟",
		"again_p":           "اعرض إعدادات الإضافة مرة أخرى من أي جهاز: سيطلب منك متجرك الموافقة على paybridge مرة أخرى، ثم تُعرض القيم الثلاث في هذا المتصفح. يبقى حساب الدفع كما هو.",
		"again_btn":         "اعرض إعدادات الإضافة",
		"err_store_url":     "تحقّق من عنوان المتجر: يجب أن يكون عنوان موقعك الذي يبدأ بـ https://.",
		"err_gateway":       "اختر بوابة الدفع.",
		"err_credentials":   "بيانات حساب بوابة الدفع ناقصة: يُرجى تعبئة الحقول المعلَّمة بـ *.",
		"err_not_connected": "هذا المتجر غير مربوط بـ paybridge بعد: اربطه بالنموذج أعلاه.",
		"connected_h1":      "تم ربط متجرك",
		"connected_p":       "يستطيع paybridge الآن قراءة طلباتك وتعليمها مدفوعة بعد أن تؤكد البوابة كل دفعة.",
		"finishing_h":       "جارٍ إكمال الربط",
		"finishing_p":       "قبل متجرك paybridge، ويجري الآن إعداد تحديثات الطلبات. تتحدّث هذه الصفحة تلقائيًا.",
		"checking_h":        "جارٍ التحقق من المفاتيح التي أرسلها متجرك",
		"checking_p":        "وافق متجرك على paybridge. تتحدّث هذه الصفحة تلقائيًا بعد لحظات.",
		"waiting_h":         "في انتظار متجرك",
		"waiting_p":         "لم يرسل متجرك المفاتيح إلى paybridge بعد. تتحدّث هذه الصفحة تلقائيًا.",
		"refused_h":         "لم يقبل متجرك الربط",
		"refused_p":         "المفاتيح التي أُرسلت باسم متجرك لا تعمل مع متجرك. ابدأ من جديد من صفحة الربط.",
		"gone_h":            "هذا المتجر لم يعد مربوطًا",
		"gone_p":            "لا يوجد لدى paybridge متجر بهذا العنوان الآن. اربطه مرة أخرى من صفحة الربط.",
		"denied_h":          "لم يتم منح الإذن",
		"denied_p":          "لم يوافق متجرك على الربط. يمكنك البدء من جديد من صفحة الربط.",
		"notfound_h":        "لم يتم العثور على الربط",
		"notfound_p":        "هذا الرابط ليس (أو لم يعد) عملية ربط. ابدأ من جديد من صفحة الربط.",
		"start_again":       "العودة إلى صفحة الربط",
		"next_h":            "الآن اضبط الإضافة",
		"r_step1_h":         "ثبّت الإضافة",
		"r_step1_p":         "في ووردبريس: الإضافات › أضف إضافة جديدة › رفع إضافة، اختر الملف، ثم التثبيت الآن، ثم التفعيل.",
		"r_step2_h":         "الصق هذه القيم الثلاث",
		"r_step2_p":         "ووكومرس › الإعدادات › المدفوعات ›",
		"bridge_url":        "عنوان الجسر",
		"shop_id":           "معرّف المتجر",
		"shared_secret":     "السر المشترك",
		"copy":              "نسخ",
		"copied":            "تم النسخ",
		"copied_live":       "تم النسخ إلى الحافظة.",
		"copy_failed":       "تعذّر النسخ: حدّد القيمة وانسخها يدويًا.",
		"r_step3_h":         "فعّلها",
		"r_step3_a":         "حدّد «",
		"r_step3_b":         "» واحفظ. سيرى المتسوقون طريقة الدفع عند إتمام الطلب.",
		"keep_h":            "احتفظ بالسر المشترك لنفسك.",
		"keep_p":            "فهو يتيح للإضافة طلب المدفوعات والمبالغ المستردة باسم متجرك.",
		"again_later":       "هل تحتاج إلى هذه القيم لاحقًا؟",
		"again_link":        "اعرض إعدادات الإضافة",
		"not_here_h":        "لا تُعرض إعدادات الإضافة في هذا المتصفح",
		"not_here_p":        "تُعرض فقط في المتصفح الذي بدأ الربط. لعرضها هنا اطلبها مرة أخرى، وسيطلب منك متجرك الموافقة.",
	},
}
