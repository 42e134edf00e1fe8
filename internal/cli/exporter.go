package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/queuemetrics"
)

// exporterOptions are the flags of `ddbq exporter`.
type exporterOptions struct {
	listen     string
	queues     []string
	refresh    time.Duration
	timeout    time.Duration
	maxTenants int
}

func (a *app) exporterCommand() *cobra.Command {
	var o exporterOptions
	cmd := &cobra.Command{
		Use:   "exporter",
		Short: "Serve Prometheus gauges of the table's queues: messages by state, oldest message age",
		Long: `Serve the queue gauges of package queuemetrics on http://LISTEN/metrics until interrupted
(Ctrl-C, SIGTERM): per queue and per tenant (client ID), the messages visible, in flight,
delayed and dead-lettered, and the age of the oldest visible message. Alerting on a backlog
then needs no consumer running.

The table is read at most once per --refresh (scrapes in between get the values of the last
read; a scrape waits up to 5s for a read, then gets the previous values): one read makes
about 2 requests per (queue, client) pair and costs about (size of the message items) / 8 KB
read units, e.g. ~5,300 for 100,000 messages. --queues reads only those queues. Each queue shows at most --max-tenants
tenants with the most messages; the others are summed under client="(other)" (a negative
value: queue series only). -q and -c are not used.`,
		Example: `  ddbq exporter -t queues --listen 127.0.0.1:9326
  ddbq exporter -t queues --queues orders,emails --refresh 1m --max-tenants 20`,
		Args: noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			return a.runExporter(cmd.Context(), o)
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&o.listen, "listen", "127.0.0.1:9326", "address of the /metrics listener")
	fl.StringSliceVar(&o.queues, "queues", nil, "only these queue names (comma-separated); default every queue of the table")
	fl.DurationVar(&o.refresh, "refresh", queuemetrics.DefaultRefreshInterval, "shortest time between two reads of the table")
	fl.DurationVar(&o.timeout, "refresh-timeout", queuemetrics.DefaultRefreshTimeout, "longest a read of the table may take")
	fl.IntVar(&o.maxTenants, "max-tenants", queuemetrics.DefaultMaxTenants, "per-tenant series per queue; the rest are summed under client=\"(other)\"; negative: none")
	return cmd
}

func (a *app) runExporter(ctx context.Context, o exporterOptions) error {
	if a.g.table == "" {
		return usageError("no table: set --table or %s", EnvTable)
	}
	if o.refresh <= 0 || o.timeout <= 0 {
		return usageError("--refresh and --refresh-timeout must be positive")
	}
	if o.maxTenants == 0 {
		return usageError("--max-tenants 0: give a positive cap, or a negative value for no per-tenant series")
	}
	q, err := a.newQueue(ctx)
	if err != nil {
		return err
	}
	if err := q.Err(); err != nil {
		return err
	}
	if ok, err := q.TableExists(ctx); err != nil {
		return err
	} else if !ok {
		return withHint(ExitNotFound, &dynamodbqueue.TableNotFoundError{Table: q.Table()}, "create it with: ddbq table create -t "+q.Table())
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gauges, err := queuemetrics.Register(reg, q, queuemetrics.Options{
		Queues: o.queues, RefreshInterval: o.refresh, RefreshTimeout: o.timeout, MaxTenants: o.maxTenants, Logger: a.logger,
	})
	if err != nil {
		if errors.Is(err, queuemetrics.ErrInvalidOptions) {
			return usageError("%v", err)
		}
		return err
	}
	defer gauges.Close() // stops a refresh still running
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return withHint(ExitError, err, "choose another --listen address")
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", queuemetrics.Handler(reg))
	// The write timeout covers a scrape that waits for a read of the table.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: o.timeout + 10*time.Second}
	a.printf("ddbq exporter: metrics http://%s/metrics (table %s)\n", ln.Addr(), q.Table())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("metrics listener: %w", err)
	case <-ctx.Done(): // Ctrl-C or SIGTERM: stop serving, let scrapes in progress finish
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	<-served // Serve has returned http.ErrServerClosed
	return nil
}
