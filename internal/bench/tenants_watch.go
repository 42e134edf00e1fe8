package bench

import (
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// withTick sets how often an idle consumer of q looks for new messages: the long poll's
// re-poll interval, up to interval (0 keeps the library's default).
func withTick(q *dynamodbqueue.DynamoDBQueue, interval time.Duration) *dynamodbqueue.DynamoDBQueue {
	if interval > 0 {
		q.UseLongPollInterval(min(5*time.Millisecond, interval), interval)
	}
	return q
}
