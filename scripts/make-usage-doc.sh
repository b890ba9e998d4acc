#!/usr/bin/env bash
# Writes docs/usage.md: a tour of the everyday commands, each followed by
# what it printed when this script ran (so every output shown is real).
# Run from anywhere after scripts/build.sh; takes a few minutes.
# scripts/check-readme.sh runs the tour's commands as written.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf out/tour
mkdir -p out/tour
doc=docs/usage.md.tmp
trap 'rm -f "$doc"' EXIT

# step "TEXT" "COMMAND": a paragraph, the command, and its output (stdout
# and stderr as a terminal user sees them, progress as plain lines).
step() {
  printf '%s\n\n```sh\n%s\n```\n\n```text\n' "$1" "$2" >>"$doc"
  bash -c "$2" >>"$doc" 2>&1
  printf '```\n\n' >>"$doc"
}

cat >"$doc" <<'HEAD'
# Using cspnet: a tour

Every command below runs as written from the repository root of a fresh
clone after `scripts/install-deps.sh && scripts/build.sh`; the text under
each is what it printed when `scripts/make-usage-doc.sh` wrote this page
(2 threads on the shared 2-core development machine; timings vary).
`scripts/check-readme.sh` runs these commands in CI (and, through
`scripts/check-docs.sh`, has the CLI parse every command of the other docs,
whose measurements take minutes to hours, without running them). A zoo name works
wherever a cfg file does. Three flags are global, accepted before or after
any verb: `--threads N`, `--quiet` (`-q`: no progress lines; results and
summaries still print) and `--seed K` (the verb's own `--seed` where it makes
random choices; a verb that makes none says the flag has no effect).

HEAD
step "**zoo**: the models the library builds, beside the paper's figures where the paper gives them." \
  "build/cspnet zoo"
step "**info**: one row per layer (darknet's table), parameters, BFLOPs and the planned activation memory." \
  "build/cspnet info cspdarknet-small"
step "**export-cfg**: a zoo model as a darknet cfg, which darknet and every cfg-reading tool loads." \
  "mkdir -p out/tour && build/cspnet export-cfg cspdarknet-small out/tour/cspdarknet-small.cfg"
step "**train**: Fashion-MNIST (Debian's dataset-fashion-mnist) by default; the run folder gets the cfg, names, checkpoint, final weights, log.csv (a row every few steps and per epoch) and curves.png. Ctrl-C writes a checkpoint; \`--resume\` continues bit for bit." \
  "build/cspnet --threads 2 train cspdarknet-small --epochs 1 --out out/tour/run --exist-ok --progress plain --log-seconds 15"
step "**eval**: top-1/top-5, per-class accuracy and the confusion matrix on the test split, with the run's class names." \
  "build/cspnet eval out/tour/run/cspdarknet-small.cfg --weights out/tour/run/final.weights"
step "**quantize**: int8 inference. Calibrate the input range of every convolution on 200 training images, then evaluate in int8 (docs/quantization.md)." \
  "build/cspnet quantize out/tour/run/cspdarknet-small.cfg --weights out/tour/run/final.weights --calibration 200 --out out/tour/run/int8.q && build/cspnet eval out/tour/run/cspdarknet-small.cfg --weights out/tour/run/final.weights --precision int8 --quantization out/tour/run/int8.q"
step "**predict**: one image through the network. Here a generated detection scene (\`detector scenes\`), classified by the run's weights." \
  "rm -rf out/tour/scenes && build/cspnet detector scenes --out out/tour/scenes --train 1 --val 1 --size 96 && build/cspnet predict out/tour/run/cspdarknet-small.cfg --weights out/tour/run/final.weights out/tour/scenes/images/train/000000.png"
step "**bench**: inference time (median, min, max), images/s and the share of the machine's measured FMA peak." \
  "build/cspnet --threads 2 bench cspdarknet-small --runs 50"
cat >>"$doc" <<'NOTE'
`--no-winograd` and `--no-small-groups` put the Winograd 3x3s and the
grouped convolutions of 2-8 channels per group (csresnext50's) back on
oneDNN's direct kernels, for comparison (docs/architecture.md). With
`--precision bf16` or `--precision int8` the run is also held against the
measured peak of that precision's own dot-product instruction, where the
CPU has it (`vdpbf16ps`, `vpdpbusd`): on the Xeon of docs/benchmarks.md,
bf16 plans reach 97-98% of a `vdpbf16ps` peak that is half the fp32 FMA
peak, which is why bf16 runs slower than fp32 there.

NOTE
step "**export**: the trained network as ONNX for ONNX Runtime, OpenVINO or OpenCV (docs/deploy.md)." \
  "build/cspnet export out/tour/run/cspdarknet-small.cfg out/tour/small.onnx --weights out/tour/run/final.weights"
mv "$doc" docs/usage.md
trap - EXIT
echo "make-usage-doc.sh: wrote docs/usage.md"
