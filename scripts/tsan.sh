#!/usr/bin/env bash
# The unit tests of the threaded paths (batch loader and its prefetch pool,
# data sources, the detection data pipeline, the trainers, the executor's
# OpenMP loops) under ThreadSanitizer, in their own build directory
# ./build-tsan (clang, -fsanitize=thread). Exits non-zero on any report.
#
#   scripts/tsan.sh                 # the tests in $filter below
#   TSAN_TESTS='BatchLoader\.' scripts/tsan.sh   # a ctest -R regex instead
#
# OpenMP: Debian's oneDNN is linked against GCC's libgomp, whose barriers
# TSan cannot see, so every parallel loop would look like a race. Here the
# whole process runs on LLVM's libomp instead (libgomp.so.1 resolves to it
# through build-tsan/libomp-as-libgomp: libomp implements libgomp's ABI),
# and libomp's Archer tool (libarcher.so, libomp-14-dev) tells TSan about
# OpenMP's fork, join, barrier and task synchronisation. What is still
# reported inside the uninstrumented oneDNN/OpenMP libraries would be
# suppressed in scripts/sanitizer/tsan.supp, each entry with its reason.
#
# Builds take ${CSPNET_BUILD_LOCK:-/tmp/cspnet-build.lock} (flock), in steps
# of at most 10 minutes so that a shared machine's other builds get a turn.
set -euo pipefail
cd "$(dirname "$0")/.."

lock=${CSPNET_BUILD_LOCK:-/tmp/cspnet-build.lock}
locked() { if command -v flock >/dev/null; then flock "$lock" "$@"; else "$@"; fi; }
llvm_lib=/usr/lib/llvm-14/lib
for file in "$llvm_lib/libomp.so.5" "$llvm_lib/libarcher.so"; do
  [ -e "$file" ] || { echo "tsan.sh: $file missing (Debian: libomp-14-dev)" >&2; exit 1; }
done

# -O1 -g: TSan's recommendation (usable speed, exact stacks).
locked env CC=clang CXX=clang++ cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g -DNDEBUG" -DCSPNET_TSAN=ON -DCSPNET_BUILD_BENCH=OFF >/dev/null
# Ninja resumes where a step stopped.
until locked timeout 600 cmake --build build-tsan --target cspnet_tests cspnet_cli; do
  [ $? -eq 124 ] || exit 1
done

mkdir -p build-tsan/libomp-as-libgomp
ln -sf "$llvm_lib/libomp.so.5" build-tsan/libomp-as-libgomp/libgomp.so.1
export LD_LIBRARY_PATH="$PWD/build-tsan/libomp-as-libgomp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OMP_TOOL_LIBRARIES="$llvm_lib/libarcher.so"
# Archer prints one line when it is active: the CLI tests would read it as
# unexpected output, so it stays quiet (ARCHER_OPTIONS=verbose=1 shows it).
export ARCHER_OPTIONS="${ARCHER_OPTIONS:-verbose=0}"
# halt_on_error: the first report fails the test (and a CLI child's exit
# code). ignore_noninstrumented_modules: the pthread and memory calls that
# the uninstrumented libraries (libomp, libdnnl, libstdc++) make are not
# tracked, as Archer asks: libomp's own thread start-up otherwise shows as
# a race on its mutexes (pthread_mutex_init in a new worker, lock in the
# main thread, both inside libomp). Our code's accesses are all still
# checked, inside OpenMP regions too.
export TSAN_OPTIONS="suppressions=$PWD/scripts/sanitizer/tsan.supp:halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

# The threaded paths: the loader and prefetch pool (BatchLoader, DataSource),
# detection data and its training pipeline, the trainers (loader threads
# beside the executor's OpenMP loops), the executor's inference paths, and
# every layer's OpenMP loops forward and backward (the layer reference and
# gradient tests, layouts, fusion, Winograd).
# DetectionScenes.GenerateThousandsPerSecond is left out: it asserts a
# single-threaded speed, which TSan's instrumentation cannot meet.
filter='^(BatchLoader|DataSource|DetectionScenes|DetectionSourceRoutes|DetectionAugment|DetectorTraining|TrainerTest|ExecutorSwitch|ExecutorReload|MultiScale'
filter+='|LayerReference|[A-Za-z]+Gradient|Shapes/MaxPoolGradient|BatchNormTraining|DropoutTraining|YoloLoss'
filter+='|TrainingLayouts|ResidualFusion|Winograd|BlockedLayout)\.'
locked ctest --test-dir build-tsan -L unit -R "${TSAN_TESTS:-$filter}" -E 'GenerateThousandsPerSecond' \
  --output-on-failure -j2 --timeout 600
