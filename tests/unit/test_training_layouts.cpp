// Blocked layouts in training (TrainingOptions::blocked_layout): tensors
// between convolutions, pooling, routes and shortcuts stay in nChw16c; the
// loss, gradients and outputs equal those of the plain-NCHW executor.
#include <gtest/gtest.h>

#include <cmath>

#include "cspnet/cspnet.hpp"
#include "cspnet/training.hpp"
#include "test_helpers.hpp"
#include "training_steps.hpp"

namespace {

using namespace cspnet;

// Layer indices below refer to this cfg: a CSP-like split (route groups), a
// residual block (shortcut), a concatenation, max pooling, then layers that
// run on plain tensors only (upsample, global average pool, softmax).
const char* kCfg = R"([net]
width=16
height=12
channels=3
[convolutional]
batch_normalize=1
filters=32
size=3
pad=1
activation=leaky
[maxpool]
size=2
stride=2
[route]
layers=-1
groups=2
group_id=1
[convolutional]
batch_normalize=1
filters=16
size=1
activation=mish
[convolutional]
batch_normalize=1
filters=16
size=3
pad=1
activation=leaky
[shortcut]
from=-3
activation=linear
[route]
layers=-1,-5
[convolutional]
filters=32
size=1
activation=relu
[upsample]
stride=2
[convolutional]
filters=6
size=1
activation=linear
[avgpool]
[softmax]
)";

Network layouts_net() {
  Network net = Network::from_cfg(parse_cfg_text(kCfg, "layouts.cfg"));
  net.reshape(16, 12, 2);
  return net;
}

TEST(TrainingLayouts, KeepsTensorsBetweenLayoutAgnosticLayersBlocked) {
  Network net = layouts_net();
  TrainingExecutor executor(net);
  const std::vector<bool>& blocked = executor.blocked_tensors();
  ASSERT_EQ(blocked.size(), size_t(net.size() + 1));
  for (int t : {0, 1, 2, 3, 4, 5, 6}) EXPECT_TRUE(blocked[size_t(t)]) << "tensor " << t;
  // Read by upsample (plain only), 6 channels, the output, the network input.
  for (int t : {7, 8, 9, 10, 11, net.size()}) EXPECT_FALSE(blocked[size_t(t)]) << "tensor " << t;

  Network plain_net = layouts_net();
  TrainingExecutor plain(plain_net, {.blocked_layout = false});
  for (bool b : plain.blocked_tensors()) EXPECT_FALSE(b);
}

TEST(TrainingLayouts, BlockedTrainingEqualsPlainTraining) {
  Network blocked_net = layouts_net(), plain_net = layouts_net();
  const tests::StepResult a = tests::train_steps(blocked_net, {.blocked_layout = true}, 2);
  const tests::StepResult b = tests::train_steps(plain_net, {.blocked_layout = false}, 2);
  const tests::Deviation output = tests::deviation(a.output, b.output);
  EXPECT_LE(output.worst, 1e-6 * output.scale);
  tests::expect_steps_close(a, b, 1e-6, 1e-5);
}

}  // namespace
