#!/usr/bin/env bash
# SIGKILLs a training run at random moments of its checkpoint cycle (a
# checkpoint every step) ROUNDS times; after every kill the last checkpoint
# must load and the run must resume from it (exit 0).
# Usage: kill_during_checkpoints.sh CSPNET_BINARY CFG [ROUNDS]
set -euo pipefail
cli="$1" cfg="$2" rounds="${3:-100}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="$work/run"
resumed=0 fresh=0
for round in $(seq 1 "$rounds"); do
  rm -rf "$out"
  "$cli" --threads 1 train "$cfg" --max-batches 100000 --save-every 1 --batch 8 --eval-limit 8 \
      --progress plain --out "$out" >"$work/train.log" 2>&1 &
  pid=$!
  # A random moment 0.3..1.5 s in: past the set-up, inside the step/checkpoint cycle.
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", 0.3 + 1.2 * r / 32767 }')"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ ! -e "$out/checkpoint.cspnet" ]; then
    fresh=$((fresh + 1))  # killed before the first checkpoint landed: nothing to resume
    continue
  fi
  # Loading is the test (CRC, sizes, state); --max-batches 1 then ends the
  # resumed run at once, writing its final weights from the loaded state.
  if ! "$cli" --threads 1 train "$cfg" --resume --max-batches 1 --batch 8 --eval-limit 8 --progress plain \
      --out "$out" >"$work/resume.log" 2>&1 || ! grep -q "resumed from" "$work/resume.log"; then
    echo "round $round: the checkpoint left by the kill did not resume:" >&2
    cat "$work/resume.log" >&2
    exit 1
  fi
  resumed=$((resumed + 1))
done
echo "kill test: $rounds kills, $resumed resumed from the last checkpoint, $fresh before any checkpoint; 0 failures"
