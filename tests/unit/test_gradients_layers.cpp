// Training kernels of the layers without parameters (pooling, Maxout, route,
// shortcut, upsample, softmax, dropout, cost, sam, scale_channels): forward
// against a double reference written here from darknet's semantics
// (../shared/darknet-notes.md) and backward against central finite
// differences of that reference, through the shared harness.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/onednn/kernel.hpp"  // the kernels under test
#include "cspnet/cspnet.hpp"
#include "gradient_check.hpp"

namespace {

using cspnet::Activation;
using cspnet::Shape;
using cspnet::tests::check_layer_gradients;
using cspnet::tests::GradientCase;
using cspnet::tests::RefInputs;
using cspnet::tests::RefParams;
using Values = std::vector<double>;

// [net] header of a w x h x c input with batch n.
std::string net(int n, int c, int h, int w) {
  return "[net]\nbatch=" + std::to_string(n) + "\nwidth=" + std::to_string(w) + "\nheight=" + std::to_string(h) +
         "\nchannels=" + std::to_string(c) + "\n\n";
}
// A 1x1 convolution: a producer with `filters` channels for the layer under test.
std::string conv(int filters, int stride = 1) {
  return "[convolutional]\nfilters=" + std::to_string(filters) + "\nsize=1\nstride=" + std::to_string(stride) +
         "\nactivation=linear\n\n";
}

size_t at(const Shape& s, int64_t n, int64_t c, int64_t y, int64_t x) {
  return static_cast<size_t>(((n * s.c + c) * s.h + y) * s.w + x);
}

// A layer that reads one tensor in two slots, as the training executor
// wires it: both slots share the tensor and its gradient buffer, the first
// slot stores (over garbage) and the second adds. The gradient must be the
// finite difference of the reference with both slots moved together.
::testing::AssertionResult check_read_twice(const std::string& cfg, int layer_index,
                                            const cspnet::tests::ReferenceForward& ref) {
  cspnet::Network network = cspnet::Network::from_cfg(cspnet::parse_cfg_text(cfg, "twice.cfg"));
  network.reshape(network.config().width, network.config().height, network.config().batch);
  cspnet::Layer& layer = network.layer(layer_index);
  const std::vector<int>& reads = layer.inputs();
  if (reads.size() != 2 || reads[0] != reads[1])
    return ::testing::AssertionFailure() << "the layer does not read one tensor twice";
  const Shape shape = network.layer(reads[0]).output_shape();
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  std::vector<float> x(static_cast<size_t>(shape.count())), dx(x.size(), 1e6f);
  for (float& v : x) v = uniform(rng);
  const Shape out_shape = layer.output_shape();
  std::vector<float> y(static_cast<size_t>(out_shape.count())), dy(y.size());
  for (float& v : dy) v = uniform(rng);
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const cspnet::TrainTensor input{x.data(), shape}, grad{dx.data(), shape};
  auto kernel = cspnet::compile_training_kernel(layer, cspnet::TrainCompileContext{
      engine, {input, input}, {y.data(), out_shape}, {grad, grad}, {false, true}, {dy.data(), out_shape}});
  kernel->forward(stream, cspnet::StepContext{true, 1});
  kernel->backward(stream);
  stream.wait();
  const Values xd(x.begin(), x.end());
  auto objective = [&](const Values& at) {
    const Values out = ref({at, at}, {});
    double sum = 0;
    for (size_t i = 0; i < out.size(); ++i) sum += out[i] * dy[i];
    return sum;
  };
  for (size_t e = 0; e < x.size(); ++e) {
    Values up = xd, down = xd;
    const double h = 1e-6;
    up[e] += h;
    down[e] -= h;
    const double fd = (objective(up) - objective(down)) / (2 * h);
    if (!(std::abs(fd - dx[e]) <= 1e-3 * std::max(1.0, std::abs(fd))))
      return ::testing::AssertionFailure() << "element " << e << ": ours " << dx[e] << ", finite difference " << fd;
  }
  return ::testing::AssertionSuccess();
}

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

Values global_average(const Values& in, Shape s) {
  Values out(static_cast<size_t>(s.n * s.c), 0.0);
  for (int64_t p = 0; p < s.n * s.c; ++p) {
    for (int64_t i = 0; i < s.h * s.w; ++i) out[size_t(p)] += in[size_t(p * s.h * s.w + i)];
    out[size_t(p)] /= double(s.h * s.w);
  }
  return out;
}

// Route: each input's group_id-th chunk of C/groups channels, concatenated.
Values route(const RefInputs& in, const std::vector<Shape>& shapes, int groups, int group_id) {
  Values out;
  const Shape& first = shapes[0];
  for (int64_t n = 0; n < first.n; ++n)
    for (size_t i = 0; i < in.size(); ++i) {
      const Shape& s = shapes[i];
      const int64_t chunk = s.c / groups, plane = s.h * s.w;
      auto begin = in[i].begin() + (n * s.c + chunk * group_id) * plane;
      out.insert(out.end(), begin, begin + chunk * plane);
    }
  return out;
}

Values activated(Values v, Activation act) {
  for (double& x : v) x = cspnet::activate(act, x);
  return v;
}

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

TEST(AvgPoolGradient, GlobalAverage) {
  for (int batch : {1, 3}) {
    const std::string cfg = net(batch, 4, 5, 3) + "[avgpool]\n";
    const Shape s{batch, 4, 5, 3};
    EXPECT_TRUE(check_layer_gradients(GradientCase{cfg, 0, 2}, [&](const RefInputs& in, const RefParams&) {
      return global_average(in[0], s);
    })) << "batch " << batch;
  }
}

// ---- route ---------------------------------------------------------------------

TEST(RouteGradient, ConcatenatesThreeInputs) {
  for (int batch : {1, 3}) {
    // Layers 0..2 have 3, 2 and 5 channels; the route reads 2, 0, 1.
    const std::string cfg = net(batch, 2, 4, 3) + conv(3) + conv(2) + conv(5) + "[route]\nlayers=-1,-3,-2\n";
    const std::vector<Shape> shapes{{batch, 5, 4, 3}, {batch, 3, 4, 3}, {batch, 2, 4, 3}};
    EXPECT_TRUE(check_layer_gradients(GradientCase{cfg, 3, 4}, [&](const RefInputs& in, const RefParams&) {
      return route(in, shapes, 1, 0);
    })) << "batch " << batch;
  }
}

TEST(RouteGradient, GroupSplitGivesZeroOutsideTheChunk) {
  for (int group_id : {0, 1}) {
    const std::string cfg = net(3, 2, 3, 4) + conv(6) + "[route]\nlayers=-1\ngroups=2\ngroup_id=" +
                            std::to_string(group_id) + "\n";
    const std::vector<Shape> shapes{{3, 6, 3, 4}};
    EXPECT_TRUE(check_layer_gradients(GradientCase{cfg, 1, 6}, [&](const RefInputs& in, const RefParams&) {
      return route(in, shapes, 2, group_id);
    })) << "group_id " << group_id;
  }
}

TEST(RouteGradient, GroupsOfSeveralInputs) {
  const std::string cfg = net(1, 2, 3, 4) + conv(6) + conv(4) + "[route]\nlayers=-2,-1\ngroups=2\ngroup_id=1\n";
  const std::vector<Shape> shapes{{1, 6, 3, 4}, {1, 4, 3, 4}};
  EXPECT_TRUE(check_layer_gradients(GradientCase{cfg, 2, 7}, [&](const RefInputs& in, const RefParams&) {
    return route(in, shapes, 2, 1);
  }));
}

TEST(RouteGradient, SameInputTwiceSumsBothGradients) {
  const std::string cfg = net(3, 2, 3, 3) + conv(4) + "[route]\nlayers=-1,-1\n";
  const std::vector<Shape> shapes{{3, 4, 3, 3}, {3, 4, 3, 3}};
  auto concat = [&](const RefInputs& in, const RefParams&) { return route(in, shapes, 1, 0); };
  EXPECT_TRUE(check_layer_gradients(GradientCase{cfg, 1, 8}, concat));
  EXPECT_TRUE(check_read_twice(cfg, 1, concat));
  const std::string grouped = net(1, 2, 3, 3) + conv(4) + "[route]\nlayers=-1,-1\ngroups=2\ngroup_id=1\n";
  const std::vector<Shape> grouped_shapes{{1, 4, 3, 3}, {1, 4, 3, 3}};
  auto split = [&](const RefInputs& in, const RefParams&) { return route(in, grouped_shapes, 2, 1); };
  EXPECT_TRUE(check_layer_gradients(GradientCase{grouped, 1, 9}, split));
  // The first slot writes zeros outside its chunk; the second must add.
  EXPECT_TRUE(check_read_twice(grouped, 1, split));
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

// ---- upsample, softmax, cost ------------------------------------------------

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

TEST(CostGradient, IsTheIdentity) {
  EXPECT_TRUE(check_layer_gradients(GradientCase{net(3, 4, 1, 1) + "[cost]\ntype=sse\n", 0, 2},
                                    [](const RefInputs& in, const RefParams&) { return in[0]; }));
}

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

TEST(ShortcutGradient, SameInputTwiceIsTwiceTheInput) {
  const std::string cfg = net(3, 2, 4, 3) + conv(3) + "[shortcut]\nfrom=-1\nactivation=logistic\nalpha=0.5\n";
  const std::vector<Shape> shapes{{3, 3, 4, 3}, {3, 3, 4, 3}};
  EXPECT_TRUE(check_read_twice(cfg, 1, [&](const RefInputs& in, const RefParams&) {
    return shortcut(in, shapes, 0.5, 1, Activation::logistic);
  }));
}

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

// ---- dropout -------------------------------------------------------------------

// One dropout layer's training kernel on fixed buffers (input all ones
// unless set), driven directly: its mask depends on the step seed, which the
// finite-difference harness does not vary.
struct DropoutRun {
  cspnet::Network net;
  int layer;
  std::vector<float> x, y, dy, dx;
  bool accumulate = false;
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::unique_ptr<cspnet::TrainKernel> kernel;

  DropoutRun(const std::string& cfg, int layer_index, bool accumulate_grad = false)
      : net(cspnet::Network::from_cfg(cspnet::parse_cfg_text(cfg, "dropout.cfg"))), layer(layer_index),
        accumulate(accumulate_grad) {
    net.reshape(net.config().width, net.config().height, net.config().batch);
    const Shape shape = net.layer(layer).output_shape();
    const auto count = static_cast<size_t>(shape.count());
    x.assign(count, 1.f);
    y.assign(count, 0.f);
    dx.assign(count, 0.f);
    dy.resize(count);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> uniform(-1.f, 1.f);
    for (float& v : dy) v = uniform(rng);
    cspnet::TrainCompileContext ctx{engine,
                                    {cspnet::TrainTensor{x.data(), shape}},
                                    cspnet::TrainTensor{y.data(), shape},
                                    {cspnet::TrainTensor{dx.data(), shape}},
                                    {accumulate},
                                    cspnet::TrainTensor{dy.data(), shape}};
    kernel = cspnet::compile_training_kernel(net.layer(layer), ctx);
  }
  std::vector<float> forward(uint64_t seed, bool training = true) {
    kernel->forward(stream, cspnet::StepContext{training, seed});
    return y;
  }
  std::vector<float> backward() {
    kernel->backward(stream);
    return dx;
  }
};

const std::string kDropoutCfg = net(3, 8, 16, 16) + "[dropout]\nprobability=0.3\n\n[dropout]\nprobability=0.3\n";

TEST(DropoutTraining, KeepsWithProbabilityOneMinusPAndScalesTheKept) {
  DropoutRun run(kDropoutCfg, 0);
  const std::vector<float> y = run.forward(42);
  int64_t dropped = 0;
  double sum = 0;
  for (float v : y) {
    if (v == 0.f)
      ++dropped;
    else
      ASSERT_FLOAT_EQ(v, 1.f / 0.7f);
    sum += v;
  }
  // 6144 draws: the dropped fraction's standard deviation is about 0.006.
  EXPECT_NEAR(double(dropped) / double(y.size()), 0.3, 0.03);
  EXPECT_NEAR(sum / double(y.size()), 1.0, 0.05) << "kept values are scaled so that the mean is unchanged";
}

TEST(DropoutTraining, MaskDependsOnlyOnSeedAndLayer) {
  DropoutRun first(kDropoutCfg, 0), again(kDropoutCfg, 0), second_layer(kDropoutCfg, 1);
  const std::vector<float> a = first.forward(42);
  EXPECT_EQ(a, again.forward(42)) << "same seed, same mask";
  EXPECT_EQ(a, first.forward(42)) << "the kernel keeps no hidden generator state";
  EXPECT_NE(a, first.forward(43)) << "another step seed, another mask";
  EXPECT_NE(a, second_layer.forward(42)) << "another layer, another mask at the same step";
}

TEST(DropoutTraining, GradientIsTheMaskScaling) {
  for (bool accumulate : {false, true}) {
    DropoutRun run(kDropoutCfg, 0, accumulate);
    std::fill(run.dx.begin(), run.dx.end(), 0.5f);
    const std::vector<float> y = run.forward(9);  // x = 1, so y is the mask's factor
    const std::vector<float> dx = run.backward();
    for (size_t i = 0; i < dx.size(); ++i)
      ASSERT_FLOAT_EQ(dx[i], run.dy[i] * y[i] + (accumulate ? 0.5f : 0.f)) << i;
  }
}

TEST(DropoutTraining, IdentityOutsideTraining) {
  DropoutRun run(kDropoutCfg, 0);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  for (float& v : run.x) v = uniform(rng);
  EXPECT_EQ(run.forward(42, false), run.x);
  EXPECT_EQ(run.backward(), run.dy);
}

}  // namespace
