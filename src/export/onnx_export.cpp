// ONNX export: walks the layers in order (as network_cfg does) and emits,
// per layer, the ONNX nodes that compute what its oneDNN kernel computes.
// Each layer's output tensor is named after the layer (conv_12, route_30).
#include "cspnet/onnx_export.hpp"

#include <onnx/onnx.pb.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cspnet/cfg.hpp"
#include "cspnet/error.hpp"
#include "cspnet/file_output.hpp"
#include "cspnet/layer.hpp"

namespace cspnet {
namespace {

constexpr float kBatchNormEpsilon = 0.00001f;  // darknet's, as the kernels use

std::string short_kind(LayerKind kind) {
  switch (kind) {
    case LayerKind::convolutional: return "conv";
    case LayerKind::maxpool: return "maxpool";
    case LayerKind::avgpool: return "avgpool";
    case LayerKind::route: return "route";
    case LayerKind::shortcut: return "shortcut";
    case LayerKind::upsample: return "upsample";
    case LayerKind::connected: return "connected";
    case LayerKind::softmax: return "softmax";
    case LayerKind::dropout: return "dropout";
    case LayerKind::cost: return "cost";
    case LayerKind::sam: return "sam";
    case LayerKind::scale_channels: return "scale_channels";
    case LayerKind::yolo: return "yolo";
  }
  return "layer";
}

// Builds one GraphProto: nodes, initialisers, unique intermediate names.
class GraphWriter {
 public:
  GraphWriter(onnx::GraphProto& graph, int opset) : graph_(graph), opset_(opset) {}
  int opset() const { return opset_; }

  // A fresh tensor name under `base` (base_1, base_2, ...).
  std::string temp(const std::string& base) { return base + "_" + std::to_string(++counter_); }

  onnx::NodeProto& node(const std::string& op, std::vector<std::string> inputs, const std::string& output) {
    onnx::NodeProto& n = *graph_.add_node();
    n.set_op_type(op);
    n.set_name(output);
    for (const std::string& in : inputs) n.add_input(in);
    n.add_output(output);
    return n;
  }
  // The node's output, for chaining.
  std::string op(const std::string& op_type, std::vector<std::string> inputs, const std::string& output) {
    node(op_type, std::move(inputs), output);
    return output;
  }

  std::string floats(const std::string& name, const std::vector<float>& values, std::vector<int64_t> dims) {
    onnx::TensorProto& t = *graph_.add_initializer();
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t.add_dims(d);
    t.set_raw_data(values.data(), values.size() * sizeof(float));
    return name;
  }
  std::string scalar(const std::string& base, float value) { return floats(temp(base), {value}, {}); }
  std::string ints(const std::string& base, const std::vector<int64_t>& values) {
    onnx::TensorProto& t = *graph_.add_initializer();
    const std::string name = temp(base);
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::INT64);
    t.add_dims(int64_t(values.size()));
    t.set_raw_data(values.data(), values.size() * sizeof(int64_t));
    return name;
  }

  static void attr(onnx::NodeProto& n, const char* name, int64_t value) {
    onnx::AttributeProto& a = *n.add_attribute();
    a.set_name(name);
    a.set_type(onnx::AttributeProto::INT);
    a.set_i(value);
  }
  static void attr(onnx::NodeProto& n, const char* name, float value) {
    onnx::AttributeProto& a = *n.add_attribute();
    a.set_name(name);
    a.set_type(onnx::AttributeProto::FLOAT);
    a.set_f(value);
  }
  static void attr(onnx::NodeProto& n, const char* name, const std::string& value) {
    onnx::AttributeProto& a = *n.add_attribute();
    a.set_name(name);
    a.set_type(onnx::AttributeProto::STRING);
    a.set_s(value);
  }
  static void attr(onnx::NodeProto& n, const char* name, const std::vector<int64_t>& values) {
    onnx::AttributeProto& a = *n.add_attribute();
    a.set_name(name);
    a.set_type(onnx::AttributeProto::INTS);
    for (int64_t v : values) a.add_ints(v);
  }

  // Channels [begin, end) with spatial step `step` (Slice with steps).
  std::string slice(const std::string& in, int64_t begin, int64_t end, int64_t step, const std::string& out) {
    if (step == 1)
      return op("Slice", {in, ints(out + "_starts", {begin}), ints(out + "_ends", {end}), ints(out + "_axes", {1})},
                out);
    const int64_t big = int64_t{1} << 62;
    return op("Slice",
              {in, ints(out + "_starts", {begin, 0, 0}), ints(out + "_ends", {end, big, big}),
               ints(out + "_axes", {1, 2, 3}), ints(out + "_steps", {1, step, step})},
              out);
  }
  std::string reshape(const std::string& in, const std::vector<int64_t>& shape, const std::string& out) {
    return op("Reshape", {in, ints(out + "_shape", shape)}, out);
  }

 private:
  onnx::GraphProto& graph_;
  int opset_;
  int counter_ = 0;
};

// act(x) into `out`; linear is an Identity so that every layer has its name.
std::string activation(GraphWriter& g, Activation act, const std::string& x, const std::string& out) {
  switch (act) {
    case Activation::linear: return g.op("Identity", {x}, out);
    case Activation::logistic: return g.op("Sigmoid", {x}, out);
    case Activation::relu: return g.op("Relu", {x}, out);
    case Activation::tanh: return g.op("Tanh", {x}, out);
    case Activation::relu6: return g.op("Clip", {x, g.scalar(out + "_min", 0.f), g.scalar(out + "_max", 6.f)}, out);
    case Activation::leaky: {
      GraphWriter::attr(g.node("LeakyRelu", {x}, out), "alpha", 0.1f);
      return out;
    }
    case Activation::elu: {
      GraphWriter::attr(g.node("Elu", {x}, out), "alpha", 1.f);
      return out;
    }
    case Activation::selu: {
      onnx::NodeProto& n = g.node("Selu", {x}, out);
      GraphWriter::attr(n, "alpha", float(kSeluAlpha));
      GraphWriter::attr(n, "gamma", float(kSeluScale));
      return out;
    }
    case Activation::mish:
      if (g.opset() >= 18) return g.op("Mish", {x}, out);
      return g.op("Mul", {x, g.op("Tanh", {g.op("Softplus", {x}, g.temp(out + "_softplus"))}, g.temp(out + "_tanh"))},
                  out);
    case Activation::swish: return g.op("Mul", {x, g.op("Sigmoid", {x}, g.temp(out + "_sigmoid"))}, out);
    case Activation::hard_mish: {
      // x * clamp(x/2 + 1, 0, 1): x for x > 0, x^2/2 + x on (-2, 0], 0 below.
      const std::string gate = g.temp(out + "_gate");
      onnx::NodeProto& n = g.node("HardSigmoid", {x}, gate);
      GraphWriter::attr(n, "alpha", 0.5f);
      GraphWriter::attr(n, "beta", 1.f);
      return g.op("Mul", {x, gate}, out);
    }
    case Activation::gelu: {
      // darknet's tanh form: 0.5 x (1 + tanh(0.797885 x + 0.035677 x^3)).
      const std::string x3 = g.op("Mul", {g.op("Mul", {x, x}, g.temp(out + "_x2")), x}, g.temp(out + "_x3"));
      const std::string inner =
          g.op("Add",
               {g.op("Mul", {x, g.scalar(out + "_c1", 0.797885f)}, g.temp(out + "_a")),
                g.op("Mul", {x3, g.scalar(out + "_c3", 0.035677f)}, g.temp(out + "_b"))},
               g.temp(out + "_inner"));
      const std::string one_plus = g.op("Add", {g.op("Tanh", {inner}, g.temp(out + "_tanh")), g.scalar(out + "_one", 1.f)},
                                        g.temp(out + "_1p"));
      return g.op("Mul", {g.op("Mul", {x, one_plus}, g.temp(out + "_xm")), g.scalar(out + "_half", 0.5f)}, out);
    }
  }
  return g.op("Identity", {x}, out);
}

[[noreturn]] void unsupported(const Layer& layer, const std::string& what) {
  throw Error(layer.where() + ": ONNX export: " + what);
}

struct Folded {
  std::vector<float> weights, biases;
};

// Batch norm folded in: w' = w * s/sqrt(var+eps), b' = bias - mean * s/sqrt(var+eps).
Folded fold_batch_norm(const WeightArrays& w, int64_t outputs) {
  Folded f{w.weights, std::vector<float>(size_t(outputs))};
  const int64_t per_output = int64_t(w.weights.size()) / outputs;
  for (int64_t o = 0; o < outputs; ++o) {
    const double factor = double(w.scales[size_t(o)]) / std::sqrt(double(w.rolling_variance[size_t(o)]) + kBatchNormEpsilon);
    for (int64_t i = 0; i < per_output; ++i) f.weights[size_t(o * per_output + i)] = float(w.weights[size_t(o * per_output + i)] * factor);
    f.biases[size_t(o)] = float(w.biases[size_t(o)] - w.rolling_mean[size_t(o)] * factor);
  }
  return f;
}

class LayerEmitter {
 public:
  LayerEmitter(GraphWriter& g, const Network& net, const OnnxExportOptions& options)
      : g_(g), net_(net), options_(options) {}

  static std::string name_of(const Network& net, int index) {
    if (index < 0) return "input";
    return short_kind(net.layer(index).kind()) + "_" + std::to_string(index);
  }

  void emit(const Layer& layer) {
    out_ = name_of(net_, layer.index());
    in_.clear();
    for (int i : layer.inputs()) in_.push_back(name_of(net_, i));
    std::visit([&](const auto& a) { emit_kind(layer, a); }, layer.attrs());
  }

 private:
  void emit_kind(const Layer& layer, const ConvolutionalAttrs& a) {
    const WeightArrays& w = *layer.weight_arrays();
    const int64_t in_c = layer.input_shapes()[0].c;
    std::vector<int64_t> dims{a.filters, in_c / a.groups, a.size, a.size};
    const bool fold = a.batch_normalize && options_.fold_bn;
    const Folded folded = fold ? fold_batch_norm(w, a.filters) : Folded{};
    std::vector<std::string> inputs{in_[0], g_.floats(out_ + "_weight", fold ? folded.weights : w.weights, dims)};
    if (!a.batch_normalize) inputs.push_back(g_.floats(out_ + "_bias", w.biases, {a.filters}));
    if (fold) inputs.push_back(g_.floats(out_ + "_bias", folded.biases, {a.filters}));
    const std::string conv = g_.temp(out_ + "_conv");
    onnx::NodeProto& n = g_.node("Conv", inputs, conv);
    GraphWriter::attr(n, "kernel_shape", std::vector<int64_t>{a.size, a.size});
    GraphWriter::attr(n, "strides", std::vector<int64_t>{a.stride_y, a.stride_x});
    GraphWriter::attr(n, "pads", std::vector<int64_t>{a.padding, a.padding, a.padding, a.padding});
    GraphWriter::attr(n, "dilations", std::vector<int64_t>{a.dilation, a.dilation});
    GraphWriter::attr(n, "group", int64_t{a.groups});
    std::string x = conv;
    if (a.batch_normalize && !fold) x = batch_norm(w, conv, a.filters);
    activation(g_, a.activation, x, out_);
  }

  std::string batch_norm(const WeightArrays& w, const std::string& x, int64_t outputs) {
    const std::string bn = g_.temp(out_ + "_bn");
    onnx::NodeProto& n =
        g_.node("BatchNormalization",
                {x, g_.floats(out_ + "_bn_scale", w.scales, {outputs}), g_.floats(out_ + "_bn_bias", w.biases, {outputs}),
                 g_.floats(out_ + "_bn_mean", w.rolling_mean, {outputs}),
                 g_.floats(out_ + "_bn_var", w.rolling_variance, {outputs})},
                bn);
    GraphWriter::attr(n, "epsilon", kBatchNormEpsilon);
    return bn;
  }

  void emit_kind(const Layer& layer, const MaxpoolAttrs& a) {
    const Shape in = layer.input_shapes()[0];
    if (a.maxout) {
      // Output channel g is the max over channels k with k mod G == g:
      // [N, C/G, G, H, W], reduced over axis 1.
      if (in.c % a.out_channels != 0)
        unsupported(layer, "maxout with input channels " + std::to_string(in.c) + " not a multiple of out_channels " +
                               std::to_string(a.out_channels));
      const std::string grouped =
          g_.reshape(in_[0], {0, in.c / a.out_channels, a.out_channels, in.h, in.w}, g_.temp(out_ + "_grouped"));
      if (g_.opset() >= 18) {
        GraphWriter::attr(g_.node("ReduceMax", {grouped, g_.ints(out_ + "_axes", {1})}, out_), "keepdims", int64_t{0});
      } else {
        onnx::NodeProto& n = g_.node("ReduceMax", {grouped}, out_);
        GraphWriter::attr(n, "axes", std::vector<int64_t>{1});
        GraphWriter::attr(n, "keepdims", int64_t{0});
      }
      return;
    }
    // darknet pads padding/2 before and the rest after; padded cells never win.
    const int64_t before = a.padding / 2, after = a.padding - before;
    onnx::NodeProto& n = g_.node("MaxPool", {in_[0]}, out_);
    GraphWriter::attr(n, "kernel_shape", std::vector<int64_t>{a.size, a.size});
    GraphWriter::attr(n, "strides", std::vector<int64_t>{a.stride_y, a.stride_x});
    GraphWriter::attr(n, "pads", std::vector<int64_t>{before, before, after, after});
  }

  void emit_kind(const Layer&, const AvgpoolAttrs&) { g_.op("GlobalAveragePool", {in_[0]}, out_); }

  void emit_kind(const Layer& layer, const RouteAttrs& a) {
    std::vector<std::string> parts;
    for (size_t i = 0; i < in_.size(); ++i) {
      if (a.groups == 1) {
        parts.push_back(in_[i]);
        continue;
      }
      const int64_t chunk = layer.input_shapes()[i].c / a.groups;
      parts.push_back(g_.slice(in_[i], chunk * a.group_id, chunk * (a.group_id + 1), 1, g_.temp(out_ + "_group")));
    }
    if (parts.size() == 1) {
      g_.op("Identity", {parts[0]}, out_);
      return;
    }
    GraphWriter::attr(g_.node("Concat", parts, out_), "axis", int64_t{1});
  }

  // darknet's shortcut with mismatched shapes: the from's first min(C) channels,
  // sampled every `stride` cells, added to the previous layer's output.
  void emit_kind(const Layer& layer, const ShortcutAttrs& a) {
    const Shape out = layer.output_shape();
    std::string sum = in_[0];
    bool scaled = a.alpha == 1.f;
    for (size_t f = 1; f < in_.size(); ++f) {
      const Shape from = layer.input_shapes()[f];
      const bool smaller = from.w < out.w;
      if ((smaller || from.c < out.c) && a.alpha != 1.f)
        unsupported(layer, "shortcut with alpha != 1 onto cells or channels the from does not cover");
      const int64_t stride = smaller ? 1 : from.w / out.w, channels = std::min(from.c, out.c);
      std::string b = in_[f];
      if (stride != 1 || channels != from.c) b = g_.slice(b, 0, channels, stride, g_.temp(out_ + "_from"));
      if (smaller) b = spread(b, channels, from, out);
      if (channels < out.c) {
        const std::vector<int64_t> pads{0, 0, 0, 0, 0, out.c - channels, 0, 0};
        b = g_.op("Pad", {b, g_.ints(out_ + "_pads", pads)}, g_.temp(out_ + "_padded"));
      }
      if (a.beta != 1.f) b = g_.op("Mul", {b, g_.scalar(out_ + "_beta", a.beta)}, g_.temp(out_ + "_beta_from"));
      if (!scaled) {
        sum = g_.op("Mul", {sum, g_.scalar(out_ + "_alpha", a.alpha)}, g_.temp(out_ + "_alpha_prev"));
        scaled = true;
      }
      sum = g_.op("Add", {sum, b}, g_.temp(out_ + "_sum"));
    }
    activation(g_, a.activation, sum, out_);
  }

  // A from on a smaller map lands on every `sample`-th output cell (zeros
  // between): a depthwise ConvTranspose with a one-hot sample x sample kernel,
  // padded at the end where the output is not a whole multiple.
  std::string spread(const std::string& b, int64_t channels, const Shape& from, const Shape& out) {
    const int64_t sample = out.w / from.w;
    std::vector<float> kernel(size_t(channels * sample * sample), 0.f);
    for (int64_t c = 0; c < channels; ++c) kernel[size_t(c * sample * sample)] = 1.f;
    const std::string spread = g_.temp(out_ + "_spread");
    onnx::NodeProto& n =
        g_.node("ConvTranspose", {b, g_.floats(g_.temp(out_ + "_onehot"), kernel, {channels, 1, sample, sample})}, spread);
    GraphWriter::attr(n, "kernel_shape", std::vector<int64_t>{sample, sample});
    GraphWriter::attr(n, "strides", std::vector<int64_t>{sample, sample});
    GraphWriter::attr(n, "group", channels);
    const int64_t extra_h = out.h - from.h * sample, extra_w = out.w - from.w * sample;
    if (extra_h == 0 && extra_w == 0) return spread;
    return g_.op("Pad", {spread, g_.ints(out_ + "_spread_pads", {0, 0, 0, 0, 0, 0, extra_h, extra_w})},
                 g_.temp(out_ + "_spread_padded"));
  }

  void emit_kind(const Layer& layer, const UpsampleAttrs& a) {
    std::string x;
    if (a.downsample) {
      // The sum of each stride x stride block: the block mean times its size.
      x = g_.temp(out_ + "_mean");
      onnx::NodeProto& n = g_.node("AveragePool", {in_[0]}, x);
      GraphWriter::attr(n, "kernel_shape", std::vector<int64_t>{a.stride, a.stride});
      GraphWriter::attr(n, "strides", std::vector<int64_t>{a.stride, a.stride});
      x = g_.op("Mul", {x, g_.scalar(out_ + "_scale", a.scale * float(a.stride * a.stride))}, out_);
      return;
    }
    (void)layer;
    const std::string roi = g_.opset() >= 13 ? std::string() : g_.floats(g_.temp(out_ + "_roi"), {}, {0});
    const float s = float(a.stride);
    const std::string resized = a.scale == 1.f ? out_ : g_.temp(out_ + "_resized");
    onnx::NodeProto& n =
        g_.node("Resize", {in_[0], roi, g_.floats(g_.temp(out_ + "_scales"), {1.f, 1.f, s, s}, {4})}, resized);
    GraphWriter::attr(n, "mode", std::string("nearest"));
    GraphWriter::attr(n, "coordinate_transformation_mode", std::string("asymmetric"));
    GraphWriter::attr(n, "nearest_mode", std::string("floor"));
    if (a.scale != 1.f) g_.op("Mul", {resized, g_.scalar(out_ + "_scale", a.scale)}, out_);
  }

  void emit_kind(const Layer& layer, const ConnectedAttrs& a) {
    const WeightArrays& w = *layer.weight_arrays();
    const int64_t inputs = layer.input_shapes()[0].per_image();
    const bool fold = a.batch_normalize && options_.fold_bn;
    const Folded folded = fold ? fold_batch_norm(w, a.outputs) : Folded{};
    const std::string flat = g_.op("Flatten", {in_[0]}, g_.temp(out_ + "_flat"));
    std::vector<std::string> gemm_in{flat, g_.floats(out_ + "_weight", fold ? folded.weights : w.weights, {a.outputs, inputs})};
    if (!a.batch_normalize) gemm_in.push_back(g_.floats(out_ + "_bias", w.biases, {a.outputs}));
    if (fold) gemm_in.push_back(g_.floats(out_ + "_bias", folded.biases, {a.outputs}));
    const std::string gemm = g_.temp(out_ + "_gemm");
    GraphWriter::attr(g_.node("Gemm", gemm_in, gemm), "transB", int64_t{1});
    std::string x = gemm;
    if (a.batch_normalize && !fold) x = batch_norm(w, gemm, a.outputs);
    const std::string act = activation(g_, a.activation, x, g_.temp(out_ + "_act"));
    g_.reshape(act, {0, a.outputs, 1, 1}, out_);
  }

  void emit_kind(const Layer& layer, const SoftmaxAttrs& a) {
    const Shape in = layer.input_shapes()[0];
    const int64_t chunk = in.per_image() / a.groups;
    std::string x = g_.reshape(in_[0], {0, a.groups, chunk}, g_.temp(out_ + "_groups"));
    if (a.temperature != 1.f) x = g_.op("Mul", {x, g_.scalar(out_ + "_inv_t", 1.f / a.temperature)}, g_.temp(out_ + "_t"));
    const std::string soft = g_.temp(out_ + "_softmax");
    GraphWriter::attr(g_.node("Softmax", {x}, soft), "axis", int64_t{2});
    g_.reshape(soft, {0, in.c, in.h, in.w}, out_);
  }

  void emit_kind(const Layer&, const DropoutAttrs&) { g_.op("Identity", {in_[0]}, out_); }
  void emit_kind(const Layer&, const CostAttrs&) { g_.op("Identity", {in_[0]}, out_); }

  void emit_kind(const Layer&, const SamAttrs& a) {
    activation(g_, a.activation, g_.op("Mul", {in_[0], in_[1]}, g_.temp(out_ + "_product")), out_);
  }
  void emit_kind(const Layer&, const ScaleChannelsAttrs& a) {
    activation(g_, a.activation, g_.op("Mul", {in_[1], in_[0]}, g_.temp(out_ + "_scaled")), out_);
  }

  // As the [yolo] kernel: per anchor, logistic on x, y, objectness and
  // classes (unless new_coords), then x, y scaled by scale_x_y about 0.5.
  void emit_kind(const Layer& layer, const YoloAttrs& a) {
    const Shape in = layer.input_shapes()[0];
    const int64_t anchors = int64_t(a.mask.size()), entries = a.classes + 5;
    if (in.c != anchors * entries)
      unsupported(layer, "[yolo] input has " + std::to_string(in.c) + " channels, expected mask size x (classes + 5)");
    const std::string grid = g_.reshape(in_[0], {0, anchors, entries, in.h, in.w}, g_.temp(out_ + "_grid"));
    auto part = [&](int64_t begin, int64_t end, const std::string& base) {
      return g_.op("Slice",
                   {grid, g_.ints(base + "_starts", {begin}), g_.ints(base + "_ends", {end}), g_.ints(base + "_axes", {2})},
                   g_.temp(base));
    };
    std::string xy = part(0, 2, out_ + "_xy"), wh = part(2, 4, out_ + "_wh"), rest = part(4, entries, out_ + "_rest");
    if (!a.new_coords) {
      xy = g_.op("Sigmoid", {xy}, g_.temp(out_ + "_xy_sigmoid"));
      rest = g_.op("Sigmoid", {rest}, g_.temp(out_ + "_rest_sigmoid"));
    }
    if (a.scale_x_y != 1.f) {
      xy = g_.op("Mul", {xy, g_.scalar(out_ + "_sxy", a.scale_x_y)}, g_.temp(out_ + "_xy_scaled"));
      xy = g_.op("Add", {xy, g_.scalar(out_ + "_shift", -0.5f * (a.scale_x_y - 1.f))}, g_.temp(out_ + "_xy_shifted"));
    }
    const std::string joined = g_.temp(out_ + "_joined");
    GraphWriter::attr(g_.node("Concat", {xy, wh, rest}, joined), "axis", int64_t{2});
    g_.reshape(joined, {0, in.c, in.h, in.w}, out_);
  }

  GraphWriter& g_;
  const Network& net_;
  const OnnxExportOptions& options_;
  std::string out_;
  std::vector<std::string> in_;
};

// The decoding of src/detect/yolo_decode.cpp without the letterbox: for one
// [yolo] output, boxes [N, A*H*W, 4] and scores [N, A*H*W, classes].
struct DecodedYolo {
  std::string boxes, scores;
};

DecodedYolo yolo_decode_subgraph(GraphWriter& g, const Layer& layer, const std::string& yolo, const Shape& net_input) {
  const YoloAttrs& a = layer.attrs_as<YoloAttrs>();
  const Shape s = layer.output_shape();
  const int64_t anchors = int64_t(a.mask.size()), entries = a.classes + 5, cells = s.h * s.w;
  const int64_t rows = anchors * cells;
  const std::string base = yolo + "_decode";
  const std::string per_cell = g.reshape(yolo, {0, anchors, entries, cells}, g.temp(base + "_cells"));
  const std::string transposed = g.temp(base + "_t");
  GraphWriter::attr(g.node("Transpose", {per_cell}, transposed), "perm", std::vector<int64_t>{0, 1, 3, 2});
  const std::string table = g.reshape(transposed, {0, rows, entries}, g.temp(base + "_rows"));
  auto columns = [&](int64_t begin, int64_t end, const std::string& what) {
    return g.op("Slice",
                {table, g.ints(base + "_" + what + "_starts", {begin}), g.ints(base + "_" + what + "_ends", {end}),
                 g.ints(base + "_" + what + "_axes", {2})},
                g.temp(base + "_" + what));
  };
  std::vector<float> offsets(size_t(rows * 2)), sizes(size_t(rows * 2));
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t anchor = r / cells, cell = r % cells, mask = a.mask[size_t(anchor)];
    offsets[size_t(2 * r)] = float(cell % s.w);
    offsets[size_t(2 * r + 1)] = float(cell / s.w);
    sizes[size_t(2 * r)] = a.anchors[size_t(2 * mask)] / float(net_input.w);
    sizes[size_t(2 * r + 1)] = a.anchors[size_t(2 * mask + 1)] / float(net_input.h);
  }
  const std::string xy = g.op(
      "Mul",
      {g.op("Add", {columns(0, 2, "xy"), g.floats(g.temp(base + "_offsets"), offsets, {1, rows, 2})},
            g.temp(base + "_xy_cell")),
       g.floats(g.temp(base + "_cell_size"), {1.f / float(s.w), 1.f / float(s.h)}, {1, 1, 2})},
      g.temp(base + "_xy_rel"));
  std::string wh = columns(2, 4, "wh");
  if (a.new_coords)
    wh = g.op("Mul", {g.op("Mul", {wh, wh}, g.temp(base + "_wh2")), g.scalar(base + "_four", 4.f)}, g.temp(base + "_wh4"));
  else
    wh = g.op("Exp", {wh}, g.temp(base + "_wh_exp"));
  wh = g.op("Mul", {wh, g.floats(g.temp(base + "_anchors"), sizes, {1, rows, 2})}, g.temp(base + "_wh_rel"));
  const std::string boxes = g.temp(base + "_boxes");
  GraphWriter::attr(g.node("Concat", {xy, wh}, boxes), "axis", int64_t{2});
  const std::string scores =
      g.op("Mul", {columns(4, 5, "objectness"), columns(5, entries, "classes")}, g.temp(base + "_scores"));
  return {boxes, scores};
}

void add_output(onnx::GraphProto& graph, const std::string& name, std::vector<int64_t> dims, bool dynamic_batch) {
  onnx::ValueInfoProto& v = *graph.add_output();
  v.set_name(name);
  onnx::TypeProto_Tensor& t = *v.mutable_type()->mutable_tensor_type();
  t.set_elem_type(onnx::TensorProto::FLOAT);
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i == 0 && dynamic_batch)
      t.mutable_shape()->add_dim()->set_dim_param("batch");
    else
      t.mutable_shape()->add_dim()->set_dim_value(dims[i]);
  }
}

// Appends the boxes/scores outputs over every [yolo] layer.
void add_yolo_decode(GraphWriter& g, onnx::GraphProto& graph, const Network& net, bool dynamic_batch) {
  std::vector<std::string> boxes, scores;
  int64_t rows = 0, classes = -1;
  for (int i = 0; i < net.size(); ++i) {
    const YoloAttrs* a = yolo_attrs(net.layer(i));
    if (!a) continue;
    if (classes >= 0 && classes != a->classes)
      throw Error(net.layer(i).where() + ": ONNX export: --yolo-decode needs the same classes in every [yolo] layer");
    classes = a->classes;
    const Shape s = net.layer(i).output_shape();
    rows += int64_t(a->mask.size()) * s.h * s.w;
    const DecodedYolo d = yolo_decode_subgraph(g, net.layer(i), LayerEmitter::name_of(net, i), net.input_shape());
    boxes.push_back(d.boxes);
    scores.push_back(d.scores);
  }
  if (boxes.empty()) throw Error("ONNX export: --yolo-decode asked, but " + net.name() + " has no [yolo] layer");
  GraphWriter::attr(g.node("Concat", boxes, "boxes"), "axis", int64_t{1});
  GraphWriter::attr(g.node("Concat", scores, "scores"), "axis", int64_t{1});
  const int64_t batch = net.input_shape().n;
  add_output(graph, "boxes", {batch, rows, 4}, dynamic_batch);
  add_output(graph, "scores", {batch, rows, classes}, dynamic_batch);
}

void set_type(onnx::ValueInfoProto& v, const std::string& name, const Shape& s, bool dynamic_batch) {
  v.set_name(name);
  onnx::TypeProto_Tensor& t = *v.mutable_type()->mutable_tensor_type();
  t.set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto& shape = *t.mutable_shape();
  if (dynamic_batch)
    shape.add_dim()->set_dim_param("batch");
  else
    shape.add_dim()->set_dim_value(s.n);
  shape.add_dim()->set_dim_value(s.c);
  shape.add_dim()->set_dim_value(s.h);
  shape.add_dim()->set_dim_value(s.w);
}

// What ONNX cannot say but `cspnet import` needs to give back the same cfg:
// [net]'s training keys, [yolo] anchors and training keys, dropout and cost
// settings, as cfg text under "cspnet.net" and "cspnet.layer.<tensor>".
void add_cfg_metadata(onnx::ModelProto& model, const Network& net) {
  const CfgFile cfg = network_cfg(net);
  auto put = [&](const std::string& key, const CfgSection& section) {
    onnx::StringStringEntryProto& p = *model.add_metadata_props();
    p.set_key(key);
    p.set_value(format_cfg(CfgFile{"", {section}}));
  };
  put("cspnet.net", cfg.sections.front());
  for (int i = 0; i < net.size(); ++i) {
    const LayerKind kind = net.layer(i).kind();
    if (kind == LayerKind::yolo || kind == LayerKind::dropout || kind == LayerKind::cost)
      put("cspnet.layer." + LayerEmitter::name_of(net, i), cfg.sections[size_t(i) + 1]);
  }
}

// The IR version that goes with an opset (onnx/helper.py's table).
int64_t ir_version_for(int opset) {
  if (opset <= 12) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

}  // namespace

bool onnx_export_available() { return true; }

void export_onnx(const Network& net, const std::string& path, const OnnxExportOptions& options) {
  if (options.opset < kOnnxMinOpset || options.opset > kOnnxMaxOpset)
    throw Error("ONNX export: opset " + std::to_string(options.opset) + " is outside the supported " +
                std::to_string(kOnnxMinOpset) + ".." + std::to_string(kOnnxMaxOpset));
  onnx::ModelProto model;
  model.set_ir_version(ir_version_for(options.opset));
  model.set_producer_name("cspnet");
  model.set_producer_version("0.1.0");
  onnx::OperatorSetIdProto& opset = *model.add_opset_import();
  opset.set_domain("");
  opset.set_version(options.opset);
  onnx::GraphProto& graph = *model.mutable_graph();
  graph.set_name(net.name().empty() ? "cspnet" : net.name());
  set_type(*graph.add_input(), "input", net.input_shape(), options.dynamic_batch);

  GraphWriter writer(graph, options.opset);
  LayerEmitter emitter(writer, net, options);
  for (int i = 0; i < net.size(); ++i) emitter.emit(net.layer(i));
  std::vector<int> outputs = options.outputs;
  if (outputs.empty() && !options.yolo_decode) outputs = net.output_layers();
  for (int i : outputs) {
    if (i < 0 || i >= net.size())
      throw Error("ONNX export: output layer " + std::to_string(i) + " is not a layer of " + net.name());
    set_type(*graph.add_output(), LayerEmitter::name_of(net, i), net.layer(i).output_shape(), options.dynamic_batch);
  }
  if (options.yolo_decode) add_yolo_decode(writer, graph, net, options.dynamic_batch);
  add_cfg_metadata(model, net);

  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw Error(path + ": serialising the ONNX model failed (over 2 GiB?)");
  write_file_atomically(path, bytes);  // never a partial model at `path`
}

}  // namespace cspnet
