package server

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

//go:embed templates/*.html templates/style.css
var templateFS embed.FS

var (
	tmpl = template.Must(template.ParseFS(templateFS, "templates/*.html"))
	// styleSheet is the one stylesheet, inlined into every page.
	styleSheet = mustRead("templates/style.css")
)

func mustRead(name string) string {
	b, err := templateFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Page kinds, for [Page].Kind: they choose the icon and colour.
const (
	// KindPending shows a spinner: the outcome is not known yet.
	KindPending = "pending"
	// KindSuccess shows a green tick.
	KindSuccess = "success"
	// KindError shows a red cross.
	KindError = "error"
	// KindInfo shows an amber exclamation mark.
	KindInfo = "info"
)

// Page is an HTML page shown to a shopper, rendered by [RenderPage].
type Page struct {
	// Lang is "en" or "ar"; anything else is rendered as "en". Arabic pages
	// are right-to-left.
	Lang string
	// Title is the window title; empty means Heading.
	Title string
	// Heading and Message are the page's text.
	Heading string
	Message string
	// RefreshURL and RefreshSeconds make the page reload itself (a meta
	// refresh, no script) after RefreshSeconds, to RefreshURL, with a
	// visible link to RefreshURL for browsers that ignore it.
	// RefreshSeconds 0 means no refresh. An empty RefreshURL reloads the
	// same address. Only http(s) URLs and same-site paths are used; others
	// are dropped.
	RefreshURL     string
	RefreshSeconds int
	// LinkURL and LinkText make a button (usually back to the store).
	// Empty LinkURL means no button; the same URL rules as RefreshURL apply.
	LinkURL  string
	LinkText string
	// Kind is KindPending, KindSuccess, KindError or KindInfo; anything
	// else is KindInfo.
	Kind string
}

// pageData is what the templates see.
type pageData struct {
	Page
	Dir         string
	Icon        string
	Refresh     string
	RefreshText string
	CSS         template.CSS
	// Nonce is the response's CSP nonce, on the inline <style>.
	Nonce string
}

// normLang maps a language tag to "ar" or "en".
func normLang(lang string) string {
	l := strings.ToLower(strings.TrimSpace(lang))
	if l == "ar" || strings.HasPrefix(l, "ar-") || strings.HasPrefix(l, "ar_") {
		return "ar"
	}
	return "en"
}

// PreferredLang picks "ar" or "en" from an Accept-Language header value:
// the one with the higher weight, English when neither is listed.
func PreferredLang(acceptLanguage string) string {
	best, bestQ := "en", -1.0
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 {
				continue // q=0 means "not this one"
			}
			q = f
		}
		l := strings.ToLower(tag)
		if l != "ar" && !strings.HasPrefix(l, "ar-") && l != "en" && !strings.HasPrefix(l, "en-") {
			continue
		}
		if q > bestQ {
			best, bestQ = normLang(l), q
		}
	}
	return best
}

// safeURL returns u if it is an absolute http(s) URL or a same-site path,
// and "" otherwise (javascript:, data:, protocol-relative //host …).
func safeURL(u string) string {
	u = strings.TrimSpace(u)
	if u == "" {
		return ""
	}
	if strings.HasPrefix(u, "/") {
		if strings.HasPrefix(u, "//") || strings.HasPrefix(u, "/\\") {
			return ""
		}
		return u
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return u
}

func (p Page) data() pageData {
	d := pageData{Page: p, CSS: template.CSS(styleSheet)}
	d.Lang = normLang(p.Lang)
	d.Dir = "ltr"
	if d.Lang == "ar" {
		d.Dir = "rtl"
	}
	if d.Title == "" {
		d.Title = d.Heading
	}
	switch p.Kind {
	case KindPending:
		d.Icon = ""
	case KindSuccess:
		d.Icon = "✓"
	case KindError:
		d.Icon = "✕"
	default:
		d.Kind, d.Icon = KindInfo, "!"
	}
	d.LinkURL = safeURL(p.LinkURL)
	if d.LinkURL != "" && d.LinkText == "" {
		d.LinkText = texts[d.Lang].back
	}
	d.RefreshURL = safeURL(p.RefreshURL)
	if p.RefreshSeconds > 0 {
		d.Refresh = strconv.Itoa(p.RefreshSeconds)
		if d.RefreshURL != "" {
			d.Refresh += ";url=" + d.RefreshURL
		}
		d.RefreshText = texts[d.Lang].again
	} else {
		d.RefreshURL = "" // the fallback link only accompanies a refresh
	}
	return d
}

// pagePolicy is the policy of the built-in pages: nothing but their nonced
// inline stylesheet (they have no scripts and no forms), links and, for
// the meta refresh, navigation.
func pagePolicy() Policy {
	p := StrictPolicy()
	p["form-action"] = []string{"'none'"}
	return p
}

// setPageHeaders sets the headers of every built-in HTML page: no caching
// (a payment's page changes), no referrer (URLs may carry references), and
// the Content-Security-Policy with this response's nonce, which it returns.
func setPageHeaders(c *gin.Context) string {
	nonce := SetPolicy(c, pagePolicy())
	h := c.Writer.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	return nonce
}

// RenderPage answers the request with the HTML page p and status.
// A template failure is logged and answered with a plain 500.
func RenderPage(c *gin.Context, status int, p Page) {
	renderTemplate(c, status, "page.html", func(nonce string) any {
		d := p.data()
		d.Nonce = nonce
		return d
	})
}

// renderTemplate renders the template name with the data data returns for
// this response's CSP nonce.
func renderTemplate(c *gin.Context, status int, name string, data func(nonce string) any) {
	nonce := setPageHeaders(c)
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, name, data(nonce)); err != nil {
		Logger(c).Error("server: render page", "template", name, "err", err)
		c.Writer.Header().Del("Content-Security-Policy")
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// ShopperPageKind names one of the built-in shopper pages.
type ShopperPageKind int

// The built-in shopper pages, each in English and Arabic.
const (
	// ShopperPending: "Your payment is being confirmed"; refreshes itself.
	ShopperPending ShopperPageKind = iota
	// ShopperPaid: "Payment received".
	ShopperPaid
	// ShopperFailed: "Payment failed".
	ShopperFailed
	// ShopperCanceled: "Payment canceled".
	ShopperCanceled
	// ShopperExpired: "Payment expired".
	ShopperExpired
	// ShopperNotFound: "Payment not found".
	ShopperNotFound
	// ShopperError: "Something went wrong".
	ShopperError
	// ShopperChecking: "Checking your order" (the store confirms the
	// order can be fulfilled before the shopper pays); refreshes itself.
	ShopperChecking
)

// PendingRefreshSeconds is how often the pending page reloads itself.
const PendingRefreshSeconds = 5

type pageText struct{ title, heading, message string }

type langTexts struct {
	back, again string
	pages       map[ShopperPageKind]pageText
	notFound    pageText
}

var texts = map[string]langTexts{
	"en": {
		back:  "Return to the store",
		again: "Check again now",
		pages: map[ShopperPageKind]pageText{
			ShopperPending: {"Confirming your payment", "Your payment is being confirmed",
				"We are checking your payment with the bank. This usually takes a few seconds and this page updates by itself. Please don't close it or pay again."},
			ShopperPaid: {"Payment received", "Payment received",
				"Thank you. Your payment was successful and the store will confirm your order shortly."},
			ShopperFailed: {"Payment failed", "Payment failed",
				"Your payment was not completed. You can return to the store and try again."},
			ShopperCanceled: {"Payment canceled", "Payment canceled",
				"You canceled the payment and no amount was charged. You can return to the store to choose another payment method."},
			ShopperExpired: {"Payment expired", "Payment expired",
				"The time allowed to complete this payment has run out. Please return to the store and start again."},
			ShopperNotFound: {"Payment not found", "Payment not found",
				"We could not find this payment. Please check the link or contact the store."},
			ShopperError: {"Something went wrong", "Something went wrong",
				"We could not show the status of your payment right now. Please try again in a moment. If an amount was deducted, don't pay again: contact the store."},
			ShopperChecking: {"Checking your order", "Checking your order",
				"The store is confirming that everything in your order is still available. Nothing has been charged yet. This page moves on to the payment by itself."},
		},
		notFound: pageText{"Page not found", "Page not found", "The page you asked for does not exist."},
	},
	"ar": {
		back:  "العودة إلى المتجر",
		again: "تحقّق مرة أخرى الآن",
		pages: map[ShopperPageKind]pageText{
			ShopperPending: {"جارٍ تأكيد الدفع", "جارٍ تأكيد عملية الدفع",
				"نتحقق الآن من عملية الدفع لدى البنك. يستغرق ذلك عادةً بضع ثوانٍ، وستُحدَّث هذه الصفحة تلقائيًا. يُرجى عدم إغلاقها أو الدفع مرة أخرى."},
			ShopperPaid: {"تم استلام الدفعة", "تم استلام الدفعة",
				"شكرًا لك. تمت عملية الدفع بنجاح، وسيؤكد المتجر طلبك قريبًا."},
			ShopperFailed: {"فشلت عملية الدفع", "فشلت عملية الدفع",
				"لم تكتمل عملية الدفع. يمكنك العودة إلى المتجر والمحاولة مرة أخرى."},
			ShopperCanceled: {"تم إلغاء الدفع", "تم إلغاء عملية الدفع",
				"لقد ألغيت عملية الدفع ولم يُخصم أي مبلغ. يمكنك العودة إلى المتجر لاختيار طريقة دفع أخرى."},
			ShopperExpired: {"انتهت مهلة الدفع", "انتهت مهلة الدفع",
				"انتهت المهلة المتاحة لإتمام عملية الدفع. يُرجى العودة إلى المتجر والبدء من جديد."},
			ShopperNotFound: {"لم يتم العثور على الدفعة", "لم يتم العثور على عملية الدفع",
				"تعذّر العثور على عملية الدفع هذه. يُرجى التحقق من الرابط أو التواصل مع المتجر."},
			ShopperError: {"حدث خطأ ما", "حدث خطأ ما",
				"تعذّر علينا عرض حالة عملية الدفع الآن. يُرجى المحاولة مرة أخرى بعد قليل. إذا خُصم مبلغ من حسابك فلا تدفع مرة أخرى، وتواصل مع المتجر."},
			ShopperChecking: {"جارٍ التحقق من طلبك", "جارٍ التحقق من طلبك",
				"يتأكد المتجر الآن من توفّر جميع المنتجات في طلبك. لم يُخصم أي مبلغ بعد، وستنتقل هذه الصفحة إلى الدفع تلقائيًا."},
		},
		notFound: pageText{"الصفحة غير موجودة", "الصفحة غير موجودة", "الصفحة التي طلبتها غير موجودة."},
	},
}

// ShopperPage returns the built-in page of the given kind in lang ("ar",
// else English). linkURL, if not empty, becomes a "Return to the store"
// button. refreshURL is used by ShopperPending only: the page reloads to it
// every [PendingRefreshSeconds] (empty: reloads itself).
func ShopperPage(lang string, kind ShopperPageKind, refreshURL, linkURL string) Page {
	l := normLang(lang)
	t, ok := texts[l].pages[kind]
	if !ok {
		kind = ShopperError
		t = texts[l].pages[kind]
	}
	p := Page{
		Lang:     l,
		Title:    t.title,
		Heading:  t.heading,
		Message:  t.message,
		LinkURL:  linkURL,
		LinkText: texts[l].back,
	}
	switch kind {
	case ShopperPending, ShopperChecking:
		p.Kind = KindPending
		p.RefreshURL = refreshURL
		p.RefreshSeconds = PendingRefreshSeconds
	case ShopperPaid:
		p.Kind = KindSuccess
	case ShopperCanceled, ShopperExpired:
		p.Kind = KindInfo
	default:
		p.Kind = KindError
	}
	return p
}

// isAPIRequest reports whether a 404 or 405 should be answered in JSON:
// paths under /api/, and clients that ask for JSON and not HTML.
func isAPIRequest(c *gin.Context) bool {
	p := c.Request.URL.Path
	if p == "/api" || strings.HasPrefix(p, "/api/") {
		return true
	}
	accept := c.GetHeader("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

func (s *Server) notFound(c *gin.Context) {
	if isAPIRequest(c) {
		WriteError(c, Error(http.StatusNotFound, "not_found", "no such endpoint"))
		return
	}
	s.notFoundPage(c, http.StatusNotFound)
}

func (s *Server) methodNotAllowed(c *gin.Context) {
	if isAPIRequest(c) {
		WriteError(c, Error(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed for this endpoint"))
		return
	}
	s.notFoundPage(c, http.StatusMethodNotAllowed)
}

func (s *Server) notFoundPage(c *gin.Context, status int) {
	l := PreferredLang(c.GetHeader("Accept-Language"))
	t := texts[l].notFound
	RenderPage(c, status, Page{Lang: l, Title: t.title, Heading: t.heading, Message: t.message, Kind: KindInfo})
	c.Abort()
}

type landingData struct {
	Title, Refresh, Version, DocsURL, Nonce string
	CSS                                     template.CSS
}

// landing is the operator's landing page at /.
func (s *Server) landing(c *gin.Context) {
	renderTemplate(c, http.StatusOK, "landing.html", func(nonce string) any {
		return landingData{
			Title:   "paybridge",
			Version: s.cfg.Version,
			DocsURL: safeURL(s.cfg.DocsURL),
			CSS:     template.CSS(styleSheet),
			Nonce:   nonce,
		}
	})
}
