#!/usr/bin/env bash
# The unit suite under AddressSanitizer + UndefinedBehaviorSanitizer (leak
# checking included), in its own build directory ./build-san. Any report
# fails the test that produced it: UBSan does not recover, ASan aborts, and
# the CLI tests also look for sanitizer output of the child processes.
# Extra arguments go to ctest (e.g. -R Trainer).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-san -G Ninja -DCMAKE_BUILD_TYPE=Release -DCSPNET_SANITIZE=ON -DCSPNET_BUILD_BENCH=OFF >/dev/null
targets=(cspnet_tests cspnet_cli cspnet_public_api)
# The ONNX importer's tests (label unit) exist when protobuf and onnx.proto were found.
if grep -q 'cspnet_onnx_import_tests' build-san/build.ninja; then targets+=(cspnet_onnx_import_tests); fi
cmake --build build-san --target "${targets[@]}"
# fontconfig's process-lifetime caches are the only suppressed reports
# (scripts/sanitizer/lsan.supp); the table of used suppressions is not printed,
# so the CLI tests' check for sanitizer output stays meaningful.
export LSAN_OPTIONS="suppressions=$PWD/scripts/sanitizer/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
ctest --test-dir build-san -L unit --output-on-failure -j2 "$@"
