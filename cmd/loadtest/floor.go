package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/secrets"
	pbstore "paybridge/internal/store"
	"paybridge/internal/upay"
	"paybridge/internal/upay/upaytest"
)

// floor is the baseline plus the one write a create must make before it
// answers: the bare Gin handler decodes the same order and makes the same
// single gateway call, then stores the payment and its two audit events
// with [pbstore.DB.Apply] — the bridge's own store package, on the
// bridge's own database — and answers like the baseline. It is what any
// correct bridge costs on this machine and this store; the distance from
// it to the bridge is the bridge's own overhead.
//
// On SQLite it opens the bridge's file itself (WAL: the two processes
// share it, each with its one writer connection; the busy timeout covers
// the rare overlap with the bridge's background writes, as the bridge's
// repetitions and the floor's never run at once). The same file rather
// than a sibling one, so that the floor's inserts pay what the bridge's
// pay: the same tables, indexes and triggers at the same size (P1 grows
// them by tens of thousands of rows), the same log and the same fsync on
// the same disk, and the shop the payments' foreign key names is there.
type floor struct {
	srv *http.Server
	db  *pbstore.DB
	url string
}

// floorLifetime is the expiry a UPayments payment gets (UPayments reports
// no page lifetime, so the core's default applies).
const floorLifetime = time.Hour

// floorStoreTimeout bounds the write, as the core bounds a create's
// (checkout's storeTimeout).
const floorStoreTimeout = 10 * time.Second

// startFloor opens the database at dsn (migrated already, by the bridge)
// and starts the floor's handler for shopID's payments. Close it with
// close.
func startFloor(ctx context.Context, gatewayAPI string, charge []byte, dsn, shopID string) (*floor, error) {
	key := make([]byte, secrets.KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	// Nothing this write stores is sealed; the store only requires a ring.
	kr, err := secrets.NewKeyring(key)
	if err != nil {
		return nil, err
	}
	db, err := pbstore.Open(ctx, dsn, kr)
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	client := newClient(256)
	e := orderHandler(func(c *gin.Context, order map[string]any) {
		p, err := floorPayment(order, shopID, time.Now())
		if err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		var raw json.RawMessage
		ctx, cancel := context.WithTimeout(c.Request.Context(), 15*time.Second)
		defer cancel()
		code, err := do(ctx, client, "POST", gatewayAPI+"/charge", upaytest.DefaultKey, "application/json", charge, &raw)
		var res struct {
			Data struct {
				Link    string `json:"link"`
				TrackID string `json:"trackId"`
			} `json:"data"`
		}
		if err == nil && code < 300 {
			err = json.Unmarshal(raw, &res)
		}
		if err != nil || code >= 300 {
			c.JSON(http.StatusBadGateway, gin.H{"error": fmt.Sprint(code, err)})
			return
		}
		p.GatewayRef, p.GatewayURL = res.Data.TrackID, res.Data.Link
		evs := []checkout.Event{
			{PaymentID: p.ID, At: p.CreatedAt, Kind: checkout.EventCreated, To: string(checkout.StatusCreated), Source: "api",
				Detail: floorDetail(map[string]any{"order_id": p.OrderID, "amount": p.Amount.String(), "currency": p.Amount.Currency, "gateway": p.Gateway})},
			{PaymentID: p.ID, Kind: checkout.EventChargeCreated, Source: "gateway",
				Detail: floorDetail(map[string]any{"ref": p.GatewayRef, "answer": raw})},
		}
		// Like the core: once the gateway has a charge it is recorded,
		// even if the client has gone.
		wctx, wcancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), floorStoreTimeout)
		defer wcancel()
		if err := db.Apply(wctx, checkout.Change{NewPayment: p, Events: evs}); err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusCreated, gin.H{"order_id": order["order_id"], "pay_url": res.Data.Link})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		db.Close()
		return nil, err
	}
	f := &floor{srv: &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}, db: db, url: "http://" + ln.Addr().String()}
	go f.srv.Serve(ln)
	return f, nil
}

// floorPayment is the payment a create stores for order, built as
// [checkout.Service.CreatePayment] builds it (before the gateway's
// answer sets its reference and page).
func floorPayment(order map[string]any, shopID string, now time.Time) (*checkout.Payment, error) {
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	orderID := str(order, "order_id")
	if orderID == "" {
		return nil, errors.New("order_id: required")
	}
	currency := str(order, "currency")
	amount, err := checkout.ParseMoney(str(order, "amount"), currency)
	if err != nil {
		return nil, fmt.Errorf("amount: %w", err)
	}
	cust, _ := order["customer"].(map[string]any)
	var products []checkout.Product
	lines, _ := order["products"].([]any)
	for i, l := range lines {
		line, _ := l.(map[string]any)
		price, err := checkout.ParseMoney(str(line, "price"), currency)
		if err != nil {
			return nil, fmt.Errorf("products[%d].price: %w", i, err)
		}
		qty, _ := line["quantity"].(float64)
		products = append(products, checkout.Product{Name: str(line, "name"), Price: price, Quantity: int(qty)})
	}
	p := &checkout.Payment{
		ID: checkout.NewID("pay"), ShopID: shopID, Platform: checkout.PlatformAPI, OrderID: orderID,
		Amount: amount, Refunded: checkout.Money{Currency: currency},
		Description: str(order, "description"), Language: str(order, "language"), PaymentMethod: str(order, "payment_method"),
		Customer: checkout.Customer{Name: str(cust, "name"), Email: str(cust, "email"), Mobile: str(cust, "mobile"), UniqueID: str(cust, "unique_id")},
		Products: products, ReturnURL: str(order, "return_url"), CancelURL: str(order, "cancel_url"), CallbackURL: str(order, "callback_url"),
		Status: checkout.StatusCreated, Gateway: upay.GatewayName, GatewayData: map[string]string{},
		ExpiresAt: now.Add(floorLifetime), CreatedAt: now, UpdatedAt: now,
	}
	p.GatewayOrderID = p.ID
	return p, nil
}

func floorDetail(d map[string]any) json.RawMessage {
	b, err := json.Marshal(d)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}

func (f *floor) req(merchant string) request {
	prefix := fmt.Sprintf("f%d-", runSeq.Add(1))
	return func(ctx context.Context, c *http.Client, i int) (int, error) {
		code, err := do(ctx, c, "POST", f.url+"/api/v1/payments", "", "application/json", orderBody(merchant, prefix+strconv.Itoa(i)), nil)
		if err == nil && code != http.StatusCreated {
			return code, fmt.Errorf("floor create: HTTP %d", code)
		}
		return code, err
	}
}

// close stops the handler, waiting for the requests in flight, then
// closes the database.
func (f *floor) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_ = f.srv.Shutdown(ctx)
	_ = f.db.Close()
}
