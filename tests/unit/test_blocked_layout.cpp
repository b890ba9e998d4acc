// The blocked activation layout (nChw16c) chosen by the planner must give the
// same numbers as plain NCHW, for every layer, at batch 1 and at batch > 1
// (where channel slices are strided and oneDNN primitives run per image).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "cspnet/cspnet.hpp"
#include "test_helpers.hpp"

namespace {

using namespace cspnet;

// Channel counts are multiples of 16 so the planner can block them; the
// final [yolo]-free head has 20 channels and stays plain (a blocked input
// feeding a plain output: the staged-layout path).
const char* kBlockable = R"(
[net]
width=24
height=20
channels=3
[convolutional]
batch_normalize=1
filters=32
size=3
stride=1
pad=1
activation=leaky
[route]
layers=-1
groups=2
group_id=1
[convolutional]
batch_normalize=1
filters=16
size=3
pad=1
activation=mish
[shortcut]
from=-2
activation=linear
[convolutional]
filters=16
size=1
activation=logistic
[sam]
from=-2
[route]
layers=-1,1
[maxpool]
size=3
stride=1
[avgpool]
[convolutional]
filters=32
size=1
activation=logistic
[scale_channels]
from=-3
[convolutional]
batch_normalize=1
filters=32
size=3
stride=2
pad=1
activation=swish
[upsample]
stride=2
[route]
layers=-1,-3
[route]
layers=-1,6
groups=2
group_id=0
[convolutional]
filters=20
size=1
activation=linear
)";

Network blockable(int batch) {
  Network net = Network::from_cfg(parse_cfg_text(kBlockable, "blockable.cfg"));
  net.reshape(24, 20, batch);
  init_weights(net, 21);
  return net;
}

void expect_same_as_plain(int batch) {
  Network net = blockable(batch);
  ExecOptions blocked, plain;
  blocked.reuse_memory = plain.reuse_memory = false;
  plain.blocked_layout = false;
  MemoryPlan plan = plan_memory(net, blocked);
  int blocked_tensors = 0;
  for (int i = 0; i < net.size(); ++i) blocked_tensors += plan.blocked[size_t(i)];
  ASSERT_GE(blocked_tensors, net.size() / 2) << "the planner blocked too few tensors for this test to mean much";
  EXPECT_FALSE(plan.blocked[size_t(net.size() - 1)]) << "network outputs stay plain";

  Tensor input = tests::random_input(net.input_shape(), 5);
  Executor a(net, blocked), b(net, plain);
  a.forward(input);
  b.forward(input);
  for (int i = 0; i < net.size(); ++i) {
    Tensor x = a.layer_output(i), y = b.layer_output(i);
    ASSERT_EQ(x.size(), y.size());
    const tests::Deviation d = tests::deviation(x.values(), y.values());
    EXPECT_LE(d.worst, 1e-5 * std::max(1.0, d.scale))
        << "layer " << i << " (" << net.layer(i).type() << ", blocked=" << plan.blocked[size_t(i)] << ")";
  }
}

TEST(BlockedLayout, EveryLayerEqualsThePlainLayoutAtBatchOne) { expect_same_as_plain(1); }

TEST(BlockedLayout, EveryLayerEqualsThePlainLayoutAtBatchThree) { expect_same_as_plain(3); }

TEST(BlockedLayout, ChannelsOffTheBlockStayPlain) {
  Network net = Network::from_cfg(parse_cfg_text(
      "[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=24\nsize=1\nactivation=relu\n"
      "[convolutional]\nfilters=32\nsize=1\nactivation=relu\n[route]\nlayers=-1\ngroups=4\ngroup_id=1\n"
      "[convolutional]\nfilters=4\nsize=1\nactivation=linear\n",
      "plain.cfg"));
  MemoryPlan plan = plan_memory(net, ExecOptions{});
  EXPECT_FALSE(plan.blocked[0]);  // 24 channels
  EXPECT_FALSE(plan.blocked[2]);  // an 8-channel slice starting at channel 8
  EXPECT_FALSE(plan.blocked[1]);  // shares its buffer with that slice
  EXPECT_FALSE(plan.blocked[size_t(net.size())]);  // the network input
}

}  // namespace

namespace {

// bf16 keeps 8 significant bits: outputs stay within a few 1e-3 of fp32
// relative to their range, and classifications agree.
TEST(ReducedPrecision, Bf16ConvolutionsStayCloseToFp32) {
  Network net = blockable(4);
  ExecOptions fp32, bf16;
  bf16.precision = Precision::bf16;
  Executor full(net, fp32), reduced(net, bf16);
  int agree = 0, total = 0;
  for (uint32_t seed = 0; seed < 10; ++seed) {
    Tensor input = tests::random_input(net.input_shape(), 100 + seed);
    Tensor x = reduced.forward(input)[0], y = full.forward(input)[0];
    const tests::Deviation d = tests::deviation(x.values(), y.values());
    EXPECT_GT(d.worst, 0.0) << "bf16 gave bit-identical results: is it running at all?";
    EXPECT_LE(d.worst, 3e-2 * d.scale);
    const int64_t per = x.size() / 4;
    for (int64_t n = 0; n < 4; ++n, ++total) {
      const float *px = x.data() + n * per, *py = y.data() + n * per;
      agree += std::max_element(px, px + per) - px == std::max_element(py, py + per) - py;
    }
  }
  EXPECT_GE(agree, total * 9 / 10);
}

}  // namespace

namespace {

// darknet's shortcut between maps of different channel counts (as in
// csresnext50's first stage): the first min(C) channels are added, the rest
// of the previous layer's pass through. Blocked, that is a common prefix.
TEST(BlockedLayout, ShortcutsOverDifferentChannelCountsMatchThePlainLayout) {
  Network net = Network::from_cfg(parse_cfg_text(
      "[net]\nwidth=12\nheight=10\nchannels=3\n"
      "[convolutional]\nfilters=32\nsize=3\npad=1\nactivation=leaky\n"
      "[convolutional]\nfilters=16\nsize=1\nactivation=leaky\n"
      "[shortcut]\nfrom=-2\nactivation=leaky\n"
      "[convolutional]\nfilters=48\nsize=1\nactivation=linear\n"
      "[shortcut]\nfrom=0\nactivation=linear\n"
      "[convolutional]\nfilters=8\nsize=1\nactivation=linear\n",
      "channels.cfg"));
  net.reshape(12, 10, 2);
  init_weights(net, 3);
  ExecOptions blocked, plain;
  blocked.reuse_memory = plain.reuse_memory = false;
  plain.blocked_layout = false;
  MemoryPlan plan = plan_memory(net, blocked);
  ASSERT_TRUE(plan.blocked[2] && plan.blocked[4]) << "both shortcuts should run blocked";
  Tensor input = tests::random_input(net.input_shape(), 6);
  Executor a(net, blocked), b(net, plain);
  a.forward(input);
  b.forward(input);
  for (int i : {2, 4, 5}) {
    Tensor x = a.layer_output(i), y = b.layer_output(i);
    for (int64_t k = 0; k < x.size(); ++k) ASSERT_NEAR(x.data()[k], y.data()[k], 1e-5f) << "layer " << i;
  }
}

}  // namespace
