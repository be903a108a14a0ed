package main

import (
	"net/url"
	"strings"
	"testing"

	"paybridge/internal/cko/ckotest"
	"paybridge/internal/kupay/kupaytest"
	"paybridge/internal/upay/upaytest"
)

// Outcomes a shopper produces on a gateway page, in the scenarios' words.
const (
	outPaid     = "paid"
	outFailed   = "failed"
	outCanceled = "canceled"
)

// gatewayDriver is how the end-to-end scenarios, written once, drive one
// gateway's simulator: the scenarios create payments through the bridge's
// API and play the shopper and the gateway through this.
type gatewayDriver interface {
	// name is the adapter name (`--gateway`).
	name() string
	// start starts the simulator and points the bridge's environment at it;
	// b.base is known.
	start(t testing.TB, b *bridge)
	// shopFlags are the credential flags of `shops add`, as flag, value pairs.
	shopFlags() []string
	// method is a payment method the gateway takes, "" when it takes none.
	method() string
	// pagePrefix is where the bridge's /pay redirect must lead.
	pagePrefix() string
	// amount turns a scenario amount written in KWD ("12.345") into one this
	// gateway can charge exactly, and its currency.
	amount(kwd string) (amount, currency string)
	// charged is how amount appears in the gateway's last create request.
	charged(amount string) string
	// lastCreate is the body of the last create request the gateway received.
	lastCreate(t testing.TB) []byte
	// creates counts the create requests the gateway received.
	creates() int
	// complete is the shopper's pick on the page (an out* outcome); it
	// returns where the gateway sends the browser.
	complete(t testing.TB, ref, outcome string) string
	// setTruth changes what the gateway's status API says, silently.
	setTruth(t testing.TB, ref, outcome string)
	// notifications: drop them all, or send each times times.
	setNotify(drop bool, times int)
	// wait blocks until notifications in flight are done.
	wait()
	// lastNotifyStatus is what the bridge answered the last notification
	// (0: it did not answer).
	lastNotifyStatus() int
	// forgePaid sends a notification claiming the payment is paid, as
	// an attacker could, and returns the bridge's answer and whether it
	// can be recorded as a claim (false when the gateway signs and the
	// signature is refused).
	forgePaid(t testing.TB, b *bridge, id, ref string) (status int, claim bool)
	// forgedReturnQuery is the query a forged browser return carries.
	forgedReturnQuery(ref string) string
	// notifyOther sends a well-formed notification to payment id naming
	// another (paid) transaction, otherRef.
	notifyOther(t testing.TB, b *bridge, id, otherRef string)
}

// zeroOf returns the zero amount written like amount ("0.000").
func zeroOf(amount string) string {
	if _, frac, ok := strings.Cut(amount, "."); ok {
		return "0." + strings.Repeat("0", len(frac))
	}
	return "0"
}

// --- UPayments ---

type upayDriver struct{ srv *upaytest.Server }

func (upayDriver) method() string { return "knet" }

func (d *upayDriver) name() string { return "upay" }
func (d *upayDriver) start(t testing.TB, b *bridge) {
	d.srv = upaytest.NewServer()
	b.sim = d.srv
	t.Cleanup(d.srv.Close)
	b.env["UPAY_SANDBOX_URL"] = d.srv.APIBase()
}
func (d *upayDriver) shopFlags() []string { return []string{"--gateway-key", upaytest.DefaultKey} }
func (d *upayDriver) pagePrefix() string  { return d.srv.URL + "/pay/" }
func (d *upayDriver) amount(kwd string) (string, string) {
	return kwd, "KWD"
}
func (d *upayDriver) charged(amount string) string { return `"amount":` + amount }
func (d *upayDriver) lastCreate(t testing.TB) []byte {
	c := d.srv.Charges()
	if len(c) == 0 {
		t.Fatal("no charge reached UPayments")
	}
	return c[len(c)-1]
}
func (d *upayDriver) creates() int { return len(d.srv.Charges()) }
func (d *upayDriver) complete(t testing.TB, ref, outcome string) string {
	ret, err := d.srv.Complete(ref, map[string]string{outPaid: upaytest.Captured, outFailed: upaytest.NotCaptured, outCanceled: upaytest.Canceled}[outcome])
	if err != nil {
		t.Fatal(err)
	}
	return ret
}
func (d *upayDriver) setTruth(t testing.TB, ref, outcome string) {
	if err := d.srv.SetResult(ref, map[string]string{outPaid: upaytest.Captured, outFailed: upaytest.NotCaptured, outCanceled: upaytest.Canceled}[outcome]); err != nil {
		t.Fatal(err)
	}
}
func (d *upayDriver) setNotify(drop bool, times int) {
	d.srv.SetNotifyPolicy(upaytest.NotifyPolicy{Drop: drop, Times: times})
}
func (d *upayDriver) wait() { d.srv.Wait() }
func (d *upayDriver) lastNotifyStatus() int {
	n := d.srv.Notifications()
	return n[len(n)-1].Status
}
func (d *upayDriver) forgePaid(t testing.TB, b *bridge, id, ref string) (int, bool) {
	code, err := d.srv.ForgeNotification(notifyURL(b, id), d.paidFields(id, ref))
	if err != nil {
		t.Fatal(err)
	}
	return code, true
}
func (d *upayDriver) paidFields(id, ref string) url.Values {
	return form("payment_id", "100", "result", "CAPTURED", "track_id", ref, "order_id", id, "requested_order_id", id)
}
func (d *upayDriver) forgedReturnQuery(ref string) string {
	return d.paidFields("", ref).Encode()
}
func (d *upayDriver) notifyOther(t testing.TB, b *bridge, id, otherRef string) {
	d.srv.ForgeNotification(notifyURL(b, id), form("result", "CAPTURED", "track_id", otherRef))
}

// --- Checkout.com KNET ---

type ckoDriver struct{ srv *ckotest.Server }

func (ckoDriver) method() string { return "knet" }

func (d *ckoDriver) name() string { return "cko" }
func (d *ckoDriver) start(t testing.TB, b *bridge) {
	d.srv = ckotest.NewServer()
	t.Cleanup(d.srv.Close)
	// The account's webhook workflow posts to the bridge's notify route.
	base := b.base
	d.srv.SetWebhookURL(func(_, reference string) string { return base + "/notify/cko/" + reference })
	b.env["CKO_SANDBOX_URL"] = d.srv.URL
}
func (d *ckoDriver) shopFlags() []string {
	return []string{"--cko-secret-key", ckotest.DefaultSecretKey, "--cko-processing-channel", ckotest.DefaultProcessingChannel,
		"--cko-webhook-key", ckotest.DefaultWebhookKey}
}
func (d *ckoDriver) pagePrefix() string { return d.srv.URL + "/knet/" }

// amount keeps KWD and ends the amount in 0, as Checkout.com needs.
func (d *ckoDriver) amount(kwd string) (string, string) {
	return kwd[:len(kwd)-1] + "0", "KWD"
}
func (d *ckoDriver) charged(amount string) string {
	return `"amount":` + strings.TrimLeft(strings.ReplaceAll(amount, ".", ""), "0")
}
func (d *ckoDriver) lastCreate(t testing.TB) []byte {
	c := d.srv.Requests("POST /payments")
	if len(c) == 0 {
		t.Fatal("no payment request reached Checkout.com")
	}
	return c[len(c)-1]
}
func (d *ckoDriver) creates() int { return len(d.srv.Requests("POST /payments")) }
func (d *ckoDriver) complete(t testing.TB, ref, outcome string) string {
	ret, err := d.srv.Complete(ref, map[string]string{outPaid: ckotest.Captured, outFailed: ckotest.Declined, outCanceled: ckotest.Canceled}[outcome])
	if err != nil {
		t.Fatal(err)
	}
	return ret
}
func (d *ckoDriver) setTruth(t testing.TB, ref, outcome string) {
	if err := d.srv.SetStatus(ref, map[string]string{outPaid: ckotest.Captured, outFailed: ckotest.Declined, outCanceled: ckotest.Canceled}[outcome]); err != nil {
		t.Fatal(err)
	}
}
func (d *ckoDriver) setNotify(drop bool, times int) {
	d.srv.SetNotifyPolicy(ckotest.NotifyPolicy{Drop: drop, Times: times})
}
func (d *ckoDriver) wait() { d.srv.Wait() }
func (d *ckoDriver) lastNotifyStatus() int {
	n := d.srv.Webhooks()
	return n[len(n)-1].Status
}

// forgePaid posts payment_captured signed with a key the attacker does not
// have: 401, and no claim is recorded.
func (d *ckoDriver) forgePaid(t testing.TB, b *bridge, id, ref string) (int, bool) {
	code, err := d.srv.ForgeWebhook(notifyURL(b, id), "payment_captured", ref, "not-the-webhook-key")
	if err != nil {
		t.Fatal(err)
	}
	return code, false
}
func (d *ckoDriver) forgedReturnQuery(string) string { return "cko-session-id=sid_forged" }

// notifyOther replays another payment's genuine, correctly signed webhook.
func (d *ckoDriver) notifyOther(t testing.TB, b *bridge, id, otherRef string) {
	if code, err := d.srv.ForgeWebhook(notifyURL(b, id), "payment_captured", otherRef, ckotest.DefaultWebhookKey); err != nil || code != 200 {
		t.Fatalf("replayed webhook: %d %v", code, err)
	}
}

// --- KuPay ---

type kupayDriver struct{ srv *kupaytest.Server }

func (kupayDriver) method() string { return "" }

func (d *kupayDriver) name() string { return "kupay" }
func (d *kupayDriver) start(t testing.TB, b *bridge) {
	d.srv = kupaytest.NewServer()
	t.Cleanup(d.srv.Close)
	b.env["KUPAY_URL"] = d.srv.URL
}
func (d *kupayDriver) shopFlags() []string { return []string{"--kupay-token", kupaytest.DefaultToken} }
func (d *kupayDriver) pagePrefix() string  { return d.srv.URL + "/pay/" }

// amount charges USD (KuPay takes no KWD): the KWD amount less its last digit.
func (d *kupayDriver) amount(kwd string) (string, string) { return kwd[:len(kwd)-1], "USD" }
func (d *kupayDriver) charged(amount string) string       { return `"amount":` + amount }
func (d *kupayDriver) lastCreate(t testing.TB) []byte {
	c := d.srv.Requests("create")
	if len(c) == 0 {
		t.Fatal("no create request reached KuPay")
	}
	return c[len(c)-1]
}
func (d *kupayDriver) creates() int { return len(d.srv.Requests("create")) }
func (d *kupayDriver) complete(t testing.TB, ref, outcome string) string {
	ret, err := d.srv.Complete(ref, map[string]string{outPaid: kupaytest.Paid, outFailed: kupaytest.Failure, outCanceled: kupaytest.Cancelled}[outcome])
	if err != nil {
		t.Fatal(err)
	}
	return ret
}
func (d *kupayDriver) setTruth(t testing.TB, ref, outcome string) {
	if err := d.srv.SetStatus(ref, map[string]string{outPaid: kupaytest.Paid, outFailed: kupaytest.Failure, outCanceled: kupaytest.Cancelled}[outcome]); err != nil {
		t.Fatal(err)
	}
}
func (d *kupayDriver) setNotify(drop bool, times int) {
	d.srv.SetNotifyPolicy(kupaytest.NotifyPolicy{Drop: drop, Times: times})
}
func (d *kupayDriver) wait() { d.srv.Wait() }
func (d *kupayDriver) lastNotifyStatus() int {
	n := d.srv.Callbacks()
	return n[len(n)-1].Status
}
func (d *kupayDriver) forgePaid(t testing.TB, b *bridge, id, ref string) (int, bool) {
	code, err := d.srv.ForgeCallback(notifyURL(b, id), form("payment_id", ref, "status", "paid"))
	if err != nil {
		t.Fatal(err)
	}
	return code, true
}
func (d *kupayDriver) forgedReturnQuery(ref string) string {
	return form("payment_id", ref, "status", "paid").Encode()
}
func (d *kupayDriver) notifyOther(t testing.TB, b *bridge, id, otherRef string) {
	d.srv.ForgeCallback(notifyURL(b, id), form("payment_id", otherRef, "status", "paid"))
}
