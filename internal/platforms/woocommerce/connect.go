package woocommerce

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
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

var connectPage = template.Must(template.New("connect").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Connect WooCommerce · paybridge</title>
<style nonce="{{.Nonce}}">body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
label{display:block;margin-top:1rem;font-weight:600}input,select{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}.err{color:#b00020}.ar{direction:rtl;color:#555}
fieldset{margin-top:1rem;border:1px solid #ccc;padding:.5rem 1rem 1rem}legend{font-weight:600}
.gw{margin-top:.75rem}.gw>input[type=radio]{width:auto}.gw>label{display:inline;margin:0}
.gw small{font-weight:400;color:#555}.creds{margin-left:1.5rem}
.gw>input[type=radio]:not(:checked)~.creds{display:none}</style></head>
<body><h1>Connect your WooCommerce store</h1>
<p class="ar">اربط متجر WooCommerce الخاص بك</p>
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{if .ErrorAR}}<p class="err ar">{{.ErrorAR}}</p>{{end}}{{end}}
<form method="post" action="{{.Action}}">
<label for="store_url">Store address · عنوان المتجر</label>
<input id="store_url" name="store_url" type="url" required placeholder="https://store.example" value="{{.StoreURL}}">
<fieldset><legend>Payment gateway · بوابة الدفع</legend>
{{range .Gateways}}<div class="gw">
<input type="radio" name="gateway" id="gw-{{.Name}}" value="{{.Name}}"{{if .Checked}} checked{{end}}>
<label for="gw-{{.Name}}">{{.Title}}{{if .Currencies}} <small>· {{.Currencies}}</small>{{end}}</label>
<div class="creds">{{range .Fields}}
<label for="{{.Input}}">{{.Label}}{{if .Required}} *{{end}}{{if .LabelAR}} · <span lang="ar" dir="rtl">{{.LabelAR}}</span>{{end}}</label>
<input id="{{.Input}}" name="{{.Input}}" type="{{if .Secret}}password{{else}}text{{end}}" autocomplete="off">{{end}}
</div></div>
{{else}}<p class="err">No payment gateway is configured on this bridge.</p>{{end}}
</fieldset>
<label><input type="checkbox" name="sandbox" value="1" style="width:auto"{{if .Sandbox}} checked{{end}}> Sandbox (test) account · حساب تجريبي</label>
<p><small>* required · مطلوب</small></p>
<button type="submit">Connect · ربط</button>
</form>
<p>You will be asked by your store to approve read/write access for paybridge. Then install the
<a href="{{.PluginURL}}">paybridge gateway plugin</a> and paste the settings shown.</p>
</body></html>`))

var resultPage = template.Must(template.New("result").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
{{if .Refresh}}<meta http-equiv="refresh" content="3">{{end}}
<title>{{.Heading}} · paybridge</title>
<style nonce="{{.Nonce}}">body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
code{background:#f3f3f3;padding:.15rem .35rem;word-break:break-all}.ar{direction:rtl;color:#555}</style></head>
<body><h1>{{.Heading}}</h1><p class="ar">{{.HeadingAR}}</p><p>{{.Message}}</p>
{{if .ShopID}}<ol>
<li>Download the <a href="{{.PluginURL}}">paybridge gateway plugin</a> and upload it under Plugins › Add New › Upload.</li>
<li>Under WooCommerce › Settings › Payments › Online payment (paybridge), enter:
<ul><li>Bridge URL: <code>{{.BridgeURL}}</code></li><li>Shop ID: <code>{{.ShopID}}</code></li>
<li>Shared secret: <code>{{.Secret}}</code></li></ul></li></ol>
<p>Keep the shared secret private: it is shown only to the browser that started this connection.</p>{{end}}
</body></html>`))

type connectData struct {
	Action, StoreURL, Error, ErrorAR, PluginURL string
	Gateways                                    []connectGateway
	Sandbox                                     bool
	Nonce                                       string // the CSP nonce, set by renderHTML
}

// connectGateway is one gateway offered on the connect form, with the
// credential fields its account needs.
type connectGateway struct {
	Name, Title, Currencies string
	Checked                 bool
	Fields                  []connectField
}

type connectField struct {
	Input, Label, LabelAR string
	Required, Secret      bool
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

// connectGateways lists every registered gateway for the form, selected
// checked (the first one when selected is not registered).
func (p *Platform) connectGateways(selected string) []connectGateway {
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
			g.Fields = append(g.Fields, connectField{Input: credentialInput(name, f.Name), Label: f.Label,
				LabelAR: f.LabelAR, Required: f.Required, Secret: isSecretField(f.Name)})
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
		return checkout.GatewayAccount{}, errors.New("choose a payment gateway")
	}
	caps, ok := p.svc.Capabilities(gw)
	if !ok {
		return checkout.GatewayAccount{}, fmt.Errorf("gateway %q is not available", gw)
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
		return checkout.GatewayAccount{}, &credentialsError{err}
	}
	return checkout.GatewayAccount{Gateway: gw, Sandbox: c.PostForm("sandbox") != "", Credentials: creds}, nil
}

// credentialsError is a connect form whose gateway credentials are missing.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }

type resultData struct {
	Heading, HeadingAR, Message string
	Refresh                     bool
	ShopID, Secret, BridgeURL   string
	PluginURL                   string
	Nonce                       string // the CSP nonce, set by renderHTML
}

// pagePolicy is the pages' Content-Security-Policy: their nonced inline
// stylesheet, the one style attribute the form has, and no scripts.
// form-action is left open: the form's answer redirects to the store's
// wc-auth page, which form-action would also govern.
var pagePolicy = func() server.Policy {
	p := server.StrictPolicy()
	delete(p, "form-action")
	sum := sha256.Sum256([]byte("width:auto"))
	p["style-src-attr"] = []string{"'unsafe-hashes'", "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"}
	return p
}()

func renderHTML(c *gin.Context, status int, t *template.Template, data any) {
	nonce := server.SetPolicy(c, pagePolicy)
	switch d := data.(type) {
	case connectData:
		d.Nonce = nonce
		data = d
	case resultData:
		d.Nonce = nonce
		data = d
	}
	c.Header("Cache-Control", "no-store")
	c.Header("X-Frame-Options", "DENY")
	c.Status(status)
	c.Header("Content-Type", "text/html; charset=utf-8")
	if err := t.Execute(c.Writer, data); err != nil {
		_ = c.Error(err)
	}
}

func (p *Platform) connectForm(c *gin.Context) {
	renderHTML(c, http.StatusOK, connectPage, connectData{Action: routes.WooCommerceConnectURL(p.cfg.PublicURL),
		StoreURL: c.Query("store_url"), PluginURL: routes.WooCommercePluginURL(p.cfg.PublicURL),
		Gateways: p.connectGateways(c.Query("gateway")), Sandbox: c.Query("sandbox") != ""})
}

func hashHex(s string) string {
	h := sha256.Sum256([]byte("paybridge/wc-connect\x00" + s))
	return hex.EncodeToString(h[:])
}

// connectStart records a pending shop (gateway account, fresh secrets, no
// store keys yet), issues a one-time state and sends the merchant to the
// store's wc-auth grant screen.
func (p *Platform) connectStart(c *gin.Context) {
	ctx := c.Request.Context()
	// The form comes back with the store, gateway and sandbox choice kept;
	// credentials are never echoed into the page.
	form := connectData{Action: routes.WooCommerceConnectURL(p.cfg.PublicURL), StoreURL: c.PostForm("store_url"),
		PluginURL: routes.WooCommercePluginURL(p.cfg.PublicURL),
		Gateways:  p.connectGateways(c.PostForm("gateway")), Sandbox: c.PostForm("sandbox") != ""}
	storeURL, err := NormalizeStoreURL(c.PostForm("store_url"), p.cfg.AllowInsecureURLs)
	var acct checkout.GatewayAccount
	if err == nil {
		acct, err = p.connectAccount(c)
	}
	if err != nil {
		form.Error = err.Error()
		var ce *credentialsError
		if errors.As(err, &ce) {
			form.ErrorAR = "بيانات حساب بوابة الدفع ناقصة: يُرجى تعبئة الحقول المطلوبة."
		}
		renderHTML(c, http.StatusUnprocessableEntity, connectPage, form)
		return
	}
	u, _ := url.Parse(storeURL)
	token, state := NewSecret(40), NewSecret(40)
	shop := &checkout.Shop{
		ID: checkout.NewID("shop"), Name: u.Host + u.Path, Platform: checkout.PlatformWooCommerce,
		Gateway:       acct,
		WebhookSecret: NewSecret(48),
		Secrets:       map[string]string{SecretPlugin: NewSecret(48)},
		Settings:      map[string]string{SettingStatus: "pending", SettingStoreURL: storeURL, settingBrowser: hashHex(token)},
		CreatedAt:     p.cfg.Now().UTC(),
	}
	if err := p.store.CreateShop(ctx, shop); err != nil {
		p.fail(c, "en", err)
		return
	}
	if err := p.store.PutOAuthState(ctx, state, checkout.PlatformWooCommerce, storeURL, "connect:"+shop.ID, p.cfg.Now().Add(connectStateTTL)); err != nil {
		p.fail(c, "en", err)
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

// authCallback takes the keys wc-auth POSTs (unsigned) — only for a state
// we issued and that was never used — stores them sealed, answers exactly
// 200, and then registers our webhook in the background.
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
	target := pending
	existing, err := p.store.ShopByDomain(ctx, checkout.PlatformWooCommerce, st.ShopDomain)
	switch {
	case err == nil && existing.ID != pending.ID:
		// A reconnect: the store's shop keeps its id, secrets and payments,
		// and gets the new keys and gateway account.
		existing.Gateway = pending.Gateway
		target = existing
		pending.Settings[SettingStatus], pending.Settings[SettingMergedInto] = "merged", existing.ID
		if err := p.store.UpdateShop(ctx, pending); err != nil {
			server.WriteError(c, err)
			return
		}
	case err != nil && !errors.Is(err, checkout.ErrNotFound):
		server.WriteError(c, err)
		return
	default:
		target.Domain = st.ShopDomain
	}
	if target.Secrets == nil {
		target.Secrets = map[string]string{}
	}
	if target.Settings == nil {
		target.Settings = map[string]string{}
	}
	target.Secrets[SecretConsumerKey], target.Secrets[SecretConsumerSecret] = k.ConsumerKey, k.ConsumerSecret
	target.Settings[SettingStatus] = "connecting"
	delete(target.Settings, SettingStoreURL)
	if err := p.store.UpdateShop(ctx, target); err != nil {
		server.WriteError(c, err)
		return
	}
	p.log.InfoContext(ctx, "woocommerce: keys received", "shop", target.ID, "store", target.Domain, "key_id", k.KeyID.String())
	c.Status(http.StatusOK)
	p.bg.Add(1)
	go p.finishConnect(target.ID)
}

// finishConnect registers the webhook and checks the keys, after the
// callback has been answered (the store waits for our 200 before the keys
// are final). The reconciler's CheckWebhooks does it again if this fails.
func (p *Platform) finishConnect(shopID string) {
	defer p.bg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	shop, err := p.store.Shop(ctx, shopID)
	if err == nil {
		err = p.ensureShop(ctx, shop)
	}
	if err != nil {
		p.log.Warn("woocommerce: finish connection (the reconciler will retry)", "shop", shopID, "err", err)
	}
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
func ensureWebhook(ctx context.Context, cl *Client, publicURL string, shop *checkout.Shop) (*Webhook, error) {
	target := webhookURL(publicURL, shop.ID)
	list, err := cl.Webhooks(ctx)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	for _, w := range list {
		if w.DeliveryURL != target || w.Topic != WebhookTopic {
			continue
		}
		if w.Status == "active" {
			return &w, nil
		}
		got, err := cl.UpdateWebhook(ctx, w.ID, map[string]any{"status": "active"})
		if err != nil {
			return nil, fmt.Errorf("re-activate webhook %d: %w", w.ID, err)
		}
		return got, nil
	}
	w, err := cl.CreateWebhook(ctx, WebhookName, WebhookTopic, target, shop.WebhookSecret)
	if err != nil {
		return nil, fmt.Errorf("create webhook: %w", err)
	}
	return w, nil
}

// CheckWebhooks is for the periodic reconciler: on every connected (or
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
		if s.Platform != checkout.PlatformWooCommerce || s.Domain == "" || s.Secrets[SecretConsumerKey] == "" {
			continue
		}
		if st := s.Settings[SettingStatus]; st == "pending" || st == "merged" {
			continue
		}
		if err := p.ensureShop(ctx, s); err != nil {
			errs = append(errs, fmt.Errorf("woocommerce shop %s (%s): %w", s.ID, s.Domain, err))
		}
	}
	return errors.Join(errs...)
}

// authReturn is where wc-auth sends the merchant back. It is
// unauthenticated: it only shows the plugin settings to the browser that
// started the connection (its cookie).
func (p *Platform) authReturn(c *gin.Context) {
	ctx := c.Request.Context()
	d := resultData{BridgeURL: p.cfg.PublicURL, PluginURL: routes.WooCommercePluginURL(p.cfg.PublicURL)}
	var shop *checkout.Shop
	err := checkout.ErrNotFound
	if checkout.ValidID("shop", c.Param("shop")) {
		shop, err = p.store.Shop(ctx, c.Param("shop"))
	}
	if err != nil || shop.Platform != checkout.PlatformWooCommerce {
		d.Heading, d.HeadingAR, d.Message = "Connection not found", "لم يتم العثور على الربط", "Start again from the connect page."
		renderHTML(c, http.StatusNotFound, resultPage, d)
		return
	}
	if c.Query("success") == "0" {
		d.Heading, d.HeadingAR, d.Message = "Access was not granted", "لم يتم منح الإذن", "The store did not approve the connection. You can start again from the connect page."
		renderHTML(c, http.StatusOK, resultPage, d)
		return
	}
	cookie, _ := c.Cookie(browserCookie)
	mine := cookie != "" && subtle.ConstantTimeCompare([]byte(hashHex(cookie)), []byte(shop.Settings[settingBrowser])) == 1
	if into := shop.Settings[SettingMergedInto]; into != "" {
		if shop, err = p.store.Shop(ctx, into); err != nil {
			p.fail(c, "en", err)
			return
		}
	}
	switch shop.Settings[SettingStatus] {
	case "connected":
		d.Heading, d.HeadingAR, d.Message = "Your store is connected", "تم ربط متجرك", "paybridge can now read and update your orders."
	case "pending":
		d.Heading, d.HeadingAR, d.Message, d.Refresh = "Waiting for your store", "في انتظار متجرك", "Your store has not sent the keys yet. This page refreshes by itself.", true
	default:
		d.Heading, d.HeadingAR, d.Message, d.Refresh = "Finishing the connection", "جارٍ إكمال الربط", "Registering paybridge's webhook in your store. This page refreshes by itself.", true
	}
	if mine {
		d.ShopID, d.Secret = shop.ID, shop.Secrets[SecretPlugin]
	}
	renderHTML(c, http.StatusOK, resultPage, d)
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
