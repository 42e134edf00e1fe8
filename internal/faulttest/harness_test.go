// Package faulttest proves that the queue loses nothing when DynamoDB and the network misbehave.
//
// Producers and consumers talk to dynalite through internal/faultproxy, which throttles, fails,
// delays and resets requests, drops responses of writes DynamoDB has applied and applies batches
// only in part. A ledger
// records every push attempt, every delivery and every delete, and checks as the test runs:
//
//   - every push that returned success is delivered at least once (lost == 0);
//   - nothing is delivered that was never pushed, nor to another (queue, client) pair;
//   - a message whose delete succeeded is never delivered again (unless a retried push of it
//     was still running when the delete started);
//   - per FIFO message group, first deliveries come in push order, and no message is delivered
//     while an earlier message of its group has not been deleted (or at least had a delete
//     started).
//
// Other tests kill consumers: goroutines that stop holding messages, and OS processes (this
// test binary re-executed in a child mode, see runChildIfAsked) killed with SIGKILL.
//
// The TestKnownBug* tests demonstrate bugs of the root package that are not fixed yet. They
// skip unless FAULTTEST_KNOWN_BUGS=1, which makes them fail:
//
//	FAULTTEST_KNOWN_BUGS=1 go test -race -count=1 -run '^TestKnownBug' -v ./internal/faulttest/
//
// Faults are drawn from a fixed seed, which each test logs with the command that reruns it;
// FAULT_SEED overrides it. Goroutine scheduling still varies from run to run, so a seed
// reproduces the fault mix, not the exact interleaving.
//
// The soak test runs for SOAK_DURATION (default 20s). For a longer run:
//
//	SOAK_DURATION=60s go test -race -count=1 -timeout 10m -run '^TestSoak$' -v ./internal/faulttest/
package faulttest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/dynalite"
	"github.com/dynamodbqueue/dynamodbqueue/internal/faultproxy"
	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
	"github.com/dynamodbqueue/dynamodbqueue/internal/message"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

func TestMain(m *testing.M) {
	runChildIfAsked()
	testenv.Main(m)
}

// envSeed overrides the fault seed of every test.
const envSeed = "FAULT_SEED"

// seedFor returns the test's fault seed and logs how to rerun the test with it.
func seedFor(t *testing.T, def uint64) uint64 {
	t.Helper()
	seed := def
	if s := os.Getenv(envSeed); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", envSeed, s, err)
		}
		seed = v
	}
	t.Logf("fault seed %d; rerun with: %s=%d go test -race -count=1 -run '^%s$' -v ./internal/faulttest/",
		seed, envSeed, seed, strings.Split(t.Name(), "/")[0])
	return seed
}

// faults returns the standard fault mix: every kind on every operation, scaled by f.
func faults(f float64) []faultproxy.Rule {
	return []faultproxy.Rule{
		{Kind: faultproxy.ProvisionedThroughputExceeded, Probability: 0.03 * f},
		{Kind: faultproxy.Throttling, Probability: 0.02 * f},
		{Kind: faultproxy.InternalServerError, Probability: 0.03 * f},
		{Kind: faultproxy.ConnectionReset, Probability: 0.03 * f},
		{Kind: faultproxy.DropResponse, Probability: 0.06 * f},
		{Kind: faultproxy.Unprocessed, Probability: 0.15 * f},
		{Kind: faultproxy.Latency, Probability: 0.1, Delay: time.Millisecond, MaxDelay: 15 * time.Millisecond},
	}
}

// tenant is one (queue, client) pair.
type tenant struct {
	queue, client string
	shards        int
}

func (t tenant) String() string { return t.queue + "/" + t.client }

// env is one test's table, fault proxy and clients.
type env struct {
	t        *testing.T
	proxy    *faultproxy.Proxy
	table    string
	attempts int // SDK attempts per request of clients through the proxy
}

// newEnv creates a queue table (directly, without faults) and a fault proxy with the rules.
// attempts is the SDK's MaxAttempts for clients through the proxy: the default 3 or 4 lets some
// requests fail for good (the ambiguous failures the queue must survive); 10 makes that
// practically impossible.
func newEnv(t *testing.T, seed uint64, attempts int, rules ...faultproxy.Rule) *env {
	t.Helper()
	p, err := faultproxy.New(faultproxy.Config{Target: testenv.Endpoint(t), Seed: seed, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	e := &env{t: t, proxy: p, table: testenv.TableName(t), attempts: attempts}
	admin := dynamodbqueue.NewFromClient(testenv.Client(t), 0).UseTable(e.table).UseLogger(nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if created, err := admin.CreateQueueTable(ctx); err != nil || !created {
		t.Fatalf("CreateQueueTable(%s) = %v, %v", e.table, created, err)
	}
	t.Cleanup(func() { _ = admin.DropQueueTable(context.Background()) })
	return e
}

// faultyConfig returns an aws.Config for endpoint with the SDK's standard retryer: the given
// attempts, short backoff (tests are short), and no client-side retry quota, which heavy
// injected faults would otherwise exhaust.
func faultyConfig(endpoint string, attempts int) aws.Config {
	cfg := dynalite.AWSConfig(endpoint)
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.MaxBackoff = 150 * time.Millisecond
			o.RateLimiter = ratelimit.None
		})
	}
	return cfg
}

// queue returns a queue of the tenant that talks through the proxy. Each call makes a new
// client and queue, as a separate process would have.
func (e *env) queue(tn tenant) *dynamodbqueue.DynamoDBQueue {
	api := dynamodb.NewFromConfig(faultyConfig(e.proxy.URL(), e.attempts))
	return e.setup(dynamodbqueue.NewFromClient(api, 0), tn)
}

// direct returns a queue of the tenant that talks to DynamoDB without faults.
func (e *env) direct(tn tenant) *dynamodbqueue.DynamoDBQueue {
	return e.setup(dynamodbqueue.NewFromClient(testenv.Client(e.t), 0), tn)
}

func (e *env) setup(q *dynamodbqueue.DynamoDBQueue, tn tenant) *dynamodbqueue.DynamoDBQueue {
	return q.UseTable(e.table).UseQueueName(tn.queue).UseClientID(tn.client).UseShards(max(tn.shards, 1)).
		UseLogger(nil).UseLongPollInterval(5*time.Millisecond, 50*time.Millisecond)
}

// pushState is what a push call said about a message.
type pushState int

const (
	pushPending pushState = iota // the push call has not returned
	pushOK                       // stored
	pushFailed                   // reported as failed: may or may not be stored
)

func (p pushState) String() string {
	return [...]string{"pending", "ok", "failed"}[p]
}

// msgRec is the ledger's record of one message.
type msgRec struct {
	id      string
	tenant  string
	group   string // ledger group key (tenant/group), "" outside groups
	index   int    // position in its group's push order
	push    pushState
	pushEnd uint64 // ledger tick when the push call returned

	recvs      int
	receivers  map[string]int // consumer -> deliveries
	maxRC      int            // highest ApproximateReceiveCount seen
	delRunning int            // delete calls in progress
	delOK      int            // delete calls that succeeded
	delUnknown int            // delete calls that failed other than stale: maybe deleted
	delStale   int            // delete calls refused as stale
	goneAt     uint64         // tick by which a successful delete (started after pushEnd) ended
}

// deleteTried reports whether the message may have been deleted.
func (m *msgRec) deleteTried() bool { return m.delRunning > 0 || m.delOK > 0 || m.delUnknown > 0 }

// ledger records pushes, deliveries and deletes, and checks the invariants as they happen.
type ledger struct {
	mu         sync.Mutex
	tick       uint64
	msgs       map[string]*msgRec
	groups     map[string][]*msgRec // in push order
	lastFirst  map[string]int       // group -> index of the latest first delivery
	undeliv    map[string]int       // tenant -> messages pushed successfully, not delivered yet
	violations []string

	pushCalls, pushOK, pushFailed, dedupHits int
	deliveries, duplicates                   int
	deletesOK, deletesStale, deletesErr      int
	receiveErrors                            int
	lastErrors                               []string
}

func newLedger() *ledger {
	return &ledger{msgs: map[string]*msgRec{}, groups: map[string][]*msgRec{}, lastFirst: map[string]int{}, undeliv: map[string]int{}}
}

// now returns a fresh logical time: every event gets a later tick than every event recorded
// before it.
func (l *ledger) now() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tick++
	return l.tick
}

func (l *ledger) violate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if len(l.violations) < 50 {
		l.violations = append(l.violations, msg)
	}
}

func (l *ledger) noteError(err error) {
	if len(l.lastErrors) >= 5 {
		l.lastErrors = l.lastErrors[1:]
	}
	l.lastErrors = append(l.lastErrors, err.Error())
}

// newMessage registers a message about to be pushed. group is the MessageGroupId or "".
func (l *ledger) newMessage(tn tenant, stream, group string, index int) events.SQSMessage {
	id := fmt.Sprintf("%s/%s/%05d", tn, stream, index)
	l.mu.Lock()
	defer l.mu.Unlock()
	m := &msgRec{id: id, tenant: tn.String(), index: index, receivers: map[string]int{}}
	msg := events.SQSMessage{Body: id}
	if group != "" {
		m.group = tn.String() + "/" + group
		l.groups[m.group] = append(l.groups[m.group], m)
		msg.Attributes = map[string]string{dynamodbqueue.AttributeMessageGroupID: group}
	}
	l.msgs[id] = m
	return msg
}

// pushed records the outcome of a push call.
func (l *ledger) pushed(msgs []events.SQSMessage, res dynamodbqueue.PushResult, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tick++
	l.pushCalls++
	l.dedupHits += res.Duplicates
	failed := map[string]bool{}
	for _, m := range res.Failed {
		failed[m.Body] = true
	}
	if err != nil {
		l.noteError(err)
		if len(res.Failed) == 0 {
			for _, m := range msgs {
				failed[m.Body] = true
			}
		}
	}
	for _, m := range msgs {
		r := l.msgs[m.Body]
		r.pushEnd = l.tick
		if failed[m.Body] {
			r.push = pushFailed
			l.pushFailed++
		} else {
			r.push = pushOK
			l.pushOK++
			if r.recvs == 0 {
				l.undeliv[r.tenant]++
			}
		}
	}
}

// received records the messages one receive returned to consumer, which serves tn and started
// its receive at tick start.
func (l *ledger) received(consumer string, tn tenant, start uint64, msgs []events.SQSMessage) {
	if len(msgs) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tick++
	for _, msg := range msgs {
		m := l.msgs[msg.Body]
		if m == nil {
			l.violate("phantom: %s received %q, which was never pushed", consumer, msg.Body)
			continue
		}
		if m.tenant != tn.String() {
			l.violate("isolation: %s of %s received %s of %s", consumer, tn, m.id, m.tenant)
		}
		l.deliveries++
		m.recvs++
		m.receivers[consumer]++
		if rc, _ := strconv.Atoi(msg.Attributes[dynamodbqueue.AttributeApproximateReceiveCount]); rc > m.maxRC {
			m.maxRC = rc
		}
		if m.recvs > 1 {
			l.duplicates++
		} else {
			if m.push == pushOK {
				l.undeliv[m.tenant]--
			}
		}
		if m.goneAt != 0 && start > m.goneAt {
			l.violate("resurrection: %s received %s (receive started at tick %d) after a delete of it succeeded (tick %d)",
				consumer, m.id, start, m.goneAt)
		}
		if m.group == "" {
			continue
		}
		if m.recvs == 1 {
			if last, ok := l.lastFirst[m.group]; ok && m.index < last {
				l.violate("group order: first delivery of %s (to %s) after the first delivery of #%d of its group", m.id, consumer, last)
			}
			l.lastFirst[m.group] = max(l.lastFirst[m.group], m.index)
		}
		for _, p := range l.groups[m.group] {
			if p.index >= m.index {
				break
			}
			// p precedes m. If it was stored (its push succeeded, or it was delivered), it must be
			// deleted before m can go out.
			if (p.push == pushOK || p.recvs > 0) && !p.deleteTried() {
				l.violate("group exclusivity: %s delivered to %s while earlier %s (push %v, %d deliveries) was not deleted",
					m.id, consumer, p.id, p.push, p.recvs)
			}
		}
	}
}

func (l *ledger) receiveFailed(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.receiveErrors++
	l.noteError(err)
}

// deleting records the start of a delete call and returns its tick.
func (l *ledger) deleting(id string) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tick++
	if m := l.msgs[id]; m != nil { // unknown: a phantom, reported by received
		m.delRunning++
	}
	return l.tick
}

// deleted records the end of a delete call that started at tick start.
func (l *ledger) deleted(id string, start uint64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tick++
	m := l.msgs[id]
	if m == nil {
		return
	}
	m.delRunning--
	switch {
	case err == nil:
		m.delOK++
		l.deletesOK++
		if start > m.pushEnd && m.pushEnd != 0 && m.goneAt == 0 {
			m.goneAt = l.tick
		}
	case errors.Is(err, dynamodbqueue.ErrStaleReceiptHandle):
		m.delStale++
		l.deletesStale++
	default:
		m.delUnknown++
		l.deletesErr++
		l.noteError(err)
	}
}

// settled reports whether every message that must be delivered was, and every delivered message
// had a delete that finished: succeeded, or failed in a way that leaves open whether it
// happened (the table tells; see drained).
func (l *ledger) settled() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if m.push == pushPending || (m.push == pushOK && m.recvs == 0) ||
			(m.recvs > 0 && (m.delRunning > 0 || m.delOK+m.delUnknown == 0)) {
			return false
		}
	}
	return true
}

// backlog returns how many messages were pushed successfully but not delivered yet, of the
// tenant (or of all tenants, for "").
func (l *ledger) backlog(tn string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if tn != "" {
		return l.undeliv[tn]
	}
	n := 0
	for _, v := range l.undeliv {
		n += v
	}
	return n
}

// summary is what a run did.
type summary struct {
	pushed, pushFailed, pushCalls, dedupHits int
	delivered, deliveries, duplicates, lost  int
	redelivered                              int // messages delivered more than once
	deletesOK, deletesStale, deletesErr      int
	receiveErrors                            int
	lostIDs                                  []string
}

func (l *ledger) summary() summary {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := summary{
		pushed: l.pushOK, pushFailed: l.pushFailed, pushCalls: l.pushCalls, dedupHits: l.dedupHits,
		deliveries: l.deliveries, duplicates: l.duplicates,
		deletesOK: l.deletesOK, deletesStale: l.deletesStale, deletesErr: l.deletesErr,
		receiveErrors: l.receiveErrors,
	}
	for _, m := range l.msgs {
		if m.recvs > 0 {
			s.delivered++
		}
		if m.recvs > 1 {
			s.redelivered++
		}
		if m.push == pushOK && m.recvs == 0 {
			s.lost++
			s.lostIDs = append(s.lostIDs, m.id)
		}
	}
	sort.Strings(s.lostIDs)
	return s
}

func (s summary) String() string {
	return fmt.Sprintf("pushed=%d (push calls=%d, failed=%d) delivered=%d (deliveries=%d, redelivered messages=%d) "+
		"duplicates=%d lost=%d deletes=%d (stale=%d, failed=%d) receive_errors=%d",
		s.pushed, s.pushCalls, s.pushFailed, s.delivered, s.deliveries, s.redelivered, s.duplicates, s.lost,
		s.deletesOK, s.deletesStale, s.deletesErr, s.receiveErrors)
}

// check fails the test on every invariant violation and on lost messages.
func (l *ledger) check(t *testing.T) summary {
	t.Helper()
	s := l.summary()
	l.mu.Lock()
	v := slices.Clone(l.violations)
	errs := slices.Clone(l.lastErrors)
	l.mu.Unlock()
	for _, msg := range v {
		t.Error(msg)
	}
	// Deletes go through handles from receives: never more successful deletes of a message
	// than deliveries of it.
	l.mu.Lock()
	for _, m := range l.msgs {
		if m.delOK > m.recvs {
			t.Errorf("%s: %d successful deletes but %d deliveries", m.id, m.delOK, m.recvs)
		}
	}
	l.mu.Unlock()
	if s.lost > 0 {
		t.Errorf("%d messages whose push succeeded were never delivered: %v", s.lost, s.lostIDs[:min(len(s.lostIDs), 20)])
	}
	if t.Failed() && len(errs) > 0 {
		t.Logf("last errors:\n  %s", strings.Join(errs, "\n  "))
	}
	return s
}

// produceSpec describes one producer: it pushes count messages in calls of 1..maxBatch
// messages (or until stop closes, when count is 0), of its stream or of its groups.
type produceSpec struct {
	name     string
	tn       tenant
	groups   []string // FIFO groups it owns; none: messages outside groups
	count    int
	maxBatch int
	dedup    float64       // share of messages with a (unique) MessageDeduplicationId
	pause    time.Duration // between calls, at most
	// maxBacklog, if positive, makes the producer wait while its tenant has more undelivered
	// messages, so that consumers keep up whatever the machine's speed.
	maxBacklog int
}

// produce runs one producer. Messages of one group are pushed by one producer only, in order,
// so the index in the ledger is the push order.
func produce(ctx context.Context, stop <-chan struct{}, q *dynamodbqueue.DynamoDBQueue, l *ledger, spec produceSpec, rng *rand.Rand) {
	next := map[string]int{}
	pushedN := 0
	for ctx.Err() == nil && (spec.count == 0 || pushedN < spec.count) {
		select {
		case <-stop:
			return
		default:
		}
		if spec.maxBacklog > 0 && l.backlog(spec.tn.String()) > spec.maxBacklog {
			select {
			case <-time.After(20 * time.Millisecond):
			case <-stop:
				return
			case <-ctx.Done():
				return
			}
			continue
		}
		n := 1 + rng.IntN(max(spec.maxBatch, 1))
		if spec.count > 0 {
			n = min(n, spec.count-pushedN)
		}
		msgs := make([]events.SQSMessage, 0, n)
		for range n {
			stream, group := spec.name, ""
			if len(spec.groups) > 0 {
				group = spec.groups[rng.IntN(len(spec.groups))]
				stream = group
			}
			msg := l.newMessage(spec.tn, stream, group, next[stream])
			next[stream]++
			if spec.dedup > 0 && rng.Float64() < spec.dedup {
				msg.Attributes = mapWith(msg.Attributes, dynamodbqueue.AttributeMessageDeduplicationID, "dd-"+strings.ReplaceAll(msg.Body, "/", "-"))
			}
			msgs = append(msgs, msg)
		}
		res, err := q.PushWithOptions(ctx, dynamodbqueue.PushOptions{}, msgs...)
		l.pushed(msgs, res, err)
		pushedN += n
		if spec.pause > 0 {
			select {
			case <-time.After(time.Duration(rng.Int64N(int64(spec.pause)))):
			case <-stop:
				return
			case <-ctx.Done():
				return
			}
		}
	}
}

func mapWith(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// consumeSpec describes one consumer.
type consumeSpec struct {
	name  string
	tn    tenant
	vt    time.Duration
	batch int
}

// consume receives and deletes messages, one delete call per message, until ctx ends.
// Messages a failed receive returned anyway are processed too.
func consume(ctx context.Context, q *dynamodbqueue.DynamoDBQueue, l *ledger, spec consumeSpec) {
	for ctx.Err() == nil {
		start := l.now()
		msgs, err := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{
			MaxMessages: spec.batch, WaitTime: 100 * time.Millisecond, VisibilityTimeout: spec.vt,
		})
		l.received(spec.name, spec.tn, start, msgs)
		if err != nil && ctx.Err() == nil {
			l.receiveFailed(err)
		}
		for _, m := range msgs {
			if ctx.Err() != nil {
				return
			}
			at := l.deleting(m.Body)
			_, err := q.DeleteMessages(ctx, m.ReceiptHandle)
			l.deleted(m.Body, at, err)
		}
	}
}

// leftover is a message item still in the table.
type leftover struct {
	id      string
	group   string
	hasLock bool // its group's lock item exists, so polls can reach it
	rc      int  // stored receive count
}

// leftovers reads the message items of a tenant directly from the table.
func (e *env) leftovers(ctx context.Context, tn tenant) ([]leftover, error) {
	c := testenv.Client(e.t)
	var out []leftover
	for shard := range max(tn.shards, 1) {
		locks := map[string]bool{}
		var msgs []leftover
		p := dynamodb.NewQueryPaginator(c, &dynamodb.QueryInput{
			TableName:              aws.String(e.table),
			KeyConditionExpression: aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": &types.AttributeValueMemberS{Value: keys.PartitionKey(tn.queue, tn.client, shard)},
			},
			ConsistentRead: aws.Bool(true),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			for _, item := range page.Items {
				sk := item["SK"].(*types.AttributeValueMemberS).Value
				switch {
				case strings.HasPrefix(sk, keys.GroupPrefix):
					g, _ := keys.GroupFromSK(sk)
					locks[g] = true
				case keys.IsMessageSK(sk):
					lo := leftover{id: "?" + sk, rc: numAttr(item["rc"])}
					if b, ok := item["event"].(*types.AttributeValueMemberB); ok {
						if m, err := message.Decode(b.Value); err == nil {
							lo.id = m.Body
						}
					}
					lo.group, _ = keys.GroupFromSK(sk)
					msgs = append(msgs, lo)
				}
			}
		}
		for _, m := range msgs {
			m.hasLock = locks[m.group]
			out = append(out, m)
		}
	}
	return out, nil
}

// drained reports whether the consumers are done: the ledger is settled and no message is left
// in the tenants' queues that a consumer could still receive. Messages of failed pushes that
// sit in a group without a lock item are undeliverable until the next push to their group;
// they are returned as orphans.
func (e *env) drained(ctx context.Context, l *ledger, tenants []tenant) (ok bool, orphans []string, err error) {
	if !l.settled() {
		return false, nil, nil
	}
	for _, tn := range tenants {
		left, err := e.leftovers(ctx, tn)
		if err != nil {
			return false, nil, err
		}
		for _, lo := range left {
			l.mu.Lock()
			m := l.msgs[lo.id]
			failedPush := m != nil && m.push == pushFailed && m.recvs == 0
			l.mu.Unlock()
			if lo.group != "" && !lo.hasLock && failedPush {
				orphans = append(orphans, lo.id)
				continue
			}
			return false, nil, nil
		}
	}
	return true, orphans, nil
}

// waitDrained waits until drained or ctx ends. On timeout it reports what is left.
func (e *env) waitDrained(ctx context.Context, l *ledger, tenants []tenant) {
	e.t.Helper()
	for {
		ok, orphans, err := e.drained(ctx, l, tenants)
		if err == nil && ok {
			if len(orphans) > 0 {
				e.t.Logf("%d messages of failed pushes are stored without their group's lock item "+
					"(undeliverable until the next push to their group): %v", len(orphans), orphans)
			}
			return
		}
		select {
		case <-ctx.Done():
			var left []string
			for _, tn := range tenants {
				lo, _ := e.leftovers(context.Background(), tn)
				for _, x := range lo {
					left = append(left, fmt.Sprintf("%s(lock=%v)", x.id, x.hasLock))
				}
			}
			s := l.summary()
			e.t.Errorf("queue not drained in time: %v; lost so far %v; left in table: %v", s, s.lostIDs, left)
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// run is a workload: producers and consumers over tenants, through the proxy.
type run struct {
	producers []produceSpec
	consumers []consumeSpec
	// produceFor bounds producers with count 0.
	produceFor time.Duration
	// drainWithin bounds the wait, after the producers stop, for everything to be delivered.
	drainWithin time.Duration
}

// exec runs the workload, waits until everything is delivered and deleted, and checks the
// ledger.
func (e *env) exec(l *ledger, seed uint64, r run) summary {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), r.produceFor+r.drainWithin+30*time.Second)
	defer cancel()
	consumeCtx, stopConsumers := context.WithCancel(ctx)
	defer stopConsumers()
	var tenants []tenant
	seen := map[string]bool{}
	var cwg, pwg sync.WaitGroup
	for _, c := range r.consumers {
		if !seen[c.tn.String()] {
			seen[c.tn.String()] = true
			tenants = append(tenants, c.tn)
		}
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			consume(consumeCtx, e.queue(c.tn), l, c)
		}()
	}
	stop := make(chan struct{})
	var stopOnce sync.Once
	for i, p := range r.producers {
		pwg.Add(1)
		rng := rand.New(rand.NewPCG(seed, uint64(i)+1))
		go func() {
			defer pwg.Done()
			produce(ctx, stop, e.queue(p.tn), l, p, rng)
		}()
	}
	if r.produceFor > 0 {
		t := time.AfterFunc(r.produceFor, func() { stopOnce.Do(func() { close(stop) }) })
		defer t.Stop()
	}
	pwg.Wait()
	stopOnce.Do(func() { close(stop) })
	produced := time.Now()
	backlog := l.backlog("")
	drainCtx, cancelDrain := context.WithTimeout(ctx, r.drainWithin)
	e.waitDrained(drainCtx, l, tenants)
	cancelDrain()
	e.t.Logf("producers done with %d messages undelivered; drained %v later", backlog, time.Since(produced).Round(10*time.Millisecond))
	stopConsumers()
	cwg.Wait()
	return l.check(e.t)
}

// numAttr reads a number attribute of an item (0 if absent).
func numAttr(v types.AttributeValue) int {
	if n, ok := v.(*types.AttributeValueMemberN); ok {
		i, _ := strconv.Atoi(n.Value)
		return i
	}
	return 0
}
