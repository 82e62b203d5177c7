#!/usr/bin/env bash
# Builds and runs every test suite: Rust (unit, integration, examples), the Python package, the C ABI, the Node
# package, then the interoperability tests with real third-party Kafka clients and Apache Kafka 4.1 (one broker and a
# 3-node KRaft cluster), then the short fault campaign (tests/fault: SIGKILL of a single Streamlet node,
# kill/pause/partition against 3-node Kafka and 3-node Streamlet clusters, disk-full regressions). Each suite's
# script installs what it needs. One shared target/, debug profile.
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n=== %s ===\n' "$1"; }

section "Rust: build"
cargo build --workspace --all-targets --locked

section "Rust: tests"
cargo test --workspace --locked

section "Rust examples (each against an embedded broker)"
examples/rust/run-all.sh

section "Python package: maturin build, mypy, examples, pytest"
python/test.sh

section "C ABI: header, examples, C tests, valgrind, ASan, C++, pkg-config, CMake"
capi/test.sh

section "Node package: addon build, node --test suite, examples"
node/test.sh

section "Interop: third-party clients against a Streamlet broker"
STREAMLET_BIN="$PWD/target/debug/streamlet" tests/interop/run.sh

section "Fault injection: short campaign (tests/fault)"
STREAMLET_BIN="$PWD/target/debug/streamlet" tests/fault/run-short.sh
