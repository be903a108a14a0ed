package woocommerce_test

import (
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/cko"
	"paybridge/internal/cko/ckotest"
	"paybridge/internal/kupay"
	"paybridge/internal/kupay/kupaytest"
	"paybridge/internal/platforms/woocommerce"
	"paybridge/internal/upay/upaytest"
)

// TestConnectionCheck: the core asks the gateway (UPayments by its
// account's methods, Checkout.com and KuPay by the status of a reference
// none issued) and the store (a GET of its REST API with the shop's
// consumer key), and tells a refusal from an outage.
func TestConnectionCheck(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "sqlite:"+filepath.Join(t.TempDir(), "bridge.db"), "")
	e.connect()
	ctx := t.Context()
	with := func(gateway string, creds map[string]string) *checkout.Shop {
		s := *e.shop
		s.Gateway = checkout.GatewayAccount{Gateway: gateway, Sandbox: true, Credentials: creds}
		return &s
	}
	withSecret := func(secret string) *checkout.Shop {
		s := *e.shop
		s.Secrets = maps.Clone(s.Secrets)
		s.Secrets[woocommerce.SecretConsumerSecret] = secret
		return &s
	}
	ckoCreds := func(key string) map[string]string {
		return map[string]string{cko.CredSecretKey: key, cko.CredProcessingChannel: ckotest.DefaultProcessingChannel, cko.CredWebhookKey: ckotest.DefaultWebhookKey}
	}
	type want struct {
		gateway, store checkout.CheckOutcome
		status         int
		detail         string
	}
	for _, tc := range []struct {
		name string
		shop *checkout.Shop
		want want
	}{
		{"upay", with("upay", map[string]string{"api_key": upaytest.DefaultKey}), want{checkout.CheckOK, checkout.CheckOK, 0, ""}},
		{"upay wrong key", with("upay", map[string]string{"api_key": "nope"}), want{checkout.CheckRefused, checkout.CheckOK, 401, "API key rejected"}},
		{"upay no key", with("upay", map[string]string{}), want{checkout.CheckIncomplete, checkout.CheckOK, 0, "UPayments API key"}},
		{"cko", with("cko", ckoCreds(ckotest.DefaultSecretKey)), want{checkout.CheckOK, checkout.CheckOK, 404, "accepted"}},
		{"cko wrong key", with("cko", ckoCreds("sk_sbox_wrong")), want{checkout.CheckRefused, checkout.CheckOK, 401, ""}},
		{"kupay", with("kupay", map[string]string{kupay.CredToken: kupaytest.DefaultToken}), want{checkout.CheckOK, checkout.CheckOK, 404, "accepted"}},
		{"kupay wrong token", with("kupay", map[string]string{kupay.CredToken: "wrong"}), want{checkout.CheckRefused, checkout.CheckOK, 401, ""}},
		{"unknown gateway", with("nogw", nil), want{checkout.CheckFailed, checkout.CheckOK, 0, "nogw"}},
		{"store refuses", withSecret("cs_wrong"), want{checkout.CheckOK, checkout.CheckRefused, 0, ""}},
	} {
		got := e.svc.CheckConnection(ctx, tc.shop)
		if got.Gateway.Outcome != tc.want.gateway || got.Store.Outcome != tc.want.store ||
			(tc.want.status != 0 && got.Gateway.HTTPStatus != tc.want.status) || !strings.Contains(got.Gateway.Detail, tc.want.detail) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
		if strings.Contains(got.Gateway.Detail+got.Store.Detail, "cs_wrong") {
			t.Errorf("%s: a secret in the detail: %+v", tc.name, got)
		}
	}
	// UPayments caches what an account lists: a key revoked since the
	// last check is still seen, by the status probe.
	good := with("upay", map[string]string{"api_key": upaytest.DefaultKey})
	e.upay.FailNext("get-payment-status", http.StatusUnauthorized, `{"message":"Unauthorized"}`)
	if r := e.svc.CheckConnection(ctx, good); r.Gateway.Outcome != checkout.CheckRefused {
		t.Errorf("key revoked since the last check: %+v", r.Gateway)
	}
	e.upay.FailNext("check-payment-button-status", http.StatusServiceUnavailable, `{"message":"down"}`)
	if r := e.svc.CheckConnection(ctx, with("upay", map[string]string{"api_key": upaytest.DefaultKey + "-other"})); r.Gateway.Outcome != checkout.CheckUnreachable {
		t.Errorf("UPayments down: %+v", r.Gateway)
	}
	e.upay.FailNext("get-payment-status", http.StatusOK, `<html>whitelist your IP</html>`)
	if r := e.svc.CheckConnection(ctx, good); r.Gateway.Outcome != checkout.CheckOK || !strings.Contains(r.Gateway.Detail, "whitelist") {
		t.Errorf("an unreadable probe answer after the methods were read: %+v", r.Gateway)
	}
	if r := e.plat.CheckStore(ctx, withSecret("cs_wrong")); r.HTTPStatus != http.StatusUnauthorized || !strings.Contains(r.Detail, "connect the store again") {
		t.Errorf("refused store: %+v", r)
	}
	// A store that is down is not a refusal.
	e.wc.SetDown(time.Minute)
	if r := e.plat.CheckStore(ctx, e.shop); r.Outcome != checkout.CheckUnreachable || r.HTTPStatus != http.StatusServiceUnavailable {
		t.Errorf("store down: %+v", r)
	}
	e.wc.SetDown(0)
	// A shop still connecting has no keys to try.
	pending := *e.shop
	pending.Secrets = map[string]string{}
	if r := e.plat.CheckStore(ctx, &pending); r.Outcome != checkout.CheckIncomplete {
		t.Errorf("no keys: %+v", r)
	}
}
