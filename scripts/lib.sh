# Shared helpers for scripts/dynalite.sh and scripts/ddblocal.sh (sourced, not run).

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# free_port prints a TCP port that is free on 127.0.0.1 right now.
free_port() {
  node -e 'const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# answers URL: a signed-looking ListTables succeeds. Neither dynalite nor DynamoDB Local checks
# the signature, only the Authorization header's shape.
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

# is_running PIDFILE PATTERN: the pid file names a live process whose command line contains
# PATTERN (so a reused pid is not mistaken for our server).
is_running() {
  local pid
  [ -f "$1" ] || return 1
  pid=$(cat "$1")
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}

# stop_group PID: TERM the process group PID leads (setsid made it a leader), wait up to 10 s,
# then KILL it.
stop_group() {
  local pid=$1 i
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}

# wait_ready PID LOG BANNER ENDPOINT: polls (every 0.1 s, for at most 60 s) until the log shows
# BANNER (proof that our process, not another, holds the port) and ENDPOINT answers. Fails,
# stopping PID, if the process exits or the time runs out (returns 1 after printing the log).
wait_ready() {
  local pid=$1 log=$2 banner=$3 endpoint=$4 i
  for ((i = 0; i < 600; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$log" >&2
      echo "$(basename "$0"): server exited during start-up" >&2
      return 1
    fi
    if grep -q "$banner" "$log" && answers "$endpoint"; then
      return 0
    fi
    sleep 0.1
  done
  cat "$log" >&2
  stop_group "$pid"
  echo "$(basename "$0"): no answer at $endpoint within 60 s" >&2
  return 1
}

# npm_package_json DIR [ALLOWED...]: a package.json in DIR, so npm installs there and not into an
# ancestor, with the packages whose install scripts we reviewed listed in allowScripts (npm 11
# otherwise prints an "install-scripts" advisory on every first install; older npm ignores it).
npm_package_json() {
  local dir=$1 allowed="" p
  shift
  for p in "$@"; do allowed="$allowed${allowed:+, }\"$p\": true"; done
  printf '{\n  "private": true,\n  "allowScripts": {%s}\n}\n' "$allowed" >"$dir/package.json"
}

# The commands both server scripts share. The calling script defines LABEL, STATE_DIR, PID_FILE,
# EP_FILE, LOCK_NAME and the functions install, start and running.

# stop_server: stops the server the state directory records, if it runs.
stop_server() {
  mkdir -p "$STATE_DIR"
  exec 8>"$STATE_DIR/$LOCK_NAME" # one start/stop at a time per state dir
  flock 8
  if running; then
    local pid
    pid=$(cat "$PID_FILE")
    stop_group "$pid"
    echo "stopped $LABEL (pid $pid)"
  else
    echo "$LABEL not running"
  fi
  rm -f "$PID_FILE" "$EP_FILE"
}

# server_main COMMAND: install|start|stop|status|endpoint.
server_main() {
  case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop_server ;;
  status)
    if running; then
      echo "running (pid $(cat "$PID_FILE")) at $(cat "$EP_FILE" 2>/dev/null)"
    else
      echo "not running"
      exit 1
    fi
    ;;
  endpoint)
    running && [ -s "$EP_FILE" ] || die "not running; start it with: $0 start"
    cat "$EP_FILE"
    ;;
  *) die "usage: $0 install|start|stop|status|endpoint" ;;
  esac
}
