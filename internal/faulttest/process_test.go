package faulttest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/faultproxy"
)

// Environment of a child consumer process (runChildIfAsked).
const (
	envChild     = "FAULTTEST_CHILD" // mode: gated, free or hold
	envEndpoint  = "FAULTTEST_ENDPOINT"
	envTable     = "FAULTTEST_TABLE"
	envQueue     = "FAULTTEST_QUEUE"
	envClient    = "FAULTTEST_CLIENT"
	envVT        = "FAULTTEST_VT"
	envBatch     = "FAULTTEST_BATCH"
	envWork      = "FAULTTEST_WORK"
	envAttempts  = "FAULTTEST_ATTEMPTS"
	childMaxLife = 90 * time.Second
)

// runChildIfAsked turns this test binary into the consumer process that the process tests
// start by running it again with FAULTTEST_CHILD set (TestMain calls it first). It talks on stdout, one line per event:
//
//	ready                    set up, waiting for "start" on stdin (hold mode)
//	recv <body> <count>      received a message (count: ApproximateReceiveCount)
//	batch <n> <size>         end of receive n (gated mode)
//	deleting <body>          about to delete
//	del <body>               deleted
//	delerr <body> <error>    delete failed
//	err <error>              receive failed
//
// Modes: "gated" receives a batch, then deletes one message per "go" line on stdin; "free"
// receives and deletes on its own; "hold" starts on "start" and receives without deleting.
// It exits when stdin closes (and after 90 s at most), or dies by the parent's SIGKILL.
func runChildIfAsked() {
	if mode := os.Getenv(envChild); mode != "" {
		os.Exit(childMain(mode))
	}
}

var stdoutMu sync.Mutex

// say writes one line to stdout in a single write, so a kill never leaves half a line.
func say(format string, args ...any) {
	stdoutMu.Lock()
	defer stdoutMu.Unlock()
	_, _ = os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n")
}

func childMain(mode string) int {
	ctx, cancel := context.WithTimeout(context.Background(), childMaxLife)
	defer cancel()
	vt, _ := time.ParseDuration(os.Getenv(envVT))
	work, _ := time.ParseDuration(os.Getenv(envWork))
	batch, _ := strconv.Atoi(os.Getenv(envBatch))
	attempts, _ := strconv.Atoi(os.Getenv(envAttempts))
	api := dynamodb.NewFromConfig(faultyConfig(os.Getenv(envEndpoint), max(attempts, 1)))
	q := dynamodbqueue.NewFromClient(api, 0).UseTable(os.Getenv(envTable)).
		UseQueueName(os.Getenv(envQueue)).UseClientID(os.Getenv(envClient)).UseLogger(nil).
		UseLongPollInterval(5*time.Millisecond, 50*time.Millisecond)

	// stdin: commands; its end (the parent closed it or died) ends the process.
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	if mode == "hold" {
		say("ready")
		if _, ok := <-lines; !ok { // "start"
			return 0
		}
	}
	if mode != "gated" {
		go func() {
			for range lines {
			}
			stop()
		}()
	}
	del := func(m string, h string) {
		say("deleting %s", m)
		if _, err := q.DeleteMessages(ctx, h); err != nil {
			say("delerr %s %s", m, strings.ReplaceAll(err.Error(), "\n", " "))
			return
		}
		say("del %s", m)
	}
	for n := 1; ctx.Err() == nil; n++ {
		msgs, err := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{
			MaxMessages: batch, MinMessages: batch, WaitTime: 500 * time.Millisecond, VisibilityTimeout: vt,
		})
		for _, m := range msgs {
			say("recv %s %s", m.Body, m.Attributes[dynamodbqueue.AttributeApproximateReceiveCount])
		}
		if err != nil && ctx.Err() == nil {
			say("err %s", strings.ReplaceAll(err.Error(), "\n", " "))
		}
		switch mode {
		case "gated":
			say("batch %d %d", n, len(msgs))
			for _, m := range msgs {
				if _, ok := <-lines; !ok {
					return 0
				}
				del(m.Body, m.ReceiptHandle)
			}
		case "free":
			for _, m := range msgs {
				if work > 0 {
					time.Sleep(work)
				}
				del(m.Body, m.ReceiptHandle)
			}
		case "hold":
			if work > 0 {
				time.Sleep(work)
			}
		}
	}
	return 0
}

// child is a running consumer process.
type child struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // stdout, closed at EOF
	stderr *bytes.Buffer
	waited chan error
}

// startChild runs this test binary as a consumer of tn in the given mode, through the proxy.
func startChild(t *testing.T, e *env, name, mode string, tn tenant, vt time.Duration, batch int, work time.Duration, attempts int) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.count=1") // TestMain runs the child
	cmd.Env = append(os.Environ(),
		envChild+"="+mode, envEndpoint+"="+e.proxy.URL(), envTable+"="+e.table,
		envQueue+"="+tn.queue, envClient+"="+tn.client, envVT+"="+vt.String(),
		envBatch+"="+strconv.Itoa(batch), envWork+"="+work.String(), envAttempts+"="+strconv.Itoa(attempts))
	c := &child{t: t, name: name, cmd: cmd, lines: make(chan string, 1024), stderr: &bytes.Buffer{}, waited: make(chan error, 1)}
	cmd.Stderr = c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		c.waited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // by its own pid; a no-op error if it has exited
		_ = c.stdin.Close()
	})
	return c
}

// next returns the next stdout line, or false at EOF or when ctx ends.
func (c *child) next(ctx context.Context) (string, bool) {
	select {
	case l, ok := <-c.lines:
		return l, ok
	case <-ctx.Done():
		return "", false
	}
}

func (c *child) send(line string) {
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		c.t.Fatalf("%s: write %q: %v", c.name, line, err)
	}
}

// kill sends SIGKILL and waits for the process to die of it. The rest of its output, up to
// its death, goes to p.
func (c *child) kill(ctx context.Context, p *procLog) {
	c.t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatalf("%s: kill: %v", c.name, err)
	}
	for line := range c.lines {
		p.note(line)
	}
	select {
	case err := <-c.waited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			c.t.Fatalf("%s: exit %v, want death by SIGKILL\n%s", c.name, err, c.stderr)
		}
	case <-ctx.Done():
		c.t.Fatalf("%s: did not die", c.name)
	}
}

// stopAndWait closes stdin, which ends the child, and waits for it.
func (c *child) stopAndWait(ctx context.Context) {
	c.t.Helper()
	_ = c.stdin.Close()
	select {
	case err := <-c.waited:
		if err != nil {
			c.t.Errorf("%s: %v\n%s", c.name, err, c.stderr)
		}
	case <-ctx.Done():
		c.t.Fatalf("%s: did not exit", c.name)
	}
}

// procLog is what a child said, by message.
type procLog struct {
	recv     map[string][]int // body -> receive counts of each delivery
	deleting map[string]bool
	del      map[string]bool
	errs     []string
}

func newProcLog() *procLog {
	return &procLog{recv: map[string][]int{}, deleting: map[string]bool{}, del: map[string]bool{}}
}

// note records one line; it returns the line's verb and message.
func (p *procLog) note(line string) (verb, body string) {
	f := strings.SplitN(line, " ", 3)
	verb = f[0]
	if len(f) > 1 {
		body = f[1]
	}
	switch verb {
	case "recv":
		rc := 0
		if len(f) > 2 {
			rc, _ = strconv.Atoi(f[2])
		}
		p.recv[body] = append(p.recv[body], rc)
	case "deleting":
		p.deleting[body] = true
	case "del":
		p.del[body] = true
	case "delerr", "err":
		p.errs = append(p.errs, line)
	}
	return verb, body
}

// inHand returns what the child held when it died: received, and not (maybe) deleted.
func (p *procLog) inHand() []string {
	var out []string
	for b := range p.recv {
		if !p.del[b] && !p.deleting[b] {
			out = append(out, b)
		}
	}
	return out
}

// TestKilledConsumerProcess kills consumer processes with SIGKILL in the middle of their work,
// through faults: first one that holds a batch (and is perhaps deleting one message of it),
// then one that runs freely and dies wherever it is (in a receive, with claims applied that it
// never reported, or in a delete). The parent then drains the queue: every message must be
// delivered, and every message a dead child held must come back to the parent after its
// visibility timeout.
func TestKilledConsumerProcess(t *testing.T) {
	t.Parallel()
	seed := seedFor(t, 6006)
	e := newEnv(t, seed, 4, faults(1)...)
	l := newLedger()
	tn := tenant{queue: "killed", client: "c"}
	const n = 60
	pushDirect(t, e, l, tn, n, nil)
	const vt = 2 * time.Second
	ctx := ctxFor(t, 50*time.Second)
	rng := rand.New(rand.NewPCG(seed, 7))

	// A gated child: it deletes one message per "go". Batches 1 and 2 are processed; in batch 3
	// one message is deleted, the next one is let go and the process is killed at once.
	gated := newProcLog()
	c := startChild(t, e, "gated", "gated", tn, vt, 5, 0, 4)
	for batchNo := 1; ; {
		line, ok := c.next(ctx)
		if !ok {
			t.Fatalf("gated child ended early: %s", c.stderr)
		}
		verb, _ := gated.note(line)
		if verb != "batch" {
			continue
		}
		size, _ := strconv.Atoi(strings.Fields(line)[2])
		if batchNo >= 3 && size >= 2 {
			c.send("go")
			waitFor(ctx, t, c, gated, "del", "delerr")
			c.send("go")
			c.kill(ctx, gated)
			break
		}
		for range size {
			c.send("go")
			waitFor(ctx, t, c, gated, "del", "delerr")
		}
		batchNo++
	}
	heldByGated := gated.inHand()
	if len(heldByGated) == 0 {
		t.Fatalf("the gated child held nothing when it was killed: %+v", gated)
	}

	// A free-running child, killed after a random number of messages and a random pause.
	free := newProcLog()
	c = startChild(t, e, "free", "free", tn, vt, 4, 5*time.Millisecond, 4)
	want := 8 + rng.IntN(10)
	for got := 0; got < want; {
		line, ok := c.next(ctx)
		if !ok {
			t.Fatalf("free child ended early: %s", c.stderr)
		}
		if verb, _ := free.note(line); verb == "recv" {
			got++
		}
	}
	time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
	c.kill(ctx, free)

	// The parent drains the queue.
	var wg sync.WaitGroup
	dctx, cancel := context.WithCancel(ctx)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			consume(dctx, e.queue(tn), l, consumeSpec{name: fmt.Sprintf("parent%d", i), tn: tn, vt: vt, batch: 5})
		}()
	}
	// The ledger only sees the parent's deliveries, so "settled" would wait for messages the
	// children deleted: wait for the table to be empty instead.
	for {
		left, err := e.leftovers(dctx, tn)
		if err == nil && len(left) == 0 {
			break
		}
		select {
		case <-dctx.Done():
			t.Fatalf("queue not drained: %d left", len(left))
		case <-time.After(100 * time.Millisecond):
		}
	}
	cancel()
	wg.Wait()

	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range l.violations {
		t.Error(v)
	}
	for id, m := range l.msgs {
		if m.recvs == 0 && gated.recv[id] == nil && free.recv[id] == nil {
			t.Errorf("%s was never delivered to anyone", id)
		}
	}
	// What a dead child held came back after its visibility timeout: to the parent, or (for
	// the first child's) to the second child.
	redelivered := func(id string, toFree bool) bool {
		if m := l.msgs[id]; m.recvs > 0 && m.maxRC >= 2 {
			return true
		}
		return toFree && slices.ContainsFunc(free.recv[id], func(rc int) bool { return rc >= 2 })
	}
	for _, id := range heldByGated {
		if !redelivered(id, true) {
			t.Errorf("%s, held by the killed gated child, never came back (parent: %d deliveries, free child: %v)",
				id, l.msgs[id].recvs, free.recv[id])
		}
	}
	for _, id := range free.inHand() {
		if !redelivered(id, false) {
			t.Errorf("%s, held by the killed free child, never came back to the parent", id)
		}
	}
	t.Logf("gated child: %d received, %d deleted, %d held at its death; free child: %d received, %d deleted, %d held; "+
		"parent: %d received; %v", len(gated.recv), len(gated.del), len(gated.inHand()), len(free.recv), len(free.del),
		len(free.inHand()), l.deliveries, e.proxy.Stats())
}

// waitFor reads the child's lines until one with one of the verbs.
func waitFor(ctx context.Context, t *testing.T, c *child, p *procLog, verbs ...string) string {
	t.Helper()
	for {
		line, ok := c.next(ctx)
		if !ok {
			t.Fatalf("%s ended while we waited for %v: %s", c.name, verbs, c.stderr)
		}
		verb, _ := p.note(line)
		for _, v := range verbs {
			if verb == v {
				return line
			}
		}
	}
}

// TestTwoProcessesClaimExclusively has two consumer processes poll the same queue at once,
// through faults that include dropped claim responses, with a visibility timeout longer than
// the test: every message must be received by exactly one process, exactly once.
func TestTwoProcessesClaimExclusively(t *testing.T) {
	t.Parallel()
	seed := seedFor(t, 7007)
	e := newEnv(t, seed, 10,
		faultproxy.Rule{Kind: faultproxy.DropResponse, Probability: 0.1, Operations: []string{"UpdateItem", "GetItem"}},
		faultproxy.Rule{Kind: faultproxy.ProvisionedThroughputExceeded, Probability: 0.03},
		faultproxy.Rule{Kind: faultproxy.InternalServerError, Probability: 0.03},
		faultproxy.Rule{Kind: faultproxy.ConnectionReset, Probability: 0.03},
		faultproxy.Rule{Kind: faultproxy.Latency, Probability: 0.2, Delay: time.Millisecond, MaxDelay: 10 * time.Millisecond},
	)
	l := newLedger()
	tn := tenant{queue: "race", client: "c"}
	const n = 150
	pushDirect(t, e, l, tn, n, nil)
	ctx := ctxFor(t, 50*time.Second)

	kids := []*child{
		startChild(t, e, "A", "hold", tn, 5*time.Minute, 4, 0, 10),
		startChild(t, e, "B", "hold", tn, 5*time.Minute, 4, 0, 10),
	}
	logs := []*procLog{newProcLog(), newProcLog()}
	for i, c := range kids {
		if line := waitFor(ctx, t, c, logs[i], "ready"); line != "ready" {
			t.Fatalf("%s: %q", c.name, line)
		}
	}
	for _, c := range kids {
		c.send("start")
	}
	type event struct {
		who  int
		line string
	}
	events := make(chan event)
	for i, c := range kids {
		go func() {
			for {
				line, ok := c.next(ctx)
				if !ok {
					return
				}
				select {
				case events <- event{i, line}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	byWhom := map[string][]string{}
	for distinct := 0; distinct < n; {
		select {
		case ev := <-events:
			verb, body := logs[ev.who].note(ev.line)
			if verb != "recv" {
				continue
			}
			if len(byWhom[body]) == 0 {
				distinct++
			}
			byWhom[body] = append(byWhom[body], kids[ev.who].name)
		case <-ctx.Done():
			t.Fatalf("only %d of %d messages received before the deadline", distinct, n)
		}
	}
	for _, c := range kids {
		c.stopAndWait(ctx)
	}
	for body, who := range byWhom {
		if len(who) > 1 {
			t.Errorf("%s received %d times within one visibility timeout, by %v", body, len(who), who)
		}
	}
	for i, p := range logs {
		for body, rcs := range p.recv {
			if len(rcs) != 1 || rcs[0] != 1 {
				t.Errorf("%s got %s with receive counts %v, want one receive, the first", kids[i].name, body, rcs)
			}
		}
		if len(p.recv) == 0 {
			t.Errorf("%s received nothing: the processes did not compete", kids[i].name)
		}
	}
	st, err := e.direct(tn).Stats(ctxFor(t, 10*time.Second))
	if err != nil || st.InFlight != n || st.Visible != 0 {
		t.Errorf("queue stats %+v, %v; want all %d in flight", st, err, n)
	}
	t.Logf("A received %d, B received %d (errors: A %d, B %d); %v", len(logs[0].recv), len(logs[1].recv),
		len(logs[0].errs), len(logs[1].errs), e.proxy.Stats())
	if ps := e.proxy.Stats(); ps.CountOp(faultproxy.DropResponse, "UpdateItem") == 0 {
		t.Errorf("no claim response was dropped: %v", ps)
	}
}
