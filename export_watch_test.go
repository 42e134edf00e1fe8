package dynamodbqueue

// WithoutWatcher makes q's process (its core) one without a watcher, as Options.WatchInterval
// < 0 does: its long polls re-poll on their own and no background requests run. Call it before
// q is used. Tests that intercept every request at an exact point of an operation use it, so
// that no watcher's request lands in between.
func WithoutWatcher(q *DynamoDBQueue) *DynamoDBQueue {
	q.core.watch.interval = -1
	return q
}
