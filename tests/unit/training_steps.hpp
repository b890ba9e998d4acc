#pragma once
// Seeded forward/backward passes through a TrainingExecutor, for tests that
// compare two executor configurations on the same steps.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "cspnet/cspnet.hpp"
#include "cspnet/training.hpp"
#include "test_helpers.hpp"

namespace cspnet::tests {

struct StepResult {
  std::vector<std::vector<float>> param_grads;  // every trainable parameter's gradient, in layer order
  double loss = 0;
  std::vector<float> output;
};

// Runs `steps` forward/backward passes on seeded random inputs and targets
// (gradients zeroed before each) and returns the state after the last one.
// `losses`: the loss layers to train (empty: the network's own).
inline StepResult train_steps(Network& net, const TrainingOptions& options, int steps,
                              const std::vector<int>& losses = {}) {
  init_weights(net, 11);
  TrainingExecutor executor(net, options, losses);
  const Shape shape = net.input_shape();
  const int classes = executor.classes();
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  StepResult result;
  for (int step = 0; step < steps; ++step) {
    const Tensor input = tests::random_input(shape, uint32_t(100 + step));
    std::vector<float> targets(size_t(shape.n * classes));
    std::vector<int> labels(size_t(shape.n));
    for (int64_t n = 0; n < shape.n; ++n) {
      double sum = 0;
      for (int k = 0; k < classes; ++k) sum += targets[size_t(n * classes + k)] = uniform(rng);
      for (int k = 0; k < classes; ++k) targets[size_t(n * classes + k)] = float(targets[size_t(n * classes + k)] / sum);
      labels[size_t(n)] = int(rng() % uint32_t(classes));
    }
    executor.zero_gradients();
    executor.forward(input.data(), StepContext{true, uint64_t(1000 + step)});
    result.loss = executor.loss({targets, labels, {}}, 1.f / float(shape.n)).loss;
    executor.backward();
  }
  for (int i = 0; i < net.size(); ++i)
    for (const TrainableParam& p : net.layer(i).trainable_params()) result.param_grads.push_back(*p.grads);
  result.output = executor.output().values();
  return result;
}

// Two runs of the same steps agree: the loss to `loss_tolerance` and every
// parameter gradient to `grad_tolerance`, relative to the second run's
// values (each gradient must be non-zero, so the comparison means something).
inline void expect_steps_close(const StepResult& a, const StepResult& b, double loss_tolerance,
                               double grad_tolerance) {
  EXPECT_NEAR(a.loss, b.loss, loss_tolerance * std::fabs(b.loss));
  ASSERT_EQ(a.param_grads.size(), b.param_grads.size());
  for (size_t p = 0; p < a.param_grads.size(); ++p) {
    ASSERT_EQ(a.param_grads[p].size(), b.param_grads[p].size());
    const Deviation d = deviation(a.param_grads[p], b.param_grads[p]);
    ASSERT_GT(d.scale, 0.0) << "parameter " << p;
    EXPECT_LE(d.worst, grad_tolerance * d.scale) << "parameter " << p;
  }
}

}  // namespace cspnet::tests
