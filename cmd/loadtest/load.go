package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// newClient is the load's HTTP client: keep-alive connections for every
// concurrent client, so the load generator does not open new ones.
func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: conns + 16, MaxIdleConnsPerHost: conns + 16,
			IdleConnTimeout: 30 * time.Second, ResponseHeaderTimeout: 30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// request is one request a load sends: it returns the HTTP status.
type request func(ctx context.Context, c *http.Client, i int) (int, error)

// runStats is what one run of a load measured.
type runStats struct {
	ok, failed int
	elapsed    time.Duration
	latencies  []time.Duration // of the successful requests
	firstErr   string
}

func (s runStats) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.ok) / s.elapsed.Seconds()
}

func (s runStats) quantile(q float64) time.Duration { return quantile(s.latencies, q) }

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// collector gathers the outcomes of a run's requests.
type collector struct {
	mu sync.Mutex
	s  runStats
}

func (c *collector) add(code int, err error, took time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil && code >= 200 && code < 300 {
		c.s.ok++
		c.s.latencies = append(c.s.latencies, took)
		return
	}
	c.s.failed++
	if c.s.firstErr == "" {
		if err != nil {
			c.s.firstErr = err.Error()
		} else {
			c.s.firstErr = fmt.Sprintf("HTTP %d", code)
		}
	}
}

// closedLoop runs clients goroutines, each sending a request as soon as
// the previous one is answered, until d has passed or max requests were
// sent.
func closedLoop(ctx context.Context, c *http.Client, clients int, d time.Duration, max int, req request) runStats {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var col collector
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(n.Add(1))
				if i > max {
					return
				}
				t0 := time.Now()
				code, err := req(ctx, c, i)
				if ctx.Err() != nil && err != nil {
					return // cut off by the end of the run, not a failure
				}
				col.add(code, err, time.Since(t0))
			}
		})
	}
	wg.Wait()
	col.s.elapsed = time.Since(start)
	return col.s
}

// openLoop starts requests at a steady rate for d (at most max, and at
// most inFlight at once: a request that would exceed it is counted as
// failed), and waits for them.
func openLoop(ctx context.Context, c *http.Client, rate int, d time.Duration, max, inFlight int, req request) runStats {
	var col collector
	var wg sync.WaitGroup
	sem := make(chan struct{}, inFlight)
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	total := min(max, int(d/interval))
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			select {
			case <-time.After(w):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		default:
			col.add(0, fmt.Errorf("more than %d requests in flight", inFlight), 0)
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			t0 := time.Now()
			code, err := req(ctx, c, i+1)
			col.add(code, err, time.Since(t0))
		})
	}
	wg.Wait()
	col.s.elapsed = time.Since(start)
	return col.s
}

// do sends a request and reads the whole answer, decoding JSON into out
// when out is not nil and the answer is a success.
func do(ctx context.Context, c *http.Client, method, url, key, contentType string, body []byte, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %d non-JSON answer: %w", method, url, resp.StatusCode, err)
		}
	}
	return resp.StatusCode, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
