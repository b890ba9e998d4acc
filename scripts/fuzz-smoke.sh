#!/usr/bin/env bash
# Fuzz smoke test: builds the two libFuzzer targets with clang (ASan + UBSan +
# libFuzzer coverage) in ./build-fuzz and runs each for a short time on its
# seed corpus. Exits non-zero if a target fails to build or finds a crash,
# a sanitizer report, an uncaught exception, a leak, a timeout or an OOM.
#
#   scripts/fuzz-smoke.sh            # 20 s per target
#   FUZZ_SECONDS=300 scripts/fuzz-smoke.sh
#
# Builds take ${CSPNET_BUILD_LOCK:-/tmp/cspnet-build.lock} (flock) so that
# they never overlap another build on a shared machine; JOBS sets -j (2).
# New corpus entries go to a temporary directory: fuzz/corpus/ (the checked-in
# seeds) is only read. Crash reproducers are written to build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-20}
jobs=${JOBS:-2}
lock=${CSPNET_BUILD_LOCK:-/tmp/cspnet-build.lock}
locked() { if command -v flock >/dev/null; then flock "$lock" "$@"; else "$@"; fi; }

locked env CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCSPNET_FUZZ=ON -DCSPNET_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
locked cmake --build build-fuzz -j "$jobs" --target fuzz_cfg fuzz_weights

mkdir -p build-fuzz/artifacts
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for target in cfg weights; do
  mkdir -p "$work/$target"
  dict=()
  if [ -f "fuzz/$target.dict" ]; then dict=(-dict="fuzz/$target.dict"); fi
  echo "== fuzz_$target for ${seconds}s"
  # rss/malloc limits: a layer may hold up to 1 GiB of parameters; anything
  # above 2 GiB in one input is a bug in the size checks.
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "build-fuzz/fuzz/fuzz_$target" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2560 -malloc_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="build-fuzz/artifacts/$target-" "$work/$target" "fuzz/corpus/$target" \
      >"$work/$target.log" 2>&1; then
    status=1
    echo "fuzz_$target FAILED; the end of its log:"
    tail -60 "$work/$target.log"
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+ *DONE" "$work/$target.log" || true
done
if [ "$status" -ne 0 ]; then echo "fuzz smoke: FAILED (reproducers in build-fuzz/artifacts/)"; else echo "fuzz smoke: OK"; fi
exit "$status"
