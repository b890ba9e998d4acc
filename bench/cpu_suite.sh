#!/usr/bin/env bash
# The fast-CPU benchmark suite (docs/benchmarks.md): cspnet against OpenCV DNN
# in one process (fp32, batch 1, 2 threads), bf16 against our fp32 with
# agreement on 1000 random inputs, batch 8 throughput, and the per-layer table
# of csresnext50 (grouped convolutions). Usage: bench/cpu_suite.sh [cspnet]
set -euo pipefail
cd "$(dirname "$0")/.."
cspnet=${1:-build/cspnet}
cfg=../shared/cfg
run() { echo "\$ $*"; "$@"; echo; }
for spec in csdarknet53:256 csresnext50:256 csdarknet53-panet-spp:512 csresnext50-panet-spp:512; do
  run "$cspnet" --threads 2 bench "$cfg/${spec%:*}.cfg" --size "${spec#*:}x${spec#*:}" --runs 20 --compare opencv
done
run "$cspnet" --threads 2 bench "$cfg/csdarknet53.cfg" --runs 20 --precision bf16 --accuracy-inputs 1000
run "$cspnet" --threads 2 bench "$cfg/csdarknet53.cfg" --batch 8 --runs 5
run "$cspnet" --threads 2 bench "$cfg/csresnext50.cfg" --runs 10 --layers
