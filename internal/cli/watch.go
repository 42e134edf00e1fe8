package cli

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// watchFlags are the flags of a command that can repeat its output (`ddbq stats --watch`).
type watchFlags struct {
	watch    bool
	interval time.Duration
	count    int
}

func (w *watchFlags) add(fs *pflag.FlagSet) {
	fs.BoolVarP(&w.watch, "watch", "w", false, "read again every --interval until interrupted (Ctrl-C); redrawn in place on a terminal")
	fs.DurationVar(&w.interval, "interval", 2*time.Second, "time between two reads with --watch")
	fs.IntVar(&w.count, "count", 0, "with --watch, stop after this many reads (0: until interrupted)")
}

// clearScreen moves the cursor home and clears the screen (ANSI), so each frame of a watch
// replaces the previous one on a terminal.
const clearScreen = "\x1b[H\x1b[2J"

// watching wraps a command's run function: without --watch it runs once; with it, see watch.
func (a *app) watching(w *watchFlags, run func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if !w.watch {
			if cmd.Flags().Changed("interval") || cmd.Flags().Changed("count") {
				return usageError("--interval and --count need --watch")
			}
			return run(cmd, args)
		}
		return a.watch(cmd.Context(), *w, cmd.CommandPath(), func() error { return run(cmd, args) })
	}
}

// watch runs render every w.interval (start to start) until ctx ends (Ctrl-C: a clean stop,
// exit code 0) or it has run w.count times. Each run's output is written at once as a frame:
// on a terminal after clearing the screen, with a header line naming title and the time; otherwise one
// frame after the other (text frames after a "# <time>" line; JSON lines as they are). An
// error of the first run ends the watch (a wrong flag or table); later ones are reported on
// stderr and the watch goes on, so a passing throttle does not end it.
func (a *app) watch(ctx context.Context, w watchFlags, title string, render func() error) error {
	if w.interval <= 0 {
		return usageError("--interval %v, must be positive", w.interval)
	}
	if w.count < 0 {
		return usageError("--count %d, must be 0 (until interrupted) or more", w.count)
	}
	out := a.stdout
	tty := isTerminal(out)
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	for n := 1; ; n++ {
		var frame bytes.Buffer
		a.stdout = &frame
		err := render()
		a.stdout = out
		if err != nil && n == 1 {
			return err
		}
		now := time.Now().UTC().Format(time.RFC3339)
		switch {
		case tty:
			fmt.Fprintf(out, "%sEvery %v: %s    %s  (Ctrl-C to stop)\n\n", clearScreen, w.interval, title, now)
		case !a.g.json:
			fmt.Fprintf(out, "# %s\n", now)
		}
		if _, werr := out.Write(frame.Bytes()); werr != nil {
			return werr
		}
		if err != nil {
			fmt.Fprintf(a.stderr, "ddbq: %v (reading again in %v)\n", err, w.interval)
		}
		if n == w.count {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
