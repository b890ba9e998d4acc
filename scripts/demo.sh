#!/usr/bin/env bash
# The main job on embedded data: train a small CSPDarknet (cfg/cspdarknet-small.cfg)
# on Fashion-MNIST from Debian's dataset-fashion-mnist, from scratch, and print
# its test accuracy: the default 20 epochs reach 93% in about 9 minutes on 2
# quiet cores (docs/benchmarks.md); EPOCHS=N trains fewer (1 epoch: ~86%,
# 30 s). Then evaluate the trained weights (per-class accuracy, confusion).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
epochs="${EPOCHS:-20}"
out="${OUT:-out/demo}"
cfg=cfg/cspdarknet-small.cfg
echo "== $cfg"
build/cspnet info "$cfg" | tail -3
echo "== training $epochs epochs on Fashion-MNIST (output in $out)"
build/cspnet train "$cfg" --epochs "$epochs" --out "$out" --exist-ok
echo "== evaluating $out/final.weights"
build/cspnet eval "$cfg" --weights "$out/final.weights"
