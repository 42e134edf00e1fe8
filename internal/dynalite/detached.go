package dynalite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// State files in a state directory. scripts/dynalite.sh uses the same
// names, so the Go helpers and the script can manage each other's servers.
const (
	pidFile      = "dynalite.pid"
	endpointFile = "dynalite.endpoint"
	logFile      = "dynalite.log"
)

// StartDetached starts dynalite so that it outlives the calling process
// (new session, output to stateDir/dynalite.log) and records it in
// stateDir/dynalite.pid and stateDir/dynalite.endpoint. If stateDir already
// records a running server, it returns that one instead.
func StartDetached(ctx context.Context, opts Options, stateDir string) (endpoint string, pid int, err error) {
	if endpoint, pid, running, err := Status(stateDir); err == nil && running {
		return endpoint, pid, nil
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return "", 0, err
	}
	logPath := filepath.Join(stateDir, logFile)
	for range 3 { // retry a free port that was taken meanwhile, as Start does
		var log *os.File
		if log, err = os.Create(logPath); err != nil {
			return "", 0, err
		}
		o := opts
		o.Log = log
		var s *Server
		s, err = start(ctx, o, true)
		log.Close() // the child has its own copy of the descriptor
		if err == nil {
			if err = writeState(stateDir, s); err != nil {
				_ = s.Stop()
				return "", 0, err
			}
			return s.Endpoint(), s.PID(), nil
		}
		if opts.Port != 0 || !errors.Is(err, errExited) {
			break
		}
	}
	if out, rerr := os.ReadFile(logPath); rerr == nil && len(out) > 0 {
		err = fmt.Errorf("%w\n%s:\n%s", err, logPath, out)
	}
	return "", 0, err
}

func writeState(stateDir string, s *Server) error {
	if err := os.WriteFile(filepath.Join(stateDir, pidFile), []byte(strconv.Itoa(s.PID())+"\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(stateDir, endpointFile), []byte(s.Endpoint()+"\n"), 0o644)
}

// Status reports the server recorded in stateDir. A missing pid file means
// not running and is no error.
func Status(stateDir string) (endpoint string, pid int, running bool, err error) {
	data, err := os.ReadFile(filepath.Join(stateDir, pidFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, err
	}
	pid, err = strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return "", 0, false, fmt.Errorf("bad pid file %s: %w", filepath.Join(stateDir, pidFile), err)
	}
	ep, err := os.ReadFile(filepath.Join(stateDir, endpointFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", pid, false, err
	}
	return strings.TrimSpace(string(ep)), pid, alive(pid), nil
}

// alive reports whether pid is a live dynalite process. The command line
// check guards against a stale pid file whose pid was reused.
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return true // no /proc (not Linux): trust kill(0)
	}
	if len(cmdline) == 0 {
		return false // a zombie has an empty command line
	}
	return strings.Contains(string(cmdline), "dynalite")
}

// StopDetached stops the server recorded in stateDir, if it runs, and
// removes the state files.
func StopDetached(stateDir string) error {
	_, pid, running, err := Status(stateDir)
	if err != nil {
		return err
	}
	if running {
		// StartDetached and the script both make node a session (and so
		// process group) leader: signal the whole group.
		if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
		if !waitGone(pid, stopTimeout) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			if !waitGone(pid, stopTimeout) {
				return fmt.Errorf("dynalite pid %d did not exit", pid)
			}
		}
	}
	for _, f := range []string{pidFile, endpointFile} {
		if err := os.Remove(filepath.Join(stateDir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// waitGone polls until pid no longer runs or timeout passes. The process
// is not our child, so we cannot wait(2) for it.
func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for alive(pid) {
		select {
		case <-deadline.C:
			return false
		case <-tick.C:
		}
	}
	return true
}
