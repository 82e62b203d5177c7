#!/usr/bin/env bash
# Builds Streamlet's Python extension in the release profile into bench/python-bench.venv (with confluent-kafka from
# python/requirements-dev.txt) and runs bench/python-bench.py with the given arguments.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
VENV="$HERE/python-bench.venv"
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
echo "*" >"$VENV/.gitignore"
"$VENV/bin/pip" install -q --disable-pip-version-check -r "$REPO/python/requirements-dev.txt"
(cd "$REPO/python" && VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" "$VENV/bin/maturin" develop --release --locked --quiet)
exec "$VENV/bin/python" "$HERE/python-bench.py" "$@"
