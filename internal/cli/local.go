package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/dynamodbqueue/dynamodbqueue/internal/dynalite"
)

func (a *app) localCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Start, stop or check the local DynamoDB (dynalite) for development",
		Long: `Manage a local, in-memory DynamoDB (dynalite, run with Node.js) that outlives the command.
There is one per user, found from any directory: its pid, endpoint and log are kept in
$DDBQ_STATE_DIR, else in <user cache directory>/ddbq (~/.cache/ddbq on Linux). dynalite is
installed into $DDBQ_DYNALITE_DIR, else the repository's .local/dynalite inside the
dynamodbqueue repository, else <user cache directory>/ddbq/dynalite.
Other commands use it with --local.`,
	}
	var port int
	start := &cobra.Command{
		Use:   "start",
		Short: "Start the local dynalite (installing it with npm if needed) and print its endpoint",
		Example: `  ddbq local start
  export DDBQ_ENDPOINT=$(ddbq local start)`,
		Args: noArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			dir, err := a.stateDir()
			if err != nil {
				return err
			}
			ep, pid, running, err := dynalite.Status(dir)
			if err != nil {
				return err
			}
			if !running {
				ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Minute)
				defer cancel()
				inst, err := a.installDir()
				if err != nil {
					return err
				}
				if _, err := os.Stat(filepath.Join(inst, "node_modules", "dynalite", "cli.js")); err != nil {
					fmt.Fprintf(a.stderr, "installing dynalite %s into %s ...\n", dynalite.Version, inst)
				}
				if err := dynalite.Install(ctx, inst); err != nil {
					return withHint(ExitError, err, "dynalite needs Node.js and npm")
				}
				if ep, pid, err = dynalite.StartDetached(ctx, dynalite.Options{Dir: inst, Port: port}, dir); err != nil {
					return err
				}
			}
			if a.g.json {
				return a.printJSON(map[string]any{"endpoint": ep, "pid": pid, "running": true, "started": !running, "stateDir": dir})
			}
			if running {
				fmt.Fprintf(a.stderr, "dynalite already running (pid %d)\n", pid)
			} else {
				fmt.Fprintf(a.stderr, "started dynalite (pid %d); stop it with: ddbq local stop\n", pid)
			}
			a.printf("%s\n", ep)
			return nil
		}),
	}
	start.Flags().IntVar(&port, "port", 0, "port on 127.0.0.1 (0: a free one)")
	stop := &cobra.Command{
		Use:     "stop",
		Short:   "Stop the local dynalite",
		Example: `  ddbq local stop`,
		Args:    noArgs,
		RunE: a.run(func(_ *cobra.Command, _ []string) error {
			dir, err := a.stateDir()
			if err != nil {
				return err
			}
			_, pid, running, err := dynalite.Status(dir)
			if err != nil {
				return err
			}
			if err := dynalite.StopDetached(dir); err != nil {
				return err
			}
			if a.g.json {
				return a.printJSON(map[string]any{"stopped": running, "pid": pid})
			}
			if running {
				a.printf("stopped dynalite (pid %d)\n", pid)
			} else {
				a.printf("dynalite not running\n")
			}
			return nil
		}),
	}
	status := &cobra.Command{
		Use:     "status",
		Short:   "Tell whether the local dynalite runs (exit code 0) or not (exit code 3)",
		Example: `  ddbq local status`,
		Args:    noArgs,
		RunE: a.run(func(_ *cobra.Command, _ []string) error {
			dir, err := a.stateDir()
			if err != nil {
				return err
			}
			ep, pid, running, err := dynalite.Status(dir)
			if err != nil {
				return err
			}
			if a.g.json {
				if !running {
					ep, pid = "", 0
				}
				if err := a.printJSON(map[string]any{"running": running, "endpoint": ep, "pid": pid}); err != nil {
					return err
				}
			} else if running {
				a.printf("running (pid %d) at %s\n", pid, ep)
			} else {
				a.printf("not running\n")
			}
			if !running {
				return &exitError{code: ExitNotFound, err: errors.New("not running"), quiet: true}
			}
			return nil
		}),
	}
	cmd.AddCommand(start, stop, status)
	return group(cmd)
}
