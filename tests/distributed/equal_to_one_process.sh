#!/usr/bin/env bash
# Data parallelism is exact: training CFG for its steps over 2 and 4 MPI
# ranks gives one process's weights to float rounding (max |difference| <=
# 1e-5 of the largest weight). With batch norm that needs --sync-bn (the
# flags after PYTHON go to every run): then the script also trains 2 ranks
# without --sync-bn and requires them to differ (> 1e-4), which shows the
# comparison can see what synchronisation changes. Skips (exit 77) without
# mpirun or an MPI build.
# Evaluation is sharded over the ranks and reduced: the last log row's
# training and test accuracy must equal one process's, its test loss agree
# to 1e-4 (33 test images: the shards are unequal); a detector's validation
# mAP@0.5 and AP (`--detector DATA`: `cspnet detector train DATA CFG --map`)
# to 1e-3.
# Usage: equal_to_one_process.sh CSPNET_BINARY [--detector DATA] CFG PYTHON [TRAIN FLAG...]
set -euo pipefail
cli="$1"
shift
verb=(train)
if [ "$1" = --detector ]; then verb=(detector train "$2"); shift 2; fi
cfg="$1" python="$2"
shift 2
flags=("$@")
[ "${verb[0]}" = detector ] && verb+=("$cfg" --map) || verb+=("$cfg")
if ! command -v mpirun >/dev/null; then echo "SKIPPED: mpirun not found (openmpi-bin)"; exit 77; fi
if ! "$cli" --version | grep -q "(with MPI)"; then
  echo "SKIPPED: this cspnet was built without MPI (libopenmpi-dev)"; exit 77
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# run LAUNCHER...: trains with `flags` (less --sync-bn when name ends in -without-sync-bn)
run() {
  local extra=()
  for flag in ${flags[@]+"${flags[@]}"}; do
    [[ "$name" == *-without-sync-bn && "$flag" == --sync-bn ]] || extra+=("$flag")
  done
  "$@" "$cli" --threads 1 "${verb[@]}" --eval-limit 33 --progress plain --out "$work/$name" ${extra[@]+"${extra[@]}"} \
    >"$work/$name.log" 2>&1 || { cat "$work/$name.log" >&2; exit 1; }
}
name=one run
mpi=(mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
for ranks in 2 4; do
  name="ranks$ranks" run "${mpi[@]}" -np "$ranks"
done
compare_without_sync_bn=0
if [[ " ${flags[*]-} " == *" --sync-bn "* ]]; then
  name=ranks2-without-sync-bn run "${mpi[@]}" -np 2
  compare_without_sync_bn=1
fi
"$python" - "$work" "$compare_without_sync_bn" <<'PY'
import csv, sys, numpy as np
work, compare_without_sync_bn = sys.argv[1], sys.argv[2] == "1"
def last_row(name):
    with open(f"{work}/{name}/log.csv") as f: return list(csv.DictReader(f))[-1]
def weights(name): return np.fromfile(f"{work}/{name}/final.weights", dtype=np.float32, offset=20)
def deviation(name):
    one, other = weights("one"), weights(name)
    assert other.size == one.size, f"{name}: {other.size} floats, one process {one.size}"
    return float(np.abs(other - one).max() / np.abs(one).max())
for ranks in (2, 4):
    d = deviation(f"ranks{ranks}")
    print(f"{ranks} ranks vs one process: max |difference| / max |weight| = {d:.3g}")
    assert d <= 1e-5, f"{ranks} ranks differ from one process by {d:.3g} (> 1e-5)"
    one, other = last_row("one"), last_row(f"ranks{ranks}")
    for column in ("train_accuracy", "test_accuracy"):
        assert other[column] == one[column], f"{ranks} ranks: {column} {other[column]}, one process {one[column]}"
    if one["test_loss"]:
        loss_gap = abs(float(other["test_loss"]) - float(one["test_loss"])) / float(one["test_loss"])
        print(f"{ranks} ranks: test accuracy {other['test_accuracy']} (one process the same), test loss within {loss_gap:.2g}")
        assert loss_gap <= 1e-4, f"{ranks} ranks: test loss {other['test_loss']}, one process {one['test_loss']}"
    for column in ("test_map50", "test_map"):
        if not one[column]: continue
        gap = abs(float(other[column]) - float(one[column]))
        print(f"{ranks} ranks: {column} {float(other[column]):.4f}, one process {float(one[column]):.4f}")
        assert gap <= 1e-3, f"{ranks} ranks: {column} {other[column]}, one process {one[column]}"
if compare_without_sync_bn:
    d = deviation("ranks2-without-sync-bn")
    print(f"2 ranks without --sync-bn vs one process: {d:.3g}")
    assert d > 1e-4, f"2 ranks without --sync-bn equal one process ({d:.3g}): the test cannot see it"
PY
