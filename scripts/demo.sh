#!/usr/bin/env bash
# The main job on embedded data (until training lands): build, show the
# accounting of a CSP network, write deterministic weights, run a prediction.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
out=out/demo
mkdir -p "$out"
cfg=tests/cfg/csp_every_layer.cfg
if [ -f ../shared/cfg/csdarknet53.cfg ]; then
  echo "== the paper's CSPDarknet53 (../shared/cfg/csdarknet53.cfg)"
  build/cspnet info ../shared/cfg/csdarknet53.cfg | tail -3
fi
echo "== $cfg"
build/cspnet info "$cfg"
build/cspnet init "$cfg" "$out/csp_every_layer.weights" --seed 7
# A 64x48 RGB test pattern (BMP), generated so the repository holds no binaries.
python3 - "$out/pattern.bmp" <<'PY'
import struct, sys
w, h = 64, 48
row = (w * 3 + 3) // 4 * 4
pixels = bytearray()
for y in range(h):
    line = bytearray()
    for x in range(w):
        line += bytes(((x * 4) % 256, (y * 5) % 256, ((x + y) * 3) % 256))
    pixels += line + bytes(row - len(line))
header = b"BM" + struct.pack("<IHHI", 54 + len(pixels), 0, 0, 54)
info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
open(sys.argv[1], "wb").write(header + info + pixels)
PY
build/cspnet predict "$cfg" "$out/pattern.bmp" --weights "$out/csp_every_layer.weights" --threshold 0.5 --dump "$out/output.npy"
echo "== wrote $out/csp_every_layer.weights and $out/output.npy"
