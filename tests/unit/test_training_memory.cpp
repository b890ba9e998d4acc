// Planned training memory: gradients share an arena by liveness, which must
// take less memory than a buffer per gradient and leave every parameter
// gradient bit for bit what it is without sharing.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cspnet/cspnet.hpp"
#include "cspnet/training.hpp"
#include "cspnet/weights.hpp"
#include "test_helpers.hpp"
#include "training_steps.hpp"

using namespace cspnet;
using tests::StepResult;
using tests::train_steps;

namespace {

std::string repo_cfg(const std::string& name) { return std::string(CSPNET_TEST_CFG_DIR) + "/../../cfg/" + name; }

int64_t sum_of_outputs_bytes(const TrainingExecutor& executor, const Network& net) {
  // unplanned = input + 2 x outputs
  return (executor.unplanned_bytes() - net.input_shape().count() * int64_t(sizeof(float))) / 2;
}

// Planned gradient bytes: what memory_bytes() holds beyond the input and outputs.
int64_t planned_gradient_bytes(const TrainingExecutor& executor, const Network& net) {
  return executor.memory_bytes() - net.input_shape().count() * int64_t(sizeof(float)) -
         sum_of_outputs_bytes(executor, net);
}

void expect_bit_identical(const StepResult& planned, const StepResult& unplanned) {
  EXPECT_EQ(std::memcmp(&planned.loss, &unplanned.loss, sizeof(double)), 0);
  ASSERT_EQ(planned.output.size(), unplanned.output.size());
  EXPECT_EQ(std::memcmp(planned.output.data(), unplanned.output.data(), planned.output.size() * sizeof(float)), 0);
  ASSERT_EQ(planned.param_grads.size(), unplanned.param_grads.size());
  ASSERT_FALSE(planned.param_grads.empty());
  bool any_nonzero = false;
  for (size_t p = 0; p < planned.param_grads.size(); ++p) {
    const auto& a = planned.param_grads[p];
    const auto& b = unplanned.param_grads[p];
    ASSERT_EQ(a.size(), b.size()) << "parameter " << p;
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "parameter " << p << " differs";
    for (float v : a) any_nonzero |= v != 0.f;
  }
  EXPECT_TRUE(any_nonzero);  // the comparison covered real gradients
}

}  // namespace

TEST(TrainingMemory, PlannedGradientsTakeLessThanABufferEach) {
  for (const std::string& path : {repo_cfg("cspdarknet-small.cfg"), tests::test_cfg("train_every_layer.cfg")}) {
    SCOPED_TRACE(path);
    Network net = Network::from_cfg_file(path);
    net.reshape(int(net.input_shape().w), int(net.input_shape().h), 2);
    TrainingExecutor planned(net);
    TrainingExecutor unplanned(net, TrainingOptions{.reuse_gradient_memory = false});
    const int64_t outputs = sum_of_outputs_bytes(planned, net);
    EXPECT_EQ(planned.unplanned_bytes(), unplanned.unplanned_bytes());
    EXPECT_LT(planned.memory_bytes(), planned.unplanned_bytes());
    // Without reuse every gradient up to the logits has its own buffer
    // (rounded up to 64 bytes): close to the outputs' sum, never above it.
    EXPECT_LE(planned_gradient_bytes(unplanned, net), outputs + 64 * net.size());
    EXPECT_GT(planned_gradient_bytes(unplanned, net), outputs / 2);
    // With reuse only a few gradients are alive at once.
    EXPECT_LT(planned_gradient_bytes(planned, net), outputs / 2);
    EXPECT_GT(planned_gradient_bytes(planned, net), 0);
  }
}

TEST(TrainingMemory, GradientReuseLeavesEveryLayerKindBitIdentical) {
  Network planned_net = Network::from_cfg_file(tests::test_cfg("train_every_layer.cfg"));
  Network unplanned_net = Network::from_cfg_file(tests::test_cfg("train_every_layer.cfg"));
  // Two steps: the second runs on an arena full of the first step's gradients.
  expect_bit_identical(train_steps(planned_net, {.reuse_gradient_memory = true}, 2),
                       train_steps(unplanned_net, {.reuse_gradient_memory = false}, 2));
}

TEST(TrainingMemory, GradientReuseLeavesCspDarknetSmallBitIdentical) {
  Network planned_net = Network::from_cfg_file(repo_cfg("cspdarknet-small.cfg"));
  Network unplanned_net = Network::from_cfg_file(repo_cfg("cspdarknet-small.cfg"));
  planned_net.reshape(28, 28, 4);
  unplanned_net.reshape(28, 28, 4);
  expect_bit_identical(train_steps(planned_net, {.reuse_gradient_memory = true}, 2),
                       train_steps(unplanned_net, {.reuse_gradient_memory = false}, 2));
}

// Layer 2 is read by nobody: its gradient is never written and must stay
// zero while the arena around it is reused (layer 2's backward still runs
// and adds into layer 1's gradient and its own weight gradients).
TEST(TrainingMemory, UnreadLayerKeepsAZeroGradient) {
  constexpr const char* kCfg = R"([net]
width=8
height=8
channels=2
batch=3

[convolutional]
filters=4
size=3
pad=1
activation=leaky

[convolutional]
batch_normalize=1
filters=4
size=3
pad=1
activation=mish

[convolutional]
filters=6
size=1
activation=leaky

[route]
layers=-2,0

[convolutional]
filters=5
size=3
stride=2
pad=1
activation=leaky

[avgpool]

[softmax]

[cost]
)";
  Network planned_net = Network::from_cfg(parse_cfg_text(kCfg, "unread.cfg"));
  Network unplanned_net = Network::from_cfg(parse_cfg_text(kCfg, "unread.cfg"));
  const StepResult planned = train_steps(planned_net, {.reuse_gradient_memory = true}, 2);
  expect_bit_identical(planned, train_steps(unplanned_net, {.reuse_gradient_memory = false}, 2));
  // Nothing flows into an unread output: layer 2's parameter gradients are zero.
  const auto params = planned_net.layer(2).trainable_params();
  ASSERT_FALSE(params.empty());
  for (const TrainableParam& p : params)
    for (float g : *p.grads) ASSERT_EQ(g, 0.f) << p.name;
}
