package shopify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/routes"
	"paybridge/internal/server"
)

// HMACTolerance is how far a signed query's timestamp may be from now
// (Shopify's own libraries use 90 s).
const HMACTolerance = 90 * time.Second

// stateTTL is how long an OAuth flow may take.
const stateTTL = 10 * time.Minute

const stateCookie = "paybridge_shopify_state"

// Errors of query verification.
var (
	// ErrBadHMAC: the query's hmac is missing or wrong.
	ErrBadHMAC = errors.New("shopify: query hmac does not verify")
	// ErrStale: the query's timestamp is missing or more than 90 s away.
	ErrStale = errors.New("shopify: query timestamp is stale")
	// ErrBadShop: the shop is not a *.myshopify.com domain.
	ErrBadShop = errors.New("shopify: shop is not a valid myshopify.com domain")
)

// formEscape encodes s as URLSearchParams.toString does (WHATWG
// application/x-www-form-urlencoded: ASCII letters, digits and *-._ as
// they are, a space as "+", every other byte %XX), which is how
// @shopify/shopify-api builds the message it checks. url.QueryEscape
// differs on "*" and "~", hence this function.
func formEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '*' || c == '-' || c == '.' || c == '_' {
			b.WriteByte(c)
			continue
		}
		if c == ' ' {
			b.WriteByte('+')
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// QueryMessage returns the message a signed query's hmac covers, as
// Shopify signs it and its JavaScript library (@shopify/shopify-api)
// checks it: the parameters other than hmac and signature, sorted by key,
// as "k=v&…" encoded as URLSearchParams encodes them (formEscape); a
// repeated key's
// values are joined with ",". No other form (the unescaped "k=v" text) is
// accepted.
func QueryMessage(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		if k != "hmac" && k != "signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	enc := make([]string, 0, len(keys))
	for _, k := range keys {
		enc = append(enc, formEscape(k)+"="+formEscape(strings.Join(q[k], ",")))
	}
	return strings.Join(enc, "&")
}

// SignQuery returns the hex hmac Shopify puts on a query (the message of
// [QueryMessage]), keyed with the app secret.
func SignQuery(secret string, q url.Values) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(QueryMessage(q)))
	return hex.EncodeToString(mac.Sum(nil))
}

// hexHMAC is how Shopify writes a query hmac: 64 lowercase hex digits.
var hexHMAC = regexp.MustCompile(`^[0-9a-f]{64}$`)

// VerifyQuery checks a query Shopify signed (install, OAuth callback, admin
// links) exactly as strictly as Shopify's own library: one hmac, 64
// lowercase hex digits, equal in constant time to the HMAC-SHA256 of
// [QueryMessage]; one timestamp, within HMACTolerance of now; and shop a
// *.myshopify.com domain. It returns the shop.
func VerifyQuery(secret string, q url.Values, now time.Time) (string, error) {
	if len(q["hmac"]) != 1 || !hexHMAC.MatchString(q["hmac"][0]) {
		return "", ErrBadHMAC
	}
	if !hmac.Equal([]byte(SignQuery(secret, q)), []byte(q["hmac"][0])) {
		return "", ErrBadHMAC
	}
	if len(q["timestamp"]) != 1 {
		return "", ErrStale
	}
	ts, err := strconv.ParseInt(q["timestamp"][0], 10, 64)
	if err != nil || now.Sub(time.Unix(ts, 0)).Abs() > HMACTolerance {
		return "", ErrStale
	}
	shop := q.Get("shop")
	if len(q["shop"]) != 1 || !ValidShop(shop) {
		return "", ErrBadShop
	}
	return shop, nil
}

func queryError(err error) error {
	switch {
	case errors.Is(err, ErrStale):
		return server.Wrap(err, http.StatusUnauthorized, "stale_request", "the request has expired; open the app again from Shopify")
	case errors.Is(err, ErrBadShop):
		return server.Wrap(err, http.StatusBadRequest, "invalid_shop", "shop must be a *.myshopify.com domain")
	}
	return server.Wrap(err, http.StatusUnauthorized, "invalid_hmac", "the request is not signed by Shopify")
}

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("shopify: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// install is the app URL: Shopify sends the merchant here with a signed
// query; we send them to the grant screen with a one-time state.
func (p *Platform) install(c *gin.Context) {
	shop, err := VerifyQuery(p.cfg.APISecret, c.Request.URL.Query(), p.now())
	if err != nil {
		server.WriteError(c, queryError(err))
		return
	}
	state := randomToken()
	if err := p.db.PutOAuthState(c.Request.Context(), state, checkout.PlatformShopify, shop, "install", p.now().Add(stateTTL)); err != nil {
		server.WriteError(c, err)
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: stateCookie, Value: state, Path: routes.ShopifyCallback,
		MaxAge: int(stateTTL.Seconds()), HttpOnly: true, Secure: strings.HasPrefix(p.cfg.PublicURL, "https://"),
		SameSite: http.SameSiteLaxMode})
	v := url.Values{}
	v.Set("client_id", p.cfg.APIKey)
	v.Set("scope", p.cfg.Scopes)
	v.Set("redirect_uri", routes.ShopifyCallbackURL(p.cfg.PublicURL))
	v.Set("state", state)
	v.Set("grant_options[]", "") // offline token
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, p.origin(shop)+"/admin/oauth/authorize?"+v.Encode())
}

// callback completes the grant: signed query, the state we issued (once,
// for this shop, from this browser), then the code exchange.
func (p *Platform) callback(c *gin.Context) {
	q := c.Request.URL.Query()
	shop, err := VerifyQuery(p.cfg.APISecret, q, p.now())
	if err != nil {
		server.WriteError(c, queryError(err))
		return
	}
	denied := server.Error(http.StatusForbidden, "invalid_state", "this install link was already used or has expired; install the app again from Shopify")
	state := q.Get("state")
	cookie, _ := c.Cookie(stateCookie)
	if state == "" || subtle.ConstantTimeCompare([]byte(cookie), []byte(state)) != 1 {
		server.WriteError(c, denied)
		return
	}
	st, err := p.db.TakeOAuthState(c.Request.Context(), state)
	if err != nil {
		if errors.Is(err, checkout.ErrNotFound) {
			server.WriteError(c, denied)
		} else {
			server.WriteError(c, err)
		}
		return
	}
	if st.Platform != checkout.PlatformShopify || subtle.ConstantTimeCompare([]byte(st.ShopDomain), []byte(shop)) != 1 {
		server.WriteError(c, denied)
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: stateCookie, Value: "", Path: routes.ShopifyCallback, MaxAge: -1, HttpOnly: true})
	code := q.Get("code")
	if code == "" {
		server.WriteError(c, server.Error(http.StatusBadRequest, "missing_code", "the callback has no code"))
		return
	}
	tok, err := p.tokenRequest(c.Request.Context(), shop, map[string]string{"code": code})
	if err != nil {
		server.WriteError(c, server.Wrap(err, http.StatusBadGateway, "token_exchange_failed", "Shopify did not grant an access token; try installing again"))
		return
	}
	s, err := p.saveInstall(c.Request.Context(), shop, tok)
	if err != nil {
		server.WriteError(c, err)
		return
	}
	if mode(s) == ModePaymentsApp {
		// Best effort: a custom app without the payments scopes gets
		// ACCESS_DENIED, and the settings page calls it again on save.
		if err := p.configurePaymentsApp(c.Request.Context(), s); err != nil {
			p.log.WarnContext(c.Request.Context(), "shopify: paymentsAppConfigure after install", "shop", shop, "err", err)
		}
	}
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, routes.ShopifyAppURL(p.cfg.PublicURL, url.QueryEscape(shop)))
}

// tokenAnswer is Shopify's answer on /admin/oauth/access_token.
type tokenAnswer struct {
	AccessToken           string      `json:"access_token"`
	Scope                 string      `json:"scope"`
	ExpiresIn             json.Number `json:"expires_in"`
	RefreshToken          string      `json:"refresh_token"`
	RefreshTokenExpiresIn json.Number `json:"refresh_token_expires_in"`
}

// tokenRequest POSTs to /admin/oauth/access_token with the client
// credentials plus extra (a code, or a refresh grant).
func (p *Platform) tokenRequest(ctx context.Context, shop string, extra map[string]string) (*tokenAnswer, error) {
	body := map[string]string{"client_id": p.cfg.APIKey, "client_secret": p.cfg.APISecret}
	for k, v := range extra {
		body[k] = v
	}
	if p.cfg.ExpiringTokens && extra["grant_type"] == "" {
		body["expiring"] = "1"
	}
	b, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.origin(shop)+"/admin/oauth/access_token", bytes.NewReader(b))
	if err != nil {
		return nil, checkout.Permanent("token request", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("shopify: token request to %s: %w", shop, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return nil, fmt.Errorf("shopify: token request to %s: HTTP %d", shop, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		// The body may echo what we sent: never log it.
		return nil, checkout.Permanent("token request refused", fmt.Errorf("shopify: %s answered HTTP %d", shop, resp.StatusCode))
	}
	var t tokenAnswer
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&t); err != nil || t.AccessToken == "" {
		return nil, checkout.Permanent("token request", fmt.Errorf("shopify: %s answered no access token", shop))
	}
	return &t, nil
}

// applyToken writes a token answer into the shop's secrets.
func (p *Platform) applyToken(s *checkout.Shop, t *tokenAnswer) {
	if s.Secrets == nil {
		s.Secrets = map[string]string{}
	}
	now := p.now()
	s.Secrets[secretToken] = t.AccessToken
	if t.Scope != "" {
		s.Secrets[secretScope] = t.Scope
	}
	delete(s.Secrets, secretTokenExpires)
	if n, err := t.ExpiresIn.Int64(); err == nil && n > 0 {
		s.Secrets[secretTokenExpires] = strconv.FormatInt(now.Add(time.Duration(n)*time.Second).Unix(), 10)
	}
	if t.RefreshToken != "" {
		s.Secrets[secretRefresh] = t.RefreshToken
		delete(s.Secrets, secretRefreshExpires)
		if n, err := t.RefreshTokenExpiresIn.Int64(); err == nil && n > 0 {
			s.Secrets[secretRefreshExpires] = strconv.FormatInt(now.Add(time.Duration(n)*time.Second).Unix(), 10)
		}
	}
}

// saveInstall creates the shop on first install, or stores the new token.
func (p *Platform) saveInstall(ctx context.Context, domain string, t *tokenAnswer) (*checkout.Shop, error) {
	for range 3 {
		s, err := p.db.ShopByDomain(ctx, checkout.PlatformShopify, domain)
		if errors.Is(err, checkout.ErrNotFound) {
			// A new shop has a live account without credentials: it takes
			// nothing until the merchant enters them, and never a real
			// checkout on a sandbox account (see accountRefusal).
			s = &checkout.Shop{ID: checkout.NewID("shop"), Name: domain, Platform: checkout.PlatformShopify, Domain: domain,
				Gateway:  checkout.GatewayAccount{Gateway: "upay", Credentials: map[string]string{}},
				Settings: map[string]string{SettingMode: ModePaymentsApp}, Secrets: map[string]string{}}
			p.applyToken(s, t)
			err = p.db.CreateShop(ctx, s)
			if errors.Is(err, checkout.ErrDuplicate) {
				continue // a concurrent callback created it
			}
			return s, err
		}
		if err != nil {
			return nil, err
		}
		p.applyToken(s, t)
		return s, p.db.UpdateShop(ctx, s)
	}
	return nil, fmt.Errorf("shopify: save install of %s: %w", domain, checkout.ErrConflict)
}

// accessToken returns a usable offline token for the shop, refreshing an
// expiring one a minute before it lapses, or when Shopify just refused
// the token rejected. A shop without a token (never installed, or
// uninstalled) is a permanent error.
func (p *Platform) accessToken(ctx context.Context, s *checkout.Shop, rejected string) (string, error) {
	tok := s.Secrets[secretToken]
	if tok == "" {
		return "", checkout.Permanent("shop has no Shopify access token (uninstalled?)", fmt.Errorf("shop %s", s.ID))
	}
	if !p.expiring(s) && rejected == "" {
		return tok, nil
	}
	mu, _ := p.refresh.LoadOrStore(s.ID, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	fresh, err := p.db.Shop(ctx, s.ID) // another process may have refreshed
	if err != nil {
		return "", err
	}
	if fresh.Secrets[secretToken] == "" {
		return "", checkout.Permanent("shop has no Shopify access token (uninstalled?)", fmt.Errorf("shop %s", s.ID))
	}
	if !p.expiring(fresh) && (rejected == "" || fresh.Secrets[secretToken] != rejected) {
		s.Secrets = fresh.Secrets
		return fresh.Secrets[secretToken], nil
	}
	rt := fresh.Secrets[secretRefresh]
	if rt == "" {
		return "", checkout.Permanent("access token expired and no refresh token is stored", fmt.Errorf("shop %s", s.ID))
	}
	t, err := p.tokenRequest(ctx, fresh.Domain, map[string]string{"grant_type": "refresh_token", "refresh_token": rt})
	if err != nil {
		return "", fmt.Errorf("shopify: refresh token of %s: %w", s.Domain, err)
	}
	p.applyToken(fresh, t)
	if err := p.db.UpdateShop(ctx, fresh); err != nil {
		return "", err
	}
	s.Secrets = fresh.Secrets
	return t.AccessToken, nil
}

// expiring reports whether the shop's token lapses within a minute.
func (p *Platform) expiring(s *checkout.Shop) bool {
	exp, err := strconv.ParseInt(s.Secrets[secretTokenExpires], 10, 64)
	if err != nil || exp == 0 {
		return false
	}
	return !p.now().Add(time.Minute).Before(time.Unix(exp, 0))
}
