// Losses are layers: every terminal plain [softmax] is a loss layer, a
// network with several trains them all, and its gradients are the sum of
// each loss's own.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cspnet/cspnet.hpp"
#include "cspnet/training.hpp"
#include "test_helpers.hpp"
#include "training_steps.hpp"

namespace cspnet {
namespace {

// A trunk with two classifier heads of 5 classes: layers 0-3 and 4-7.
constexpr const char* kTwoHeads = R"([net]
width=8
height=8
channels=3
batch=4
[convolutional]
filters=16
size=3
pad=1
activation=leaky
[convolutional]
filters=5
size=1
activation=linear
[avgpool]
[softmax]
[route]
layers=0
[convolutional]
filters=5
size=3
pad=1
activation=linear
[avgpool]
[softmax]
)";

Network two_heads() {
  Network net = Network::from_cfg(parse_cfg_text(kTwoHeads, "two_heads.cfg"));
  net.reshape(8, 8, 4);
  return net;
}

TEST(LossLayers, EveryTerminalPlainSoftmaxIsALossLayer) {
  EXPECT_EQ(loss_layers(two_heads()), (std::vector<int>{3, 7}));
  Network net = two_heads();
  TrainingExecutor executor(net);
  EXPECT_EQ(executor.loss_layer_indices(), (std::vector<int>{3, 7}));
  EXPECT_EQ(executor.classes(), 5);
}

TEST(LossLayers, TwoSoftmaxHeadsTrainWithTheSumOfTheirGradients) {
  Network both_net = two_heads(), first_net = two_heads(), second_net = two_heads();
  const tests::StepResult both = tests::train_steps(both_net, {}, 1);
  const tests::StepResult first = tests::train_steps(first_net, {}, 1, {3});
  const tests::StepResult second = tests::train_steps(second_net, {}, 1, {7});
  EXPECT_NEAR(both.loss, first.loss + second.loss, 1e-6 * both.loss);
  ASSERT_EQ(both.param_grads.size(), first.param_grads.size());
  for (size_t p = 0; p < both.param_grads.size(); ++p) {
    std::vector<float> sum(first.param_grads[p]);
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += second.param_grads[p][i];
    const tests::Deviation d = tests::deviation(both.param_grads[p], sum);
    ASSERT_GT(d.scale, 0.0) << "parameter " << p;
    EXPECT_LE(d.worst, 1e-5 * d.scale) << "parameter " << p;
  }
  // Each head alone moves only its own and the trunk's parameters: the
  // other head's convolution (weights and biases) gets no gradient.
  const size_t head_a_biases = 2, head_b_biases = 4;  // trunk conv: 0-1, head A: 2-3, head B: 4-5
  EXPECT_EQ(tests::deviation(second.param_grads[head_a_biases], std::vector<float>(5, 0.f)).worst, 0.0);
  EXPECT_EQ(tests::deviation(first.param_grads[head_b_biases], std::vector<float>(5, 0.f)).worst, 0.0);
}

TEST(LossLayers, OneHeadTrainsAsTheNetworkCutAfterIt) {
  // Layers 0-3 alone: the same trunk and first head, so the same gradients
  // as training the two-head network on its first loss only.
  std::string cut(kTwoHeads);
  cut = cut.substr(0, cut.find("[route]"));
  Network cut_net = Network::from_cfg(parse_cfg_text(cut, "one_head.cfg"));
  cut_net.reshape(8, 8, 4);
  Network net = two_heads();
  const tests::StepResult alone = tests::train_steps(cut_net, {}, 1);
  const tests::StepResult first = tests::train_steps(net, {}, 1, {3});
  EXPECT_NEAR(alone.loss, first.loss, 1e-6 * alone.loss);
  for (size_t p = 0; p < alone.param_grads.size(); ++p)
    EXPECT_EQ(tests::deviation(first.param_grads[p], alone.param_grads[p]).worst, 0.0) << "parameter " << p;
}

TEST(LossLayers, OnlyAPlainSoftmaxCanBeALossLayer) {
  Network net = two_heads();
  tests::expect_error_mentioning([&] { TrainingExecutor executor(net, {}, {2}); }, {"cannot be a loss layer"});
}

}  // namespace
}  // namespace cspnet
