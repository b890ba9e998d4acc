#pragma once
// Timing an executor's forward pass, for the commands that report inference
// time beside other figures (demo, detector ablation); `cspnet bench` keeps
// its own loop (progress line, per-layer times).
#include <algorithm>
#include <chrono>
#include <vector>

#include "cspnet/executor.hpp"
#include "cspnet/tensor.hpp"

namespace cspnet::cli {

// Median wall time in ms of `runs` forwards of `input`, after one untimed
// warm-up (first touch of the arena and kernels, caches after other work).
inline double median_forward_ms(Executor& executor, const Tensor& input, int runs) {
  executor.forward(input);
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    executor.forward(input);
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace cspnet::cli
