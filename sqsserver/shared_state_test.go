package sqsserver

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// Tests of the state servers share through the table: purge marks, move tasks and redrive
// allow policies, each seen by a second Server on the same table.

// newEndpointWith is newEndpoint with the caller's options (Client, Auth and Logger filled in).
func newEndpointWith(t testing.TB, c *dynamodbqueue.Client, opts Options) *endpoint {
	t.Helper()
	opts.Client, opts.Auth, opts.Logger = c, keys, slog.New(slog.DiscardHandler)
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &endpoint{srv: srv, url: hs.URL}
}

// testClock is a clock that tests move forward: real time plus an offset.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// TestPurgeQueueInProgress: a second PurgeQueue within 60 seconds is refused with
// PurgeQueueInProgress by another server on the table, and deletes nothing; after the window
// it purges. Each client of a queue name has its own window.
func TestPurgeQueueInProgress(t *testing.T) {
	c := newTable(t)
	var clk testClock
	e1 := newEndpointWith(t, c, Options{Now: clk.Now})
	e2 := newEndpointWith(t, c, Options{Now: clk.Now})
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			name := "purged-" + proto
			qurl := e1.call(t, proto, "key-a", "CreateQueue", map[string]any{"QueueName": name}).ok(t, "CreateQueue").value("QueueUrl", "QueueUrl")
			q := map[string]any{"QueueUrl": qurl}
			send := func(e *endpoint) {
				e.call(t, proto, "key-a", "SendMessage", map[string]any{"QueueUrl": qurl, "MessageBody": "m"}).ok(t, "SendMessage")
			}
			count := func() string {
				return e1.call(t, proto, "key-a", "GetQueueAttributes", map[string]any{"QueueUrl": qurl,
					"AttributeNames": []string{"ApproximateNumberOfMessages"}}).ok(t, "GetQueueAttributes").value("ApproximateNumberOfMessages", "Value")
			}
			send(e1)
			e1.call(t, proto, "key-a", "PurgeQueue", q).ok(t, "first PurgeQueue")
			if n := count(); n != "0" {
				t.Fatalf("after the first purge: %s messages, want 0", n)
			}
			send(e2)
			clk.Advance(59 * time.Second)
			r := e2.call(t, proto, "key-a", "PurgeQueue", q)
			r.wantCode(t, "PurgeQueue within 60 s, other server", CodePurgeQueueInProgress)
			if proto == "json" && r.header.Get("x-amzn-query-error") != CodePurgeQueueInProgress+";Sender" {
				t.Errorf("x-amzn-query-error = %q", r.header.Get("x-amzn-query-error"))
			}
			if n := count(); n != "1" {
				t.Fatalf("a refused purge deleted messages: %s left, want 1", n)
			}
			// Another client of the name has its own window.
			burl := e1.call(t, proto, "key-b", "CreateQueue", map[string]any{"QueueName": name}).ok(t, "CreateQueue b").value("QueueUrl", "QueueUrl")
			e2.call(t, proto, "key-b", "PurgeQueue", map[string]any{"QueueUrl": burl}).ok(t, "PurgeQueue of another client")

			clk.Advance(2 * time.Second)
			e2.call(t, proto, "key-a", "PurgeQueue", q).ok(t, "PurgeQueue after 61 s")
			if n := count(); n != "0" {
				t.Fatalf("after the purge past the window: %s messages, want 0", n)
			}
			e1.call(t, proto, "key-a", "PurgeQueue", q).wantCode(t, "PurgeQueue right after", CodePurgeQueueInProgress)
		})
	}
}

// moveFixture is a dead-letter queue holding n messages and its source queue, of tenant-a.
type moveFixture struct {
	dlqURL, dlqARN, srcURL, srcARN string
}

func newMoveFixture(t *testing.T, e *endpoint, proto, name string, n int) moveFixture {
	t.Helper()
	var f moveFixture
	f.dlqURL = e.call(t, proto, "key-a", "CreateQueue", map[string]any{"QueueName": name + "-dlq"}).ok(t, "CreateQueue dlq").value("QueueUrl", "QueueUrl")
	f.dlqARN = "arn:aws:sqs:us-east-1:tenant-a:" + name + "-dlq"
	f.srcARN = "arn:aws:sqs:us-east-1:tenant-a:" + name
	f.srcURL = e.call(t, proto, "key-a", "CreateQueue", map[string]any{"QueueName": name, "Attributes": map[string]string{
		"RedrivePolicy": `{"deadLetterTargetArn":"` + f.dlqARN + `","maxReceiveCount":1}`}}).ok(t, "CreateQueue source").value("QueueUrl", "QueueUrl")
	for i := 0; i < n; i++ { // dead letters need not have died: the task moves what the dead-letter queue holds
		e.call(t, proto, "key-a", "SendMessage", map[string]any{"QueueUrl": f.dlqURL, "MessageBody": fmt.Sprint("m", i)}).ok(t, "SendMessage dlq")
	}
	return f
}

// counts returns the visible messages of the dead-letter queue and of the source queue.
func (f moveFixture) counts(t *testing.T, e *endpoint, proto string) (dlq, src int) {
	t.Helper()
	get := func(u string) int {
		v := e.call(t, proto, "key-a", "GetQueueAttributes", map[string]any{"QueueUrl": u,
			"AttributeNames": []string{"ApproximateNumberOfMessages"}}).ok(t, "GetQueueAttributes").value("ApproximateNumberOfMessages", "Value")
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("ApproximateNumberOfMessages %q", v)
		}
		return n
	}
	return get(f.dlqURL), get(f.srcURL)
}

// listTask returns the newest task of the fixture's dead-letter queue, as server e lists it.
func (f moveFixture) listTask(t *testing.T, e *endpoint, proto string) resp {
	t.Helper()
	return e.call(t, proto, "key-a", "ListMessageMoveTasks", map[string]any{"SourceArn": f.dlqARN}).ok(t, "ListMessageMoveTasks")
}

// TestMoveTaskAcrossServers: a task started on one server is listed and cancelled on another;
// its runner on the first stops, the task ends CANCELLED, and every message is in exactly one
// of the two queues. A second start while it runs is refused on either server.
func TestMoveTaskAcrossServers(t *testing.T) {
	c := newTable(t)
	e1, e2 := newEndpoint(t, c), newEndpoint(t, c)
	const n = 10
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			f := newMoveFixture(t, e1, proto, "across-"+proto, n)
			h := e1.call(t, proto, "key-a", "StartMessageMoveTask", map[string]any{"SourceArn": f.dlqARN, "DestinationArn": f.srcARN,
				"MaxNumberOfMessagesPerSecond": 1}).ok(t, "StartMessageMoveTask").value("TaskHandle", "TaskHandle")
			if id, client, queue, ok := parseTaskHandle(h); !ok || id == "" || client != "tenant-a" || queue != "across-"+proto+"-dlq" {
				t.Errorf("TaskHandle %q is not SQS's base64 {taskId, sourceArn}", h)
			}
			l := f.listTask(t, e2, proto)
			if got := l.value("TaskHandle", "TaskHandle"); got != h || l.value("Status", "Status") != "RUNNING" {
				t.Fatalf("the other server lists handle %q status %q, want %q RUNNING: %s", got, l.value("Status", "Status"), h, l.body)
			}
			if got := l.value("DestinationArn", "DestinationArn"); got != f.srcARN {
				t.Errorf("DestinationArn %q, want %q", got, f.srcARN)
			}
			if got := l.value("MaxNumberOfMessagesPerSecond", "MaxNumberOfMessagesPerSecond"); got != "1" {
				t.Errorf("MaxNumberOfMessagesPerSecond %q, want 1", got)
			}
			if got := l.value("ApproximateNumberOfMessagesToMove", "ApproximateNumberOfMessagesToMove"); got != fmt.Sprint(n) {
				t.Errorf("ApproximateNumberOfMessagesToMove %q, want %d", got, n)
			}
			e2.call(t, proto, "key-a", "StartMessageMoveTask", map[string]any{"SourceArn": f.dlqARN}).wantCode(t, "a second task", CodeInvalidParameterValue)
			e2.call(t, proto, "key-b", "CancelMessageMoveTask", map[string]any{"TaskHandle": h}).wantCode(t, "cancel by another tenant", CodeResourceNotFound)
			e2.call(t, proto, "key-a", "CancelMessageMoveTask", map[string]any{"TaskHandle": h}).ok(t, "CancelMessageMoveTask on the other server")
			waitFor(t, "the task to be cancelled", func() bool { return f.listTask(t, e1, proto).value("Status", "Status") == "CANCELLED" })
			e1.srv.moves.wg.Wait() // the runner on e1 has returned: nothing moves any more
			l = f.listTask(t, e2, proto)
			moved, _ := strconv.Atoi(l.value("ApproximateNumberOfMessagesMoved", "ApproximateNumberOfMessagesMoved"))
			dlq, src := f.counts(t, e2, proto)
			if dlq+src != n || src != moved || src == n {
				t.Errorf("after cancelling: %d in the dead-letter queue, %d moved (%d counted), want %d in all and the move stopped", dlq, src, moved, n)
			}
			e1.call(t, proto, "key-a", "CancelMessageMoveTask", map[string]any{"TaskHandle": h}).wantCode(t, "cancel a cancelled task", CodeUnsupportedOperation)
			// A new task may start now, on either server, and lists before the old one.
			e2.call(t, proto, "key-a", "StartMessageMoveTask", map[string]any{"SourceArn": f.dlqARN, "DestinationArn": f.srcARN}).ok(t, "StartMessageMoveTask again")
			waitFor(t, "the second task to complete", func() bool { return f.listTask(t, e1, proto).value("Status", "Status") == "COMPLETED" })
			all := e1.call(t, proto, "key-a", "ListMessageMoveTasks", map[string]any{"SourceArn": f.dlqARN, "MaxResults": 10}).ok(t, "ListMessageMoveTasks all")
			if st := all.values("Status", "Status"); len(st) != 2 || st[0] != "COMPLETED" || st[1] != "CANCELLED" {
				t.Errorf("tasks listed %q, want [COMPLETED CANCELLED]", st)
			}
			if dlq, src := f.counts(t, e1, proto); dlq != 0 || src != n {
				t.Errorf("after the second task: %d in the dead-letter queue, %d in the source, want 0 and %d", dlq, src, n)
			}
		})
	}
}

// TestMoveTaskResumedAfterCrash: a task whose process died (started, never run) is left alone
// by a server while its heartbeat is fresh, and resumed by exactly one of two servers once it
// is stale; a task of a server that drains is released and resumed by another server at once.
// Every message ends in the source queue exactly once.
func TestMoveTaskResumedAfterCrash(t *testing.T) {
	c := newTable(t)
	const n = 6
	ctx := ctxT(t)
	patient := newEndpoint(t, c) // default MoveTaskStaleAfter: the fresh task is not stale
	eager1 := newEndpointWith(t, c, Options{MoveTaskStaleAfter: time.Nanosecond})
	eager2 := newEndpointWith(t, c, Options{MoveTaskStaleAfter: time.Nanosecond})
	const proto = "json"

	f := newMoveFixture(t, patient, proto, "crashed", n)
	dead, err := c.StartMoveTask(ctx, "crashed-dlq", "tenant-a", "crashed", 0) // its runner never runs
	if err != nil {
		t.Fatal(err)
	}
	if st := f.listTask(t, patient, proto).value("Status", "Status"); st != "RUNNING" {
		t.Fatalf("status %q, want RUNNING", st)
	}
	if ts, err := c.MoveTasks(ctx, "crashed-dlq", "tenant-a", 1); err != nil || ts[0].Runner != dead.Runner || ts[0].Moved != 0 {
		t.Fatalf("a server took over a task with a fresh heartbeat: %+v, %v", ts, err)
	}
	// Two servers find it stale at once; one claim wins, and no message moves twice.
	done := make(chan struct{})
	go func() { defer close(done); f.listTask(t, eager2, proto) }()
	f.listTask(t, eager1, proto)
	<-done
	waitFor(t, "the resumed task to complete", func() bool { return f.listTask(t, patient, proto).value("Status", "Status") == "COMPLETED" })
	// A runner that lost the task to the other server adds its moves after the winner completed
	// it; once both servers' runners have returned, the count is final.
	eager1.srv.moves.wg.Wait()
	eager2.srv.moves.wg.Wait()
	if dlq, src := f.counts(t, patient, proto); dlq != 0 || src != n {
		t.Errorf("after the resumed task: %d in the dead-letter queue, %d in the source, want 0 and %d", dlq, src, n)
	}
	if ts, _ := c.MoveTasks(ctx, "crashed-dlq", "tenant-a", 1); ts[0].Runner == dead.Runner || ts[0].Moved != n {
		t.Errorf("resumed task %+v: want another runner and %d moved", ts[0], n)
	}

	// Drain hands a running task over.
	g := newMoveFixture(t, eager1, proto, "drained", 3)
	eager1.call(t, proto, "key-a", "StartMessageMoveTask", map[string]any{"SourceArn": g.dlqARN, "MaxNumberOfMessagesPerSecond": 1}).ok(t, "StartMessageMoveTask")
	if err := eager1.srv.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if ts, err := c.MoveTasks(ctx, "drained-dlq", "tenant-a", 1); err != nil || ts[0].Status != dynamodbqueue.MoveTaskRunning || ts[0].Runner != "" {
		t.Fatalf("after Drain the task is %+v (%v), want RUNNING and released", ts, err)
	}
	waitFor(t, "the released task to complete on another server", func() bool { return g.listTask(t, patient, proto).value("Status", "Status") == "COMPLETED" })
	if dlq, src := g.counts(t, patient, proto); dlq != 0 || src != 3 {
		t.Errorf("after the released task: %d in the dead-letter queue, %d in the source, want 0 and 3", dlq, src)
	}
}

// TestRedriveAllowPolicy: a dead-letter queue's RedriveAllowPolicy is stored (returned by
// GetQueueAttributes on another server) and enforced on CreateQueue and SetQueueAttributes
// RedrivePolicy: denyAll refuses every source, byQueue all but the listed ones, allowAll none,
// with InvalidParameterValue and nothing created or changed. Malformed policies get
// InvalidAttributeValue. Each client's policy is its own.
func TestRedriveAllowPolicy(t *testing.T) {
	c := newTable(t)
	e1, e2 := newEndpoint(t, c), newEndpoint(t, c)
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			arn := func(client, name string) string { return "arn:aws:sqs:us-east-1:" + client + ":" + name }
			redrive := func(dlq string) string {
				return `{"deadLetterTargetArn":"` + arn("tenant-a", dlq) + `","maxReceiveCount":3}`
			}
			create := func(e *endpoint, key, name string, attrs map[string]string) resp {
				return e.call(t, proto, key, "CreateQueue", map[string]any{"QueueName": name, "Attributes": attrs})
			}
			deny, byq := "deny-"+proto, "byq-"+proto
			create(e1, "key-a", deny, map[string]string{"RedriveAllowPolicy": `{"redrivePermission":"denyAll"}`}).ok(t, "CreateQueue denyAll")
			byURL := create(e1, "key-a", byq, map[string]string{"RedriveAllowPolicy": `{"redrivePermission":"byQueue","sourceQueueArns":["` +
				arn("tenant-a", "ok-"+proto) + `"]}`}).ok(t, "CreateQueue byQueue").value("QueueUrl", "QueueUrl")

			create(e2, "key-a", "src-"+proto, map[string]string{"RedrivePolicy": redrive(deny)}).wantCode(t, "CreateQueue to a denyAll DLQ", CodeInvalidParameterValue)
			e1.call(t, proto, "key-a", "GetQueueUrl", map[string]any{"QueueName": "src-" + proto}).wantCode(t, "the refused queue", CodeNonExistentQueue)
			create(e2, "key-a", "other-"+proto, map[string]string{"RedrivePolicy": redrive(byq)}).wantCode(t, "CreateQueue of an unlisted source", CodeInvalidParameterValue)
			create(e2, "key-a", "ok-"+proto, map[string]string{"RedrivePolicy": redrive(byq)}).ok(t, "CreateQueue of the listed source")

			plain := create(e1, "key-a", "plain-"+proto, nil).ok(t, "CreateQueue plain").value("QueueUrl", "QueueUrl")
			set := func(e *endpoint, u, name, v string) resp {
				return e.call(t, proto, "key-a", "SetQueueAttributes", map[string]any{"QueueUrl": u, "Attributes": map[string]string{name: v}})
			}
			set(e2, plain, "RedrivePolicy", redrive(byq)).wantCode(t, "SetQueueAttributes to a byQueue DLQ", CodeInvalidParameterValue)
			if got := e1.call(t, proto, "key-a", "GetQueueAttributes", map[string]any{"QueueUrl": plain, "AttributeNames": []string{"RedrivePolicy"}}).ok(t, "GetQueueAttributes").body; strings.Contains(got, byq) {
				t.Errorf("a refused RedrivePolicy was stored: %s", got)
			}
			got := e2.call(t, proto, "key-a", "GetQueueAttributes", map[string]any{"QueueUrl": byURL, "AttributeNames": []string{"RedriveAllowPolicy"}}).ok(t, "GetQueueAttributes").value("RedriveAllowPolicy", "Value")
			if !strings.Contains(got, `"redrivePermission":"byQueue"`) || !strings.Contains(got, arn("tenant-a", "ok-"+proto)) {
				t.Errorf("RedriveAllowPolicy read on the other server = %q", got)
			}
			set(e1, byURL, "RedriveAllowPolicy", `{"redrivePermission":"allowAll"}`).ok(t, "SetQueueAttributes allowAll")
			set(e2, plain, "RedrivePolicy", redrive(byq)).ok(t, "SetQueueAttributes once allowed")

			for what, bad := range map[string]string{
				"byQueue without sources":     `{"redrivePermission":"byQueue"}`,
				"byQueue with 11 sources":     `{"redrivePermission":"byQueue","sourceQueueArns":["` + strings.TrimSuffix(strings.Repeat(arn("tenant-a", "q")+`","`, 11), `","`) + `"]}`,
				"allowAll with sources":       `{"redrivePermission":"allowAll","sourceQueueArns":["` + arn("tenant-a", "q") + `"]}`,
				"an unknown permission":       `{"redrivePermission":"some"}`,
				"a source that is not an ARN": `{"redrivePermission":"byQueue","sourceQueueArns":["q"]}`,
			} {
				set(e1, byURL, "RedriveAllowPolicy", bad).wantCode(t, "RedriveAllowPolicy "+what, CodeInvalidAttributeValue)
			}

			// tenant-b's queue of the name has no policy of its own: its sources are allowed.
			create(e1, "key-b", deny, nil).ok(t, "CreateQueue tenant-b")
			e1.call(t, proto, "key-b", "CreateQueue", map[string]any{"QueueName": "bsrc-" + proto, "Attributes": map[string]string{
				"RedrivePolicy": `{"deadLetterTargetArn":"` + arn("tenant-b", deny) + `","maxReceiveCount":3}`}}).ok(t, "CreateQueue tenant-b source")
		})
	}
}
