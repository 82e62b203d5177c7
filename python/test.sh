#!/usr/bin/env bash
# The Python package's suite: python/.venv with the pinned tools of requirements-dev.txt, the extension built in
# the debug profile into the workspace target/ (maturin develop), mypy --strict over the package and examples,
# pytest (python/tests), then every example in examples/python against an embedded broker.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
VENV="$HERE/.venv"

printf '\n=== %s ===\n' "Python package (debug build, mypy, examples, pytest)"

if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
want="$(sha256sum "$HERE/requirements-dev.txt" | cut -d' ' -f1)"
if [[ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]]; then
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements-dev.txt"
  echo "$want" >"$VENV/.requirements.sha256"
fi

echo "--- build (maturin develop, debug profile)"
(cd "$HERE" && VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" "$VENV/bin/maturin" develop --locked --quiet)

echo "--- mypy --strict (package, stubs, examples)"
(cd "$HERE" && "$VENV/bin/mypy" --strict --no-error-summary streamlet "$REPO/examples/python" && echo "mypy: clean")

echo "--- examples/python"
"$REPO/examples/python/run-all.sh" "$VENV/bin/python"

echo "--- pytest"
cd "$HERE" && "$VENV/bin/python" -m pytest -q -p no:cacheprovider --timeout 120 tests
