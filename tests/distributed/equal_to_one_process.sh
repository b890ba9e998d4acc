#!/usr/bin/env bash
# Data parallelism is exact: training tests/cfg/distributed_no_bn.cfg (no
# batch norm) for its 6 steps of a global batch of 16 over 2 and 4 MPI ranks
# gives one process's weights to float rounding (max |difference| <= 1e-5 of
# the largest weight). Skips (exit 77) without mpirun or an MPI build.
# Usage: equal_to_one_process.sh CSPNET_BINARY CFG PYTHON
set -euo pipefail
cli="$1" cfg="$2" python="$3"
if ! command -v mpirun >/dev/null; then echo "SKIPPED: mpirun not found (openmpi-bin)"; exit 77; fi
if ! "$cli" --version | grep -q "(with MPI)"; then
  echo "SKIPPED: this cspnet was built without MPI (libopenmpi-dev)"; exit 77
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
run() { "$@" --threads 1 train "$cfg" --eval-limit 32 --progress plain --out "$work/$name" >"$work/$name.log" 2>&1 ||
          { cat "$work/$name.log" >&2; exit 1; }; }
name=one run "$cli"
mpi=(mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
for ranks in 2 4; do
  name="ranks$ranks" run "${mpi[@]}" -np "$ranks" "$cli"
done
"$python" - "$work" <<'PY'
import sys, numpy as np
work = sys.argv[1]
def weights(name): return np.fromfile(f"{work}/{name}/final.weights", dtype=np.float32, offset=20)
one = weights("one")
for ranks in (2, 4):
    other = weights(f"ranks{ranks}")
    assert other.size == one.size, f"{ranks} ranks: {other.size} floats, one process {one.size}"
    deviation = float(np.abs(other - one).max() / np.abs(one).max())
    print(f"{ranks} ranks vs one process: max |difference| / max |weight| = {deviation:.3g}")
    assert deviation <= 1e-5, f"{ranks} ranks differ from one process by {deviation:.3g} (> 1e-5)"
PY
