// Training kernels of [convolutional] and [connected] against double
// references (batch statistics for batch norm in training mode) through the
// gradient check; running statistics; the inference-mode forward against the
// inference engine.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "cspnet/cspnet.hpp"
#include "gradient_check.hpp"

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

}  // namespace

TEST(ConvolutionGradients, PlainConvolutionWithBiasMatchesFiniteDifferences) {
  EXPECT_TRUE(check_conv({}, {}));
}
