#!/usr/bin/env bash
# The main job on embedded data: `cspnet demo` — baselines from the zoo and
# their CSP versions trained from scratch on Fashion-MNIST (Debian's
# dataset-fashion-mnist) with one recipe and seed, then measured side by
# side: parameters, BFLOPs, CIO, training memory, training and inference
# speed, test accuracy, gradient diversity. The report goes to out/demo/report.md.
#   scripts/demo.sh            # two pairs (Darknet, DenseNet), about 10 minutes on 2 cores
#   DEMO=--quick scripts/demo.sh   # one pair, one epoch: under a minute
#   DEMO=--full scripts/demo.sh    # six pairs, 20 epochs each: hours
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
# shellcheck disable=SC2086
build/cspnet demo ${DEMO:-} --out "${OUT:-out/demo}"
