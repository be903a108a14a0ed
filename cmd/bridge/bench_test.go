package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"paybridge/internal/upay/upaytest"
)

// benchEnv puts back the shipped defaults the test harness changes for
// determinism, where they bear on the creates measured.
var benchEnv = map[string]string{"BRIDGE_SHOP_REFRESH": "100ms"}

// BenchmarkCreatePayment measures POST /api/v1/payments through the whole
// bridge (auth, validation, idempotency lookup, insert, UPayments charge on
// the simulator over loopback, audit events) on each backend, 8 clients at
// once. Run:
//
//	go test ./cmd/bridge -run '^$' -bench CreatePayment -benchtime 2000x
func BenchmarkCreatePayment(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			br := startBridgeEnv(b, be, &upayDriver{}, benchEnv)
			var n atomic.Int64
			b.SetParallelism(4) // 4 × GOMAXPROCS clients
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					br.create(fmt.Sprintf("bench-%d", n.Add(1)), "12.345", "KWD")
				}
			})
		})
	}
}

// BenchmarkPayToPaid measures one shopper's whole payment, sequentially:
// create, pay URL, gateway page, CAPTURED, notification, confirmation with
// the gateway, until the API says paid. Its time is dominated by the queue's
// polling interval, which is what a shopper waiting on the return page sees
// when the notification wins the race. Run:
//
//	go test ./cmd/bridge -run '^$' -bench PayToPaid -benchtime 50x
func BenchmarkPayToPaid(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			br := startBridge(b, be)
			b.ResetTimer()
			for i := range b.N {
				p := br.create(fmt.Sprintf("p2p-%d", i), "1.000", "KWD")
				_, track := br.visit(p)
				if _, err := br.sim.Complete(track, upaytest.Captured); err != nil {
					b.Fatal(err)
				}
				br.waitStatus(p["id"].(string), "paid", 10*time.Second)
			}
		})
	}
}

// BenchmarkCreatePaymentSerial is BenchmarkCreatePayment one request at a
// time: its ns/op is a create's latency on an idle bridge. Run:
//
//	go test ./cmd/bridge -run '^$' -bench CreatePaymentSerial -benchtime 2000x
func BenchmarkCreatePaymentSerial(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			br := startBridgeEnv(b, be, &upayDriver{}, benchEnv)
			b.ResetTimer()
			for i := range b.N {
				br.create(fmt.Sprintf("serial-%d", i), "12.345", "KWD")
			}
		})
	}
}

// BenchmarkNotify measures POST /notify/upay/{id} (UPayments' notification
// form) from 8 clients, over payments created beforehand that the gateway
// has not settled: each notification is recorded, queued for confirmation
// and confirmed at once with the gateway, as in the load tool's P2. Run:
//
//	go test ./cmd/bridge -run '^$' -bench Notify -benchtime 4000x
func BenchmarkNotify(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			br := startBridgeEnv(b, be, &upayDriver{}, benchEnv)
			type pay struct{ id, ref string }
			pays := make([]pay, 500)
			for i := range pays {
				p := br.create(fmt.Sprintf("notify-%d", i), "1.000", "KWD")
				pays[i] = pay{p["id"].(string), p["gateway_reference"].(string)}
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			var n atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					p := pays[int(i)%len(pays)]
					form := url.Values{"payment_id": {strconv.FormatInt(100000+i, 10)}, "result": {upaytest.Captured},
						"track_id": {p.ref}, "order_id": {p.id}, "requested_order_id": {p.id}}
					resp, err := client.PostForm(br.base+"/notify/upay/"+p.id, form)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("notify: HTTP %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}
