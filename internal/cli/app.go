package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/dynalite"
)

// globals are the flags every command accepts.
type globals struct {
	table, queue, client string
	region, endpoint     string
	profile              string
	local                bool
	shards               int
	shardsSet            bool // --shards or DDBQ_SHARDS given: it overrides the queue's definition
	json                 bool
	verbose              bool
}

// app is one run of ddbq: its streams, environment, flags and the state built from them.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	g        globals
	logger   *slog.Logger
	endpoint string         // the endpoint in use, for error hints
	failed   *cobra.Command // the command cobra ran or tried to run
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *app {
	if stdin == nil {
		stdin = eofReader{}
	}
	return &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, logger: newLogger(stderr, false)}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

const rootLong = `ddbq manages message queues that dynamodbqueue keeps in a DynamoDB table: one table holds
many isolated queues, one per (queue name, client ID) pair.

Every command that touches messages needs the table (-t), the queue (-q) and the client (-c),
from flags or from the environment (DDBQ_TABLE, DDBQ_QUEUE, DDBQ_CLIENT).

Where DynamoDB is:
  AWS                   --region/AWS_REGION and --profile/AWS_PROFILE (the usual AWS chain)
  any endpoint          --endpoint URL (or DDBQ_ENDPOINT, DYNAMODBQUEUE_ENDPOINT); loopback
                        endpoints get dummy credentials unless --profile is given
  the local dynalite    --local (started with: ddbq local start)

Exit codes: 0 ok, 1 runtime or DynamoDB error, 2 invalid usage or input, 3 not found (table,
local dynalite), 4 partial failure (some messages or handles failed), 5 nothing received
(receive --exit-empty), 130 interrupted.`

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "ddbq",
		Short:         "Message queues on one DynamoDB table",
		Long:          rootLong,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.wrap(a.resolveGlobals(cmd.Flags()))
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	// --version; cobra's default `completion bash|zsh|fish|powershell` command stays on.
	root.Version = readVersion().String()
	root.SetVersionTemplate("ddbq version {{.Version}}\n")
	root.Flags().Bool("version", false, "print the version and commit ddbq was built from (as 'ddbq version')")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w", err) // stays a cobra (usage) error
	})

	f := root.PersistentFlags()
	f.StringVarP(&a.g.table, "table", "t", "", "DynamoDB table (env "+EnvTable+")")
	f.StringVarP(&a.g.queue, "queue", "q", "", "queue name (env "+EnvQueue+")")
	f.StringVarP(&a.g.client, "client", "c", "", "client ID, the tenant (env "+EnvClient+")")
	f.StringVar(&a.g.region, "region", "", "AWS region (env "+EnvRegion+")")
	f.StringVar(&a.g.endpoint, "endpoint", "", "DynamoDB endpoint URL (env "+EnvEndpoint+" or "+EnvEndpoint2+")")
	f.StringVar(&a.g.profile, "profile", "", "AWS shared config profile (env "+EnvProfile+")")
	f.BoolVar(&a.g.local, "local", false, "use the local dynalite started by 'ddbq local start'")
	f.IntVar(&a.g.shards, "shards", 1, "shard count of the queue, as its producers use it (env "+EnvShards+")")
	f.BoolVar(&a.g.json, "json", false, "print JSON (one object per line) instead of text")
	f.BoolVarP(&a.g.verbose, "verbose", "v", false, "log debug detail to stderr, every DynamoDB request included")

	root.AddCommand(
		a.tableCommand(),
		a.queuesCommand(),
		a.queueCommand(),
		a.pushCommand(),
		a.receiveCommand(),
		a.deleteCommand(),
		a.peekCommand(),
		a.statsCommand(),
		a.purgeCommand(),
		a.visibilityCommand(),
		a.dlqCommand(),
		a.iamPolicyCommand(),
		a.benchCommand(),
		a.localCommand(),
		a.demoCommand(),
		a.serveCommand(),
		a.uiCommand(),
		a.exporterCommand(),
		a.versionCommand(),
	)
	return root
}

// group makes cmd, a command of subcommands only, print its help when run alone and fail
// with a usage error on an unknown subcommand.
func group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	return cmd
}

// noArgs is cobra.NoArgs for commands without subcommands, saying what is wrong: cobra's
// own calls an extra argument an "unknown command".
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}

// wrap marks err as coming from ddbq's own code (not from cobra's parsing).
func (a *app) wrap(err error) error {
	if err == nil {
		return nil
	}
	return &commandError{err: err}
}

// run adapts a command function to cobra's RunE, marking its errors as the command's own.
func (a *app) run(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return a.wrap(fn(cmd, args))
	}
}

// resolveGlobals fills flags left unset from the environment and sets up logging.
func (a *app) resolveGlobals(fs *pflag.FlagSet) error {
	env := func(flag string, dst *string, vars ...string) {
		if fs.Changed(flag) {
			return
		}
		for _, v := range vars {
			if s := a.getenv(v); s != "" {
				*dst = s
				return
			}
		}
	}
	if fs.Changed("local") && fs.Changed("endpoint") {
		return usageError("--local and --endpoint exclude each other (--local is the endpoint of 'ddbq local start')")
	}
	env("table", &a.g.table, EnvTable)
	env("queue", &a.g.queue, EnvQueue)
	env("client", &a.g.client, EnvClient)
	env("region", &a.g.region, EnvRegion)
	env("endpoint", &a.g.endpoint, EnvEndpoint, EnvEndpoint2)
	env("profile", &a.g.profile, EnvProfile)
	a.g.shardsSet = fs.Changed("shards")
	if !fs.Changed("shards") {
		if s := a.getenv(EnvShards); s != "" {
			a.g.shardsSet = true
			n, err := strconv.Atoi(s)
			if err != nil {
				return usageError("%s=%q is not a number", EnvShards, s)
			}
			a.g.shards = n
		}
	}
	if a.g.shards < 1 || a.g.shards > dynamodbqueue.MaxShards {
		return usageError("--shards %d, must be 1..%d", a.g.shards, dynamodbqueue.MaxShards)
	}
	a.logger = newLogger(a.stderr, a.g.verbose)
	return nil
}

// stateDir is where `ddbq local` keeps the pid, endpoint and log of the local dynalite:
// $DDBQ_STATE_DIR, else <user cache directory>/ddbq. It never depends on the working
// directory, so there is one local dynalite per user, found from anywhere.
func (a *app) stateDir() (string, error) {
	if d := a.getenv(EnvStateDir); d != "" {
		return d, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", usageError("no directory for the local dynalite's state (%v): set %s", err, EnvStateDir)
	}
	return filepath.Join(cache, "ddbq"), nil
}

// installDir is where dynalite is installed: $DDBQ_DYNALITE_DIR, else the repository's
// .local/dynalite when run inside the dynamodbqueue repository (where scripts/dynalite.sh
// installs it, so it is not installed twice), else <user cache directory>/ddbq/dynalite.
// Only the installation may come from the repository: the running server is found by
// stateDir alone.
func (a *app) installDir() (string, error) {
	if d := a.getenv(EnvDynaliteDir); d != "" {
		return d, nil
	}
	if root, err := dynalite.FindRepoRoot(); err == nil {
		return dynalite.InstallDir(root), nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", usageError("no directory to install dynalite into (%v): set %s", err, EnvDynaliteDir)
	}
	return filepath.Join(cache, "ddbq", "dynalite"), nil
}

// localEndpoint returns the endpoint of the running local dynalite.
func (a *app) localEndpoint() (string, error) {
	dir, err := a.stateDir()
	if err != nil {
		return "", err
	}
	ep, _, running, err := dynalite.Status(dir)
	if err != nil {
		return "", err
	}
	if !running || ep == "" {
		return "", withHint(ExitNotFound, errors.New("the local dynalite is not running (state in "+dir+")"),
			"start it with: ddbq local start")
	}
	return ep, nil
}

// awsConfig builds the AWS configuration from the global flags.
func (a *app) awsConfig(ctx context.Context) (aws.Config, error) {
	ep := a.g.endpoint
	if a.g.local {
		var err error
		if ep, err = a.localEndpoint(); err != nil {
			return aws.Config{}, err
		}
	}
	if ep != "" {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return aws.Config{}, usageError("invalid endpoint %q: want a URL such as http://127.0.0.1:8000", ep)
		}
		a.endpoint = ep
		if a.g.local || (a.g.profile == "" && isLoopback(u.Hostname())) {
			cfg := dynalite.AWSConfig(ep)
			if a.g.region != "" {
				cfg.Region = a.g.region
			}
			return a.withRequestLog(cfg), nil
		}
	}
	var opts []func(*config.LoadOptions) error
	if a.g.region != "" {
		opts = append(opts, config.WithRegion(a.g.region))
	}
	if a.g.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(a.g.profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, withHint(ExitUsage, fmt.Errorf("AWS configuration: %w", err), "check --profile/"+EnvProfile+" and ~/.aws/config")
	}
	if ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	if cfg.Region == "" {
		return aws.Config{}, withHint(ExitUsage, errors.New("no AWS region"),
			"set --region or "+EnvRegion+", or use --local / --endpoint for a local DynamoDB")
	}
	if a.endpoint == "" {
		a.endpoint = "DynamoDB in " + cfg.Region
	}
	return a.withRequestLog(cfg), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newQueue returns a queue for the global flags.
func (a *app) newQueue(ctx context.Context) (*dynamodbqueue.DynamoDBQueue, error) {
	cfg, err := a.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	// The setters' own warnings are silenced: a rejected name is reported once, as the
	// command's error.
	q := dynamodbqueue.NewDynamoDBQueue(ctx, cfg, 0).
		UseLogger(nil).
		UseTable(a.g.table).
		UseQueueName(a.g.queue).
		UseClientID(a.g.client)
	if a.g.shardsSet { // else the queue's definition (or 1) decides
		q.UseShards(a.g.shards)
	}
	q.UseLogger(a.logger)
	if key := a.getenv(EnvSigningKey); key != "" {
		q.UseSigningKey([]byte(key))
	}
	return q, nil
}

// isConnRefused reports whether err is a refused TCP connection.
func isConnRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}
