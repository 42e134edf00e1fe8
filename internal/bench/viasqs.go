package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/sync/errgroup"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/keyfile"
	"github.com/dynamodbqueue/dynamodbqueue/internal/sqsauth"
	"github.com/dynamodbqueue/dynamodbqueue/sqsserver"
)

// ViaSQSConfig configures `ddbq bench --via-sqs`: the throughput workload through the
// SQS-compatible endpoint (sqsserver, SigV4 included) with the AWS SDK for Go v2, next to the
// library called directly, in one run on one DynamoDB; then idle long-polling SQS clients.
type ViaSQSConfig struct {
	// AWS is the DynamoDB configuration (an endpoint and dummy credentials for a local one).
	AWS aws.Config
	// Table is created for the run and dropped at the end.
	Table string
	// Messages, Producers, Consumers, BatchSize (10), BodySize and Rounds (the median round of
	// each side is reported) of the throughput comparison.
	Messages, Producers, Consumers, BatchSize, BodySize, Rounds int
	// IdleClients are the counts of idle SQS clients, each long-polling (WaitTimeSeconds=20)
	// its own tenant's queue (e.g. 1 and 1000); IdleWindow is how long the server's DynamoDB
	// requests are counted while they wait, IdleSettle how long they wait before that (once
	// 95% of them wait): the clients' first polls (a pass and a probe each) are done by then,
	// and the pairs of the phases before are no longer watched (their checked-empty marks
	// linger 10 s), so the window counts what idle clients cost, not their start.
	IdleClients []int
	IdleWindow  time.Duration
	IdleSettle  time.Duration
	// LatencyMessages are sent one at a time, LatencyGap apart, to random idle clients of the
	// largest count; their push-to-receive latency is reported.
	LatencyMessages int
	LatencyGap      time.Duration
	// Progress receives a line per step.
	Progress io.Writer
}

// ViaSQSReport is what --via-sqs measured.
type ViaSQSReport struct {
	Messages      int       `json:"messages"`
	Producers     int       `json:"producers"`
	Consumers     int       `json:"consumers"`
	DirectRounds  []float64 `json:"direct_msgs_per_sec"`
	ViaSQSRounds  []float64 `json:"via_sqs_msgs_per_sec"`
	Direct        float64   `json:"direct_median_msgs_per_sec"`
	ViaSQS        float64   `json:"via_sqs_median_msgs_per_sec"`
	Ratio         float64   `json:"ratio"`
	DirectReqsMsg float64   `json:"direct_dynamodb_requests_per_msg"`
	ViaSQSReqsMsg float64   `json:"via_sqs_dynamodb_requests_per_msg"`
	Idle          []IdleSQS `json:"idle"`
	LatencyCount  int       `json:"latency_messages"`
	LatencyP50    float64   `json:"latency_p50_ms"`
	LatencyP90    float64   `json:"latency_p90_ms"`
	LatencyMax    float64   `json:"latency_max_ms"`
}

// IdleSQS is the server's DynamoDB request rate while Clients SQS clients long-poll.
type IdleSQS struct {
	Clients        int                `json:"clients"`
	DynamoDBPerSec float64            `json:"dynamodb_requests_per_sec"`
	PerOperation   map[string]float64 `json:"per_operation_per_sec"`
}

// benchKey is the admin key of the run's endpoint (the tenants are in the queue URLs).
var benchKey = keyfile.Key{AccessKeyID: "BENCHADMINKEY001", Secret: "bench-secret-0123456789", Admin: true}

// viaSQS is one run: the queue client, its request counter, and the endpoint.
type viaSQS struct {
	cfg      ViaSQSConfig
	client   *dynamodbqueue.Client
	requests atomic.Int64 // DynamoDB operations of the queue client (server side)
	byOp     sync.Map     // operation name -> *atomic.Int64
	server   *sqsserver.Server
	url      string
	polls    atomic.Int64
	http     *http.Client
}

func (v *viaSQS) Request(string, string, time.Duration) {}
func (v *viaSQS) LongPolls(delta int)                   { v.polls.Add(int64(delta)) }

func (v *viaSQS) logf(format string, args ...any) {
	if v.cfg.Progress != nil {
		fmt.Fprintf(v.cfg.Progress, "via-sqs: "+format+"\n", args...)
	}
}

// RunViaSQS runs the comparison and the idle measurement and prints a report to w.
func RunViaSQS(ctx context.Context, cfg ViaSQSConfig, w io.Writer, asJSON bool) (*ViaSQSReport, error) {
	if cfg.BatchSize < 1 || cfg.BatchSize > 10 {
		return nil, fmt.Errorf("batch size %d: SQS batches hold 1..10", cfg.BatchSize)
	}
	if cfg.Messages < 1 || cfg.Producers < 1 || cfg.Consumers < 1 || cfg.Rounds < 1 {
		return nil, errors.New("messages, producers, consumers and rounds must be at least 1")
	}
	v := &viaSQS{cfg: cfg}
	awsCfg := cfg.AWS.Copy()
	awsCfg.APIOptions = append(awsCfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("viaSQSCount",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				v.requests.Add(1)
				n, _ := v.byOp.LoadOrStore(awsmiddleware.GetOperationName(ctx), new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
	var err error
	v.client, err = dynamodbqueue.New(dynamodbqueue.Options{
		API: dynamodb.NewFromConfig(awsCfg), Table: cfg.Table, SigningKey: []byte("bench-via-sqs"),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	tq, err := v.client.Queue("setup", "setup")
	if err != nil {
		return nil, err
	}
	if _, err := tq.CreateQueueTable(ctx); err != nil {
		return nil, err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = tq.DropQueueTable(dctx)
	}()
	stop, err := v.serve()
	if err != nil {
		return nil, err
	}
	defer stop()

	rep := &ViaSQSReport{Messages: cfg.Messages, Producers: cfg.Producers, Consumers: cfg.Consumers}
	var directReqs, sqsReqs int64
	for round := range cfg.Rounds {
		r, n, err := v.direct(ctx, round)
		if err != nil {
			return nil, fmt.Errorf("direct round %d: %w", round+1, err)
		}
		rep.DirectRounds, directReqs = append(rep.DirectRounds, r), directReqs+n
		v.logf("round %d: library %.0f msg/s", round+1, r)
		r, n, err = v.throughSQS(ctx, round)
		if err != nil {
			return nil, fmt.Errorf("SQS round %d: %w", round+1, err)
		}
		rep.ViaSQSRounds, sqsReqs = append(rep.ViaSQSRounds, r), sqsReqs+n
		v.logf("round %d: via SQS %.0f msg/s", round+1, r)
	}
	rep.Direct, rep.ViaSQS = median(rep.DirectRounds), median(rep.ViaSQSRounds)
	rep.Ratio = rep.ViaSQS / rep.Direct
	total := float64(cfg.Messages * cfg.Rounds)
	rep.DirectReqsMsg, rep.ViaSQSReqsMsg = float64(directReqs)/total, float64(sqsReqs)/total

	for _, k := range cfg.IdleClients {
		lat, perSec, perOp, err := v.idle(ctx, k, k == slices.Max(cfg.IdleClients))
		if err != nil {
			return nil, fmt.Errorf("%d idle clients: %w", k, err)
		}
		rep.Idle = append(rep.Idle, IdleSQS{Clients: k, DynamoDBPerSec: perSec, PerOperation: perOp})
		v.logf("%d idle SQS clients: %.1f DynamoDB requests/s", k, perSec)
		if len(lat) > 0 {
			slices.Sort(lat)
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			rep.LatencyCount = len(lat)
			rep.LatencyP50, rep.LatencyP90, rep.LatencyMax = ms(Percentile(lat, 50)), ms(Percentile(lat, 90)), ms(lat[len(lat)-1])
		}
	}
	return rep, printViaSQS(w, rep, asJSON)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// serve starts the endpoint on a loopback listener.
func (v *viaSQS) serve() (func(), error) {
	list := []keyfile.Key{benchKey}
	for i := range slices.Max(append([]int{0}, v.cfg.IdleClients...)) {
		list = append(list, tenantKey(i))
	}
	ks, err := keyfile.New(list...)
	if err != nil {
		return nil, err
	}
	v.server, err = sqsserver.New(sqsserver.Options{Client: v.client, Auth: sqsauth.New(ks), Metrics: v, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: v.server, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	v.url = "http://" + ln.Addr().String()
	// Every SQS client of the run shares one transport with a connection per waiting poll.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 4096, 4096
	v.http = &http.Client{Transport: tr}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = v.server.Drain(ctx)
		_ = hs.Shutdown(ctx)
		tr.CloseIdleConnections()
	}, nil
}

// tenantKey is the key of idle tenant i, confined to its client ID.
func tenantKey(i int) keyfile.Key {
	return keyfile.Key{AccessKeyID: fmt.Sprintf("BENCHT%010d", i), Secret: benchKey.Secret, ClientIDs: []string{fmt.Sprintf("t%05d", i)}}
}

func (v *viaSQS) sqsClient(k keyfile.Key) *sqs.Client {
	return sqs.New(sqs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(v.url), HTTPClient: v.http,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.Secret}, nil
		}),
	})
}

// flow runs producers and consumers until every message was received once: push(ids) sends a
// batch, pull returns the ids of the bodies it received and deleted (an empty slice when
// nothing came). It returns msgs/s and the DynamoDB requests the queue client sent.
func (v *viaSQS) flow(ctx context.Context, tag string, push func(context.Context, []int) error, pull func(context.Context) ([]int, error)) (float64, int64, error) {
	c := v.cfg
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var got sync.Map
	var unique atomic.Int64
	before := v.requests.Load()
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	done := make(chan struct{})
	var doneOnce sync.Once
	for p := range c.Producers {
		g.Go(func() error {
			var ids []int
			for i := p; i < c.Messages; i += c.Producers {
				ids = append(ids, i)
			}
			for len(ids) > 0 {
				n := min(c.BatchSize, len(ids))
				if err := push(gctx, ids[:n]); err != nil {
					return fmt.Errorf("%s push: %w", tag, err)
				}
				ids = ids[n:]
			}
			return nil
		})
	}
	for range c.Consumers {
		g.Go(func() error {
			for {
				select {
				case <-done:
					return nil
				default:
				}
				ids, err := pull(gctx)
				if err != nil {
					if errors.Is(err, context.Canceled) {
						return nil
					}
					return fmt.Errorf("%s receive: %w", tag, err)
				}
				for _, id := range ids {
					if _, dup := got.LoadOrStore(id, true); !dup && unique.Add(1) == int64(c.Messages) {
						doneOnce.Do(func() { close(done) })
					}
				}
			}
		})
	}
	err := g.Wait()
	if err != nil {
		return 0, 0, err
	}
	secs := time.Since(start).Seconds()
	return float64(c.Messages) / secs, v.requests.Load() - before, nil
}

// direct is the throughput workload with the library.
func (v *viaSQS) direct(ctx context.Context, round int) (float64, int64, error) {
	q, err := v.client.Queue("direct"+strconv.Itoa(round), "bench")
	if err != nil {
		return 0, 0, err
	}
	push := func(ctx context.Context, ids []int) error {
		failed, err := q.PushMessages(ctx, 0, messages("dq", ids, v.cfg.BodySize)...)
		if err != nil {
			return fmt.Errorf("%d failed: %w", len(failed), err)
		}
		return nil
	}
	pull := func(ctx context.Context) ([]int, error) {
		msgs, err := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 10, WaitTime: time.Second, VisibilityTimeout: 5 * time.Minute})
		if err != nil || len(msgs) == 0 {
			return nil, err
		}
		if _, err := q.DeleteMessages(ctx, dynamodbqueue.ToReceiptHandles(msgs)...); err != nil {
			return nil, err
		}
		ids := make([]int, 0, len(msgs))
		for _, m := range msgs {
			if _, id, ok := ParseBody(m.Body); ok {
				ids = append(ids, id)
			}
		}
		return ids, nil
	}
	return v.flow(ctx, "library", push, pull)
}

// throughSQS is the same workload through the endpoint with the SDK: SendMessageBatch,
// ReceiveMessage (10, long polling), DeleteMessageBatch.
func (v *viaSQS) throughSQS(ctx context.Context, round int) (float64, int64, error) {
	c := v.sqsClient(benchKey)
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("viasqs" + strconv.Itoa(round))})
	if err != nil {
		return 0, 0, err
	}
	url := out.QueueUrl
	push := func(ctx context.Context, ids []int) error {
		entries := make([]sqstypes.SendMessageBatchRequestEntry, len(ids))
		for i, id := range ids {
			entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(Body("sq", id, v.cfg.BodySize))}
		}
		res, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: url, Entries: entries})
		if err == nil && len(res.Failed) > 0 {
			err = fmt.Errorf("%d entries failed: %s", len(res.Failed), aws.ToString(res.Failed[0].Message))
		}
		return err
	}
	pull := func(ctx context.Context) ([]int, error) {
		res, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 300})
		if err != nil || len(res.Messages) == 0 {
			return nil, err
		}
		del := make([]sqstypes.DeleteMessageBatchRequestEntry, len(res.Messages))
		ids := make([]int, 0, len(res.Messages))
		for i, m := range res.Messages {
			del[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
			if _, id, ok := ParseBody(aws.ToString(m.Body)); ok {
				ids = append(ids, id)
			}
		}
		d, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: url, Entries: del})
		if err == nil && len(d.Failed) > 0 {
			err = fmt.Errorf("%d deletes failed: %s", len(d.Failed), aws.ToString(d.Failed[0].Message))
		}
		return ids, err
	}
	return v.flow(ctx, "SQS", push, pull)
}

// idle starts k SQS clients, each long-polling (WaitTimeSeconds=20, again and again) the
// queue "idle" of its own tenant, counts the server's DynamoDB requests for IdleWindow once
// all wait, and with measureLatency then sends LatencyMessages to random tenants, one at a
// time, timing each from send to its client's receive.
func (v *viaSQS) idle(ctx context.Context, k int, measureLatency bool) ([]time.Duration, float64, map[string]float64, error) {
	clients := make([]*sqs.Client, k) // a client of its own per tenant, as separate applications have
	for i := range clients {
		clients[i] = v.sqsClient(tenantKey(i))
	}
	urls := make([]string, k)
	name := "idle" + strconv.Itoa(k)
	{
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(16)
		for i := range k {
			g.Go(func() error {
				out, err := clients[i].CreateQueue(gctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
				if err == nil {
					urls[i] = aws.ToString(out.QueueUrl)
				}
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, 0, nil, fmt.Errorf("create queues: %w", err)
		}
	}
	pctx, stopPolls := context.WithCancel(ctx)
	defer stopPolls()
	var mu sync.Mutex
	var lat []time.Duration
	sent := make([]atomic.Int64, k) // UnixNano of the pending message per tenant
	var pollers sync.WaitGroup
	startPolls := v.polls.Load()
	for i := range k {
		pollers.Add(1)
		go func() {
			defer pollers.Done()
			cl := clients[i]
			for pctx.Err() == nil {
				res, err := cl.ReceiveMessage(pctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(urls[i]), WaitTimeSeconds: 20, MaxNumberOfMessages: 1})
				if err != nil {
					continue // canceled at the end
				}
				for _, m := range res.Messages {
					if t0 := sent[i].Swap(0); t0 != 0 {
						mu.Lock()
						lat = append(lat, time.Since(time.Unix(0, t0)))
						mu.Unlock()
					}
					_, _ = cl.DeleteMessage(pctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(urls[i]), ReceiptHandle: m.ReceiptHandle})
				}
			}
		}()
	}
	defer pollers.Wait()
	defer stopPolls()
	// Wait (checking every 10 ms, at most 3 minutes) until 95% of the clients' polls wait: a
	// client whose 20 s poll just ended is between two polls, on a loaded machine for a while.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(3 * time.Minute)
	for v.polls.Load()-startPolls < int64(k-k/20) {
		if time.Now().After(deadline) {
			return nil, 0, nil, fmt.Errorf("only %d of %d long polls wait after 3 minutes", v.polls.Load()-startPolls, k)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, 0, nil, ctx.Err()
		}
	}
	select {
	case <-time.After(v.cfg.IdleSettle):
	case <-ctx.Done():
		return nil, 0, nil, ctx.Err()
	}
	before, beforeOps := v.requests.Load(), v.ops()
	t0 := time.Now()
	select {
	case <-time.After(v.cfg.IdleWindow): // the measurement window itself
	case <-ctx.Done():
		return nil, 0, nil, ctx.Err()
	}
	secs := time.Since(t0).Seconds()
	perSec := float64(v.requests.Load()-before) / secs
	perOp := map[string]float64{}
	for op, n := range v.ops() {
		if d := n - beforeOps[op]; d > 0 {
			perOp[op] = float64(d) / secs
		}
	}
	if !measureLatency || v.cfg.LatencyMessages == 0 {
		return nil, perSec, perOp, nil
	}
	sender := v.sqsClient(benchKey)
	for j := range v.cfg.LatencyMessages {
		i := (j * 7919) % k // spread over the tenants
		sent[i].Store(time.Now().UnixNano())
		if _, err := sender.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(urls[i]), MessageBody: aws.String("latency")}); err != nil {
			return nil, 0, nil, err
		}
		// Wait until that message arrived (every 1 ms, at most 30 s), then the gap, so the
		// clients are idle again for the next one.
		limit := time.Now().Add(30 * time.Second)
		for sent[i].Load() != 0 && time.Now().Before(limit) {
			select {
			case <-time.After(time.Millisecond):
			case <-ctx.Done():
				return nil, 0, nil, ctx.Err()
			}
		}
		select {
		case <-time.After(v.cfg.LatencyGap):
		case <-ctx.Done():
			return nil, 0, nil, ctx.Err()
		}
	}
	stopPolls()
	pollers.Wait()
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(lat), perSec, perOp, nil
}

// ops snapshots the DynamoDB requests per operation.
func (v *viaSQS) ops() map[string]int64 {
	m := map[string]int64{}
	v.byOp.Range(func(k, n any) bool {
		m[k.(string)] = n.(*atomic.Int64).Load()
		return true
	})
	return m
}

func printViaSQS(w io.Writer, r *ViaSQSReport, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	fmt.Fprintf(w, "throughput through the SQS endpoint (%d messages, %d producers, %d consumers, batches of 10, median of %d rounds)\n",
		r.Messages, r.Producers, r.Consumers, len(r.DirectRounds))
	fmt.Fprintf(w, "  library directly   %8.0f msg/s   %.2f DynamoDB requests/msg   rounds %v\n", r.Direct, r.DirectReqsMsg, roundList(r.DirectRounds))
	fmt.Fprintf(w, "  via SQS (Go SDK)   %8.0f msg/s   %.2f DynamoDB requests/msg   rounds %v\n", r.ViaSQS, r.ViaSQSReqsMsg, roundList(r.ViaSQSRounds))
	fmt.Fprintf(w, "  ratio              %7.0f%%   (target >= 80%%)\n", 100*r.Ratio)
	for _, i := range r.Idle {
		fmt.Fprintf(w, "idle SQS clients %5d (WaitTimeSeconds=20, own tenant each): server sends %.1f DynamoDB requests/s", i.Clients, i.DynamoDBPerSec)
		ops := slices.Sorted(maps.Keys(i.PerOperation))
		for _, op := range ops {
			fmt.Fprintf(w, "  %s %.1f", op, i.PerOperation[op])
		}
		fmt.Fprintln(w)
	}
	if r.LatencyCount > 0 {
		fmt.Fprintf(w, "push-to-receive via SQS (%d messages): p50 %.1f ms, p90 %.1f ms, max %.1f ms (target p50 < 50 ms)\n",
			r.LatencyCount, r.LatencyP50, r.LatencyP90, r.LatencyMax)
	}
	return nil
}

func roundList(xs []float64) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += " "
		}
		s += strconv.FormatFloat(x, 'f', 0, 64)
	}
	return s
}
