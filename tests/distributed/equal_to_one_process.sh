#!/usr/bin/env bash
# Data parallelism is exact: training CFG for its steps over 2 and 4 MPI
# ranks gives one process's weights to float rounding (max |difference| <=
# 1e-5 of the largest weight). With batch norm that needs --sync-bn (the
# flags after PYTHON go to every run): then the script also trains 2 ranks
# without those flags and requires them to differ (> 1e-4), which shows the
# comparison can see what synchronisation changes. Skips (exit 77) without
# mpirun or an MPI build.
# Usage: equal_to_one_process.sh CSPNET_BINARY CFG PYTHON [TRAIN FLAG...]
set -euo pipefail
cli="$1" cfg="$2" python="$3"
shift 3
flags=("$@")
if ! command -v mpirun >/dev/null; then echo "SKIPPED: mpirun not found (openmpi-bin)"; exit 77; fi
if ! "$cli" --version | grep -q "(with MPI)"; then
  echo "SKIPPED: this cspnet was built without MPI (libopenmpi-dev)"; exit 77
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# run LAUNCHER...: trains with `flags` (none when name ends in -without-flags)
run() {
  local extra=(${flags[@]+"${flags[@]}"})
  [[ "$name" == *-without-flags ]] && extra=()
  "$@" "$cli" --threads 1 train "$cfg" --eval-limit 32 --progress plain --out "$work/$name" ${extra[@]+"${extra[@]}"} \
    >"$work/$name.log" 2>&1 || { cat "$work/$name.log" >&2; exit 1; }
}
name=one run
mpi=(mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
for ranks in 2 4; do
  name="ranks$ranks" run "${mpi[@]}" -np "$ranks"
done
compare_without_flags=0
if [ ${#flags[@]} -gt 0 ]; then
  name=ranks2-without-flags run "${mpi[@]}" -np 2
  compare_without_flags=1
fi
"$python" - "$work" "$compare_without_flags" <<'PY'
import sys, numpy as np
work, compare_without_flags = sys.argv[1], sys.argv[2] == "1"
def weights(name): return np.fromfile(f"{work}/{name}/final.weights", dtype=np.float32, offset=20)
def deviation(name):
    one, other = weights("one"), weights(name)
    assert other.size == one.size, f"{name}: {other.size} floats, one process {one.size}"
    return float(np.abs(other - one).max() / np.abs(one).max())
for ranks in (2, 4):
    d = deviation(f"ranks{ranks}")
    print(f"{ranks} ranks vs one process: max |difference| / max |weight| = {d:.3g}")
    assert d <= 1e-5, f"{ranks} ranks differ from one process by {d:.3g} (> 1e-5)"
if compare_without_flags:
    d = deviation("ranks2-without-flags")
    print(f"2 ranks without the flags vs one process: {d:.3g}")
    assert d > 1e-4, f"2 ranks without the flags equal one process ({d:.3g}): the test cannot see them"
PY
