package cli

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"golang.org/x/net/netutil"
	"golang.org/x/sync/errgroup"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/dynalite"
	"github.com/dynamodbqueue/dynamodbqueue/internal/keyfile"
	"github.com/dynamodbqueue/dynamodbqueue/internal/sqsauth"
	"github.com/dynamodbqueue/dynamodbqueue/queuemetrics"
	"github.com/dynamodbqueue/dynamodbqueue/sqsserver"
)

// DefaultServeTable is the table `ddbq serve` uses when neither -t nor DDBQ_TABLE names one.
const DefaultServeTable = "ddbq-sqs"

// serveOptions are the flags of `ddbq serve`.
type serveOptions struct {
	listen, metricsListen string
	queueGauges           bool
	keysFile              string
	noAuth                bool
	tlsCert, tlsKey       string
	readHeaderTimeout     time.Duration
	readTimeout           time.Duration
	writeTimeout          time.Duration
	idleTimeout           time.Duration
	shutdownTimeout       time.Duration
	maxBody               int64
	maxConns              int
	defaultClient         string
	publicURL             string
	createTable, useAWS   bool
	signingKeyFile        string
	logJSON               bool
}

const serveLong = `Serve the queues of a table over the SQS API, so existing SQS clients (every AWS SDK, the
AWS CLI, frameworks) use per-tenant DynamoDB queues by changing their endpoint URL.

Both of SQS's protocols are served, detected per request: AWS JSON 1.0 (current SDKs) and the
query protocol (older SDKs, Debian's awscli). A queue URL is http://HOST/<clientID>/<queueName>:
the client ID (the tenant) stands where SQS has the account ID.

Every request must carry a valid AWS Signature Version 4 (Authorization header or presigned
URL) made with one of the keys of --keys FILE, or of the single key in the environment
(DDBQ_ACCESS_KEY_ID, DDBQ_SECRET_ACCESS_KEY, and DDBQ_CLIENT_IDS=a,b or DDBQ_ADMIN=true). A key
is confined to its client IDs, or is an admin key. The key file's format is in README.md
("SQS-compatible endpoint"); secrets are never logged. --no-auth serves without signatures,
as an admin: for local experiments only.

Where DynamoDB is: --endpoint / --local, or else a private dynalite started for the run
(in memory: the queues are gone when it stops); --aws uses AWS DynamoDB (--region, --profile).
The table (-t, default ` + DefaultServeTable + `) is created when missing on a local DynamoDB,
on AWS only with --create-table.

Receipt handles are signed with DDBQ_SIGNING_KEY (or --signing-key-file): give every server on
one table the same key, so a handle one issued works on the others. Without one, a random key
is drawn and handles work only on this process.

SIGINT or SIGTERM shut down gracefully: long polls end with an empty result, requests in
progress finish (up to --shutdown-timeout), then the process exits.`

func (a *app) serveCommand() *cobra.Command {
	o := serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the queues over the SQS API (an SQS-compatible endpoint)",
		Long:  serveLong,
		Example: `  ddbq serve --listen 127.0.0.1:9324 --keys keys.json
  DDBQ_ACCESS_KEY_ID=TENANTAKEY000001 DDBQ_SECRET_ACCESS_KEY=... DDBQ_CLIENT_IDS=tenant-a \
    ddbq serve --local --listen 127.0.0.1:9324 --metrics-listen 127.0.0.1:9325
  ddbq serve --aws --region eu-west-1 -t queues --keys /etc/ddbq/keys.json \
    --listen :443 --tls-cert cert.pem --tls-key key.pem`,
		Args: noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd.Context(), o)
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&o.listen, "listen", "127.0.0.1:9324", "address of the SQS endpoint (port 0: any free port)")
	fl.StringVar(&o.metricsListen, "metrics-listen", "", "address of the Prometheus /metrics listener (none if empty)")
	fl.BoolVar(&o.queueGauges, "queue-gauges", true, "with --metrics-listen, also export the table's queue gauges (package queuemetrics; read when scraped, at most every 30s)")
	fl.StringVar(&o.keysFile, "keys", "", "JSON key file of the access keys (else the key in DDBQ_ACCESS_KEY_ID, ...)")
	fl.BoolVar(&o.noAuth, "no-auth", false, "serve without authentication, every request as an admin (local experiments only)")
	fl.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (PEM); serves HTTPS with --tls-key")
	fl.StringVar(&o.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	fl.DurationVar(&o.readHeaderTimeout, "read-header-timeout", 10*time.Second, "longest time to read a request's headers")
	fl.DurationVar(&o.readTimeout, "read-timeout", 30*time.Second, "longest time to read a whole request")
	fl.DurationVar(&o.writeTimeout, "write-timeout", 60*time.Second, "longest time to answer a request (must exceed the 20 s long poll)")
	fl.DurationVar(&o.idleTimeout, "idle-timeout", 120*time.Second, "how long an idle keep-alive connection stays open")
	fl.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long a shutdown waits for requests in progress")
	fl.Int64Var(&o.maxBody, "max-body-bytes", sqsserver.DefaultMaxBodyBytes, "largest request body accepted")
	fl.IntVar(&o.maxConns, "max-conns", 10000, "most connections open at once (more wait to be accepted)")
	fl.StringVar(&o.defaultClient, "default-client", "", "client ID of admin requests that name none (default \"default\")")
	fl.StringVar(&o.publicURL, "public-url", "", "scheme and host of the queue URLs returned (default: from each request's Host)")
	fl.BoolVar(&o.createTable, "create-table", false, "create the table if missing, on AWS too")
	fl.BoolVar(&o.useAWS, "aws", false, "use AWS DynamoDB (--region, --profile) instead of a local one")
	fl.StringVar(&o.signingKeyFile, "signing-key-file", "", "file holding the receipt-handle signing key (else "+EnvSigningKey+")")
	fl.BoolVar(&o.logJSON, "log-json", false, "log JSON lines instead of text")
	return cmd
}

// serveLogger logs info and above (debug with --verbose) to stderr, as text or JSON.
func (a *app) serveLogger(json bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if a.g.verbose {
		opts.Level = slog.LevelDebug
	}
	if json {
		return slog.New(slog.NewJSONHandler(a.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(a.stderr, opts))
}

func (a *app) serveAuth(o serveOptions, logger *slog.Logger) (sqsserver.Authenticator, error) {
	if o.noAuth {
		if o.keysFile != "" {
			return nil, usageError("--no-auth and --keys exclude each other")
		}
		logger.Warn("serving WITHOUT authentication (--no-auth): every request acts as an admin")
		return nil, nil
	}
	var ks *keyfile.Keys
	var err error
	if o.keysFile != "" {
		ks, err = keyfile.Load(o.keysFile)
	} else {
		ks, err = keyfile.FromEnvLookup(func(k string) (string, bool) { v := a.getenv(k); return v, v != "" })
		if errors.Is(err, keyfile.ErrNoEnvKey) {
			return nil, withHint(ExitUsage, errors.New("no access keys"),
				"give --keys FILE, or "+keyfile.EnvAccessKeyID+", "+keyfile.EnvSecretAccessKey+" and "+
					keyfile.EnvClientIDs+" (or "+keyfile.EnvAdmin+"=true); --no-auth for local experiments")
		}
	}
	if err != nil {
		return nil, &exitError{code: ExitUsage, err: err}
	}
	logger.Info("access keys loaded", "keys", ks)
	return sqsauth.New(ks), nil
}

func (a *app) signingKey(o serveOptions, logger *slog.Logger) ([]byte, error) {
	if o.signingKeyFile != "" {
		b, err := os.ReadFile(o.signingKeyFile)
		if err != nil {
			return nil, &exitError{code: ExitUsage, err: fmt.Errorf("--signing-key-file: %w", err)}
		}
		if k := strings.TrimSpace(string(b)); k != "" {
			return []byte(k), nil
		}
		return nil, usageError("--signing-key-file %s is empty", o.signingKeyFile)
	}
	if k := a.getenv(EnvSigningKey); k != "" {
		return []byte(k), nil
	}
	logger.Warn("no receipt-handle signing key (" + EnvSigningKey + " or --signing-key-file): drew a random one; " +
		"handles issued here work only on this process")
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never fails (Go 1.24+)
	return k, nil
}

// serveDynamoDB returns the AWS configuration of the table's DynamoDB, starting a private
// dynalite when no endpoint is given, and whether the endpoint is local.
func (a *app) serveDynamoDB(ctx context.Context, o serveOptions, logger *slog.Logger) (cfg aws.Config, local bool, stop func(), err error) {
	stop = func() {}
	switch {
	case o.useAWS:
		if a.g.local || a.g.endpoint != "" {
			return cfg, false, stop, usageError("--aws excludes --local and --endpoint")
		}
		cfg, err = a.awsConfig(ctx)
		return cfg, false, stop, err
	case a.g.local || a.g.endpoint != "":
		cfg, err = a.awsConfig(ctx)
		return cfg, a.g.local || isLoopbackURL(a.endpoint), stop, err
	}
	srv, err := a.privateDynalite(ctx)
	if err != nil {
		return cfg, false, stop, err
	}
	a.endpoint = srv.Endpoint()
	logger.Warn("no --endpoint, --local or --aws: started a private dynalite; its queues are gone when ddbq serve stops",
		"endpoint", srv.Endpoint(), "pid", srv.PID())
	stop = func() {
		if err := srv.Stop(); err != nil {
			logger.Error("stopping the private dynalite", "err", err)
		}
	}
	return a.withRequestLog(dynalite.AWSConfig(srv.Endpoint())), true, stop, nil
}

// privateDynalite installs (if need be) and starts a dynalite for this run only.
func (a *app) privateDynalite(ctx context.Context) (*dynalite.Server, error) {
	dir, err := a.installDir()
	if err != nil {
		return nil, err
	}
	if err := dynalite.Install(ctx, dir); err != nil {
		return nil, withHint(ExitError, err, "dynalite needs Node.js and npm; or pass --endpoint URL, --local or --aws")
	}
	return dynalite.Start(ctx, dynalite.Options{Dir: dir})
}

func isLoopbackURL(ep string) bool {
	host := ep
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	host = strings.SplitN(host, "/", 2)[0]
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return isLoopback(host)
}

func (a *app) serve(ctx context.Context, o serveOptions) (err error) {
	switch {
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return usageError("--tls-cert and --tls-key go together")
	case o.maxConns < 1:
		return usageError("--max-conns %d, must be at least 1", o.maxConns)
	case o.maxBody < 1024:
		return usageError("--max-body-bytes %d, must be at least 1024", o.maxBody)
	case o.writeTimeout <= 20*time.Second:
		return usageError("--write-timeout %v must exceed the longest long poll (20s)", o.writeTimeout)
	case o.publicURL != "" && !strings.HasPrefix(o.publicURL, "http://") && !strings.HasPrefix(o.publicURL, "https://"):
		return usageError("--public-url %q: want http://HOST[:PORT] or https://...", o.publicURL)
	}
	logger := a.serveLogger(o.logJSON)
	auth, err := a.serveAuth(o, logger)
	if err != nil {
		return err
	}
	key, err := a.signingKey(o, logger)
	if err != nil {
		return err
	}
	metrics := newServeMetrics()
	cfg, local, stopDynamo, err := a.serveDynamoDB(ctx, o, logger)
	if err != nil {
		return err
	}
	defer stopDynamo()
	cfg.APIOptions = append(cfg.APIOptions, metrics.countDynamoDB)

	table := a.g.table
	if table == "" {
		table = DefaultServeTable
	}
	tq := dynamodbqueue.NewDynamoDBQueue(ctx, cfg, 0).UseLogger(logger).UseTable(table)
	if local || o.createTable {
		created, err := tq.CreateQueueTable(ctx)
		if err != nil {
			return err
		}
		if created {
			logger.Info("created the table", "table", table)
		}
	} else if ok, err := tq.TableExists(ctx); err != nil {
		return err
	} else if !ok {
		return withHint(ExitNotFound, &dynamodbqueue.TableNotFoundError{Table: table}, "create it with: ddbq table create -t "+table+", or pass --create-table")
	}
	client, err := dynamodbqueue.New(dynamodbqueue.Options{
		API: dynamodb.NewFromConfig(cfg), Table: table, SigningKey: key, Logger: logger,
	})
	if err != nil {
		return err
	}
	opts := sqsserver.Options{
		Client: client, Auth: auth, Insecure: o.noAuth, Logger: logger, MaxBodyBytes: o.maxBody,
		Metrics: metrics, Region: a.g.region, DefaultClientID: o.defaultClient,
	}
	if base := strings.TrimRight(o.publicURL, "/"); base != "" {
		opts.BaseURL = func(*http.Request) string { return base }
	}
	handler, err := sqsserver.New(opts)
	if err != nil {
		return err
	}
	if o.metricsListen != "" && o.queueGauges {
		// Queue gauges (messages by state, oldest age, per queue and capped per tenant) beside
		// the request metrics: the table is read at most once per refresh, only when scraped.
		gauges, err := queuemetrics.Register(metrics.reg, tq, queuemetrics.Options{Logger: logger})
		if err != nil {
			return err
		}
		defer gauges.Close()
	}
	return a.runServer(ctx, o, handler, metrics, table, logger)
}

// runServer listens, serves until ctx ends, then drains the long polls and shuts down.
func (a *app) runServer(ctx context.Context, o serveOptions, handler *sqsserver.Server, metrics *serveMetrics, table string, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return withHint(ExitError, err, "choose another --listen address")
	}
	ln = netutil.LimitListener(ln, o.maxConns)
	scheme := "http"
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: o.readHeaderTimeout,
		ReadTimeout:       o.readTimeout,
		WriteTimeout:      o.writeTimeout,
		IdleTimeout:       o.idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			ln.Close()
			return &exitError{code: ExitUsage, err: fmt.Errorf("TLS certificate: %w", err)}
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}
	sqsURL := scheme + "://" + ln.Addr().String()

	var mln net.Listener
	var msrv *http.Server
	metricsURL := ""
	if o.metricsListen != "" {
		if mln, err = net.Listen("tcp", o.metricsListen); err != nil {
			ln.Close()
			return withHint(ExitError, err, "choose another --metrics-listen address")
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(metrics.reg, promhttp.HandlerOpts{}))
		msrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
		metricsURL = "http://" + mln.Addr().String() + "/metrics"
	}
	fmt.Fprintf(a.stdout, "ddbq serve: SQS endpoint %s (table %s, DynamoDB %s)\n", sqsURL, table, a.endpoint)
	if metricsURL != "" {
		fmt.Fprintf(a.stdout, "ddbq serve: metrics %s\n", metricsURL)
	}
	logger.Info("serving", "url", sqsURL, "metrics", metricsURL, "table", table, "max_conns", o.maxConns)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("SQS listener: %w", err)
		}
		return nil
	})
	if msrv != nil {
		g.Go(func() error {
			if err := msrv.Serve(mln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("metrics listener: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done() // a signal (ctx) or a listener that failed
		logger.Info("shutting down: ending long polls, then waiting for requests in progress", "timeout", o.shutdownTimeout)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.shutdownTimeout)
		defer cancel()
		if err := handler.Drain(sctx); err != nil {
			logger.Warn("long polls did not end in time", "err", err)
		}
		err := srv.Shutdown(sctx)
		if msrv != nil {
			_ = msrv.Shutdown(sctx)
		}
		if err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
		logger.Info("stopped")
		return nil
	})
	return g.Wait()
}
