package shopify

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
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
// says whether they are set.
type SettingsJSON struct {
	Mode          string `json:"mode"`
	ManualMethod  string `json:"manual_method"`
	PaymentMethod string `json:"payment_method"`
	Language      string `json:"language"`
	Invoice       string `json:"invoice"`
	Sandbox       bool   `json:"sandbox"`
	// APIKey and APISecret are the UPayments credentials; on PUT an empty
	// value keeps the stored one.
	APIKey       string `json:"api_key,omitempty"`
	APISecret    string `json:"api_secret,omitempty"`
	APIKeySet    bool   `json:"api_key_set"`
	APISecretSet bool   `json:"api_secret_set"`
}

func settingsOf(s *checkout.Shop) SettingsJSON {
	return SettingsJSON{Mode: mode(s), ManualMethod: manualMethod(s), PaymentMethod: s.Settings[SettingPaymentMethod],
		Language: s.Settings[SettingLanguage], Invoice: s.Settings[SettingInvoice], Sandbox: s.Gateway.Sandbox,
		APIKeySet: s.Gateway.Credentials["api_key"] != "", APISecretSet: s.Gateway.Credentials["api_secret"] != ""}
}

func (p *Platform) getSettings(c *gin.Context) {
	c.JSON(http.StatusOK, settingsOf(c.MustGet(shopCtxKey).(*checkout.Shop)))
}

var allowed = map[string]map[string]bool{
	"mode":           {ModePaymentsApp: true, ModeOrderWebhook: true},
	"payment_method": {"": true, "knet": true, "cc": true, "apple-pay": true, "google-pay": true, "samsung-pay": true, "amex": true},
	"language":       {"": true, "en": true, "ar": true},
	"invoice":        {"": true, "email": true, "sms": true, "all": true},
}

func (p *Platform) putSettings(c *gin.Context) {
	shop := c.MustGet(shopCtxKey).(*checkout.Shop)
	var in SettingsJSON
	if err := server.ReadJSON(c, &in); err != nil {
		server.WriteError(c, err)
		return
	}
	for field, v := range map[string]string{"mode": in.Mode, "payment_method": in.PaymentMethod, "language": in.Language, "invoice": in.Invoice} {
		if !allowed[field][v] {
			server.WriteError(c, server.Error(http.StatusUnprocessableEntity, "invalid_field", fmt.Sprintf("%s: %q is not allowed", field, v)))
			return
		}
	}
	if len(in.ManualMethod) > 100 || len(in.APIKey) > 500 || len(in.APISecret) > 500 {
		server.WriteError(c, server.Error(http.StatusUnprocessableEntity, "invalid_field", "a value is too long"))
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
	shop.Gateway.Sandbox = in.Sandbox
	if shop.Gateway.Credentials == nil {
		shop.Gateway.Credentials = map[string]string{}
	}
	if in.APIKey != "" {
		shop.Gateway.Credentials["api_key"] = strings.TrimSpace(in.APIKey)
	}
	if in.APISecret != "" {
		shop.Gateway.Credentials["api_secret"] = strings.TrimSpace(in.APISecret)
	}
	if err := p.db.UpdateShop(c.Request.Context(), shop); err != nil {
		server.WriteError(c, err)
		return
	}
	out := settingsOf(shop)
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
<html lang="en"><head><meta charset="utf-8"><title>paybridge — UPayments for Shopify</title>
<meta name="shopify-api-key" content="{{.APIKey}}">
<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js"></script>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}label{display:block;margin:.8rem 0 .2rem}input,select{width:100%;padding:.4rem}</style>
</head><body>
<h1>UPayments settings</h1>
<form id="f">
<label>Mode<select name="mode"><option value="payments_app">Payments app (Shopify checkout)</option><option value="order_webhook">Manual payment method + order webhook</option></select></label>
<label>Manual payment method name (order-webhook mode)<input name="manual_method" placeholder="UPayments"></label>
<label>UPayments API key<input name="api_key" type="password" autocomplete="off" placeholder="unchanged"></label>
<label>UPayments API secret (optional)<input name="api_secret" type="password" autocomplete="off" placeholder="unchanged"></label>
<label><input name="sandbox" type="checkbox" style="width:auto"> Sandbox (test) account</label>
<label>Payment method<select name="payment_method"><option value="">All (the page offers every method)</option><option>knet</option><option>cc</option><option>apple-pay</option><option>google-pay</option><option>samsung-pay</option><option>amex</option></select></label>
<label>Language<select name="language"><option value="">Follow the shopper</option><option value="en">English</option><option value="ar">العربية</option></select></label>
<label>Order-webhook mode: reach the shopper by<select name="invoice"><option value="">A pay link on the order</option><option value="email">UPayments invoice by e-mail</option><option value="sms">UPayments invoice by SMS</option><option value="all">UPayments invoice by e-mail and SMS</option></select></label>
<p><button type="submit">Save</button> <span id="msg"></span></p>
</form>
<script>
const f = document.getElementById('f'), msg = document.getElementById('msg');
async function call(method, body) {
  const token = await shopify.idToken();
  const r = await fetch('/shopify/api/settings', {method, headers: {'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'}, body: body && JSON.stringify(body)});
  return r.json();
}
call('GET').then(s => { for (const k of ['mode','manual_method','payment_method','language','invoice']) f[k].value = s[k] || ''; f.sandbox.checked = s.sandbox; });
f.addEventListener('submit', async e => {
  e.preventDefault();
  const b = {mode: f.mode.value, manual_method: f.manual_method.value, payment_method: f.payment_method.value, language: f.language.value,
    invoice: f.invoice.value, sandbox: f.sandbox.checked, api_key: f.api_key.value, api_secret: f.api_secret.value};
  const r = await call('PUT', b);
  msg.textContent = r.error ? r.error.message : (r.warning || 'Saved');
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
	c.Header("Content-Security-Policy", "frame-ancestors "+frame)
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	c.Header("Content-Type", "text/html; charset=utf-8")
	if err := settingsTmpl.Execute(c.Writer, struct{ APIKey string }{p.cfg.APIKey}); err != nil {
		_ = c.Error(err)
	}
}
