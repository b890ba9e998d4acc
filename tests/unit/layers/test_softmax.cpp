// [softmax]: forward against a naive reference, backward against finite differences.
#include <gtest/gtest.h>

#include "layer_reference.hpp"

namespace {
namespace forward {

using namespace cspnet::tests::layer_reference;

TEST(LayerReference, SoftmaxMatchesReferenceOverFlattenedImage) {
  for (int groups : {1, 3, 4, 60}) {
    SCOPED_TRACE("groups=" + std::to_string(groups));
    Checked result = check_layers(NetSpec{5, 3, 4, 2, {softmax(groups)}}, -10, 10);
    const Tensor& out = result.outputs[0];
    const int64_t chunk = 60 / groups;
    for (int64_t start = 0; start < out.size(); start += chunk) {
      double sum = 0;
      for (int64_t i = 0; i < chunk; ++i) sum += out.values()[size_t(start + i)];
      EXPECT_NEAR(sum, 1.0, 1e-5) << "chunk at " << start;
    }
  }
  check_layers(NetSpec{4, 3, 2, 3, {connected(10, false, Activation::linear), softmax(1)}}, -2, 2);
}

}  // namespace forward

namespace backward {

using namespace cspnet::tests::layer_gradients;

// Softmax of x/temperature over each of `groups` contiguous chunks per image.
Values softmax(const Values& in, Shape s, int groups, double temperature) {
  Values out(in.size());
  const int64_t chunk = s.per_image() / groups;
  for (int64_t g = 0; g < s.n * groups; ++g) {
    double largest = *std::max_element(in.begin() + g * chunk, in.begin() + (g + 1) * chunk), sum = 0;
    for (int64_t i = g * chunk; i < (g + 1) * chunk; ++i) sum += out[size_t(i)] = std::exp((in[size_t(i)] - largest) / temperature);
    for (int64_t i = g * chunk; i < (g + 1) * chunk; ++i) out[size_t(i)] /= sum;
  }
  return out;
}

TEST(SoftmaxGradient, GroupsAndTemperature) {
  for (int batch : {1, 3}) {
    const Shape s{batch, 6, 2, 1};
    EXPECT_TRUE(check_layer_gradients(GradientCase{net(batch, 6, 2, 1) + "[softmax]\ngroups=3\n", 0, 4},
                                      [&](const RefInputs& in, const RefParams&) { return softmax(in[0], s, 3, 1); }))
        << "batch " << batch;
  }
  const Shape s{2, 10, 1, 1};
  EXPECT_TRUE(check_layer_gradients(GradientCase{net(2, 10, 1, 1) + "[softmax]\ntemperature=2\n", 0, 4},
                                    [&](const RefInputs& in, const RefParams&) { return softmax(in[0], s, 1, 2); }));
}

}  // namespace backward
}  // namespace
