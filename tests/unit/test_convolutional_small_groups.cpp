// Grouped convolutions with 2, 4 or 8 channels per group on our own AVX-512
// loop (ExecOptions::small_group_kernel): which layers it takes (fp32 and
// bf16, not int8), and every output against oneDNN's kernels for the same
// layers and against a naive float64 convolution.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "backends/onednn/kernel.hpp"
#include "cspnet/cspnet.hpp"
#include "test_helpers.hpp"

namespace {

using namespace cspnet;

// Layer indices below refer to this cfg (32 channels throughout, 19x13
// input: odd sizes put padding on every border). 1-5 and 7 fit the kernel
// (4, 8 and 2 channels per group; stride 2; 1x1 and 5x5; with and without
// batch norm); 6 makes 5 and 3 write channel slices of its buffer (strided
// views at batch 2); 8 has 16 channels per group and 9 a mish activation,
// both left to oneDNN.
const char* kSmallGroupsCfg = R"([net]
width=19
height=13
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
groups=8
size=3
pad=1
activation=leaky
[convolutional]
batch_normalize=1
filters=32
groups=4
size=3
stride=2
pad=1
activation=relu
[convolutional]
filters=32
groups=16
size=3
pad=1
activation=linear
[convolutional]
batch_normalize=1
filters=32
groups=8
size=1
activation=leaky
[convolutional]
batch_normalize=1
filters=32
groups=8
size=5
pad=2
activation=leaky
[route]
layers=-1,-3
[convolutional]
batch_normalize=1
filters=64
groups=16
size=3
stride=2
pad=1
activation=leaky
[convolutional]
batch_normalize=1
filters=64
groups=4
size=3
pad=1
activation=leaky
[convolutional]
batch_normalize=1
filters=64
groups=16
size=3
pad=1
activation=mish
[convolutional]
filters=5
size=1
activation=linear
)";

bool kernel_runs_here() { return dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core; }

bool is_small_groups(const std::string& implementation) {
  return implementation.find("small_groups") != std::string::npos;
}

Network small_groups_net(int batch) {
  Network net = Network::from_cfg(parse_cfg_text(kSmallGroupsCfg, "small_groups.cfg"));
  net.reshape(19, 13, batch);
  init_weights(net, 17);
  return net;
}

ExecOptions kept_outputs(bool small_group_kernel) {
  ExecOptions options;
  options.reuse_memory = false;  // layer_output after forward
  options.small_group_kernel = small_group_kernel;
  return options;
}

TEST(ConvolutionalSmallGroups, RunsGroupsOfTwoFourAndEightChannelsOnly) {
  if (!kernel_runs_here()) GTEST_SKIP() << "the small-group kernel is AVX-512 only";
  Network net = small_groups_net(1);
  const std::vector<std::string> kernels = Executor(net, kept_outputs(true)).layer_implementations();
  for (int layer : {1, 2, 3, 4, 5, 7}) EXPECT_TRUE(is_small_groups(kernels[size_t(layer)])) << layer << ": " << kernels[size_t(layer)];
  for (int layer : {0, 8, 9, 10}) EXPECT_FALSE(is_small_groups(kernels[size_t(layer)])) << layer << ": " << kernels[size_t(layer)];
  for (const std::string& kernel : Executor(net, kept_outputs(false)).layer_implementations())
    EXPECT_FALSE(is_small_groups(kernel)) << kernel;
  ExecOptions bf16 = kept_outputs(true);
  bf16.precision = Precision::bf16;
  const std::vector<std::string> bf16_kernels = Executor(net, bf16).layer_implementations();
  for (int layer : {1, 2, 3, 4, 5, 7}) EXPECT_TRUE(is_small_groups(bf16_kernels[size_t(layer)])) << layer << ": " << bf16_kernels[size_t(layer)];
  ExecOptions int8 = kept_outputs(true);
  int8.precision = Precision::int8;
  const Tensor calibration_input = tests::random_input(net.input_shape(), 8);
  int8.quantization = std::make_shared<QuantizationTable>(
      calibrate(net, 1, [&](int64_t) { return calibration_input; }, CalibrationOptions{}));
  for (const std::string& kernel : Executor(net, int8).layer_implementations()) EXPECT_FALSE(is_small_groups(kernel)) << kernel;
}

// Every layer's output of `a` within `relative` of its largest value in `b`.
void expect_layers_within(const Executor& a, const Executor& b, int layers, double relative) {
  for (int layer = 0; layer < layers; ++layer) {
    const Tensor x = a.layer_output(layer), y = b.layer_output(layer);
    ASSERT_EQ(x.size(), y.size()) << "layer " << layer;
    const tests::Deviation d = tests::deviation(x.values(), y.values());
    ASSERT_GT(d.scale, 0.0) << "layer " << layer;
    EXPECT_LE(d.worst, relative * d.scale) << "layer " << layer;
  }
}

void expect_equals_onednn(int batch) {
  if (!kernel_runs_here()) GTEST_SKIP() << "the small-group kernel is AVX-512 only";
  Network net = small_groups_net(batch);
  Executor ours(net, kept_outputs(true)), onednn(net, kept_outputs(false));
  const Tensor input = tests::random_input(net.input_shape(), 3);
  ours.forward(input);
  onednn.forward(input);
  SCOPED_TRACE("batch " + std::to_string(batch));
  expect_layers_within(ours, onednn, net.size(), 1e-5);
}

TEST(ConvolutionalSmallGroups, EqualsOneDnnAtBatchOne) { expect_equals_onednn(1); }
TEST(ConvolutionalSmallGroups, EqualsOneDnnOnStridedViewsAtBatchTwo) { expect_equals_onednn(2); }

// bf16 plans: bf16 inputs (channels last here) and bf16 weights with float
// sums, as oneDNN's bf16 kernels compute them; the outputs stored in bf16
// differ from theirs by the order of the sums, a bf16 rounding step at most
// per layer, compounding over the network.
TEST(ConvolutionalSmallGroups, EqualsOneDnnInBf16) {
  if (!kernel_runs_here()) GTEST_SKIP() << "the small-group kernel is AVX-512 only";
  Network net = small_groups_net(2);
  ExecOptions ours = kept_outputs(true), onednn = kept_outputs(false);
  ours.precision = onednn.precision = Precision::bf16;
  Executor a(net, ours), b(net, onednn);
  const Tensor input = tests::random_input(net.input_shape(), 9);
  a.forward(input);
  b.forward(input);
  expect_layers_within(a, b, net.size(), 0x1p-5);
  // The grouped layer right after the first convolution reads the same bf16
  // input in both: at most one bf16 step apart (2^-7 of the value at most),
  // beyond the float sums' own rounding (near zero, where they cancel).
  const Tensor x = a.layer_output(1), y = b.layer_output(1);
  const double scale = tests::deviation(x.values(), y.values()).scale;
  for (size_t k = 0; k < x.values().size(); ++k)
    ASSERT_LE(std::fabs(x.values()[k] - y.values()[k]), 0x1p-7 * std::fabs(y.values()[k]) + 1e-5 * scale) << k;
}

// Layer 3 of the cfg (no batch norm, linear, 2 channels per group), output
// (n, o, y, x) from its input, its weights as `weight` gives them and its
// bias, in float64 straight from the definition.
template <class Weight>
double naive_layer3(const Tensor& in, const WeightArrays& arrays, Weight weight, int64_t n, int64_t o, int64_t y,
                    int64_t x) {
  const int64_t group = 2, size = 3;
  double sum = arrays.biases[size_t(o)];
  for (int64_t i = 0; i < group; ++i)
    for (int64_t ky = 0; ky < size; ++ky)
      for (int64_t kx = 0; kx < size; ++kx) {
        const int64_t iy = y + ky - 1, ix = x + kx - 1;
        if (iy < 0 || ix < 0 || iy >= in.shape().h || ix >= in.shape().w) continue;
        sum += double(weight(arrays.weights[size_t(((o * group + i) * size + ky) * size + kx)])) *
               in.at(n, o - o % group + i, iy, ix);
      }
  return sum;
}

TEST(ConvolutionalSmallGroups, EqualsANaiveGroupedConvolution) {
  if (!kernel_runs_here()) GTEST_SKIP() << "the small-group kernel is AVX-512 only";
  Network net = small_groups_net(2);
  Executor executor(net, kept_outputs(true));
  executor.forward(tests::random_input(net.input_shape(), 4));
  const Tensor in = executor.layer_output(2), out = executor.layer_output(3);
  const WeightArrays& arrays = *net.layer(3).weight_arrays();
  double worst = 0, scale = 0;
  for (int64_t n = 0; n < out.shape().n; ++n)
    for (int64_t o = 0; o < out.shape().c; ++o)
      for (int64_t y = 0; y < out.shape().h; ++y)
        for (int64_t x = 0; x < out.shape().w; ++x) {
          const double want = naive_layer3(in, arrays, [](float w) { return w; }, n, o, y, x);
          worst = std::max(worst, std::fabs(want - out.at(n, o, y, x)));
          scale = std::max(scale, std::fabs(want));
        }
  ASSERT_GT(scale, 0.0);
  EXPECT_LE(worst, 1e-5 * scale);
}

// bfloat16 nearest to v, ties to even (float64 in, so no double rounding
// for the values here).
float nearest_bf16(double v) {
  const float f = float(v);
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  const uint32_t down = bits & 0xffff0000u, up = down + 0x10000u;
  float lo, hi;
  std::memcpy(&lo, &down, sizeof lo);
  std::memcpy(&hi, &up, sizeof hi);
  if (std::fabs(v - lo) != std::fabs(v - hi)) return std::fabs(v - lo) < std::fabs(v - hi) ? lo : hi;
  return (down & 0x10000u) ? hi : lo;
}

// In bf16 the layer's weights are rounded to bf16 and its bf16 output is
// the sum rounded to nearest: apart from sums within float rounding of a
// tie, every output is the bf16 nearest to the exact sum (truncating
// instead would miss about half of them).
TEST(ConvolutionalSmallGroups, Bf16OutputsAreTheNearestBf16OfTheSum) {
  if (!kernel_runs_here()) GTEST_SKIP() << "the small-group kernel is AVX-512 only";
  Network net = small_groups_net(1);
  ExecOptions options = kept_outputs(true);
  options.precision = Precision::bf16;
  Executor executor(net, options);
  ASSERT_TRUE(is_small_groups(executor.layer_implementations()[3]));
  executor.forward(tests::random_input(net.input_shape(), 10));
  const Tensor in = executor.layer_output(2), out = executor.layer_output(3);
  const WeightArrays& arrays = *net.layer(3).weight_arrays();
  int64_t missed = 0, count = 0;
  for (int64_t o = 0; o < out.shape().c; ++o)
    for (int64_t y = 0; y < out.shape().h; ++y)
      for (int64_t x = 0; x < out.shape().w; ++x, ++count) {
        const double want = naive_layer3(in, arrays, [](float w) { return nearest_bf16(w); }, 0, o, y, x);
        if (out.at(0, o, y, x) != nearest_bf16(want)) ++missed;
      }
  EXPECT_LE(missed, count / 100) << missed << " of " << count;
}

// New weights reach the kernel through reload_weights().
TEST(ConvolutionalSmallGroups, ReloadedWeightsChangeTheOutputAsOneDnnsDo) {
  if (!kernel_runs_here()) GTEST_SKIP() << "the small-group kernel is AVX-512 only";
  Network net = small_groups_net(1);
  Executor ours(net, kept_outputs(true)), onednn(net, kept_outputs(false));
  const Tensor input = tests::random_input(net.input_shape(), 6);
  ours.forward(input);
  const Tensor before = ours.layer_output(1);
  for (float& w : net.layer(1).weight_arrays()->weights) w *= -0.5f;
  ours.reload_weights();
  onednn.reload_weights();
  ours.forward(input);
  onednn.forward(input);
  const Tensor x = ours.layer_output(1), y = onednn.layer_output(1);
  EXPECT_NE(x.values(), before.values());
  const tests::Deviation d = tests::deviation(x.values(), y.values());
  EXPECT_LE(d.worst, 1e-5 * d.scale);
}

}  // namespace
