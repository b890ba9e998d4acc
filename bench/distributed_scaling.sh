#!/usr/bin/env bash
# Data-parallel scaling on one machine: 1 rank x T threads against T ranks x
# 1 thread (mpirun), on the main job's network and on csdarknet53 at 128x128,
# each trained from the same seed on Fashion-MNIST; the ranks with the
# allreduce overlapped with backward (25 MB buckets, the default) and as one
# allreduce after backward. Prints images/s and the gradient allreduce's
# volume and the time per step rank 0 spends in it after backward. Run it on an otherwise idle
# machine (under `flock /tmp/cspnet-build.lock` here).
# Usage: bench/distributed_scaling.sh [THREADS=2] [CSDARKNET53_STEPS=12]
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2}" csd_steps="${2:-12}"
cli=build/cspnet
shared="${CSPNET_SHARED:-../shared}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mpi=(mpirun --oversubscribe --bind-to none)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
# csdarknet53 at 128x128, batch 16 in one pass (its cfg: 256x256, 128 in 4).
sed -e 's/^width=.*/width=128/' -e 's/^height=.*/height=128/' -e 's/^batch=.*/batch=16/' \
    -e 's/^subdivisions=.*/subdivisions=1/' "$shared/cfg/csdarknet53.cfg" >"$work/csdarknet53-128.cfg"

# measure NAME LAUNCHER... -- TRAIN ARGS...: one run, its summary lines kept.
measure() {
  local name="$1"; shift
  local launcher=()
  while [ "$1" != -- ]; do launcher+=("$1"); shift; done
  shift
  "${launcher[@]}" "$cli" "$@" --progress plain -q --out "$work/$name" >"$work/$name.log" 2>&1 ||
    { cat "$work/$name.log" >&2; exit 1; }
  local rate allreduce
  rate="$(sed -n 's/^trained .*: \([0-9.]*\) images\/s.*/\1/p' "$work/$name.log")"
  allreduce="$(sed -n 's/^[0-9]* ranks: gradient allreduce of \(.*\) per step, \(.*\) per step on rank 0.*/\1, \2/p' "$work/$name.log")"
  printf '| %s | %s | %s |\n' "$name" "$rate" "${allreduce:--}"
}

echo "| run | images/s | allreduce per step (volume, time) |"
echo "|---|---:|---|"
small=(train cfg/cspdarknet-small.cfg --max-batches 150 --eval-limit 200)
measure "cspdarknet-small, 1 rank x $threads threads" -- --threads "$threads" "${small[@]}"
measure "cspdarknet-small, $threads ranks x 1 thread" "${mpi[@]}" -np "$threads" -- --threads 1 "${small[@]}"
measure "cspdarknet-small, $threads ranks x 1 thread, one allreduce after backward" "${mpi[@]}" -np "$threads" -- \
  --threads 1 "${small[@]}" --allreduce-bucket-mb 0
big=(train "$work/csdarknet53-128.cfg" --max-batches "$csd_steps" --eval-limit 16 --eval-batch 16)
measure "csdarknet53 128x128, 1 rank x $threads threads" -- --threads "$threads" "${big[@]}"
measure "csdarknet53 128x128, $threads ranks x 1 thread" "${mpi[@]}" -np "$threads" -- --threads 1 "${big[@]}"
measure "csdarknet53 128x128, $threads ranks x 1 thread, one allreduce after backward" "${mpi[@]}" -np "$threads" -- \
  --threads 1 "${big[@]}" --allreduce-bucket-mb 0
