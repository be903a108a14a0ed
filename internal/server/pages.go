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
	// KindDelayed shows an amber clock: the outcome is still not known,
	// and the page has stopped refreshing.
	KindDelayed = "delayed"
	// KindPay shows a card: the shopper is about to pay.
	KindPay = "pay"
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
	// RefreshURL and RefreshSeconds make the page check itself every
	// RefreshSeconds: a nonced script fetches RefreshURL in the background
	// and goes there once the answer is another page (a redirect, or a page
	// that is not waiting); without scripts, a meta refresh reloads it. A
	// visible link to RefreshURL is shown too.
	// RefreshSeconds 0 means no refresh. An empty RefreshURL reloads the
	// same address. Only http(s) URLs and same-site paths are used; others
	// are dropped.
	RefreshURL     string
	RefreshSeconds int
	// LinkURL and LinkText make a button (usually back to the store).
	// Empty LinkURL means no button; the same URL rules as RefreshURL apply.
	LinkURL  string
	LinkText string
	// Kind is KindPending, KindSuccess, KindError, KindInfo, KindDelayed
	// or KindPay; anything else is KindInfo.
	Kind string

	// Note is a highlighted paragraph under Message (what the shopper
	// should or should not do). Empty means none.
	Note string
	// Store, Amount and Order describe the payment to the shopper: the
	// store's name (at the top of the card), the amount with its currency
	// as the shopper should read it ("KWD 12.345") and the store's order
	// reference. Reference is the payment's id, shown in small print for
	// a support request. Empty ones are left out.
	Store, Amount, Order, Reference string
	// SwitchURL, when set, is the address of this page in the other
	// language (Arabic on an English page, English on an Arabic one),
	// offered as a link at the top. The same URL rules as RefreshURL apply.
	SwitchURL string
}

// pageData is what the templates see.
type pageData struct {
	Page
	Dir         string
	Refresh     string
	RefreshText string
	CSS         template.CSS
	// Nonce is the response's CSP nonce, on the inline <style>.
	Nonce string
	// L holds the page's fixed labels in its language; OtherLang is the
	// language SwitchURL leads to.
	L         labels
	OtherLang string
}

// labels are the fixed words around a page's text.
type labels struct {
	Secure, Amount, Order, Reference, Switch, Console string
}

var pageLabels = map[string]labels{
	"en": {Secure: "Secure payment", Amount: "Amount", Order: "Order", Reference: "Payment reference",
		Switch: "العربية", Console: "Sign in to the console"},
	"ar": {Secure: "دفع آمن", Amount: "المبلغ", Order: "رقم الطلب", Reference: "مرجع الدفع",
		Switch: "English", Console: "تسجيل الدخول إلى لوحة التحكم"},
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
	case KindPending, KindSuccess, KindError, KindDelayed, KindPay:
	default:
		d.Kind = KindInfo
	}
	d.L = pageLabels[d.Lang]
	d.OtherLang = "ar"
	if d.Lang == "ar" {
		d.OtherLang = "en"
	}
	d.SwitchURL = safeURL(p.SwitchURL)
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
// inline stylesheet and, on the waiting page, the nonced script that asks
// this origin for the page again (connect-src 'self'); no forms.
func pagePolicy() Policy {
	p := StrictPolicy()
	p["form-action"] = []string{"'none'"}
	p["connect-src"] = []string{"'self'"}
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
	// ShopperDelayed: "Your payment is still being confirmed", shown once
	// the waiting page has given up refreshing: don't pay again.
	ShopperDelayed
	// ShopperPay: "Complete your payment", a button (the link URL) to the
	// gateway's page, for a route that asks the shopper before sending
	// them there.
	ShopperPay
	// ShopperChecking: "Checking your order" (the store confirms the
	// order can be fulfilled before the shopper pays); refreshes itself.
	ShopperChecking
)

// PendingRefreshSeconds is how often the pending page reloads itself.
const PendingRefreshSeconds = 5

type pageText struct{ title, heading, message string }

type langTexts struct {
	back, again, pay, retry string
	pages                   map[ShopperPageKind]pageText
	// notes are the pages' highlighted paragraphs (Page.Note).
	notes    map[ShopperPageKind]string
	notFound pageText
}

var texts = map[string]langTexts{
	"en": {
		back:  "Return to the store",
		again: "Check again now",
		pay:   "Continue to payment",
		retry: "Try again",
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
			ShopperDelayed: {"Payment still being confirmed", "Your payment is still being confirmed",
				"The bank has not sent its answer yet. This sometimes takes longer, and there is nothing more you need to do now."},
			ShopperPay: {"Complete your payment", "Complete your payment",
				"You will continue to the bank's secure payment page."},
			ShopperChecking: {"Checking your order", "Checking your order",
				"The store is confirming that everything in your order is still available. Nothing has been charged yet. This page moves on to the payment by itself."},
		},
		notes:    map[ShopperPageKind]string{ShopperDelayed: "Please don't pay again: this payment can only be charged once, and the store will update your order as soon as the bank confirms it. If the amount was deducted and your order is not confirmed within a day, contact the store with your order number."},
		notFound: pageText{"Page not found", "Page not found", "The page you asked for does not exist."},
	},
	"ar": {
		back:  "العودة إلى المتجر",
		again: "تحقّق مرة أخرى الآن",
		pay:   "المتابعة إلى الدفع",
		retry: "حاول مرة أخرى",
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
			ShopperDelayed: {"لا يزال تأكيد الدفع جاريًا", "لا يزال تأكيد عملية الدفع جاريًا",
				"لم يصلنا رد البنك بعد. قد يستغرق ذلك وقتًا أطول أحيانًا، ولا يلزمك فعل أي شيء الآن."},
			ShopperPay: {"أكمل عملية الدفع", "أكمل عملية الدفع",
				"ستنتقل إلى صفحة الدفع الآمنة لدى البنك."},
			ShopperChecking: {"جارٍ التحقق من طلبك", "جارٍ التحقق من طلبك",
				"يتأكد المتجر الآن من توفّر جميع المنتجات في طلبك. لم يُخصم أي مبلغ بعد، وستنتقل هذه الصفحة إلى الدفع تلقائيًا."},
		},
		notes:    map[ShopperPageKind]string{ShopperDelayed: "يُرجى عدم الدفع مرة أخرى: لا يمكن خصم هذه الدفعة إلا مرة واحدة، وسيُحدِّث المتجر طلبك فور تأكيد البنك لها. إذا خُصم المبلغ ولم يُؤكَّد طلبك خلال يوم، فتواصل مع المتجر واذكر رقم طلبك."},
		notFound: pageText{"الصفحة غير موجودة", "الصفحة غير موجودة", "الصفحة التي طلبتها غير موجودة."},
	},
}

// ShopperPage returns the built-in page of the given kind in lang ("ar",
// else English). linkURL, if not empty, becomes a "Return to the store"
// button ("Continue to payment" on ShopperPay, "Try again" on
// ShopperError, whose link is the payment's pay URL). refreshURL is used by
// ShopperPending only: the page reloads to it every
// [PendingRefreshSeconds] (empty: reloads itself). Callers fill in the
// payment's Store, Amount, Order and Reference.
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
		Note:     texts[l].notes[kind],
		LinkURL:  linkURL,
		LinkText: texts[l].back,
	}
	switch kind {
	case ShopperDelayed:
		p.Kind = KindDelayed
	case ShopperPay:
		p.Kind = KindPay
		p.LinkText = texts[l].pay
	case ShopperError:
		p.Kind = KindError
		p.LinkText = texts[l].retry
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

// ConsoleURL is where the landing page sends operators and merchants:
// the console's sign-in.
const ConsoleURL = "/admin"

type landingData struct {
	Lang, Dir, OtherLang, SwitchURL        string
	Title, Heading, Message, Note, Refresh string
	Version, DocsURL, ConsoleURL, Nonce    string
	Internals                              bool
	L                                      labels
	CSS                                    template.CSS
}

var landingTexts = map[string]struct{ title, heading, message, note string }{
	"en": {"Payments for online stores", "Payments for online stores",
		"This service takes card and KNET payments for the online stores that use it, and tells each store the result.",
		"Paying for an order? Please go back to the store's website: payments always start from the store's checkout."},
	"ar": {"مدفوعات المتاجر الإلكترونية", "مدفوعات المتاجر الإلكترونية",
		"تستقبل هذه الخدمة المدفوعات بالبطاقات وكي نت للمتاجر الإلكترونية التي تستخدمها، وتُبلغ كل متجر بنتيجة الدفع.",
		"هل تدفع ثمن طلب؟ يُرجى العودة إلى موقع المتجر: تبدأ عمليات الدفع دائمًا من صفحة الدفع في المتجر."},
}

// landing is the page at /: in production (Config.ShowInternals false) a
// short, bilingual word on what the service is with a link to the
// console; for development, the version and the operations routes.
func (s *Server) landing(c *gin.Context) {
	l := PreferredLang(c.GetHeader("Accept-Language"))
	if q := c.Query("lang"); q != "" {
		l = normLang(q)
	}
	renderTemplate(c, http.StatusOK, "landing.html", func(nonce string) any {
		d := landingData{
			Lang: "en", Dir: "ltr", Title: "paybridge",
			Version:    s.cfg.Version,
			DocsURL:    safeURL(s.cfg.DocsURL),
			ConsoleURL: ConsoleURL,
			Internals:  s.cfg.ShowInternals,
			CSS:        template.CSS(styleSheet),
			Nonce:      nonce,
		}
		if !d.Internals {
			t := landingTexts[l]
			d.Lang, d.Title, d.Heading, d.Message, d.Note = l, t.title, t.heading, t.message, t.note
			d.L, d.OtherLang = pageLabels[l], "ar"
			if l == "ar" {
				d.Dir, d.OtherLang = "rtl", "en"
			}
			d.SwitchURL = "/?lang=" + d.OtherLang
		}
		return d
	})
}
