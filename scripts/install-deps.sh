#!/usr/bin/env bash
# Installs everything cspnet's build, tests and benchmarks need on Debian 12.
# The library itself needs only Debian packages; the test oracles add OpenCV
# (test-only), python3-torch/numpy, and a small virtualenv with PyPI oracles.
# Usage: scripts/install-deps.sh [--no-venv] [--bench-venv]
#   --bench-venv  also create .venv-bench with current PyTorch, onnx and
#                 onnxruntime from PyPI for bench/bench_peers.py (several GB:
#                 PyPI's Linux torch wheel brings CUDA libraries; not for CI)
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
want_venv=1
want_bench_venv=0
for arg in "$@"; do
  case "$arg" in
    --no-venv) want_venv=0 ;;
    --bench-venv) want_bench_venv=1 ;;
    *) echo "install-deps.sh: unknown option '$arg' (expected --no-venv or --bench-venv)" >&2; exit 2 ;;
  esac
done

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

packages=(
  # build
  build-essential cmake ninja-build pkg-config
  # library
  libdnnl-dev libcli11-dev nlohmann-json3-dev libstb-dev libjpeg62-turbo-dev zlib1g-dev
  # charts (training and PR curves): cairo with a font
  libcairo2-dev fonts-dejavu-core
  # data-parallel training (optional at build time)
  libopenmpi-dev openmpi-bin
  # ONNX export (optional at build time): protobuf and the ONNX proto
  libprotobuf-dev protobuf-compiler libonnx-dev
  # tests, benchmarks, oracles
  libgtest-dev libgmock-dev libbenchmark-dev libopencv-dev
  python3 python3-venv python3-numpy python3-torch
  clang libclang-rt-14-dev
  # the two-host MPI test (network namespaces)
  iproute2
  # embedded default data
  dataset-fashion-mnist
)

export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}"

if [ "$want_venv" -eq 1 ]; then
  venv="$here/.venv"
  # --system-site-packages so the oracles see Debian's python3-torch/numpy.
  if [ ! -x "$venv/bin/python" ]; then
    /usr/bin/python3 -m venv --system-site-packages "$venv"
  fi
  if ! "$venv/bin/pip" install -q onnx onnxruntime openvino opencv-python-headless pycocotools; then
    echo "install-deps.sh: PyPI oracles could not be installed; tests that need them will skip" >&2
  fi
  # The Python package's build tools and test runner (scripts/build-python.sh).
  if ! "$venv/bin/pip" install -q nanobind scikit-build-core pytest; then
    echo "install-deps.sh: Python build tools could not be installed; the pytest suite will skip" >&2
  fi
fi
if [ "$want_bench_venv" -eq 1 ]; then
  # Separate from .venv: the tests' oracles keep Debian's torch, the peer
  # benchmark wants the current release.
  bench_venv="$here/.venv-bench"
  if [ ! -x "$bench_venv/bin/python" ]; then
    /usr/bin/python3 -m venv "$bench_venv"
  fi
  "$bench_venv/bin/pip" install -q --progress-bar off torch onnx onnxruntime openvino nncf numpy
  "$bench_venv/bin/python" -c 'import torch, onnx, onnxruntime, openvino, nncf; print("install-deps.sh: .venv-bench: torch", torch.__version__, "onnxruntime", onnxruntime.__version__, "openvino", openvino.__version__, "nncf", nncf.__version__)'
fi
echo "install-deps.sh: done"
