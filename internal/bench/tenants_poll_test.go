package bench

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// TestTenantsPollsOnlyWokenTenants runs the tenants workload small against the test endpoint:
// nothing is lost, duplicated or delivered to the wrong tenant, and the consumers poll far
// less than consumers that visit every tenant in turn must. Such consumers receive at most
// ReceiveBatch messages per visit and each visits all T tenants per round, so the busiest
// tenant's k batches cost them at least (k - Consumers) * T polls in all. Consumers that poll
// only woken tenants need about T (the first look) plus a few polls per batch.
func TestTenantsPollsOnlyWokenTenants(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := Config{
		Endpoint:  testenv.Endpoint(t),
		Table:     testenv.TableName(t),
		Workloads: []string{WorkloadTenants},
		Tenants:   50, Messages: 600, Producers: 2, Consumers: 4, BatchSize: 10, ReceiveBatch: 10,
		Progress: &bytes.Buffer{},
		Timeout:  time.Minute,
	}
	// The batches each tenant gets: the producers' draws are seeded (tenantsRand).
	perTenant := make([]int, cfg.Tenants)
	for pi, ids := range split(cfg.Messages, cfg.Producers) {
		rng := tenantsRand(pi)
		for range chunks(ids, cfg.BatchSize) {
			perTenant[skewedTenant(rng, cfg.Tenants)]++
		}
	}
	busiest := 0
	for _, k := range perTenant {
		busiest = max(busiest, k)
	}
	roundRobin := (busiest - cfg.Consumers) * cfg.Tenants
	if roundRobin <= cfg.Tenants+3*cfg.Messages/cfg.BatchSize {
		t.Fatalf("the busiest tenant gets %d batches: too few to tell the consumers apart", busiest)
	}

	var out bytes.Buffer
	rep, err := Run(ctx, cfg, &out)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if len(rep.Results) != 1 || rep.Results[0].Workload != WorkloadTenants {
		t.Fatalf("results %+v, want one tenants result", rep.Results)
	}
	r := rep.Results[0]
	if r.Lost != 0 || r.Duplicates != 0 || r.Figures["isolation_failures"] != 0 {
		t.Errorf("lost %d, duplicates %d, wrong tenant %v", r.Lost, r.Duplicates, r.Figures["isolation_failures"])
	}
	polls, empty := r.Figures["polls"], r.Figures["empty_polls"]
	if polls <= 0 || empty >= polls {
		t.Errorf("polls %v, empty polls %v: want some polls, fewer of them empty", polls, empty)
	}
	if polls >= float64(roundRobin) {
		t.Errorf("polls %v, want fewer than the %d that visiting every tenant in turn needs", polls, roundRobin)
	}
	t.Logf("polls %v (empty %v), round robin needs >= %d; busiest tenant %d batches", polls, empty, roundRobin, busiest)
}
