#!/usr/bin/env bash
# Installs the built library into a temporary prefix and builds examples/
# against it twice: with find_package(cspnet) and with pkg-config; runs both.
# Usage: scripts/check-install.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S examples -B "$work/cmake-build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
# A grey 32x32 PNG to classify (the CLI writes nothing like it: make one with python3).
python3 - "$work/image.png" <<'PY'
import sys, zlib, struct
w = h = 32
raw = b"".join(b"\0" + bytes((x * 8) % 256 for x in range(w)) for y in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
"$work/cmake-build/top5" cspdarknet-small "$work/image.png"
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig:$work/prefix/lib/x86_64-linux-gnu/pkgconfig"
# shellcheck disable=SC2046
c++ -std=c++20 -O1 examples/top5.cpp -o "$work/top5-pc" $(pkg-config --cflags --libs cspnet)
"$work/top5-pc" cspdarknet-small "$work/image.png" >/dev/null
echo "check-install.sh: examples/top5 built and ran against the installed package (find_package and pkg-config)"
