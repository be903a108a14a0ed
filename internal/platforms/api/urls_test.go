package api_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"

	"paybridge/internal/checkout"
	"paybridge/internal/jobs"
	"paybridge/internal/platforms/api"
	"paybridge/internal/secrets"
	"paybridge/internal/server"
	"paybridge/internal/store"
	"paybridge/internal/upay"
	"paybridge/internal/upay/upaytest"
)

// TestCreateRefusesPrivateURLs: through the API of a production bridge
// (AllowInsecureURLs off), a payment whose callback_url, return_url or
// cancel_url reaches this machine or a private network, in any numeric
// form or by a name, is a 422 on that field at create time, and nothing is
// created; a public address is accepted (201).
func TestCreateRefusesPrivateURLs(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.TestMode)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
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
	sim := upaytest.NewServer()
	t.Cleanup(sim.Close)

	svc := checkout.NewService(db, q, checkout.Config{PublicURL: "https://bridge.example"})
	svc.RegisterGateway(upay.New(upay.Config{SandboxURL: sim.APIBase()}))
	apiKey, whsec := api.NewCredentials()
	shop := &checkout.Shop{ID: checkout.NewID("shop"), Name: "API shop", Platform: checkout.PlatformAPI,
		Gateway:    checkout.GatewayAccount{Gateway: upay.GatewayName, Sandbox: true, Credentials: map[string]string{"api_key": upaytest.DefaultKey}},
		APIKeyHash: api.HashAPIKey(apiKey), WebhookSecret: whsec, CreatedAt: time.Now()}
	if err := db.CreateShop(ctx, shop); err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Config{})
	srv.Mount(api.New(svc, db))

	create := func(order, field, u string) *httptest.ResponseRecorder {
		body := map[string]any{"order_id": order, "amount": "1.000", "currency": "KWD",
			"customer": map[string]string{"name": "A", "email": "a@example.com"}, field: u}
		b, _ := json.Marshal(body)
		req := httptest.NewRequest(http.MethodPost, "/api/v1/payments", strings.NewReader(string(b)))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, req)
		return w
	}
	host, _ := os.Hostname() // resolves to loopback or a private address, or not at all
	bad := []string{"https://0x7f000001:8443/cb", "https://2130706433:8443/cb", "https://127.1:8443/cb", "https://0177.0.0.1/cb",
		"https://[::1]/cb", "https://[::ffff:127.0.0.1]/cb", "https://169.254.169.254/latest", "https://localhost/cb",
		"https://nothing-here.invalid/cb", "https://" + host + ":8443/cb"}
	for i, u := range bad {
		for _, field := range []string{"callback_url", "return_url", "cancel_url"} {
			order := "o-" + field + "-" + string(rune('a'+i))
			w := create(order, field, u)
			var doc struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			json.Unmarshal(w.Body.Bytes(), &doc)
			if w.Code != http.StatusUnprocessableEntity || doc.Error.Code != "invalid_field" || !strings.Contains(doc.Error.Message, field) {
				t.Errorf("%s=%s: %d %s, want 422 invalid_field on %s", field, u, w.Code, w.Body, field)
			}
			if _, err := db.PaymentByOrder(ctx, shop.ID, order); err == nil {
				t.Errorf("%s=%s: a payment was stored", field, u)
			}
		}
	}
	if w := create("o-public", "callback_url", "https://93.184.216.34/cb"); w.Code != http.StatusCreated {
		t.Errorf("public address: %d %s, want 201", w.Code, w.Body)
	}
}
