package dynamodbqueue_test

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// TestFairGroupShardIsFixed pins the group-to-shard mapping: it is part of the stored layout
// (every producer of a pair, in any process and version, must agree), so a change of these
// values is a breaking change, not a refactoring.
func TestFairGroupShardIsFixed(t *testing.T) {
	for _, c := range []struct {
		group  string
		shards int
		want   int
	}{
		{"tenant-1", 1, 0}, {"tenant-1", 0, 0}, {"tenant-1", -3, 0},
		// 64-bit FNV-1a of the group's bytes, modulo the shard count.
		{"a", 8, int(0xaf63dc4c8601ec8c % 8)},
		{"tenant-1", 8, fnv1a("tenant-1") % 8},
		{"tenant-2", 4, fnv1a("tenant-2") % 4},
		{"", 5, int(0xcbf29ce484222325 % 5)},
	} {
		if got := dynamodbqueue.FairGroupShard(c.group, c.shards); got != c.want {
			t.Errorf("FairGroupShard(%q, %d) = %d, want %d", c.group, c.shards, got, c.want)
		}
	}
	// Many groups use every shard.
	used := map[int]bool{}
	for i := range 64 {
		used[dynamodbqueue.FairGroupShard(fmt.Sprintf("tenant-%d", i), 8)] = true
	}
	if len(used) != 8 {
		t.Errorf("64 groups use %d of 8 shards", len(used))
	}
}

// fnv1a is the reference 64-bit FNV-1a hash, written out from its definition.
func fnv1a(s string) int {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	return int(h % (1 << 62)) // the same residues modulo the small counts used above
}

// FuzzFairGroupShard: the shard is always within [0, shards), and the same for the same input.
func FuzzFairGroupShard(f *testing.F) {
	f.Add("tenant-1", 8)
	f.Add("", 1)
	f.Add("~!@#", 1000)
	f.Fuzz(func(t *testing.T, group string, shards int) {
		got := dynamodbqueue.FairGroupShard(group, shards)
		if shards <= 1 && got != 0 || shards > 1 && (got < 0 || got >= shards) {
			t.Fatalf("FairGroupShard(%q, %d) = %d", group, shards, got)
		}
		if again := dynamodbqueue.FairGroupShard(group, shards); again != got {
			t.Fatalf("FairGroupShard(%q, %d) = %d, then %d", group, shards, got, again)
		}
	})
}

// fairGroups returns two fair groups that FairGroupShard puts on different shards of n.
func fairGroups(t *testing.T, n int) (noisy, quiet string) {
	noisy = "noisy"
	for i := range 100 {
		quiet = fmt.Sprintf("quiet-%d", i)
		if dynamodbqueue.FairGroupShard(quiet, n) != dynamodbqueue.FairGroupShard(noisy, n) {
			return noisy, quiet
		}
	}
	t.Fatal("no group on another shard")
	return
}

func fairMessages(group string, n int) []events.SQSMessage {
	msgs := bodies(n, group)
	for i := range msgs {
		msgs[i].Attributes = map[string]string{dynamodbqueue.AttributeFairGroupID: group}
	}
	return msgs
}

// receivesUntil receives (MaxMessages 10, messages kept hidden) up to max times and returns the
// number of the receive that returned a message with body `body`, or 0.
func receivesUntil(t *testing.T, q *dynamodbqueue.DynamoDBQueue, body string, max int) int {
	t.Helper()
	for i := 1; i <= max; i++ {
		got, err := q.ReceiveMessages(ctxT(t), dynamodbqueue.ReceiveOptions{MaxMessages: 10, VisibilityTimeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			t.Fatalf("receive %d returned nothing; the noisy backlog should last", i)
		}
		if slices.Contains(bodyList(got), body) {
			return i
		}
	}
	return 0
}

// TestFairGroupsQuietGroupIsNotStarved: on a pair with 4 shards, the noisy group's backlog
// (300 messages) fills one shard; a message of a quiet group pushed after it lands on another
// shard and is received within 4 receives of MaxMessages 10. The bound: a receive pass starts at
// the shard after the previous pass's first (receivePass), so one of any 4 consecutive passes
// starts at the quiet shard or at an empty one before it in the rotation, and reads the quiet
// message before it reaches the backlog. With one shard the same message waits behind the
// backlog (FIFO order): none of the first 4 receives (40 of 301 messages) returns it. The
// message keeps its fair group attribute.
func TestFairGroupsQuietGroupIsNotStarved(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, _ := newDefClient(t, nil, 0)
	const shards, backlog, bound = 4, 300, 4
	noisy, quiet := fairGroups(t, shards)
	for _, n := range []int{shards, 1} {
		name := fmt.Sprintf("fair-%d", n)
		if _, err := c.CreateQueue(ctx, name, dynamodbqueue.QueueAttributes{Shards: n}); err != nil {
			t.Fatal(err)
		}
		q := mustQueue(t, c, name, "tenant")
		push(t, q, fairMessages(noisy, backlog)...)
		quietMsg := fairMessages(quiet, 1)
		push(t, q, quietMsg...)
		at := receivesUntil(t, q, quietMsg[0].Body, bound)
		switch {
		case n > 1 && at == 0:
			t.Errorf("%d shards: the quiet group's message not among the first %d receives", n, bound)
		case n == 1 && at != 0:
			t.Errorf("1 shard: the quiet group's message came at receive %d, before the backlog", at)
		}
		t.Logf("%d shards: quiet message at receive %d (0: not within %d)", n, at, bound)
	}
}

// TestFairGroupWakeVoidsIdleMarks: a process marks the quiet group's shard idle (its passes
// found it empty) with marks that would last an hour (LongPollMaxInterval), then another
// process pushes the quiet group's message there. The watcher's signal of that push's hint
// voids the marks: the message is received within 4 receives after the signal (the bound of
// TestFairGroupsQuietGroupIsNotStarved), not an hour later. Signals of earlier hints may come
// first; each signal starts another round of up to 4 receives, at most 6 rounds.
func TestFairGroupWakeVoidsIdleMarks(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	admin, table := newDefClient(t, nil, 0)
	const shards, bound, rounds = 4, 4, 6
	if _, err := admin.CreateQueue(ctx, "fair", dynamodbqueue.QueueAttributes{Shards: shards}); err != nil {
		t.Fatal(err)
	}
	noisy, quiet := fairGroups(t, shards)
	producer := mustQueue(t, admin, "fair", "tenant")
	push(t, producer, fairMessages(noisy, 10*(bound+bound*rounds)+50)...)

	consumerClient, err := dynamodbqueue.New(dynamodbqueue.Options{API: testenv.Client(t), Table: table,
		Logger: slog.New(slog.DiscardHandler), LongPollMaxInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := consumerClient.Watch("fair", "tenant")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	consumer := mustQueue(t, consumerClient, "fair", "tenant")
	quietMsg := fairMessages(quiet, 1)
	// One rotation: the pass that starts after the noisy shard reads (and marks) every empty one.
	if at := receivesUntil(t, consumer, quietMsg[0].Body, bound); at != 0 {
		t.Fatalf("quiet message received at %d before it was pushed", at)
	}
	push(t, producer, quietMsg...)
	for r := 1; r <= rounds; r++ {
		select {
		case <-sub.Ready():
		case <-ctx.Done():
			t.Fatalf("round %d: no signal from the watcher: %v", r, ctx.Err())
		}
		if at := receivesUntil(t, consumer, quietMsg[0].Body, bound); at != 0 {
			t.Logf("received at receive %d of round %d", at, r)
			return
		}
	}
	t.Errorf("the quiet message not received in %d rounds of %d receives after signals", rounds, bound)
}

// TestFairGroupAttributeValidated: a bad fair group fails the push with ErrInvalidGroup (and
// ErrInvalidMessage), naming the attribute, and writes nothing.
func TestFairGroupAttributeValidated(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "fair", "tenant").UseShards(4)
	for _, bad := range []string{"", strings.Repeat("g", 129), "has space", "ümlaut"} {
		msgs := []events.SQSMessage{{Body: "ok"}, {Body: "bad", Attributes: map[string]string{dynamodbqueue.AttributeFairGroupID: bad}}}
		failed, err := q.PushMessages(ctxT(t), 0, msgs...)
		if !errors.Is(err, dynamodbqueue.ErrInvalidGroup) || !errors.Is(err, dynamodbqueue.ErrInvalidMessage) ||
			!strings.Contains(err.Error(), dynamodbqueue.AttributeFairGroupID) || len(failed) != 2 {
			t.Errorf("group %q: failed %d, err %v; want both failed with ErrInvalidGroup naming %s", bad, len(failed), err, dynamodbqueue.AttributeFairGroupID)
		}
	}
	if n := itemCount(t, q); n != 0 {
		t.Errorf("%d items written", n)
	}
}

// TestFairGroupPlacementAndRedrive: messages of a fair group all go to the group's shard and
// come back with the attribute; after dead-lettering and redrive they still carry it and are
// placed on the group's shard again.
func TestFairGroupPlacementAndRedrive(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, _ := newDefClient(t, nil, 0)
	const shards = 4
	if _, err := c.CreateQueue(ctx, "dlq", dynamodbqueue.QueueAttributes{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateQueue(ctx, "src", dynamodbqueue.QueueAttributes{Shards: shards,
		RedrivePolicy: &dynamodbqueue.RedrivePolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 1}}); err != nil {
		t.Fatal(err)
	}
	q := mustQueue(t, c, "src", "tenant")
	const group = "tenant-42"
	want := fmt.Sprintf("src|tenant|%d", dynamodbqueue.FairGroupShard(group, shards))
	push(t, q, fairMessages(group, 12)...)
	check := func(stage string, got []events.SQSMessage) {
		t.Helper()
		if len(got) != 12 {
			t.Fatalf("%s: received %d of 12", stage, len(got))
		}
		for _, m := range got {
			if pk := shardOf(t, q, m); pk != want || m.Attributes[dynamodbqueue.AttributeFairGroupID] != group {
				t.Errorf("%s: %s on %s with group %q, want %s and %q", stage, m.Body, pk, m.Attributes[dynamodbqueue.AttributeFairGroupID], want, group)
			}
		}
	}
	got, err := q.PollMessages(ctx, 0, time.Hour, 100)
	if err != nil {
		t.Fatal(err)
	}
	check("first receive", got)
	// Release them: the next receive counts 2 > MaxReceiveCount and dead-letters them.
	if _, err := q.ChangeVisibility(ctx, 0, toHandles(got)...); err != nil {
		t.Fatal(err)
	}
	if again := mustPoll(t, q, time.Hour, 100); len(again) != 0 {
		t.Fatalf("%d messages delivered instead of dead-lettered", len(again))
	}
	moved, err := q.RedriveDeadLetters(ctx, 100)
	if err != nil || moved != 12 {
		t.Fatalf("RedriveDeadLetters = %d, %v; want 12", moved, err)
	}
	got, err = q.PollMessages(ctx, 0, time.Hour, 100)
	if err != nil {
		t.Fatal(err)
	}
	check("after redrive", got)
}

// TestFairGroupShardCountChange: lowering a pair's shard count from 4 to 2 leaves the fair
// group's stored messages on their shard (above the new count: drained, not moved), puts new
// ones on the group's shard among 2, and every message is received exactly once.
func TestFairGroupShardCountChange(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, _ := newDefClient(t, nil, 0)
	if _, err := c.CreateQueue(ctx, "resharded", dynamodbqueue.QueueAttributes{Shards: 4}); err != nil {
		t.Fatal(err)
	}
	q := mustQueue(t, c, "resharded", "tenant")
	group := ""
	for i := 0; group == ""; i++ {
		if g := fmt.Sprintf("tenant-%d", i); dynamodbqueue.FairGroupShard(g, 4) >= 2 {
			group = g // a shard that the lower count gives up
		}
	}
	before := fairMessages(group, 15)
	push(t, q, before...)
	if _, err := c.UpdateQueue(ctx, "resharded", dynamodbqueue.QueueAttributes{Shards: 2}, 0); err != nil {
		t.Fatal(err)
	}
	after := fairMessages(group, 15)
	for i := range after {
		after[i].Body = "after-" + after[i].Body
	}
	push(t, q, after...)
	want := map[string]string{} // body -> partition key
	for _, m := range before {
		want[m.Body] = fmt.Sprintf("resharded|tenant|%d", dynamodbqueue.FairGroupShard(group, 4))
	}
	for _, m := range after {
		want[m.Body] = fmt.Sprintf("resharded|tenant|%d", dynamodbqueue.FairGroupShard(group, 2))
	}
	seen := map[string]bool{}
	for range 10 {
		got := mustPoll(t, q, time.Hour, 10)
		for _, m := range got {
			if seen[m.Body] {
				t.Errorf("%s received twice", m.Body)
			}
			seen[m.Body] = true
			if pk := shardOf(t, q, m); pk != want[m.Body] {
				t.Errorf("%s on %s, want %s", m.Body, pk, want[m.Body])
			}
		}
	}
	if len(seen) != len(want) {
		t.Errorf("received %d of %d messages", len(seen), len(want))
	}
}
