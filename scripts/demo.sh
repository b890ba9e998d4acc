#!/usr/bin/env bash
# The main job on embedded data: train a small CSPDarknet (cfg/cspdarknet-small.cfg)
# on Fashion-MNIST from Debian's dataset-fashion-mnist, from scratch, and print
# its test accuracy. EPOCHS=12 reaches ~93% (docs/benchmarks.md); the default
# of 3 epochs takes a few minutes on 2 cores. Then evaluate the trained
# weights (per-class accuracy, confusion matrix).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
epochs="${EPOCHS:-3}"
out="${OUT:-out/demo}"
cfg=cfg/cspdarknet-small.cfg
echo "== $cfg"
build/cspnet info "$cfg" | tail -3
echo "== training $epochs epochs on Fashion-MNIST (output in $out)"
build/cspnet train "$cfg" --epochs "$epochs" --out "$out"
echo "== evaluating $out/final.weights"
build/cspnet eval "$cfg" --weights "$out/final.weights"
