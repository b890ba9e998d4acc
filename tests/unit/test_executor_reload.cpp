// Executor::reload_weights: a compiled executor picks up changed weights
// (the trainer's evaluation executor is compiled once per run) and then
// computes what a freshly compiled one computes.
#include <gtest/gtest.h>

#include "cspnet/cspnet.hpp"
#include "test_helpers.hpp"

namespace cspnet {
namespace {

void expect_reload_matches_fresh_compile(const ExecOptions& options) {
  // Convolutions with and without batch norm, grouped, connected with
  // batch norm, and every other kind.
  Network net = Network::from_cfg_file(tests::test_cfg("train_every_layer.cfg"));
  net.reshape(net.config().width, net.config().height, 2);
  init_weights(net, 1);
  Executor compiled(net, options);
  const Tensor input = tests::random_input(net.input_shape(), 3);
  const std::vector<float> before = compiled.forward(input).back().values();
  init_weights(net, 2);
  compiled.reload_weights();
  const std::vector<float> reloaded = compiled.forward(input).back().values();
  Executor fresh(net, options);
  EXPECT_EQ(reloaded, fresh.forward(input).back().values());
  EXPECT_NE(reloaded, before);  // the new weights did change the output
}

TEST(ExecutorReload, ReloadedWeightsGiveTheFreshlyCompiledOutput) { expect_reload_matches_fresh_compile({}); }

TEST(ExecutorReload, ReloadsUnfoldedBatchNormStatistics) {
  ExecOptions options;
  options.fold_batchnorm = false;
  expect_reload_matches_fresh_compile(options);
}

}  // namespace
}  // namespace cspnet
