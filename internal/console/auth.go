package console

import (
	"errors"
	"net/http"
	"sync"

	"github.com/alexedwards/argon2id"
	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/routes"
)

// loginData is the sign-in page's.
type loginData struct {
	Email, Next string
}

func (c *Console) loginForm(g *gin.Context) {
	if s, _, _, err := c.session(g); err == nil && s != nil {
		g.Redirect(http.StatusSeeOther, safeNext(g.Query("next")))
		return
	}
	c.render(g, http.StatusOK, "login.html", c.newPage(g, tr(lang(g), "login_title"), "", loginData{Next: safeNext(g.Query("next"))}))
}

// dummyHash is checked when the e-mail is unknown, so that a failed
// sign-in takes as long whether or not the account exists.
var dummyHash = sync.OnceValue(func() string {
	h, err := argon2id.CreateHash("paybridge: no such user", PasswordParams)
	if err != nil {
		panic(err)
	}
	return h
})

// login checks the e-mail and password. A failure answers 401 (which the
// throttle counts) with the form again and one message for every cause.
func (c *Console) login(g *gin.Context) {
	email, pw := g.PostForm("email"), g.PostForm("password")
	next := safeNext(g.PostForm("next"))
	fail := func(status int, key string) {
		p := c.newPage(g, tr(lang(g), "login_title"), "", loginData{Email: email, Next: next})
		p.Problem = key
		c.render(g, status, "login.html", p)
	}
	if email == "" || pw == "" {
		fail(http.StatusUnauthorized, "login_missing")
		return
	}
	u, err := c.cfg.Store.UserByEmail(g.Request.Context(), email)
	if err != nil && !errors.Is(err, checkout.ErrNotFound) {
		c.renderError(g, http.StatusInternalServerError, "err_internal", err)
		return
	}
	if u == nil {
		VerifyPassword(pw, dummyHash())
		c.log.InfoContext(g.Request.Context(), "console: sign-in failed", "reason", "unknown e-mail", "client_ip", g.ClientIP())
		fail(http.StatusUnauthorized, "login_failed")
		return
	}
	if !VerifyPassword(pw, u.PasswordHash) {
		c.log.InfoContext(g.Request.Context(), "console: sign-in failed", "reason", "wrong password", "user", u.Email, "client_ip", g.ClientIP())
		fail(http.StatusUnauthorized, "login_failed")
		return
	}
	now := c.cfg.Now().UTC()
	if _, err := c.cfg.Store.PruneSessions(g.Request.Context(), now, now.Add(-c.cfg.IdleTimeout)); err != nil {
		c.log.WarnContext(g.Request.Context(), "console: prune sessions", "err", err)
	}
	if err := c.startSession(g, u); err != nil {
		c.renderError(g, http.StatusInternalServerError, "err_internal", err)
		return
	}
	c.log.InfoContext(g.Request.Context(), "console: signed in", "user", u.Email, "operator", u.Operator(), "client_ip", g.ClientIP())
	g.Redirect(http.StatusSeeOther, next)
}

func (c *Console) logout(g *gin.Context) {
	if tok := g.GetString(tokenKey); tok != "" {
		if err := c.cfg.Store.DeleteSession(g.Request.Context(), tokenHash(tok)); err != nil {
			c.renderError(g, http.StatusInternalServerError, "err_internal", err)
			return
		}
	}
	c.setCookie(g, "", -1)
	g.Redirect(http.StatusSeeOther, routes.ConsoleLogin)
}

// throttleWriter keeps the sign-in throttle's 429 answer (JSON, as the
// API's) from being written, so that a person gets a page instead.
type throttleWriter struct {
	gin.ResponseWriter
	refused bool
}

func (w *throttleWriter) WriteHeader(code int) {
	if code == http.StatusTooManyRequests {
		w.refused = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *throttleWriter) WriteHeaderNow() {
	if !w.refused {
		w.ResponseWriter.WriteHeaderNow()
	}
}

func (w *throttleWriter) Write(b []byte) (int, error) {
	if w.refused {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *throttleWriter) WriteString(s string) (int, error) {
	if w.refused {
		return len(s), nil
	}
	return w.ResponseWriter.WriteString(s)
}

// throttlePage runs before the throttle and turns its refusal into the
// sign-in page with a message, status 429 and Retry-After kept.
func (c *Console) throttlePage(g *gin.Context) {
	w := &throttleWriter{ResponseWriter: g.Writer}
	g.Writer = w
	g.Next()
	g.Writer = w.ResponseWriter
	if !w.refused {
		return
	}
	g.Writer.Header().Del("Content-Type") // the JSON answer's
	p := c.newPage(g, tr(lang(g), "login_title"), "", loginData{Email: g.PostForm("email"), Next: safeNext(g.PostForm("next"))})
	p.Problem = "login_throttled"
	c.render(g, http.StatusTooManyRequests, "login.html", p)
}
