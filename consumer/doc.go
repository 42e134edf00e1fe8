// Package consumer runs a message handler over dynamodbqueue queues with a pool of workers,
// the way net/http runs a Handler over connections.
//
// # Model
//
// A Consumer polls one or more sources, each a (queue, client) pair of a
// dynamodbqueue.DynamoDBQueue, and hands every message to a worker that calls the Handler:
//
//	poll ──▶ dispatch to N workers ──▶ handler ──▶ nil:   delete (batched)
//	  ▲                                   │         error: visibility = backoff(receive count)
//	  └──── idle workers ◀────────────────┘         panic: recovered, treated as an error
//
// In detail:
//
//   - Poll: one poller claims messages with ReceiveMessages, never more than there are idle
//     workers (and at most Options.MaxMessages), so a claimed message never waits for a worker.
//     Sources are polled round-robin, one poll each in turn, so one busy tenant cannot starve
//     another. A poll waits for messages (long polling, Options.WaitTime) only after a whole
//     round over the sources found none.
//   - Handle: each message runs in its own goroutine, at most Options.Concurrency at once.
//     A panic in the handler is recovered and reported as a *PanicError.
//   - Heartbeat: while a handler runs, its message's visibility timeout is renewed every
//     Options.HeartbeatInterval (half the visibility timeout by default), so a slow handler
//     keeps its message and no other consumer receives it meanwhile.
//   - Success: the message is deleted. Deletes are batched per source: up to
//     Options.DeleteBatchSize handles per DeleteMessages call, none waiting longer than
//     Options.DeleteInterval, and everything pending is deleted before Run returns.
//   - Failure: the message is made visible again after Options.Backoff.Delay of its
//     ApproximateReceiveCount (exponential, capped), through ChangeVisibility. A handler can
//     choose the delay itself by returning RetryAfter(d). Combined with the queue's
//     dead-letter configuration (dynamodbqueue.DeadLetterConfig), a message that keeps failing
//     ends up in the dead-letter queue.
//
// Delivery is at least once: a message is handled again if the process dies, or if its
// visibility could not be renewed or its delete failed. Handlers should be idempotent.
//
// # Shutdown
//
// Run blocks until its context is done, then shuts down gracefully and returns when the
// shutdown is complete. Polling stops; messages that were claimed but not yet handed to a
// worker are released (made visible again at once) so that another consumer gets them
// immediately; running handlers get Options.ShutdownGrace to finish, after which their
// contexts are cancelled and messages whose handler then fails are released too. Queue
// operations themselves are never interrupted half-way, so no message is left claimed by
// nobody: after Run returns, every message is either handled and deleted, or visible in the
// queue (or waiting out the backoff of a failed delivery).
//
// # Observability
//
// The consumer logs with log/slog, to the queue's logger (DynamoDBQueue.UseLogger) or to
// Options.Logger, which then also receives the queue's own events (dead-letter moves) for the
// queues the consumer works with: one logger for both. It reports counters and latencies to
// Options.Hooks; package prommetrics turns them into Prometheus metrics labelled by queue and
// client, and serves them (prommetrics.Register, prommetrics.Handler). Hooks that also
// implement ClockSkewHooks learn the clock offset of the process serving each source.
package consumer
