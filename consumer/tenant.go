package consumer

import (
	"context"
	"fmt"
	"math"
	"time"
)

// MaxTenantWeight bounds TenantOptions.Weight.
const MaxTenantWeight = 1000

// TenantOptions are the limits of one source (a tenant: one (queue, client) pair) within a
// consumer. The zero value means no limits of its own and weight 1: the tenant shares the
// consumer's workers equally with the other tenants that have messages.
type TenantOptions struct {
	// MaxConcurrency is the most messages of this tenant handled at once (0: no limit of its
	// own, only Options.Concurrency). A tenant at its limit is not polled until one of its
	// handlers returns, so its messages stay in the queue, visible to other consumers.
	MaxConcurrency int

	// Rate is the most messages per second the consumer claims from this tenant, on average
	// (0: no limit). Messages beyond it stay in the queue until tokens are back; the consumer
	// does not poll the tenant meanwhile. It limits one consumer: several consumer processes
	// serving the same tenant each apply it.
	Rate float64

	// Burst is how many messages the rate limit lets through at once (token bucket size).
	// Only with Rate; 0 means ceil(Rate), at least 1. A poll claims at most Burst messages.
	Burst int

	// Weight is the tenant's share of the workers when several tenants have messages
	// (1..MaxTenantWeight; 0 means 1): a tenant of weight 2 is served twice as many messages
	// as one of weight 1 while both have a backlog. Weights only matter under contention:
	// a tenant alone gets all the workers its other limits allow.
	Weight int
}

// sourceKey is the context key of the source of the message a handler runs for.
type sourceKey struct{}

// SourceOf returns the source (table, queue, client: the tenant) of the message whose
// handler ctx was given to, so one handler can serve many tenants. ok is false for other
// contexts.
func SourceOf(ctx context.Context) (src Source, ok bool) {
	src, ok = ctx.Value(sourceKey{}).(Source)
	return src, ok
}

// resolve validates o and fills in its defaults.
func (o TenantOptions) resolve() (tenantLimits, error) {
	l := tenantLimits{weight: o.Weight, maxConc: o.MaxConcurrency, rate: o.Rate, burst: o.Burst}
	switch {
	case o.MaxConcurrency < 0:
		return l, fmt.Errorf("invalid MaxConcurrency %d: must not be negative (0: no limit)", o.MaxConcurrency)
	case math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0) || o.Rate < 0:
		return l, fmt.Errorf("invalid Rate %v: must be a finite number >= 0 (0: no limit)", o.Rate)
	case o.Burst < 0:
		return l, fmt.Errorf("invalid Burst %d: must not be negative", o.Burst)
	case o.Burst > 0 && o.Rate == 0:
		return l, fmt.Errorf("invalid Burst %d without a Rate: set Rate too, or leave Burst 0", o.Burst)
	case o.Weight < 0 || o.Weight > MaxTenantWeight:
		return l, fmt.Errorf("invalid Weight %d: must be 0..%d (0: 1)", o.Weight, MaxTenantWeight)
	}
	if l.weight == 0 {
		l.weight = 1
	}
	if l.rate > 0 && l.burst == 0 {
		l.burst = max(1, int(math.Min(math.Ceil(l.rate), math.MaxInt32)))
	}
	return l, nil
}

// TenantHooks is an optional extension of Hooks: when the Hooks given to a consumer also
// implement it, the consumer reports how it schedules each source (tenant). Together with
// the counters of Hooks (received, succeeded, failed, ...) they show, per tenant, what the
// tenant costs in requests and how its limits hold it back. (It is a separate interface so
// that Hooks implementations written before it keep compiling; NopHooks and MultiHooks
// implement it.)
type TenantHooks interface {
	// OnWake: src was signalled as possibly having messages (a push seen by the table's
	// watcher, a retried message becoming visible, a group unblocked by a delete), so the
	// consumer will poll it.
	OnWake(ctx context.Context, src Source)
	// OnPoll: the consumer polled src (one receive request) and claimed received messages
	// (0: the poll found none, and src waits for its next wake-up).
	OnPoll(ctx context.Context, src Source, received int)
	// OnThrottle: src had messages but its rate limit (TenantOptions.Rate) holds it back for
	// wait.
	OnThrottle(ctx context.Context, src Source, wait time.Duration)
}

var (
	_ TenantHooks = NopHooks{}
	_ TenantHooks = multiHooks{}
)

// OnWake does nothing.
func (NopHooks) OnWake(context.Context, Source) {}

// OnPoll does nothing.
func (NopHooks) OnPoll(context.Context, Source, int) {}

// OnThrottle does nothing.
func (NopHooks) OnThrottle(context.Context, Source, time.Duration) {}

// OnWake calls the hooks that implement TenantHooks.
func (m multiHooks) OnWake(ctx context.Context, src Source) {
	for _, h := range m {
		if t, ok := h.(TenantHooks); ok {
			t.OnWake(ctx, src)
		}
	}
}

// OnPoll calls the hooks that implement TenantHooks.
func (m multiHooks) OnPoll(ctx context.Context, src Source, received int) {
	for _, h := range m {
		if t, ok := h.(TenantHooks); ok {
			t.OnPoll(ctx, src, received)
		}
	}
}

// OnThrottle calls the hooks that implement TenantHooks.
func (m multiHooks) OnThrottle(ctx context.Context, src Source, wait time.Duration) {
	for _, h := range m {
		if t, ok := h.(TenantHooks); ok {
			t.OnThrottle(ctx, src, wait)
		}
	}
}

// tenantHooks returns h as TenantHooks, or NopHooks if it does not implement them.
func tenantHooks(h Hooks) TenantHooks {
	if t, ok := h.(TenantHooks); ok {
		return t
	}
	return NopHooks{}
}
