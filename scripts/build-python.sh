#!/usr/bin/env bash
# Builds and installs the cspnet Python package into the project's .venv
# (made by scripts/install-deps.sh). ccache, when present, makes rebuilds
# cache hits; the build runs under the shared build lock when flock exists.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  echo "build-python.sh: no $venv (run scripts/install-deps.sh first)" >&2
  exit 1
fi
cmake_args="-DCSPNET_BUILD_TESTS=OFF -DCSPNET_BUILD_BENCH=OFF"
if command -v ccache >/dev/null; then cmake_args="$cmake_args -DCMAKE_CXX_COMPILER_LAUNCHER=ccache"; fi
export CMAKE_ARGS="${CMAKE_ARGS:-} $cmake_args"
lock=()
if command -v flock >/dev/null; then lock=(flock /tmp/cspnet-build.lock); fi
"${lock[@]}" "$venv/bin/pip" install -q --no-build-isolation .
"$venv/bin/python" -c 'import cspnet; print("build-python.sh: cspnet", cspnet.__version__, "installed in '"$venv"'")'
