#!/usr/bin/env bash
# Installs what tests/fault needs on top of tests/interop/setup.sh (the venv with confluent-kafka, the Kafka 4.1
# jars): Debian faketime (the clock nemesis), the Python packages of requirements.txt (matplotlib), and the
# connect() shim built with gcc. Idempotent and quiet on success.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
"$REPO/tests/interop/setup.sh"

LOG="$(mktemp "${TMPDIR:-/tmp}/fault-setup.XXXXXX")"
trap 'rm -f "$LOG"' EXIT
step() {
  local name="$1"; shift
  if ! "$@" >"$LOG" 2>&1; then
    echo "setup.sh: step '$name' FAILED: $*" >&2
    sed 's/^/    /' "$LOG" >&2
    exit 1
  fi
}
command -v gcc >/dev/null || { echo "setup.sh: gcc is required (it builds the connect() shim)" >&2; exit 1; }

if [[ ! -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ]]; then
  SUDO=""; [[ "$(id -u)" == 0 ]] || SUDO="sudo"
  step "apt-get update" $SUDO apt-get update -qq
  step "apt-get install faketime" env DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq faketime
fi

VENV="$REPO/.venv"
h="$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)"
if [[ ! -f "$VENV/.fault-requirements.sha256" || "$(cat "$VENV/.fault-requirements.sha256")" != "$h" ]]; then
  step "pip install" "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
  echo "$h" >"$VENV/.fault-requirements.sha256"
fi

step "build the connect() shim" "$VENV/bin/python" -c "import sys; sys.path.insert(0, '$HERE'); import netmap; netmap.build()"
