package upay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/upay/upaytest"
)

func newSim(t *testing.T) (*upaytest.Server, *Client) {
	t.Helper()
	srv := upaytest.NewServer()
	t.Cleanup(srv.Close)
	return srv, &Client{BaseURL: srv.APIBase(), APIKey: upaytest.DefaultKey, Timeout: 5 * time.Second}
}

// seedCharge is seed 000's request with every field filled, in KWD 12.345.
func seedCharge() ChargeRequest {
	return ChargeRequest{
		Products: []Product{
			{Name: "Logitech K380", Description: "Keyboard", Price: "10.000", Quantity: 1},
			{Name: "Logitech M171", Description: "Mouse", Price: "2.345", Quantity: 1},
		},
		Order: Order{ID: "202210101255255144669", Reference: "11111991", Description: "Purchase order",
			Currency: "KWD", Amount: "12.345"},
		Reference:         Reference{ID: "202210101202210101"},
		Customer:          Customer{UniqueID: "2129879kjbljg767881", Name: "Jhon Smith", Email: "jhon@example.com", Mobile: "+96512345678"},
		CustomerExtraData: "udf-1",
		Tokens:            Tokens{KFast: "kf", CreditCard: "cc-tok", CustomerUniqueToken: "90908986"},
		PaymentGateway:    &PaymentGateway{Src: "knet"},
		Language:          "en",
		ExtraMerchantData: []ExtraMerchant{{Amount: "12.345", KnetCharge: "5", KnetChargeType: "fixed", CCCharge: "10", CCChargeType: "percentage", IBANNumber: "KW91KFHO0000000000051010173254"}},
		Plugin:            &Plugin{Src: "paybridge"},
		IsSaveCard:        true,
		ReturnURL:         "https://shop.example/return",
		CancelURL:         "https://shop.example/cancel",
		NotificationURL:   "https://shop.example/notify",
	}
}

func TestClientEndpoints(t *testing.T) {
	srv, c := newSim(t)
	ctx := context.Background()

	if _, err := c.CreateCustomerUniqueToken(ctx, "90908986"); err != nil {
		t.Fatalf("CreateCustomerUniqueToken: %v", err)
	}
	res, err := c.Charge(ctx, seedCharge())
	if err != nil {
		t.Fatalf("Charge: %v", err)
	}
	if res.TrackID == "" || !strings.HasPrefix(res.Link, srv.URL+"/pay/") {
		t.Fatalf("Charge result = %+v", res)
	}
	raw := srv.Charges()[0]
	for _, want := range []string{`"amount":12.345`, `"price":2.345`, `"customerUniqueToken":90908986`,
		`"extraMerchantData":[{"amount":12.345,"knetCharge":5,`, `"tokens":{"kFast":"kf","creditCard":"cc-tok"`,
		`"paymentGateway":{"src":"knet"}`, `"plugin":{"src":"paybridge"}`, `"isSaveCard":true`, `"customerExtraData":"udf-1"`} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("charge body lacks %s:\n%s", want, raw)
		}
	}

	tx, err := c.PaymentStatus(ctx, res.TrackID)
	if err != nil {
		t.Fatalf("PaymentStatus: %v", err)
	}
	if tx.Result != "" || tx.PaymentID != "" || tx.TotalPrice != "12.345" || tx.CurrencyType != "KWD" ||
		tx.MerchantRequestedOrderID != "202210101255255144669" || tx.TrackID != res.TrackID {
		t.Fatalf("status before payment = %+v", tx)
	}
	if _, err := srv.Complete(res.TrackID, upaytest.Captured); err != nil {
		t.Fatal(err)
	}
	tx, err = c.PaymentStatus(ctx, res.TrackID)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := tx.Amount(); err != nil || m != (checkout.Money{Minor: 12345, Currency: "KWD"}) || tx.Result != "CAPTURED" || tx.PaymentID == "" {
		t.Fatalf("status after payment = %+v (%v, %v)", tx, m, err)
	}

	rf, err := c.CreateRefund(ctx, RefundRequest{OrderID: tx.RefundOrderID, TotalPrice: "2.345", Reference: "r1"})
	if err != nil {
		t.Fatalf("CreateRefund: %v", err)
	}
	if rf.RefundOrderID == "" || rf.OrderID != tx.OrderID {
		t.Fatalf("refund = %+v", rf)
	}
	rs, err := c.CheckRefundStatus(ctx, rf.RefundOrderID)
	if err != nil || !rs.IsRefunded {
		t.Fatalf("CheckRefundStatus = %+v, %v", rs, err)
	}

	// Saved cards: the charge above had isSaveCard and was captured.
	cards, err := c.RetrieveCustomerCards(ctx, "90908986")
	if err != nil || len(cards) != 1 || cards[0].Token == "" {
		t.Fatalf("RetrieveCustomerCards = %+v, %v", cards, err)
	}
	link, err := c.AddCard(ctx, "90908986", "https://shop.example/cards")
	if err != nil || !strings.HasPrefix(link, srv.URL+"/my-cards?session_id=") {
		t.Fatalf("AddCard = %q, %v", link, err)
	}
	if _, err := c.RemoveCard(ctx, cards[0].Token); err != nil {
		t.Fatalf("RemoveCard: %v", err)
	}
	if cards, _ := c.RetrieveCustomerCards(ctx, "90908986"); len(cards) != 0 {
		t.Fatalf("card not removed: %+v", cards)
	}
	if _, err := c.RemoveCard(ctx, "nope"); !isHTTP(err, 422) {
		t.Fatalf("RemoveCard(unknown) = %v", err)
	}

	inv, err := c.CreateInvoice(ctx, ChargeRequest{Order: Order{ID: "inv-1", Description: "d", Currency: "KWD", Amount: "1.5"},
		Reference: Reference{ID: "r"}, Language: "en", NotificationType: "all",
		ReturnURL: "https://a", CancelURL: "https://b", NotificationURL: "https://c"})
	if err != nil || inv.URL == "" || inv.InvoiceID == "" || !inv.SMS || !inv.Email || !inv.Link {
		t.Fatalf("CreateInvoice = %+v, %v", inv, err)
	}
	if raw := srv.Charges()[1]; !bytes.Contains(raw, []byte(`"paymentGateway":{"src":"create-invoice"}`)) ||
		!bytes.Contains(raw, []byte(`"notificationType":"all"`)) {
		t.Fatalf("invoice body: %s", raw)
	}
}

func TestClientValidatesLocally(t *testing.T) {
	c := &Client{APIKey: "k", BaseURL: "http://127.0.0.1:1"}
	ctx := context.Background()
	for name, err := range map[string]error{
		"short token": func() error { _, err := c.CreateCustomerUniqueToken(ctx, "1234"); return err }(),
		"alpha token": func() error { _, err := c.RetrieveCustomerCards(ctx, "12345678a"); return err }(),
		"charge token": func() error {
			r := seedCharge()
			r.Tokens.CustomerUniqueToken = "x"
			_, err := c.Charge(ctx, r)
			return err
		}(),
		"invoice type": func() error {
			r := seedCharge()
			r.NotificationType = "fax"
			_, err := c.CreateInvoice(ctx, r)
			return err
		}(),
		"empty track":   func() error { _, err := c.PaymentStatus(ctx, ""); return err }(),
		"empty refund":  func() error { _, err := c.CreateRefund(ctx, RefundRequest{}); return err }(),
		"no key":        func() error { _, err := (&Client{}).PaymentStatus(ctx, "x"); return err }(),
		"empty card":    func() error { _, err := c.RemoveCard(ctx, ""); return err }(),
		"empty refund2": func() error { _, err := c.CheckRefundStatus(ctx, ""); return err }(),
	} {
		var ge *checkout.GatewayError
		if !errors.As(err, &ge) || ge.Temporary || ge.HTTPStatus != 0 {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestClientSigning(t *testing.T) {
	srv, c := newSim(t)
	srv.SetSecret("signed-key", "s3cret")
	c.APIKey, c.APISecret = "signed-key", "s3cret"
	ctx := context.Background()
	if _, err := c.Charge(ctx, seedCharge2("sig-1")); err != nil {
		t.Fatalf("signed charge: %v", err)
	}
	c.APISecret = "wrong"
	if _, err := c.Charge(ctx, seedCharge2("sig-2")); !isHTTP(err, 401) {
		t.Fatalf("badly signed charge: %v", err)
	}
	c.APISecret = "s3cret"
	c.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	if _, err := c.Charge(ctx, seedCharge2("sig-3")); !isHTTP(err, 401) {
		t.Fatalf("stale signed charge: %v", err)
	}
}

func TestSignKnownVector(t *testing.T) {
	// Base64(HMAC-SHA256("secret", "1700000000POSTcharge{}")), computed with
	// openssl: printf '1700000000POSTcharge{}' | openssl dgst -sha256 -hmac secret -binary | base64
	got := Sign("secret", "1700000000", "POST", "charge", []byte("{}"))
	if got != signVector {
		t.Fatalf("Sign = %s, want %s", got, signVector)
	}
}

func seedCharge2(orderID string) ChargeRequest {
	r := seedCharge()
	r.Order.ID = orderID
	r.Tokens = Tokens{}
	return r
}

func isHTTP(err error, code int) bool {
	var ge *checkout.GatewayError
	return errors.As(err, &ge) && ge.HTTPStatus == code
}

func TestErrorMapping(t *testing.T) {
	srv, c := newSim(t)
	long := strings.Repeat("x", 5000)
	whitelist, _ := os.ReadFile("testdata/whitelist.html")
	tests := []struct {
		name      string
		status    int
		body      string
		key       string
		wantHTTP  int
		temporary bool
		msg       []string
	}{
		{name: "401 wrong key", key: "nope", wantHTTP: 401, msg: []string{"API key rejected", "Unauthorized"}},
		{name: "401 injected", status: 401, body: `{"message":"Not a valid API request"}`, wantHTTP: 401, msg: []string{"API key rejected"}},
		{name: "403", status: 403, body: `{"message":"Forbidden"}`, wantHTTP: 403, msg: []string{"403"}},
		{name: "422", status: 422, body: `{"message":"The order.id field is required.","errors":["The order.id field is required.","The language field is required."]}`,
			wantHTTP: 422, msg: []string{"The order.id field is required.", "The language field is required."}},
		{name: "422 object errors", status: 422, body: `{"message":"Invalid","errors":{"order.amount":["must be numeric"]}}`,
			wantHTTP: 422, msg: []string{"Invalid", "order.amount: must be numeric"}},
		{name: "status false", status: 201, body: `{"status":false,"message":"Merchant is inactive"}`, wantHTTP: 201, msg: []string{"Merchant is inactive"}},
		{name: "status missing", status: 200, body: `{"message":"??"}`, wantHTTP: 200, msg: []string{"refused"}},
		{name: "non-JSON 200 (whitelist)", status: 200, body: string(whitelist), wantHTTP: 200, msg: []string{"non-JSON", "whitelist this server's IP"}},
		{name: "500", status: 500, body: `{"message":"Server Error"}`, wantHTTP: 500, temporary: true, msg: []string{"unavailable"}},
		{name: "502 html", status: 502, body: "<html>bad gateway</html>", wantHTTP: 502, temporary: true, msg: []string{"unavailable"}},
		{name: "500 long body", status: 500, body: long, wantHTTP: 500, temporary: true},
		{name: "429", status: 429, body: `{"message":"Too Many Attempts."}`, wantHTTP: 429, temporary: true, msg: []string{"rate limit"}},
		{name: "404", status: 404, body: `{"message":"Not Found"}`, wantHTTP: 404, msg: []string{"HTTP 404", "Not Found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := *c
			if tt.key != "" {
				cc.APIKey = tt.key
			}
			if tt.status != 0 {
				srv.FailNext("get-payment-status", tt.status, tt.body)
			}
			_, err := cc.PaymentStatus(context.Background(), "any")
			var ge *checkout.GatewayError
			if !errors.As(err, &ge) {
				t.Fatalf("err = %v, want *checkout.GatewayError", err)
			}
			if ge.HTTPStatus != tt.wantHTTP || ge.Temporary != tt.temporary || ge.Gateway != "upay" || ge.Op != "status" {
				t.Errorf("got %+v", ge)
			}
			for _, m := range tt.msg {
				if !strings.Contains(ge.Message, m) {
					t.Errorf("Message %q lacks %q", ge.Message, m)
				}
			}
			if len(err.Error()) > 1200 {
				t.Errorf("error not truncated: %d bytes", len(err.Error()))
			}
			if strings.Contains(err.Error(), cc.APIKey) {
				t.Errorf("error leaks the API key: %v", err)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(429)
	}))
	defer ts.Close()
	_, err := (&Client{BaseURL: ts.URL, APIKey: "k"}).PaymentStatus(context.Background(), "x")
	var ra *checkout.RetryAfterError
	if !errors.As(err, &ra) || ra.After != 7*time.Second {
		t.Fatalf("err = %v", err)
	}
}

func TestTimeoutAndConnectionErrors(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)

	start := time.Now()
	_, err := (&Client{BaseURL: slow.URL, APIKey: "k", Timeout: 150 * time.Millisecond}).PaymentStatus(context.Background(), "x")
	var ge *checkout.GatewayError
	if !errors.As(err, &ge) || !ge.Temporary || ge.HTTPStatus != 0 || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(ge.Message, "in time") {
		t.Fatalf("timeout err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timeout took %s", d)
	}

	// The caller's context deadline applies as well.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := (&Client{BaseURL: slow.URL, APIKey: "k"}).PaymentStatus(ctx, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ctx deadline err = %v", err)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	addr := closed.URL
	closed.Close()
	_, err = (&Client{BaseURL: addr, APIKey: "k", Timeout: time.Second}).PaymentStatus(context.Background(), "x")
	if !errors.As(err, &ge) || !ge.Temporary || ge.Message != "could not reach UPayments" {
		t.Fatalf("connection err = %v", err)
	}
}

// fixtureServer answers every request with a testdata file.
func fixtureServer(t *testing.T, file string) *Client {
	t.Helper()
	body, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(201)
		w.Write(body)
	}))
	t.Cleanup(ts.Close)
	return &Client{BaseURL: ts.URL, APIKey: "k"}
}

func TestFixtures(t *testing.T) {
	ctx := context.Background()
	tx, err := fixtureServer(t, "status_captured.json").PaymentStatus(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	if tx.TrackID != "20220647592811619337331833645" || tx.PaymentID != "100326010000027219" || !tx.NotifyURLCalled ||
		tx.RefundOrderID != "ME3OdxQ2Zkaf12" || tx.MerchantRequestedOrderID != "202210101255255144669" {
		t.Fatalf("tx = %+v", tx)
	}
	if m, err := tx.Amount(); err != nil || m.Minor != 10000 {
		t.Fatalf("amount = %v, %v", m, err)
	}

	tx, err = fixtureServer(t, "status_number_price.json").PaymentStatus(ctx, "x")
	if err != nil || tx.TotalPrice != "20.0000" {
		t.Fatalf("number price: %+v %v", tx, err)
	}
	if m, err := tx.Amount(); err != nil || m.Minor != 20000 {
		t.Fatalf("amount = %v, %v", m, err)
	}

	res, err := fixtureServer(t, "charge_transaction_data.json").Charge(ctx, seedCharge2("x"))
	if err != nil || res.Link != "https://sandbox.example/pay?session_id=42" || res.TrackID != "20220647592811619337331833645" {
		t.Fatalf("charge fallback: %+v %v", res, err)
	}
	if !json.Valid(res.Raw) {
		t.Fatal("raw not kept")
	}

	inv, err := fixtureServer(t, "invoice.json").CreateInvoice(ctx, seedCharge2("x"))
	if err != nil || inv.InvoiceID != "784" || inv.URL != "https://sandbox.example/invoice/784" {
		t.Fatalf("invoice: %+v %v", inv, err)
	}
}
