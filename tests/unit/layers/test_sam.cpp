// [sam]: forward against a naive reference, backward against finite differences.
#include <gtest/gtest.h>

#include "layer_reference.hpp"

namespace {
namespace forward {

using namespace cspnet::tests::layer_reference;

TEST(LayerReference, SamMatchesElementwiseProductReference) {
  NetSpec spec{7, 5, 3, 2,
               {conv({.filters = 4, .size = 3, .act = Activation::leaky}),
                conv({.filters = 4, .size = 1, .pad = Pad::none, .act = Activation::logistic}), sam(0),
                conv({.filters = 4, .size = 1, .pad = Pad::none, .act = Activation::tanh}),
                sam(-2, Activation::leaky)}};
  check_layers(spec, -2, 2);
}

}  // namespace forward

namespace backward {

using namespace cspnet::tests::layer_gradients;

// ---- sam, scale_channels ----------------------------------------------------

TEST(SamGradient, ProductOfTwoLayers) {
  for (const char* act : {"linear", "logistic"}) {
    const std::string cfg = net(3, 2, 4, 3) + conv(3) + conv(3) + "[sam]\nfrom=-2\nactivation=" + act + "\n";
    const Activation a = cspnet::parse_activation(act, "test");
    EXPECT_TRUE(check_layer_gradients(GradientCase{cfg, 2, 3}, [&](const RefInputs& in, const RefParams&) {
      Values out(in[0].size());
      for (size_t i = 0; i < out.size(); ++i) out[i] = cspnet::activate(a, in[0][i] * in[1][i]);
      return out;
    })) << act;
  }
}

TEST(SamGradient, SameInputTwiceIsASquare) {
  const std::string cfg = net(1, 2, 4, 3) + conv(3) + "[sam]\nfrom=-1\nactivation=tanh\n";
  auto ref = [&](const RefInputs& in, const RefParams&) {
    Values out(in[0].size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = std::tanh(in[0][i] * in[1][i]);
    return out;
  };
  EXPECT_TRUE(check_layer_gradients(GradientCase{cfg, 1, 3}, ref));
  EXPECT_TRUE(check_read_twice(cfg, 1, ref));
}

}  // namespace backward
}  // namespace
