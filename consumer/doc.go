// Package consumer runs a message handler over dynamodbqueue queues with a pool of workers,
// the way net/http runs a Handler over connections.
//
// # Model
//
// A Consumer serves one or more sources, each a (queue, client) pair of a
// dynamodbqueue.DynamoDBQueue (a tenant), and hands every message to a worker that calls the
// Handler:
//
//	watcher ─▶ ready tenants ─▶ poll ─▶ dispatch to N workers ─▶ handler ─▶ nil:   delete (batched)
//	(wake-ups)   (scheduler)     ▲                                  │        error: visibility = backoff(receive count)
//	                             └──────── idle workers ◀───────────┘        panic: recovered, treated as an error
//
// In detail:
//
//   - Wake-ups: every source subscribes to its table's watcher (dynamodbqueue.Client.Watch),
//     one per table and process, shared with every other user of the client. The watcher
//     reads the queues' activity hints, which pushes write, so its cost does not grow with the
//     number of sources: an idle consumer of 10,000 tenants sends no more requests than one
//     of a single tenant, and none for any tenant. A source is woken when the watcher sees a
//     push to it (at once for pushes from this process), when its fallback sweep finds work
//     no hint announced, and by the consumer itself when a message it retried becomes visible
//     again or when it deletes a message of a FIFO group (which lets the group's next one
//     through). When Run starts, every source is polled once, for messages pushed before. A
//     client made with watching disabled (dynamodbqueue.Options.WatchInterval < 0) wakes
//     every source every Options.WaitTime instead.
//   - Schedule: a woken source is ready. Pollers (Options.Pollers) take ready sources from the
//     scheduler and claim messages with ReceiveMessages, never more than there are idle
//     workers (and at most Options.MaxMessages), so a claimed message never waits for a
//     worker. A source whose poll came back full stays ready (it is drained); an empty poll
//     makes it wait for its next wake-up; a short batch too, but the source is checked again
//     a moment later unless a wake-up has it polled before (the watcher signals every push
//     twice, 100 ms apart, so in the usual case that costs nothing extra). Polls do not wait
//     for messages: the watcher does.
//   - Fairness: the scheduler is stride scheduling over the ready sources. Each source has a
//     pass; the ready source with the lowest pass is polled next and is charged, per message
//     it claims, stride = K/weight (TenantOptions.Weight; one stride for an empty poll). So
//     sources with a backlog share the workers in proportion to their weights, however large
//     one backlog is. A source woken from idle starts at the pass of the source polled last,
//     or at its own pass if that is higher: it keeps the charge of its last poll. So a quiet
//     tenant whose last poll claimed one message is polled before a backlog of the same
//     weight is polled twice (its message waits for about one batch of a noisy neighbour,
//     not for its backlog), and quiet tenants woken again and again, however often, cannot
//     keep a backlog from its weighted share: each of them is charged for every poll. A
//     source whose poll came back full stays ready, in the rotation, whatever woke it,
//     unless the poll drained it (dynamodbqueue.ReceiveResult.Drained: it read every shard to
//     the end); a drained source, like one whose poll came back empty, waits for its next
//     wake-up. A
//     source cannot save up credit while idle or held back. What stays out of the
//     scheduler's hands is the table's own capacity: every quiet message costs its pushes, a
//     poll (two when the watcher's second signal of its push comes after the first poll), a
//     claim and a delete, and these take their share of what the server can do from a
//     backlog's polls, which are then slower, not fewer.
//   - Fair groups within a source (dynamodbqueue.AttributeFairGroupID, SQS's MessageGroupId on
//     a standard queue) need nothing from the consumer: the receive passes of the source's
//     queue take turns over its shards, and each fair group has its shard, so a quiet group's
//     message is claimed within one turn of polls (as many as the queue has shards) behind
//     another group's backlog.
//   - Per-tenant limits (Options.Tenant, Options.Tenants): a source at its MaxConcurrency is
//     not polled until one of its handlers returns; a source whose Rate limit (a token bucket
//     of Burst messages, golang.org/x/time/rate) has no token is held back until it has one,
//     and a poll claims no more messages than the tokens there are. Messages held back stay in
//     the queue, visible to other consumers. Limits apply per consumer.
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
// Options.Hooks, labelled by source; package prommetrics turns them into Prometheus metrics
// labelled by queue and client (the tenant, with a cap on the number of label values), and
// serves them (prommetrics.Register, prommetrics.Handler). Hooks that also implement
// ClockSkewHooks learn the clock offset of the process serving each source; hooks that
// implement TenantHooks learn how each source is scheduled (wake-ups, polls, rate-limit waits).
// A handler learns the source of its message with SourceOf.
package consumer
