#!/usr/bin/env bash
# Run a command with DYNAMODBQUEUE_ENDPOINT pointing at a local DynamoDB.
#
#   scripts/with-dynalite.sh <command...>
#
# If DYNAMODBQUEUE_ENDPOINT is already set, the command just runs.
# Otherwise a private dynalite (own state dir under .local/, so it never
# touches the one `make dynalite` runs) is started, and stopped by its pid
# when the command ends, fails or is interrupted.
set -euo pipefail

[ $# -gt 0 ] || { echo "usage: $0 <command...>" >&2; exit 2; }
if [ -n "${DYNAMODBQUEUE_ENDPOINT:-}" ]; then exec "$@"; fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$ROOT/.local"
STATE=$(mktemp -d "$ROOT/.local/with-dynalite.XXXXXX")

cleanup() {
  DYNALITE_STATE_DIR=$STATE "$ROOT/scripts/dynalite.sh" stop >/dev/null || true
  rm -rf "$STATE"
}
trap cleanup EXIT

DYNAMODBQUEUE_ENDPOINT=$(DYNALITE_STATE_DIR=$STATE "$ROOT/scripts/dynalite.sh" start)
export DYNAMODBQUEUE_ENDPOINT
echo "with-dynalite: DYNAMODBQUEUE_ENDPOINT=$DYNAMODBQUEUE_ENDPOINT" >&2

# Run the command in the background and wait: bash defers traps while a
# foreground command runs, so a TERM to this script would otherwise leave
# the command and dynalite running. Signals are passed on to the command.
"$@" 0<&0 &
child=$!
trap 'kill -INT "$child" 2>/dev/null; wait "$child"; exit 130' INT
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 143' TERM
set +e
wait "$child"
rc=$?
exit "$rc"
