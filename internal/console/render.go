package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/routes"
	"paybridge/internal/server"
	"paybridge/internal/store"
)

//go:embed templates/*.html templates/style.css
var templateFS embed.FS

var (
	tmpl = template.Must(template.New("").Funcs(template.FuncMap{
		"t":       tr,
		"ev":      eventLabel,
		"st":      func(l string, s any) string { return tr(l, statusKey(fmt.Sprint(s))) },
		"money":   money,
		"when":    when,
		"date":    func(t time.Time) string { return dateOnly(t) },
		"path":    routes.ConsolePaymentPath,
		"jobPath": jobPath,
		"eq":      func(a, b string) bool { return a == b },
		"tone":    func(s any) string { return tone(fmt.Sprint(s)) },
		"bd":      func(l string, s any) map[string]string { return map[string]string{"L": l, "S": fmt.Sprint(s)} },
		"deadArgs": func(l, csrf string, js []deadJob, back string) map[string]any {
			return map[string]any{"L": l, "CSRF": csrf, "Jobs": js, "Back": back}
		},
		"moneyOnly": func(m checkout.Money) string { return m.String() },
		"shopPath":  routes.ConsoleShopPath,
		// chk is the plain words of a connection check's outcome on a
		// side ("gateway", "store").
		"chk": func(l, side, outcome string) string { return tr(l, "chk_"+side+"_"+outcome) },
	}).ParseFS(templateFS, "templates/*.html"))
	styleSheet = func() template.CSS {
		b, err := templateFS.ReadFile("templates/style.css")
		if err != nil {
			panic(err)
		}
		return template.CSS(b) //nolint:gosec // our own embedded file
	}()
)

// money writes an amount with its currency: "12.500 KWD".
func money(m checkout.Money) string {
	if m.Currency == "" {
		return "—"
	}
	return m.String() + " " + m.Currency
}

// when writes a time in UTC, to the second; zero is a dash.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

func dateOnly(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

func jobPath(queue, task, verb string) string {
	return routes.ConsoleJobs + "/" + url.PathEscape(queue) + "/" + url.PathEscape(task) + "/" + verb
}

// tone is the badge colour of a status: good, bad, wait or none.
func tone(s string) string {
	switch s {
	case string(checkout.StatusPaid), string(checkout.SyncDone), string(checkout.RefundSucceeded), "connected":
		return "good"
	case string(checkout.StatusFailed), string(checkout.SyncFailed), "secrets unreadable", "disabled":
		return "bad"
	case string(checkout.StatusCanceled), string(checkout.StatusExpired), string(checkout.ShopRemoved), "":
		return "none"
	}
	return "wait"
}

// page is what every template sees.
type page struct {
	Lang, Dir, Title string
	// Nav is the active menu entry ("payments", "shops", "jobs").
	Nav   string
	User  *store.User
	CSRF  string
	Nonce string
	CSS   template.CSS
	// LangURL is this page in the other language.
	LangURL string
	// Notice and Problem are text keys of a message at the top.
	Notice, Problem string
	// Data is the page's own.
	Data any
}

func (c *Console) newPage(g *gin.Context, title, nav string, data any) *page {
	l := lang(g)
	p := &page{Lang: l, Dir: "ltr", Title: title, Nav: nav, User: currentUser(g), CSS: styleSheet, Data: data}
	if l == "ar" {
		p.Dir = "rtl"
	}
	if tok := g.GetString(tokenKey); tok != "" {
		p.CSRF = csrfToken(tok)
	}
	other := "ar"
	if l == "ar" {
		other = "en"
	}
	if g.Request.Method == http.MethodGet {
		q := g.Request.URL.Query()
		q.Set("lang", other)
		p.LangURL = g.Request.URL.Path + "?" + q.Encode()
	} else {
		p.LangURL = routes.ConsolePayments + "?lang=" + other // an answer to a form: no page to reload
	}
	if n := g.Query("notice"); n != "" && strings.HasPrefix(n, "n_") {
		if _, ok := texts["en"][n]; ok {
			p.Notice = n
		}
	}
	if e := g.Query("problem"); e != "" && strings.HasPrefix(e, "e_") {
		if _, ok := texts["en"][e]; ok {
			p.Problem = e
		}
	}
	return p
}

// policy is the console pages' Content-Security-Policy: nothing from
// elsewhere, no script at all, forms posted to this origin only.
func policy() server.Policy {
	p := server.StrictPolicy()
	delete(p, "script-src")
	return p
}

// render answers with the template name for p.
func (c *Console) render(g *gin.Context, status int, name string, p *page) {
	p.Nonce = server.SetPolicy(g, policy())
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, name, p); err != nil {
		server.Logger(g).Error("console: render page", "template", name, "err", err)
		g.Writer.Header().Del("Content-Security-Policy")
		g.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	g.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// renderError answers with an error page saying key; err, if any, is only
// logged (at error level for 5xx).
func (c *Console) renderError(g *gin.Context, status int, key string, err error) {
	if err != nil {
		log := server.Logger(g)
		if status >= 500 {
			log.Error("console: request failed", "status", status, "path", g.FullPath(), "err", err)
		} else {
			log.Info("console: request refused", "status", status, "path", g.FullPath(), "err", err)
		}
	}
	p := c.newPage(g, tr(lang(g), "err_title"), "", key)
	p.LangURL = routes.ConsolePayments + "?lang=" + map[string]string{"en": "ar", "ar": "en"}[p.Lang]
	c.render(g, status, "error.html", p)
	g.Abort()
}

// redirect sends the browser back to path with a message key (n_… for a
// notice, e_… for a problem) after a POST.
func redirect(g *gin.Context, path, msg string) {
	if msg != "" {
		k := "notice"
		if strings.HasPrefix(msg, "e_") {
			k = "problem"
		}
		path += "?" + k + "=" + url.QueryEscape(msg)
	}
	g.Redirect(http.StatusSeeOther, path)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}
