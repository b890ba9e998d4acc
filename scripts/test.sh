#!/usr/bin/env bash
# Builds and runs every test with CTest. Extra arguments go to ctest,
# e.g. `scripts/test.sh -L unit` for the fast unit tests only.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
ctest --test-dir build --output-on-failure "$@"
