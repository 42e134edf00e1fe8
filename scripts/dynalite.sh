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

die() { echo "dynalite.sh: $*" >&2; exit 1; }

installed() { [ -x "$INSTALL_DIR/node_modules/.bin/dynalite" ]; }

install() {
  installed && return 0
  mkdir -p "$INSTALL_DIR"
  # Same lock file as the Go helper, so parallel installs don't collide.
  (
    flock 9
    if ! installed; then
      cd "$INSTALL_DIR"
      # Without package.json npm installs into an ancestor that has one.
      [ -f package.json ] || echo '{"private": true}' >package.json
      echo "dynalite.sh: installing dynalite@$VERSION into $INSTALL_DIR" >&2
      npm install --no-audit --no-fund "dynalite@$VERSION" >&2
    fi
  ) 9>"$INSTALL_DIR/.install.lock"
  installed || die "install failed"
}

# running: the pid file names a live dynalite (not a reused pid).
running() {
  local pid
  [ -f "$PID_FILE" ] || return 1
  pid=$(cat "$PID_FILE")
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q dynalite
}

free_port() {
  node -e 'const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# answers URL: a signed-looking ListTables succeeds (dynalite checks the
# Authorization header's shape, not the signature).
answers() {
  node -e '
    const req = require("http").request(process.argv[1], { method: "POST", timeout: 1000, headers: {
      "Content-Type": "application/x-amz-json-1.0",
      "X-Amz-Target": "DynamoDB_20120810.ListTables",
      "X-Amz-Date": "20200101T000000Z",
      "Authorization": "AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
    } }, (res) => {
      let body = ""; res.on("data", (d) => body += d);
      res.on("end", () => process.exit(res.statusCode === 200 && body.includes("TableNames") ? 0 : 1));
    });
    req.on("error", () => process.exit(1));
    req.on("timeout", () => req.destroy());
    req.end("{}");' "$1"
}

start() {
  mkdir -p "$STATE_DIR"
  exec 8>"$STATE_DIR/dynalite.lock" # one start/stop at a time per state dir
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
  for ((i = 0; i < 300; i++)); do # up to ~30 s
    kill -0 "$pid" 2>/dev/null || { cat "$LOG_FILE" >&2; rm -f "$PID_FILE"; die "dynalite exited during start-up"; }
    # The banner proves that our process, not another one, holds the port.
    if grep -q "Dynalite listening at" "$LOG_FILE" && answers "$endpoint"; then
      echo "$endpoint" >"$EP_FILE"
      echo "$endpoint"
      return 0
    fi
    sleep 0.1
  done
  cat "$LOG_FILE" >&2
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
  die "dynalite did not answer at $endpoint within 30 s"
}

stop() {
  mkdir -p "$STATE_DIR"
  exec 8>"$STATE_DIR/dynalite.lock"
  flock 8
  if running; then
    local pid i
    pid=$(cat "$PID_FILE")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "stopped dynalite (pid $pid)"
  else
    echo "dynalite not running"
  fi
  rm -f "$PID_FILE" "$EP_FILE"
}

case "${1:-}" in
install) install ;;
start) start ;;
stop) stop ;;
status)
  if running; then
    echo "running (pid $(cat "$PID_FILE")) at $(cat "$EP_FILE" 2>/dev/null)"
  else
    echo "not running"
    exit 1
  fi
  ;;
endpoint)
  running && [ -s "$EP_FILE" ] || die "not running; start it with: scripts/dynalite.sh start"
  cat "$EP_FILE"
  ;;
*) die "usage: $0 install|start|stop|status|endpoint" ;;
esac
