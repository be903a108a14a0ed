// Package metrics holds paybridge's Prometheus collectors. Every package
// observes into these; internal/server exposes Registry at /metrics.
package metrics

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Registry holds every paybridge collector plus the Go and process ones.
var Registry = prometheus.NewRegistry()

var (
	// HTTPRequests counts served requests by method, route pattern and status.
	HTTPRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bridge_http_requests_total",
		Help: "HTTP requests served, by method, route pattern and status code.",
	}, []string{"method", "route", "status"})
	// HTTPDuration observes request latency by method and route pattern.
	HTTPDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "bridge_http_request_duration_seconds",
		Help:    "HTTP request latency, by method and route pattern.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route"})
	// JobOutcomes counts job runs by task type and outcome
	// ("ok", "retry", "archived").
	JobOutcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bridge_job_outcomes_total",
		Help: "Background job runs, by task type and outcome (ok, retry, archived).",
	}, []string{"task", "outcome"})
	// GatewayLatency observes gateway API calls by gateway, operation and
	// outcome ("ok", "error", "timeout").
	GatewayLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "bridge_gateway_request_duration_seconds",
		Help:    "Gateway API call latency, by gateway, operation and outcome.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 30},
	}, []string{"gateway", "op", "outcome"})
)

func init() {
	Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		HTTPRequests, HTTPDuration, JobOutcomes, GatewayLatency,
	)
}

// ObserveGateway records one gateway call that started at start.
func ObserveGateway(gateway, op string, start time.Time, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
		if errors.Is(err, context.DeadlineExceeded) {
			outcome = "timeout"
		}
	}
	GatewayLatency.WithLabelValues(gateway, op, outcome).Observe(time.Since(start).Seconds())
}

// StatusCounter counts payments by status; the store implements it.
type StatusCounter interface {
	CountPaymentsByStatus(ctx context.Context) (map[string]int64, error)
}

var (
	statesOnce sync.Once
	states     = &paymentStates{desc: prometheus.NewDesc(
		"bridge_payments", "Payments in the database, by status.", []string{"status"}, nil)}
)

// RegisterPaymentStates exposes bridge_payments{status=…}, read from c at
// scrape time (bounded by a 2 s timeout). A later call replaces c.
func RegisterPaymentStates(c StatusCounter) {
	states.c.Store(&c)
	statesOnce.Do(func() { Registry.MustRegister(states) })
}

type paymentStates struct {
	c    atomic.Pointer[StatusCounter]
	desc *prometheus.Desc
}

func (p *paymentStates) Describe(ch chan<- *prometheus.Desc) { ch <- p.desc }

func (p *paymentStates) Collect(ch chan<- prometheus.Metric) {
	c := p.c.Load()
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := (*c).CountPaymentsByStatus(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(p.desc, err)
		return
	}
	for status, n := range counts {
		ch <- prometheus.MustNewConstMetric(p.desc, prometheus.GaugeValue, float64(n), status)
	}
}
