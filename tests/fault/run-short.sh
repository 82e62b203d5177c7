#!/usr/bin/env bash
# The short fault campaign for CI (a few minutes): the proxy and the connect() shim on their own, the checker on
# hand-written histories, then SIGKILL against a single Streamlet node, kill/pause/partition against a 3-node
# Apache Kafka 4.1 cluster, and the same against a 3-node Streamlet cluster once `streamlet broker` accepts
# process.roles (skipped with the reason otherwise). Fails on any anomaly. Arguments go to pytest.
#   STREAMLET_BIN=target/debug/streamlet tests/fault/run-short.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
"$HERE/setup.sh"
cd "$HERE"
exec "$REPO/.venv/bin/pytest" -q -rsx test_network.py test_checker.py test_schedule.py test_disk_full.py test_restart.py test_short.py "$@"
