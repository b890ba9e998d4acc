// [convolutional]: forward against a naive reference. Backward:
// Training kernels of [convolutional] and [connected] against double
// references (batch statistics for batch norm in training mode) through the
// gradient check; running statistics; the inference-mode forward against the
// inference engine.
#include <gtest/gtest.h>

#include "layer_reference.hpp"

namespace {
namespace forward {

using namespace cspnet::tests::layer_reference;

TEST(LayerReference, ConvolutionMatchesNaiveReferenceForEveryActivation) {
  ExecOptions plain = unoptimised();
  for (Activation act : kAllActivations)
    for (bool bn : {false, true})
      for (const ExecOptions& options : {ExecOptions{}, plain}) {
        SCOPED_TRACE(std::string(cspnet::activation_name(act)) + (bn ? " with BN" : " without BN"));
        NetSpec spec{7, 5, 3, 2, {conv({.filters = 5, .size = 3, .pad = Pad::flag, .bn = bn, .act = act})}};
        check_layers(spec, -6, 6, options);
      }
  // The test above means something only if the pre-activations reach the
  // interesting regions (relu6's clip, hard_mish's zero, elu's tail).
  for (bool bn : {false, true}) {
    NetSpec spec{7, 5, 3, 2, {conv({.filters = 5, .size = 3, .pad = Pad::flag, .bn = bn, .act = Activation::linear})}};
    Checked linear = check_layers(spec, -6, 6);
    const auto& v = linear.outputs[0].values();
    EXPECT_GT(*std::max_element(v.begin(), v.end()), 6.5f);
    EXPECT_LT(*std::min_element(v.begin(), v.end()), -2.5f);
  }
}

TEST(LayerReference, ConvolutionWithoutActivationKeyMatchesLogisticReference) {
  NetSpec spec{6, 5, 2, 1, {conv({.filters = 3, .size = 3, .pad = Pad::flag, .omit_activation = true}),
                            conv({.filters = 2, .size = 1, .pad = Pad::none, .bn = true, .omit_activation = true})}};
  for (const ExecOptions& options : {ExecOptions{}, unoptimised()}) check_layers(spec, -3, 3, options);
}

TEST(LayerReference, ConvolutionMatchesNaiveReferenceWithGroupsAndDilation) {
  struct Case {
    int c, w, h, batch;
    ConvArgs args;
  };
  const Case cases[] = {
      {4, 9, 7, 2, {.filters = 6, .size = 3, .pad = Pad::flag, .groups = 2, .bn = true, .act = Activation::leaky}},
      {6, 11, 9, 2, {.filters = 6, .size = 3, .stride_x = 2, .stride_y = 2, .pad = Pad::flag, .groups = 6,
                     .bn = true, .act = Activation::mish}},  // depthwise
      {3, 7, 8, 1, {.filters = 6, .size = 3, .pad = Pad::flag, .groups = 3, .act = Activation::relu}},  // multiplier 2
      // depthwise 5x5
      {5, 9, 9, 3, {.filters = 5, .size = 5, .pad = Pad::flag, .groups = 5, .act = Activation::swish}},
      {4, 9, 7, 2, {.filters = 6, .size = 3, .pad = Pad::flag, .dilation = 2, .groups = 2, .act = Activation::leaky}},
      {3, 11, 10, 2, {.filters = 4, .size = 3, .stride_x = 2, .stride_y = 2, .pad = Pad::explicit_value,
                      .padding = 2, .dilation = 3, .bn = true, .act = Activation::linear}},
      {6, 10, 7, 2, {.filters = 9, .size = 3, .stride_x = 1, .stride_y = 2, .pad = Pad::explicit_value,
                     .padding = 3, .dilation = 2, .groups = 3, .act = Activation::tanh}},
      {4, 9, 9, 1, {.filters = 4, .size = 3, .pad = Pad::none, .dilation = 2, .groups = 4, .act = Activation::linear}},
  };
  for (const Case& c : cases)
    for (const ExecOptions& options : {ExecOptions{}, unoptimised()}) {
      NetSpec spec{c.w, c.h, c.c, c.batch, {conv(c.args)}};
      check_layers(spec, -2, 2, options);
    }
}

TEST(LayerReference, ConvolutionMatchesNaiveReferenceWithStridesAndPadding) {
  struct Case {
    int c, w, h, batch;
    ConvArgs args;
  };
  const Case cases[] = {
      {3, 9, 7, 2, {.filters = 4, .size = 3, .stride_x = 2, .stride_y = 1, .pad = Pad::flag, .act = Activation::leaky}},
      {3, 8, 11, 2, {.filters = 4, .size = 3, .stride_x = 1, .stride_y = 3, .pad = Pad::flag, .bn = true,
                     .act = Activation::leaky}},
      {2, 13, 9, 1, {.filters = 3, .size = 5, .stride_x = 3, .stride_y = 2, .pad = Pad::explicit_value,
                     .padding = 1, .act = Activation::linear}},
      // Trailing rows/columns the windows never reach (oneDNN: negative right padding).
      {3, 8, 8, 2, {.filters = 4, .size = 3, .stride_x = 2, .stride_y = 2, .pad = Pad::none}},
      {3, 10, 7, 2, {.filters = 5, .size = 1, .stride_x = 2, .stride_y = 2, .pad = Pad::none, .bn = true,
                     .act = Activation::leaky}},
      {2, 9, 6, 1, {.filters = 3, .size = 4, .stride_x = 3, .stride_y = 3, .pad = Pad::flag}},  // even size
      // Explicit padding larger than size/2, and padding= winning over pad=1.
      {3, 7, 5, 2, {.filters = 4, .size = 3, .pad = Pad::explicit_value, .padding = 3, .act = Activation::linear}},
      {3, 7, 6, 2, {.filters = 4, .size = 5, .pad = Pad::flag_and_explicit, .padding = 1, .act = Activation::linear}},
      {3, 7, 6, 1, {.filters = 4, .size = 3, .pad = Pad::flag_and_explicit, .padding = 0, .bn = true,
                    .act = Activation::relu6}},
      {1, 5, 5, 3, {.filters = 2, .size = 2, .pad = Pad::flag, .act = Activation::linear}},  // even size, pad=1 -> 1
      {3, 6, 4, 2, {.filters = 4, .size = 1, .pad = Pad::flag, .act = Activation::linear}},  // size 1, pad=1 -> 0
  };
  for (const Case& c : cases)
    for (const ExecOptions& options : {ExecOptions{}, unoptimised()}) {
      NetSpec spec{c.w, c.h, c.c, c.batch, {conv(c.args)}};
      check_layers(spec, -2, 2, options);
    }
}

TEST(LayerReference, ConvolutionMatchesNaiveReferenceOnRandomShapes) {
  std::mt19937 rng(kSeed);
  auto pick = [&rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 40; ++trial) {
    ConvArgs a;
    int c = pick(1, 6);
    std::vector<int> divisors;
    for (int g = 1; g <= c; ++g)
      if (c % g == 0) divisors.push_back(g);
    a.groups = divisors[size_t(pick(0, int(divisors.size()) - 1))];
    a.filters = a.groups * pick(1, 3);
    a.size = pick(1, 5);
    a.dilation = a.size > 1 ? pick(1, 3) : 1;
    a.stride_x = pick(1, 3);
    a.stride_y = pick(1, 3);
    a.pad = Pad(pick(0, 3));
    a.padding = pick(0, a.size + 1);
    a.bn = pick(0, 1) == 1;
    a.act = kAllActivations[pick(0, 11)];
    const int extent = (a.size - 1) * a.dilation + 1, pad = a.effective_padding();
    const int w = std::max(pick(1, 13), extent - 2 * pad), h = std::max(pick(1, 13), extent - 2 * pad);
    SCOPED_TRACE("random case " + std::to_string(trial));
    check_layers(NetSpec{w, h, c, pick(1, 3), {conv(a)}}, -2, 2, trial % 2 ? unoptimised() : ExecOptions{});
  }
}

TEST(LayerReference, ParametersComeInDarknetOrder) {
  NetSpec spec{5, 4, 3, 1,
               {conv({.filters = 4, .size = 3, .pad = Pad::flag, .groups = 1, .bn = true}),
                conv({.filters = 2, .size = 3, .pad = Pad::flag, .groups = 2}),
                connected(6, false, Activation::linear), connected(3, true, Activation::linear)}};
  Network net = build(spec);
  using Names = std::vector<std::string>;
  Params p0 = params_of(net.layer(0)), p1 = params_of(net.layer(1)), p2 = params_of(net.layer(2)),
         p3 = params_of(net.layer(3));
  EXPECT_EQ(p0.order, (Names{"biases", "scales", "rolling_mean", "rolling_variance", "weights"}));
  EXPECT_EQ(p0["weights"].size(), size_t(4 * 3 * 3 * 3));
  EXPECT_EQ(p1.order, (Names{"biases", "weights"}));
  EXPECT_EQ(p1["weights"].size(), size_t(2 * 2 * 3 * 3));  // [filters][c/groups][k][k]
  EXPECT_EQ(p2.order, (Names{"biases", "weights"}));
  EXPECT_EQ(p2["weights"].size(), size_t(6 * 2 * 4 * 5));
  EXPECT_EQ(p3.order, (Names{"biases", "weights", "scales", "rolling_mean", "rolling_variance"}));
  EXPECT_EQ(p3["weights"].size(), size_t(3 * 6));
}

}  // namespace forward
}  // namespace

namespace {

using cspnet::Activation;
using cspnet::tests::check_layer_gradients;
using cspnet::tests::GradientCase;
using cspnet::tests::RefInputs;
using cspnet::tests::RefParams;

constexpr double kEpsilon = 0.00001;  // darknet's batch-norm epsilon

struct NetSize {
  int width = 7, height = 6, channels = 4, batch = 3;
};

std::string net_section(const NetSize& s) {
  std::ostringstream text;
  text << "[net]\nwidth=" << s.width << "\nheight=" << s.height << "\nchannels=" << s.channels
       << "\nbatch=" << s.batch << "\n\n";
  return text.str();
}

struct ConvSpec {
  int filters = 4, size = 3, stride_x = 1, stride_y = 1, padding = 1, dilation = 1, groups = 1;
  bool bn = false;
  Activation act = Activation::leaky;

  std::string section() const {
    std::ostringstream text;
    text << "[convolutional]\nfilters=" << filters << "\nsize=" << size << "\nstride_x=" << stride_x
         << "\nstride_y=" << stride_y << "\npadding=" << padding << "\ndilation=" << dilation
         << "\ngroups=" << groups << "\nbatch_normalize=" << (bn ? 1 : 0)
         << "\nactivation=" << cspnet::activation_name(act) << "\n";
    return text.str();
  }
};

// Training-mode batch norm over `groups` channels of `count / groups / per`
// ... values: x is laid out [n][channel][per]; statistics per channel over n
// and per (biased variance, as in training).
void batch_norm_training(std::vector<double>& x, int64_t n, int64_t channels, int64_t per, const RefParams& p) {
  const auto& scales = p.at("scales");
  const auto& shifts = p.at("biases");
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0, squares = 0;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t i = 0; i < per; ++i) sum += x[size_t((b * channels + c) * per + i)];
    const double m = double(n * per), mean = sum / m;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t i = 0; i < per; ++i) {
        double dx = x[size_t((b * channels + c) * per + i)] - mean;
        squares += dx * dx;
      }
    const double inv_std = 1.0 / std::sqrt(squares / m + kEpsilon);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t i = 0; i < per; ++i) {
        double& v = x[size_t((b * channels + c) * per + i)];
        v = (v - mean) * inv_std * scales[size_t(c)] + shifts[size_t(c)];
      }
  }
}

struct ConvGeometry {
  int64_t n, c, h, w, oh, ow;
};

ConvGeometry conv_geometry(const NetSize& s, const ConvSpec& a) {
  const int64_t extent = int64_t(a.size - 1) * a.dilation + 1;
  return {s.batch, s.channels, s.height, s.width, (s.height + 2 * a.padding - extent) / a.stride_y + 1,
          (s.width + 2 * a.padding - extent) / a.stride_x + 1};
}

// The convolution (darknet's window arithmetic), then batch norm with batch
// statistics or the bias, then the activation.
std::vector<double> ref_conv(const NetSize& s, const ConvSpec& a, const RefInputs& in, const RefParams& p,
                             bool running_statistics = false) {
  const ConvGeometry g = conv_geometry(s, a);
  const int64_t F = a.filters, Cg = g.c / a.groups, Fg = F / a.groups, k = a.size;
  const auto& x = in.at(0);
  const auto& w = p.at("weights");
  std::vector<double> z(size_t(g.n * F * g.oh * g.ow), 0.0);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t f = 0; f < F; ++f) {
      const int64_t group = f / Fg;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          double sum = 0;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t ky = 0; ky < k; ++ky) {
              const int64_t iy = oy * a.stride_y - a.padding + ky * a.dilation;
              if (iy < 0 || iy >= g.h) continue;
              for (int64_t kx = 0; kx < k; ++kx) {
                const int64_t ix = ox * a.stride_x - a.padding + kx * a.dilation;
                if (ix < 0 || ix >= g.w) continue;
                sum += x[size_t(((n * g.c + group * Cg + c) * g.h + iy) * g.w + ix)] *
                       w[size_t(((f * Cg + c) * k + ky) * k + kx)];
              }
            }
          z[size_t(((n * F + f) * g.oh + oy) * g.ow + ox)] = sum;
        }
    }
  const int64_t plane = g.oh * g.ow;
  if (a.bn && !running_statistics) {
    batch_norm_training(z, g.n, F, plane, p);
  } else {
    for (size_t i = 0; i < z.size(); ++i) {
      const size_t f = size_t(int64_t(i) / plane % F);
      z[i] = a.bn ? (z[i] - p.at("rolling_mean")[f]) / std::sqrt(p.at("rolling_variance")[f] + kEpsilon) *
                            p.at("scales")[f] +
                        p.at("biases")[f]
                  : z[i] + p.at("biases")[f];
    }
  }
  for (double& v : z) v = cspnet::activate(a.act, v);
  return z;
}

::testing::AssertionResult check_conv(const NetSize& s, const ConvSpec& a, uint64_t seed = 1) {
  GradientCase c{net_section(s) + a.section(), -1, seed};
  return check_layer_gradients(
      c, [&](const RefInputs& in, const RefParams& p) { return ref_conv(s, a, in, p); });
}

// [connected]: weights [outputs][inputs] over the flattened C*H*W input;
// batch norm per output over the batch.
std::vector<double> ref_connected(const NetSize& s, int outputs, bool bn, Activation act, const RefInputs& in,
                                  const RefParams& p) {
  const int64_t inputs = int64_t{s.channels} * s.height * s.width;
  const auto& x = in.at(0);
  const auto& w = p.at("weights");
  std::vector<double> z(size_t(s.batch) * size_t(outputs), 0.0);
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t o = 0; o < outputs; ++o) {
      double sum = 0;
      for (int64_t i = 0; i < inputs; ++i) sum += w[size_t(o * inputs + i)] * x[size_t(n * inputs + i)];
      z[size_t(n * outputs + o)] = bn ? sum : sum + p.at("biases")[size_t(o)];
    }
  if (bn) batch_norm_training(z, s.batch, outputs, 1, p);
  for (double& v : z) v = cspnet::activate(act, v);
  return z;
}

std::string connected_section(int outputs, bool bn, Activation act) {
  return "[connected]\noutput=" + std::to_string(outputs) + "\nbatch_normalize=" + (bn ? "1" : "0") +
         "\nactivation=" + cspnet::activation_name(act) + "\n";
}

::testing::AssertionResult check_connected(const NetSize& s, int outputs, bool bn, Activation act) {
  GradientCase c{net_section(s) + connected_section(outputs, bn, act), -1, 3};
  return check_layer_gradients(
      c, [&](const RefInputs& in, const RefParams& p) { return ref_connected(s, outputs, bn, act, in, p); });
}

// A one-layer network at its [net] batch with the layer's training kernel
// compiled on random inputs in [-1, 1].
struct SingleLayer {
  cspnet::Network net;
  std::vector<float> input, output, output_grad, input_grad;
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::unique_ptr<cspnet::TrainKernel> kernel;

  SingleLayer(const std::string& cfg, uint64_t seed)
      : net(cspnet::Network::from_cfg(cspnet::parse_cfg_text(cfg, "single_layer.cfg"))) {
    net.reshape(net.config().width, net.config().height, net.config().batch);
    cspnet::init_weights(net, seed);
    const cspnet::Shape in = net.input_shape(), out = layer().output_shape();
    std::mt19937_64 rng(seed + 1);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    input.resize(size_t(in.count()));
    for (float& v : input) v = dist(rng);
    output.resize(size_t(out.count()));
    output_grad.resize(size_t(out.count()));
    input_grad.resize(size_t(in.count()));
    kernel = cspnet::compile_training_kernel(layer(), {engine,
                                       {{input.data(), in}},
                                       {output.data(), out},
                                       {{input_grad.data(), in}},
                                       {false},
                                       {output_grad.data(), out}});
  }
  cspnet::Layer& layer() { return net.layer(net.size() - 1); }
  RefParams params() {
    RefParams p;
    for (const auto& blob : layer().darknet_params()) p[blob.name] = {blob.values->begin(), blob.values->end()};
    return p;
  }
  void forward(bool training) {
    kernel->forward(stream, {training, 1});
    stream.wait();
  }
};

// Running statistics after one training forward whose pre-normalisation
// values are `z` ([batch][channels][plane]): mean and unbiased variance
// folded in with momentum 0.99.
void expect_running_statistics(const std::vector<double>& z, int64_t batch, int64_t channels, int64_t plane,
                               const RefParams& before, const RefParams& after) {
  const double m = double(batch * plane);
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0, squares = 0;
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t i = 0; i < plane; ++i) sum += z[size_t((n * channels + c) * plane + i)];
    const double mean = sum / m;
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t i = 0; i < plane; ++i) squares += std::pow(z[size_t((n * channels + c) * plane + i)] - mean, 2);
    const double unbiased = squares / (m - 1);
    const size_t k = size_t(c);
    EXPECT_NEAR(after.at("rolling_mean")[k], 0.99 * before.at("rolling_mean")[k] + 0.01 * mean, 1e-6) << "channel " << c;
    EXPECT_NEAR(after.at("rolling_variance")[k], 0.99 * before.at("rolling_variance")[k] + 0.01 * unbiased, 1e-6)
        << "channel " << c;
  }
}

// max |a - b| <= tolerance * max(1, max |b|)
::testing::AssertionResult same_values(const std::vector<float>& a, const std::vector<float>& b, double tolerance) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << a.size() << " values vs " << b.size();
  double scale = 1, worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::abs(double(b[i])));
    worst = std::max(worst, std::abs(double(a[i]) - double(b[i])));
  }
  if (worst <= tolerance * scale) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "max difference " << worst << " > " << tolerance * scale;
}

}  // namespace

const Activation kActivations[] = {Activation::linear, Activation::logistic, Activation::leaky, Activation::relu,
                                   Activation::mish,   Activation::swish,    Activation::tanh,  Activation::elu};

TEST(ConvolutionGradients, ConvolutionWithBiasMatchesFiniteDifferencesForEachActivation) {
  for (Activation act : kActivations) {
    ConvSpec a;
    a.act = act;
    EXPECT_TRUE(check_conv({}, a)) << cspnet::activation_name(act);
  }
}

TEST(ConvolutionGradients, BatchNormWithBatchStatisticsMatchesFiniteDifferencesForEachActivation) {
  for (Activation act : kActivations) {
    ConvSpec a;
    a.bn = true;
    a.act = act;
    EXPECT_TRUE(check_conv({}, a)) << cspnet::activation_name(act);
  }
}

TEST(ConvolutionGradients, GroupedConvolutionMatchesFiniteDifferences) {
  ConvSpec a;
  a.groups = 2;
  a.filters = 6;
  EXPECT_TRUE(check_conv({}, a));
  a.bn = true;
  EXPECT_TRUE(check_conv({}, a));
}

TEST(ConvolutionGradients, DepthwiseConvolutionMatchesFiniteDifferences) {
  ConvSpec a;
  a.groups = 4;
  a.filters = 4;
  a.bn = true;
  EXPECT_TRUE(check_conv({}, a));
  a.filters = 8;  // two filters per channel
  a.bn = false;
  EXPECT_TRUE(check_conv({}, a));
}

TEST(ConvolutionGradients, DilatedConvolutionMatchesFiniteDifferences) {
  ConvSpec a;
  a.dilation = 2;
  a.padding = 2;
  EXPECT_TRUE(check_conv({9, 8, 3, 2}, a));
}

TEST(ConvolutionGradients, StridedConvolutionMatchesFiniteDifferences) {
  ConvSpec a;
  a.stride_x = a.stride_y = 2;
  a.bn = true;
  EXPECT_TRUE(check_conv({8, 9, 3, 2}, a));
}

TEST(ConvolutionGradients, UnequalStridesMatchFiniteDifferences) {
  ConvSpec a;
  a.stride_x = 2;
  a.stride_y = 1;
  EXPECT_TRUE(check_conv({}, a));
  a.stride_x = 1;
  a.stride_y = 3;
  EXPECT_TRUE(check_conv({}, a));
}

TEST(ConvolutionGradients, PointwiseConvolutionMatchesFiniteDifferences) {
  ConvSpec a;
  a.size = 1;
  a.padding = 0;
  a.filters = 5;
  a.bn = true;
  EXPECT_TRUE(check_conv({}, a));
}

TEST(ConvolutionGradients, OddSizesWithUnreadTrailingCellsMatchFiniteDifferences) {
  // 8 wide, 3x3 stride 2 without padding: column 7 is never read (oneDNN's
  // right padding is negative); 5x5 kernels with padding 2 on 7x5 inputs.
  ConvSpec a;
  a.stride_x = a.stride_y = 2;
  a.padding = 0;
  a.filters = 3;
  EXPECT_TRUE(check_conv({8, 7, 3, 2}, a));
  ConvSpec b;
  b.size = 5;
  b.padding = 2;
  b.filters = 3;
  b.bn = true;
  EXPECT_TRUE(check_conv({7, 5, 5, 2}, b));
}

TEST(ConvolutionGradients, SingleImageBatchMatchesFiniteDifferences) {
  ConvSpec a;
  EXPECT_TRUE(check_conv({7, 6, 4, 1}, a));
  a.bn = true;  // statistics over the 6x7 plane
  EXPECT_TRUE(check_conv({7, 6, 4, 1}, a));
}

TEST(ConvolutionGradients, WideLayerMatchesFiniteDifferences) {
  // Enough channels for oneDNN's blocked JIT kernels.
  ConvSpec a;
  a.filters = 16;
  a.bn = true;
  EXPECT_TRUE(check_conv({6, 5, 16, 2}, a));
}

TEST(ConvolutionGradients, FewInputChannelsIntoSixteenFiltersMatchFiniteDifferences) {
  // In a network at batch 16, oneDNN's own layout choice for 8 -> 16 channels
  // (plain source, blocked output) has only a reference backward, so the
  // kernel retries with uniform layouts (csppeleenet-small's stem: 5.1 s ->
  // 0.1 s per step). Whichever layouts win, the gradients must hold.
  ConvSpec a;
  a.filters = 16;
  a.stride_x = a.stride_y = 2;
  a.bn = true;
  EXPECT_TRUE(check_conv({12, 10, 8, 16}, a));
  a.bn = false;
  a.stride_x = a.stride_y = 1;
  EXPECT_TRUE(check_conv({9, 8, 8, 16}, a));
}

TEST(ConnectedGradients, ConnectedWithBiasMatchesFiniteDifferences) {
  for (Activation act : {Activation::linear, Activation::leaky, Activation::logistic})
    EXPECT_TRUE(check_connected({3, 2, 4, 3}, 5, false, act)) << cspnet::activation_name(act);
}

TEST(ConnectedGradients, ConnectedWithBatchNormMatchesFiniteDifferences) {
  for (Activation act : {Activation::linear, Activation::leaky, Activation::mish})
    EXPECT_TRUE(check_connected({3, 2, 4, 3}, 5, true, act)) << cspnet::activation_name(act);
}

TEST(BatchNormTraining, ConvolutionRunningStatisticsFollowMomentumWithUnbiasedVariance) {
  const NetSize size{7, 6, 4, 3};
  ConvSpec spec;
  spec.bn = true;
  SingleLayer run(net_section(size) + spec.section(), 11);
  const RefParams before = run.params();
  run.forward(true);
  // The convolution alone: no BN, zero bias, linear.
  ConvSpec plain = spec;
  plain.bn = false;
  plain.act = Activation::linear;
  RefParams no_bias = before;
  std::fill(no_bias["biases"].begin(), no_bias["biases"].end(), 0.0);
  const std::vector<double> z = ref_conv(size, plain, {{run.input.begin(), run.input.end()}}, no_bias);
  const ConvGeometry g = conv_geometry(size, spec);
  expect_running_statistics(z, size.batch, spec.filters, g.oh * g.ow, before, run.params());
}

TEST(BatchNormTraining, ConnectedRunningStatisticsFollowMomentumWithUnbiasedVariance) {
  const NetSize size{3, 2, 4, 5};
  SingleLayer run(net_section(size) + connected_section(6, true, Activation::leaky), 12);
  const RefParams before = run.params();
  run.forward(true);
  RefParams no_bias = before;
  std::fill(no_bias["biases"].begin(), no_bias["biases"].end(), 0.0);
  const std::vector<double> z =
      ref_connected(size, 6, false, Activation::linear, {{run.input.begin(), run.input.end()}}, no_bias);
  expect_running_statistics(z, size.batch, 6, 1, before, run.params());
}

TEST(BatchNormTraining, InferenceModeForwardMatchesTheInferenceEngineAndKeepsStatistics) {
  const NetSize size{9, 8, 16, 2};
  ConvSpec conv;
  conv.filters = 16;
  conv.bn = true;
  conv.act = Activation::mish;
  for (const std::string& layer : {conv.section(), connected_section(7, true, Activation::leaky)}) {
    SCOPED_TRACE(layer);
    SingleLayer run(net_section(size) + layer, 13);
    const RefParams before = run.params();
    run.forward(false);
    EXPECT_EQ(run.params(), before) << "inference forward changed the running statistics";
    cspnet::Tensor input(run.net.input_shape());
    std::copy(run.input.begin(), run.input.end(), input.values().begin());
    cspnet::Executor executor(run.net);
    EXPECT_TRUE(same_values(run.output, executor.forward(input).at(0).values(), 1e-5));
  }
}
