package shopify

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

	"paybridge/internal/checkout"
	"paybridge/internal/server"
)

// SessionTokenLeeway is the clock skew allowed on exp and nbf (Shopify's
// own verifier uses 10 s).
const SessionTokenLeeway = 10 * time.Second

// SessionClaims are the claims of an App Bridge session token.
type SessionClaims struct {
	Dest string `json:"dest"`
	SID  string `json:"sid"`
	jwt.RegisteredClaims
}

// ErrSessionToken: the session token is missing, forged, expired or not
// for this app or a valid shop.
var ErrSessionToken = errors.New("shopify: invalid session token")

// VerifySessionToken checks an App Bridge session token: HS256 signed with
// the app secret (no other algorithm, "none" included), aud = the API key,
// exp and nbf within SessionTokenLeeway, and iss ("https://{shop}/admin")
// and dest ("https://{shop}") naming the same valid shop. It returns the
// shop domain.
func VerifySessionToken(apiKey, apiSecret, token string, now time.Time) (string, *SessionClaims, error) {
	if err := tokenShape(token); err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrSessionToken, err)
	}
	var claims SessionClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return []byte(apiSecret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience(apiKey), jwt.WithLeeway(SessionTokenLeeway),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrSessionToken, err)
	}
	dest, err := url.Parse(claims.Dest)
	if err != nil || dest.Scheme != "https" || !ValidShop(dest.Host) || (dest.Path != "" && dest.Path != "/") {
		return "", nil, fmt.Errorf("%w: dest %q is not a shop", ErrSessionToken, claims.Dest)
	}
	iss, err := url.Parse(claims.Issuer)
	if err != nil || iss.Scheme != "https" || iss.Host != dest.Host || strings.TrimSuffix(iss.Path, "/") != "/admin" {
		return "", nil, fmt.Errorf("%w: iss %q does not match dest", ErrSessionToken, claims.Issuer)
	}
	return dest.Host, &claims, nil
}

// tokenShape refuses what golang-jwt would let through but Shopify's own
// verifier (@shopify/shopify-api, with jose) refuses: a "crit" header
// (this bridge understands no critical extension), an exp, nbf or iat
// that is not a JSON number (golang-jwt reads "123" as 123), and an aud
// that is not one string (the library compares aud with the API key).
// The signature is checked afterwards by jwt.ParseWithClaims.
func tokenShape(token string) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("not a signed JWT")
	}
	var header, claims map[string]json.RawMessage
	for i, into := range []*map[string]json.RawMessage{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return fmt.Errorf("segment %d: %w", i+1, err)
		}
		if err := json.Unmarshal(b, into); err != nil {
			return fmt.Errorf("segment %d: %w", i+1, err)
		}
	}
	if _, ok := header["crit"]; ok {
		return errors.New(`"crit" header: no critical extension is understood`)
	}
	for _, name := range []string{"exp", "nbf", "iat"} {
		v, ok := claims[name]
		if !ok {
			continue
		}
		var n json.Number
		if len(v) == 0 || v[0] == '"' || json.Unmarshal(v, &n) != nil {
			return fmt.Errorf("%s is not a number", name)
		}
	}
	if v, ok := claims["aud"]; ok {
		var aud string
		if json.Unmarshal(v, &aud) != nil {
			return errors.New("aud is not a string")
		}
	}
	return nil
}

const shopCtxKey = "paybridge.shopify.shop"

// authSession authenticates an API call of the settings page.
func (p *Platform) authSession(c *gin.Context) {
	tok, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(tok) == "" {
		c.Header("WWW-Authenticate", `Bearer realm="shopify"`)
		server.WriteError(c, server.Error(http.StatusUnauthorized, "unauthorized", "missing session token"))
		c.Abort()
		return
	}
	domain, _, err := VerifySessionToken(p.cfg.APIKey, p.cfg.APISecret, strings.TrimSpace(tok), p.now())
	if err != nil {
		c.Header("WWW-Authenticate", `Bearer realm="shopify", error="invalid_token"`)
		server.WriteError(c, server.Wrap(err, http.StatusUnauthorized, "unauthorized", "invalid session token"))
		c.Abort()
		return
	}
	shop, err := p.db.ShopByDomain(c.Request.Context(), checkout.PlatformShopify, domain)
	if err != nil {
		if errors.Is(err, checkout.ErrNotFound) {
			server.WriteError(c, server.Error(http.StatusNotFound, "unknown_shop", "install the app first"))
		} else {
			server.WriteError(c, err)
		}
		c.Abort()
		return
	}
	c.Set(shopCtxKey, shop)
	c.Next()
}

// SettingsJSON is the settings API's shape. Secrets are write-only: GET
// says which are set, never their values.
type SettingsJSON struct {
	Mode string `json:"mode"`
	// ManualMethod is the manual payment method's name as set; empty
	// means ManualMethodDefault, the gateway's name (GET).
	ManualMethod        string `json:"manual_method"`
	ManualMethodDefault string `json:"manual_method_default,omitempty"`
	PaymentMethod       string `json:"payment_method"`
	Language            string `json:"language"`
	Invoice             string `json:"invoice"`
	Sandbox             bool   `json:"sandbox"`
	// Gateway is the adapter taking the shop's payments ("upay", "cko",
	// "kupay"); on PUT empty keeps the current one.
	Gateway string `json:"gateway"`
	// Credentials are the gateway's credentials by field name (PUT only).
	// For the current gateway an empty or missing value keeps the stored
	// one; picking another gateway replaces them all.
	Credentials map[string]string `json:"credentials,omitempty"`
	// CredentialsSet says which of the gateway's credentials are stored
	// (GET).
	CredentialsSet map[string]bool `json:"credentials_set,omitempty"`
	// Gateways are those a merchant can pick, with their credential fields
	// (GET).
	Gateways []GatewayOption `json:"gateways,omitempty"`
	// APIKey and APISecret are UPayments' api_key and api_secret,
	// accepted on PUT as before Credentials; on PUT an empty value keeps
	// the stored one.
	APIKey       string `json:"api_key,omitempty"`
	APISecret    string `json:"api_secret,omitempty"`
	APIKeySet    bool   `json:"api_key_set"`
	APISecretSet bool   `json:"api_secret_set"`
}

// GatewayOption is a gateway on the settings page.
type GatewayOption struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	// Currencies it charges in; empty means any.
	Currencies []string `json:"currencies,omitempty"`
	Refunds    bool     `json:"refunds"`
	Invoices   bool     `json:"invoices"`
	// Credentials are the fields to ask for, in order.
	Credentials []CredentialOption `json:"credentials"`
}

// CredentialOption is one credential field of a gateway.
type CredentialOption struct {
	Name     string `json:"name"`
	Label    string `json:"label"`
	Required bool   `json:"required"`
}

// maxCredential bounds a credential's length.
const maxCredential = 500

func (p *Platform) settingsOf(s *checkout.Shop) SettingsJSON {
	out := SettingsJSON{Mode: mode(s), ManualMethod: strings.TrimSpace(s.Settings[SettingManualMethod]),
		ManualMethodDefault: p.gatewayName(s.Gateway.Gateway), PaymentMethod: s.Settings[SettingPaymentMethod],
		Language: s.Settings[SettingLanguage], Invoice: s.Settings[SettingInvoice], Sandbox: s.Gateway.Sandbox,
		Gateway: s.Gateway.Gateway, CredentialsSet: map[string]bool{},
		APIKeySet: s.Gateway.Credentials["api_key"] != "", APISecretSet: s.Gateway.Credentials["api_secret"] != ""}
	if caps, ok := p.svc.Capabilities(s.Gateway.Gateway); ok {
		for _, f := range caps.Credentials {
			out.CredentialsSet[f.Name] = s.Gateway.Credentials[f.Name] != ""
		}
	}
	for _, name := range p.gatewayNames() {
		caps, ok := p.svc.Capabilities(name)
		if !ok {
			continue
		}
		g := GatewayOption{Name: name, DisplayName: caps.DisplayName, Currencies: caps.Currencies,
			Refunds: caps.Refunds, Invoices: caps.Invoices, Credentials: []CredentialOption{}}
		for _, f := range caps.Credentials {
			g.Credentials = append(g.Credentials, CredentialOption{Name: f.Name, Label: f.Label, Required: f.Required})
		}
		out.Gateways = append(out.Gateways, g)
	}
	return out
}

func (p *Platform) getSettings(c *gin.Context) {
	c.JSON(http.StatusOK, p.settingsOf(c.MustGet(shopCtxKey).(*checkout.Shop)))
}

var allowed = map[string]map[string]bool{
	"mode":     {ModePaymentsApp: true, ModeOrderWebhook: true},
	"language": {"": true, "en": true, "ar": true},
	"invoice":  {"": true, "link": true, "email": true, "sms": true, "all": true},
}

func invalid(c *gin.Context, msg string) {
	server.WriteError(c, server.Error(http.StatusUnprocessableEntity, "invalid_field", msg))
}

// gatewayAccount builds the shop's gateway account from a PUT: the
// gateway picked (a registered one), its credentials merged with the
// stored ones when the gateway is unchanged, checked with the gateway's
// CheckCredentials; and an invoice setting only for a gateway that sends
// invoices. It returns a merchant-readable refusal, or "".
func (p *Platform) gatewayAccount(shop *checkout.Shop, in SettingsJSON) (checkout.GatewayAccount, string) {
	gateway := strings.TrimSpace(in.Gateway)
	if gateway == "" {
		gateway = shop.Gateway.Gateway
	}
	caps, ok := p.svc.Capabilities(gateway)
	if !ok || !slices.Contains(p.gatewayNames(), gateway) {
		return checkout.GatewayAccount{}, fmt.Sprintf("gateway: %q is not available", gateway)
	}
	given := map[string]string{}
	for k, v := range in.Credentials {
		given[k] = v
	}
	if in.APIKey != "" && given["api_key"] == "" {
		given["api_key"] = in.APIKey
	}
	if in.APISecret != "" && given["api_secret"] == "" {
		given["api_secret"] = in.APISecret
	}
	for k, v := range given {
		if v = strings.TrimSpace(v); v == "" {
			delete(given, k)
		} else {
			given[k] = v
		}
	}
	if unknown := unknownCredentials(caps, given); len(unknown) > 0 {
		return checkout.GatewayAccount{}, fmt.Sprintf("credentials: %s has no %s", caps.DisplayName, strings.Join(unknown, ", "))
	}
	creds := map[string]string{}
	if gateway == shop.Gateway.Gateway {
		maps.Copy(creds, shop.Gateway.Credentials)
	}
	for k, v := range given {
		if len(v) > maxCredential {
			return checkout.GatewayAccount{}, "credentials: a value is too long"
		}
		creds[k] = v
	}
	if err := caps.CheckCredentials(creds); err != nil {
		return checkout.GatewayAccount{}, err.Error()
	}
	if in.Invoice != "" {
		if err := p.svc.Supports(gateway, checkout.FeatureInvoices); err != nil {
			return checkout.GatewayAccount{}, "invoice: " + err.Error()
		}
	}
	if m := in.PaymentMethod; m != "" && !slices.Contains(caps.Methods, m) {
		if len(caps.Methods) == 0 {
			return checkout.GatewayAccount{}, fmt.Sprintf("payment_method: %s takes none (its page offers its own)", caps.DisplayName)
		}
		return checkout.GatewayAccount{}, fmt.Sprintf("payment_method: %s takes %s, not %q", caps.DisplayName, strings.Join(caps.Methods, ", "), m)
	}
	return checkout.GatewayAccount{Gateway: gateway, Sandbox: in.Sandbox, Credentials: creds}, ""
}

func (p *Platform) putSettings(c *gin.Context) {
	shop := c.MustGet(shopCtxKey).(*checkout.Shop)
	var in SettingsJSON
	if err := server.ReadJSON(c, &in); err != nil {
		server.WriteError(c, err)
		return
	}
	for field, v := range map[string]string{"mode": in.Mode, "language": in.Language, "invoice": in.Invoice} {
		if !allowed[field][v] {
			invalid(c, fmt.Sprintf("%s: %q is not allowed", field, v))
			return
		}
	}
	if len(in.ManualMethod) > 100 || len(in.Gateway) > 100 || len(in.APIKey) > maxCredential || len(in.APISecret) > maxCredential {
		invalid(c, "a value is too long")
		return
	}
	acct, refusal := p.gatewayAccount(shop, in)
	if refusal != "" {
		invalid(c, refusal)
		return
	}
	if shop.Settings == nil {
		shop.Settings = map[string]string{}
	}
	shop.Settings[SettingMode] = in.Mode
	shop.Settings[SettingManualMethod] = strings.TrimSpace(in.ManualMethod)
	shop.Settings[SettingPaymentMethod] = in.PaymentMethod
	shop.Settings[SettingLanguage] = in.Language
	shop.Settings[SettingInvoice] = in.Invoice
	shop.Gateway = acct
	if err := p.db.UpdateShop(c.Request.Context(), shop); err != nil {
		server.WriteError(c, err)
		return
	}
	out := p.settingsOf(shop)
	if shop.Settings[SettingMode] == ModePaymentsApp {
		if err := p.configurePaymentsApp(c.Request.Context(), shop); err != nil {
			p.log.WarnContext(c.Request.Context(), "shopify: paymentsAppConfigure", "shop", shop.Domain, "err", err)
			c.JSON(http.StatusOK, gin.H{"settings": out, "warning": "saved, but Shopify did not accept the payments app configuration: " + err.Error()})
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"settings": out})
}

var settingsTmpl = template.Must(template.New("settings").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>paybridge — payments for Shopify</title>
<meta name="shopify-api-key" content="{{.APIKey}}">
<script nonce="{{.Nonce}}" src="https://cdn.shopify.com/shopifycloud/app-bridge.js"></script>
<style nonce="{{.Nonce}}">body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}label{display:block;margin:.8rem 0 .2rem}input,select{width:100%;padding:.4rem}small{color:#555}</style>
</head><body>
<h1>paybridge settings</h1>
<form id="f">
<label>Gateway<select name="gateway" id="gateway"></select></label>
<small id="gwinfo"></small>
<div id="creds"></div>
<label><input name="sandbox" type="checkbox" style="width:auto"> Sandbox (test) account</label>
<small>Shopify test checkouts are charged only on a sandbox account, real checkouts only on a live account.</small>
<label>Mode<select name="mode"><option value="payments_app">Payments app (Shopify checkout)</option><option value="order_webhook">Manual payment method + order webhook</option></select></label>
<label>Manual payment method name (order-webhook mode)<input name="manual_method" placeholder="the gateway's name"></label>
<label>Payment method (UPayments)<select name="payment_method"><option value="">All (the page offers every method)</option><option>knet</option><option>cc</option><option>apple-pay</option><option>google-pay</option><option>samsung-pay</option></select></label>
<label>Language<select name="language"><option value="">Follow the shopper</option><option value="en">English</option><option value="ar">العربية</option></select></label>
<label>Order-webhook mode: reach the shopper by<select name="invoice"><option value="">A pay link on the order</option><option value="link">The gateway's own pay link on the order</option><option value="email">Gateway invoice by e-mail</option><option value="sms">Gateway invoice by SMS</option><option value="all">Gateway invoice by e-mail and SMS</option></select></label>
<p><button type="submit">Save</button> <span id="msg"></span></p>
</form>
<script nonce="{{.Nonce}}">
const f = document.getElementById('f'), msg = document.getElementById('msg'), gw = document.getElementById('gateway'),
  credsDiv = document.getElementById('creds'), info = document.getElementById('gwinfo');
let state = {gateways: [], gateway: '', credentials_set: {}};
async function call(method, body) {
  const token = await shopify.idToken();
  const r = await fetch('/shopify/api/settings', {method, headers: {'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'}, body: body && JSON.stringify(body)});
  return r.json();
}
function renderCreds() {
  const g = state.gateways.find(x => x.name === gw.value);
  credsDiv.replaceChildren();
  if (!g) return;
  const same = g.name === state.gateway;
  info.textContent = (g.currencies && g.currencies.length ? 'Charges in ' + g.currencies.join(', ') + '. ' : '') +
    (g.refunds ? '' : 'No refunds through the app. ') + (g.invoices ? '' : 'No invoices.');
  for (const c of g.credentials) {
    const l = document.createElement('label'), i = document.createElement('input');
    l.textContent = c.label + (c.required ? '' : ' (optional)');
    i.type = 'password'; i.autocomplete = 'off'; i.dataset.cred = c.name;
    i.placeholder = same && state.credentials_set[c.name] ? 'unchanged' : (c.required ? 'required' : '');
    l.appendChild(i); credsDiv.appendChild(l);
  }
}
gw.addEventListener('change', renderCreds);
call('GET').then(s => {
  state = s;
  for (const g of s.gateways || []) { const o = document.createElement('option'); o.value = g.name; o.textContent = g.display_name; gw.appendChild(o); }
  gw.value = s.gateway;
  for (const k of ['mode','manual_method','payment_method','language','invoice']) f[k].value = s[k] || '';
  f.manual_method.placeholder = s.manual_method_default || '';
  f.sandbox.checked = s.sandbox;
  renderCreds();
});
f.addEventListener('submit', async e => {
  e.preventDefault();
  const credentials = {};
  for (const i of credsDiv.querySelectorAll('input')) if (i.value) credentials[i.dataset.cred] = i.value;
  const b = {gateway: gw.value, credentials, mode: f.mode.value, manual_method: f.manual_method.value, payment_method: f.payment_method.value,
    language: f.language.value, invoice: f.invoice.value, sandbox: f.sandbox.checked};
  const r = await call('PUT', b);
  msg.textContent = r.error ? r.error.message : (r.warning || 'Saved');
  if (r.settings) { state = r.settings; for (const i of credsDiv.querySelectorAll('input')) i.value = ''; renderCreds(); }
});
</script></body></html>`))

// settingsPage serves the merchant settings page, embedded in the Shopify
// admin. It holds no data: its calls carry a session token.
func (p *Platform) settingsPage(c *gin.Context) {
	shop := c.Query("shop")
	frame := "https://admin.shopify.com"
	if ValidShop(shop) {
		frame += " https://" + shop
	}
	// Scripts: App Bridge from Shopify's CDN and the page's own, nonced;
	// 'strict-dynamic' lets the scripts App Bridge itself adds run (the
	// host is the fallback of browsers without it). Styles, images and
	// connections stay open: App Bridge adds its own.
	nonce := server.SetPolicy(c, server.Policy{"script-src": {"'strict-dynamic'", "https://cdn.shopify.com"},
		"object-src": {"'none'"}, "base-uri": {"'none'"}, "frame-ancestors": strings.Fields(frame)})
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	c.Header("Content-Type", "text/html; charset=utf-8")
	if err := settingsTmpl.Execute(c.Writer, struct{ APIKey, Nonce string }{p.cfg.APIKey, nonce}); err != nil {
		_ = c.Error(err)
	}
}
