#!/usr/bin/env bash
# The unit suite under AddressSanitizer + UndefinedBehaviorSanitizer (leak
# checking included), in its own build directory ./build-san. Any report
# fails the test that produced it: UBSan does not recover, ASan aborts, and
# the CLI tests also look for sanitizer output of the child processes.
# Extra arguments go to ctest (e.g. -R Trainer).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-san -G Ninja -DCMAKE_BUILD_TYPE=Release -DCSPNET_SANITIZE=ON -DCSPNET_BUILD_BENCH=OFF >/dev/null
cmake --build build-san --target cspnet_tests cspnet_cli cspnet_public_api
ctest --test-dir build-san -L unit --output-on-failure -j2 "$@"
