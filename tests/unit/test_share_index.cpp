// [convolutional] share_index: a layer that computes with another
// convolution's arrays. It stores none of its own (.weights skips it), runs
// exactly as a copy of the owner would, and trains the owner's arrays with
// the sum of both layers' gradients.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cspnet/cspnet.hpp"
#include "cspnet/training.hpp"
#include "test_helpers.hpp"

namespace cspnet {
namespace {

std::string cfg_text(const std::string& third_layer_extra) {
  std::string conv = "[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=leaky\n";
  return "[net]\nwidth=8\nheight=8\nchannels=3\nbatch=2\n" + conv + conv + conv + third_layer_extra +
         "[avgpool]\n[softmax]\n";
}

// The same network twice: layer 2 shares layer 1's arrays, or has its own
// copy of them.
struct SharedAndCopied {
  Network shared, copied;
  SharedAndCopied()
      : shared(Network::from_cfg(parse_cfg_text(cfg_text("share_index=-1\n"), "shared.cfg"))),
        copied(Network::from_cfg(parse_cfg_text(cfg_text(""), "copied.cfg"))) {
    init_weights(copied, 3);
    *copied.layer(2).weight_arrays() = *copied.layer(1).weight_arrays();
    for (int i = 0; i < 2; ++i) *shared.layer(i).weight_arrays() = *copied.layer(i).weight_arrays();
  }
};

TEST(ShareIndex, TheSharingLayerStoresNoArraysOfItsOwn) {
  SharedAndCopied nets;
  EXPECT_EQ(nets.shared.layer(2).attrs_as<ConvolutionalAttrs>().share_index, 1);
  EXPECT_TRUE(nets.shared.layer(2).darknet_params().empty());
  EXPECT_TRUE(nets.shared.layer(2).trainable_params().empty());
  EXPECT_EQ(nets.shared.parameter_count(), nets.copied.parameter_count() - nets.copied.layer(2).parameter_count());
  EXPECT_EQ(nets.shared.bflops(), nets.copied.bflops());
  EXPECT_EQ(nets.shared.layer(2).weight_arrays(), nets.shared.layer(1).weight_arrays());
}

TEST(ShareIndex, RunsAsACopyOfTheOwnersArrays) {
  SharedAndCopied nets;
  const Tensor input = tests::random_input(nets.shared.input_shape(), 7);
  Executor shared(nets.shared), copied(nets.copied);
  const tests::Deviation d = tests::deviation(shared.forward(input).back().values(), copied.forward(input).back().values());
  EXPECT_LE(d.worst, 1e-6 * d.scale);
}

TEST(ShareIndex, TrainsTheOwnersArraysWithBothLayersGradients) {
  SharedAndCopied nets;
  nets.shared.reshape(8, 8, 2);
  nets.copied.reshape(8, 8, 2);
  const Tensor input = tests::random_input(nets.shared.input_shape(), 9);
  const std::vector<float> targets{0.2f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f,
                                   0.f,  0.f,  1.f,  0.f,  0.f,  0.f,  0.f,  0.f};
  const std::vector<int> labels{0, 2};
  auto step = [&](Network& net) {
    TrainingExecutor executor(net);
    executor.zero_gradients();
    executor.forward(input.data(), StepContext{});
    const double loss = executor.loss({targets, labels, {}}, 0.5f).loss;
    executor.backward();
    return loss;
  };
  EXPECT_NEAR(step(nets.shared), step(nets.copied), 1e-6);
  const WeightArrays& owner = *nets.shared.layer(1).weight_arrays();
  const WeightArrays &first = *nets.copied.layer(1).weight_arrays(), &second = *nets.copied.layer(2).weight_arrays();
  std::vector<float> weight_sum(first.weight_grads), bias_sum(first.bias_grads);
  for (size_t i = 0; i < weight_sum.size(); ++i) weight_sum[i] += second.weight_grads[i];
  for (size_t i = 0; i < bias_sum.size(); ++i) bias_sum[i] += second.bias_grads[i];
  const tests::Deviation weights = tests::deviation(owner.weight_grads, weight_sum);
  const tests::Deviation biases = tests::deviation(owner.bias_grads, bias_sum);
  ASSERT_GT(weights.scale, 0.0);
  EXPECT_LE(weights.worst, 1e-5 * weights.scale);
  EXPECT_LE(biases.worst, 1e-5 * biases.scale);
}

TEST(ShareIndex, NamesTheProblemWhenTheOwnerCannotBeShared) {
  const std::string pool = "[net]\nwidth=8\nheight=8\nchannels=3\n[maxpool]\nsize=2\nstride=2\n"
                           "[convolutional]\nfilters=3\nsize=1\nshare_index=0\n";
  tests::expect_error_mentioning([&] { Network::from_cfg(parse_cfg_text(pool, "pool.cfg")); },
                                 {"pool.cfg:8", "[maxpool]", "expected a [convolutional]"});
  const std::string shapes = "[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=4\nsize=3\n"
                             "[convolutional]\nfilters=4\nsize=1\nshare_index=0\n";
  tests::expect_error_mentioning([&] { Network::from_cfg(parse_cfg_text(shapes, "shapes.cfg")); },
                                 {"shapes.cfg:8", "share_index=0", "108 weights"});
  const std::string later = "[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=4\nsize=1\n"
                            "share_index=1\n[convolutional]\nfilters=4\nsize=1\n";
  tests::expect_error_mentioning([&] { Network::from_cfg(parse_cfg_text(later, "later.cfg")); },
                                 {"later.cfg:8", "share_index", "an earlier layer"});
}

}  // namespace
}  // namespace cspnet
