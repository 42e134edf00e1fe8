package bench

import (
	"log/slog"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// processQueue returns the queue a consumer process of the tenants-idle and fairness
// workloads starts from: a handle of its own Client, as a separate process has (its own
// table watcher, clock and definition cache), whose watcher reads the activity hints every
// interval (0: the library's default, Options.WatchInterval).
func (e *env) processQueue(api dynamodbqueue.API, name, clientID string, interval time.Duration) (*dynamodbqueue.DynamoDBQueue, error) {
	cl, err := dynamodbqueue.New(dynamodbqueue.Options{
		API: api, Table: e.table, WatchInterval: interval, WatchFallbackRate: e.cfg.Many.FallbackRate,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	return cl.Queue(name, clientID)
}
