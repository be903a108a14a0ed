package main

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"paybridge/internal/upay/upaytest"
)

// BenchmarkCreatePayment measures POST /api/v1/payments through the whole
// bridge (auth, validation, idempotency lookup, insert, UPayments charge on
// the simulator over loopback, audit events) on each backend, 8 clients at
// once. Run:
//
//	go test ./cmd/bridge -run '^$' -bench CreatePayment -benchtime 2000x
func BenchmarkCreatePayment(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			br := startBridge(b, be)
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
			br := startBridge(b, be)
			b.ResetTimer()
			for i := range b.N {
				br.create(fmt.Sprintf("serial-%d", i), "12.345", "KWD")
			}
		})
	}
}
