#!/usr/bin/env bash
# Debian's oneDNN 2.6.3 against oneDNN 3.x (Intel's plain-CPU GNU-OpenMP wheel
# from PyPI, the newest such build) on the convolutions of our networks: the
# same microbenchmark (bench/onednn_versions/conv_layers.cpp) built against
# each, run one after the other at 2 threads, with activations in the layout
# oneDNN picks (`any`) and in our executor's nChw16c (`blocked`). Per-layer
# times and kernels: build/onednn-versions/<cfg>-<size>.txt.<precision>.<layout>.<version>
#   bench/onednn_versions.sh [--runs N] CFG|ZOO_NAME[@WxH] ...
# Needs build/cspnet (for the layer shapes) and pip access for the wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=11
if [[ "${1:-}" == "--runs" ]]; then runs=$2; shift 2; fi
[[ $# -gt 0 ]] || set -- ../shared/cfg/csdarknet53.cfg@256x256 ../shared/cfg/csresnext50.cfg@256x256
work=build/onednn-versions
mkdir -p "$work"
wheel_version=2023.2.0  # oneDNN 3.2; later PyPI oneDNN wheels are SYCL builds
if [[ ! -f "$work/v3/include/oneapi/dnnl/dnnl.hpp" ]]; then
  python3 -m pip download --quiet --no-deps "onednn-cpu-gomp==$wheel_version" \
    "onednn-devel-cpu-gomp==$wheel_version" -d "$work/wheels"
  rm -rf "$work/v3" && mkdir -p "$work/v3"
  for wheel in "$work"/wheels/*.whl; do python3 -m zipfile -e "$wheel" "$work/unpacked"; done
  cp -r "$work"/unpacked/*.data/data/include "$work/v3/"
  mkdir -p "$work/v3/lib" && cp -a "$work"/unpacked/onednn_cpu_gomp-*.data/data/lib/libdnnl.so* "$work/v3/lib/"
fi
source=bench/onednn_versions/conv_layers.cpp
g++ -O2 -std=c++20 "$source" -o "$work/conv_layers_v2" -ldnnl
g++ -O2 -std=c++20 -I"$work/v3/include" "$source" -o "$work/conv_layers_v3" \
  -L"$work/v3/lib" -Wl,-rpath,"$PWD/$work/v3/lib" -ldnnl
export OMP_NUM_THREADS=2
for spec in "$@"; do
  cfg=${spec%@*}; size=${spec#*@}; [[ "$spec" == *@* ]] || size=""
  shapes="$work/$(basename "$cfg" .cfg)${size:+-$size}.txt"
  build/cspnet info "$cfg" ${size:+--size "$size"} --json | python3 -c '
import json, sys
net = json.load(sys.stdin)
layers = net["layers"]
def shape(i): return net["input"][1:] if i == -1 else layers[i]["output"]
for layer in layers:
    if layer["type"] != "conv": continue
    geometry = layer["geometry"].split()
    kernel, stride = int(geometry[0]), int(geometry[2].split("/")[1])
    groups = int(geometry[3][1:]) if len(geometry) > 3 else 1
    src = shape(layer["inputs"][0])
    print(*src, *layer["output"], kernel, stride, groups)
' > "$shapes"
  for precision in f32 bf16 int8; do
    for layout in any blocked; do
      # int8 convolutions on nChw16c are oneDNN's reference kernel (seconds per network)
      [[ $precision == int8 && $layout == blocked ]] && continue
      for version in v2 v3; do
        log="$shapes.$precision.$layout.$version"
        "$work/conv_layers_$version" "$shapes" "$precision" "$runs" "$layout" >"$log"
        echo "$(basename "$cfg") ${size:-cfg size} $(tail -n 1 "$log")"
      done
    done
  done
done
