// bf16 activations (ExecOptions::bf16_activations): buffers that only
// convolutions write and read stay bfloat16 between them. A bf16
// convolution converts its input to bf16 anyway, so storing it converted
// changes where the rounding happens, not the numbers.
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
  // 6 is read by the maxpool, 7 written by it, 8 is the output, 9 the input.
  EXPECT_EQ(bf16_tensors, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_TRUE(a.plan().blocked[5]) << "the concat should stay nChw16c (its slices are then bf16 blocked slices)";
  EXPECT_TRUE(std::none_of(b.plan().bf16.begin(), b.plan().bf16.end(), [](bool v) { return v; }));
  EXPECT_LT(a.plan().peak_bytes, b.plan().peak_bytes);  // every tensor its own buffer: the bf16 ones half

  EXPECT_TRUE(same_tensor(a.forward(input)[0], b.forward(input)[0], 1e-6));
  b.forward(input);
  // A bf16 tensor reads back as the float one rounded to 8 significant bits.
  for (int t : {0, 1, 5}) {
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

TEST(Bf16Activations, AConcatenationRepeatingAnInputStaysFloat) {
  // The second copy of a repeated route input is copied, not written in
  // place, and the copy kernel moves floats: that buffer stays fp32.
  NetSpec spec{8, 8, 3, 2,
               {conv({.filters = 16, .size = 3, .act = Activation::relu}), route({-1, -1}),
                conv({.filters = 16, .size = 1, .pad = Pad::none, .act = Activation::relu}),
                conv({.filters = 8, .size = 1, .pad = Pad::none, .act = Activation::linear})}};
  Network net = build(spec);
  ExecOptions bf16;
  bf16.precision = Precision::bf16;
  ExecOptions wide = bf16;
  wide.bf16_activations = false;
  Executor a(net, bf16), b(net, wide);
  EXPECT_FALSE(a.plan().bf16[0]);
  EXPECT_FALSE(a.plan().bf16[1]);
  EXPECT_TRUE(a.plan().bf16[2]);  // conv -> conv
  const Tensor input = random_tensor(net.input_shape(), 9, 0, 1);
  EXPECT_TRUE(same_tensor(a.forward(input)[0], b.forward(input)[0], 1e-6));
}

}  // namespace
