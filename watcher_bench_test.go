package dynamodbqueue_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// BenchmarkWatchPushToWake measures, on the test endpoint, how long after another process
// starts a push of one message to a random one of T idle tenants the watching process's
// subscriber of that tenant is woken (the push's own two requests included), at the default
// watch interval; and the watching process's hint queries and fallback requests per second.
// Run: bash scripts/with-servers.sh go test -run '^$' -bench WatchPushToWake -benchtime 100x .
func BenchmarkWatchPushToWake(b *testing.B) {
	for _, tenants := range []int{1, 1000, 10_000} {
		b.Run(fmt.Sprintf("T=%d", tenants), func(b *testing.B) {
			_, table := newTable(b)
			watching := newWatchClient(b, nil, table, dynamodbqueue.Options{})
			pushing := newWatchClient(b, nil, table, dynamodbqueue.Options{})
			subs := make([]*dynamodbqueue.Subscription, tenants)
			for i := range subs {
				subs[i] = mustWatch(b, watching, "bench", fmt.Sprintf("t%05d", i))
			}
			msgs := bodies(1, "w")
			lat := make([]time.Duration, 0, b.N)
			start, st0 := time.Now(), watching.WatchStats()
			b.ResetTimer()
			for range b.N {
				i := rand.IntN(tenants)
				pq := mustHandle(b, pushing, "bench", subs[i].ClientID())
				t0 := time.Now()
				push(b, pq, msgs...)
				awaitReady(b, subs[i], "bench")
				lat = append(lat, time.Since(t0))
				b.StopTimer()
				// Take the message out and let the hint's second signal pass, so the next
				// round starts idle.
				wq := mustHandle(b, watching, "bench", subs[i].ClientID())
				got := mustPoll(b, wq, time.Minute, 10)
				if _, err := wq.DeleteMessages(ctxT(b), toHandles(got)...); err != nil {
					b.Fatal(err)
				}
				awaitTicks(b, watching, 4)
				for woken(subs[i]) {
				}
				b.StartTimer()
			}
			b.StopTimer()
			elapsed, st := time.Since(start).Seconds(), watching.WatchStats()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(st.HintQueries-st0.HintQueries)/elapsed, "hint-queries/s")
			b.ReportMetric(float64(st.FallbackRequests-st0.FallbackRequests)/elapsed, "fallback-req/s")
		})
	}
}
