package server_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/platforms/shopify"
	"paybridge/internal/platforms/woocommerce"
	"paybridge/internal/server"
	"paybridge/internal/testenv"
)

// probe is appended to a page after its handler ran: a script carrying
// the response's nonce, which reports what it sees, and an injected inline
// script without it, which must not run.
func probe(check string) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Writer = &unsized{c.Writer}
		c.Next()
		nonce := server.Nonce(c)
		c.Writer.WriteString(`<pre id="probe"></pre><script nonce="` + nonce + `">
document.getElementById('probe').textContent = 'probe ran; ' + (` + check + `);
</script><script>document.body.setAttribute('data-injected', 'ran')</script>
<img src="x" onerror="document.body.setAttribute('data-handler', 'ran')">`)
	}
}

// unsized drops the Content-Length a handler set, so that the probe can
// follow its body.
type unsized struct{ gin.ResponseWriter }

func (w *unsized) Write(b []byte) (int, error) {
	w.Header().Del("Content-Length")
	return w.ResponseWriter.Write(b)
}

func (w *unsized) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// cspServer serves the pages that have a policy: a shopper page, the
// WooCommerce connect form and the Shopify settings page, each with a
// probe appended.
func cspServer(t *testing.T) string {
	t.Helper()
	const public = "https://bridge.example"
	svc := checkout.NewService(nil, nil, checkout.Config{PublicURL: public})
	srv := server.New(server.Config{})
	wc := woocommerce.New(svc, nil, woocommerce.Config{PublicURL: public})
	sp, err := shopify.New(svc, nil, shopify.Config{APIKey: "key", APISecret: "secret", PublicURL: public})
	if err != nil {
		t.Fatal(err)
	}
	// Before the routes: Gin gives a route the middleware in use when it
	// is added.
	srv.Engine().Use(func(c *gin.Context) {
		switch p := c.Request.URL.Path; {
		case p == "/shopper":
			probe(`getComputedStyle(document.body).display === 'flex' ? 'styled' : 'unstyled'`)(c)
		case strings.HasPrefix(p, "/woocommerce/connect"):
			probe(`getComputedStyle(document.querySelector('main')).maxWidth === '736px' ? 'styled' : 'unstyled'`)(c)
		case strings.HasPrefix(p, "/shopify/app"):
			// Without App Bridge (no CDN here) the page's script shows #no-bridge.
			probe(`'page script ' + (document.getElementById('no-bridge').hidden ? 'did not run' : 'ran') + '; ' +
				(getComputedStyle(document.querySelector('main')).maxWidth === '662px' ? 'styled' : 'unstyled')`)(c)
		default:
			c.Next()
		}
	})
	srv.Engine().GET("/shopper", func(c *gin.Context) {
		server.RenderPage(c, http.StatusOK, server.ShopperPage("ar", server.ShopperPaid, "", ""))
	})
	srv.Mount(wc)
	srv.Mount(sp)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

var nonceRe = regexp.MustCompile(`'nonce-([A-Za-z0-9_-]{22})'`)

// TestPolicyHeaders: every page has a CSP whose script-src carries a
// fresh nonce, the nonce on each of its inline scripts and styles, and
// Referrer-Policy: no-referrer; the Shopify page keeps its frame-ancestors.
func TestPolicyHeaders(t *testing.T) {
	t.Parallel()
	base := cspServer(t)
	seen := map[string]bool{}
	for _, path := range []string{"/shopper", "/woocommerce/connect", "/shopify/app?shop=a-shop.myshopify.com", "/", "/no-such-page"} {
		for range 2 {
			resp, err := http.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			var body strings.Builder
			buf := make([]byte, 64<<10)
			for {
				n, err := resp.Body.Read(buf)
				body.Write(buf[:n])
				if err != nil {
					break
				}
			}
			resp.Body.Close()
			csp := resp.Header.Get("Content-Security-Policy")
			m := nonceRe.FindStringSubmatch(csp)
			if m == nil || !strings.Contains(csp, "script-src 'nonce-") {
				t.Fatalf("%s: CSP %q has no script nonce", path, csp)
			}
			if seen[m[1]] {
				t.Errorf("%s: nonce %s used twice", path, m[1])
			}
			seen[m[1]] = true
			if rp := resp.Header.Get("Referrer-Policy"); rp != "no-referrer" {
				t.Errorf("%s: Referrer-Policy %q", path, rp)
			}
			page, _, _ := strings.Cut(body.String(), `<pre id="probe">`)
			for _, tag := range regexp.MustCompile(`<(script|style)\b[^>]*>`).FindAllString(page, -1) {
				if !strings.Contains(tag, `nonce="`+m[1]+`"`) {
					t.Errorf("%s: %s lacks the nonce", path, tag)
				}
			}
			if strings.HasPrefix(path, "/shopify") && !strings.Contains(csp, "frame-ancestors https://admin.shopify.com https://a-shop.myshopify.com") {
				t.Errorf("%s: CSP %q lost frame-ancestors", path, csp)
			}
			if !strings.HasPrefix(path, "/shopify") && !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("%s: CSP %q is not default-src 'none'", path, csp)
			}
		}
	}
}

// TestPolicyBrowser loads each page in headless Chromium: the nonced
// script runs and the page keeps its styles, while an injected inline
// script and an inline event handler do not run.
func TestPolicyBrowser(t *testing.T) {
	t.Parallel()
	base := cspServer(t)
	for _, tt := range []struct{ path, want string }{
		{"/shopper", "probe ran; styled"},
		{"/woocommerce/connect", "probe ran; styled"},
		{"/shopify/app?shop=a-shop.myshopify.com", "probe ran; page script ran; styled"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			dom := testenv.DumpDOM(t, base+tt.path)
			if !strings.Contains(dom, `<pre id="probe">`+tt.want+`</pre>`) {
				t.Errorf("probe did not report %q:\n%s", tt.want, dom)
			}
			if strings.Contains(dom, `data-injected="ran"`) || strings.Contains(dom, `data-handler="ran"`) {
				t.Errorf("an injected script ran:\n%s", dom)
			}
		})
	}
}
