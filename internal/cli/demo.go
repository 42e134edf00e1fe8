package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/consumer"
	"github.com/dynamodbqueue/dynamodbqueue/internal/dynalite"
	"github.com/dynamodbqueue/dynamodbqueue/internal/wait"
)

// demoOptions tune `ddbq demo`.
type demoOptions struct {
	messages    int           // per tenant
	workers     int           // per tenant
	visibility  time.Duration // visibility timeout of the workers' receives
	maxReceives int           // MaxReceiveCount of the dead-letter queues
	timeout     time.Duration // give up after this long
	keep        bool          // keep the table
}

// demoTenant is one (queue, client) pair of the demo and what happens to it.
type demoTenant struct {
	queue, client string
	poison, flaky int // messages that always fail, and that fail on their first delivery

	q *dynamodbqueue.DynamoDBQueue

	pushed, delivered, redelivered, failures, foreign, duplicates atomic.Int64
	deadLettered                                                  atomic.Int64 // from Stats
	seen                                                          sync.Map     // seq -> true once processed
}

func (t *demoTenant) name() string { return t.queue + "/" + t.client }

// demoBody is the body of a demo message.
type demoBody struct {
	Tenant string `json:"tenant"`
	Seq    int    `json:"seq"`
	Kind   string `json:"kind"` // ok, flaky (fails once), poison (always fails)
}

func newDemoTenants() []*demoTenant {
	return []*demoTenant{
		{queue: "orders", client: "acme", poison: 2, flaky: 3},
		{queue: "orders", client: "globex", poison: 1, flaky: 2},
		{queue: "orders", client: "initech", poison: 0, flaky: 4},
		{queue: "emails", client: "acme", poison: 1, flaky: 1},
		{queue: "emails", client: "umbrella", poison: 2, flaky: 0},
	}
}

// kinds spreads the poison and flaky messages evenly over a tenant's n messages, each on
// its own message (as many as fit), and returns the kind of every message.
func (t *demoTenant) kinds(n int) []string {
	k := make([]string, n)
	for i := range k {
		k[i] = "ok"
	}
	place := func(kind string, count int) {
		for i := range count {
			pos := (i + 1) * n / (count + 1)
			for tries := 0; tries < n && k[pos] != "ok"; tries++ {
				pos = (pos + 1) % n
			}
			if k[pos] == "ok" {
				k[pos] = kind
			}
		}
	}
	place("poison", t.poison)
	place("flaky", t.flaky)
	return k
}

func (a *app) demoCommand() *cobra.Command {
	o := demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a short multi-tenant scenario on a local DynamoDB and summarise it",
		Long: `Run a short multi-tenant scenario: two queues (orders, emails) with several clients each,
one table, a producer and a consumer (package consumer) per tenant running side by side.
Some messages fail once and are delivered again after a short backoff; some always fail and
end up in their tenant's dead-letter queue after --max-receives receives. Live progress, then
a summary table per tenant.

The demo uses --endpoint (or DDBQ_ENDPOINT / DYNAMODBQUEUE_ENDPOINT) or --local; with
neither, it starts a private dynalite and stops it at the end. It creates its own table
(ddbq-demo-<random>) and drops it at the end.`,
		Example: `  ddbq demo
  ddbq demo --local --messages 50`,
		Args: noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			return a.demo(cmd.Context(), o)
		}),
	}
	fl := cmd.Flags()
	fl.IntVar(&o.messages, "messages", 30, "messages per tenant")
	fl.IntVar(&o.workers, "workers", 2, "workers per tenant")
	fl.DurationVar(&o.visibility, "visibility", time.Second, "visibility timeout of the consumers (renewed while a handler runs)")
	fl.IntVar(&o.maxReceives, "max-receives", 2, "receives before a message is dead-lettered")
	fl.DurationVar(&o.timeout, "timeout", 45*time.Second, "give up after this long")
	fl.BoolVar(&o.keep, "keep", false, "keep the table instead of dropping it")
	return cmd
}

func (a *app) demo(ctx context.Context, o demoOptions) (err error) {
	switch {
	case o.messages < 1 || o.messages > 10000:
		return usageError("--messages %d, must be 1..10000", o.messages)
	case o.workers < 1 || o.workers > 50:
		return usageError("--workers %d, must be 1..50", o.workers)
	case o.maxReceives < 1 || o.maxReceives > 10:
		return usageError("--max-receives %d, must be 1..10", o.maxReceives)
	case o.visibility < consumer.MinVisibilityTimeout || o.visibility > time.Minute:
		return usageError("--visibility %v, must be %v..1m", o.visibility, consumer.MinVisibilityTimeout)
	}
	out := a.stdout
	if a.g.json {
		out = io.Discard // only the summary object
	}
	logger := slog.New(slog.DiscardHandler)
	if a.g.verbose {
		logger = a.logger
	}

	// Where DynamoDB is: the given endpoint, the local dynalite, or a private one.
	var cfg aws.Config
	var where string
	switch {
	case a.g.local || a.g.endpoint != "":
		if cfg, err = a.awsConfig(ctx); err != nil {
			return err
		}
		where = a.endpoint
	default:
		dir, err := a.installDir()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "starting a private dynalite (no --endpoint or --local given) ...\n")
		if err := dynalite.Install(ctx, dir); err != nil {
			return withHint(ExitError, err, "dynalite needs Node.js and npm; or pass --endpoint URL")
		}
		srv, err := dynalite.Start(ctx, dynalite.Options{Dir: dir})
		if err != nil {
			return err
		}
		defer func() {
			if serr := srv.Stop(); serr != nil && err == nil {
				err = serr
			}
			fmt.Fprintf(out, "stopped the private dynalite (pid %d)\n", srv.PID())
		}()
		cfg = a.withRequestLog(dynalite.AWSConfig(srv.Endpoint()))
		where = srv.Endpoint() + " (private dynalite, pid " + strconv.Itoa(srv.PID()) + ")"
		a.endpoint = srv.Endpoint()
	}

	table := dynamodbqueue.RandomPostfix("ddbq-demo")
	base := dynamodbqueue.NewDynamoDBQueue(ctx, cfg, 0).UseTable(table).UseLogger(logger)
	if _, err := base.CreateQueueTable(ctx); err != nil {
		return err
	}
	defer func() {
		if o.keep {
			fmt.Fprintf(out, "kept table %s\n", table)
			return
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := base.DropQueueTable(dctx); derr != nil && err == nil {
			err = derr
		}
		fmt.Fprintf(out, "dropped table %s\n", table)
	}()

	tenants := newDemoTenants()
	total := 0
	for _, t := range tenants {
		t.q = base.Clone().UseQueueName(t.queue).UseClientID(t.client).
			UseVisibilityTimeout(o.visibility).
			UseDeadLetterQueue(&dynamodbqueue.DeadLetterConfig{MaxReceiveCount: o.maxReceives})
		total += o.messages
	}
	fmt.Fprintf(out, "ddbq demo: %d tenants in 2 queues, one DynamoDB table\n", len(tenants))
	fmt.Fprintf(out, "  DynamoDB    %s\n", where)
	fmt.Fprintf(out, "  table       %s (created now, dropped at the end)\n", table)
	fmt.Fprintf(out, "  tenants    ")
	for _, t := range tenants {
		fmt.Fprintf(out, " %s", t.name())
	}
	fmt.Fprintf(out, "\n  per tenant  a producer pushing %d messages, a consumer with %d workers\n", o.messages, o.workers)
	fmt.Fprintf(out, "  failures    'flaky' messages fail once and are retried; 'poison' ones always fail\n")
	fmt.Fprintf(out, "              and go to the tenant's dead-letter queue (<queue>-dlq) after %d receives\n\n", o.maxReceives)

	// One consumer per tenant, so the handler knows whose messages it should see.
	consumers := make([]*consumer.Consumer, len(tenants))
	for i, t := range tenants {
		c, err := consumer.New(t.q, consumer.HandlerFunc(func(ctx context.Context, m events.SQSMessage) error {
			return demoHandle(ctx, t, m)
		}), consumer.Options{
			Concurrency:       o.workers,
			VisibilityTimeout: o.visibility,
			// A failed message is retried after 250ms, then 500ms, ...; the receive after the
			// last allowed one moves it to the dead-letter queue.
			Backoff:  consumer.Backoff{Min: 250 * time.Millisecond, Max: 2 * time.Second},
			WaitTime: 250 * time.Millisecond,
			Logger:   logger,
		})
		if err != nil {
			return err
		}
		consumers[i] = c
	}

	runCtx, cancelRun := context.WithTimeout(ctx, o.timeout)
	defer cancelRun()
	workCtx, stopWork := context.WithCancel(runCtx)
	defer stopWork()

	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, 2*len(tenants))
	for i, t := range tenants {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := demoProduce(workCtx, t, o.messages); err != nil && workCtx.Err() == nil {
				errc <- fmt.Errorf("producer %s: %w", t.name(), err)
			}
		}()
		go func() {
			defer wg.Done()
			if err := consumers[i].Run(workCtx); err != nil {
				errc <- fmt.Errorf("consumer %s: %w", t.name(), err)
			}
		}()
	}

	// Live progress until every message is delivered or dead-lettered.
	var bar *progressbar.ProgressBar
	if !a.g.json && isTerminal(a.stderr) {
		bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(a.stderr),
			progressbar.OptionSetDescription("processing"), progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish())
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	lastLine := time.Now()
	var runErr error
	for done := false; !done; {
		select {
		case <-runCtx.Done():
			runErr = runCtx.Err()
			done = true
		case err := <-errc:
			runErr = err
			done = true
		case <-tick.C:
		}
		finished := true
		var pushed, delivered, redelivered, dead, failures int64
		for _, t := range tenants {
			if !done {
				if st, err := t.q.Stats(runCtx); err == nil {
					t.deadLettered.Store(int64(st.DeadLettered))
				}
			}
			pushed += t.pushed.Load()
			delivered += t.delivered.Load()
			redelivered += t.redelivered.Load()
			dead += t.deadLettered.Load()
			failures += t.failures.Load()
			if t.delivered.Load()+t.deadLettered.Load() < int64(o.messages) {
				finished = false
			}
		}
		line := fmt.Sprintf("%5.1fs  pushed %d/%d  delivered %d  redelivered %d  dead-lettered %d  failed attempts %d",
			time.Since(start).Seconds(), pushed, total, delivered, redelivered, dead, failures)
		if bar != nil {
			bar.Describe(fmt.Sprintf("delivered %d  redelivered %d  dead-lettered %d", delivered, redelivered, dead))
			_ = bar.Set(int(delivered + dead))
		} else if finished || time.Since(lastLine) >= time.Second {
			fmt.Fprintln(out, line)
			lastLine = time.Now()
		}
		if finished {
			done = true
		}
	}
	stopWork()
	wg.Wait()
	if bar != nil {
		_ = bar.Finish()
	}
	elapsed := time.Since(start)

	// Final counts of dead letters, with a context that the timeout did not end.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, t := range tenants {
		if st, err := t.q.Stats(fctx); err == nil {
			t.deadLettered.Store(int64(st.DeadLettered))
		}
	}
	// Ctrl-C (or SIGTERM) cancelled ctx: the scenario was cut short, so its checks would fail
	// for no fault of the queue. Show what happened so far and exit with 130.
	interrupted := ctx.Err() != nil
	if err := a.demoSummary(out, tenants, o, elapsed, interrupted); err != nil {
		return err
	}
	if interrupted {
		return fmt.Errorf("demo: %w", ctx.Err())
	}
	if runErr != nil {
		if errors.Is(runErr, context.DeadlineExceeded) {
			return fmt.Errorf("demo did not finish within %v", o.timeout)
		}
		return runErr
	}
	return nil
}

// demoProduce pushes the tenant's messages in small bursts, as a live producer would.
func demoProduce(ctx context.Context, t *demoTenant, n int) error {
	const burst = 5
	kinds := t.kinds(n)
	for seq := 0; seq < n; seq += burst {
		var msgs []events.SQSMessage
		for i := seq; i < min(seq+burst, n); i++ {
			b, _ := json.Marshal(demoBody{Tenant: t.name(), Seq: i, Kind: kinds[i]})
			msgs = append(msgs, events.SQSMessage{Body: string(b)})
		}
		res, err := t.q.PushWithOptions(ctx, dynamodbqueue.PushOptions{}, msgs...)
		t.pushed.Add(int64(len(res.Pushed)))
		if err != nil {
			return err
		}
		if err := wait.Sleep(ctx, 50*time.Millisecond); err != nil {
			return nil
		}
	}
	return nil
}

// demoHandle is the consumers' message handler: it checks that the message belongs to the
// tenant (isolation), does a little work, and fails flaky messages once and poison ones
// always.
func demoHandle(ctx context.Context, t *demoTenant, m events.SQSMessage) error {
	var b demoBody
	if err := json.Unmarshal([]byte(m.Body), &b); err != nil {
		return err
	}
	if b.Tenant != t.name() {
		t.foreign.Add(1)
		return fmt.Errorf("message of %s delivered to %s", b.Tenant, t.name())
	}
	if err := wait.Sleep(ctx, time.Duration(5+b.Seq%4*5)*time.Millisecond); err != nil { // "work"
		return err
	}
	switch {
	case b.Kind == "poison":
		t.failures.Add(1)
		return errors.New("poison message")
	case b.Kind == "flaky" && consumer.ReceiveCount(m) == 1:
		t.failures.Add(1)
		return errors.New("temporary failure")
	}
	if _, dup := t.seen.LoadOrStore(b.Seq, true); dup {
		t.duplicates.Add(1)
	}
	t.delivered.Add(1)
	if consumer.ReceiveCount(m) > 1 {
		t.redelivered.Add(1)
	}
	return nil
}

// demoLegend explains the columns of the summary table.
const demoLegend = `  PUSHED          messages the producer stored
  DELIVERED       messages handled successfully (each counted once)
  REDELIVERED     of those, the ones that succeeded only on a later receive (after a failure)
  DEAD-LETTERED   messages moved to the tenant's dead-letter queue
  FAILED ATTEMPTS handler runs that failed: once per flaky message, every receive of a poison one
`

// demoSummary prints the table of what happened per tenant and checks the outcome, unless
// the demo was interrupted: then nothing is checked.
func (a *app) demoSummary(out io.Writer, tenants []*demoTenant, o demoOptions, elapsed time.Duration, interrupted bool) error {
	type row struct {
		Queue        string `json:"queue"`
		Client       string `json:"client"`
		Pushed       int64  `json:"pushed"`
		Delivered    int64  `json:"delivered"`
		Redelivered  int64  `json:"redelivered"`
		DeadLettered int64  `json:"deadLettered"`
		Failed       int64  `json:"failedAttempts"`
		Foreign      int64  `json:"foreign"`
		Duplicates   int64  `json:"duplicates"`
	}
	var rows []row
	var sum row
	accounted := true
	for _, t := range tenants {
		r := row{
			Queue: t.queue, Client: t.client, Pushed: t.pushed.Load(), Delivered: t.delivered.Load(),
			Redelivered: t.redelivered.Load(), DeadLettered: t.deadLettered.Load(), Failed: t.failures.Load(),
			Foreign: t.foreign.Load(), Duplicates: t.duplicates.Load(),
		}
		rows = append(rows, r)
		sum.Pushed += r.Pushed
		sum.Delivered += r.Delivered
		sum.Redelivered += r.Redelivered
		sum.DeadLettered += r.DeadLettered
		sum.Failed += r.Failed
		sum.Foreign += r.Foreign
		sum.Duplicates += r.Duplicates
		if r.Pushed != int64(o.messages) || r.Delivered+r.DeadLettered != r.Pushed {
			accounted = false
		}
	}
	ok := accounted && sum.Foreign == 0 && sum.Duplicates == 0 && !interrupted
	if a.g.json {
		return a.printJSON(map[string]any{
			"tenants": rows, "total": sum, "seconds": elapsed.Seconds(), "ok": ok, "interrupted": interrupted,
		})
	}
	fmt.Fprintf(out, "\nsummary after %.1fs\n", elapsed.Seconds())
	tw := newTable(out)
	fmt.Fprintln(tw, "QUEUE\tCLIENT\tPUSHED\tDELIVERED\tREDELIVERED\tDEAD-LETTERED\tFAILED ATTEMPTS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", r.Queue, r.Client, r.Pushed, r.Delivered, r.Redelivered, r.DeadLettered, r.Failed)
	}
	fmt.Fprintf(tw, "TOTAL\t\t%d\t%d\t%d\t%d\t%d\n", sum.Pushed, sum.Delivered, sum.Redelivered, sum.DeadLettered, sum.Failed)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprint(out, "\n"+demoLegend+"\n")
	if interrupted {
		fmt.Fprintf(out, "  interrupted after %.1fs: the scenario did not finish, so nothing is checked\n\n", elapsed.Seconds())
		return nil
	}
	check := func(good bool, text string) {
		mark := "ok  "
		if !good {
			mark = "FAIL"
		}
		fmt.Fprintf(out, "  [%s] %s\n", mark, text)
	}
	check(accounted, fmt.Sprintf("every message was delivered or dead-lettered (%d + %d of %d)", sum.Delivered, sum.DeadLettered, sum.Pushed))
	check(sum.Foreign == 0, fmt.Sprintf("isolation: no worker saw another tenant's message (%d foreign)", sum.Foreign))
	check(sum.Duplicates == 0, fmt.Sprintf("no message was processed successfully twice (%d duplicates)", sum.Duplicates))
	fmt.Fprintln(out)
	if !ok {
		return errors.New("the demo did not end as expected (see the checks above)")
	}
	return nil
}
