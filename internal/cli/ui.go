package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/webui"
)

// Environment variables of `ddbq ui`'s secrets, so they stay out of the process list.
const (
	EnvUIToken    = "DDBQ_UI_TOKEN"    // default for --token
	EnvUIPassword = "DDBQ_UI_PASSWORD" // the password of --basic-user
)

// DefaultUIListen is where `ddbq ui` listens unless told otherwise: loopback, so it needs no login.
const DefaultUIListen = "127.0.0.1:8025"

type uiOptions struct {
	listen, token, basicUser, keysFile, prefix string
	readOnly, useAWS, createTable              bool
	sampleInterval, shutdownTimeout            time.Duration
	history, pageSize                          int
}

const uiLong = `Serve a web page to see and fix the queues of a table: every queue and tenant with its
counts (visible, in flight, delayed, dead-lettered), rates and oldest message, paged, filtered
and sorted; charts of the last minutes and hours; queue definitions (editable), messages by
state and in detail; and confirmed actions: send a test message, delete a message, change its
visibility, purge a tenant's queue, redrive dead letters, create and delete queues.

Access: on a loopback address (the default, ` + DefaultUIListen + `) no login is needed. On any
other address a login is required, and ddbq ui refuses to start without one:
  --token             an administrator's token (or ` + EnvUIToken + `); also "Authorization: Bearer"
  --basic-user        HTTP basic auth, the password in ` + EnvUIPassword + `
  --keys FILE         the key file of 'ddbq serve': each access key signs in with its secret and
                      sees only its own client IDs (an admin key sees all)
--read-only turns every action off on the server.

Where DynamoDB is, as for 'ddbq serve': --endpoint URL or --local, --aws for AWS (--region,
--profile), and with none of them a private dynalite that lives as long as the command.`

func (a *app) uiCommand() *cobra.Command {
	var o uiOptions
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Serve a web page to see and fix the queues of a table",
		Long:  uiLong,
		Example: `  ddbq ui --local -t queues
  ddbq ui --local -t queues --read-only
  DDBQ_UI_TOKEN=... ddbq ui --aws --region eu-west-1 -t queues --listen :8025 --keys keys.json`,
		Args: noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return a.ui(ctx, o)
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&o.listen, "listen", DefaultUIListen, "address to listen on (host:port)")
	fl.StringVar(&o.token, "token", "", "administrator's login token (env "+EnvUIToken+")")
	fl.StringVar(&o.basicUser, "basic-user", "", "HTTP basic auth user (password in "+EnvUIPassword+")")
	fl.StringVar(&o.keysFile, "keys", "", "key file of 'ddbq serve': tenant logins, each seeing only its client IDs")
	fl.StringVar(&o.prefix, "prefix", "", "path the page is served under, e.g. /ui")
	fl.BoolVar(&o.readOnly, "read-only", false, "turn every action off")
	fl.BoolVar(&o.useAWS, "aws", false, "use AWS DynamoDB (--region, --profile) instead of a local one")
	fl.BoolVar(&o.createTable, "create-table", false, "create the table if missing (always done on a local DynamoDB)")
	fl.DurationVar(&o.sampleInterval, "sample-interval", webui.DefaultSampleInterval, "how often every pair's counts are sampled")
	fl.IntVar(&o.history, "history", webui.DefaultHistory, "samples kept for the charts")
	fl.IntVar(&o.pageSize, "page-size", webui.DefaultPageSize, "rows per table page")
	fl.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a shutdown waits for requests in progress")
	return cmd
}

func (a *app) ui(ctx context.Context, o uiOptions) error {
	if a.g.table == "" {
		return usageError("the table is required: -t TABLE (or %s)", EnvTable)
	}
	if o.sampleInterval < time.Second {
		return usageError("--sample-interval %v, must be at least 1s (each sample reads every message item)", o.sampleInterval)
	}
	logger := a.serveLogger(false)
	opts := webui.Options{ReadOnly: o.readOnly, Token: o.token, Prefix: o.prefix, SampleInterval: o.sampleInterval,
		History: o.history, PageSize: o.pageSize, Logger: logger}
	if opts.Token == "" {
		opts.Token = a.getenv(EnvUIToken)
	}
	if o.basicUser != "" {
		opts.BasicUser, opts.BasicPassword = o.basicUser, a.getenv(EnvUIPassword)
		if opts.BasicPassword == "" {
			return usageError("--basic-user needs the password in %s", EnvUIPassword)
		}
	}
	if o.keysFile != "" {
		keys, err := webui.KeyFile(o.keysFile)
		if err != nil {
			return &exitError{code: ExitUsage, err: err}
		}
		opts.Keys = keys
	}
	if err := webui.CheckListen(o.listen, opts); err != nil {
		return withHint(ExitUsage, err, "give --token (or "+EnvUIToken+"), --basic-user or --keys, or listen on 127.0.0.1")
	}

	cfg, local, stopDynamo, err := a.serveDynamoDB(ctx, serveOptions{useAWS: o.useAWS}, logger)
	if err != nil {
		return err
	}
	defer stopDynamo()
	client, err := dynamodbqueue.New(dynamodbqueue.Options{API: dynamodb.NewFromConfig(cfg), Table: a.g.table, Logger: logger})
	if err != nil {
		return err
	}
	if local || o.createTable {
		q, err := client.Queue("ddbq-ui", "ddbq-ui")
		if err != nil {
			return err
		}
		if _, err := q.CreateQueueTable(ctx); err != nil {
			return err
		}
	}
	opts.Client = client
	h, err := webui.New(opts)
	if err != nil {
		return err
	}
	defer h.Close()

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	fmt.Fprintf(a.stdout, "ddbq ui: http://%s%s/ (table %s on %s)\n", ln.Addr(), o.prefix, a.g.table, a.endpoint)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
