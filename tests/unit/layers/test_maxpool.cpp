// [maxpool] (incl. Maxout, maxpool_depth): forward against a naive reference, backward against finite differences.
#include <gtest/gtest.h>

#include "layer_reference.hpp"

namespace {
namespace forward {

using namespace cspnet::tests::layer_reference;

TEST(LayerReference, MaxpoolMatchesNaiveReferenceWithDarknetPadding) {
  struct Case {
    int c, w, h, batch;
    PoolArgs args;
  };
  const Case cases[] = {
      {3, 9, 7, 2, {.size = 2, .stride_x = 2, .stride_y = 2}},  // default padding 1: last window half outside
      {2, 8, 6, 1, {.size = 3, .stride_x = 2, .stride_y = 2}},  // default padding 2: one before, one after
      {3, 9, 7, 2, {.size = 2, .stride_x = 2, .stride_y = 1}},
      {1, 9, 10, 2, {.size = 3, .stride_x = 1, .stride_y = 3}},
      {2, 8, 8, 1, {.size = 3, .stride_x = 2, .stride_y = 2, .padding = 0}},  // last input column never read
      {2, 7, 5, 2, {.size = 3, .stride_x = 1, .stride_y = 1, .padding = 1}},  // padding only after
      {2, 7, 6, 1, {.size = 2, .stride_x = 3, .stride_y = 3, .padding = 3}},
      {2, 7, 5, 2, {.size = 0, .stride_x = 2, .stride_y = 2, .omit_size = true}},  // size defaults to stride
  };
  // All inputs negative: a padded cell counted as 0 would win every edge window.
  for (const Case& c : cases) check_layers(NetSpec{c.w, c.h, c.c, c.batch, {maxpool(c.args)}}, -3, -1);
}

TEST(LayerReference, MaxpoolMatchesNaiveReferenceOnRandomShapes) {
  std::mt19937 rng(kSeed + 1);
  auto pick = [&rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 60; ++trial) {
    PoolArgs a;
    a.size = pick(1, 6);
    a.stride_x = pick(1, 3);
    a.stride_y = pick(1, 3);
    a.padding = pick(-1, a.size - 1);  // -1: darknet's default size-1
    a.omit_size = a.stride_x == a.stride_y && pick(0, 3) == 0;
    const int reach = a.effective_size() - a.effective_padding();
    const int w = std::max(pick(1, 13), reach), h = std::max(pick(1, 13), reach);
    SCOPED_TRACE("random case " + std::to_string(trial));
    check_layers(NetSpec{w, h, pick(1, 3), pick(1, 2), {maxpool(a)}}, -3, -1);
  }
}

TEST(LayerReference, MaxpoolSppStrideOneMatchesDefinitionAtImageEdge) {
  for (int size : {5, 9, 13}) {
    NetSpec spec{7, 6, 3, 2, {maxpool({.size = size, .stride_x = 1, .stride_y = 1})}};
    Checked result = check_layers(spec, -3, 3);
    EXPECT_EQ(result.outputs[0].shape(), result.input.shape()) << "SPP pooling keeps the size";
  }
  // Explicit check of the left edge (darknet's AVX path gets this wrong):
  // output column 0 of a 5x5/1 pool sees input columns 0..2 only.
  NetSpec spec{6, 1, 1, 1, {maxpool({.size = 5, .stride_x = 1, .stride_y = 1})}};
  Network net = build(spec);
  Tensor input(net.input_shape());
  const float row[6] = {-5, -1, -7, -8, -9, -2};
  std::copy(row, row + 6, input.data());
  Executor ex(net);
  std::vector<Tensor> out = ex.forward(input);
  const float expected[6] = {-1, -1, -1, -1, -2, -2};
  for (int x = 0; x < 6; ++x) EXPECT_EQ(out[0].at(0, 0, 0, x), expected[x]) << "column " << x;
}

TEST(LayerReference, MaxpoolDepthIsChannelMaxoutOverStridedChannelGroups) {
  for (int groups : {1, 3, 4, 7}) {
    SCOPED_TRACE("out_channels=" + std::to_string(groups));
    check_layers(NetSpec{5, 4, 7, 2, {maxout(groups)}}, -2, 2);
  }
  // After a convolution (the usual place) and on batch 3.
  check_layers(NetSpec{6, 5, 3, 3, {conv({.filters = 8, .size = 3, .act = Activation::linear}), maxout(2)}}, -2, 2);
}

}  // namespace forward

namespace backward {

using namespace cspnet::tests::layer_gradients;

// ---- references -------------------------------------------------------------

// darknet max pooling: out = (in + padding - size)/stride + 1, padding split
// padding/2 before; padded cells never win.
Values max_pool(const Values& in, Shape s, int size, int stride, int padding) {
  const int64_t oh = (s.h + padding - size) / stride + 1, ow = (s.w + padding - size) / stride + 1;
  const int64_t before = padding / 2;
  Shape o{s.n, s.c, oh, ow};
  Values out(static_cast<size_t>(o.count()));
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t x = 0; x < ow; ++x) {
          double best = -std::numeric_limits<double>::infinity();
          for (int64_t i = 0; i < size; ++i)
            for (int64_t j = 0; j < size; ++j) {
              int64_t yy = y * stride - before + i, xx = x * stride - before + j;
              if (yy >= 0 && yy < s.h && xx >= 0 && xx < s.w) best = std::max(best, in[at(s, n, c, yy, xx)]);
            }
          out[at(o, n, c, y, x)] = best;
        }
  return out;
}

// Maxout: output channel g = max over input channels k with k mod groups == g.
Values maxout(const Values& in, Shape s, int groups) {
  Shape o{s.n, groups, s.h, s.w};
  Values out(static_cast<size_t>(o.count()), -std::numeric_limits<double>::infinity());
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t k = 0; k < s.c; ++k)
      for (int64_t y = 0; y < s.h; ++y)
        for (int64_t x = 0; x < s.w; ++x) {
          double& cell = out[at(o, n, k % groups, y, x)];
          cell = std::max(cell, in[at(s, n, k, y, x)]);
        }
  return out;
}

// ---- max pooling and Maxout -------------------------------------------------

struct PoolCase {
  int n, c, h, w, size, stride;
};

class MaxPoolGradient : public ::testing::TestWithParam<PoolCase> {};

TEST_P(MaxPoolGradient, MatchesReferenceAndFiniteDifferences) {
  const PoolCase p = GetParam();
  const std::string cfg = net(p.n, p.c, p.h, p.w) + "[maxpool]\nsize=" + std::to_string(p.size) +
                          "\nstride=" + std::to_string(p.stride) + "\n";
  const Shape s{p.n, p.c, p.h, p.w};
  EXPECT_TRUE(check_layer_gradients(GradientCase{cfg, 0, 11}, [&](const RefInputs& in, const RefParams&) {
    return max_pool(in[0], s, p.size, p.stride, p.size - 1);
  }));
}

INSTANTIATE_TEST_SUITE_P(Shapes, MaxPoolGradient,
                         ::testing::Values(PoolCase{1, 3, 8, 8, 2, 2},   // the usual downsampling
                                           PoolCase{3, 2, 7, 5, 2, 2},   // odd sizes: darknet's extra padding
                                           PoolCase{1, 2, 6, 7, 3, 1},   // same-size 3x3
                                           PoolCase{3, 2, 5, 5, 3, 2},
                                           PoolCase{1, 2, 6, 6, 5, 1},   // SPP
                                           PoolCase{3, 1, 7, 6, 9, 1}));  // SPP, window larger than the map

TEST(MaxPoolGradient, ExplicitPaddingAndStrides) {
  const std::string cfg = net(2, 2, 9, 8) + "[maxpool]\nsize=3\nstride_x=2\nstride_y=1\npadding=1\n";
  const Shape s{2, 2, 9, 8};
  // Rows: stride 1; columns: stride 2 (the reference handles one stride, so
  // pool rows first with stride 1 and keep every second column).
  EXPECT_TRUE(check_layer_gradients(GradientCase{cfg, 0, 5}, [&](const RefInputs& in, const RefParams&) {
    Values rows = max_pool(in[0], s, 3, 1, 1);  // 2 x 2 x 8 x 7
    Shape r{2, 2, 8, 7};
    Shape o{2, 2, 8, 4};
    Values out(static_cast<size_t>(o.count()));
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t c = 0; c < 2; ++c)
        for (int64_t y = 0; y < 8; ++y)
          for (int64_t x = 0; x < 4; ++x) out[at(o, n, c, y, x)] = rows[at(r, n, c, y, 2 * x)];
    return out;
  }));
}

TEST(MaxoutGradient, StridedChannelGroups) {
  for (int batch : {1, 3}) {
    const std::string cfg = net(batch, 7, 4, 5) + "[maxpool]\nmaxpool_depth=1\nout_channels=3\n";
    const Shape s{batch, 7, 4, 5};
    EXPECT_TRUE(check_layer_gradients(GradientCase{cfg, 0, 3}, [&](const RefInputs& in, const RefParams&) {
      return maxout(in[0], s, 3);
    })) << "batch " << batch;
  }
}

}  // namespace backward
}  // namespace
