// [upsample]: forward against a naive reference, backward against finite differences.
#include <gtest/gtest.h>

#include "layer_reference.hpp"

namespace {
namespace forward {

using namespace cspnet::tests::layer_reference;

TEST(LayerReference, UpsampleMatchesNearestNeighbourReference) {
  NetSpec spec{5, 3, 2, 2, {upsample(2), upsample(3, 0.5), conv({.filters = 3, .size = 1, .pad = Pad::none}),
                            upsample(-3, 0.25), upsample(-2)}};
  check_layers(spec, -2, 2);
}

}  // namespace forward

namespace backward {

using namespace cspnet::tests::layer_gradients;

// Nearest-neighbour upsampling by `stride`, times `scale`; a negative stride
// sums stride x stride blocks (times scale).
Values upsample(const Values& in, Shape s, int stride, double scale) {
  if (stride > 0) {
    Shape o{s.n, s.c, s.h * stride, s.w * stride};
    Values out(static_cast<size_t>(o.count()));
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t c = 0; c < s.c; ++c)
        for (int64_t y = 0; y < o.h; ++y)
          for (int64_t x = 0; x < o.w; ++x) out[at(o, n, c, y, x)] = scale * in[at(s, n, c, y / stride, x / stride)];
    return out;
  }
  const int64_t k = -stride;
  Shape o{s.n, s.c, s.h / k, s.w / k};
  Values out(static_cast<size_t>(o.count()), 0.0);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t y = 0; y < s.h; ++y)
        for (int64_t x = 0; x < s.w; ++x) out[at(o, n, c, y / k, x / k)] += scale * in[at(s, n, c, y, x)];
  return out;
}

TEST(UpsampleGradient, UpAndDown) {
  for (int batch : {1, 3}) {
    const Shape s{batch, 2, 3, 4};
    EXPECT_TRUE(check_layer_gradients(GradientCase{net(batch, 2, 3, 4) + "[upsample]\nstride=2\n", 0, 1},
                                      [&](const RefInputs& in, const RefParams&) { return upsample(in[0], s, 2, 1); }))
        << "batch " << batch;
  }
  const Shape s3{1, 2, 2, 3};
  EXPECT_TRUE(check_layer_gradients(GradientCase{net(1, 2, 2, 3) + "[upsample]\nstride=3\nscale=0.5\n", 0, 1},
                                    [&](const RefInputs& in, const RefParams&) { return upsample(in[0], s3, 3, 0.5); }));
  const Shape big{3, 2, 6, 4};
  EXPECT_TRUE(check_layer_gradients(GradientCase{net(3, 2, 6, 4) + "[upsample]\nstride=-2\nscale=0.25\n", 0, 1},
                                    [&](const RefInputs& in, const RefParams&) { return upsample(in[0], big, -2, 0.25); }));
}

}  // namespace backward
}  // namespace
