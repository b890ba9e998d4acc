// Every layer kind's forward pass against a naive reference written here from
// darknet's semantics (../shared/darknet-notes.md): plain loops, double
// accumulation. Networks are built from cfg text with random parameters; each
// layer's reference is computed from the engine's own outputs of that layer's
// inputs (layer-local), so a failure names the layer that is wrong.
// Also: the executor's optimisation switches against the plain path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "cspnet/cspnet.hpp"

namespace {

using cspnet::Activation;
using cspnet::ExecOptions;
using cspnet::Executor;
using cspnet::Layer;
using cspnet::Network;
using cspnet::Shape;
using cspnet::Tensor;

constexpr uint64_t kSeed = 0x5eed2024;
constexpr double kTolerance = 1e-4;        // float32 engine vs double reference, relative to max(1, max|ref|)
constexpr double kSwitchTolerance = 1e-5;  // one engine path vs another

const Activation kAllActivations[] = {Activation::linear, Activation::logistic, Activation::relu,
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

Ref to_ref(const Tensor& t) {
  Ref r(t.shape());
  for (size_t i = 0; i < r.v.size(); ++i) r.v[i] = t.values()[i];
  return r;
}

std::string shape_text(const Shape& s) { return std::to_string(s.n) + "x" + s.str(); }

::testing::AssertionResult matches(const Tensor& ours, const Ref& ref, double tolerance = kTolerance) {
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

::testing::AssertionResult same_tensor(const Tensor& a, const Tensor& b, double tolerance) {
  return matches(a, to_ref(b), tolerance);
}

Tensor random_tensor(const Shape& shape, uint64_t seed, float lo, float hi) {
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

Params params_of(Layer& layer) {
  Params p;
  for (const auto& blob : layer.darknet_params()) {
    p.order.emplace_back(blob.name);
    p.values[blob.name] = std::vector<double>(blob.values->begin(), blob.values->end());
  }
  return p;
}

// Batch norm at inference, darknet's epsilon.
double batch_norm(double x, const Params& p, int64_t i) {
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

Ref ref_conv(const Ref& in, const ConvArgs& a, Layer& layer) {
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

Ref ref_maxpool(const Ref& in, const PoolArgs& a) {
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

Ref ref_maxout(const Ref& in, int64_t groups) {
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

Ref ref_avgpool(const Ref& in) {
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

Ref ref_route(const std::vector<Ref>& ins, int64_t groups, int64_t group_id) {
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
Ref ref_shortcut(const std::vector<Ref>& ins, Activation act) {
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

Ref ref_upsample(const Ref& in, int stride, double scale) {
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

Ref ref_connected(const Ref& in, int64_t outputs, bool bn, Activation act, Layer& layer) {
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

Ref ref_softmax(const Ref& in, int64_t groups) {
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

Ref ref_sam(const Ref& prev, const Ref& from, Activation act) {
  Ref out(prev.shape);
  for (size_t i = 0; i < out.v.size(); ++i) out.v[i] = cspnet::activate(act, prev.v[i] * from.v[i]);
  return out;
}

Ref ref_scale_channels(const Ref& scale, const Ref& map, Activation act) {
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

Ref ref_yolo(const Ref& in, const YoloArgs& a) {
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

std::string join(const std::vector<int>& values) {
  std::string text;
  for (int v : values) {
    if (!text.empty()) text += ',';
    text += std::to_string(v);
  }
  return text;
}

std::string act_line(Activation act) { return std::string("activation=") + cspnet::activation_name(act) + "\n"; }

Spec conv(ConvArgs a) {
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

Spec maxpool(PoolArgs a) {
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

Spec maxout(int out_channels) {
  return {"maxpool", "maxpool_depth=1\nout_channels=" + std::to_string(out_channels) + "\n", Inputs::previous, {},
          [out_channels](const std::vector<Ref>& in, Layer&) { return ref_maxout(in[0], out_channels); }};
}

Spec avgpool() {
  return {"avgpool", "", Inputs::previous, {}, [](const std::vector<Ref>& in, Layer&) { return ref_avgpool(in[0]); }};
}

Spec route(std::vector<int> layers, int groups = 1, int group_id = 0) {
  std::string body = "layers=" + join(layers) + "\n";
  if (groups != 1) body += "groups=" + std::to_string(groups) + "\ngroup_id=" + std::to_string(group_id) + "\n";
  return {"route", body, Inputs::listed, layers, [groups, group_id](const std::vector<Ref>& in, Layer&) {
            return ref_route(in, groups, group_id);
          }};
}

Spec shortcut(std::vector<int> from, Activation act) {
  return {"shortcut", "from=" + join(from) + "\n" + act_line(act), Inputs::previous_and_listed, from,
          [act](const std::vector<Ref>& in, Layer&) { return ref_shortcut(in, act); }};
}

Spec upsample(int stride, double scale = 1) {
  std::string body = "stride=" + std::to_string(stride) + "\n";
  if (scale != 1) body += "scale=" + std::to_string(scale) + "\n";
  return {"upsample", body, Inputs::previous, {},
          [stride, scale](const std::vector<Ref>& in, Layer&) { return ref_upsample(in[0], stride, scale); }};
}

Spec connected(int outputs, bool bn, Activation act) {
  std::string body = "output=" + std::to_string(outputs) + "\n" + act_line(act);
  if (bn) body += "batch_normalize=1\n";
  return {"connected", body, Inputs::previous, {}, [outputs, bn, act](const std::vector<Ref>& in, Layer& layer) {
            return ref_connected(in[0], outputs, bn, act, layer);
          }};
}

Spec softmax(int groups) {
  return {"softmax", "groups=" + std::to_string(groups) + "\n", Inputs::previous, {},
          [groups](const std::vector<Ref>& in, Layer&) { return ref_softmax(in[0], groups); }};
}

Spec identity(const std::string& section, const std::string& body) {
  return {section, body, Inputs::previous, {}, [](const std::vector<Ref>& in, Layer&) { return in[0]; }};
}

Spec sam(int from, Activation act = Activation::linear) {
  return {"sam", "from=" + std::to_string(from) + "\n" + act_line(act), Inputs::previous_and_listed, {from},
          [act](const std::vector<Ref>& in, Layer&) { return ref_sam(in[0], in[1], act); }};
}

Spec scale_channels(int from, Activation act = Activation::linear) {
  return {"scale_channels", "from=" + std::to_string(from) + "\n" + act_line(act), Inputs::previous_and_listed,
          {from}, [act](const std::vector<Ref>& in, Layer&) { return ref_scale_channels(in[0], in[1], act); }};
}

Spec yolo(YoloArgs a) {
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

std::string cfg_text(const NetSpec& spec) {
  std::ostringstream s;
  s << "[net]\nwidth=" << spec.width << "\nheight=" << spec.height << "\nchannels=" << spec.channels << "\n";
  for (const Spec& layer : spec.layers) s << "\n[" << layer.section << "]\n" << layer.body;
  return s.str();
}

Network build(const NetSpec& spec, uint64_t seed = kSeed) {
  Network net = Network::from_cfg(cspnet::parse_cfg_text(cfg_text(spec), "test.cfg"));
  for (const auto& warning : net.warnings()) ADD_FAILURE() << "cfg warning: " << warning;
  net.reshape(spec.width, spec.height, spec.batch);
  cspnet::init_weights(net, seed);
  return net;
}

// Every layer's output (reuse_memory forced off so that all are kept).
std::vector<Tensor> run_all(Network& net, const Tensor& input, ExecOptions options) {
  options.reuse_memory = false;
  Executor ex(net, options);
  ex.forward(input);
  std::vector<Tensor> outputs;
  for (int i = 0; i < net.size(); ++i) outputs.push_back(ex.layer_output(i));
  return outputs;
}

std::vector<int> expected_inputs(const Spec& spec, int index) {
  std::vector<int> inputs;
  if (spec.inputs != Inputs::listed) inputs.push_back(index - 1);
  for (int ref : spec.refs) inputs.push_back(ref < 0 ? index + ref : ref);
  return inputs;
}

std::string options_text(const ExecOptions& o) {
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
Checked check_layers(const NetSpec& spec, float lo, float hi, ExecOptions options = {}, uint64_t seed = kSeed) {
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

ExecOptions unoptimised() {
  ExecOptions o;
  o.fold_batchnorm = false;
  o.fuse_activation = false;
  o.zero_copy_concat = false;
  o.reuse_memory = false;
  return o;
}

// ---------------------------------------------------------------------------
// Activations

TEST(LayerReference, ActivationDefinitionsMatchTheirFormulas) {
  auto logistic = [](double x) { return 1 / (1 + std::exp(-x)); };
  auto softplus = [](double x) { return x > 20 ? x : std::log(1 + std::exp(x)); };
  for (double x : {-25.0, -7.0, -3.0, -2.0, -1.5, -1.0, -0.3, 0.0, 0.4, 1.0, 2.5, 6.0, 7.5, 21.0}) {
    SCOPED_TRACE("x = " + std::to_string(x));
    auto check = [x](Activation act, double expected) {
      double got = cspnet::activate(act, x);
      EXPECT_NEAR(got, expected, 1e-9 * std::max(1.0, std::abs(expected))) << cspnet::activation_name(act);
    };
    check(Activation::linear, x);
    check(Activation::logistic, logistic(x));
    check(Activation::relu, x > 0 ? x : 0);
    check(Activation::relu6, std::min(std::max(x, 0.0), 6.0));
    check(Activation::leaky, x > 0 ? x : 0.1 * x);
    check(Activation::tanh, (std::exp(x) - std::exp(-x)) / (std::exp(x) + std::exp(-x)));
    check(Activation::elu, x >= 0 ? x : std::exp(x) - 1);
    check(Activation::mish, x * std::tanh(softplus(x)));
    check(Activation::swish, x * logistic(x));
    check(Activation::hard_mish, x > 0 ? x : (x > -2 ? x * x / 2 + x : 0));
    check(Activation::gelu, 0.5 * x * (1 + std::tanh(0.797885 * x + 0.035677 * x * x * x)));
    // darknet writes SELU's constants to 4 decimals (1.0507f, 1.6732f); the
    // engine may use the exact ones, which agree to well inside 1e-4.
    double selu = x >= 0 ? 1.0507 * x : 1.0507 * 1.6732 * (std::exp(x) - 1);
    EXPECT_NEAR(cspnet::activate(Activation::selu, x), selu, 1e-4 * std::max(1.0, std::abs(selu)));
  }
  // A few values worked out by hand.
  EXPECT_DOUBLE_EQ(cspnet::activate(Activation::logistic, 0), 0.5);
  EXPECT_NEAR(cspnet::activate(Activation::logistic, 2), 0.8807970779778823, 1e-12);
  EXPECT_DOUBLE_EQ(cspnet::activate(Activation::leaky, -2), -0.2);
  EXPECT_DOUBLE_EQ(cspnet::activate(Activation::relu6, 7), 6);
  EXPECT_DOUBLE_EQ(cspnet::activate(Activation::relu6, 3.5), 3.5);
  EXPECT_DOUBLE_EQ(cspnet::activate(Activation::hard_mish, -1), -0.5);
  EXPECT_DOUBLE_EQ(cspnet::activate(Activation::hard_mish, -3), 0);
  EXPECT_NEAR(cspnet::activate(Activation::elu, -1), -0.6321205588285577, 1e-12);
  EXPECT_NEAR(cspnet::activate(Activation::selu, -1), -1.1113307378125625, 1e-4);
  EXPECT_NEAR(cspnet::activate(Activation::mish, 1), 0.8650983882673103, 1e-12);
  EXPECT_NEAR(cspnet::activate(Activation::mish, -1), -0.30340146137410895, 1e-12);
  EXPECT_DOUBLE_EQ(cspnet::activate(Activation::mish, 25), 25 * std::tanh(25.0));  // softplus cut-off above 20
  EXPECT_NEAR(cspnet::activate(Activation::swish, 1), 0.7310585786300049, 1e-12);
  EXPECT_NEAR(cspnet::activate(Activation::gelu, 1), 0.8411919989069876, 1e-12);
  EXPECT_NEAR(cspnet::activate(Activation::gelu, -2), -0.04540251771586101, 1e-12);
  for (Activation act : kAllActivations)
    EXPECT_EQ(cspnet::parse_activation(cspnet::activation_name(act), "test"), act) << cspnet::activation_name(act);
}

TEST(LayerReference, ActivateArrayFloatKernelMatchesDoubleDefinition) {
  std::vector<float> xs;
  for (int i = -400; i <= 400; ++i) xs.push_back(float(i) * 0.0625f);  // -25 .. 25
  for (Activation act : kAllActivations) {
    std::vector<float> ys = xs;
    cspnet::activate_array(act, ys.data(), int64_t(ys.size()));
    for (size_t i = 0; i < xs.size(); ++i) {
      double expected = cspnet::activate(act, xs[i]);
      EXPECT_NEAR(ys[i], expected, 1e-5 * std::max(1.0, std::abs(expected)))
          << cspnet::activation_name(act) << " at x = " << xs[i];
    }
  }
}

// ---------------------------------------------------------------------------
// [convolutional]

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

// ---------------------------------------------------------------------------
// [maxpool]

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

// ---------------------------------------------------------------------------
// [avgpool], [route], [shortcut], [upsample]

TEST(LayerReference, AvgpoolMatchesGlobalAverageReference) {
  check_layers(NetSpec{7, 5, 3, 2, {avgpool()}}, -2, 2);
  check_layers(NetSpec{1, 1, 4, 1, {avgpool()}}, -2, 2);
  check_layers(NetSpec{9, 6, 2, 3, {conv({.filters = 5, .size = 3, .stride_x = 2, .stride_y = 2,
                                          .act = Activation::leaky}),
                                    avgpool()}},
               -2, 2);
}

NetSpec route_network() {
  return NetSpec{9, 7, 3, 2,
                 {
                     conv({.filters = 4, .size = 3, .act = Activation::leaky}),        // 0
                     conv({.filters = 6, .size = 1, .pad = Pad::none}),                // 1
                     conv({.filters = 2, .size = 3, .act = Activation::tanh}),         // 2
                     route({-1, 0, -2}),                                               // 3: 2, 0, 1
                     route({1}, 2, 1),                                                 // 4: second half of 1
                     route({1, 0}, 2, 1),                                              // 5: several layers with groups
                     route({1}, 3, 2),                                                 // 6: last third of 1
                     conv({.filters = 3, .size = 3, .act = Activation::linear}),       // 7: reads a strided view
                     route({-5, -1}),                                                  // 8: 3, 7 (nested concat)
                     conv({.filters = 4, .size = 1, .pad = Pad::none}),                // 9: reads the concat
                     route({-6}),                                                      // 10: view of a view
                     maxpool({.size = 3, .stride_x = 2, .stride_y = 2}),               // 11: pools a view
                     route({4, 9}),                                                    // 12: a view and a conv
                     conv({.filters = 3, .size = 3, .act = Activation::leaky}),        // 13
                     route({-1, -1}),                                                  // 14: the same layer twice
                 }};
}

TEST(LayerReference, RouteMatchesReferenceConcatAndGroupChunks) {
  for (bool zero_copy : {true, false}) {
    ExecOptions options;
    options.zero_copy_concat = zero_copy;
    check_layers(route_network(), -2, 2, options);
  }
}

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

TEST(LayerReference, UpsampleMatchesNearestNeighbourReference) {
  NetSpec spec{5, 3, 2, 2, {upsample(2), upsample(3, 0.5), conv({.filters = 3, .size = 1, .pad = Pad::none}),
                            upsample(-3, 0.25), upsample(-2)}};
  check_layers(spec, -2, 2);
}

// ---------------------------------------------------------------------------
// [connected], [softmax], [dropout], [cost]

TEST(LayerReference, ConnectedMatchesReferenceWithAndWithoutBatchNorm) {
  NetSpec spec{5, 4, 3, 3,
               {connected(7, false, Activation::leaky), connected(5, true, Activation::linear),
                connected(6, true, Activation::mish), connected(4, false, Activation::logistic)}};
  for (const ExecOptions& options : {ExecOptions{}, unoptimised()}) check_layers(spec, -2, 2, options);
  // Flattening order C*H*W of a convolution's output.
  NetSpec after_conv{6, 5, 2, 2,
                     {conv({.filters = 3, .size = 3, .stride_x = 2, .stride_y = 1, .act = Activation::leaky}),
                      connected(5, false, Activation::linear)}};
  check_layers(after_conv, -2, 2);
  // Strided inputs and outputs: reading a route-group view, writing into
  // slices of a concat (batch 2, so the slices are not dense).
  NetSpec strided{5, 4, 3, 2,
                  {
                      conv({.filters = 4, .size = 3, .act = Activation::leaky}),  // 0: 4x4x5
                      route({0}, 2, 1),                                           // 1: view, channels 2..3
                      connected(6, false, Activation::linear),                    // 2: reads the view
                      connected(3, true, Activation::leaky),                      // 3
                      route({0}),                                                 // 4: view of 0
                      avgpool(),                                                  // 5: 4x1x1
                      route({2, 3, 5}),                                           // 6: 13x1x1
                      softmax(1),                                                 // 7
                  }};
  for (const ExecOptions& options : {ExecOptions{}, unoptimised()}) check_layers(strided, -2, 2, options);
}

TEST(LayerReference, SoftmaxMatchesReferenceOverFlattenedImage) {
  for (int groups : {1, 3, 4, 60}) {
    SCOPED_TRACE("groups=" + std::to_string(groups));
    Checked result = check_layers(NetSpec{5, 3, 4, 2, {softmax(groups)}}, -10, 10);
    const Tensor& out = result.outputs[0];
    const int64_t chunk = 60 / groups;
    for (int64_t start = 0; start < out.size(); start += chunk) {
      double sum = 0;
      for (int64_t i = 0; i < chunk; ++i) sum += out.values()[size_t(start + i)];
      EXPECT_NEAR(sum, 1.0, 1e-5) << "chunk at " << start;
    }
  }
  check_layers(NetSpec{4, 3, 2, 3, {connected(10, false, Activation::linear), softmax(1)}}, -2, 2);
}

TEST(LayerReference, DropoutAndCostMatchIdentityReference) {
  NetSpec spec{7, 5, 3, 2,
               {conv({.filters = 4, .size = 3, .act = Activation::leaky}), identity("dropout", "probability=0.3\n"),
                identity("cost", "type=sse\n"), conv({.filters = 5, .size = 3, .act = Activation::linear}),
                identity("dropout", "")}};
  Checked result = check_layers(spec, -2, 2);
  EXPECT_EQ(result.outputs[1].values(), result.outputs[0].values());
  EXPECT_EQ(result.outputs[2].values(), result.outputs[0].values());
  EXPECT_EQ(result.outputs[4].values(), result.outputs[3].values());
  // As the very first layer: a view of the network input itself.
  NetSpec first{6, 5, 2, 2, {identity("dropout", ""), conv({.filters = 3, .size = 3, .act = Activation::linear})}};
  Checked at_input = check_layers(first, -2, 2);
  EXPECT_EQ(at_input.outputs[0].values(), at_input.input.values());
}

// ---------------------------------------------------------------------------
// [sam], [scale_channels], [yolo]

TEST(LayerReference, SamMatchesElementwiseProductReference) {
  NetSpec spec{7, 5, 3, 2,
               {conv({.filters = 4, .size = 3, .act = Activation::leaky}),
                conv({.filters = 4, .size = 1, .pad = Pad::none, .act = Activation::logistic}), sam(0),
                conv({.filters = 4, .size = 1, .pad = Pad::none, .act = Activation::tanh}),
                sam(-2, Activation::leaky)}};
  check_layers(spec, -2, 2);
}

TEST(LayerReference, ScaleChannelsMatchesPerChannelProductReference) {
  NetSpec spec{7, 5, 3, 2,
               {conv({.filters = 6, .size = 3, .act = Activation::leaky}), avgpool(),
                conv({.filters = 6, .size = 1, .pad = Pad::none, .act = Activation::logistic}), scale_channels(0),
                avgpool(), scale_channels(-2, Activation::leaky)}};
  check_layers(spec, -2, 2);
}

TEST(LayerReference, YoloMatchesReferenceActivationsAndScaleXY) {
  // Raw input straight into the head: every entry of every anchor is checked.
  check_layers(NetSpec{5, 3, 16, 2, {yolo({.mask = {1, 2}, .num = 3, .classes = 3, .scale_x_y = 1.1})}}, -4, 4);
  check_layers(NetSpec{5, 3, 16, 2, {yolo({.mask = {0, 1}, .num = 2, .classes = 3, .scale_x_y = 2.0,
                                           .new_coords = true})}},
               -4, 4);
  check_layers(NetSpec{4, 4, 7, 1, {yolo({.mask = {0}, .num = 1, .classes = 2})}}, -4, 4);
  // Behind a convolution, the usual layout.
  check_layers(NetSpec{6, 5, 3, 2, {conv({.filters = 3 * 9, .size = 1, .pad = Pad::none}),
                                    yolo({.mask = {3, 4, 5}, .num = 6, .classes = 4, .scale_x_y = 1.05})}},
               -2, 2);
}

// ---------------------------------------------------------------------------
// A small CSP-like network: every layer against its reference, and the
// executor's switches against the plain path.

NetSpec csp_network() {
  return NetSpec{16, 12, 3, 2,
                 {
                     conv({.filters = 8, .size = 3, .bn = true, .act = Activation::leaky}),           // 0: 8x12x16
                     conv({.filters = 16, .size = 3, .stride_x = 2, .stride_y = 2, .bn = true,
                           .act = Activation::mish}),                                                   // 1: 16x6x8
                     route({-1}, 2, 1),                                                                 // 2: split
                     conv({.filters = 8, .size = 1, .pad = Pad::none, .bn = true, .act = Activation::leaky}),
                     conv({.filters = 8, .size = 3, .bn = true, .act = Activation::leaky}),
                     shortcut({-2}, Activation::linear),                                                // 5: residual
                     conv({.filters = 8, .size = 1, .pad = Pad::none, .bn = true, .act = Activation::leaky}),
                     route({-1, -6}),                                                                   // 7: 6, 1
                     conv({.filters = 16, .size = 1, .pad = Pad::none, .bn = true, .act = Activation::leaky}),
                     maxpool({.size = 2, .stride_x = 2, .stride_y = 2}),                                // 9: 16x3x4
                     conv({.filters = 8, .size = 1, .pad = Pad::none, .bn = true, .act = Activation::swish}),
                     upsample(2),                                                                       // 11: 8x6x8
                     route({-1, -5}),                                                                   // 12: 11, 7
                     maxpool({.size = 5, .stride_x = 1, .stride_y = 1}),                                // 13: SPP
                     route({-1, -2}),                                                                   // 14: 13, 12
                     conv({.filters = 16, .size = 3, .groups = 4, .bn = true, .act = Activation::leaky}),
                     conv({.filters = 16, .size = 3, .groups = 16, .bn = true, .act = Activation::relu6}),
                     identity("dropout", "probability=0.1\n"),
                     conv({.filters = 7, .size = 1, .pad = Pad::none, .act = Activation::linear}),
                     yolo({.mask = {0}, .num = 1, .classes = 2, .scale_x_y = 1.05}),
                 }};
}

TEST(LayerReference, CspNetworkMatchesReferenceLayerByLayerWithBatch) {
  for (const ExecOptions& options : {ExecOptions{}, unoptimised()}) check_layers(csp_network(), 0, 1, options);
}

TEST(ExecutorSwitch, EachSwitchGivesTheSameOutputAsThePlainPath) {
  NetSpec spec = csp_network();
  Network net = build(spec);
  Tensor input = random_tensor(net.input_shape(), kSeed + 1, 0, 1);

  ExecOptions plain = unoptimised();
  std::vector<Tensor> reference = run_all(net, input, plain);
  Executor plain_ex(net, plain);
  std::vector<Tensor> plain_outputs = plain_ex.forward(input);

  struct Variant {
    const char* name;
    ExecOptions options;
  };
  std::vector<Variant> variants;
  variants.push_back({"all optimisations (default)", ExecOptions{}});
  const std::pair<const char*, bool ExecOptions::*> switches[] = {
      {"fold_batchnorm", &ExecOptions::fold_batchnorm},
      {"fuse_activation", &ExecOptions::fuse_activation},
      {"zero_copy_concat", &ExecOptions::zero_copy_concat}};
  for (const auto& [name, member] : switches) {
    ExecOptions only_off{}, only_on = plain;  // one switch off among the defaults; one switch alone on
    only_off.*member = false;
    only_on.*member = true;
    variants.push_back({name, only_off});
    variants.push_back({name, only_on});
  }
  for (const Variant& variant : variants)
    for (bool reuse : {false, true}) {
      ExecOptions options = variant.options;
      options.reuse_memory = reuse;
      SCOPED_TRACE(std::string(variant.name) + ": " + options_text(options) +
                   (reuse ? " reuse_memory=1" : " reuse_memory=0"));
      Executor ex(net, options);
      std::vector<Tensor> outputs = ex.forward(input);
      ASSERT_EQ(outputs.size(), plain_outputs.size());
      for (size_t k = 0; k < outputs.size(); ++k)
        EXPECT_TRUE(same_tensor(outputs[k], plain_outputs[k], kSwitchTolerance)) << "network output " << k;
      if (!reuse) {  // every layer kept: compare them all
        for (int i = 0; i < net.size(); ++i)
          EXPECT_TRUE(same_tensor(ex.layer_output(i), reference[size_t(i)], kSwitchTolerance)) << "layer " << i;
      }
      // A second forward on the same executor gives the same answer.
      std::vector<Tensor> again = ex.forward(input);
      for (size_t k = 0; k < outputs.size(); ++k) EXPECT_EQ(again[k].values(), outputs[k].values());
    }
}

TEST(ExecutorSwitch, ReuseMemoryGivesTheSameOutputAcrossBatchAndSize) {
  NetSpec spec = csp_network();
  Network net = build(spec);
  for (auto [w, h, batch] : {std::tuple{16, 12, 1}, std::tuple{24, 20, 3}}) {
    net.reshape(w, h, batch);
    Tensor input = random_tensor(net.input_shape(), kSeed + 7, 0, 1);
    ExecOptions keep, reuse;
    keep.reuse_memory = false;
    Executor keep_ex(net, keep), reuse_ex(net, reuse);
    std::vector<Tensor> a = keep_ex.forward(input), b = reuse_ex.forward(input);
    ASSERT_EQ(a.size(), b.size());
    for (size_t k = 0; k < a.size(); ++k) EXPECT_TRUE(same_tensor(b[k], a[k], kSwitchTolerance)) << w << "x" << h;
    EXPECT_LE(reuse_ex.plan().peak_bytes, keep_ex.plan().peak_bytes);
  }
}

TEST(ExecutorSwitch, ZeroCopyConcatSwitchControlsCopyKernels) {
  // Every concat input is an ordinary convolution output.
  NetSpec spec{9, 7, 3, 2,
               {conv({.filters = 4, .size = 3, .act = Activation::leaky}),
                conv({.filters = 5, .size = 3, .act = Activation::leaky}),
                conv({.filters = 3, .size = 1, .pad = Pad::none, .act = Activation::leaky}),
                route({-1, -3, -2}),
                conv({.filters = 6, .size = 3, .act = Activation::leaky}),
                route({-1, -2})}};  // 4 and the concat 3 (nested)
  Network net = build(spec);
  Tensor input = random_tensor(net.input_shape(), kSeed + 3, -1, 1);
  ExecOptions on, off;
  on.reuse_memory = off.reuse_memory = false;
  off.zero_copy_concat = false;
  Executor on_ex(net, on), off_ex(net, off);
  EXPECT_EQ(on_ex.copy_kernels(), 0);
  EXPECT_GT(off_ex.copy_kernels(), 0);
  on_ex.forward(input);
  off_ex.forward(input);
  for (int i = 0; i < net.size(); ++i)
    EXPECT_TRUE(same_tensor(on_ex.layer_output(i), off_ex.layer_output(i), kSwitchTolerance)) << "layer " << i;
  // And both against the reference, layer by layer.
  check_layers(spec, -1, 1, on);
  check_layers(spec, -1, 1, off);
}

}  // namespace
