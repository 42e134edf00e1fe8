package dynamodbqueue

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/store"
)

// Receives of one process that read the same shard at the same time.
//
// Every query of a shard returns the same head of its ready index. Receives of one process do
// not race each other's claims (they skip what a sibling is claiming), but each of them used
// to read the head whole, only to skip most of it: with 4 receives working one shard, a
// message was read 1.5 to 2.5 times. So the reads of a shard by one process take turns (one
// query in flight per shard and process; the claims still run side by side), and while another
// receive of the process works the shard, a read starts after the last item any of them read
// (ExclusiveStartKey): the receives read consecutive pages, each item once.
//
// The chain starts again from the receive's own position when the receive is alone in the
// shard (what was read before is claimed, or lost to another process, and gone from the
// index), and at least every chainFresh: a message that becomes visible behind the chain (a
// release, a lapsed claim, the end of a delay, a claim a sibling lost to another process and
// that process gave back) waits at most that long, and order is relaxed by no more than that.
// Receives in other processes are not helped: see docs/BENCHMARKS.md.
const chainFresh = time.Second

// readChain is the chain of reads of one shard by the receives of a process.
type readChain struct {
	turn    chan struct{} // holds a token while a read of the shard is in flight
	mu      sync.Mutex
	working int                             // receives of this process in the shard now
	last    map[string]types.AttributeValue // index key of the last item read; nil: none
	lastVis string
	started time.Time
}

// readChains are a process's read chains, by table+"\x00"+pk.
type readChains struct{ m sync.Map }

// join returns the read chain of shard k and counts a receive working the shard until leave.
func (w *readChains) join(k string) *readChain {
	v, ok := w.m.Load(k)
	if !ok {
		v, _ = w.m.LoadOrStore(k, &readChain{turn: make(chan struct{}, 1)})
	}
	c := v.(*readChain)
	c.mu.Lock()
	c.working++
	c.mu.Unlock()
	return c
}

// leave ends a receive's work on the shard.
func (c *readChain) leave() {
	c.mu.Lock()
	c.working--
	c.mu.Unlock()
}

// read runs one read of the shard in turn with the other receives of the process. own is where
// the receive would read from (nil: the head); read is called with where to read from instead,
// and the items it returns move the chain on (forward: the index is read oldest first).
// chained reports that it read from where another receive's read ended, not from own.
func (c *readChain) read(ctx context.Context, own map[string]types.AttributeValue, forward bool, now time.Time,
	read func(start map[string]types.AttributeValue) ([]record, error)) (_ []record, chained bool, _ error) {
	select {
	case c.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	defer func() { <-c.turn }()
	c.mu.Lock()
	start := own
	if c.working > 1 && c.last != nil && !now.Before(c.started) && now.Sub(c.started) <= chainFresh {
		start, chained = c.last, true
	} else {
		c.last, c.lastVis, c.started = nil, "", now
	}
	c.mu.Unlock()
	recs, err := read(start)
	if len(recs) > 0 {
		r := recs[len(recs)-1]
		c.mu.Lock()
		if c.last == nil || (r.Vis > c.lastVis) == forward {
			c.last, c.lastVis = store.IndexKey(r), r.Vis
		}
		c.mu.Unlock()
	}
	return recs, chained, err
}
