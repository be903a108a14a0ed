package server

import (
	"crypto/rand"
	"encoding/base64"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// Policy is a Content-Security-Policy: sources by directive name
// ("script-src": {"https://cdn.shopify.com"}). [SetPolicy] adds the
// response's nonce to script-src and style-src when the policy has them.
type Policy map[string][]string

// StrictPolicy is the policy of a page that loads nothing from elsewhere:
// only its own nonced inline scripts and styles, data: images, forms posted
// to this origin, and no framing. Callers may change the copy it returns.
func StrictPolicy() Policy {
	return Policy{
		"default-src":     {"'none'"},
		"script-src":      {},
		"style-src":       {},
		"img-src":         {"data:"},
		"base-uri":        {"'none'"},
		"form-action":     {"'self'"},
		"frame-ancestors": {"'none'"},
	}
}

// nonceKey is where SetPolicy keeps the response's nonce in the Gin context.
const nonceKey = "paybridge.csp-nonce"

// SetPolicy sets the Content-Security-Policy of an HTML response to p,
// with a fresh nonce (128 random bits) added to its script-src and
// style-src, and Referrer-Policy: no-referrer (page URLs carry payment
// ids and, in the Shopify admin, session tokens). It returns the nonce,
// which the page's inline <script> and <style> elements must carry as
// nonce="…"; an inline script without it (an injection) does not run.
// Calling it again for the same response keeps the nonce.
func SetPolicy(c *gin.Context, p Policy) string {
	nonce := Nonce(c)
	if nonce == "" {
		b := make([]byte, 16)
		rand.Read(b)                                    // never fails (crypto/rand: "Read … never returns an error")
		nonce = base64.RawURLEncoding.EncodeToString(b) // no "+", "/" or "=": nothing to escape in HTML
		c.Set(nonceKey, nonce)
	}
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", p.header(nonce))
	h.Set("Referrer-Policy", "no-referrer")
	return nonce
}

// Nonce returns the nonce [SetPolicy] chose for this response, or "".
func Nonce(c *gin.Context) string {
	return c.GetString(nonceKey)
}

// header renders the policy, directives sorted (default-src first) so the
// header is stable.
func (p Policy) header(nonce string) string {
	names := make([]string, 0, len(p))
	for name := range p {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		if a == "default-src" {
			return -1
		}
		if b == "default-src" {
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, 0, len(names))
	for _, name := range names {
		srcs := p[name]
		if name == "script-src" || name == "style-src" {
			srcs = append([]string{"'nonce-" + nonce + "'"}, srcs...)
		}
		if len(srcs) == 0 { // a directive without sources (upgrade-insecure-requests)
			parts = append(parts, name)
			continue
		}
		parts = append(parts, name+" "+strings.Join(srcs, " "))
	}
	return strings.Join(parts, "; ")
}
