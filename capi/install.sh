#!/usr/bin/env bash
# Installs the C library as built by `cargo build -p streamlet-capi [--release]` into PREFIX:
#   include/streamlet.h, lib/libstreamlet.so.X.Y.Z (+ .so.X soname link, .so dev link), lib/libstreamlet.a,
#   lib/pkgconfig/streamlet.pc
# Usage: capi/install.sh PREFIX [debug|release]   (default debug)
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX="${1:?usage: capi/install.sh PREFIX [debug|release]}"
PROFILE="${2:-debug}"
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
MAJOR=${VERSION%%.*}
mkdir -p "$PREFIX/include" "$PREFIX/lib/pkgconfig"
PREFIX=$(cd "$PREFIX" && pwd)
install -m 644 include/streamlet.h "$PREFIX/include/"
install -m 755 "target/$PROFILE/libstreamlet.so" "$PREFIX/lib/libstreamlet.so.$VERSION"
ln -sf "libstreamlet.so.$VERSION" "$PREFIX/lib/libstreamlet.so.$MAJOR"
ln -sf "libstreamlet.so.$MAJOR" "$PREFIX/lib/libstreamlet.so"
install -m 644 "target/$PROFILE/libstreamlet.a" "$PREFIX/lib/"
sed -e "s|@PREFIX@|$PREFIX|" -e "s|@VERSION@|$VERSION|" capi/streamlet.pc.in >"$PREFIX/lib/pkgconfig/streamlet.pc"
echo "installed streamlet $VERSION into $PREFIX"
