// Shared helpers of the per-layer tests (tests/unit/layers/test_<kind>.cpp):
// naive references written from darknet's semantics (../shared/darknet-notes.md),
// plain loops with double accumulation; networks built from cfg text with random
// parameters; each layer's reference computed from the engine's own outputs of
// that layer's inputs (layer-local), so a failure names the layer that is wrong.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "backends/onednn/kernel.hpp"  // the kernels under test
#include "cspnet/cspnet.hpp"
#include "unit/gradient_check.hpp"

namespace cspnet::tests::layer_reference {
using cspnet::Activation;
using cspnet::ExecOptions;
using cspnet::Executor;
using cspnet::Layer;
using cspnet::Network;
using cspnet::Shape;
using cspnet::Tensor;

inline constexpr uint64_t kSeed = 0x5eed2024;
inline constexpr double kTolerance = 1e-4;        // float32 engine vs double reference, relative to max(1, max|ref|)
inline constexpr double kSwitchTolerance = 1e-5;  // one engine path vs another

inline const Activation kAllActivations[] = {Activation::linear, Activation::logistic, Activation::relu,
                                      Activation::relu6,  Activation::leaky,    Activation::tanh,
                                      Activation::elu,    Activation::selu,     Activation::mish,
                                      Activation::swish,  Activation::hard_mish, Activation::gelu};

// ---------------------------------------------------------------------------
// Reference tensors (double, dense NCHW)

struct Ref {
  Shape shape{};
  std::vector<double> v;
  Ref() = default;
  explicit Ref(Shape s) : shape(s), v(static_cast<size_t>(s.count()), 0.0) {}
  size_t index(int64_t n, int64_t c, int64_t y, int64_t x) const {
    return static_cast<size_t>(((n * shape.c + c) * shape.h + y) * shape.w + x);
  }
  double& at(int64_t n, int64_t c, int64_t y, int64_t x) { return v[index(n, c, y, x)]; }
  double at(int64_t n, int64_t c, int64_t y, int64_t x) const { return v[index(n, c, y, x)]; }
};

inline Ref to_ref(const Tensor& t) {
  Ref r(t.shape());
  for (size_t i = 0; i < r.v.size(); ++i) r.v[i] = t.values()[i];
  return r;
}

inline std::string shape_text(const Shape& s) { return std::to_string(s.n) + "x" + s.str(); }

inline ::testing::AssertionResult matches(const Tensor& ours, const Ref& ref, double tolerance = kTolerance) {
  if (!(ours.shape() == ref.shape))
    return ::testing::AssertionFailure() << "shape " << shape_text(ours.shape()) << ", reference "
                                         << shape_text(ref.shape);
  double scale = 1, worst = 0;
  size_t worst_at = 0;
  for (size_t i = 0; i < ref.v.size(); ++i) {
    scale = std::max(scale, std::abs(ref.v[i]));
    double d = std::abs(double(ours.values()[i]) - ref.v[i]);
    if (!(d <= worst)) {  // also catches NaN
      worst = std::isnan(d) ? std::numeric_limits<double>::infinity() : d;
      worst_at = i;
    }
  }
  if (worst <= tolerance * scale) return ::testing::AssertionSuccess();
  const Shape& s = ref.shape;
  size_t i = worst_at;
  int64_t x = int64_t(i) % s.w, y = int64_t(i) / s.w % s.h, c = int64_t(i) / (s.w * s.h) % s.c,
          n = int64_t(i) / s.per_image();
  return ::testing::AssertionFailure() << "max |ours - ref| = " << worst << " > " << tolerance * scale << " at (n=" << n
                                       << ", c=" << c << ", y=" << y << ", x=" << x
                                       << "): ours " << ours.values()[i] << ", reference " << ref.v[i];
}

inline ::testing::AssertionResult same_tensor(const Tensor& a, const Tensor& b, double tolerance) {
  return matches(a, to_ref(b), tolerance);
}

inline Tensor random_tensor(const Shape& shape, uint64_t seed, float lo, float hi) {
  Tensor t(shape);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (auto& v : t.values()) v = dist(rng);
  return t;
}

// A layer's parameters by name, in darknet order.
struct Params {
  std::vector<std::string> order;
  std::map<std::string, std::vector<double>> values;
  const std::vector<double>& operator[](const std::string& name) const {
    static const std::vector<double> empty;
    auto it = values.find(name);
    return it == values.end() ? empty : it->second;
  }
};

inline Params params_of(Layer& layer) {
  Params p;
  for (const auto& blob : layer.darknet_params()) {
    p.order.emplace_back(blob.name);
    p.values[blob.name] = std::vector<double>(blob.values->begin(), blob.values->end());
  }
  return p;
}

// Batch norm at inference, darknet's epsilon.
inline double batch_norm(double x, const Params& p, int64_t i) {
  return (x - p["rolling_mean"][size_t(i)]) / std::sqrt(p["rolling_variance"][size_t(i)] + 0.00001) *
             p["scales"][size_t(i)] +
         p["biases"][size_t(i)];
}

// ---------------------------------------------------------------------------
// Naive references, one per layer kind.

enum class Pad { none, flag, explicit_value, flag_and_explicit };

struct ConvArgs {
  int filters = 4;
  int size = 3;
  int stride_x = 1, stride_y = 1;
  Pad pad = Pad::flag;
  int padding = 0;  // for Pad::explicit_value and Pad::flag_and_explicit
  int dilation = 1;
  int groups = 1;
  bool bn = false;
  Activation act = Activation::linear;
  bool omit_activation = false;  // no activation= key: darknet's default, logistic

  int effective_padding() const {
    switch (pad) {
      case Pad::none: return 0;
      case Pad::flag: return size / 2;
      case Pad::explicit_value:
      case Pad::flag_and_explicit: return padding;  // an explicit padding= wins over pad=1
    }
    return 0;
  }
  Activation effective_activation() const { return omit_activation ? Activation::logistic : act; }
};

inline Ref ref_conv(const Ref& in, const ConvArgs& a, Layer& layer) {
  Params p = params_of(layer);
  const int64_t C = in.shape.c, F = a.filters, G = a.groups, Cg = C / G, Fg = F / G, k = a.size;
  const int64_t pad = a.effective_padding(), extent = (k - 1) * a.dilation + 1;
  const int64_t oh = (in.shape.h + 2 * pad - extent) / a.stride_y + 1;
  const int64_t ow = (in.shape.w + 2 * pad - extent) / a.stride_x + 1;
  Ref out(Shape{in.shape.n, F, oh, ow});
  const auto& w = p["weights"];
  EXPECT_EQ(int64_t(w.size()), F * Cg * k * k) << "conv weights [filters][c/groups][k][k]";
  EXPECT_EQ(int64_t(p["biases"].size()), F);
  if (int64_t(w.size()) != F * Cg * k * k) return out;
  for (int64_t n = 0; n < in.shape.n; ++n)
    for (int64_t f = 0; f < F; ++f) {
      const int64_t g = f / Fg;
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          double sum = 0;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t ky = 0; ky < k; ++ky)
              for (int64_t kx = 0; kx < k; ++kx) {
                int64_t iy = oy * a.stride_y - pad + ky * a.dilation;
                int64_t ix = ox * a.stride_x - pad + kx * a.dilation;
                if (iy < 0 || iy >= in.shape.h || ix < 0 || ix >= in.shape.w) continue;
                sum += in.at(n, g * Cg + c, iy, ix) * w[size_t(((f * Cg + c) * k + ky) * k + kx)];
              }
          double x = a.bn ? batch_norm(sum, p, f) : sum + p["biases"][size_t(f)];
          out.at(n, f, oy, ox) = cspnet::activate(a.effective_activation(), x);
        }
    }
  return out;
}

struct PoolArgs {
  int size = 2;
  int stride_x = 2, stride_y = 2;
  int padding = -1;        // -1: not written (darknet default size-1)
  bool omit_size = false;  // no size= key: darknet's default, size = stride

  int effective_size() const { return omit_size ? stride_x : size; }
  int effective_padding() const { return padding >= 0 ? padding : effective_size() - 1; }
};

inline Ref ref_maxpool(const Ref& in, const PoolArgs& a) {
  const int64_t size = a.effective_size(), padding = a.effective_padding(), before = padding / 2;
  const int64_t oh = (in.shape.h + padding - size) / a.stride_y + 1;
  const int64_t ow = (in.shape.w + padding - size) / a.stride_x + 1;
  Ref out(Shape{in.shape.n, in.shape.c, oh, ow});
  for (int64_t n = 0; n < in.shape.n; ++n)
    for (int64_t c = 0; c < in.shape.c; ++c)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          double best = -std::numeric_limits<double>::infinity();
          for (int64_t ky = 0; ky < size; ++ky)
            for (int64_t kx = 0; kx < size; ++kx) {
              int64_t iy = oy * a.stride_y - before + ky, ix = ox * a.stride_x - before + kx;
              if (iy < 0 || iy >= in.shape.h || ix < 0 || ix >= in.shape.w) continue;  // padding never wins
              best = std::max(best, in.at(n, c, iy, ix));
            }
          out.at(n, c, oy, ox) = best;
        }
  return out;
}

inline Ref ref_maxout(const Ref& in, int64_t groups) {
  Ref out(Shape{in.shape.n, groups, in.shape.h, in.shape.w});
  for (int64_t n = 0; n < in.shape.n; ++n)
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t y = 0; y < in.shape.h; ++y)
        for (int64_t x = 0; x < in.shape.w; ++x) {
          double best = -std::numeric_limits<double>::infinity();
          for (int64_t k = 0; k < in.shape.c; ++k)
            if (k % groups == g) best = std::max(best, in.at(n, k, y, x));
          out.at(n, g, y, x) = best;
        }
  return out;
}

inline Ref ref_avgpool(const Ref& in) {
  Ref out(Shape{in.shape.n, in.shape.c, 1, 1});
  for (int64_t n = 0; n < in.shape.n; ++n)
    for (int64_t c = 0; c < in.shape.c; ++c) {
      double sum = 0;
      for (int64_t y = 0; y < in.shape.h; ++y)
        for (int64_t x = 0; x < in.shape.w; ++x) sum += in.at(n, c, y, x);
      out.at(n, c, 0, 0) = sum / double(in.shape.h * in.shape.w);
    }
  return out;
}

inline Ref ref_route(const std::vector<Ref>& ins, int64_t groups, int64_t group_id) {
  Shape s{ins[0].shape.n, 0, ins[0].shape.h, ins[0].shape.w};
  for (const Ref& in : ins) s.c += in.shape.c / groups;
  Ref out(s);
  int64_t dst = 0;
  for (const Ref& in : ins) {
    const int64_t chunk = in.shape.c / groups;
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t c = 0; c < chunk; ++c)
        for (int64_t y = 0; y < s.h; ++y)
          for (int64_t x = 0; x < s.w; ++x) out.at(n, dst + c, y, x) = in.at(n, group_id * chunk + c, y, x);
    dst += chunk;
  }
  return out;
}

// ins[0]: the previous layer; ins[1..]: the `from` layers.
inline Ref ref_shortcut(const std::vector<Ref>& ins, Activation act) {
  Ref out = ins[0];
  const Shape& o = out.shape;
  for (size_t f = 1; f < ins.size(); ++f) {
    const Ref& from = ins[f];
    const Shape& s = from.shape;
    const int64_t stride = std::max<int64_t>(s.w / o.w, 1), sample = std::max<int64_t>(o.w / s.w, 1);
    for (int64_t n = 0; n < o.n; ++n)
      for (int64_t c = 0; c < std::min(s.c, o.c); ++c)
        for (int64_t j = 0; j < std::min(s.h, o.h); ++j)
          for (int64_t i = 0; i < std::min(s.w, o.w); ++i)
            out.at(n, c, j * sample, i * sample) += from.at(n, c, j * stride, i * stride);
  }
  for (double& v : out.v) v = cspnet::activate(act, v);
  return out;
}

inline Ref ref_upsample(const Ref& in, int stride, double scale) {
  if (stride > 0) {
    Ref out(Shape{in.shape.n, in.shape.c, in.shape.h * stride, in.shape.w * stride});
    for (int64_t n = 0; n < out.shape.n; ++n)
      for (int64_t c = 0; c < out.shape.c; ++c)
        for (int64_t y = 0; y < out.shape.h; ++y)
          for (int64_t x = 0; x < out.shape.w; ++x) out.at(n, c, y, x) = scale * in.at(n, c, y / stride, x / stride);
    return out;
  }
  const int64_t s = -stride;  // darknet's downsample: stride x stride blocks summed
  Ref out(Shape{in.shape.n, in.shape.c, in.shape.h / s, in.shape.w / s});
  for (int64_t n = 0; n < in.shape.n; ++n)
    for (int64_t c = 0; c < in.shape.c; ++c)
      for (int64_t y = 0; y < in.shape.h; ++y)
        for (int64_t x = 0; x < in.shape.w; ++x) out.at(n, c, y / s, x / s) += scale * in.at(n, c, y, x);
  return out;
}

inline Ref ref_connected(const Ref& in, int64_t outputs, bool bn, Activation act, Layer& layer) {
  Params p = params_of(layer);
  const int64_t inputs = in.shape.per_image();
  Ref out(Shape{in.shape.n, outputs, 1, 1});
  const auto& w = p["weights"];
  EXPECT_EQ(int64_t(w.size()), outputs * inputs) << "connected weights [outputs][inputs]";
  if (int64_t(w.size()) != outputs * inputs) return out;
  for (int64_t n = 0; n < in.shape.n; ++n)
    for (int64_t o = 0; o < outputs; ++o) {
      double sum = 0;
      for (int64_t k = 0; k < inputs; ++k) sum += w[size_t(o * inputs + k)] * in.v[size_t(n * inputs + k)];
      double x = bn ? batch_norm(sum, p, o) : sum + p["biases"][size_t(o)];
      out.at(n, o, 0, 0) = cspnet::activate(act, x);
    }
  return out;
}

inline Ref ref_softmax(const Ref& in, int64_t groups) {
  Ref out(in.shape);
  const int64_t per_image = in.shape.per_image(), chunk = per_image / groups;
  for (int64_t n = 0; n < in.shape.n; ++n)
    for (int64_t g = 0; g < groups; ++g) {
      const size_t base = size_t(n * per_image + g * chunk);
      double largest = -std::numeric_limits<double>::infinity(), sum = 0;
      for (int64_t i = 0; i < chunk; ++i) largest = std::max(largest, in.v[base + size_t(i)]);
      for (int64_t i = 0; i < chunk; ++i) sum += std::exp(in.v[base + size_t(i)] - largest);
      for (int64_t i = 0; i < chunk; ++i) out.v[base + size_t(i)] = std::exp(in.v[base + size_t(i)] - largest) / sum;
    }
  return out;
}

inline Ref ref_sam(const Ref& prev, const Ref& from, Activation act) {
  Ref out(prev.shape);
  for (size_t i = 0; i < out.v.size(); ++i) out.v[i] = cspnet::activate(act, prev.v[i] * from.v[i]);
  return out;
}

inline Ref ref_scale_channels(const Ref& scale, const Ref& map, Activation act) {
  Ref out(map.shape);
  for (int64_t n = 0; n < map.shape.n; ++n)
    for (int64_t c = 0; c < map.shape.c; ++c)
      for (int64_t y = 0; y < map.shape.h; ++y)
        for (int64_t x = 0; x < map.shape.w; ++x)
          out.at(n, c, y, x) = cspnet::activate(act, map.at(n, c, y, x) * scale.at(n, c, 0, 0));
  return out;
}

struct YoloArgs {
  std::vector<int> mask{0};
  int num = 1;
  int classes = 3;
  double scale_x_y = 1;
  bool new_coords = false;
};

inline Ref ref_yolo(const Ref& in, const YoloArgs& a) {
  Ref out(in.shape);
  const int64_t entries = a.classes + 5;
  for (int64_t n = 0; n < in.shape.n; ++n)
    for (int64_t anchor = 0; anchor < int64_t(a.mask.size()); ++anchor)
      for (int64_t e = 0; e < entries; ++e)
        for (int64_t y = 0; y < in.shape.h; ++y)
          for (int64_t x = 0; x < in.shape.w; ++x) {
            const int64_t c = anchor * entries + e;  // anchor-major channel layout
            double v = in.at(n, c, y, x);
            bool logistic = e < 2 || e >= 4;  // x, y, objectness, classes; never w, h
            if (!a.new_coords && logistic) v = 1.0 / (1.0 + std::exp(-v));
            if (e < 2) v = v * a.scale_x_y - (a.scale_x_y - 1) / 2;
            out.at(n, c, y, x) = v;
          }
  return out;
}

// ---------------------------------------------------------------------------
// Network specs: cfg text and the reference of every layer.

enum class Inputs { previous, listed, previous_and_listed };

struct Spec {
  std::string section;
  std::string body;              // key=value lines
  Inputs inputs = Inputs::previous;
  std::vector<int> refs;         // layer references as written in the cfg (negative = relative)
  std::function<Ref(const std::vector<Ref>&, Layer&)> reference;
};

inline std::string join(const std::vector<int>& values) {
  std::string text;
  for (int v : values) {
    if (!text.empty()) text += ',';
    text += std::to_string(v);
  }
  return text;
}

inline std::string act_line(Activation act) { return std::string("activation=") + cspnet::activation_name(act) + "\n"; }

inline Spec conv(ConvArgs a) {
  std::ostringstream s;
  s << "filters=" << a.filters << "\nsize=" << a.size << "\n";
  if (a.stride_x == a.stride_y)
    s << "stride=" << a.stride_x << "\n";
  else
    s << "stride_x=" << a.stride_x << "\nstride_y=" << a.stride_y << "\n";
  if (a.pad == Pad::flag || a.pad == Pad::flag_and_explicit) s << "pad=1\n";
  if (a.pad == Pad::explicit_value || a.pad == Pad::flag_and_explicit) s << "padding=" << a.padding << "\n";
  if (a.dilation != 1) s << "dilation=" << a.dilation << "\n";
  if (a.groups != 1) s << "groups=" << a.groups << "\n";
  if (a.bn) s << "batch_normalize=1\n";
  if (!a.omit_activation) s << act_line(a.act);
  return {"convolutional", s.str(), Inputs::previous, {},
          [a](const std::vector<Ref>& in, Layer& layer) { return ref_conv(in[0], a, layer); }};
}

inline Spec maxpool(PoolArgs a) {
  std::ostringstream s;
  if (!a.omit_size) s << "size=" << a.size << "\n";
  if (a.stride_x == a.stride_y)
    s << "stride=" << a.stride_x << "\n";
  else
    s << "stride_x=" << a.stride_x << "\nstride_y=" << a.stride_y << "\n";
  if (a.padding >= 0) s << "padding=" << a.padding << "\n";
  return {"maxpool", s.str(), Inputs::previous, {},
          [a](const std::vector<Ref>& in, Layer&) { return ref_maxpool(in[0], a); }};
}

inline Spec maxout(int out_channels) {
  return {"maxpool", "maxpool_depth=1\nout_channels=" + std::to_string(out_channels) + "\n", Inputs::previous, {},
          [out_channels](const std::vector<Ref>& in, Layer&) { return ref_maxout(in[0], out_channels); }};
}

inline Spec avgpool() {
  return {"avgpool", "", Inputs::previous, {}, [](const std::vector<Ref>& in, Layer&) { return ref_avgpool(in[0]); }};
}

inline Spec route(std::vector<int> layers, int groups = 1, int group_id = 0) {
  std::string body = "layers=" + join(layers) + "\n";
  if (groups != 1) body += "groups=" + std::to_string(groups) + "\ngroup_id=" + std::to_string(group_id) + "\n";
  return {"route", body, Inputs::listed, layers, [groups, group_id](const std::vector<Ref>& in, Layer&) {
            return ref_route(in, groups, group_id);
          }};
}

inline Spec shortcut(std::vector<int> from, Activation act) {
  return {"shortcut", "from=" + join(from) + "\n" + act_line(act), Inputs::previous_and_listed, from,
          [act](const std::vector<Ref>& in, Layer&) { return ref_shortcut(in, act); }};
}

inline Spec upsample(int stride, double scale = 1) {
  std::string body = "stride=" + std::to_string(stride) + "\n";
  if (scale != 1) body += "scale=" + std::to_string(scale) + "\n";
  return {"upsample", body, Inputs::previous, {},
          [stride, scale](const std::vector<Ref>& in, Layer&) { return ref_upsample(in[0], stride, scale); }};
}

inline Spec connected(int outputs, bool bn, Activation act) {
  std::string body = "output=" + std::to_string(outputs) + "\n" + act_line(act);
  if (bn) body += "batch_normalize=1\n";
  return {"connected", body, Inputs::previous, {}, [outputs, bn, act](const std::vector<Ref>& in, Layer& layer) {
            return ref_connected(in[0], outputs, bn, act, layer);
          }};
}

inline Spec softmax(int groups) {
  return {"softmax", "groups=" + std::to_string(groups) + "\n", Inputs::previous, {},
          [groups](const std::vector<Ref>& in, Layer&) { return ref_softmax(in[0], groups); }};
}

inline Spec identity(const std::string& section, const std::string& body) {
  return {section, body, Inputs::previous, {}, [](const std::vector<Ref>& in, Layer&) { return in[0]; }};
}

inline Spec sam(int from, Activation act = Activation::linear) {
  return {"sam", "from=" + std::to_string(from) + "\n" + act_line(act), Inputs::previous_and_listed, {from},
          [act](const std::vector<Ref>& in, Layer&) { return ref_sam(in[0], in[1], act); }};
}

inline Spec scale_channels(int from, Activation act = Activation::linear) {
  return {"scale_channels", "from=" + std::to_string(from) + "\n" + act_line(act), Inputs::previous_and_listed,
          {from}, [act](const std::vector<Ref>& in, Layer&) { return ref_scale_channels(in[0], in[1], act); }};
}

inline Spec yolo(YoloArgs a) {
  std::ostringstream s;
  s << "mask=" << join(a.mask) << "\nnum=" << a.num << "\nclasses=" << a.classes << "\nanchors=";
  for (int i = 0; i < a.num; ++i) s << (i ? "," : "") << 10 + 7 * i << "," << 14 + 5 * i;
  s << "\nscale_x_y=" << a.scale_x_y << "\n";
  if (a.new_coords) s << "new_coords=1\n";
  return {"yolo", s.str(), Inputs::previous, {},
          [a](const std::vector<Ref>& in, Layer&) { return ref_yolo(in[0], a); }};
}

struct NetSpec {
  int width = 8, height = 8, channels = 3, batch = 1;
  std::vector<Spec> layers;
};

inline std::string cfg_text(const NetSpec& spec) {
  std::ostringstream s;
  s << "[net]\nwidth=" << spec.width << "\nheight=" << spec.height << "\nchannels=" << spec.channels << "\n";
  for (const Spec& layer : spec.layers) s << "\n[" << layer.section << "]\n" << layer.body;
  return s.str();
}

inline Network build(const NetSpec& spec, uint64_t seed = kSeed) {
  Network net = Network::from_cfg(cspnet::parse_cfg_text(cfg_text(spec), "test.cfg"));
  for (const auto& warning : net.warnings()) ADD_FAILURE() << "cfg warning: " << warning;
  net.reshape(spec.width, spec.height, spec.batch);
  cspnet::init_weights(net, seed);
  return net;
}

// Every layer's output (reuse_memory forced off so that all are kept).
inline std::vector<Tensor> run_all(Network& net, const Tensor& input, ExecOptions options) {
  options.reuse_memory = false;
  Executor ex(net, options);
  ex.forward(input);
  std::vector<Tensor> outputs;
  for (int i = 0; i < net.size(); ++i) outputs.push_back(ex.layer_output(i));
  return outputs;
}

inline std::vector<int> expected_inputs(const Spec& spec, int index) {
  std::vector<int> inputs;
  if (spec.inputs != Inputs::listed) inputs.push_back(index - 1);
  for (int ref : spec.refs) inputs.push_back(ref < 0 ? index + ref : ref);
  return inputs;
}

inline std::string options_text(const ExecOptions& o) {
  return std::string("fold_batchnorm=") + (o.fold_batchnorm ? "1" : "0") +
         " fuse_activation=" + (o.fuse_activation ? "1" : "0") +
         " zero_copy_concat=" + (o.zero_copy_concat ? "1" : "0");
}

struct Checked {
  Tensor input;
  std::vector<Tensor> outputs;
};

// Runs the network and checks every layer against its reference, computed
// from the engine's outputs of that layer's inputs.
inline Checked check_layers(const NetSpec& spec, float lo, float hi, ExecOptions options = {}, uint64_t seed = kSeed) {
  SCOPED_TRACE(options_text(options) + "\n" + cfg_text(spec));
  Network net = build(spec, seed);
  Checked result{random_tensor(net.input_shape(), seed + 1, lo, hi), {}};
  result.outputs = run_all(net, result.input, options);
  std::vector<Ref> refs;
  for (const Tensor& t : result.outputs) refs.push_back(to_ref(t));
  const Ref input = to_ref(result.input);
  for (int i = 0; i < net.size(); ++i) {
    const Spec& s = spec.layers[size_t(i)];
    std::vector<int> inputs = expected_inputs(s, i);
    EXPECT_EQ(net.layer(i).inputs(), inputs) << "layer " << i << " [" << s.section << "] input edges";
    if (net.layer(i).inputs() != inputs) continue;
    std::vector<Ref> in;
    for (int j : inputs) in.push_back(j < 0 ? input : refs[size_t(j)]);
    EXPECT_TRUE(matches(result.outputs[size_t(i)], s.reference(in, net.layer(i))))
        << "layer " << i << " [" << s.section << "]\n" << s.body;
  }
  return result;
}

inline ExecOptions unoptimised() {
  ExecOptions o;
  o.fold_batchnorm = false;
  o.fuse_activation = false;
  o.zero_copy_concat = false;
  o.reuse_memory = false;
  return o;
}

}  // namespace cspnet::tests::layer_reference

// ---------------------------------------------------------------------------
// Backward against finite differences (through gradient_check.hpp): the cfg
// pieces and the check of a layer that reads one tensor twice.

namespace cspnet::tests::layer_gradients {

using cspnet::Activation;
using cspnet::Shape;
using cspnet::tests::check_layer_gradients;
using cspnet::tests::GradientCase;
using cspnet::tests::RefInputs;
using cspnet::tests::RefParams;
using Values = std::vector<double>;

// [net] header of a w x h x c input with batch n.
inline std::string net(int n, int c, int h, int w) {
  return "[net]\nbatch=" + std::to_string(n) + "\nwidth=" + std::to_string(w) + "\nheight=" + std::to_string(h) +
         "\nchannels=" + std::to_string(c) + "\n\n";
}
// A 1x1 convolution: a producer with `filters` channels for the layer under test.
inline std::string conv(int filters, int stride = 1) {
  return "[convolutional]\nfilters=" + std::to_string(filters) + "\nsize=1\nstride=" + std::to_string(stride) +
         "\nactivation=linear\n\n";
}

inline size_t at(const Shape& s, int64_t n, int64_t c, int64_t y, int64_t x) {
  return static_cast<size_t>(((n * s.c + c) * s.h + y) * s.w + x);
}

// A layer that reads one tensor in two slots, as the training executor
// wires it: both slots share the tensor and its gradient buffer, the first
// slot stores (over garbage) and the second adds. The gradient must be the
// finite difference of the reference with both slots moved together.
inline ::testing::AssertionResult check_read_twice(const std::string& cfg, int layer_index,
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

inline Values activated(Values v, Activation act) {
  for (double& x : v) x = cspnet::activate(act, x);
  return v;
}

}  // namespace cspnet::tests::layer_gradients
