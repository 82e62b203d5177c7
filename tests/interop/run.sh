#!/usr/bin/env bash
# Runs the interop suite: setup.sh, then pytest (arguments are passed through to pytest).
#   tests/interop/run.sh                                    # against streamlet (target/debug/streamlet)
#   STREAMLET_INTEROP_TARGET=kafka tests/interop/run.sh     # against Apache Kafka 4.1
#   tests/interop/run.sh -k kcat -x                          # pytest args
# Exit status is pytest's.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
"$HERE/setup.sh"
cd "$REPO"
set +e
"$REPO/.venv/bin/pytest" -q "$HERE" "$@"
exit $?
