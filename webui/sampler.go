package webui

import (
	"context"
	"sync"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// The sampler reads every pair's counts every SampleInterval and keeps the last History
// samples in a ring buffer: the overview shows the newest, the charts the series.
//
// Rates are estimates from two samples, because the table keeps no counters: "in" counts the
// messages present now that were sent after the previous sample (a message sent and consumed
// between two samples is missed, so a fast queue's rates are under-counted), and "out" is "in"
// minus the growth of the queue (visible + in flight + delayed). They show whether a backlog
// grows or drains, which is what an operator watches.

// pairSample is one pair's state in one sample; compact, as History x pairs of them are kept.
type pairSample struct {
	Visible, InFlight, Delayed, DeadLettered int32
	OldestAge                                float32 // seconds; 0 without visible messages
	InRate, OutRate                          float32 // messages per second since the previous sample
}

func (p pairSample) total() int32 { return p.Visible + p.InFlight + p.Delayed }

// snapshot is one sample of every pair.
type snapshot struct {
	At    time.Time
	Took  time.Duration
	Pairs map[dynamodbqueue.QueueAndClientID]pairSample
	Err   error
}

// newestScan bounds how many of a pair's newest messages a sample reads to count arrivals.
const newestScan = 200

type sampler struct {
	client *dynamodbqueue.Client
	logger interface {
		Warn(msg string, args ...any)
	}

	mu     sync.Mutex
	ring   []snapshot // oldest first once full
	next   int
	full   bool
	wake   chan struct{}
	sample chan struct{} // closed and replaced after each sample
}

func newSampler(c *dynamodbqueue.Client, history int, logger interface{ Warn(string, ...any) }) *sampler {
	return &sampler{client: c, logger: logger, ring: make([]snapshot, history),
		wake: make(chan struct{}, 1), sample: make(chan struct{})}
}

// run samples at once, then every interval (or when poked), until ctx ends.
func (s *sampler) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.take(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// poke asks for a sample now (after an action changed counts), without waiting for it.
func (s *sampler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// latest returns the newest sample and a channel closed when the next one is stored.
func (s *sampler) latest() (snapshot, bool, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.full && s.next == 0 {
		return snapshot{}, false, s.sample
	}
	return s.ring[(s.next-1+len(s.ring))%len(s.ring)], true, s.sample
}

// series returns the samples taken since 'since', oldest first.
func (s *sampler) series(since time.Time) []snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []snapshot
	n := s.next
	start := 0
	if s.full {
		n = len(s.ring)
		start = s.next
	}
	for i := range n {
		sn := s.ring[(start+i)%len(s.ring)]
		if !sn.At.Before(since) && sn.Err == nil {
			out = append(out, sn)
		}
	}
	return out
}

// take reads one sample and stores it.
func (s *sampler) take(ctx context.Context) {
	prev, havePrev, _ := s.latest()
	start := time.Now()
	sn := snapshot{At: start, Pairs: map[dynamodbqueue.QueueAndClientID]pairSample{}}
	// TableStats needs a handle of the table only; the pair named here is never read.
	q, err := s.client.Queue("ddbq-ui", "ddbq-ui")
	var stats []dynamodbqueue.PairStats
	if err == nil {
		stats, err = q.Inspector().TableStats(ctx)
	}
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		s.logger.Warn("webui: sampling the table failed", "error", err)
		sn.Err = err
	}
	for _, ps := range stats {
		if ctx.Err() != nil {
			return
		}
		p := pairSample{Visible: int32(ps.Visible), InFlight: int32(ps.InFlight), Delayed: int32(ps.Delayed),
			DeadLettered: int32(ps.DeadLettered)}
		if !ps.OldestVisible.IsZero() {
			p.OldestAge = float32(max(start.Sub(ps.OldestVisible).Seconds(), 0))
		}
		if old, hadOld := prev.Pairs[ps.QueueAndClientID]; havePrev && hadOld && (p.total() > 0 || old.total() > 0) {
			s.rates(ctx, ps.QueueAndClientID, &p, prev.At, old, start)
		}
		sn.Pairs[ps.QueueAndClientID] = p
	}
	sn.Took = time.Since(start)
	s.store(sn)
}

// store adds a sample to the ring buffer, over the oldest once it is full, and wakes the
// pages waiting for it.
func (s *sampler) store(sn snapshot) {
	s.mu.Lock()
	s.ring[s.next] = sn
	s.next = (s.next + 1) % len(s.ring)
	if s.next == 0 {
		s.full = true
	}
	close(s.sample)
	s.sample = make(chan struct{})
	s.mu.Unlock()
}

// rates estimates the in and out rates of one pair since the previous sample at prevAt.
func (s *sampler) rates(ctx context.Context, pair dynamodbqueue.QueueAndClientID, p *pairSample, prevAt time.Time, old pairSample, now time.Time) {
	secs := now.Sub(prevAt).Seconds()
	q, err := s.client.Queue(pair.QueueName, pair.ClientID)
	if err != nil || secs <= 0 {
		return
	}
	arrived := 0
	if p.total() > 0 {
		page, err := q.Inspector().ListMessages(ctx, dynamodbqueue.ListOptions{NewestFirst: true, Limit: newestScan})
		if err != nil {
			return
		}
		for _, m := range page.Messages { // newest first, though grouped messages list group by group
			if m.Sent.After(prevAt) {
				arrived++
			}
		}
	}
	out := arrived - int(p.total()-old.total())
	p.InRate = float32(float64(arrived) / secs)
	p.OutRate = float32(float64(max(out, 0)) / secs)
}
