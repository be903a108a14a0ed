package jobs

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
)

// Task types. The payloads are JSON objects holding ids only.
const (
	// TypeConfirm asks the gateway for a payment's status and applies it.
	// Payload: {"payment_id"}.
	TypeConfirm = "payment:confirm"
	// TypeSync pushes a payment's final state, or a refund's when refund_id
	// is set, to the store. Payload: {"payment_id","refund_id"?}.
	TypeSync = "store:sync"
	// TypeRefund submits a refund to the gateway and follows it up.
	// Payload: {"refund_id"}.
	TypeRefund = "refund:process"
	// TypeReconcile re-checks open payments, expires old ones and
	// re-enqueues stuck work. Payload: {}.
	TypeReconcile = "payments:reconcile"
)

// Queue names and their weights: a worker picks from critical six times as
// often as from low, but every queue is served (asynq's weighted, not strict,
// priority).
const (
	// QueueCritical carries confirmations: a shopper may be waiting.
	QueueCritical = "critical"
	// QueueDefault carries store syncs and refunds.
	QueueDefault = "default"
	// QueueLow carries the reconciler.
	QueueLow = "low"
)

// queueWeights is the asynq.Config.Queues map.
var queueWeights = map[string]int{QueueCritical: 6, QueueDefault: 3, QueueLow: 1}

// Queues lists every queue this package uses, most urgent first.
var Queues = []string{QueueCritical, QueueDefault, QueueLow}

// Handler time limits per task type. The core bounds its own calls more
// tightly; these only stop a stuck handler from holding a worker slot.
const (
	confirmTimeout   = time.Minute
	syncTimeout      = 2 * time.Minute
	refundTimeout    = 2 * time.Minute
	reconcileTimeout = 5 * time.Minute
)

// Payload is the JSON body of every task. Each type uses a subset.
type Payload struct {
	PaymentID string `json:"payment_id,omitempty"`
	RefundID  string `json:"refund_id,omitempty"`
}

// decodePayload reads a task payload. An empty payload is an empty Payload.
func decodePayload(b []byte) (Payload, error) {
	var p Payload
	if len(b) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("decode payload: %w", err)
	}
	return p, nil
}

func mustJSON(p Payload) []byte {
	b, err := json.Marshal(p)
	if err != nil { // a struct of two strings always marshals
		panic(err)
	}
	return b
}

// syncTaskID is the task id of a store sync: one per payment, or per refund.
func syncTaskID(paymentID, refundID string) string {
	if refundID == "" {
		return "sync:" + paymentID
	}
	return "sync:" + paymentID + ":" + refundID
}

// refundTaskID is the task id of a refund's processing.
func refundTaskID(refundID string) string { return "refund:" + refundID }

// reconcileTaskID names the reconcile task of the period starting at start.
func reconcileTaskID(start time.Time) string {
	return "reconcile:" + strconv.FormatInt(start.Unix(), 10)
}

func newConfirmTask(paymentID string, cfg *Config) *asynq.Task {
	return asynq.NewTask(TypeConfirm, mustJSON(Payload{PaymentID: paymentID}),
		asynq.Queue(QueueCritical), asynq.MaxRetry(cfg.ConfirmMaxRetry), asynq.Timeout(confirmTimeout))
}

func newSyncTask(paymentID, refundID string, cfg *Config) *asynq.Task {
	return asynq.NewTask(TypeSync, mustJSON(Payload{PaymentID: paymentID, RefundID: refundID}),
		asynq.Queue(QueueDefault), asynq.MaxRetry(cfg.SyncMaxRetry), asynq.Timeout(syncTimeout),
		asynq.TaskID(syncTaskID(paymentID, refundID)))
}

func newRefundTask(refundID string, cfg *Config) *asynq.Task {
	return asynq.NewTask(TypeRefund, mustJSON(Payload{RefundID: refundID}),
		asynq.Queue(QueueDefault), asynq.MaxRetry(cfg.RefundMaxRetry), asynq.Timeout(refundTimeout),
		asynq.TaskID(refundTaskID(refundID)))
}

// newReconcileTask is the reconcile task of the period starting at start.
// It is never retried (the next period is the retry), and it is kept as
// completed for two periods so that its task id still blocks a late
// scheduler of the same period (see Worker.schedule).
func newReconcileTask(start time.Time, cfg *Config) *asynq.Task {
	return asynq.NewTask(TypeReconcile, []byte("{}"),
		asynq.Queue(QueueLow), asynq.MaxRetry(0), asynq.Timeout(reconcileTimeout),
		asynq.TaskID(reconcileTaskID(start)), asynq.Retention(2*cfg.ReconcileInterval))
}
