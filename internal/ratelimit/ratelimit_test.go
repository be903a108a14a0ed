package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"paybridge/internal/jobs"
	"paybridge/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// backends are a real Redis and the embedded queue's in-process one.
func backends(t *testing.T) map[string]func(t *testing.T) redis.UniversalClient {
	return map[string]func(t *testing.T) redis.UniversalClient{
		"redis": func(t *testing.T) redis.UniversalClient {
			c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
			t.Cleanup(func() { c.Close() })
			return c
		},
		"embedded": func(t *testing.T) redis.UniversalClient {
			e, err := jobs.StartEmbedded()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(e.Close)
			c := redis.NewClient(&redis.Options{Addr: e.Addr()})
			t.Cleanup(func() { c.Close() })
			return c
		},
		// Config.Local: no Redis at all.
		"local": func(t *testing.T) redis.UniversalClient { return nil },
	}
}

func engine(t *testing.T, l *Limiter) *gin.Engine {
	t.Helper()
	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.Use(l.Handler)
	e.POST("/notify/:gateway/:id", func(c *gin.Context) { c.Status(http.StatusOK) })
	e.GET("/api/v1/payments/:id", func(c *gin.Context) {
		if c.GetHeader("Authorization") != "Bearer good" {
			c.Status(http.StatusUnauthorized)
			return
		}
		c.Status(http.StatusOK)
	})
	e.GET("/free", func(c *gin.Context) { c.Status(http.StatusOK) })
	return e
}

func do(e http.Handler, method, path, ip, auth string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = ip + ":1234"
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	return w
}

func rules() []Rule {
	return []Rule{
		{Name: "notify_ip", Rate: "10-M", Routes: []string{"/notify/:gateway/:id"}, Key: ClientIP},
		{Name: "notify_payment", Rate: "3-M", Routes: []string{"/notify/:gateway/:id"}, Key: Param("id")},
		{Name: "auth_failures", Rate: "2-M", Routes: []string{"/api/v1/payments/:id"}, Key: ClientIP, Failures: []int{401}},
	}
}

func TestLimits(t *testing.T) {
	for name, client := range backends(t) {
		t.Run(name, func(t *testing.T) {
			rdb := client(t)
			local := rdb == nil
			l, err := New(rdb, Config{Rules: rules(), Prefix: "test:" + t.Name() + ":", Local: local})
			if err != nil {
				t.Fatal(err)
			}
			e := engine(t, l)

			// Per payment: the 4th notification for one payment in a minute
			// is refused, with Retry-After; another payment's are not.
			for i := 1; i <= 4; i++ {
				w := do(e, "POST", "/notify/upay/pay_a", "203.0.113.1", "")
				if want := map[bool]int{true: 429, false: 200}[i == 4]; w.Code != want {
					t.Fatalf("notification %d: %d, want %d", i, w.Code, want)
				}
				if i == 4 {
					if s, _ := strconv.Atoi(w.Header().Get("Retry-After")); s < 1 || s > 60 {
						t.Fatalf("Retry-After %q", w.Header().Get("Retry-After"))
					}
				}
			}
			// Per address: a gateway sending for many payments gets 10 a
			// minute here (the production default is far higher), then 429.
			codes := map[int]int{}
			for i := range 10 {
				codes[do(e, "POST", "/notify/upay/pay_"+strconv.Itoa(i), "203.0.113.2", "").Code]++
			}
			if codes[200] != 10 {
				t.Fatalf("a burst for ten payments: %v", codes)
			}
			if w := do(e, "POST", "/notify/upay/pay_x", "203.0.113.2", ""); w.Code != 429 {
				t.Fatalf("the 11th from one address: %d", w.Code)
			}

			// Failed API keys: only failures count; after two, the address
			// is refused for the window, while other addresses are not.
			for range 3 {
				if w := do(e, "GET", "/api/v1/payments/p", "198.51.100.1", "Bearer good"); w.Code != 200 {
					t.Fatalf("good key: %d", w.Code)
				}
			}
			for i := range 2 {
				if w := do(e, "GET", "/api/v1/payments/p", "198.51.100.1", "Bearer wrong"); w.Code != 401 {
					t.Fatalf("wrong key %d: %d", i, w.Code)
				}
			}
			if w := do(e, "GET", "/api/v1/payments/p", "198.51.100.1", "Bearer wrong"); w.Code != 429 {
				t.Fatalf("the third wrong key: %d", w.Code)
			}
			if w := do(e, "GET", "/api/v1/payments/p", "198.51.100.9", "Bearer wrong"); w.Code != 401 {
				t.Fatalf("another address: %d", w.Code)
			}
			// Routes without a rule are never limited.
			for range 20 {
				if w := do(e, "GET", "/free", "203.0.113.2", ""); w.Code != 200 {
					t.Fatal(w.Code)
				}
			}

			// A second replica on the same Redis shares the counters; a
			// local limiter's are its own.
			l2, _ := New(rdb, Config{Rules: rules(), Prefix: "test:" + t.Name() + ":", Local: local})
			want := map[bool]int{false: 429, true: 200}[local]
			e2 := engine(t, l2)
			if w := do(e2, "POST", "/notify/upay/pay_a", "203.0.113.3", ""); w.Code != want {
				t.Fatalf("the other limiter answered pay_a %d, want %d", w.Code, want)
			}
			// Failed keys: a replica checks the shared count only for an
			// address that failed there, so the over-limit address gets one
			// attempt at the second replica (counted), then is refused.
			if !local {
				if w := do(e2, "GET", "/api/v1/payments/p", "198.51.100.1", "Bearer wrong"); w.Code != 401 {
					t.Fatalf("the over-limit address's first attempt at another replica: %d", w.Code)
				}
				for _, auth := range []string{"Bearer wrong", "Bearer good"} {
					if w := do(e2, "GET", "/api/v1/payments/p", "198.51.100.1", auth); w.Code != 429 {
						t.Fatalf("then, with %q: %d", auth, w.Code)
					}
				}
			}
		})
	}
}

// Without Redis the limiter fails open: requests go through.
func TestFailsOpen(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer rdb.Close()
	l, err := New(rdb, Config{Rules: rules()})
	if err != nil {
		t.Fatal(err)
	}
	e := engine(t, l)
	for range 5 {
		if w := do(e, "POST", "/notify/upay/pay_a", "203.0.113.1", ""); w.Code != 200 {
			t.Fatalf("with Redis down: %d", w.Code)
		}
	}
}

func TestBadRules(t *testing.T) {
	for _, r := range []Rule{{Name: "x", Rate: "ten a minute", Key: ClientIP}, {Name: "y", Rate: "0-M", Key: ClientIP}, {Name: "z", Rate: "5-M"}} {
		if _, err := New(nil, Config{Rules: []Rule{r}}); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}
