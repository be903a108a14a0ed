package checkout

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// casAttempts bounds how often a compare-and-set that lost to another
// writer is retried on a contended row.
const casAttempts = 30

// retryCAS runs step until it does not lose a compare-and-set, at most
// casAttempts times, with a jittered pause between attempts: the one retry
// policy of every write in the core. step reads what it changes (afresh when
// attempt > 0), decides, and writes it with one [Store.Apply]; it returns
// ErrConflict (wrapped or not) to be run again. Any other result, nil
// included, ends the loop. When every attempt lost, the error says what was
// being done and wraps ErrConflict.
func (s *Service) retryCAS(ctx context.Context, what string, step func(attempt int) error) error {
	for attempt := range casAttempts {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return err
			}
		}
		if err := step(attempt); !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("%s: %w", what, ErrConflict)
}

// backoff sleeps a jittered, growing pause before CAS retry n (≤ ~30 ms),
// so that writers racing for one row spread out instead of colliding again.
// It waits in real time whatever the Service's clock: it paces database
// writers, it is not business time.
func backoff(ctx context.Context, n int) error {
	d := time.Duration(1+rand.IntN(n+1)) * time.Millisecond
	t := time.NewTimer(min(d, 30*time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// updatePayment is the compare-and-set write of one payment: change edits
// p in place and returns the audit events that go with the edit, or none
// when there is nothing to write (then nothing is). After a lost race the
// row is read afresh and change runs again on it. p is the row as the
// caller last read it, or nil to read it first. It returns the payment as
// written (or as found, when nothing was).
func (s *Service) updatePayment(ctx context.Context, id string, p *Payment, what string, change func(p *Payment) ([]Event, error)) (*Payment, error) {
	began := time.Now()
	err := s.retryCAS(ctx, what+" "+id, func(attempt int) error {
		if p == nil || attempt > 0 {
			fresh, err := s.store.Payment(ctx, id)
			if err != nil {
				return err
			}
			p = fresh
		}
		evs, err := change(p)
		if err != nil || len(evs) == 0 {
			return err
		}
		p.UpdatedAt = s.now()
		if err := s.store.Apply(ctx, Change{Payment: p, Events: evs}); err != nil {
			return err
		}
		s.logTransitions(ctx, p, evs, time.Since(began))
		return nil
	})
	return p, err
}

// updateRefund is [Service.updatePayment] for one refund row.
func (s *Service) updateRefund(ctx context.Context, id string, r *Refund, what string, change func(r *Refund) ([]Event, error)) (*Refund, error) {
	err := s.retryCAS(ctx, what+" "+id, func(attempt int) error {
		if r == nil || attempt > 0 {
			fresh, err := s.store.Refund(ctx, id)
			if err != nil {
				return err
			}
			r = fresh
		}
		evs, err := change(r)
		if err != nil || len(evs) == 0 {
			return err
		}
		r.UpdatedAt = s.now()
		return s.store.Apply(ctx, Change{Refund: r, Events: evs})
	})
	return r, err
}
