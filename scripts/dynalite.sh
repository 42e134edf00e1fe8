#!/usr/bin/env bash
# Manage a local dynalite (in-memory DynamoDB API) for development and tests.
#
#   scripts/dynalite.sh install|start|stop|status|endpoint
#
# State (pid, endpoint, log) lives in $DYNALITE_STATE_DIR, default
# <repo>/.local; the file names match internal/dynalite's StartDetached.
set -euo pipefail

VERSION=4.0.0
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
INSTALL_DIR=$ROOT/.local/dynalite
STATE_DIR=${DYNALITE_STATE_DIR:-$ROOT/.local}
PID_FILE=$STATE_DIR/dynalite.pid
EP_FILE=$STATE_DIR/dynalite.endpoint
LOG_FILE=$STATE_DIR/dynalite.log
CLI=$INSTALL_DIR/node_modules/dynalite/cli.js
# The launcher (shared with internal/dynalite) makes tables ACTIVE at once and survives clients
# that abort requests; it must sit next to node_modules to find dynalite.
LAUNCHER_SRC=$ROOT/internal/dynalite/server.js
LAUNCHER=$INSTALL_DIR/server.js

LABEL="dynalite"
LOCK_NAME=dynalite.lock
. "$ROOT/scripts/lib.sh"

installed() { [ -x "$INSTALL_DIR/node_modules/.bin/dynalite" ]; }

install() {
  installed && return 0
  mkdir -p "$INSTALL_DIR"
  # Same lock file as the Go helper, so parallel installs don't collide.
  (
    flock 9
    if ! installed; then
      cd "$INSTALL_DIR"
      # classic-level's install script only picks its prebuilt binary (node-gyp-build).
      npm_package_json "$INSTALL_DIR" classic-level
      echo "dynalite.sh: installing dynalite@$VERSION into $INSTALL_DIR" >&2
      npm install --no-audit --no-fund --loglevel=error "dynalite@$VERSION" >&2
    fi
  ) 9>"$INSTALL_DIR/.install.lock"
  installed || die "install failed"
}

running() { is_running "$PID_FILE" dynalite; }

start() {
  mkdir -p "$STATE_DIR"
  exec 8>"$STATE_DIR/$LOCK_NAME" # one start/stop at a time per state dir
  flock 8
  if running; then cat "$EP_FILE"; return 0; fi
  install
  local port pid endpoint i
  port=$(free_port)
  endpoint=http://127.0.0.1:$port
  rm -f "$EP_FILE"
  # setsid: its own session, so Ctrl-C in the starting terminal or make
  # leaves it alone, and stop can signal its whole process group. Without
  # job control the background job is no group leader, so setsid execs
  # node in place and $! is node's pid.
  cmp -s "$LAUNCHER_SRC" "$LAUNCHER" 2>/dev/null || cp "$LAUNCHER_SRC" "$LAUNCHER"
  setsid node "$LAUNCHER" --host 127.0.0.1 --port "$port" >"$LOG_FILE" 2>&1 </dev/null 8>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  wait_ready "$pid" "$LOG_FILE" "Dynalite listening at" "$endpoint" || { rm -f "$PID_FILE"; exit 1; }
  echo "$endpoint" >"$EP_FILE"
  echo "$endpoint"
}

server_main "$@"
