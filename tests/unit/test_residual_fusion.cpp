// Residual fusion: a darknet [shortcut] after a convolution becomes a oneDNN
// sum post-op that accumulates into the shortcut's `from` buffer in place.
#include <gtest/gtest.h>

#include <cmath>

#include "cspnet/cspnet.hpp"
#include "test_helpers.hpp"

namespace {

using namespace cspnet;

// ResNeXt-style residual chain (two blocks: linear convolution, activation
// after the sum), then an upsample used as a shortcut source (as in Elastic
// models) whose buffer is accumulated into, and a darknet-style block (mish
// convolution, linear shortcut) that stays unfused.
std::string residual_cfg(int channels) {
  const std::string c = std::to_string(channels), half = std::to_string(channels / 2);
  std::string block = "[convolutional]\nbatch_normalize=1\nfilters=" + half + "\nsize=1\nactivation=leaky\n" +
                      "[convolutional]\nbatch_normalize=1\nfilters=" + c + "\nsize=3\npad=1\nactivation=linear\n" +
                      "[shortcut]\nfrom=-3\nactivation=leaky\n";
  return "[net]\nwidth=20\nheight=16\nchannels=3\n"
         "[convolutional]\nbatch_normalize=1\nfilters=" + c + "\nsize=3\npad=1\nactivation=leaky\n" + block + block +
         "[maxpool]\nsize=2\nstride=2\n[upsample]\nstride=2\n"
         "[convolutional]\nfilters=" + half + "\nsize=1\nactivation=relu\n"
         "[convolutional]\nfilters=" + c + "\nsize=3\npad=1\nactivation=linear\n"
         "[shortcut]\nfrom=-3\nactivation=linear\n"
         "[convolutional]\nfilters=" + half + "\nsize=1\nactivation=relu\n"
         "[convolutional]\nfilters=" + c + "\nsize=3\npad=1\nactivation=mish\n"
         "[shortcut]\nfrom=-3\nactivation=linear\n"
         "[convolutional]\nfilters=5\nsize=1\nactivation=linear\n";
}

void expect_fusion_changes_nothing(int channels, int batch, bool blocked) {
  Network net = Network::from_cfg(parse_cfg_text(residual_cfg(channels), "residual.cfg"));
  net.reshape(20, 16, batch);
  init_weights(net, 8);
  ExecOptions fused, plain;
  fused.blocked_layout = plain.blocked_layout = blocked;
  plain.fuse_residual = false;
  MemoryPlan plan = plan_memory(net, fused);
  int folded = 0;
  for (int i = 0; i < net.size(); ++i) folded += plan.folded[size_t(i)];
  // The last shortcut follows a mish convolution and is left unfused: see
  // ConvolutionalLayer::can_accumulate_into_output.
  EXPECT_EQ(folded, 3);
  EXPECT_FALSE(plan.folded[size_t(net.size() - 2)]);
  EXPECT_EQ(plan.accumulates_for[2], 3);
  EXPECT_LT(plan.peak_bytes, plan_memory(net, plain).peak_bytes + 1);

  Tensor input = tests::random_input(net.input_shape(), 4);
  Tensor x = Executor(net, fused).forward(input)[0], y = Executor(net, plain).forward(input)[0];
  ASSERT_EQ(x.size(), y.size());
  const tests::Deviation d = tests::deviation(x.values(), y.values());
  EXPECT_GT(d.scale, 0.0);
  EXPECT_LE(d.worst, 1e-5 * std::max(1.0, d.scale)) << channels << " channels, batch " << batch << ", blocked " << blocked;
}

TEST(ResidualFusion, EqualsTheUnfusedShortcutInTheBlockedLayout) { expect_fusion_changes_nothing(32, 1, true); }
TEST(ResidualFusion, EqualsTheUnfusedShortcutAtBatchTwo) { expect_fusion_changes_nothing(32, 2, true); }
TEST(ResidualFusion, EqualsTheUnfusedShortcutInThePlainLayout) { expect_fusion_changes_nothing(12, 1, false); }
TEST(ResidualFusion, EqualsTheUnfusedShortcutWithOddChannelCounts) { expect_fusion_changes_nothing(12, 3, true); }

TEST(ResidualFusion, OverwrittenOutputsAreNotReadable) {
  Network net = Network::from_cfg(parse_cfg_text(residual_cfg(16), "residual.cfg"));
  init_weights(net, 8);
  ExecOptions options;
  options.reuse_memory = false;
  Executor executor(net, options);
  executor.forward(tests::random_input(net.input_shape(), 1));
  ASSERT_TRUE(executor.plan().overwritten[2]);
  EXPECT_THROW(executor.layer_output(2), Error);
  ASSERT_FALSE(executor.plan().overwritten[6]);  // the second block's shortcut, read by the maxpool
  EXPECT_NO_THROW(executor.layer_output(6));
}

TEST(ResidualFusion, NotFusedWhenTheConvolutionReadsTheSource) {
  // conv(f) + f: the convolution cannot write into the buffer it reads.
  Network net = Network::from_cfg(parse_cfg_text(
      "[net]\nwidth=8\nheight=8\nchannels=3\n"
      "[convolutional]\nfilters=16\nsize=1\nactivation=leaky\n"
      "[convolutional]\nfilters=16\nsize=3\npad=1\nactivation=linear\n"
      "[shortcut]\nfrom=-2\nactivation=linear\n",
      "reads.cfg"));
  EXPECT_FALSE(plan_memory(net, ExecOptions{}).folded[2]);
}

TEST(ResidualFusion, OnlyLinearConvolutionsAccumulate) {
  auto plan_for = [](const std::string& conv_act, const std::string& shortcut_act) {
    Network net = Network::from_cfg(parse_cfg_text(
        "[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=16\nsize=1\nactivation=leaky\n"
        "[convolutional]\nfilters=8\nsize=1\nactivation=leaky\n[convolutional]\nfilters=16\nsize=3\npad=1\n"
        "activation=" + conv_act + "\n[shortcut]\nfrom=-3\nactivation=" + shortcut_act + "\n[convolutional]\n"
        "filters=4\nsize=1\nactivation=linear\n",
        "acts.cfg"));
    return bool(plan_memory(net, ExecOptions{}).folded[3]);  // not a proxy into a temporary
  };
  EXPECT_TRUE(plan_for("linear", "leaky"));
  EXPECT_TRUE(plan_for("linear", "linear"));
  EXPECT_TRUE(plan_for("linear", "mish"));
  EXPECT_FALSE(plan_for("leaky", "linear"));
  EXPECT_FALSE(plan_for("relu", "relu"));
}

TEST(ResidualFusion, NotFusedWhenTheSourceIsReadLater) {
  // Layer 0 is read again after the shortcut: accumulating into it would
  // corrupt that later read.
  Network net = Network::from_cfg(parse_cfg_text(
      "[net]\nwidth=8\nheight=8\nchannels=3\n"
      "[convolutional]\nfilters=16\nsize=1\nactivation=leaky\n"
      "[convolutional]\nfilters=16\nsize=3\npad=1\nactivation=linear\n"
      "[shortcut]\nfrom=-2\nactivation=linear\n"
      "[route]\nlayers=-1,0\n",
      "later.cfg"));
  MemoryPlan plan = plan_memory(net, ExecOptions{});
  EXPECT_FALSE(plan.folded[2]);
  EXPECT_EQ(plan.accumulates_for[1], -1);
}

}  // namespace
