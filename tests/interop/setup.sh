#!/usr/bin/env bash
# Installs everything tests/interop and bench/ need. Idempotent and quiet on success;
# on failure it prints the failing step's output and exits non-zero.
#
#   - Debian kcat                          (apt-get update only when kcat is missing)
#   - <repo>/.venv with requirements.txt   (confluent-kafka, kafka-python, aiokafka, pytest, codecs)
#   - tests/interop/node/node_modules      (kafkajs, from package-lock.json)
#   - tests/interop/.deps/lib/*.jar        (kafka-clients, kafka_2.13 broker, kafka-tools: Maven Central)
#   - tests/interop/.deps/classes          (the Java interop program, compiled with javac)
#
# Each step is skipped when a stamp says its inputs have not changed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DEPS="$HERE/.deps"
mkdir -p "$DEPS"
LOG="$(mktemp "${TMPDIR:-/tmp}/interop-setup.XXXXXX")"
trap 'rm -f "$LOG"' EXIT

step() { # step NAME CMD...: run quietly, show output and fail loudly on error
  local name="$1"; shift
  if ! "$@" >"$LOG" 2>&1; then
    echo "setup.sh: step '$name' FAILED: $*" >&2
    sed 's/^/    /' "$LOG" >&2
    exit 1
  fi
}

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
stamp_ok() { [[ -f "$1" && "$(cat "$1")" == "$2" ]]; }

need() { command -v "$1" >/dev/null 2>&1 || { echo "setup.sh: '$1' is required but not on PATH" >&2; exit 1; }; }
need python3; need npm; need node; need mvn; need java; need javac

# --- kcat -------------------------------------------------------------------------------------------
if ! command -v kcat >/dev/null 2>&1; then
  SUDO=""; [[ "$(id -u)" == 0 ]] || SUDO="sudo"
  step "apt-get update" $SUDO apt-get update -qq
  step "apt-get install kcat" env DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq kcat
  command -v kcat >/dev/null || { echo "setup.sh: kcat still missing after apt-get install" >&2; exit 1; }
fi

# --- Python venv ------------------------------------------------------------------------------------
VENV="$REPO/.venv"
if [[ ! -x "$VENV/bin/python" ]]; then
  step "create venv" python3 -m venv "$VENV"
fi
h="$(hash_of "$HERE/requirements.txt")"
if ! stamp_ok "$VENV/.interop-requirements.sha256" "$h"; then
  step "pip install" "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
  echo "$h" >"$VENV/.interop-requirements.sha256"
fi

# --- kafkajs ----------------------------------------------------------------------------------------
h="$(hash_of "$HERE/node/package.json" "$HERE/node/package-lock.json")"
if [[ ! -d "$HERE/node/node_modules/kafkajs" ]] || ! stamp_ok "$HERE/node/node_modules/.interop.sha256" "$h"; then
  step "npm ci" bash -c "cd '$HERE/node' && npm ci --no-audit --no-fund --loglevel=error"
  echo "$h" >"$HERE/node/node_modules/.interop.sha256"
fi

# --- Java jars from Maven Central -------------------------------------------------------------------
h="$(hash_of "$HERE/java/pom.xml")"
if ! stamp_ok "$DEPS/lib.sha256" "$h" || ! ls "$DEPS"/lib/kafka-clients-*.jar >/dev/null 2>&1; then
  rm -rf "$DEPS/lib"
  step "mvn dependency:copy-dependencies" \
    mvn -q -B -f "$HERE/java/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$DEPS/lib" -DincludeScope=runtime
  echo "$h" >"$DEPS/lib.sha256"
fi

# --- Java interop program -----------------------------------------------------------------------------
h="$(hash_of "$HERE"/java/src/*.java "$DEPS/lib.sha256")"
if ! stamp_ok "$DEPS/classes.sha256" "$h"; then
  rm -rf "$DEPS/classes"; mkdir -p "$DEPS/classes"
  step "javac" javac -nowarn -d "$DEPS/classes" -cp "$DEPS/lib/*" "$HERE"/java/src/*.java
  echo "$h" >"$DEPS/classes.sha256"
fi
