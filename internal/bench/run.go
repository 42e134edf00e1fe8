package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/sync/errgroup"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/dynalite"
)

// ErrLost is returned (wrapped) by Run when a workload lost messages; the report is still
// complete and written.
var ErrLost = errors.New("bench: messages lost")

// Run runs the configured workloads, shows live progress on cfg.Progress, writes the report
// to out (text tables, or JSON with cfg.JSON) and returns it. With an empty cfg.Endpoint (and
// no cfg.AWSConfig) it starts a private dynalite for the run and stops it before returning.
func Run(ctx context.Context, cfg Config, out io.Writer) (*Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Progress == nil {
		cfg.Progress = os.Stderr
	}
	e := &env{cfg: cfg}
	stop, err := e.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()

	rep := &Report{
		Endpoint:  e.endpoint,
		Started:   time.Now(),
		GoVersion: runtime.Version(),
		CPUs:      runtime.NumCPU(),
		Config:    cfg,
	}
	if err := e.setupTable(ctx); err != nil {
		return nil, err
	}
	defer e.dropTable()

	type step struct {
		name string
		fn   func(context.Context) ([]*Result, error)
	}
	var steps []step
	if cfg.has(WorkloadThroughput) || cfg.has(WorkloadFloor) {
		steps = append(steps, step{WorkloadThroughput, e.runThroughputRounds})
	}
	if cfg.has(WorkloadHeadOfLine) {
		steps = append(steps, step{WorkloadHeadOfLine, e.runHeadOfLine})
	}
	if cfg.has(WorkloadLatency) {
		steps = append(steps, step{WorkloadLatency, e.runLatency})
	}
	if cfg.has(WorkloadTenants) {
		steps = append(steps, step{WorkloadTenants, func(ctx context.Context) ([]*Result, error) {
			r, err := e.runTenants(ctx)
			return []*Result{r}, err
		}})
	}
	if cfg.has(WorkloadSizes) {
		steps = append(steps, step{WorkloadSizes, e.runSizes})
	}
	if cfg.has(WorkloadTenantsConsumer) {
		steps = append(steps, step{WorkloadTenantsConsumer, e.runTenantsConsumer})
	}
	if cfg.has(WorkloadTenantsIdle) {
		steps = append(steps, step{WorkloadTenantsIdle, e.runTenantsIdle})
	}
	if cfg.has(WorkloadFairness) {
		steps = append(steps, step{WorkloadFairness, e.runFairness})
	}

	var runErr error
	defer func() {
		if e.serverLog == "" {
			return
		}
		if runErr != nil {
			fmt.Fprintf(cfg.Progress, "bench: dynalite's output is in %s\n", e.serverLog)
		} else {
			_ = os.Remove(e.serverLog) // only a banner when all went well
		}
	}()
	for _, s := range steps {
		wctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		rs, err := s.fn(wctx)
		cancel()
		for _, r := range rs {
			if r != nil {
				rep.Results = append(rep.Results, r)
			}
		}
		if err != nil {
			runErr = fmt.Errorf("bench: %s: %w", s.name, err)
			break
		}
	}
	rep.Seconds = time.Since(rep.Started).Seconds()
	rep.Targets = append(CheckTargets(rep.Results), CheckTenantTargets(rep.Results)...)
	if cfg.Charts != "" {
		paths, err := WriteCharts(cfg.Charts, rep)
		runErr = errors.Join(runErr, err)
		fmt.Fprintf(cfg.Progress, "bench: %d charts in %s\n", len(paths), cfg.Charts)
	}
	rep.IndexCapacity = indexCapacity(rep.Results)

	var lost []string
	for _, r := range rep.Results {
		if r.Lost > 0 {
			lost = append(lost, fmt.Sprintf("%s: %d", r.Name, r.Lost))
		}
	}
	if runErr == nil && len(lost) > 0 {
		runErr = fmt.Errorf("%w: %s", ErrLost, strings.Join(lost, "; "))
	}
	var werr error
	if cfg.JSON {
		werr = rep.WriteJSON(out)
	} else {
		werr = rep.WriteText(out)
	}
	return rep, errors.Join(runErr, werr)
}

// runThroughputRounds runs the floor and (if selected) the queue alternately cfg.Rounds
// times and keeps the median round of each, so that a disturbance of the machine during one
// round does not decide the ratio.
func (e *env) runThroughputRounds(ctx context.Context) ([]*Result, error) {
	var floors, queues []*Result
	for range e.cfg.Rounds {
		f, err := e.runFloor(ctx)
		if err != nil {
			return nil, err
		}
		floors = append(floors, f)
		if e.cfg.has(WorkloadThroughput) {
			q, err := e.runThroughput(ctx)
			if err != nil {
				return nil, err
			}
			queues = append(queues, q)
		}
	}
	out := []*Result{medianRound(floors)}
	if len(queues) > 0 {
		out = append(out, medianRound(queues))
	}
	return out, nil
}

// medianRound returns the round with the median throughput, noting every round's figure and
// summing lost and duplicated messages over all rounds.
func medianRound(rs []*Result) *Result {
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b *Result) int { return cmp.Compare(a.MsgsPerSec, b.MsgsPerSec) })
	m := sorted[(len(sorted)-1)/2]
	if len(rs) > 1 {
		var rates []string
		lost, dups := 0, 0
		for _, r := range rs {
			rates = append(rates, fmt.Sprintf("%.0f", r.MsgsPerSec))
			lost += r.Lost
			dups += r.Duplicates
		}
		m.Lost, m.Duplicates = lost, dups
		m.figure("rounds", float64(len(rs)))
		m.Notes = append(m.Notes, fmt.Sprintf("median of %d rounds (msg/s: %s); lost and duplicates summed over all rounds", len(rs), strings.Join(rates, ", ")))
	}
	return m
}

// env is what the workloads of one run share.
type env struct {
	cfg        Config
	aws        aws.Config
	endpoint   string
	table      string
	dropQueue  bool
	runID      string
	serverPID  int    // dynalite's pid when the run started it, else 0
	serverLog  string // its output
	httpClient *awshttp.BuildableClient
}

// connect resolves the AWS configuration, starting dynalite if needed. stop releases it.
func (e *env) connect(ctx context.Context) (stop func(), err error) {
	e.runID = strings.ToLower(dynamodbqueue.RandomPostfix("r")[2:])
	// The SDK's default transport keeps only 10 idle connections per host; the workloads run
	// up to consumers x 16 requests at once, and the churn of new connections would be
	// measured instead of the queue.
	e.httpClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 512
		t.MaxIdleConnsPerHost = 512
	})
	stop = func() {}
	switch {
	case e.cfg.AWSConfig != nil:
		e.aws = e.cfg.AWSConfig.Copy()
		e.endpoint = "AWS " + e.aws.Region
		if e.aws.BaseEndpoint != nil {
			e.endpoint = *e.aws.BaseEndpoint
		}
		return stop, nil
	case e.cfg.Endpoint == "":
		fmt.Fprintln(e.cfg.Progress, "bench: starting a private dynalite (set an endpoint to use a running one)")
		logPath := filepath.Join(os.TempDir(), "ddbq-bench-dynalite-"+e.runID+".log")
		srv, err := startDynalite(ctx, logPath)
		if err != nil {
			return nil, err
		}
		e.serverLog = logPath
		e.cfg.Endpoint = srv.Endpoint()
		e.serverPID = srv.PID()
		stop = func() {
			if err := srv.Stop(); err != nil {
				fmt.Fprintf(e.cfg.Progress, "bench: stopping dynalite (pid %d): %v\n", srv.PID(), err)
			}
		}
	}
	e.aws = dynalite.AWSConfig(e.cfg.Endpoint)
	e.aws.Region = e.cfg.Region
	e.endpoint = e.cfg.Endpoint
	return stop, nil
}

// startDynalite installs (if need be) and starts a private dynalite, with its output in logPath.
func startDynalite(ctx context.Context, logPath string) (*dynalite.Server, error) {
	root, err := dynalite.FindRepoRoot()
	if err != nil {
		return nil, fmt.Errorf("bench: no endpoint given and cannot start dynalite outside the repository: %w", err)
	}
	dir := dynalite.InstallDir(root)
	ictx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := dynalite.Install(ictx, dir); err != nil {
		return nil, err
	}
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	// Left open: the server's output is copied into it until the server stops (a few bytes).
	srv, err := dynalite.Start(ictx, dynalite.Options{Dir: dir, Log: log})
	if err != nil {
		log.Close()
	}
	return srv, err
}

// client returns a DynamoDB client metered by a new Meter with the given index model.
func (e *env) client(index *IndexModel) (*dynamodb.Client, *Meter) {
	m := NewMeter(index)
	return dynamodb.NewFromConfig(e.aws, e.clientOptions, m.Options), m
}

// plainClient returns an unmetered client, for setup and clean-up.
func (e *env) plainClient() *dynamodb.Client {
	return dynamodb.NewFromConfig(e.aws, e.clientOptions)
}

func (e *env) clientOptions(o *dynamodb.Options) {
	o.HTTPClient = e.httpClient
}

// queue returns a queue on the bench table for (name, client) using api.
func (e *env) queue(api dynamodbqueue.API, name, client string) *dynamodbqueue.DynamoDBQueue {
	return dynamodbqueue.NewFromClient(api, time.Hour).
		UseTable(e.table).UseQueueName(name).UseClientID(client).
		UseLogger(slog.New(slog.DiscardHandler))
}

// queueName returns a queue name unique to this run.
func (e *env) queueName(prefix string) string { return prefix + "-" + e.runID }

func (e *env) setupTable(ctx context.Context) error {
	e.table = e.cfg.Table
	if e.table == "" {
		e.table = "ddbq-bench-" + e.runID
	}
	q := e.queue(e.plainClient(), "setup", "setup")
	created, err := q.CreateQueueTable(ctx)
	if err != nil {
		return fmt.Errorf("bench: create table %s: %w", e.table, err)
	}
	e.dropQueue = created && !e.cfg.KeepTable
	return nil
}

func (e *env) dropTable() {
	if !e.dropQueue {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := e.queue(e.plainClient(), "setup", "setup").DropQueueTable(ctx); err != nil {
		fmt.Fprintf(e.cfg.Progress, "bench: drop table %s: %v\n", e.table, err)
	}
}

// purge removes what a workload left in its queue, unmetered.
func (e *env) purge(qs ...*dynamodbqueue.DynamoDBQueue) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	api := e.plainClient()
	for _, q := range qs {
		_ = e.queue(api, q.QueueName(), q.ClientID()).Purge(ctx)
	}
}

// bar returns a live progress bar on the progress writer.
func (e *env) bar(total int, desc string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(int64(total),
		progressbar.OptionSetWriter(e.cfg.Progress),
		progressbar.OptionSetDescription(fmt.Sprintf("%-28s", desc)),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("msg"),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(e.cfg.Progress) }),
	)
}

// createPlainTable creates a table with key PK/SK and no index (the floor's table), or with
// withIndex a local secondary index "vis" like the queue's.
func createPlainTable(ctx context.Context, api *dynamodb.Client, table string, withIndex ...bool) error {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("PK"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("SK"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("PK"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("SK"), KeyType: types.KeyTypeRange},
		},
	}
	if len(withIndex) > 0 && withIndex[0] {
		in.AttributeDefinitions = append(in.AttributeDefinitions,
			types.AttributeDefinition{AttributeName: aws.String("vis"), AttributeType: types.ScalarAttributeTypeS})
		in.LocalSecondaryIndexes = []types.LocalSecondaryIndex{{
			IndexName: aws.String("vis"),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String("PK"), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String("vis"), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}}
	}
	_, err := api.CreateTable(ctx, in)
	if err != nil {
		return err
	}
	w := dynamodb.NewTableExistsWaiter(api, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 500*time.Millisecond
	})
	return w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 5*time.Minute)
}

func dropPlainTable(api *dynamodb.Client, table string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := api.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil {
		return
	}
	w := dynamodb.NewTableNotExistsWaiter(api, func(o *dynamodb.TableNotExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 500*time.Millisecond
	})
	_ = w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 2*time.Minute)
}

// awaitWorkers ends a producer/consumer workload: it waits for the producers, tells the
// consumers no more messages will come, stops them at once if a producer failed, waits for
// them and closes the progress bar.
func awaitWorkers(prod, cons *errgroup.Group, producersDone *atomic.Bool, st *stopper, bar *progressbar.ProgressBar) error {
	perr := prod.Wait()
	producersDone.Store(true)
	if perr != nil {
		st.stop()
	}
	cerr := cons.Wait()
	_ = bar.Finish()
	return errors.Join(perr, cerr)
}
