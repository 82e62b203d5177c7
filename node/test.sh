#!/usr/bin/env bash
# The Node package's suite: installs the locked dev dependencies (@napi-rs/cli, kafkajs), builds the addon in
# debug into the workspace target/, runs the node:test suite (__test__/) and the examples (examples/node/).
set -euo pipefail
cd "$(dirname "$0")"
printf '\n=== %s ===\n' "Node package: node:test suite (with kafkajs mixed clients), then the examples"

npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
npx --no-install napi build --platform --js false --dts native.d.ts --cargo-flags="--locked"
node --test --test-concurrency=1 __test__/
../examples/node/run-all.sh
