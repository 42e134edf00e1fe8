#!/usr/bin/env bash
# Manage AWS's DynamoDB Local (the emulator AWS ships, 1.25.1) for tests.
#
#   scripts/ddblocal.sh install|start|stop|status|endpoint
#
# install: fetches the npm package amplify-dynamodb-simulator@2.9.30, which ships
# DynamoDBLocal.jar under emulator/, with `npm pack` (the tarball only: none of the package's
# ~280 Node.js dependencies, which the jar does not need) into <repo>/.local/ddblocal.
#
# DynamoDB Local has no option to listen on loopback only: it binds every interface. So start
# refuses to run unless the current network namespace has no interface but loopback, which is
# what scripts/with-servers.sh sets up (unshare --net). State (pid, endpoint, log) lives in
# $DDBLOCAL_STATE_DIR, default <repo>/.local.
set -euo pipefail

PACKAGE=amplify-dynamodb-simulator@2.9.30
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
INSTALL_DIR=$ROOT/.local/ddblocal
EMULATOR=$INSTALL_DIR/package/emulator
JAR=$EMULATOR/DynamoDBLocal.jar
STATE_DIR=${DDBLOCAL_STATE_DIR:-$ROOT/.local}
PID_FILE=$STATE_DIR/ddblocal.pid
EP_FILE=$STATE_DIR/ddblocal.endpoint
LOG_FILE=$STATE_DIR/ddblocal.log

LABEL="DynamoDB Local"
LOCK_NAME=ddblocal.lock
. "$ROOT/scripts/lib.sh"

installed() { [ -f "$JAR" ] && [ -d "$EMULATOR/DynamoDBLocal_lib" ]; }

install() {
  installed && return 0
  mkdir -p "$INSTALL_DIR"
  (
    flock 9
    if ! installed; then
      echo "ddblocal.sh: fetching $PACKAGE (DynamoDB Local) into $INSTALL_DIR" >&2
      local tmp
      tmp=$(mktemp -d "$INSTALL_DIR/.pack.XXXXXX")
      # npm pack checks the tarball against the registry's integrity hash.
      (cd "$tmp" && npm pack --silent --loglevel=error "$PACKAGE" >/dev/null)
      tar -xzf "$tmp"/*.tgz -C "$tmp"
      rm -rf "$INSTALL_DIR/package"
      mv "$tmp/package" "$INSTALL_DIR/package"
      rm -rf "$tmp"
    fi
  ) 9>"$INSTALL_DIR/.install.lock"
  installed || die "install failed: no $JAR"
}

# only_loopback: every network interface in this namespace is a loopback one.
only_loopback() {
  local ifs
  ifs=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//')
  [ "$ifs" = "lo" ]
}

running() { is_running "$PID_FILE" DynamoDBLocal.jar; }

start() {
  only_loopback || die "refusing to start: DynamoDB Local listens on every interface, and this network namespace has more than loopback ($(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')). Run it through scripts/with-servers.sh, which makes a private namespace."
  mkdir -p "$STATE_DIR"
  exec 8>"$STATE_DIR/$LOCK_NAME" # one start/stop at a time per state dir
  flock 8
  if running; then cat "$EP_FILE"; return 0; fi
  install
  command -v java >/dev/null || die "java not found: DynamoDB Local needs a Java 17 runtime"
  local port pid endpoint
  port=$(free_port)
  endpoint=http://127.0.0.1:$port
  rm -f "$EP_FILE"
  # -sharedDb: one database whatever the credentials and region, as the tests, the CLI and the
  # examples use different dummy keys. -disableTelemetry: no attempt to reach AWS. It runs in the
  # state directory, where it leaves a dynamodb-local-metadata.json.
  cd "$STATE_DIR"
  setsid java -Djava.library.path="$EMULATOR/DynamoDBLocal_lib" -jar "$JAR" \
    -inMemory -sharedDb -disableTelemetry -port "$port" >"$LOG_FILE" 2>&1 </dev/null 8>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  wait_ready "$pid" "$LOG_FILE" "CorsParams" "$endpoint" || { rm -f "$PID_FILE"; exit 1; }
  echo "$endpoint" >"$EP_FILE"
  echo "$endpoint"
}

server_main "$@"
