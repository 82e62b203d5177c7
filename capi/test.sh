#!/usr/bin/env bash
# The C API's whole suite: builds streamlet-capi (debug), checks the header is current and the soname, compiles
# and runs every C example and the C test runner against embedded brokers (started through the C API), runs them
# under valgrind memcheck and AddressSanitizer, compiles the header as C++, and builds the CMake example.
# Installs gcc/g++/valgrind/cmake/pkg-config from Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
OUT="$ROOT/target/capi"
LIB="$OUT/lib"
BIN="$OUT/bin"
QUICK="${CAPI_QUICK:-0}" # 1: skip valgrind, ASan and CMake (for local iteration)

step() { printf -- '--- %s\n' "$1"; }
printf '\n=== C API: examples, C tests, valgrind, ASan, C++ header, pkg-config/CMake (capi/test.sh) ===\n'

need=()
for tool in gcc g++ valgrind cmake pkg-config readelf; do
  command -v "$tool" >/dev/null || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  step "apt-get install (missing: ${need[*]})"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gcc g++ valgrind cmake pkg-config binutils
fi

step "cargo build -p streamlet-capi"
cargo build -q -p streamlet-capi --locked
step "cargo test -p streamlet-capi (header is current, soname)"
cargo test -q -p streamlet-capi --locked

# The library under its soname, as an installed copy would be found.
rm -rf "$OUT" && mkdir -p "$LIB" "$BIN"
ln -s "$ROOT/target/debug/libstreamlet.so" "$LIB/libstreamlet.so.0"
ln -s libstreamlet.so.0 "$LIB/libstreamlet.so"
CFLAGS=(-std=c11 -Wall -Wextra -Werror -g -I"$ROOT/include" -I"$ROOT/examples/c")
LDFLAGS=(-L"$LIB" -lstreamlet -Wl,-rpath,"$LIB")

EXAMPLES=(
  producer_basic producer_callback producer_partition_and_key producer_custom_partitioner producer_sync
  producer_interceptors consumer_auto_commit consumer_reset_earliest consumer_manual_commit consumer_rebalance
)

step "compile examples and tests"
for name in "${EXAMPLES[@]}"; do
  gcc "${CFLAGS[@]}" "examples/c/$name.c" "${LDFLAGS[@]}" -o "$BIN/$name"
done
gcc "${CFLAGS[@]}" -pthread capi/tests/test_capi.c "${LDFLAGS[@]}" -o "$BIN/test_capi"

step "C++: the header compiles as C++"
g++ -std=c++17 -Wall -Wextra -Werror -fsyntax-only -I"$ROOT/include" capi/tests/header_cpp.cpp

run() { # name command...
  local name="$1"; shift
  local start=$SECONDS
  if ! "$@" >"$OUT/$name.log" 2>&1; then
    cat "$OUT/$name.log"; echo "FAILED: $name" >&2; exit 1
  fi
  printf '    %-40s ok (%ds)\n' "$name" $((SECONDS - start))
}

step "examples (each against its own embedded broker)"
for name in "${EXAMPLES[@]}"; do run "$name" "$BIN/$name"; done

step "C tests"
run test_capi "$BIN/test_capi"
tail -1 "$OUT/test_capi.log"

[ "$QUICK" = 1 ] && { echo "capi: quick run done (valgrind, ASan, CMake skipped)"; exit 0; }

# valgrind: the whole test runner (every function, error paths, callbacks; ~45 s under valgrind) and two
# examples. Rust's std and tokio keep some process-lifetime allocations (thread-locals of threads still parked
# at exit), which valgrind reports as "still reachable"/"possibly lost"; only definite/indirect leaks fail.
step "valgrind memcheck"
VG=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect --track-origins=no --fair-sched=yes -q)
run valgrind_test_capi "${VG[@]}" "$BIN/test_capi"
run valgrind_producer_callback "${VG[@]}" "$BIN/producer_callback"
run valgrind_consumer_manual_commit "${VG[@]}" "$BIN/consumer_manual_commit"

# ASan: the C side is instrumented; the Rust library is not (it uses the system allocator, so ASan still
# tracks its allocations and LeakSanitizer sees leaks across the boundary).
step "AddressSanitizer"
ASAN_BIN="$OUT/asan"; mkdir -p "$ASAN_BIN"
gcc "${CFLAGS[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer -pthread capi/tests/test_capi.c "${LDFLAGS[@]}" -o "$ASAN_BIN/test_capi"
for name in "${EXAMPLES[@]}"; do
  gcc "${CFLAGS[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer "examples/c/$name.c" "${LDFLAGS[@]}" -o "$ASAN_BIN/$name"
done
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=98
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
run asan_test_capi "$ASAN_BIN/test_capi"
for name in "${EXAMPLES[@]}"; do run "asan_$name" "$ASAN_BIN/$name"; done
unset ASAN_OPTIONS UBSAN_OPTIONS

step "pkg-config + CMake example"
PREFIX="$OUT/prefix"
capi/install.sh "$PREFIX" >/dev/null
PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" pkg-config --exists --print-errors "streamlet = $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
gcc -std=c11 examples/c/producer_sync.c -I"$ROOT/examples/c" $(PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" pkg-config --cflags --libs streamlet) \
  -Wl,-rpath,"$PREFIX/lib" -o "$OUT/pkgconfig_producer_sync"
run pkgconfig_producer_sync "$OUT/pkgconfig_producer_sync"
# Static: the archive plus the system libraries Rust's std needs (pkg-config's Libs.private).
gcc -std=c11 examples/c/producer_sync.c -I"$ROOT/examples/c" -I"$PREFIX/include" "$PREFIX/lib/libstreamlet.a" \
  $(PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" pkg-config --static --libs-only-l streamlet | sed 's/-lstreamlet//') -o "$OUT/static_producer_sync"
if readelf -d "$OUT/static_producer_sync" | grep -q 'libstreamlet'; then echo "static build still needs libstreamlet.so" >&2; exit 1; fi
run static_producer_sync "$OUT/static_producer_sync"
cmake -S examples/c/cmake -B "$OUT/cmake" -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_BUILD_TYPE=Debug >"$OUT/cmake.log"
cmake --build "$OUT/cmake" >>"$OUT/cmake.log"
run cmake_example "$OUT/cmake/streamlet_cmake_example"

echo "capi: all passed"
