#!/usr/bin/env bash
# Builds and runs every Rust example (debug profile), stopping at the first failure.
# Set BOOTSTRAP=host:port to run them against an existing cluster instead of an embedded broker.
set -euo pipefail
cd "$(dirname "$0")/../.."

EXAMPLES=(
  quickstart
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

cargo build -q -p streamlet-examples --bins
for name in "${EXAMPLES[@]}"; do
  [ -f "examples/rust/src/bin/$name.rs" ] || { echo "example $name is missing" >&2; exit 1; }
  echo "=== $name"
  if ! cargo run -q -p streamlet-examples --bin "$name"; then
    echo "example $name FAILED" >&2
    exit 1
  fi
done
echo "all examples passed"
