package consumer_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/consumer"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// shiftedDates moves the Date header of every response by `by`: the responses of a DynamoDB
// whose clock is `by` ahead of this machine's, so this process is that far behind.
type shiftedDates struct {
	next dynamodb.HTTPClient
	by   time.Duration
}

func (s shiftedDates) Do(r *http.Request) (*http.Response, error) {
	resp, err := s.next.Do(r)
	if resp != nil {
		if d, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
			resp.Header.Set("Date", d.Add(s.by).UTC().Format(http.TimeFormat))
		}
	}
	return resp, err
}

// skewRecorder keeps the offsets reported to OnClockSkew.
type skewRecorder struct {
	consumer.NopHooks
	mu      sync.Mutex
	offsets []time.Duration
	sources []consumer.Source
}

func (r *skewRecorder) OnClockSkew(_ context.Context, src consumer.Source, offset time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.offsets = append(r.offsets, offset)
	r.sources = append(r.sources, src)
}

func (r *skewRecorder) get() ([]time.Duration, []consumer.Source) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.offsets), slices.Clone(r.sources)
}

// TestConsumerReportsClockSkew: a consumer whose process is 60 s behind DynamoDB (as the Date
// headers of its responses say) reports, through ClockSkewHooks behind MultiHooks, offset 0
// when it starts (nothing learnt yet) and about +60 s once its first request is answered; its
// queue corrects by it, so it still handles a message pushed by a correct process.
func TestConsumerReportsClockSkew(t *testing.T) {
	t.Parallel()
	base := newQueue(t, "skew", "c")
	push(t, base, "one")
	behind := dynamodb.New(testenv.Client(t).Options(), func(o *dynamodb.Options) {
		o.HTTPClient = shiftedDates{next: o.HTTPClient, by: 60 * time.Second}
	})
	q := dynamodbqueue.NewFromClient(behind, 0).UseTable(base.Table()).UseQueueName("skew").UseClientID("c").UseLogger(nil)
	rec := &skewRecorder{}
	var mu sync.Mutex
	var handled []string
	c := mustNew(t, q, func(_ context.Context, msg events.SQSMessage) error {
		mu.Lock()
		defer mu.Unlock()
		handled = append(handled, msg.Body)
		return nil
	}, consumer.Options{Hooks: consumer.MultiHooks(newRecorder(), rec)})
	stop := start(t, c)
	waitUntil(t, "the message and a second clock report", func() bool {
		mu.Lock()
		defer mu.Unlock()
		offsets, _ := rec.get()
		return len(handled) == 1 && len(offsets) >= 2
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	offsets, sources := rec.get()
	want := consumer.Source{Table: base.Table(), Queue: "skew", ClientID: "c"}
	if len(offsets) != 2 || offsets[0] != 0 || offsets[1] < 58*time.Second || offsets[1] > 62*time.Second {
		t.Fatalf("reported offsets %v, want [0, about +60s]", offsets)
	}
	for _, src := range sources {
		if src != want {
			t.Fatalf("reported for source %+v, want %+v", src, want)
		}
	}
	// Later responses may narrow the estimate, by less than the threshold, without a report.
	if got := q.ClockOffset(); got < offsets[1]-time.Second || got > offsets[1]+time.Second {
		t.Fatalf("queue's ClockOffset %v, last report %v", got, offsets[1])
	}
}
