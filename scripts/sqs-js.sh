#!/usr/bin/env bash
# Installs the AWS SDK for JavaScript v3 SQS client at the versions the SQS-compatible endpoint
# is tested with (sqsserver/compat/js), each into its own directory under .local/sqs-js/:
#   .local/sqs-js/<version>/node_modules/@aws-sdk/client-sqs
# 3.1169.0 speaks the JSON protocol, 3.445.0 the query protocol (the last before 3.447).
# Idempotent; `make servers` runs it, because the tests run offline.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSIONS=${SQS_JS_VERSIONS:-3.1169.0 3.445.0}
BASE=$ROOT/.local/sqs-js
. "$ROOT/scripts/lib.sh"

for v in $VERSIONS; do
  dir=$BASE/$v
  [ -f "$dir/node_modules/@aws-sdk/client-sqs/package.json" ] && continue
  mkdir -p "$dir"
  (
    flock 9
    if [ ! -f "$dir/node_modules/@aws-sdk/client-sqs/package.json" ]; then
      echo "sqs-js.sh: installing @aws-sdk/client-sqs@$v into $dir" >&2
      [ -f "$dir/package.json" ] || echo '{"private": true}' >"$dir/package.json"
      cd "$dir"
      npm install --no-audit --no-fund --loglevel=error --save-exact "@aws-sdk/client-sqs@$v" >&2
    fi
  ) 9>"$dir/.install.lock"
  [ -f "$dir/node_modules/@aws-sdk/client-sqs/package.json" ] || die "install of @aws-sdk/client-sqs@$v failed"
done
