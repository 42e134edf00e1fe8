package dynamodbqueue

import (
	"sync"
	"sync/atomic"
	"time"
)

// registryRefresh is how long this process trusts that a pair's registry entry (what List
// reads) still exists. After it, the next push writes the entry again: one write per pair and
// process in that time, so that a PurgeAll run by another process hides a pair from List for
// at most this long while pushes to it go on.
const registryRefresh = 5 * time.Minute

// registryCache remembers the registry entries this process has written, so a push writes its
// pair's entry once per registryRefresh rather than every time. Its Load and Store have
// sync.Map's shape; push's register calls Load, writes the entry on a miss, then calls Store.
//
// PurgeAll deletes the entries, and then calls forget, which starts a new generation: an entry
// counts only if its write was found missing in the current generation. A registration that
// raced the purge (missed before forget, stored after) is thereby written again by the next
// push instead of being trusted while it is gone.
type registryCache struct {
	gen     atomic.Int64
	pending sync.Map // key -> int64: the generation in which the entry was found missing
	done    sync.Map // key -> registryEntry
}

type registryEntry struct {
	gen int64
	at  time.Time
}

// Load reports whether key's entry was written in this generation and recently.
func (c *registryCache) Load(key string) (any, bool) {
	gen := c.gen.Load()
	if v, ok := c.done.Load(key); ok {
		if e := v.(registryEntry); e.gen == gen && time.Since(e.at) < registryRefresh {
			return e, true
		}
	}
	c.pending.LoadOrStore(key, gen) // the oldest miss wins: a raced purge then invalidates it
	return nil, false
}

// Store records that key's entry was written after the miss that Load reported.
func (c *registryCache) Store(key string, _ any) {
	if gen, ok := c.pending.LoadAndDelete(key); ok {
		c.done.Store(key, registryEntry{gen: gen.(int64), at: time.Now()})
	}
}

// forget makes every entry count as missing: the registry was purged.
func (c *registryCache) forget() { c.gen.Add(1) }
