// Channel slices of a larger buffer at batch > 1 (a zero-copy concatenation's
// inputs): their images are not evenly spaced, so a oneDNN primitive either
// runs once per image or, for images of at most kGatheredImageBytes, once
// over the batch on a dense copy (kernel_util.hpp). Both must give each
// image the output it gets alone.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "backends/onednn/kernel_util.hpp"
#include "cspnet/cspnet.hpp"
#include "test_helpers.hpp"

namespace {

using namespace cspnet;

// 1 and 6 write the two 16-channel halves of route 7's buffer; 4 takes
// shortcut 5 as a residual sum into its output; 8 reads the concatenation.
std::string strided_cfg(int size) {
  return "[net]\nwidth=" + std::to_string(size) + "\nheight=" + std::to_string(size) + "\nchannels=3\n" + R"(
[convolutional]
batch_normalize=1
filters=32
size=3
stride=1
pad=1
activation=leaky
[convolutional]
batch_normalize=1
filters=16
size=1
stride=1
pad=1
activation=leaky
[route]
layers=-2
[convolutional]
batch_normalize=1
filters=16
size=1
stride=1
pad=1
activation=leaky
[convolutional]
batch_normalize=1
filters=16
size=3
stride=1
pad=1
activation=leaky
[shortcut]
from=-2
activation=linear
[convolutional]
batch_normalize=1
filters=16
size=1
stride=1
pad=1
activation=leaky
[route]
layers=-1,-6
[maxpool]
size=2
stride=2
[convolutional]
filters=16
size=1
stride=1
pad=1
activation=linear
)";
}

constexpr int64_t kImages = 3;

// Every layer's output at batch 3 against the same image run alone.
void expect_each_image_as_alone(int size, const ExecOptions& base, float tolerance) {
  Network net = Network::from_cfg(parse_cfg_text(strided_cfg(size), "strided.cfg"));
  init_weights(net, 5);
  ExecOptions options = base;
  options.reuse_memory = false;  // every layer's output kept
  const Shape one = net.input_shape();
  net.reshape(int(one.w), int(one.h), int(kImages));
  const Tensor batch = tests::random_input(net.input_shape(), 11);
  Executor batched(net, options);
  batched.forward(batch);
  std::vector<Tensor> batched_layers;
  for (int i = 0; i < net.size(); ++i) batched_layers.push_back(batched.layer_output(i));
  net.reshape(int(one.w), int(one.h), 1);
  Executor single(net, options);
  for (int64_t n = 0; n < kImages; ++n) {
    Tensor image(one);
    std::memcpy(image.data(), batch.data() + n * one.per_image(), size_t(one.per_image()) * sizeof(float));
    single.forward(image);
    for (int i = 0; i < net.size(); ++i) {
      const Tensor alone = single.layer_output(i);
      const int64_t per = alone.size();
      const float* got = batched_layers[size_t(i)].data() + n * per;
      for (int64_t k = 0; k < per; ++k)
        ASSERT_NEAR(got[k], alone.data()[k], tolerance * (1 + std::fabs(alone.data()[k])))
            << "layer " << i << " image " << n << " element " << k;
    }
  }
}

// One 16-channel slice of one image, in bytes (fp32).
int64_t slice_bytes(int size) { return int64_t{16} * size * size * 4; }

TEST(StridedViews, SmallSlicesGatheredOverTheBatchGiveEachImageItsOwnOutput) {
  ASSERT_LE(slice_bytes(10), kGatheredImageBytes);
  expect_each_image_as_alone(10, ExecOptions{}, 1e-5f);
}

TEST(StridedViews, LargeSlicesRunPerImageGiveEachImageItsOwnOutput) {
  ASSERT_GT(slice_bytes(36), kGatheredImageBytes);
  expect_each_image_as_alone(36, ExecOptions{}, 1e-5f);
}

TEST(StridedViews, GatheredSlicesWithUnfoldedBatchNormAndUnfusedActivations) {
  // Batch norm and the activation then run as their own primitives on the
  // slice, in place.
  ExecOptions options;
  options.fold_batchnorm = false;
  options.fuse_activation = false;
  expect_each_image_as_alone(10, options, 1e-5f);
}

TEST(StridedViews, GatheredSlicesInBf16) {
  // bf16 plans store these slices in 2-byte elements; one image alone runs
  // the same bf16 arithmetic.
  ExecOptions options;
  options.precision = Precision::bf16;
  expect_each_image_as_alone(10, options, 1e-3f);
}

}  // namespace
