package shopify

import (
	"context"
	"embed"
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
	"paybridge/internal/routes"
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
	// Status is the connection's state (GET, and the PUT's answer).
	Status *StatusJSON `json:"status,omitempty"`
}

// GatewayOption is a gateway on the settings page.
type GatewayOption struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	// Currencies it charges in; empty means any.
	Currencies []string `json:"currencies,omitempty"`
	Refunds    bool     `json:"refunds"`
	Invoices   bool     `json:"invoices"`
	// Methods are the payment methods a payment may name (empty: the
	// gateway's page offers its own).
	Methods []string `json:"methods,omitempty"`
	// Credentials are the fields to ask for, in order.
	Credentials []CredentialOption `json:"credentials"`
}

// CredentialOption is one credential field of a gateway.
type CredentialOption struct {
	Name    string `json:"name"`
	Label   string `json:"label"`
	LabelAR string `json:"label_ar,omitempty"`
	// Required fields must be set for the account to work.
	Required bool `json:"required"`
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
			Refunds: caps.Refunds, Invoices: caps.Invoices, Methods: caps.Methods, Credentials: []CredentialOption{}}
		for _, f := range caps.Credentials {
			g.Credentials = append(g.Credentials, CredentialOption{Name: f.Name, Label: f.Label, LabelAR: f.LabelAR, Required: f.Required})
		}
		out.Gateways = append(out.Gateways, g)
	}
	out.Status = p.statusOf(s)
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
	if shop.Settings[SettingMode] == ModePaymentsApp {
		if err := p.configureRecorded(c.Request.Context(), shop); err != nil {
			p.log.WarnContext(c.Request.Context(), "shopify: paymentsAppConfigure", "shop", shop.Domain, "err", err)
			c.JSON(http.StatusOK, gin.H{"settings": p.settingsOf(shop), "warning": "saved, but Shopify did not accept the payments app configuration: " + err.Error(),
				"warning_code": shopifyCheck(err, true).Code})
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"settings": p.settingsOf(shop)})
}

// Shop settings the settings page records besides the merchant's own.
const (
	// settingConfigured is what paymentsAppConfigure last told Shopify,
	// from the settings page: "ready" or "not_ready" when Shopify took it,
	// "failed" when it did not (settingConfigureError says why); empty
	// when it was not asked from the settings page yet.
	settingConfigured     = "payments_app_configured"
	settingConfigureError = "payments_app_configure_error"
	settingConfiguredAt   = "payments_app_configured_at"
)

// ModeTestPayment marks a payment made with the settings page's "test
// payment" button: a sandbox charge the merchant opens to see the
// gateway's page, tied to no Shopify session or order, so nothing is told
// to Shopify once it is final (SyncPayment does nothing).
const ModeTestPayment = "settings_test"

// StatusJSON is the connection's state on the settings page.
type StatusJSON struct {
	// Gateway is the gateway's name for people; GatewayKnown is false when
	// the shop's gateway is not registered on this bridge.
	Gateway      string `json:"gateway"`
	GatewayKnown bool   `json:"gateway_known"`
	Sandbox      bool   `json:"sandbox"`
	// CredentialsMissing are the labels of the required credentials not
	// entered (CredentialsMissingAR the same in Arabic).
	CredentialsMissing   []string `json:"credentials_missing"`
	CredentialsMissingAR []string `json:"credentials_missing_ar"`
	Mode                 string   `json:"mode"`
	// Ready is what paymentsAppConfigure tells Shopify: the account has
	// every required credential.
	Ready bool `json:"ready"`
	// Configured is what Shopify last accepted from the settings page
	// ("ready", "not_ready"), "failed" (ConfigureError says why), or "".
	Configured     string `json:"configured"`
	ConfigureError string `json:"configure_error,omitempty"`
	ConfiguredAt   string `json:"configured_at,omitempty"`
	// TestPayments is true when a test payment can be made: a sandbox
	// account with its credentials.
	TestPayments bool `json:"test_payments"`
}

func (p *Platform) statusOf(s *checkout.Shop) *StatusJSON {
	st := &StatusJSON{Gateway: p.gatewayName(s.Gateway.Gateway), Sandbox: s.Gateway.Sandbox, Mode: mode(s),
		CredentialsMissing: []string{}, CredentialsMissingAR: []string{},
		Configured: s.Settings[settingConfigured], ConfigureError: s.Settings[settingConfigureError],
		ConfiguredAt: s.Settings[settingConfiguredAt]}
	caps, ok := p.svc.Capabilities(s.Gateway.Gateway)
	st.GatewayKnown = ok
	for _, f := range caps.Credentials {
		if f.Required && strings.TrimSpace(s.Gateway.Credentials[f.Name]) == "" {
			st.CredentialsMissing = append(st.CredentialsMissing, f.Label)
			st.CredentialsMissingAR = append(st.CredentialsMissingAR, cmpOr(f.LabelAR, f.Label))
		}
	}
	st.Ready = ok && len(st.CredentialsMissing) == 0
	st.TestPayments = st.Ready && s.Gateway.Sandbox
	return st
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// configureRecorded calls paymentsAppConfigure and records what Shopify
// answered on the shop, for the settings page.
func (p *Platform) configureRecorded(ctx context.Context, shop *checkout.Shop) error {
	err := p.configurePaymentsApp(ctx, shop)
	if shop.Settings == nil {
		shop.Settings = map[string]string{}
	}
	shop.Settings[settingConfiguredAt] = p.now().UTC().Format(time.RFC3339)
	switch {
	case err != nil:
		shop.Settings[settingConfigured], shop.Settings[settingConfigureError] = "failed", err.Error()
	case p.statusOf(shop).Ready:
		shop.Settings[settingConfigured] = "ready"
		delete(shop.Settings, settingConfigureError)
	default:
		shop.Settings[settingConfigured] = "not_ready"
		delete(shop.Settings, settingConfigureError)
	}
	if uerr := p.db.UpdateShop(ctx, shop); uerr != nil {
		p.log.WarnContext(ctx, "shopify: record paymentsAppConfigure", "shop", shop.Domain, "err", uerr)
	}
	return err
}

// CheckJSON is one check of "check connection": what was asked (Part:
// "gateway" or "shopify"), whether it worked, a Code the page words in the
// merchant's language, and Detail, the answer's own words (English).
type CheckJSON struct {
	Part   string `json:"part"`
	OK     bool   `json:"ok"`
	Code   string `json:"code"`
	Detail string `json:"detail,omitempty"`
}

// Check codes.
const (
	checkOK          = "ok"           // the gateway or Shopify answered and took the credentials
	checkMissing     = "missing"      // required credentials are not entered
	checkUnknown     = "unknown"      // the shop's gateway is not on this bridge
	checkRefused     = "refused"      // the gateway refused the credentials (401, 403)
	checkUnreachable = "unreachable"  // no answer, a timeout or a 5xx: try again later
	checkError       = "error"        // another refusal; Detail says it
	checkNotReady    = "not_ready"    // Shopify took the configuration, with ready=false
	checkDenied      = "denied"       // ACCESS_DENIED: the app lacks the payments scopes
	checkToken       = "token"        // Shopify refused the access token: reinstall
	checkLive        = "live_account" // a test payment on a live account
)

// gatewayCheck asks the shop's gateway with the stored credentials
// (checkout.Service.CheckGateway, the console's check too: the account's
// methods where the gateway lists them, and a status question no cache
// answers) and words the answer.
func (p *Platform) gatewayCheck(ctx context.Context, shop *checkout.Shop) CheckJSON {
	out := CheckJSON{Part: "gateway"}
	if _, ok := p.svc.Capabilities(shop.Gateway.Gateway); !ok {
		out.Code, out.Detail = checkUnknown, shop.Gateway.Gateway
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	r := p.svc.CheckGateway(ctx, shop)
	out.OK, out.Code = r.OK(), checkCode(r.Outcome)
	if !out.OK {
		out.Detail = r.Detail
	}
	return out
}

// checkCode is the page's code for a check outcome of the core's.
func checkCode(o checkout.CheckOutcome) string {
	switch o {
	case checkout.CheckOK:
		return checkOK
	case checkout.CheckIncomplete:
		return checkMissing
	case checkout.CheckRefused:
		return checkRefused
	case checkout.CheckUnreachable:
		return checkUnreachable
	}
	return checkError
}

// shopifyCheck words a call to Shopify's API: configured tells a
// paymentsAppConfigure (whose success may be "not ready").
func shopifyCheck(err error, ready bool) CheckJSON {
	out := CheckJSON{Part: "shopify"}
	var ge GraphQLErrors
	var unauth *unauthorizedError
	switch {
	case err == nil && ready:
		out.OK, out.Code = true, checkOK
	case err == nil:
		out.OK, out.Code = true, checkNotReady
	case errors.As(err, &ge) && ge.has("ACCESS_DENIED"):
		out.Code, out.Detail = checkDenied, ge.Error()
	case errors.As(err, &unauth):
		out.Code = checkToken
	case checkout.IsPermanent(err):
		out.Code, out.Detail = checkError, err.Error()
	default:
		out.Code = checkUnreachable
	}
	return out
}

// checkConnection answers POST /shopify/api/settings/check: the gateway
// asked with the stored credentials, and Shopify asked with the shop's
// token (paymentsAppConfigure in payments-app mode, which also tells
// Shopify whether the account is ready; a shop read in order-webhook
// mode).
func (p *Platform) checkConnection(c *gin.Context) {
	ctx := c.Request.Context()
	shop := c.MustGet(shopCtxKey).(*checkout.Shop)
	checks := []CheckJSON{p.gatewayCheck(ctx, shop)}
	switch {
	case shop.Secrets[secretToken] == "":
		checks = append(checks, CheckJSON{Part: "shopify", Code: checkToken})
	case mode(shop) == ModePaymentsApp:
		err := p.configureRecorded(ctx, shop)
		checks = append(checks, shopifyCheck(err, p.statusOf(shop).Ready))
	default:
		checks = append(checks, shopifyCheck(p.graphql(ctx, shop, apiAdmin, shopQuery, nil, nil), true))
	}
	ok := true
	for _, ch := range checks {
		ok = ok && ch.OK && ch.Code != checkNotReady
	}
	c.JSON(http.StatusOK, gin.H{"ok": ok, "checks": checks, "settings": p.settingsOf(shop)})
}

// TestPaymentJSON is the answer of POST /shopify/api/settings/test-payment.
type TestPaymentJSON struct {
	PaymentID string `json:"payment_id"`
	// PayURL is the bridge's pay link: it sends the merchant on to the
	// gateway's sandbox page.
	PayURL   string `json:"pay_url"`
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// testPayment answers POST /shopify/api/settings/test-payment: a payment
// of one unit of a currency the gateway takes (KWD where it can), on the
// shop's sandbox account only, which the merchant opens to pay on the
// gateway's test page; once final, the merchant goes back to the app in
// the Shopify admin.
func (p *Platform) testPayment(c *gin.Context) {
	ctx := c.Request.Context()
	shop := c.MustGet(shopCtxKey).(*checkout.Shop)
	st := p.statusOf(shop)
	switch {
	case !st.GatewayKnown:
		server.WriteError(c, server.Error(http.StatusUnprocessableEntity, checkUnknown, "the shop's gateway is not available"))
		return
	case !st.Ready:
		server.WriteError(c, server.Error(http.StatusUnprocessableEntity, checkMissing, "enter the gateway's credentials first: "+strings.Join(st.CredentialsMissing, ", ")))
		return
	case !st.Sandbox:
		server.WriteError(c, server.Error(http.StatusUnprocessableEntity, checkLive, "test payments are made only on a sandbox account"))
		return
	}
	amount, err := p.testAmount(shop.Gateway.Gateway)
	if err != nil {
		server.WriteError(c, server.Wrap(err, http.StatusUnprocessableEntity, checkError, err.Error()))
		return
	}
	back := "https://" + shop.Domain + "/admin/apps/" + url.PathEscape(p.cfg.APIKey)
	lang := shop.Settings[SettingLanguage]
	if lang == "" {
		lang = adminLang(c.Query("locale"))
	}
	req := checkout.PaymentRequest{Fit: true, OrderID: checkout.NewID("test"), Amount: amount,
		Description: "paybridge test payment", Language: lang,
		Metadata: map[string]string{MetaMode: ModeTestPayment, MetaShop: shop.Domain, MetaTest: "true",
			MetaRedirectURL: back, MetaCancelURL: back}}
	pay, _, err := p.svc.CreatePayment(ctx, shop, checkout.PlatformShopify, req, "shopify-settings")
	if err != nil {
		if reason, ok := unsupported(err); ok {
			server.WriteError(c, server.Wrap(err, http.StatusUnprocessableEntity, checkError, reason))
			return
		}
		var ge *checkout.GatewayError
		if errors.As(err, &ge) {
			r := checkout.ClassifyGatewayError(p.gatewayName(shop.Gateway.Gateway), err)
			server.WriteError(c, server.Wrap(err, http.StatusBadGateway, checkCode(r.Outcome), r.Detail))
			return
		}
		server.WriteError(c, err)
		return
	}
	c.JSON(http.StatusCreated, TestPaymentJSON{PaymentID: pay.ID, PayURL: routes.PayURL(p.cfg.PublicURL, pay.ID),
		Amount: pay.Amount.String(), Currency: pay.Amount.Currency})
}

// testAmount is one unit of KWD, or of the gateway's first currency when
// it does not take KWD.
func (p *Platform) testAmount(gateway string) (checkout.Money, error) {
	caps, _ := p.svc.Capabilities(gateway)
	cur := "KWD"
	if len(caps.Currencies) > 0 && !slices.Contains(caps.Currencies, cur) {
		cur = caps.Currencies[0]
	}
	amount, err := checkout.ParseMoney("1", cur)
	if err != nil {
		return checkout.Money{}, err
	}
	return amount, p.svc.CheckPayment(gateway, amount)
}

// The settings page. Polaris' look comes from Shopify's own design
// tokens: page/polaris-tokens.css is the token and base part of
// @shopify/polaris 13.9.5's build/esm/styles.css (npm, MIT with Shopify's
// clause for apps that integrate with Shopify; its notice is kept in the
// file), embedded and inlined, and page/settings.css styles the page's
// plain HTML with those tokens. Chosen over Polaris' web components
// (polaris.js from Shopify's CDN) because the page must render and work
// where the CDN is out of reach (tests, an admin whose script load
// failed): custom elements without their script render no form at all,
// while tokens and plain HTML degrade to a readable page. Over the whole
// 500 KB stylesheet because its component classes follow the React
// components' markup, which this page does not have. App Bridge itself is
// loaded from Shopify's CDN, first in <head>, as Shopify requires; without
// it the page says to open the app from the Shopify admin.

//go:embed page/settings.html page/settings.css page/polaris-tokens.css
var pageFS embed.FS

var (
	settingsTmpl = template.Must(template.New("settings.html").ParseFS(pageFS, "page/settings.html"))
	pageTokens   = mustRead("page/polaris-tokens.css")
	pageCSS      = mustRead("page/settings.css")
)

func mustRead(name string) template.CSS {
	b, err := pageFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	// Trusted: files embedded in the binary.
	return template.CSS(b)
}

// adminLang is the page's language for the admin's locale (App Bridge
// adds locale to the app URL's query, e.g. "ar" or "en-US"; Shopify's own
// shopify_app gem reads it the same way): Arabic for ar and ar-*, else
// English.
func adminLang(locale string) string {
	l := strings.ToLower(strings.TrimSpace(locale))
	if l == "ar" || strings.HasPrefix(l, "ar-") || strings.HasPrefix(l, "ar_") {
		return "ar"
	}
	return "en"
}

type settingsPageData struct {
	APIKey, Nonce, Lang, Dir string
	Tokens, CSS              template.CSS
	JS                       map[string]string
}

// T returns the page's text for key.
func (d settingsPageData) T(key string) string { return d.JS[key] }

// settingsPage serves the merchant settings page, embedded in the Shopify
// admin, in the admin's language. It holds no data: its calls carry a
// session token.
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
	lang := adminLang(c.Query("locale"))
	d := settingsPageData{APIKey: p.cfg.APIKey, Nonce: nonce, Lang: lang, Dir: "ltr", Tokens: pageTokens, CSS: pageCSS,
		JS: settingsTexts[lang]}
	if lang == "ar" {
		d.Dir = "rtl"
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Language", lang)
	c.Status(http.StatusOK)
	c.Header("Content-Type", "text/html; charset=utf-8")
	if err := settingsTmpl.Execute(c.Writer, d); err != nil {
		_ = c.Error(err)
	}
}

// Settings API routes besides routes.ShopifySettings (GET, PUT).
const (
	// settingsCheckPath is "check connection" (POST).
	settingsCheckPath = routes.ShopifySettings + "/check"
	// settingsTestPath makes a sandbox test payment (POST).
	settingsTestPath = routes.ShopifySettings + "/test-payment"
)

// registerSettings mounts the settings page's extra API routes.
func (p *Platform) registerSettings(r gin.IRouter) {
	r.POST(settingsCheckPath, p.authSession, p.checkConnection)
	r.POST(settingsTestPath, p.authSession, p.testPayment)
}

// settingsTexts are the settings page's texts by language; the page's
// script words the API's codes with them ("gateway_refused", with {0} the
// gateway's name).
var settingsTexts = map[string]map[string]string{
	"en": {
		"title":       "paybridge settings",
		"no_bridge_h": "Open paybridge from your Shopify admin",
		"no_bridge_p": "This page works inside the Shopify admin: go to Apps › paybridge.",
		"conn_h":      "Connection",
		"loading":     "Loading the shop's settings…",
		"st_account":  "Gateway account",
		"st_creds":    "Credentials",
		"st_shopify":  "Shopify checkout",
		"check_btn":   "Check connection",
		"checking":    "Checking…",
		"test_btn":    "Make a test payment",
		"test_help":   "Creates a 1-unit payment on your sandbox account, for you to pay on the gateway's test page.",
		"gw_h":        "Payment gateway",
		"gateway":     "Gateway",
		"sandbox":     "Sandbox (test) account",
		"sandbox_help": "Shopify test orders are charged only on a sandbox account, real orders only on a live one. " +
			"Use the credentials of the same kind.",
		"co_h":         "Checkout",
		"mode":         "How Shopify sends payments",
		"mode_app":     "Payments app (Shopify checkout)",
		"mode_webhook": "Manual payment method and order webhook",
		"mode_help":    "The payments app needs Shopify's approval as a payments partner; the manual method works for a custom app.",
		"method":       "Payment method",
		"language":     "Language of the payment page",
		"lang_shopper": "The shopper's language",
		"manual":       "Manual payment method name",
		"manual_help":  "As created under Settings › Payments in Shopify; empty: the gateway's name.",
		"invoice":      "How the shopper gets the payment link",
		"inv_none":     "A pay link on the order",
		"inv_link":     "The gateway's own pay link on the order",
		"inv_email":    "The gateway's invoice by e-mail",
		"inv_sms":      "The gateway's invoice by SMS",
		"inv_all":      "The gateway's invoice by e-mail and SMS",
		"save":         "Save",

		"gw_unknown":          "{0} (not available on this bridge)",
		"sandbox_badge":       "Sandbox",
		"live_badge":          "Live",
		"creds_missing":       "Missing: {0}",
		"creds_ok":            "Entered",
		"mode_webhook_badge":  "Manual payment method (order webhook)",
		"conf_ready":          "Ready",
		"conf_ready_help":     "Shopify was told the account is ready. If shoppers do not see it, turn it on under Settings › Payments in Shopify.",
		"conf_not_ready":      "Not ready",
		"conf_not_ready_help": "Shopify shows the payment method once the gateway's credentials are entered and saved.",
		"conf_failed":         "Shopify refused the configuration",
		"conf_failed_help":    "Check connection says why.",
		"conf_unknown":        "Not confirmed",
		"conf_unknown_help":   "Save, or check the connection, to tell Shopify the account is ready.",
		"test_help_creds":     "Enter and save the gateway's credentials to make a test payment.",
		"test_help_live":      "Test payments are made only on a sandbox account: tick Sandbox, with sandbox credentials.",
		"charges_in":          "Charges in {0}.",
		"no_refunds":          "No refunds through the app.",
		"cred_set":            "Saved. Leave empty to keep it.",
		"cred_required":       "Required.",
		"cred_optional":       "Optional.",
		"method_all":          "All (the gateway's page offers every method)",
		"m_knet":              "KNET",
		"m_cc":                "Credit card",
		"m_apple-pay":         "Apple Pay",
		"m_google-pay":        "Google Pay",
		"m_samsung-pay":       "Samsung Pay",
		"save_failed":         "The settings were not saved",
		"saved_warning":       "Saved, but Shopify did not take the configuration",
		"saved":               "Settings saved",
		"network":             "paybridge could not be reached. Check your connection and try again.",
		"check_failed":        "The connection could not be checked",
		"check_ok":            "Everything is connected",
		"check_problems":      "Something needs your attention",
		"sr_ok":               "Works: ",
		"sr_problem":          "Problem: ",
		"gateway_ok":          "{0} accepted the stored credentials.",
		"gateway_missing":     "Some of {0}'s credentials are missing: enter them above and save.",
		"gateway_unknown":     "The shop's gateway is not available on this bridge: choose another one above.",
		"gateway_refused":     "{0} refused the stored credentials: check them (and Sandbox) and save them again.",
		"gateway_unreachable": "{0} did not answer. Try again in a few minutes.",
		"gateway_error":       "{0} answered with an error:",
		"shopify_ok":          "Shopify accepted the payments app configuration: the account is ready for checkout.",
		"shopify_not_ready":   "Shopify was told the account is not ready (credentials missing): shoppers do not see the payment method yet.",
		"shopify_denied":      "Shopify refused: this app is not allowed to configure a payments app (it needs Shopify's approval as a payments partner). Use the manual payment method mode instead.",
		"shopify_token":       "Shopify no longer accepts paybridge's access: reinstall the app from the Shopify admin.",
		"shopify_unreachable": "Shopify did not answer. Try again in a few minutes.",
		"shopify_error":       "Shopify answered with an error:",
		"test_failed":         "The test payment was not made",
		"test_made":           "Test payment of {0} created",
		"test_open_help":      "Open it, pay with the gateway's test card or KNET test account, and you come back here.",
		"test_open":           "Open the test payment",
		"test_live_account":   "Test payments are made only on a sandbox account.",
		"test_missing":        "Enter and save the gateway's credentials first.",
		"test_unknown":        "The shop's gateway is not available on this bridge.",
		"test_refused":        "The gateway refused the stored credentials.",
		"test_unreachable":    "The gateway did not answer. Try again in a few minutes.",
		"load_failed":         "The settings could not be loaded",
	},
	"ar": {
		"title":        "إعدادات paybridge",
		"no_bridge_h":  "افتح paybridge من لوحة تحكم Shopify",
		"no_bridge_p":  "تعمل هذه الصفحة داخل لوحة تحكم Shopify: انتقل إلى التطبيقات › paybridge.",
		"conn_h":       "الاتصال",
		"loading":      "جارٍ تحميل إعدادات المتجر…",
		"st_account":   "حساب بوابة الدفع",
		"st_creds":     "بيانات الاعتماد",
		"st_shopify":   "الدفع في Shopify",
		"check_btn":    "تحقّق من الاتصال",
		"checking":     "جارٍ التحقق…",
		"test_btn":     "أنشئ دفعة تجريبية",
		"test_help":    "تُنشئ دفعة بقيمة وحدة واحدة على حسابك التجريبي لتدفعها في صفحة الاختبار لدى البوابة.",
		"gw_h":         "بوابة الدفع",
		"gateway":      "البوابة",
		"sandbox":      "حساب تجريبي (Sandbox)",
		"sandbox_help": "تُحصَّل طلبات Shopify التجريبية على الحساب التجريبي فقط، والطلبات الحقيقية على الحساب الفعلي فقط. استخدم بيانات الاعتماد من النوع نفسه.",
		"co_h":         "إتمام الطلب",
		"mode":         "كيف يرسل Shopify المدفوعات",
		"mode_app":     "تطبيق مدفوعات (صفحة الدفع في Shopify)",
		"mode_webhook": "طريقة دفع يدوية وإشعار الطلبات",
		"mode_help":    "يتطلب تطبيق المدفوعات موافقة Shopify كشريك مدفوعات؛ أما الطريقة اليدوية فتعمل مع تطبيق مخصّص.",
		"method":       "طريقة الدفع",
		"language":     "لغة صفحة الدفع",
		"lang_shopper": "لغة المتسوق",
		"manual":       "اسم طريقة الدفع اليدوية",
		"manual_help":  "كما أنشأتها في الإعدادات › المدفوعات في Shopify؛ إذا تُرك فارغًا: اسم البوابة.",
		"invoice":      "كيف يصل رابط الدفع إلى المتسوق",
		"inv_none":     "رابط دفع على الطلب",
		"inv_link":     "رابط الدفع الخاص بالبوابة على الطلب",
		"inv_email":    "فاتورة البوابة بالبريد الإلكتروني",
		"inv_sms":      "فاتورة البوابة برسالة نصية",
		"inv_all":      "فاتورة البوابة بالبريد الإلكتروني والرسائل النصية",
		"save":         "حفظ",

		"gw_unknown":          "{0} (غير متاحة على هذا الجسر)",
		"sandbox_badge":       "تجريبي",
		"live_badge":          "فعلي",
		"creds_missing":       "ناقصة: {0}",
		"creds_ok":            "مُدخلة",
		"mode_webhook_badge":  "طريقة دفع يدوية (إشعار الطلبات)",
		"conf_ready":          "جاهز",
		"conf_ready_help":     "أُبلغ Shopify بأن الحساب جاهز. إذا لم يظهر للمتسوقين ففعّله من الإعدادات › المدفوعات في Shopify.",
		"conf_not_ready":      "غير جاهز",
		"conf_not_ready_help": "يعرض Shopify طريقة الدفع بعد إدخال بيانات اعتماد البوابة وحفظها.",
		"conf_failed":         "رفض Shopify الإعداد",
		"conf_failed_help":    "يوضح «تحقّق من الاتصال» السبب.",
		"conf_unknown":        "غير مؤكَّد",
		"conf_unknown_help":   "احفظ الإعدادات أو تحقّق من الاتصال لإبلاغ Shopify بأن الحساب جاهز.",
		"test_help_creds":     "أدخل بيانات اعتماد البوابة واحفظها لإنشاء دفعة تجريبية.",
		"test_help_live":      "تُنشأ الدفعات التجريبية على الحساب التجريبي فقط: حدّد «حساب تجريبي» مع بيانات اعتماد تجريبية.",
		"charges_in":          "تحصّل بالعملات: {0}.",
		"no_refunds":          "لا استرداد للمبالغ عبر التطبيق.",
		"cred_set":            "محفوظة. اتركها فارغة للإبقاء عليها.",
		"cred_required":       "مطلوب.",
		"cred_optional":       "اختياري.",
		"method_all":          "الكل (تعرض صفحة البوابة جميع الطرق)",
		"m_knet":              "كي نت",
		"m_cc":                "بطاقة ائتمان",
		"m_apple-pay":         "Apple Pay",
		"m_google-pay":        "Google Pay",
		"m_samsung-pay":       "Samsung Pay",
		"save_failed":         "لم تُحفظ الإعدادات",
		"saved_warning":       "تم الحفظ، لكن Shopify لم يقبل الإعداد",
		"saved":               "تم حفظ الإعدادات",
		"network":             "تعذّر الوصول إلى paybridge. تحقّق من اتصالك وحاول مرة أخرى.",
		"check_failed":        "تعذّر التحقق من الاتصال",
		"check_ok":            "كل شيء متصل",
		"check_problems":      "هناك ما يحتاج إلى انتباهك",
		"sr_ok":               "يعمل: ",
		"sr_problem":          "مشكلة: ",
		"gateway_ok":          "قبلت {0} بيانات الاعتماد المحفوظة.",
		"gateway_missing":     "بعض بيانات اعتماد {0} ناقصة: أدخلها أعلاه واحفظ.",
		"gateway_unknown":     "بوابة المتجر غير متاحة على هذا الجسر: اختر بوابة أخرى أعلاه.",
		"gateway_refused":     "رفضت {0} بيانات الاعتماد المحفوظة: تحقّق منها (ومن خيار الحساب التجريبي) واحفظها مرة أخرى.",
		"gateway_unreachable": "لم تستجب {0}. حاول مرة أخرى بعد بضع دقائق.",
		"gateway_error":       "ردّت {0} بخطأ:",
		"shopify_ok":          "قبل Shopify إعداد تطبيق المدفوعات: الحساب جاهز لإتمام الطلبات.",
		"shopify_not_ready":   "أُبلغ Shopify بأن الحساب غير جاهز (بيانات اعتماد ناقصة): لا يرى المتسوقون طريقة الدفع بعد.",
		"shopify_denied":      "رفض Shopify: لا يُسمح لهذا التطبيق بإعداد تطبيق مدفوعات (يحتاج إلى موافقة Shopify كشريك مدفوعات). استخدم وضع طريقة الدفع اليدوية بدلًا من ذلك.",
		"shopify_token":       "لم يعد Shopify يقبل صلاحية وصول paybridge: أعد تثبيت التطبيق من لوحة تحكم Shopify.",
		"shopify_unreachable": "لم يستجب Shopify. حاول مرة أخرى بعد بضع دقائق.",
		"shopify_error":       "ردّ Shopify بخطأ:",
		"test_failed":         "لم تُنشأ الدفعة التجريبية",
		"test_made":           "أُنشئت دفعة تجريبية بقيمة {0}",
		"test_open_help":      "افتحها وادفع ببطاقة الاختبار أو حساب كي نت التجريبي لدى البوابة، ثم تعود إلى هنا.",
		"test_open":           "افتح الدفعة التجريبية",
		"test_live_account":   "تُنشأ الدفعات التجريبية على الحساب التجريبي فقط.",
		"test_missing":        "أدخل بيانات اعتماد البوابة واحفظها أولًا.",
		"test_unknown":        "بوابة المتجر غير متاحة على هذا الجسر.",
		"test_refused":        "رفضت البوابة بيانات الاعتماد المحفوظة.",
		"test_unreachable":    "لم تستجب البوابة. حاول مرة أخرى بعد بضع دقائق.",
		"load_failed":         "تعذّر تحميل الإعدادات",
	},
}
