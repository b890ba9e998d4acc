// bf16 activations (ExecOptions::bf16_activations): buffers that only
// convolutions and the layers running on bfloat16 (pooling, scale-1
// upsampling, unfused shortcuts, route copies) write and read stay bfloat16
// between them. A bf16 convolution converts its input to bf16 anyway, so
// storing it converted changes where the rounding happens; only a sum of
// two bf16 tensors rounds once more than its fp32 counterpart.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "cspnet/executor.hpp"
#include "unit/layers/layer_reference.hpp"

namespace {

using namespace cspnet;
using namespace cspnet::tests::layer_reference;

TEST(Bf16Activations, BuffersBetweenConvolutionsStayBf16WithTheSameOutputs) {
  NetSpec spec{12, 12, 3, 2,
               {conv({.filters = 16, .size = 3, .bn = true, .act = Activation::leaky}),        // 0 -> 1
                conv({.filters = 16, .size = 1, .pad = Pad::none, .act = Activation::leaky}),  // 1 -> 2, 4 (via 3)
                conv({.filters = 16, .size = 3, .bn = true, .act = Activation::leaky}),        // 2 -> concat 5
                route({-2}),                                                                   // 3: a view of 1
                conv({.filters = 16, .size = 3, .bn = true, .act = Activation::mish}),         // 4 -> concat 5
                route({-3, -1}),                                                               // 5: 2 and 4 in place
                conv({.filters = 16, .size = 1, .pad = Pad::none, .act = Activation::leaky}),  // 6 -> maxpool
                maxpool({.size = 2, .stride_x = 2, .stride_y = 2}),                            // 7
                conv({.filters = 8, .size = 1, .pad = Pad::none, .act = Activation::linear})}};  // 8: output
  Network net = build(spec);
  const Tensor input = random_tensor(net.input_shape(), 3, -1, 1);
  ExecOptions with;
  with.precision = Precision::bf16;
  with.reuse_memory = false;
  ExecOptions without = with;
  without.bf16_activations = false;
  Executor a(net, with), b(net, without);

  std::vector<int> bf16_tensors;
  for (int t = 0; t <= net.size(); ++t)
    if (a.plan().bf16[size_t(t)]) bf16_tensors.push_back(t);
  // 7 is the maxpool's output (pooling runs on bf16), 8 the output, 9 the input.
  EXPECT_EQ(bf16_tensors, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_TRUE(a.plan().blocked[5]) << "the concat should stay nChw16c (its slices are then bf16 blocked slices)";
  EXPECT_TRUE(std::none_of(b.plan().bf16.begin(), b.plan().bf16.end(), [](bool v) { return v; }));
  EXPECT_LT(a.plan().peak_bytes, b.plan().peak_bytes);  // every tensor its own buffer: the bf16 ones half

  EXPECT_TRUE(same_tensor(a.forward(input)[0], b.forward(input)[0], 1e-6));
  b.forward(input);
  // A bf16 tensor reads back as the float one rounded to 8 significant bits
  // (the max of rounded values is the rounded max).
  for (int t : {0, 1, 5, 7}) {
    const Tensor narrow = a.layer_output(t), wide = b.layer_output(t);
    double largest = 0, differs = 0;
    for (int64_t k = 0; k < wide.size(); ++k) {
      const double error = std::fabs(double(narrow.data()[k]) - wide.data()[k]);
      largest = std::max(largest, error / std::max(std::fabs(double(wide.data()[k])), 1e-30));
      differs += error > 0;
    }
    EXPECT_LE(largest, std::ldexp(1.0, -8)) << t;  // half a unit in the 8th bit: rounding only
    EXPECT_GT(differs, 0) << t;                    // really stored narrower
  }
  for (const std::string& name : a.layer_implementations())
    EXPECT_EQ(name.find("ref"), std::string::npos) << "a bf16 layer fell back to a reference kernel: " << name;
}

TEST(Bf16Activations, OnlyBf16ExecutorsStoreBf16) {
  NetSpec spec{8, 8, 3, 1,
               {conv({.filters = 16, .size = 3, .act = Activation::relu}),
                conv({.filters = 16, .size = 3, .act = Activation::relu}), maxpool({})}};
  Network net = build(spec);
  Executor fp32(net, ExecOptions{});
  EXPECT_TRUE(std::none_of(fp32.plan().bf16.begin(), fp32.plan().bf16.end(), [](bool v) { return v; }));
  ExecOptions bf16;
  bf16.precision = Precision::bf16;
  EXPECT_TRUE(Executor(net, bf16).plan().bf16[0]);
}

// A bf16 executor keeping every tensor (to read back), with or without
// bf16 activations.
ExecOptions bf16_plan(bool bf16_activations) {
  ExecOptions options;
  options.precision = Precision::bf16;
  options.reuse_memory = false;
  options.bf16_activations = bf16_activations;
  return options;
}

TEST(Bf16Activations, AConcatenationRepeatingAnInputIsCopiedInBf16) {
  // The second copy of a repeated route input is copied, not written in
  // place: the route's reorder copies bfloat16 as it lies.
  NetSpec spec{8, 8, 3, 2,
               {conv({.filters = 16, .size = 3, .act = Activation::relu}), route({-1, -1}),
                conv({.filters = 16, .size = 1, .pad = Pad::none, .act = Activation::relu}),
                conv({.filters = 8, .size = 1, .pad = Pad::none, .act = Activation::linear})}};
  Network net = build(spec);
  Executor a(net, bf16_plan(true)), b(net, bf16_plan(false));
  EXPECT_TRUE(a.plan().bf16[0]);
  EXPECT_TRUE(a.plan().bf16[1]);
  EXPECT_TRUE(a.plan().bf16[2]);  // conv -> conv
  EXPECT_EQ(a.plan().copied_inputs, 1);
  const Tensor input = random_tensor(net.input_shape(), 9, 0, 1);
  EXPECT_TRUE(same_tensor(a.forward(input)[0], b.forward(input)[0], 1e-6));
  b.forward(input);
  EXPECT_TRUE(same_tensor(a.layer_output(1), b.layer_output(1), 1.0 / 256));
}

TEST(Bf16Activations, LoopsBetweenConvolutionsRunOnBf16) {
  // A PANet-like path: an unfused residual (act(conv) + x: bf16 JIT
  // convolutions take no sum after an activation), SPP max pools, a
  // CSP split (a view of half the channels), an upsample and a
  // concatenation, an average pool at the end.
  NetSpec spec{16, 16, 3, 2,
               {conv({.filters = 32, .size = 3, .bn = true, .act = Activation::leaky}),           // 0
                conv({.filters = 32, .size = 3, .bn = true, .act = Activation::leaky}),           // 1
                shortcut({-2}, Activation::linear),                                                // 2
                maxpool({.size = 5, .stride_x = 1, .stride_y = 1}),                                // 3
                route({-1, -2}),                                                                   // 4: 3, 2
                route({-1}, 2, 1),                                                                 // 5: half of 4
                conv({.filters = 16, .size = 1, .pad = Pad::none, .act = Activation::leaky}),      // 6
                maxpool({.size = 2, .stride_x = 2, .stride_y = 2}),                                // 7: 8x8
                conv({.filters = 16, .size = 3, .bn = true, .act = Activation::mish}),            // 8
                upsample(2),                                                                       // 9: 16x16
                route({-1, -4}),                                                                   // 10: 9, 6
                conv({.filters = 32, .size = 1, .pad = Pad::none, .act = Activation::leaky}),      // 11
                upsample(2, 0.5),                                                                  // 12: scaled
                conv({.filters = 16, .size = 1, .pad = Pad::none, .act = Activation::leaky}),      // 13
                avgpool(),                                                                         // 14
                conv({.filters = 8, .size = 1, .pad = Pad::none, .act = Activation::linear})}};    // 15: output
  Network net = build(spec);
  Executor a(net, bf16_plan(true)), b(net, bf16_plan(false));
  for (int t : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14}) EXPECT_TRUE(a.plan().bf16[size_t(t)]) << t;
  EXPECT_FALSE(a.plan().bf16[11]);  // read by the scaling upsample: a float loop
  EXPECT_FALSE(a.plan().bf16[12]);
  EXPECT_FALSE(a.plan().bf16[15]);  // the output
  EXPECT_LT(a.plan().peak_bytes, b.plan().peak_bytes);

  const Tensor input = random_tensor(net.input_shape(), 11, -1, 1);
  const Tensor narrow = a.forward(input)[0], wide_out = b.forward(input)[0];
  // Only the shortcut rounds once more (a + b of bf16 values, stored bf16):
  // within a few bf16 steps of the output's scale, and not equal.
  double largest = 0, error = 0;
  for (int64_t k = 0; k < wide_out.size(); ++k) {
    largest = std::max(largest, std::fabs(double(wide_out.data()[k])));
    error = std::max(error, std::fabs(double(narrow.data()[k]) - wide_out.data()[k]));
  }
  EXPECT_GT(error, 0);
  EXPECT_LT(error, largest * std::ldexp(1.0, -5));
  // Each loop on bf16 against its reference on the bf16 executor's own
  // inputs: pooling, upsampling and route copies move bf16 values (exact);
  // the shortcut and the average pool round their fp32 result once (half a
  // bf16 step of the tensor's scale).
  std::vector<Ref> own;
  for (int t = 0; t < net.size(); ++t) own.push_back(to_ref(a.layer_output(t)));
  for (int t : {2, 3, 4, 5, 7, 9, 10, 14}) {
    std::vector<Ref> inputs;
    for (int in : net.layer(t).inputs()) inputs.push_back(own[size_t(in)]);
    const double tolerance = t == 2 || t == 14 ? std::ldexp(1.0, -8) : 0.0;
    EXPECT_TRUE(matches(a.layer_output(t), spec.layers[size_t(t)].reference(inputs, net.layer(t)), tolerance))
        << "layer " << t;
  }
  for (const std::string& name : a.layer_implementations())
    EXPECT_EQ(name.find("ref"), std::string::npos) << "a bf16 layer fell back to a reference kernel: " << name;
}

TEST(Bf16Activations, UpsamplesRunOnChannelsLastOperands) {
  // Whole tensors between convolutions are channels-last in bf16 plans; an
  // upsample then copies cells of all channels: bf16 words at scale 1,
  // floats times the scale otherwise.
  NetSpec spec{6, 5, 3, 2,
               {conv({.filters = 24, .size = 3, .bn = true, .act = Activation::leaky}),         // 0
                upsample(2),                                                                    // 1: bf16
                conv({.filters = 24, .size = 1, .pad = Pad::none, .act = Activation::leaky}),   // 2
                upsample(3, 0.5),                                                               // 3: floats
                conv({.filters = 8, .size = 1, .pad = Pad::none, .act = Activation::linear})}};  // 4
  Network net = build(spec);
  Executor a(net, bf16_plan(true));
  for (int t : {0, 1, 2, 3}) EXPECT_TRUE(a.plan().channels_last[size_t(t)]) << t;
  EXPECT_TRUE(a.plan().bf16[1]);
  EXPECT_FALSE(a.plan().bf16[3]);
  a.forward(random_tensor(net.input_shape(), 5, -1, 1));
  for (int t : {1, 3}) {
    const std::vector<Ref> inputs{to_ref(a.layer_output(t - 1))};
    EXPECT_TRUE(matches(a.layer_output(t), spec.layers[size_t(t)].reference(inputs, net.layer(t)), 0.0)) << t;
  }
}

}  // namespace
