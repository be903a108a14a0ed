package simkit

import (
	"html/template"
	"net/http"
	"strings"
)

// Page is a gateway's hosted payment page: the shopper sees the payment
// and one button per outcome; a pick is a form POST that the simulator
// completes and answers with a redirect back to the merchant.
type Page struct {
	// Title is the document title; Heading the page's h1.
	Title, Heading string
	// Field is the form field the buttons set ("result", "status").
	Field string
	// Buttons are the outcomes the shopper can pick, in order.
	Buttons []Button
}

// Button is one outcome on a Page.
type Button struct {
	// Value is what the form sends; Label what the shopper reads.
	Value, Label string
}

// View is what a Page shows of one payment.
type View struct {
	// Noun names the merchant's identifier ("Order", "Reference"); ID is it.
	Noun, ID string
	// Amount is shown as given ("12.345 KWD").
	Amount string
	// Done is the payment's state once it can no longer be paid ("" while
	// it can): the page then shows it instead of the buttons.
	Done string
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.P.Title}}</title>
<style>body{font-family:sans-serif;max-width:30em;margin:3em auto}button{display:block;width:100%;margin:.5em 0;padding:.8em;font-size:1.1em}</style>
</head><body>
<h1>{{.P.Heading}}</h1>
<p>{{.V.Noun}} <b>{{.V.ID}}</b>: <b>{{.V.Amount}}</b></p>
{{if .V.Done}}<p>This payment is <b>{{.V.Done}}</b>.</p>{{else}}
<form method="post">
{{range .P.Buttons}}<button name="{{$.P.Field}}" value="{{.Value}}">{{.Label}}</button>
{{end}}</form>{{end}}
</body></html>`))

// Serve answers one request for a payment's page. v is nil for an unknown
// payment (404). GET shows the page; POST checks the pick against the
// buttons (400 otherwise), calls complete with it and redirects (302) to
// the URL it returns, or answers 409 with its error (the shopper already
// acted). Other methods get 405.
func (p *Page) Serve(w http.ResponseWriter, r *http.Request, v *View, complete func(pick string) (redirect string, err error)) {
	if v == nil {
		http.Error(w, "unknown payment", http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = pageTmpl.Execute(w, struct {
			P *Page
			V *View
		}{p, v})
	case http.MethodPost:
		pick := r.PostFormValue(p.Field)
		if !p.offers(pick) {
			http.Error(w, "pick "+p.choices(), http.StatusBadRequest)
			return
		}
		target, err := complete(pick)
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		http.Redirect(w, r, target, http.StatusFound)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (p *Page) offers(pick string) bool {
	for _, b := range p.Buttons {
		if b.Value == pick {
			return true
		}
	}
	return false
}

// choices lists the buttons' values: "A, B or C".
func (p *Page) choices() string {
	vals := make([]string, len(p.Buttons))
	for i, b := range p.Buttons {
		vals[i] = b.Value
	}
	if len(vals) < 2 {
		return strings.Join(vals, "")
	}
	return strings.Join(vals[:len(vals)-1], ", ") + " or " + vals[len(vals)-1]
}

// AppendQuery appends an encoded query to u with "?", or "&" when u
// already has a query.
func AppendQuery(u, query string) string {
	if strings.Contains(u, "?") {
		return u + "&" + query
	}
	return u + "?" + query
}
