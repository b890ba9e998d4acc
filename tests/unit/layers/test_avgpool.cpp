// [avgpool]: forward against a naive reference, backward against finite differences.
#include <gtest/gtest.h>

#include "layer_reference.hpp"

namespace {
namespace forward {

using namespace cspnet::tests::layer_reference;

TEST(LayerReference, AvgpoolMatchesGlobalAverageReference) {
  check_layers(NetSpec{7, 5, 3, 2, {avgpool()}}, -2, 2);
  check_layers(NetSpec{1, 1, 4, 1, {avgpool()}}, -2, 2);
  check_layers(NetSpec{9, 6, 2, 3, {conv({.filters = 5, .size = 3, .stride_x = 2, .stride_y = 2,
                                          .act = Activation::leaky}),
                                    avgpool()}},
               -2, 2);
}

}  // namespace forward

namespace backward {

using namespace cspnet::tests::layer_gradients;

Values global_average(const Values& in, Shape s) {
  Values out(static_cast<size_t>(s.n * s.c), 0.0);
  for (int64_t p = 0; p < s.n * s.c; ++p) {
    for (int64_t i = 0; i < s.h * s.w; ++i) out[size_t(p)] += in[size_t(p * s.h * s.w + i)];
    out[size_t(p)] /= double(s.h * s.w);
  }
  return out;
}

TEST(AvgPoolGradient, GlobalAverage) {
  for (int batch : {1, 3}) {
    const std::string cfg = net(batch, 4, 5, 3) + "[avgpool]\n";
    const Shape s{batch, 4, 5, 3};
    EXPECT_TRUE(check_layer_gradients(GradientCase{cfg, 0, 2}, [&](const RefInputs& in, const RefParams&) {
      return global_average(in[0], s);
    })) << "batch " << batch;
  }
}

}  // namespace backward
}  // namespace
