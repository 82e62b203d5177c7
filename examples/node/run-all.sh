#!/usr/bin/env bash
# Runs every Node example (each against its own embedded broker unless BOOTSTRAP is set), stopping at the first
# failure. Needs the addon built in node/ (node/test.sh builds it).
set -euo pipefail
cd "$(dirname "$0")"

EXAMPLES=(
  producer_basic
  producer_callback
  producer_partition_and_key
  producer_custom_partitioner
  producer_sync
  producer_interceptors
  consumer_auto_commit
  consumer_reset_earliest
  consumer_manual_commit
  consumer_rebalance_listener
)

for name in "${EXAMPLES[@]}"; do
  [ -f "$name.js" ] || { echo "example $name is missing" >&2; exit 1; }
  echo "=== $name"
  if ! timeout 60 node "$name.js"; then
    echo "example $name FAILED" >&2
    exit 1
  fi
done
echo "all Node examples passed"
