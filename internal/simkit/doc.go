// Package simkit holds what paybridge's simulators of gateways and stores
// share, in the spirit of net/http/httptest: test support, importable by
// tests and by the binary's demo mode, never by production code paths.
//
//   - [Deliverer] sends notifications (webhooks, callbacks) the way a real
//     gateway or store does, under a [Policy]: drop them, repeat them, delay
//     them (on an injectable [clockwork.Clock]), or forge one as an attacker
//     would. Every attempt is logged as an [Attempt].
//   - [Faults] injects failures: "the next N calls to P answer status S".
//     A call picks one rule deterministically: the longest matching prefix
//     first, then the rule registered first.
//   - [Page] is the hosted payment page: one button per outcome, the form
//     POST, and the redirect back to the merchant.
//   - [RequestLog] keeps the raw bodies a simulator received, by route.
//   - [NewServer] starts a simulator that links to itself on its own
//     httptest.Server; [Random], [UUID], [WriteJSON] and [DecodeNumbers]
//     are the small pieces every simulator needs.
//
// Delays and timers run on a [clockwork.Clock], the real clock by default;
// a test that gives a simulator a [clockwork.FakeClock] moves time itself
// with Advance instead of sleeping.
package simkit
