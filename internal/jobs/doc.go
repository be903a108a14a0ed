// Package jobs carries paybridge's background work on asynq (Redis).
//
// The database is the outbox: every task here follows a committed write that
// records the need for it, and tasks carry ids only, never state. Losing the
// queue (an embedded server restarted, Redis flushed) therefore loses no
// payment: the periodic reconciler finds the rows that still need work and
// enqueues them again. Every handler in the core re-reads its row and does
// nothing when nothing is left to do, so running a task twice is harmless.
//
// A short tour:
//
//   - tasks.go: the four task types ([TypeConfirm], [TypeSync], [TypeRefund],
//     [TypeReconcile]), their JSON payloads and the queues they run on
//     ([QueueCritical], [QueueDefault], [QueueLow]).
//   - config.go: [Config] with its defaults and the retry ladders, and
//     [ParseDelays] for BRIDGE_SYNC_RETRY_DELAYS.
//   - queue.go: [Queue], the producer side; it implements checkout.Queue.
//     Duplicates are absorbed: a confirm is unique per payment for a few
//     seconds, a sync or refund has a task id derived from its row id.
//   - worker.go: [Worker], the consumer side, calling a [Core]. It chooses
//     the retry delay per task type, archives permanent errors at once
//     (asynq.SkipRetry), tells the core when a store sync gives up, and
//     (unless [Config.NoScheduler]) runs the reconciler trigger.
//   - embedded.go: [Embedded], an in-process Redis-compatible server for
//     running the whole bridge with no Redis.
//   - admin.go: [Admin], listing and replaying archived tasks.
package jobs
