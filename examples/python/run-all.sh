#!/usr/bin/env bash
# Runs every Python example with the given interpreter (default: python3), stopping at the first failure.
# Set BOOTSTRAP=host:port to run them against an existing cluster instead of an embedded broker each.
set -euo pipefail
cd "$(dirname "$0")"
PY="${1:-python3}"

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
  aio_producer_consumer
)

for name in "${EXAMPLES[@]}"; do
  [ -f "$name.py" ] || { echo "example $name is missing" >&2; exit 1; }
  echo "=== $name"
  if ! timeout 120 "$PY" "$name.py"; then
    echo "example $name FAILED" >&2
    exit 1
  fi
done
echo "all ${#EXAMPLES[@]} Python examples passed"
