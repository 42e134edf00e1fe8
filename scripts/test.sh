#!/usr/bin/env bash
# What `make test` (and so CI) runs, in phases that all run even when one fails:
#   vet, staticcheck                  go vet ./... and staticcheck ./...
#   launcher                          internal/dynalite's own tests (dynalite only; they install
#                                     from npm, so they run outside the private namespace)
#   go-test-<server>                  go test -race ./... (but the launcher) once per server of
#                                     $DYNAMODBQUEUE_SERVERS, via scripts/with-servers.sh
#   compat-sdkv1260-<server>          the module sqsserver/compat/sdkv1260 (SQS SDK v1.26.0), likewise
#   fuzz-<target>                     every fuzz target for $FUZZTIME
# `scripts/test.sh PHASE...` runs some of them: vet, staticcheck, launcher, servers, fuzz.
# Each phase leaves a `go test -json` file in .local/test-results; internal/testsummary prints a
# line per phase and ends on one line: "summary: N passed, N failed, N skipped".
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
GO=${GO:-go}
BIN=$ROOT/bin
FUZZTIME=${FUZZTIME:-100000x}
RESULTS=$ROOT/.local/test-results
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
LAUNCHER_PKG=github.com/dynamodbqueue/dynamodbqueue/internal/dynalite

# check NAME COMMAND...: runs a command that is not go test and records its outcome as one test
# of the pseudo-package NAME, so the summary counts it.
check() {
  local name=$1 action=pass
  shift
  echo "== $name: $*"
  "$@" || action=fail
  printf '{"Action":"%s","Package":"%s","Test":"%s"}\n{"Action":"%s","Package":"%s"}\n' \
    "$action" "$name" "$name" "$action" "$name" >"$RESULTS/$name.json"
}

# gotest RESULT ARGS...: go test -json ARGS, shown by gotestsum, saved as RESULT.json.
gotest() {
  local result=$1
  shift
  "$BIN/gotestsum" --format pkgname-and-test-fails --format-hide-empty-pkg \
    --jsonfile "$RESULTS/$result.json" -- "$@"
}
export -f gotest
export BIN RESULTS

phase_launcher() {
  echo "== launcher: internal/dynalite"
  gotest launcher -race -count=1 -timeout 10m ./internal/dynalite
}

phase_servers() {
  local servers=${DYNAMODBQUEUE_SERVERS:-dynalite dynamodb-local} server
  echo "== go test -race on $servers"
  PKGS=$("$GO" list ./... | grep -vx "$LAUNCHER_PKG" | tr '\n' ' ')
  export PKGS
  # sqsserver/compat/sdkv1260 is its own module (it pins service/sqs v1.26.0, the query
  # protocol): its tests run next to the main module's, on each server.
  bash scripts/with-servers.sh bash -c 'gotest "go-test-$DYNAMODBQUEUE_SERVER" -race -count=1 -timeout 15m $PKGS
    (cd sqsserver/compat/sdkv1260 && gotest "compat-sdkv1260-$DYNAMODBQUEUE_SERVER" -race -count=1 -timeout 10m ./...)'
  for server in $servers; do
    # A server that did not start leaves no results: count that as a failure, not as nothing.
    [ -s "$RESULTS/go-test-$server.json" ] || check "go-test-$server" false "$server did not run the tests"
    [ -s "$RESULTS/compat-sdkv1260-$server.json" ] || check "compat-sdkv1260-$server" false "$server did not run sqsserver/compat/sdkv1260"
  done
}

# pkg_label ./internal/keys -> internal-keys; . -> root.
pkg_label() {
  local p=${1#./}
  [ "$p" != . ] || p=root
  echo "${p//\//-}"
}

# go test -fuzz takes one target of one package at a time.
phase_fuzz() {
  local f pkg name
  for f in $(grep -rl --include='*_test.go' --exclude-dir=.local --exclude-dir=node_modules \
    --exclude-dir=testdata --exclude-dir=.git '^func Fuzz' . | sort); do
    pkg=$(dirname "$f")
    for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f"); do
      echo "== fuzz $pkg $name ($FUZZTIME)"
      gotest "fuzz-$(pkg_label "$pkg")-$name" -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" "$pkg"
    done
  done
}

phases=("$@")
[ ${#phases[@]} -gt 0 ] || phases=(vet staticcheck launcher servers fuzz)
for phase in "${phases[@]}"; do
  case "$phase" in
  vet) check vet "$GO" vet ./... ;;
  staticcheck) check staticcheck "$BIN/staticcheck" ./... ;;
  launcher) phase_launcher ;;
  servers) phase_servers ;;
  fuzz) phase_fuzz ;;
  *) echo "test.sh: unknown phase '$phase': want vet, staticcheck, launcher, servers or fuzz" >&2; exit 2 ;;
  esac
done

echo
"$GO" run ./internal/testsummary "$RESULTS"/*.json
