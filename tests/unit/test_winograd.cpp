// Winograd convolutions (ExecOptions::winograd): 3x3/1 fp32 convolutions run
// on oneDNN's Winograd kernels, with the activations it cannot take as
// post-ops applied afterwards; the result must equal direct convolution.
#include <gtest/gtest.h>

#include <cmath>

#include "backends/onednn/kernel.hpp"  // the kernels under test
#include "cspnet/cspnet.hpp"
#include "test_helpers.hpp"
#include "training_steps.hpp"

namespace {

using namespace cspnet;

// Layer indices below refer to this cfg. Every 3x3/1 convolution here has
// 32 input and output channels except layer 0 (3 input channels) and the
// strided layer 7; the route makes layers 5 and 6 write channel slices of
// its buffer (strided views at batch > 1).
const char* kWinogradCfg = R"([net]
width=24
height=20
channels=3
[convolutional]
batch_normalize=1
filters=32
size=3
pad=1
activation=leaky
[convolutional]
batch_normalize=1
filters=32
size=3
pad=1
activation=relu
[convolutional]
filters=32
size=3
pad=1
activation=mish
[convolutional]
batch_normalize=1
filters=32
size=3
pad=1
activation=linear
[shortcut]
from=-3
activation=leaky
[convolutional]
filters=32
size=3
pad=1
activation=leaky
[convolutional]
filters=32
size=3
pad=1
activation=logistic
[route]
layers=-2,-1
[convolutional]
batch_normalize=1
filters=32
size=3
stride=2
pad=1
activation=leaky
[convolutional]
filters=7
size=1
activation=linear
)";

bool winograd_kernels_exist() { return dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core; }

bool is_winograd(const std::string& implementation) { return implementation.find("wino") != std::string::npos; }

Network winograd_net(int batch) {
  Network net = Network::from_cfg(parse_cfg_text(kWinogradCfg, "winograd.cfg"));
  net.reshape(24, 20, batch);
  init_weights(net, 11);
  return net;
}

TEST(Winograd, RunsTheUnstridedThreeByThreeConvolutionsOnly) {
  if (!winograd_kernels_exist()) GTEST_SKIP() << "oneDNN 2.6 has fp32 Winograd kernels only for AVX-512 CPUs";
  Network net = winograd_net(1);
  Executor executor(net);
  const std::vector<std::string> kernels = executor.layer_implementations();
  for (int layer : {1, 2, 3, 5, 6}) EXPECT_TRUE(is_winograd(kernels[size_t(layer)])) << layer << ": " << kernels[size_t(layer)];
  for (int layer : {8, 9}) EXPECT_FALSE(is_winograd(kernels[size_t(layer)])) << layer << ": " << kernels[size_t(layer)];

  ExecOptions direct;
  direct.winograd = false;
  for (const std::string& kernel : Executor(net, direct).layer_implementations()) EXPECT_FALSE(is_winograd(kernel));
}

TEST(Winograd, IsNotUsedForBf16) {
  Network net = winograd_net(1);
  ExecOptions bf16;
  bf16.precision = Precision::bf16;
  for (const std::string& kernel : Executor(net, bf16).layer_implementations()) EXPECT_FALSE(is_winograd(kernel));
}

void expect_winograd_equals_direct(int batch, bool blocked) {
  if (!winograd_kernels_exist()) GTEST_SKIP() << "oneDNN 2.6 has fp32 Winograd kernels only for AVX-512 CPUs";
  Network net = winograd_net(batch);
  ExecOptions winograd, direct;
  winograd.reuse_memory = direct.reuse_memory = false;
  winograd.blocked_layout = direct.blocked_layout = blocked;
  direct.winograd = false;
  Executor a(net, winograd), b(net, direct);
  const Tensor input = tests::random_input(net.input_shape(), 5);
  a.forward(input);
  b.forward(input);
  for (int layer = 0; layer < net.size(); ++layer) {
    if (a.plan().overwritten[size_t(layer)]) continue;  // accumulated into by residual fusion
    const Tensor x = a.layer_output(layer), y = b.layer_output(layer);
    ASSERT_EQ(x.size(), y.size());
    const tests::Deviation d = tests::deviation(x.values(), y.values());
    ASSERT_GT(d.scale, 0.0) << "layer " << layer;
    // Winograd's transforms cost a few bits of fp32 precision, not more.
    EXPECT_LE(d.worst, 2e-5 * d.scale) << "layer " << layer << ", batch " << batch << ", blocked " << blocked;
  }
}

TEST(Winograd, EqualsDirectConvolutionInTheBlockedLayout) { expect_winograd_equals_direct(1, true); }
TEST(Winograd, EqualsDirectConvolutionOnStridedViewsAtBatchThree) { expect_winograd_equals_direct(3, true); }
TEST(Winograd, EqualsDirectConvolutionInThePlainLayout) { expect_winograd_equals_direct(2, false); }

// Training: Winograd forward, backward-data and backward-weights primitives
// give the same loss, output and parameter gradients as direct ones.
TEST(Winograd, TrainingGradientsEqualDirectConvolution) {
  if (!winograd_kernels_exist()) GTEST_SKIP() << "oneDNN 2.6 has fp32 Winograd kernels only for AVX-512 CPUs";
  const std::string cfg = std::string(kWinogradCfg) + "[avgpool]\n[softmax]\n";
  Network winograd_net = Network::from_cfg(parse_cfg_text(cfg, "winograd.cfg"));
  Network direct_net = Network::from_cfg(parse_cfg_text(cfg, "winograd.cfg"));
  winograd_net.reshape(24, 20, 2);
  direct_net.reshape(24, 20, 2);
  const tests::StepResult a = tests::train_steps(winograd_net, {.winograd = true}, 2);
  const tests::StepResult b = tests::train_steps(direct_net, {.winograd = false}, 2);
  tests::expect_steps_close(a, b, 1e-5, 1e-4);
}

}  // namespace
