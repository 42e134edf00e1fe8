package consumer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// subscription signals that one source may have messages. Ready's channel receives (or is
// ready) after a push to the source since the last receive from it; Close ends it.
type subscription interface {
	Ready() <-chan struct{}
	Close()
}

// subscribeFunc opens the subscription of a source.
type subscribeFunc func(src *source) (subscription, error)

// watchSource returns the subscribe function of a consumer: the table watcher of the source's
// client (dynamodbqueue.Client.Watch), shared by every source of the table and every other user
// of the client in the process, so an idle consumer costs the watcher's requests whatever the
// number of sources. A client made with watching disabled (a negative
// dynamodbqueue.Options.WatchInterval) gets a ticker instead, which wakes every source every
// period: one poll per source and period, the consumer's cost before the watcher.
func watchSource(period time.Duration) subscribeFunc {
	return func(src *source) (subscription, error) {
		sub, err := src.q.Client().Watch(src.id.Queue, src.id.ClientID)
		if errors.Is(err, dynamodbqueue.ErrWatchDisabled) {
			return newTickerSubscription(period), nil
		}
		if err != nil {
			return nil, err
		}
		return sub, nil
	}
}

// tickerSubscription signals every period.
type tickerSubscription struct {
	ch   chan struct{}
	stop context.CancelFunc
	done sync.WaitGroup
}

func newTickerSubscription(period time.Duration) *tickerSubscription {
	ctx, cancel := context.WithCancel(context.Background())
	s := &tickerSubscription{ch: make(chan struct{}, 1), stop: cancel}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				select {
				case s.ch <- struct{}{}:
				default:
				}
			}
		}
	}()
	return s
}

func (s *tickerSubscription) Ready() <-chan struct{} { return s.ch }

func (s *tickerSubscription) Close() {
	s.stop()
	s.done.Wait()
}
