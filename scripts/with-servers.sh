#!/usr/bin/env bash
# Run a command once against each local DynamoDB implementation.
#
#   scripts/with-servers.sh <command...>
#
# $DYNAMODBQUEUE_SERVERS picks the servers, in order (default "dynalite dynamodb-local"):
#   dynalite        dynalite 4.0.0, in-memory, Node.js (scripts/dynalite.sh)
#   dynamodb-local  AWS's DynamoDB Local 1.25.1, Java (scripts/ddblocal.sh)
# Each run gets DYNAMODBQUEUE_ENDPOINT and DYNAMODBQUEUE_SERVER (read by internal/testenv), and
# its server is started before and stopped after it. Every run is made; the exit status is the
# first failing run's.
#
# DynamoDB Local cannot be told to listen on loopback only, so everything runs in a private
# network namespace whose only interface is loopback (unshare --net; as a non-root user also
# --user --map-root-user): no server started here is reachable from outside, and nothing in here
# reaches the network, so packages and modules must be installed beforehand (.ci/run does).
set -euo pipefail

[ $# -gt 0 ] || { echo "usage: $0 <command...>" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/lib.sh"
SERVERS=${DYNAMODBQUEUE_SERVERS:-dynalite dynamodb-local}

if [ -z "${WITH_SERVERS_NETNS:-}" ]; then
  command -v unshare >/dev/null || die "unshare (util-linux) is needed for a private network namespace"
  userns=()
  [ "$(id -u)" = 0 ] || userns=(--user --map-root-user)
  WITH_SERVERS_NETNS=1 exec unshare --net "${userns[@]}" -- bash "$0" "$@"
fi
ip link set lo up

mkdir -p "$ROOT/.local"
STATE=$(mktemp -d "$ROOT/.local/with-servers.XXXXXX")
cleanup() {
  DYNALITE_STATE_DIR=$STATE "$ROOT/scripts/dynalite.sh" stop >/dev/null 2>&1 || true
  DDBLOCAL_STATE_DIR=$STATE "$ROOT/scripts/ddblocal.sh" stop >/dev/null 2>&1 || true
  rm -rf "$STATE"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# script_for SERVER: the script that manages SERVER.
script_for() {
  case "$1" in
  dynalite) echo "$ROOT/scripts/dynalite.sh" ;;
  dynamodb-local) echo "$ROOT/scripts/ddblocal.sh" ;;
  *) die "unknown server '$1' in DYNAMODBQUEUE_SERVERS: want dynalite or dynamodb-local" ;;
  esac
}

status=0
for server in $SERVERS; do
  script=$(script_for "$server")
  endpoint=$(DYNALITE_STATE_DIR=$STATE DDBLOCAL_STATE_DIR=$STATE "$script" start)
  echo "with-servers: $server at $endpoint" >&2
  # In the background with wait, so INT/TERM traps run at once rather than after the command.
  DYNAMODBQUEUE_SERVER=$server DYNAMODBQUEUE_ENDPOINT=$endpoint "$@" &
  child=$!
  trap 'kill -INT "$child" 2>/dev/null; wait "$child"; exit 130' INT
  trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 143' TERM
  rc=0
  wait "$child" || rc=$?
  [ "$status" != 0 ] || status=$rc
  DYNALITE_STATE_DIR=$STATE DDBLOCAL_STATE_DIR=$STATE "$script" stop >/dev/null
done
exit "$status"
