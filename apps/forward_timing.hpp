#pragma once
// Timing an executor's forward pass, for the commands that report inference
// time beside other figures (demo, detector ablation); `cspnet bench` keeps
// its own loop (progress line, per-layer times).
#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "cspnet/executor.hpp"
#include "cspnet/network.hpp"
#include "cspnet/tensor.hpp"
#include "cspnet/weights.hpp"

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

// A trained model to time: its cfg and weights files, at `batch` (0: the cfg's).
struct TimedModel {
  std::string cfg, weights;
  int batch = 0;
};

// Inference time in ms of models compared side by side, measured in the same
// minutes and round-robin: `rounds` passes over the models, each a median of
// `runs` forwards of a constant input; a model's figure is its lowest median,
// so a burst of load on the shared machine during one pass does not decide
// the comparison (one model timed alone, minutes after the other, can be off
// by a third).
inline std::vector<double> round_robin_forward_ms(const std::vector<TimedModel>& models, int rounds, int runs) {
  std::vector<std::unique_ptr<Network>> nets;
  std::vector<std::unique_ptr<Executor>> executors;
  for (const TimedModel& m : models) {
    nets.push_back(std::make_unique<Network>(Network::from_cfg_file(m.cfg)));
    load_weights(*nets.back(), m.weights);
    if (m.batch > 0) nets.back()->reshape(int(nets.back()->input_shape().w), int(nets.back()->input_shape().h), m.batch);
    executors.push_back(std::make_unique<Executor>(*nets.back()));
  }
  std::vector<double> ms(models.size(), std::numeric_limits<double>::infinity());
  for (int round = 0; round < rounds; ++round)
    for (size_t i = 0; i < models.size(); ++i) {
      const Tensor input(nets[i]->input_shape(), 0.5f);
      ms[i] = std::min(ms[i], median_forward_ms(*executors[i], input, runs));
    }
  return ms;
}

}  // namespace cspnet::cli
