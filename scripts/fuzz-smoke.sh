#!/usr/bin/env bash
# Fuzz smoke test: builds the libFuzzer targets with clang (ASan + UBSan +
# libFuzzer coverage) in ./build-fuzz and runs each for a short time on its
# seed corpus. Exits non-zero if a target fails to build or finds a crash,
# a sanitizer report, an uncaught exception, a leak, a timeout or an OOM.
#
#   scripts/fuzz-smoke.sh            # 20 s per target
#   FUZZ_SECONDS=300 scripts/fuzz-smoke.sh
#   FUZZ_TARGETS="idx image" scripts/fuzz-smoke.sh   # some targets only
#
# Builds take ${CSPNET_BUILD_LOCK:-/tmp/cspnet-build.lock} (flock) so that
# they never overlap another build on a shared machine; JOBS sets -j (2).
# New corpus entries go to a temporary directory: the seeds (fuzz/corpus/<target>,
# and generated binary ones) are only read. Crash reproducers are written to build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-20}
jobs=${JOBS:-2}
lock=${CSPNET_BUILD_LOCK:-/tmp/cspnet-build.lock}
locked() { if command -v flock >/dev/null; then flock "$lock" "$@"; else "$@"; fi; }

locked env CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCSPNET_FUZZ=ON -DCSPNET_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
all_targets="cfg weights labels coco_json checkpoint idx image list_files training_log training_keys obj_data quantization_table"
# The ONNX importer's target exists when the build found protobuf and onnx.proto.
if grep -q 'fuzz_onnx_import' build-fuzz/build.ninja; then all_targets="$all_targets onnx_import"; fi
targets=${FUZZ_TARGETS:-$all_targets}
build_targets=()
for target in $targets; do build_targets+=("fuzz_$target"); done
locked cmake --build build-fuzz -j "$jobs" --target "${build_targets[@]}"

mkdir -p build-fuzz/artifacts
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
# Seeds for the weights reader are generated (no binary files in git): the
# fuzz target's network holds 220 floats; headers of every darknet version.
python3 - "$work/seeds-weights" <<'PY'
import os, struct, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
params = struct.pack("<220f", *[((i * 37) % 101 - 50) / 50.0 for i in range(220)])
def write(name, header, body):
    with open(os.path.join(out, name), "wb") as f:
        f.write(header + body)
write("v0.2-seen64.weights", struct.pack("<iiiQ", 0, 2, 5, 1000), params)
write("v0.1-seen32.weights", struct.pack("<iiiI", 0, 1, 0, 1000), params)
write("v1001-transposed.weights", struct.pack("<iiiI", 1001, 0, 0, 0), params)
write("header-only.weights", struct.pack("<iiiQ", 0, 2, 5, 0), b"")
write("truncated.weights", struct.pack("<iiiQ", 0, 2, 5, 0), params[:313])
PY
# IDX seeds (fuzz_idx's input: classes - 1, the label file's length as u16,
# the label file, the image file), raw and gzip as Fashion-MNIST ships them.
python3 - "$work/seeds-idx" <<'PY'
import gzip, os, struct, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
def idx(count, rows, cols, labels):
    images = struct.pack(">IIII", 0x803, count, rows, cols) + bytes((i * 29) % 256 for i in range(count * rows * cols))
    return images, struct.pack(">II", 0x801, count) + bytes(labels)
def write(name, classes, images, labels):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([classes - 1]) + struct.pack("<H", len(labels)) + labels + images)
images, labels = idx(3, 4, 5, [0, 9, 4])
write("raw.idx", 10, images, labels)
write("gzip.idx", 10, gzip.compress(images, mtime=0), gzip.compress(labels, mtime=0))
write("gzip-images-raw-labels.idx", 10, gzip.compress(images, mtime=0), labels)
write("label-out-of-range.idx", 4, images, labels)
write("truncated.idx", 10, images[:-7], labels)
PY
# Checkpoint and image seeds come from the project's own writers
# (save_checkpoint, save_png, stb's writers, libjpeg), inside the targets.
for target in checkpoint image; do
  case " $targets " in *" $target "*)
    mkdir -p "$work/seeds-$target"
    CSPNET_FUZZ_WRITE_SEEDS="$work/seeds-$target" "build-fuzz/fuzz/fuzz_$target" -runs=0 >"$work/seeds-$target.log" 2>&1 ||
      { cat "$work/seeds-$target.log"; echo "fuzz_$target: writing its seeds failed"; exit 1; };;
  esac
done
# Seeds for the ONNX importer: the target exports them itself (binary files).
case " $targets " in *" onnx_import "*)
  mkdir -p "$work/seeds-onnx_import"
  CSPNET_ONNX_WRITE_SEEDS="$work/seeds-onnx_import" ASAN_OPTIONS=detect_leaks=0 build-fuzz/fuzz/fuzz_onnx_import;;
esac
declare -A seeds=([cfg]=fuzz/corpus/cfg [weights]="$work/seeds-weights" [labels]=fuzz/corpus/labels
               [coco_json]=fuzz/corpus/coco_json [checkpoint]="$work/seeds-checkpoint" [idx]="$work/seeds-idx"
               [image]="$work/seeds-image" [list_files]=fuzz/corpus/list_files
               [training_log]=fuzz/corpus/training_log [training_keys]=fuzz/corpus/training_keys
               [obj_data]=fuzz/corpus/obj_data [onnx_import]="$work/seeds-onnx_import"
               [quantization_table]=fuzz/corpus/quantization_table)

for target in $targets; do
  mkdir -p "$work/$target"
  dict=()
  if [ -f "fuzz/$target.dict" ]; then dict=(-dict="fuzz/$target.dict"); fi
  echo "== fuzz_$target for ${seconds}s"
  # rss/malloc limits: a layer may hold up to 1 GiB of parameters; anything
  # above 2 GiB in one input is a bug in the size checks.
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "build-fuzz/fuzz/fuzz_$target" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2560 -malloc_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="build-fuzz/artifacts/$target-" "$work/$target" "${seeds[$target]}" \
      >"$work/$target.log" 2>&1; then
    status=1
    echo "fuzz_$target FAILED; the end of its log:"
    tail -60 "$work/$target.log"
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+ *DONE" "$work/$target.log" || true
done
if [ "$status" -ne 0 ]; then echo "fuzz smoke: FAILED (reproducers in build-fuzz/artifacts/)"; else echo "fuzz smoke: OK"; fi
exit "$status"
