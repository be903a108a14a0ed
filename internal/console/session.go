package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/routes"
	"paybridge/internal/store"
)

// Gin context keys.
const (
	userKey    = "paybridge.console.user"
	sessionKey = "paybridge.console.session"
	tokenKey   = "paybridge.console.token"
	langKey    = "paybridge.console.lang"
)

// csrfField is the hidden form field carrying the session's CSRF token.
const csrfField = "csrf"

// touchEvery is how stale LastSeenAt may get before a request refreshes
// it: one write a minute per active session, not one per request.
const touchEvery = time.Minute

// newToken returns a session token: 256 random bits, URL-safe.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenHash is how a token is stored: its SHA-256 in hex.
func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// csrfToken is the session's CSRF token: an HMAC of the session token,
// so it needs no storage, changes with every session and cannot be
// derived from anything a page or the database shows.
func csrfToken(sessionToken string) string {
	m := hmac.New(sha256.New, []byte(sessionToken))
	m.Write([]byte("paybridge console csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// currentUser is the signed-in user of the request (set by requireUser).
func currentUser(g *gin.Context) *store.User {
	u, _ := g.Get(userKey)
	usr, _ := u.(*store.User)
	return usr
}

func (c *Console) setCookie(g *gin.Context, value string, maxAge int) {
	http.SetCookie(g.Writer, &http.Cookie{
		Name: c.cookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
}

// startSession signs u in: a new session row and its cookie.
func (c *Console) startSession(g *gin.Context, u *store.User) error {
	now := c.cfg.Now().UTC()
	token := newToken()
	s := &store.Session{TokenHash: tokenHash(token), UserID: u.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(c.cfg.MaxAge)}
	if err := c.cfg.Store.CreateSession(g.Request.Context(), s); err != nil {
		return err
	}
	c.setCookie(g, token, int(c.cfg.MaxAge/time.Second))
	return nil
}

// session returns the request's live session and user, or nil when there
// is none (no cookie, unknown, expired or idle: the last two are deleted).
func (c *Console) session(g *gin.Context) (*store.Session, *store.User, string, error) {
	ck, err := g.Request.Cookie(c.cookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 100 {
		return nil, nil, "", nil
	}
	h := tokenHash(ck.Value)
	s, u, err := c.cfg.Store.SessionUser(g.Request.Context(), h)
	if errors.Is(err, checkout.ErrNotFound) {
		return nil, nil, "", nil
	}
	if err != nil {
		return nil, nil, "", err
	}
	now := c.cfg.Now().UTC()
	if !now.Before(s.ExpiresAt) || now.Sub(s.LastSeenAt) >= c.cfg.IdleTimeout {
		if err := c.cfg.Store.DeleteSession(g.Request.Context(), h); err != nil {
			c.log.WarnContext(g.Request.Context(), "console: delete expired session", "err", err)
		}
		return nil, nil, "", nil
	}
	if now.Sub(s.LastSeenAt) >= touchEvery {
		if err := c.cfg.Store.TouchSession(g.Request.Context(), h, now); err != nil {
			c.log.WarnContext(g.Request.Context(), "console: touch session", "err", err)
		}
	}
	return s, u, ck.Value, nil
}

// requireUser lets signed-in users through and sends everyone else to the
// sign-in page (GET) or refuses (other methods). On POST it checks the
// session's CSRF token.
func (c *Console) requireUser(g *gin.Context) {
	s, u, token, err := c.session(g)
	if err != nil {
		c.renderError(g, http.StatusInternalServerError, "err_internal", err)
		return
	}
	if s == nil {
		c.setCookie(g, "", -1)
		if g.Request.Method == http.MethodGet || g.Request.Method == http.MethodHead {
			g.Redirect(http.StatusSeeOther, routes.ConsoleLogin+"?next="+url.QueryEscape(g.Request.URL.RequestURI()))
			g.Abort()
			return
		}
		c.renderError(g, http.StatusUnauthorized, "err_signed_out", nil)
		return
	}
	g.Set(userKey, u)
	g.Set(sessionKey, s)
	g.Set(tokenKey, token)
	if g.Request.Method == http.MethodPost && !isMonitor(g) {
		got := g.PostForm(csrfField)
		if subtle.ConstantTimeCompare([]byte(got), []byte(csrfToken(token))) != 1 {
			c.renderError(g, http.StatusForbidden, "err_csrf", errors.New("console: CSRF token missing or wrong"))
			return
		}
	}
	g.Next()
}

// isMonitor reports whether the request is for the asynq monitor, whose
// own JavaScript sends JSON without our form token: the cross-origin
// check and the operator check guard it.
func isMonitor(g *gin.Context) bool {
	p := g.FullPath()
	return p == routes.ConsoleQueues || p == routes.ConsoleQueues+"/*path"
}

// requireOperator lets only operators through; a merchant gets 404, as if
// the page did not exist.
func (c *Console) requireOperator(g *gin.Context) {
	if u := currentUser(g); u == nil || !u.Operator() {
		c.renderError(g, http.StatusNotFound, "err_not_found", nil)
		return
	}
	g.Next()
}

// canSee reports whether the user may see shop's data.
func canSee(u *store.User, shopID string) bool {
	return u != nil && (u.Operator() || u.ShopID == shopID)
}
