#!/usr/bin/env bash
# C API throughput next to the Rust producer's (core/benches/throughput.rs), release builds, same settings.
# Usage: capi/bench/run.sh   (env BENCH_MB, default 400: 100 B x BENCH_MB*2^20/400 and 1 KiB x BENCH_MB*2^20/1024)
set -euo pipefail
cd "$(dirname "$0")/../.."
MB="${BENCH_MB:-400}"
cargo build -q --release -p streamlet-capi --locked
OUT=target/capi/bench && mkdir -p "$OUT/lib"
ln -sf "$PWD/target/release/libstreamlet.so" "$OUT/lib/libstreamlet.so.0"
ln -sf libstreamlet.so.0 "$OUT/lib/libstreamlet.so"
gcc -O2 -std=c11 -Iinclude capi/bench/throughput.c -L"$OUT/lib" -lstreamlet -Wl,-rpath,"$PWD/$OUT/lib" -o "$OUT/throughput"
"$OUT/throughput" 100 $((MB * 1048576 / 400))
"$OUT/throughput" 1024 $((MB * 1048576 / 1024))
echo "--- Rust producer (core/benches/throughput.rs), same sizes and counts"
BENCH_MB="$MB" cargo bench -q -p streamlet --bench throughput --locked
