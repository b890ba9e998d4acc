// [shortcut]: forward against a naive reference, backward against finite differences.
#include <gtest/gtest.h>

#include "layer_reference.hpp"

namespace {
namespace forward {

using namespace cspnet::tests::layer_reference;

TEST(LayerReference, ShortcutMatchesReferenceForEqualAndDifferentShapes) {
  NetSpec spec{10, 6, 3, 2,
               {
                   conv({.filters = 8, .size = 3, .act = Activation::leaky}),                            // 0: 8x6x10
                   conv({.filters = 6, .size = 3, .stride_x = 2, .stride_y = 2, .act = Activation::leaky}),  // 1: 6x3x5
                   shortcut({0}, Activation::linear),         // 2: larger `from`, sampled with stride 2, c < 6
                   conv({.filters = 6, .size = 3, .act = Activation::linear}),                            // 3
                   shortcut({-3}, Activation::leaky),         // 4: same shape, activation
                   conv({.filters = 4, .size = 1, .pad = Pad::none}),                                     // 5: 4ch
                   shortcut({-3}, Activation::mish),          // 6: 4ch + 6ch: first 4 added
                   conv({.filters = 7, .size = 1, .pad = Pad::none}),                                     // 7: 7ch
                   shortcut({-4}, Activation::linear),        // 8: 7ch + 6ch: channel 6 passes through
                   upsample(2),                               // 9: 7x6x10
                   shortcut({-3}, Activation::logistic),      // 10: smaller `from`, spread with step 2
                   shortcut({-2, -10}, Activation::swish),    // 11: several `from` layers
               }};
  for (const ExecOptions& options : {ExecOptions{}, unoptimised()}) check_layers(spec, -2, 2, options);
}

}  // namespace forward

namespace backward {

using namespace cspnet::tests::layer_gradients;

// darknet shortcut. Equal width and height: alpha*previous + beta*each
// from over its first min(C) channels (alpha once, only on channels some
// from reaches). Otherwise one `from` at a time: at the common cells
// (channels < min C, the larger map sampled with a stride, the smaller
// spread with a step) cell = alpha*cell + beta*from.
Values shortcut(const RefInputs& in, const std::vector<Shape>& shapes, double alpha, double beta, Activation act) {
  const Shape& o = shapes[0];
  Values out = in[0];
  bool same_plane = true;
  for (const Shape& s : shapes) same_plane = same_plane && s.h == o.h && s.w == o.w;
  if (same_plane) {
    int64_t reached = 0;
    for (size_t f = 1; f < in.size(); ++f) reached = std::max(reached, std::min(shapes[f].c, o.c));
    for (int64_t n = 0; n < o.n; ++n)
      for (int64_t c = 0; c < reached; ++c)
        for (int64_t i = 0; i < o.h * o.w; ++i) out[at(o, n, c, 0, i)] *= alpha;
    for (size_t f = 1; f < in.size(); ++f)
      for (int64_t n = 0; n < o.n; ++n)
        for (int64_t c = 0; c < std::min(shapes[f].c, o.c); ++c)
          for (int64_t i = 0; i < o.h * o.w; ++i) out[at(o, n, c, 0, i)] += beta * in[f][at(shapes[f], n, c, 0, i)];
    return activated(out, act);
  }
  for (size_t f = 1; f < in.size(); ++f) {
    const Shape& s = shapes[f];
    const int64_t stride = std::max<int64_t>(s.w / o.w, 1), sample = std::max<int64_t>(o.w / s.w, 1);
    for (int64_t n = 0; n < o.n; ++n)
      for (int64_t c = 0; c < std::min(s.c, o.c); ++c)
        for (int64_t y = 0; y < std::min(s.h, o.h); ++y)
          for (int64_t x = 0; x < std::min(s.w, o.w); ++x) {
            double& cell = out[at(o, n, c, y * sample, x * sample)];
            cell = alpha * cell + beta * in[f][at(s, n, c, y * stride, x * stride)];
          }
  }
  return activated(out, act);
}

// ---- shortcut ------------------------------------------------------------------

struct ShortcutCase {
  const char* name;
  std::string layers;  // [net] and the producers; the shortcut follows
  std::string options;
  std::vector<Shape> shapes;  // previous layer first, then the froms
  double alpha = 1, beta = 1;
  Activation act = Activation::linear;
};

TEST(ShortcutGradient, AllShapeRules) {
  const int b = 3;
  const std::string small = net(b, 2, 5, 4), square = net(b, 2, 8, 8);
  const std::string upsample2 = "[upsample]\nstride=2\n\n";
  const std::vector<ShortcutCase> cases{
      {"same shape, logistic", small + conv(4) + conv(4), "from=-2\nactivation=logistic\n",
       {{b, 4, 5, 4}, {b, 4, 5, 4}}, 1, 1, Activation::logistic},
      {"two froms", small + conv(4) + conv(4) + conv(4), "from=-2,-3\nactivation=swish\n",
       {{b, 4, 5, 4}, {b, 4, 5, 4}, {b, 4, 5, 4}}, 1, 1, Activation::swish},
      {"alpha and beta", small + conv(4) + conv(4), "from=-2\nalpha=0.5\nbeta=-2\n", {{b, 4, 5, 4}, {b, 4, 5, 4}},
       0.5, -2},
      {"from has fewer channels", small + conv(2) + conv(5), "from=-2\nalpha=0.7\n", {{b, 5, 5, 4}, {b, 2, 5, 4}}, 0.7},
      {"from has more channels", small + conv(6) + conv(3), "from=-2\nactivation=mish\n",
       {{b, 3, 5, 4}, {b, 6, 5, 4}}, 1, 1, Activation::mish},
      {"two froms, fewer channels", small + conv(2) + conv(3) + conv(5), "from=-2,-3\nalpha=0.5\nbeta=3\n",
       {{b, 5, 5, 4}, {b, 3, 5, 4}, {b, 2, 5, 4}}, 0.5, 3},
      {"from is larger", square + conv(3) + conv(4, 2), "from=-2\nactivation=logistic\n",
       {{b, 4, 4, 4}, {b, 3, 8, 8}}, 1, 1, Activation::logistic},
      {"from is smaller", square + conv(3, 2) + upsample2 + conv(4), "from=-3\nalpha=0.5\nbeta=2\n",
       {{b, 4, 8, 8}, {b, 3, 4, 4}}, 0.5, 2},
      // Layers: 3x8x8, 2x4x4, 2x2x2, 2x4x4, 4x4x4; the froms are the 8x8 and the 2x2 maps.
      {"two froms, larger and smaller", square + conv(3) + conv(2, 2) + conv(2, 2) + upsample2 + conv(4),
       "from=-5,-3\nalpha=0.5\nbeta=1.5\nactivation=logistic\n", {{b, 4, 4, 4}, {b, 3, 8, 8}, {b, 2, 2, 2}}, 0.5, 1.5,
       Activation::logistic},
  };
  for (const auto& c : cases) {
    const int layer = static_cast<int>(std::count(c.layers.begin(), c.layers.end(), '[')) - 1;  // less [net]
    EXPECT_TRUE(check_layer_gradients(GradientCase{c.layers + "[shortcut]\n" + c.options, layer, 12},
                                      [&](const RefInputs& in, const RefParams&) {
                                        return shortcut(in, c.shapes, c.alpha, c.beta, c.act);
                                      }))
        << c.name;
  }
}

TEST(ShortcutGradient, SameInputTwiceIsTwiceTheInput) {
  const std::string cfg = net(3, 2, 4, 3) + conv(3) + "[shortcut]\nfrom=-1\nactivation=logistic\nalpha=0.5\n";
  const std::vector<Shape> shapes{{3, 3, 4, 3}, {3, 3, 4, 3}};
  EXPECT_TRUE(check_read_twice(cfg, 1, [&](const RefInputs& in, const RefParams&) {
    return shortcut(in, shapes, 0.5, 1, Activation::logistic);
  }));
}

}  // namespace backward
}  // namespace
