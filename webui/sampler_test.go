package webui

import (
	"context"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// TestSamplerRatesAndRing samples a real table between a push of 5 messages and their
// consumption: the sample after the push counts 5 in and none out, the one after the
// consumption 5 out and none in (rate x interval, so no timing is asserted). The ring keeps the
// last History samples, oldest first.
func TestSamplerRatesAndRing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := dynamodbqueue.New(dynamodbqueue.Options{API: testenv.Client(t), Table: testenv.TableName(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	q, err := c.Queue("jobs", "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.CreateQueueTable(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.DropQueueTable(context.Background()) })
	if _, err := q.PushMessages(ctx, 0, events.SQSMessage{Body: "before"}); err != nil {
		t.Fatal(err)
	}
	s := newSampler(c, 3, slog.New(slog.DiscardHandler))
	pair := dynamodbqueue.QueueAndClientID{QueueName: "jobs", ClientID: "acme"}
	sample := func() (pairSample, time.Time) {
		t.Helper()
		s.take(ctx)
		sn, ok, _ := s.latest()
		if !ok || sn.Err != nil {
			t.Fatalf("sample: %v", sn.Err)
		}
		return sn.Pairs[pair], sn.At
	}
	moved := func(rate float32, from, to time.Time) int {
		return int(math.Round(float64(rate) * to.Sub(from).Seconds()))
	}

	first, t0 := sample()
	if first.Visible != 1 || first.OldestAge <= 0 {
		t.Errorf("first sample: %+v", first)
	}
	msgs := make([]events.SQSMessage, 5)
	for i := range msgs {
		msgs[i] = events.SQSMessage{Body: "m"}
	}
	if _, err := q.PushMessages(ctx, 0, msgs...); err != nil {
		t.Fatal(err)
	}
	second, t1 := sample()
	if second.Visible != 6 || moved(second.InRate, t0, t1) != 5 || second.OutRate != 0 {
		t.Errorf("after pushing 5: %+v (in %d)", second, moved(second.InRate, t0, t1))
	}
	got, err := q.PollMessages(ctx, 0, time.Minute, 10)
	if err != nil || len(got) != 6 {
		t.Fatalf("receive: %d, %v", len(got), err)
	}
	if _, err := q.DeleteMessages(ctx, dynamodbqueue.ToReceiptHandles(got[:5])...); err != nil {
		t.Fatal(err)
	}
	third, t2 := sample()
	if third.Visible != 0 || third.InFlight != 1 || moved(third.OutRate, t1, t2) != 5 || third.InRate != 0 {
		t.Errorf("after consuming 5: %+v (out %d)", third, moved(third.OutRate, t1, t2))
	}
	sample()
	all := s.series(time.Time{})
	if len(all) != 3 || !all[0].At.Equal(t1) || !all[2].At.After(t2) {
		t.Errorf("ring of 3 after 4 samples holds %d, from %v", len(all), all[0].At)
	}
}
