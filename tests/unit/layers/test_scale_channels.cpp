// [scale_channels]: forward against a naive reference, backward against finite differences.
#include <gtest/gtest.h>

#include "layer_reference.hpp"

namespace {
namespace forward {

using namespace cspnet::tests::layer_reference;

TEST(LayerReference, ScaleChannelsMatchesPerChannelProductReference) {
  NetSpec spec{7, 5, 3, 2,
               {conv({.filters = 6, .size = 3, .act = Activation::leaky}), avgpool(),
                conv({.filters = 6, .size = 1, .pad = Pad::none, .act = Activation::logistic}), scale_channels(0),
                avgpool(), scale_channels(-2, Activation::leaky)}};
  check_layers(spec, -2, 2);
}

}  // namespace forward

namespace backward {

using namespace cspnet::tests::layer_gradients;

TEST(ScaleChannelsGradient, PerChannelScales) {
  for (int batch : {1, 3})
    for (const char* act : {"linear", "logistic"}) {
      // Layer 0: the 5x4x3 map; layer 1: its 5x1x1 average (the scales).
      const std::string cfg =
          net(batch, 2, 4, 3) + conv(5) + "[avgpool]\n\n[scale_channels]\nfrom=-2\nactivation=" + act + "\n";
      const Activation a = cspnet::parse_activation(act, "test");
      const Shape map{batch, 5, 4, 3};
      EXPECT_TRUE(check_layer_gradients(GradientCase{cfg, 2, 5}, [&](const RefInputs& in, const RefParams&) {
        Values out(in[1].size());
        for (int64_t p = 0; p < map.n * map.c; ++p)
          for (int64_t i = 0; i < map.h * map.w; ++i) {
            const size_t k = size_t(p * map.h * map.w + i);
            out[k] = cspnet::activate(a, in[0][size_t(p)] * in[1][k]);
          }
        return out;
      })) << act << " batch " << batch;
    }
}

}  // namespace backward
}  // namespace
