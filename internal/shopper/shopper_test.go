package shopper_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"

	"paybridge/internal/checkout"
	"paybridge/internal/cko"
	"paybridge/internal/jobs"
	"paybridge/internal/kupay"
	"paybridge/internal/secrets"
	"paybridge/internal/server"
	"paybridge/internal/shopper"
	"paybridge/internal/store"
	"paybridge/internal/testenv"
	"paybridge/internal/upay"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	testenv.Main(m)
}

// env is the shopper routes over a real core: a SQLite store, the
// embedded queue and the three gateway adapters. No gateway is ever
// called: these tests stop at the notification.
type env struct {
	db       *store.DB
	srv      *server.Server
	payments map[string]string // gateway name → a payment of that gateway
}

// storeAndQueue opens a migrated SQLite store and an embedded queue, closed
// at the test's end.
func storeAndQueue(t *testing.T) (*store.DB, *jobs.Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key := make([]byte, 32)
	rand.Read(key)
	kr, err := secrets.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "bridge.db"), kr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	emb, err := jobs.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	q := jobs.NewQueue(asynq.RedisClientOpt{Addr: emb.Addr()}, jobs.Config{})
	t.Cleanup(func() { q.Close() })
	return db, q
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db, q := storeAndQueue(t)

	const public = "https://bridge.example"
	svc := checkout.NewService(db, q, checkout.Config{PublicURL: public})
	svc.RegisterGateway(upay.New(upay.Config{}))
	svc.RegisterGateway(cko.New(cko.Config{}))
	svc.RegisterGateway(kupay.New(kupay.Config{}))

	e := &env{db: db, payments: map[string]string{}}
	now := time.Now().UTC()
	for i, gw := range []string{upay.GatewayName, cko.GatewayName, kupay.GatewayName} {
		shop := &checkout.Shop{
			ID: checkout.NewID("shop"), Name: "Shop " + gw, Platform: checkout.PlatformAPI,
			Gateway:    checkout.GatewayAccount{Gateway: gw, Sandbox: true, Credentials: map[string]string{"api_key": "sk_test"}},
			APIKeyHash: "hash-" + gw, WebhookSecret: "whsec_test", CreatedAt: now,
		}
		if err := db.CreateShop(t.Context(), shop); err != nil {
			t.Fatal(err)
		}
		p := &checkout.Payment{
			ID: checkout.NewID("pay"), ShopID: shop.ID, Platform: checkout.PlatformAPI, OrderID: "order-" + string(rune('1'+i)),
			Amount: checkout.Money{Minor: 12345, Currency: "KWD"}, Refunded: checkout.Money{Currency: "KWD"},
			Status: checkout.StatusPending, Gateway: gw, CreatedAt: now, UpdatedAt: now,
		}
		p.GatewayOrderID = p.ID
		if err := db.Apply(t.Context(), checkout.Change{NewPayment: p}); err != nil {
			t.Fatal(err)
		}
		e.payments[gw] = p.ID
	}
	e.srv = server.New(server.Config{})
	e.srv.Mount(shopper.New(svc, shopper.Config{PublicURL: public}))
	return e
}

func (e *env) post(path, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, req)
	return w
}

// TestNotifyUnreadable: on every gateway, a notification whose body cannot
// be read is a 400 (not a 500), and the payment is unchanged: the only
// thing written is the audit event recording the bad callback.
func TestNotifyUnreadable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	deep := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	bodies := []struct {
		name, ct, body string
	}{
		{"form with semicolon", "application/x-www-form-urlencoded", "track_id=1;result=CAPTURED"},
		{"form with bad escape", "application/x-www-form-urlencoded", "track_id=%zz&result=CAPTURED"},
		{"JSON nested 20000 deep", "application/json", deep},
		{"JSON nested 20000 deep, no type", "", deep},
		{"JSON with trailing brace", "application/json", `{"payment_id":"1","status":"paid"}}`},
		{"JSON array", "application/json", `[1,2]`},
		{"truncated JSON", "application/json", `{"type":"payment_captured","data":{`},
	}
	for _, gw := range []string{upay.GatewayName, cko.GatewayName, kupay.GatewayName} {
		for _, b := range bodies {
			if gw == cko.GatewayName && strings.HasPrefix(b.name, "form") {
				// Checkout.com only sends JSON: a form is read as JSON.
				b.ct = "application/json"
			}
			t.Run(gw+"/"+b.name, func(t *testing.T) {
				id := e.payments[gw]
				before := e.snapshot(t, id)
				w := e.post("/notify/"+gw+"/"+id, b.ct, b.body)
				if w.Code != http.StatusBadRequest {
					t.Fatalf("status %d, want 400: %s", w.Code, w.Body)
				}
				var doc struct {
					Error struct{ Code string } `json:"error"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc.Error.Code != "unreadable_callback" {
					t.Errorf("body %s (%v), want error code unreadable_callback", w.Body, err)
				}
				e.checkUnchanged(t, id, before)
			})
		}
	}
	// Checkout.com's account-level URL names the payment from the body: an
	// unreadable one is a 400 too, not a 404.
	for _, b := range bodies {
		t.Run("cko account/"+b.name, func(t *testing.T) {
			if w := e.post("/notify/cko", "application/json", b.body); w.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", w.Code, w.Body)
			}
		})
	}
}

// TestNotifyReadable is the control: the same route accepts a readable
// notification on every gateway.
func TestNotifyReadable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bodies := map[string][2]string{
		upay.GatewayName:  {"application/x-www-form-urlencoded", "track_id=1&result=CAPTURED"},
		cko.GatewayName:   {"application/json", `{"id":"evt_1","type":"payment_captured","data":{"id":"pay_x"}}`},
		kupay.GatewayName: {"application/json", `{"payment_id":"1","status":"paid"}`},
	}
	for gw, b := range bodies {
		if w := e.post("/notify/"+gw+"/"+e.payments[gw], b[0], b[1]); w.Code != http.StatusOK {
			t.Errorf("%s: status %d, want 200: %s", gw, w.Code, w.Body)
		}
	}
}

type snapshot struct {
	version int64
	status  checkout.Status
	events  int
}

func (e *env) snapshot(t *testing.T, id string) snapshot {
	t.Helper()
	ctx := context.Background()
	p, err := e.db.Payment(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := e.db.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return snapshot{p.Version, p.Status, len(evs)}
}

// checkUnchanged: same version and status, and at most one new event, a
// notification event recording the error.
func (e *env) checkUnchanged(t *testing.T, id string, before snapshot) {
	t.Helper()
	ctx := context.Background()
	p, err := e.db.Payment(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != before.version || p.Status != before.status {
		t.Errorf("payment changed: version %d → %d, status %s → %s", before.version, p.Version, before.status, p.Status)
	}
	evs, err := e.db.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	added := evs[before.events:]
	if len(added) > 1 {
		t.Fatalf("%d events written, want at most 1", len(added))
	}
	for _, ev := range added {
		if ev.Kind != checkout.EventNotification || !strings.Contains(string(ev.Detail), `"error"`) {
			t.Errorf("event %s %s, want a notification recording the error", ev.Kind, ev.Detail)
		}
	}
}
