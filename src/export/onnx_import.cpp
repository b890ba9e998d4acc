// ONNX import: walks the nodes in their (required topological) order and maps
// each onto darknet cfg sections, as the exporter's inverse. Tensors map to
// Values: a layer's output, possibly seen through a transformation that only
// a later node turns into a layer (a channel Slice becomes a [route] with
// groups when a Concat or a layer reads it; Mul by a constant becomes a
// shortcut's alpha/beta or a softmax temperature). Activations are found by
// evaluating the elementwise nodes after a layer and comparing them with
// darknet's definitions, so Mish, swish or gelu written as a few nodes map as
// well as one op does. Shapes are inferred per layer by the layer factories
// themselves; the Network is built at the end from the cfg sections.
#include "cspnet/onnx_import.hpp"

#include <onnx/onnx.pb.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "cspnet/activation.hpp"
#include "cspnet/cfg.hpp"
#include "cspnet/error.hpp"
#include "cspnet/file_input.hpp"
#include "cspnet/layer.hpp"

namespace cspnet {
namespace {

// protobuf cannot read a message of 2 GiB or more.
constexpr uint64_t kMaxModelBytes = (uint64_t{2} << 30) - 1;
// An initialiser holds at most as many floats as a layer may (2^28).
constexpr int64_t kMaxInitialiserElements = int64_t{1} << 28;
// Nodes one activation may span (gelu written out is 9).
constexpr size_t kMaxActivationNodes = 24;
constexpr float kDarknetBatchNormEpsilon = 0.00001f;
constexpr int kNoLayer = -2;

struct Value {
  Value() = default;
  explicit Value(int of_layer) : layer(of_layer) {}
  int layer = kNoLayer;                     // -1: the network input
  bool flat = false;                        // [N, C*H*W] (Flatten, Gemm)
  std::vector<int64_t> reshaped;            // another Reshape target (batch first)
  int64_t begin = 0, end = -1;              // channels [begin, end) (Slice, Split); -1: all
  int64_t step = 1;                         // spatial step (Slice with steps)
  int64_t sample = 1;                       // one-hot ConvTranspose spread
  int64_t pad_c = 0, pad_h = 0, pad_w = 0;  // Pad at the end
  float scale = 1.f;                        // Mul by a scalar constant
};

struct PendingLayer {
  CfgSection section;
  Shape shape;
  std::vector<float> weights, biases, scales, mean, variance;
};

std::string text(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", v);
  return buffer;
}

void set_key(CfgSection& s, const std::string& key, const std::string& value) {
  for (CfgEntry& e : s.entries)
    if (e.key == key) {
      e.value = value;
      return;
    }
  s.entries.push_back({key, value, s.line, {}});
}

std::string get_key(const CfgSection& s, const std::string& key) {
  for (const CfgEntry& e : s.entries)
    if (e.key == key) return e.value;
  return "";
}

std::string type_name(int type) {
  if (!onnx::TensorProto::DataType_IsValid(type)) return "type " + std::to_string(type);
  return std::string(onnx::TensorProto::DataType_Name(onnx::TensorProto::DataType(type)));
}

// Elements of a tensor from its dims, overflow- and limit-checked.
int64_t element_count(const onnx::TensorProto& t, int64_t limit) {
  int64_t count = 1;
  for (int64_t d : t.dims()) {
    if (d < 0) throw Error("tensor '" + cfg_excerpt(t.name()) + "' has a negative dimension " + std::to_string(d));
    if (__builtin_mul_overflow(count, d, &count) || count > limit)
      throw Error("tensor '" + cfg_excerpt(t.name()) + "' has more than " + std::to_string(limit) + " elements");
  }
  return count;
}

void check_stored_here(const onnx::TensorProto& t) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    throw Error("tensor '" + cfg_excerpt(t.name()) + "' keeps its data in an external file (not supported)");
}

// The floats of a FLOAT tensor, sizes checked before anything is allocated.
std::vector<float> float_data(const onnx::TensorProto& t, int64_t limit = kMaxInitialiserElements) {
  check_stored_here(t);
  if (t.data_type() != onnx::TensorProto::FLOAT)
    throw Error("tensor '" + cfg_excerpt(t.name()) + "' is " + type_name(t.data_type()) + ", expected FLOAT");
  const int64_t count = element_count(t, limit);
  if (t.has_raw_data()) {
    if (uint64_t(t.raw_data().size()) != uint64_t(count) * sizeof(float))
      throw Error("tensor '" + cfg_excerpt(t.name()) + "' holds " + std::to_string(t.raw_data().size()) +
                  " bytes; its dims need " + std::to_string(count * int64_t(sizeof(float))));
    std::vector<float> v(static_cast<size_t>(count));
    if (count > 0) std::memcpy(v.data(), t.raw_data().data(), size_t(count) * sizeof(float));
    return v;
  }
  if (t.float_data_size() != count)
    throw Error("tensor '" + cfg_excerpt(t.name()) + "' holds " + std::to_string(t.float_data_size()) +
                " floats; its dims need " + std::to_string(count));
  return std::vector<float>(t.float_data().begin(), t.float_data().end());
}

// The integers of a small INT64/INT32 tensor (shapes, axes, pads).
std::vector<int64_t> int_data(const onnx::TensorProto& t, int64_t limit) {
  check_stored_here(t);
  const int64_t count = element_count(t, limit);
  const bool is64 = t.data_type() == onnx::TensorProto::INT64;
  if (!is64 && t.data_type() != onnx::TensorProto::INT32)
    throw Error("tensor '" + cfg_excerpt(t.name()) + "' is " + type_name(t.data_type()) + ", expected INT64");
  std::vector<int64_t> v(static_cast<size_t>(count));
  const size_t width = is64 ? 8 : 4;
  if (t.has_raw_data()) {
    if (uint64_t(t.raw_data().size()) != uint64_t(count) * width)
      throw Error("tensor '" + cfg_excerpt(t.name()) + "' holds " + std::to_string(t.raw_data().size()) +
                  " bytes; its dims need " + std::to_string(uint64_t(count) * width));
    for (size_t i = 0; i < size_t(count); ++i) {
      if (is64) {
        std::memcpy(&v[i], t.raw_data().data() + 8 * i, 8);
      } else {
        int32_t x = 0;
        std::memcpy(&x, t.raw_data().data() + 4 * i, 4);
        v[i] = x;
      }
    }
    return v;
  }
  const int stored = is64 ? t.int64_data_size() : t.int32_data_size();
  if (stored != count)
    throw Error("tensor '" + cfg_excerpt(t.name()) + "' holds " + std::to_string(stored) + " values; its dims need " +
                std::to_string(count));
  for (size_t i = 0; i < size_t(count); ++i) v[i] = is64 ? t.int64_data(int(i)) : t.int32_data(int(i));
  return v;
}

// Node attributes, type-checked.
const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}
int64_t attr_int(const onnx::NodeProto& n, const std::string& name, int64_t fallback) {
  const auto* a = find_attr(n, name);
  if (!a) return fallback;
  if (a->type() != onnx::AttributeProto::INT) throw Error("attribute '" + name + "' is not an integer");
  return a->i();
}
float attr_float(const onnx::NodeProto& n, const std::string& name, float fallback) {
  const auto* a = find_attr(n, name);
  if (!a) return fallback;
  if (a->type() != onnx::AttributeProto::FLOAT) throw Error("attribute '" + name + "' is not a float");
  return a->f();
}
std::string attr_string(const onnx::NodeProto& n, const std::string& name, const std::string& fallback) {
  const auto* a = find_attr(n, name);
  if (!a) return fallback;
  if (a->type() != onnx::AttributeProto::STRING) throw Error("attribute '" + name + "' is not a string");
  return a->s();
}
std::vector<int64_t> attr_ints(const onnx::NodeProto& n, const std::string& name, std::vector<int64_t> fallback) {
  const auto* a = find_attr(n, name);
  if (!a) return fallback;
  if (a->type() != onnx::AttributeProto::INTS) throw Error("attribute '" + name + "' is not a list of integers");
  return {a->ints().begin(), a->ints().end()};
}

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (int64_t x : v) {
    if (!s.empty()) s += ',';
    s += std::to_string(x);
  }
  return "[" + s + "]";
}

// Elementwise ops an activation may be written with, evaluated in double on
// sample points to tell which darknet activation a group of nodes computes.
const std::set<std::string>& elementwise_ops() {
  static const std::set<std::string> ops{"Identity", "Relu",        "LeakyRelu",  "Sigmoid", "Tanh", "Softplus", "Elu",
                                         "Selu",     "HardSigmoid", "HardSwish",  "Mish",    "Clip", "Mul",      "Add",
                                         "Sub",      "Div",         "Exp",        "Log",     "Neg",  "Abs",      "Sqrt",
                                         "Erf",      "Pow",         "Reciprocal", "Max",     "Min"};
  return ops;
}

double softplus(double x) { return x > 30 ? x : std::log1p(std::exp(x)); }

// One elementwise op on sample vectors; false for an attribute it cannot honour.
bool evaluate(const onnx::NodeProto& n, const std::vector<const std::vector<double>*>& in, std::vector<double>& out) {
  const std::string& op = n.op_type();
  const size_t count = in[0]->size();
  out.assign(count, 0.0);
  auto unary = [&](auto f) {
    for (size_t k = 0; k < count; ++k) out[k] = f((*in[0])[k]);
    return true;
  };
  auto binary = [&](auto f) {
    if (in.size() < 2) return false;
    out = *in[0];
    for (size_t i = 1; i < in.size(); ++i)
      for (size_t k = 0; k < count; ++k) out[k] = f(out[k], (*in[i])[k]);
    return true;
  };
  if (op == "Identity") return unary([](double x) { return x; });
  if (op == "Relu") return unary([](double x) { return x > 0 ? x : 0; });
  if (op == "LeakyRelu") {
    const double a = attr_float(n, "alpha", 0.01f);
    return unary([a](double x) { return x > 0 ? x : a * x; });
  }
  if (op == "Sigmoid") return unary([](double x) { return 1 / (1 + std::exp(-x)); });
  if (op == "Tanh") return unary([](double x) { return std::tanh(x); });
  if (op == "Softplus") return unary(softplus);
  if (op == "Mish") return unary([](double x) { return x * std::tanh(softplus(x)); });
  if (op == "Elu") {
    const double a = attr_float(n, "alpha", 1.f);
    return unary([a](double x) { return x > 0 ? x : a * (std::exp(x) - 1); });
  }
  if (op == "Selu") {
    const double a = attr_float(n, "alpha", 1.67326319217681884765625f),
                 g = attr_float(n, "gamma", 1.05070102214813232421875f);
    return unary([a, g](double x) { return x > 0 ? g * x : g * a * (std::exp(x) - 1); });
  }
  if (op == "HardSigmoid") {
    const double a = attr_float(n, "alpha", 0.2f), b = attr_float(n, "beta", 0.5f);
    return unary([a, b](double x) { return std::clamp(a * x + b, 0.0, 1.0); });
  }
  if (op == "HardSwish") return unary([](double x) { return x * std::clamp(x / 6 + 0.5, 0.0, 1.0); });
  if (op == "Exp") return unary([](double x) { return std::exp(x); });
  if (op == "Log") return unary([](double x) { return std::log(x); });
  if (op == "Neg") return unary([](double x) { return -x; });
  if (op == "Abs") return unary([](double x) { return std::fabs(x); });
  if (op == "Sqrt") return unary([](double x) { return std::sqrt(x); });
  if (op == "Erf") return unary([](double x) { return std::erf(x); });
  if (op == "Reciprocal") return unary([](double x) { return 1 / x; });
  if (op == "Clip") {
    // Inputs 1 and 2 are optional bounds (already resolved to samples).
    out = *in[0];
    for (size_t k = 0; k < count; ++k) {
      if (in.size() > 1 && in[1]) out[k] = std::max(out[k], (*in[1])[k]);
      if (in.size() > 2 && in[2]) out[k] = std::min(out[k], (*in[2])[k]);
    }
    return true;
  }
  for (const auto* v : in)
    if (!v) return false;
  if (op == "Mul") return binary([](double a, double b) { return a * b; });
  if (op == "Add") return binary([](double a, double b) { return a + b; });
  if (op == "Sub") return binary([](double a, double b) { return a - b; });
  if (op == "Div") return binary([](double a, double b) { return a / b; });
  if (op == "Pow") return binary([](double a, double b) { return std::pow(a, b); });
  if (op == "Max") return binary([](double a, double b) { return std::max(a, b); });
  if (op == "Min") return binary([](double a, double b) { return std::min(a, b); });
  return false;
}

const std::vector<double>& sample_points() {
  static const std::vector<double> points = [] {
    std::vector<double> p;
    for (double x = -7.5; x <= 7.5; x += 0.25) p.push_back(x);
    for (double x : {-0.01, 0.01, 0.3, -0.3}) p.push_back(x);
    return p;
  }();
  return points;
}

// The darknet activation the samples follow, if any.
std::optional<Activation> identify(const std::vector<double>& y) {
  constexpr Activation kAll[] = {Activation::linear, Activation::logistic, Activation::relu,      Activation::relu6,
                                 Activation::leaky,  Activation::tanh,     Activation::elu,       Activation::selu,
                                 Activation::mish,   Activation::swish,    Activation::hard_mish, Activation::gelu};
  const std::vector<double>& x = sample_points();
  for (Activation act : kAll) {
    bool same = true;
    for (size_t k = 0; k < x.size() && same; ++k) {
      const double want = activate(act, x[k]);
      same = std::isfinite(y[k]) && std::fabs(y[k] - want) <= 1e-4 * std::max(1.0, std::fabs(want));
    }
    if (same) return act;
  }
  return std::nullopt;
}

bool takes_activation(const std::string& section) {
  return section == "convolutional" || section == "connected" || section == "shortcut" || section == "sam" ||
         section == "scale_channels";
}

class Importer {
 public:
  Importer(const onnx::ModelProto& model, std::string path)
      : model_(model), graph_(model.graph()), path_(std::move(path)) {}

  OnnxImport run() {
    check_opset();
    read_metadata();
    index_graph();
    read_input();
    refuse_yolo_decode();
    for (int i = 0; i < graph_.node_size(); ++i) {
      if (done_[size_t(i)]) continue;
      current_ = i;
      try {
        convert(graph_.node(i));
      } catch (const Error& e) {
        throw Error(where(i) + ": " + e.what());
      }
      done_[size_t(i)] = true;
    }
    finish_outputs();
    return build();
  }

 private:
  // ---- the graph's facts ----------------------------------------------------

  std::string where(int node) const {
    const onnx::NodeProto& n = graph_.node(node);
    const std::string name = n.name().empty() && n.output_size() > 0 ? n.output(0) : n.name();
    return path_ + ": node #" + std::to_string(node) + " '" + cfg_excerpt(name) + "' (" + cfg_excerpt(n.op_type()) +
           ")";
  }

  void check_opset() {
    if (!model_.has_graph() || graph_.node_size() == 0)
      throw Error(path_ + ": not an ONNX model with a graph (no nodes)");
    int opset = -1;
    for (const auto& o : model_.opset_import())
      if (o.domain().empty() || o.domain() == "ai.onnx") opset = int(std::clamp<int64_t>(o.version(), -1, 1000));
    if (opset < 11 || opset > 21)
      throw Error(path_ + ": ONNX opset " + std::to_string(opset) + " is outside the supported 11..21");
    opset_ = opset;
  }

  void read_metadata() {
    for (const auto& p : model_.metadata_props()) metadata_[p.key()] = p.value();
  }

  // Every input a node reads must exist before it (ONNX's topological order):
  // this also rules out cycles. Names are written once.
  void index_graph() {
    std::unordered_set<std::string> defined;
    for (const auto& t : graph_.initializer()) {
      if (!defined.insert(t.name()).second)
        throw Error(path_ + ": initialiser '" + cfg_excerpt(t.name()) + "' appears twice");
      constants_[t.name()] = &t;
    }
    for (const auto& in : graph_.input()) defined.insert(in.name());
    for (int i = 0; i < graph_.node_size(); ++i) {
      const onnx::NodeProto& n = graph_.node(i);
      index_of_[&n] = i;
      if (n.output_size() < 1 || n.output(0).empty()) throw Error(where(i) + ": a node without an output");
      // find_attr takes the first of a name, another reader may take the last:
      // a repeated attribute has no one meaning.
      std::unordered_set<std::string> attributes;
      for (const auto& a : n.attribute())
        if (!attributes.insert(a.name()).second)
          throw Error(where(i) + ": attribute '" + cfg_excerpt(a.name()) + "' appears twice");
      for (int k = 0; k < n.input_size(); ++k) {
        const std::string& name = n.input(k);
        if (name.empty()) continue;
        if (!defined.count(name))
          throw Error(
              where(i) + ": reads '" + cfg_excerpt(name) +
              "', which is no initialiser, graph input or earlier node's output (an undefined tensor or a cycle)");
        consumers_[name].push_back(i);
      }
      for (const std::string& out : n.output()) {
        if (out.empty()) continue;
        if (!defined.insert(out).second)
          throw Error(where(i) + ": writes '" + cfg_excerpt(out) + "', which exists already");
        producer_[out] = i;
      }
    }
    // Without outputs nothing says which tensor is the network's result.
    if (graph_.output_size() == 0)
      throw Error(path_ + ": the graph declares no outputs; expected at least one graph output (the tensor the "
                          "network computes)");
    for (const auto& o : graph_.output()) {
      if (!defined.count(o.name()))
        throw Error(path_ + ": graph output '" + cfg_excerpt(o.name()) + "' is never computed");
      outputs_.insert(o.name());
    }
    done_.assign(size_t(graph_.node_size()), false);
  }

  // One float NCHW input with fixed C, H, W; a symbolic batch means batch 1.
  void read_input() {
    const onnx::ValueInfoProto* input = nullptr;
    for (const auto& in : graph_.input()) {
      if (constants_.count(in.name())) continue;  // IR < 4 lists initialisers as inputs
      if (input)
        throw Error(path_ + ": more than one graph input ('" + cfg_excerpt(input->name()) + "', '" +
                    cfg_excerpt(in.name()) + "'); cspnet networks have one");
      input = &in;
    }
    if (!input) throw Error(path_ + ": the graph has no input");
    const std::string name = "graph input '" + cfg_excerpt(input->name()) + "'";
    if (!input->type().has_tensor_type() || input->type().tensor_type().elem_type() != onnx::TensorProto::FLOAT)
      throw Error(path_ + ": " + name + " is not a float tensor");
    const auto& shape = input->type().tensor_type().shape();
    if (shape.dim_size() != 4)
      throw Error(path_ + ": " + name + " has rank " + std::to_string(shape.dim_size()) + ", expected N x C x H x W");
    int64_t dims[4] = {1, 0, 0, 0};
    for (int k = 0; k < 4; ++k) {
      const auto& d = shape.dim(k);
      if (k == 0 && !d.has_dim_value()) continue;  // dynamic batch
      if (!d.has_dim_value() || d.dim_value() <= 0 || d.dim_value() > (int64_t{1} << 30))
        throw Error(path_ + ": " + name + " dimension " + std::to_string(k) + " is not a positive size up to 2^30");
      dims[k] = d.dim_value();
    }
    int64_t per_image = 0, total = 0;
    const bool overflow = __builtin_mul_overflow(dims[1], dims[2], &per_image) ||
                          __builtin_mul_overflow(per_image, dims[3], &per_image) ||
                          __builtin_mul_overflow(per_image, dims[0], &total);
    input_ = Shape{dims[0], dims[1], dims[2], dims[3]};
    if (overflow || per_image > kMaxElementsPerImage || total > kMaxTensorElements || dims[0] > 4096 ||
        !input_.within_limits())
      throw Error(path_ + ": " + name + " " + join({dims[0], dims[1], dims[2], dims[3]}) +
                  " exceeds cspnet's tensor limits");
    values_[input->name()] = Value{-1};
  }

  void refuse_yolo_decode() {
    for (const auto& o : graph_.output())
      if ((o.name() == "boxes" || o.name() == "scores") && producer_.count(o.name()) &&
          graph_.node(producer_.at(o.name())).op_type() == "Concat")
        throw Error(
            path_ + ": output '" + o.name() +
            "' is a --yolo-decode subgraph, which does not map back to [yolo] layers: export without --yolo-decode");
  }

  const onnx::TensorProto* constant(const std::string& name) const {
    auto it = constants_.find(name);
    return it == constants_.end() ? nullptr : it->second;
  }
  // A FLOAT constant of one element (any rank); nullopt for anything else.
  std::optional<float> scalar(const std::string& name) const {
    const onnx::TensorProto* t = constant(name);
    if (!t || t->data_type() != onnx::TensorProto::FLOAT) return std::nullopt;
    for (int64_t d : t->dims())
      if (d != 1) return std::nullopt;
    return float_data(*t, 1).at(0);
  }
  std::vector<float> floats(const std::string& name) const {
    const onnx::TensorProto* t = constant(name);
    if (!t) throw Error("'" + cfg_excerpt(name) + "' is not an initialiser");
    return float_data(*t);
  }
  std::vector<int64_t> dims_of(const std::string& name) const {
    const onnx::TensorProto* t = constant(name);
    if (!t) throw Error("'" + cfg_excerpt(name) + "' is not an initialiser");
    return {t->dims().begin(), t->dims().end()};
  }
  std::vector<int64_t> ints(const std::string& name, int64_t limit = 16) const {
    const onnx::TensorProto* t = constant(name);
    if (!t) throw Error("'" + cfg_excerpt(name) + "' is not a constant (shapes, axes and pads must be)");
    return int_data(*t, limit);
  }
  static std::string input(const onnx::NodeProto& n, int k) { return k < n.input_size() ? n.input(k) : std::string(); }

  const Value& value(const std::string& name) const {
    auto it = values_.find(name);
    if (it != values_.end()) return it->second;
    if (constants_.count(name))
      throw Error("reads the constant '" + cfg_excerpt(name) + "' where a layer output is expected");
    throw Error("reads '" + cfg_excerpt(name) + "', which no mapped node produces");
  }
  const std::vector<int>& consumers(const std::string& name) const {
    static const std::vector<int> none;
    auto it = consumers_.find(name);
    return it == consumers_.end() ? none : it->second;
  }
  // The one node reading `name` (and nothing else: not a graph output).
  const onnx::NodeProto* sole_consumer(const std::string& name, const char* op) const {
    const std::vector<int>& c = consumers(name);
    if (c.size() != 1 || outputs_.count(name) || done_[size_t(c[0])]) return nullptr;
    const onnx::NodeProto& n = graph_.node(c[0]);
    return n.op_type() == op ? &n : nullptr;
  }

  // ---- layers ----------------------------------------------------------------

  int last() const { return int(layers_.size()) - 1; }
  Shape shape_of(int layer) const { return layer < 0 ? input_ : layers_[size_t(layer)].shape; }
  int64_t channels_of(const Value& v) const { return shape_of(v.layer).c; }
  int64_t end_of(const Value& v) const { return v.end < 0 ? channels_of(v) : v.end; }

  // Appends a section and infers its output shape through the layer's own
  // factory (which validates every key against the input shapes).
  int add_layer(const std::string& kind, const std::vector<std::pair<std::string, std::string>>& entries) {
    PendingLayer p;
    p.section.name = kind;
    p.section.line = current_;
    for (const auto& [k, v] : entries) p.section.entries.push_back({k, v, current_, {}});
    const int index = int(layers_.size());
    Options options(p.section, path_);
    LayerSite site{options, index};
    std::unique_ptr<Layer> layer = make_layer(kind, site);
    layer->set_site(index, options.where());
    if (layer->inputs().empty()) layer->set_inputs({index - 1});
    std::vector<Shape> shapes;
    for (int in : layer->inputs()) shapes.push_back(shape_of(in));
    Shape out = layer->infer(shapes);
    out.n = input_.n;
    p.shape = checked_output(*layer, out);
    layers_.push_back(std::move(p));
    return index;
  }

  // darknet layers read the previous layer: a [route] first when `layer` is not it.
  void reading(int layer) {
    if (layer == last()) return;
    if (layer < 0)
      throw Error("reads the network input after other layers (a darknet [route] cannot reference the input)");
    add_layer("route", {{"layers", std::to_string(layer)}});
  }

  bool is_chunk(const Value& v) const {
    const int64_t c = channels_of(v), len = end_of(v) - v.begin;
    return v.step == 1 && v.sample == 1 && v.pad_c == 0 && v.pad_h == 0 && v.pad_w == 0 && v.reshaped.empty() &&
           len > 0 && c % len == 0 && v.begin % len == 0;
  }
  bool untransformed(const Value& v) const { return is_chunk(v) && v.begin == 0 && end_of(v) == channels_of(v); }

  // The layer holding `v` as is: a channel chunk becomes a [route] with groups.
  int layer_of(const Value& v) {
    if (v.layer == kNoLayer) throw Error("reads a tensor that maps to no layer");
    if (v.scale != 1.f) throw Error("reads a product with a constant (Mul) that maps to no cspnet layer here");
    if (untransformed(v)) return v.layer;
    if (!is_chunk(v)) throw Error("reads a sliced, padded or reshaped tensor that maps to no cspnet layer here");
    if (v.layer < 0)
      throw Error("a channel slice of the network input does not map (a [route] cannot reference the input)");
    const int64_t len = end_of(v) - v.begin;
    const auto key = std::make_tuple(v.layer, channels_of(v) / len, v.begin / len);
    if (auto it = chunks_.find(key); it != chunks_.end()) return it->second;
    const int route = add_layer("route", {{"layers", std::to_string(v.layer)},
                                          {"groups", std::to_string(std::get<1>(key))},
                                          {"group_id", std::to_string(std::get<2>(key))}});
    chunks_[key] = route;
    return route;
  }

  void produce(const onnx::NodeProto& n, Value v) {
    if (n.output_size() < 1 || n.output(0).empty()) throw Error("has no output");
    values_[n.output(0)] = std::move(v);
  }
  void mark_done(const onnx::NodeProto& n) { done_[size_t(index_of_.at(&n))] = true; }

  // ---- node conversion ---------------------------------------------------------

  void convert(const onnx::NodeProto& n) {
    if (!n.domain().empty() && n.domain() != "ai.onnx")
      throw Error("op domain '" + cfg_excerpt(n.domain()) + "' is not ONNX's; it maps onto no cspnet layer");
    const std::string& op = n.op_type();
    if (op == "Constant") return constant_node(n);
    if (op == "Conv") return conv(n);
    if (op == "Gemm") return gemm(n);
    if (op == "MaxPool") return maxpool(n);
    if (op == "AveragePool") return average_pool(n);
    if (op == "GlobalAveragePool") return global_average(n);
    if (op == "ReduceMean") return reduce_mean(n);
    if (op == "ReduceMax") return maxout(n);
    if (op == "Concat") return concat(n);
    if (op == "Slice") return slice(n);
    if (op == "Split") return split(n);
    if (op == "Pad") return pad(n);
    if (op == "ConvTranspose") return spread(n);
    if (op == "Add") return add(n);
    if (op == "Mul") return mul(n);
    if (op == "Resize") return resize(n);
    if (op == "Flatten") return flatten(n);
    if (op == "Reshape") return reshape(n);
    if (op == "Softmax") return softmax(n);
    if (op == "Identity" || op == "Dropout") return identity(n);
    if (elementwise_ops().count(op))
      throw Error(
          "elementwise nodes that compute none of darknet's activations, or one that follows no layer which "
          "can take it (Conv, Gemm, Add, Mul) alone; cspnet has no standalone activation layer");
    throw Error("op " + cfg_excerpt(op) + " maps onto no cspnet layer");
  }

  void constant_node(const onnx::NodeProto& n) {
    const auto* a = find_attr(n, "value");
    if (!a || a->type() != onnx::AttributeProto::TENSOR)
      throw Error("only Constant with a 'value' tensor is supported");
    if (n.output_size() != 1) throw Error("a Constant has one output");
    constants_[n.output(0)] = &a->t();
  }

  void conv(const onnx::NodeProto& n) {
    const Value& x = value(input(n, 0));
    const int src = layer_of(x);
    const std::vector<int64_t> w = dims_of(input(n, 1));
    if (w.size() != 4 || w[2] != w[3] || w[0] <= 0 || w[1] <= 0 || w[2] <= 0)
      throw Error("weight dims " + join(w) + " are not [filters, channels/groups, k, k] with a square kernel");
    const int64_t group = attr_int(n, "group", 1), in_c = shape_of(src).c;
    if (group <= 0 || in_c % group != 0 || w[1] != in_c / group || w[0] % group != 0)
      throw Error("weight dims " + join(w) + " with group " + std::to_string(group) + " do not fit an input of " +
                  std::to_string(in_c) + " channels");
    if (auto ks = attr_ints(n, "kernel_shape", {w[2], w[3]}); ks != std::vector<int64_t>{w[2], w[3]})
      throw Error("kernel_shape " + join(ks) + " differs from the weight's " + join({w[2], w[3]}));
    const std::vector<int64_t> strides = attr_ints(n, "strides", {1, 1}), dil = attr_ints(n, "dilations", {1, 1});
    const std::vector<int64_t> pads = symmetric_pads(n);
    if (strides.size() != 2 || dil.size() != 2 || dil[0] != dil[1])
      throw Error("strides " + join(strides) + " / dilations " + join(dil) + " do not map (darknet: one dilation)");
    std::vector<float> weights = floats(input(n, 1));
    std::vector<float> bias = input(n, 2).empty() ? std::vector<float>(size_t(w[0]), 0.f) : floats(input(n, 2));
    if (int64_t(bias.size()) != w[0])
      throw Error("bias has " + std::to_string(bias.size()) + " values for " + std::to_string(w[0]) + " filters");
    reading(src);
    const int layer = add_layer("convolutional", {{"filters", std::to_string(w[0])},
                                                  {"size", std::to_string(w[2])},
                                                  {"stride_x", std::to_string(strides[1])},
                                                  {"stride_y", std::to_string(strides[0])},
                                                  {"padding", std::to_string(pads[0])},
                                                  {"groups", std::to_string(group)},
                                                  {"dilation", std::to_string(dil[0])},
                                                  {"batch_normalize", "0"},
                                                  {"activation", "linear"}});
    layers_[size_t(layer)].weights = std::move(weights);
    layers_[size_t(layer)].biases = std::move(bias);
    finish_weighted(n, layer, false);
  }

  // Conv/ConvTranspose/pool pads: darknet pads the same on every side.
  std::vector<int64_t> symmetric_pads(const onnx::NodeProto& n) const {
    const std::string auto_pad = attr_string(n, "auto_pad", "NOTSET");
    if (auto_pad != "NOTSET" && auto_pad != "VALID")
      throw Error("auto_pad " + cfg_excerpt(auto_pad) + " is not supported");
    const std::vector<int64_t> pads = attr_ints(n, "pads", {0, 0, 0, 0});
    if (pads.size() != 4 || pads[0] != pads[1] || pads[0] != pads[2] || pads[0] != pads[3] || pads[0] < 0)
      throw Error("pads " + join(pads) + " are not one non-negative padding on every side");
    return pads;
  }

  // After a Conv or Gemm: a BatchNormalization reading only it, then an activation.
  void finish_weighted(const onnx::NodeProto& n, int layer, bool flat) {
    std::string out = n.output(0);
    if (const onnx::NodeProto* bn = sole_consumer(out, "BatchNormalization"); bn && input(*bn, 0) == out) {
      absorb_batch_norm(*bn, layer);
      mark_done(*bn);
      out = bn->output(0);
    }
    Value v{layer};
    v.flat = flat;
    values_[out] = v;
    absorb_activation(out, layer);
  }

  // darknet's batch norm has epsilon 1e-5 and no conv bias: a different
  // epsilon moves into the variance, the conv bias into the mean.
  void absorb_batch_norm(const onnx::NodeProto& bn, int layer) {
    PendingLayer& p = layers_[size_t(layer)];
    const size_t filters = p.biases.size();
    if (attr_int(bn, "training_mode", 0) != 0) throw Error("BatchNormalization in training mode does not map");
    if (bn.output_size() > 1) throw Error("BatchNormalization with running-statistics outputs does not map");
    std::vector<float> arrays[4];
    for (int k = 0; k < 4; ++k) {
      arrays[k] = floats(input(bn, k + 1));
      if (arrays[k].size() != filters)
        throw Error("BatchNormalization input " + std::to_string(k + 1) + " has " + std::to_string(arrays[k].size()) +
                    " values for " + std::to_string(filters) + " channels");
    }
    const float epsilon = attr_float(bn, "epsilon", 1e-5f);
    for (size_t c = 0; c < filters; ++c) {
      arrays[2][c] -= p.biases[c];
      arrays[3][c] += epsilon - kDarknetBatchNormEpsilon;
      if (!(arrays[3][c] >= 0.f)) throw Error("BatchNormalization variance + epsilon is below darknet's epsilon 1e-5");
    }
    p.scales = std::move(arrays[0]);
    p.biases = std::move(arrays[1]);
    p.mean = std::move(arrays[2]);
    p.variance = std::move(arrays[3]);
    set_key(p.section, "batch_normalize", "1");
  }

  // The elementwise nodes after `x` (layer `layer`'s output) that compute one
  // darknet activation: every reader of x and of their intermediate tensors
  // inside the group. The largest such group wins; none leaves x as it is.
  void absorb_activation(const std::string& x, int layer) {
    const CfgSection& section = layers_[size_t(layer)].section;
    if (outputs_.count(x) || !takes_activation(section.name) || get_key(section, "activation") != "linear") return;
    std::vector<int> closure;
    std::unordered_set<std::string> frontier{x};
    std::priority_queue<int, std::vector<int>, std::greater<int>> queue;
    std::unordered_set<int> seen;
    for (int c : consumers(x))
      if (seen.insert(c).second) queue.push(c);
    while (!queue.empty() && closure.size() < kMaxActivationNodes) {
      const int i = queue.top();
      queue.pop();
      const onnx::NodeProto& n = graph_.node(i);
      // An exported [route]/[dropout]/[cost] kept as Identity is a layer of its own.
      if (done_[size_t(i)] || !elementwise_ops().count(n.op_type()) || n.output_size() != 1 ||
          !exported_kind(n.output(0)).empty())
        continue;
      bool reads_frontier = false, closed = true;
      for (const std::string& in : n.input()) {
        if (in.empty()) continue;
        if (frontier.count(in))
          reads_frontier = true;
        else if (!scalar(in))
          closed = false;
      }
      if (!reads_frontier || !closed) continue;
      closure.push_back(i);
      frontier.insert(n.output(0));
      for (int c : consumers(n.output(0)))
        if (seen.insert(c).second) queue.push(c);
    }
    for (auto it = closure.rbegin(); it != closure.rend(); ++it) {
      const std::vector<int> group = ancestors(*it, x, closure);
      if (!self_contained(group, x, graph_.node(*it).output(0))) continue;
      const std::optional<Activation> act = evaluate_group(group, x);
      if (!act) continue;
      PendingLayer& p = layers_[size_t(layer)];
      if (*act != Activation::linear) set_key(p.section, "activation", activation_name(*act));
      for (int i : group) done_[size_t(i)] = true;
      values_[graph_.node(*it).output(0)] = values_.at(x);
      return;
    }
  }

  // The closure nodes `node` depends on (itself included), in node order.
  std::vector<int> ancestors(int node, const std::string& x, const std::vector<int>& closure) const {
    std::set<int> group;
    std::vector<int> stack{node};
    while (!stack.empty()) {
      const int i = stack.back();
      stack.pop_back();
      if (!group.insert(i).second) continue;
      for (const std::string& in : graph_.node(i).input()) {
        if (in.empty() || in == x) continue;
        auto p = producer_.find(in);
        if (p != producer_.end() && std::find(closure.begin(), closure.end(), p->second) != closure.end())
          stack.push_back(p->second);
      }
    }
    return {group.begin(), group.end()};
  }

  // Whether x and every tensor inside the group except `out` are read only
  // inside it (and are not graph outputs).
  bool self_contained(const std::vector<int>& group, const std::string& x, const std::string& out) const {
    auto inside = [&](const std::string& t) {
      if (outputs_.count(t)) return false;
      for (int c : consumers(t))
        if (!std::binary_search(group.begin(), group.end(), c)) return false;
      return true;
    };
    if (!inside(x)) return false;
    for (int i : group)
      if (graph_.node(i).output(0) != out && !inside(graph_.node(i).output(0))) return false;
    return true;
  }

  std::optional<Activation> evaluate_group(const std::vector<int>& group, const std::string& x) const {
    std::unordered_map<std::string, std::vector<double>> samples;
    samples[x] = sample_points();
    std::vector<double> result;
    for (int i : group) {
      const onnx::NodeProto& n = graph_.node(i);
      std::vector<const std::vector<double>*> in;
      for (const std::string& name : n.input()) {
        if (name.empty()) {
          in.push_back(nullptr);
          continue;
        }
        if (!samples.count(name)) {
          const std::optional<float> c = scalar(name);
          if (!c) return std::nullopt;
          samples[name].assign(sample_points().size(), double(*c));
        }
        in.push_back(&samples.at(name));
      }
      if (in.empty() || !in[0]) return std::nullopt;
      std::vector<double> out;
      if (!evaluate(n, in, out)) return std::nullopt;
      result = out;
      samples[n.output(0)] = std::move(out);
    }
    return identify(result);
  }

  void gemm(const onnx::NodeProto& n) {
    const Value& x = value(input(n, 0));
    const int src = layer_of(x);
    if (attr_int(n, "transA", 0) != 0 || attr_float(n, "alpha", 1.f) != 1.f || attr_float(n, "beta", 1.f) != 1.f)
      throw Error("Gemm with transA or alpha/beta other than 1 does not map onto [connected]");
    const std::vector<int64_t> w = dims_of(input(n, 1));
    const bool trans_b = attr_int(n, "transB", 0) != 0;
    const int64_t inputs = shape_of(src).per_image();
    if (w.size() != 2 || w[trans_b ? 1 : 0] != inputs || w[trans_b ? 0 : 1] <= 0)
      throw Error("weight dims " + join(w) + " do not fit an input of " + std::to_string(inputs) + " values");
    const int64_t outputs = w[trans_b ? 0 : 1];
    std::vector<float> b = floats(input(n, 1)), weights = b;
    if (!trans_b)  // [inputs, outputs] -> darknet's [outputs][inputs]
      for (int64_t o = 0; o < outputs; ++o)
        for (int64_t i = 0; i < inputs; ++i) weights[size_t(o * inputs + i)] = b[size_t(i * outputs + o)];
    std::vector<float> bias = input(n, 2).empty() ? std::vector<float>(size_t(outputs), 0.f) : floats(input(n, 2));
    if (int64_t(bias.size()) != outputs)
      throw Error("bias has " + std::to_string(bias.size()) + " values for " + std::to_string(outputs) + " outputs");
    reading(src);
    const int layer = add_layer(
        "connected", {{"output", std::to_string(outputs)}, {"batch_normalize", "0"}, {"activation", "linear"}});
    layers_[size_t(layer)].weights = std::move(weights);
    layers_[size_t(layer)].biases = std::move(bias);
    finish_weighted(n, layer, true);
  }

  void maxpool(const onnx::NodeProto& n) {
    const int src = layer_of(value(input(n, 0)));
    const std::vector<int64_t> k = attr_ints(n, "kernel_shape", {}), s = attr_ints(n, "strides", {1, 1});
    const std::vector<int64_t> pads = attr_ints(n, "pads", {0, 0, 0, 0});
    if (k.size() != 2 || k[0] != k[1] || s.size() != 2) throw Error("kernel_shape " + join(k) + " is not square 2-D");
    if (attr_int(n, "ceil_mode", 0) != 0 || attr_ints(n, "dilations", {1, 1}) != std::vector<int64_t>{1, 1} ||
        attr_string(n, "auto_pad", "NOTSET") != "NOTSET" || (n.output_size() > 1 && !n.output(1).empty()))
      throw Error("ceil_mode, dilations, auto_pad or Indices do not map onto darknet's [maxpool]");
    // darknet pads padding/2 before and the rest after.
    if (pads.size() != 4 || pads[0] != pads[1] || pads[2] != pads[3] || pads[0] < 0 || pads[0] > 4096 ||
        pads[2] - pads[0] < 0 || pads[2] - pads[0] > 1)
      throw Error("pads " + join(pads) + " are not darknet's padding/2 before and the rest after");
    reading(src);
    const int layer = add_layer("maxpool", {{"size", std::to_string(k[0])},
                                            {"stride_x", std::to_string(s[1])},
                                            {"stride_y", std::to_string(s[0])},
                                            {"padding", std::to_string(pads[0] + pads[2])}});
    produce(n, Value{layer});
  }

  void global_average(const onnx::NodeProto& n) {
    const int src = layer_of(value(input(n, 0)));
    reading(src);
    produce(n, Value{add_layer("avgpool", {})});
  }

  void reduce_mean(const onnx::NodeProto& n) {
    std::vector<int64_t> axes = attr_ints(n, "axes", {});
    if (axes.empty() && !input(n, 1).empty()) axes = ints(input(n, 1));
    for (int64_t& a : axes) a = a < 0 ? a + 4 : a;
    std::sort(axes.begin(), axes.end());
    if (axes != std::vector<int64_t>{2, 3} || attr_int(n, "keepdims", 1) != 1)
      throw Error("ReduceMean maps onto [avgpool] only over axes 2, 3 with keepdims");
    global_average(n);
  }

  // kernel = stride, no pads: darknet's downsampling [upsample] (stride < 0),
  // the block sum times scale; a kernel over the whole map: [avgpool].
  void average_pool(const onnx::NodeProto& n) {
    const int src = layer_of(value(input(n, 0)));
    const std::vector<int64_t> k = attr_ints(n, "kernel_shape", {}), s = attr_ints(n, "strides", {1, 1});
    const Shape in = shape_of(src);
    if (k.size() != 2 || attr_ints(n, "pads", {0, 0, 0, 0}) != std::vector<int64_t>{0, 0, 0, 0} ||
        attr_int(n, "ceil_mode", 0) != 0 || attr_string(n, "auto_pad", "NOTSET") != "NOTSET")
      throw Error("AveragePool maps only without pads or ceil_mode");
    if (k[0] == in.h && k[1] == in.w) return global_average(n);
    if (k[0] != k[1] || s != k || k[0] < 1 || k[0] > in.h || k[0] > in.w)
      throw Error("AveragePool maps only with kernel = stride (square) or over the whole map");
    reading(src);
    const int layer =
        add_layer("upsample", {{"stride", std::to_string(-k[0])}, {"scale", text(1.0 / double(k[0] * k[0]))}});
    produce(n, Value{layer});
    absorb_scale(n.output(0), layer, 1.f / float(k[0] * k[0]));
  }

  // A Mul by a constant that only the upsample's output feeds: its scale.
  void absorb_scale(const std::string& out, int layer, float base) {
    const onnx::NodeProto* m = sole_consumer(out, "Mul");
    if (!m) return;
    const std::string other = input(*m, 0) == out ? input(*m, 1) : input(*m, 0);
    const std::optional<float> c = scalar(other);
    if (!c) return;
    set_key(layers_[size_t(layer)].section, "scale", text(double(base) * double(*c)));
    mark_done(*m);
    values_[m->output(0)] = Value{layer};
  }

  void resize(const onnx::NodeProto& n) {
    const int src = layer_of(value(input(n, 0)));
    const std::string mode = attr_string(n, "mode", "nearest"),
                      ctm = attr_string(n, "coordinate_transformation_mode", "half_pixel");
    const std::string nearest = attr_string(n, "nearest_mode", "round_prefer_floor");
    // For whole-number factors these pick the same source pixel as darknet.
    const bool same = (ctm == "asymmetric" && nearest == "floor") ||
                      ((ctm == "half_pixel" || ctm == "pytorch_half_pixel") &&
                       (nearest == "round_prefer_floor" || nearest == "round_prefer_ceil"));
    if (mode != "nearest" || !same)
      throw Error("Resize maps onto [upsample] only as nearest neighbour by a whole factor (mode " + cfg_excerpt(mode) +
                  ", " + cfg_excerpt(ctm) + ", " + cfg_excerpt(nearest) + ")");
    const Shape in = shape_of(src);
    int64_t factor = 0;
    if (!input(n, 2).empty() && constant(input(n, 2)) && !floats(input(n, 2)).empty()) {
      const std::vector<float> s = floats(input(n, 2));
      if (s.size() != 4 || s[0] != 1.f || s[1] != 1.f || s[2] != s[3] || s[2] < 1.f || s[2] > 64.f ||
          s[2] != std::floor(s[2]))
        throw Error("Resize scales are not [1, 1, s, s] with a whole s");
      factor = int64_t(s[2]);
    } else if (!input(n, 3).empty()) {
      const std::vector<int64_t> sizes = ints(input(n, 3));
      if (sizes.size() != 4 || sizes[2] % in.h != 0 || sizes[2] / in.h != sizes[3] / in.w || sizes[3] % in.w != 0)
        throw Error("Resize sizes " + join(sizes) + " are not a whole multiple of the input");
      factor = sizes[2] / in.h;
    } else {
      throw Error("Resize without constant scales or sizes");
    }
    reading(src);
    const int layer = add_layer("upsample", {{"stride", std::to_string(factor)}, {"scale", "1"}});
    produce(n, Value{layer});
    absorb_scale(n.output(0), layer, 1.f);
  }

  void concat(const onnx::NodeProto& n) {
    const int64_t axis = attr_int(n, "axis", 1);
    std::vector<Value> in;
    for (const std::string& name : n.input()) in.push_back(value(name));
    if (in.empty()) throw Error("Concat without inputs");
    const bool flat = std::all_of(in.begin(), in.end(), [](const Value& v) { return v.flat; });
    if (axis != 1 && !(axis == -3 && !flat) && !(axis == -1 && flat))
      throw Error("Concat maps onto [route] only along channels");
    // One chunk of every input: darknet's route with groups.
    bool grouped = true;
    int64_t groups = 0, group_id = 0;
    for (const Value& v : in) {
      if (v.layer < 0 || v.scale != 1.f || !is_chunk(v)) {
        grouped = false;
        break;
      }
      const int64_t len = end_of(v) - v.begin, g = channels_of(v) / len, id = v.begin / len;
      if (groups != 0 && (g != groups || id != group_id)) grouped = false;
      groups = g;
      group_id = id;
    }
    std::string layers;
    for (const Value& v : in) {
      const int l = grouped ? v.layer : layer_of(v);
      if (l < 0) throw Error("a darknet [route] cannot reference the network input");
      if (!layers.empty()) layers += ',';
      layers += std::to_string(l);
    }
    if (!grouped) groups = 1, group_id = 0;
    Value out{add_layer(
        "route", {{"layers", layers}, {"groups", std::to_string(groups)}, {"group_id", std::to_string(group_id)}})};
    out.flat = flat;
    produce(n, out);
  }

  // Channel ranges (a route group) and spatial steps (darknet's shortcut from
  // a larger map); anything else does not map.
  void slice(const onnx::NodeProto& n) {
    Value v = value(input(n, 0));
    if (v.reshaped.size() == 5) throw Error("a Slice of a 5-D Reshape that is not a [yolo] head");
    if (!untransformed(v) || v.scale != 1.f || v.flat)
      throw Error("a Slice maps only onto a layer's N x C x H x W output");
    const std::vector<int64_t> starts = ints(input(n, 1)), ends = ints(input(n, 2));
    std::vector<int64_t> axes = input(n, 3).empty() ? std::vector<int64_t>{} : ints(input(n, 3));
    std::vector<int64_t> steps = input(n, 4).empty() ? std::vector<int64_t>(starts.size(), 1) : ints(input(n, 4));
    if (axes.empty())
      for (size_t k = 0; k < starts.size(); ++k) axes.push_back(int64_t(k));
    if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
      throw Error("Slice starts, ends, axes and steps differ in length");
    const Shape s = shape_of(v.layer);
    const int64_t dims[4] = {s.n, s.c, s.h, s.w};
    int64_t spatial = 0;
    for (size_t k = 0; k < starts.size(); ++k) {
      const int64_t axis = axes[k] < 0 ? axes[k] + 4 : axes[k];
      if (axis < 0 || axis > 3) throw Error("Slice axis " + std::to_string(axes[k]) + " out of range");
      const int64_t d = dims[axis];
      auto clamp = [d](int64_t x) { return std::clamp(x < 0 ? x + d : x, int64_t{0}, d); };
      const int64_t b = clamp(starts[k]), e = clamp(ends[k]);
      if (axis == 0 && (b != 0 || e != d || steps[k] != 1)) throw Error("a Slice over the batch does not map");
      if (axis == 1) {
        if (steps[k] != 1 || b >= e) throw Error("a channel Slice maps only with step 1 and a non-empty range");
        v.begin = b;
        v.end = e;
      }
      if (axis >= 2) {
        if (b != 0 || e != d || steps[k] < 1 || (spatial != 0 && spatial != steps[k]))
          throw Error("a spatial Slice maps only as darknet's shortcut sampling (whole map, one step)");
        spatial = steps[k];
      }
    }
    if (spatial > 1) v.step = spatial;
    produce(n, v);
  }

  void split(const onnx::NodeProto& n) {
    const Value v = value(input(n, 0));
    if (!untransformed(v) || v.scale != 1.f || v.flat)
      throw Error("a Split maps only onto a layer's N x C x H x W output");
    const int64_t axis = attr_int(n, "axis", 0);
    if (axis != 1 && axis != -3) throw Error("a Split maps only along channels");
    std::vector<int64_t> sizes = attr_ints(n, "split", {});
    if (sizes.empty() && !input(n, 1).empty()) sizes = ints(input(n, 1), 4096);
    const int64_t c = channels_of(v), parts = n.output_size();
    if (parts <= 0) throw Error("a Split without outputs");
    if (sizes.empty()) sizes.assign(size_t(parts), c % parts == 0 ? c / parts : 0);
    int64_t begin = 0;
    for (int k = 0; k < n.output_size(); ++k) {
      if (size_t(k) >= sizes.size() || sizes[size_t(k)] <= 0 || sizes[size_t(k)] > c || sizes[size_t(k)] != sizes[0])
        throw Error("a Split maps only into equal channel parts");
      Value part = v;
      part.begin = begin;
      part.end = begin + sizes[size_t(k)];
      begin = part.end;
      values_[n.output(k)] = part;
    }
    if (begin != c) throw Error("Split sizes do not add up to the " + std::to_string(c) + " channels");
  }

  void pad(const onnx::NodeProto& n) {
    Value v = value(input(n, 0));
    if (attr_string(n, "mode", "constant") != "constant") throw Error("only constant Pad maps");
    if (!input(n, 2).empty() && scalar(input(n, 2)).value_or(1.f) != 0.f) throw Error("only a Pad with zeros maps");
    const std::vector<int64_t> pads = ints(input(n, 1));
    if (pads.size() != 8 || pads[0] || pads[1] || pads[2] || pads[3] || pads[4] || pads[5] < 0 || pads[6] < 0 ||
        pads[7] < 0)
      throw Error("Pad " + join(pads) + " is not darknet's shortcut padding (channels and cells after)");
    if (v.reshaped.size() || v.flat || v.pad_c || v.pad_h || v.pad_w) throw Error("a Pad of this tensor does not map");
    v.pad_c = pads[5];
    v.pad_h = pads[6];
    v.pad_w = pads[7];
    produce(n, v);
  }

  // A depthwise ConvTranspose with a one-hot s x s kernel puts every value on
  // every s-th cell: darknet's shortcut from a smaller map.
  void spread(const onnx::NodeProto& n) {
    Value v = value(input(n, 0));
    const std::vector<int64_t> w = dims_of(input(n, 1));
    const int64_t c = end_of(v) - v.begin;
    if (w.size() != 4 || w[0] != c || w[1] != 1 || w[2] != w[3] || w[2] < 1 || !input(n, 2).empty() ||
        attr_int(n, "group", 1) != c || attr_ints(n, "strides", {1, 1}) != std::vector<int64_t>{w[2], w[2]} ||
        attr_ints(n, "pads", {0, 0, 0, 0}) != std::vector<int64_t>{0, 0, 0, 0} ||
        !attr_ints(n, "output_padding", {}).empty() || v.sample != 1 || v.pad_c || v.pad_h || v.pad_w || v.flat)
      throw Error("a ConvTranspose maps only as darknet's shortcut spreading (depthwise, one-hot, stride = kernel)");
    const std::vector<float> k = floats(input(n, 1));
    const int64_t area = w[2] * w[2];
    for (int64_t i = 0; i < int64_t(k.size()); ++i)
      if (k[size_t(i)] != (i % area == 0 ? 1.f : 0.f))
        throw Error("a ConvTranspose kernel that is not one-hot does not map");
    v.sample = w[2];
    produce(n, v);
  }

  // What darknet's shortcut does to a `from` of shape f added onto o.
  bool darknet_from(const Value& v, const Shape& f, const Shape& o) const {
    const bool smaller = f.w < o.w;
    const int64_t stride = smaller ? 1 : f.w / o.w, channels = std::min(f.c, o.c);
    const int64_t sample = smaller ? o.w / f.w : 1;
    const int64_t extra_h = smaller ? o.h - f.h * sample : 0, extra_w = smaller ? o.w - f.w * sample : 0;
    return v.reshaped.empty() && !v.flat && v.begin == 0 && end_of(v) == channels && v.step == stride &&
           v.sample == sample && v.pad_h == extra_h && v.pad_w == extra_w && v.pad_c == o.c - channels;
  }

  void add(const onnx::NodeProto& n) {
    if (n.input_size() != 2) throw Error("Add with " + std::to_string(n.input_size()) + " inputs");
    const Value a = value(input(n, 0)), b = value(input(n, 1));
    auto plain_prev = [&](const Value& v) { return v.layer >= kNoLayer + 1 && untransformed(v) && !v.flat; };
    // Prefer the previous layer as darknet's implicit first input.
    std::vector<std::pair<const Value*, const Value*>> orders{{&a, &b}, {&b, &a}};
    if (b.layer == last() && a.layer != last()) std::swap(orders[0], orders[1]);
    for (const auto& [p, f] : orders) {
      if (!plain_prev(*p) || f->layer < 0 || !darknet_from(*f, shape_of(f->layer), shape_of(p->layer))) continue;
      reading(p->layer);
      const int layer = add_layer("shortcut", {{"from", std::to_string(f->layer)},
                                               {"activation", "linear"},
                                               {"alpha", text(p->scale)},
                                               {"beta", text(f->scale)}});
      produce(n, Value{layer});
      absorb_activation(n.output(0), layer);
      return;
    }
    throw Error("an Add that is not darknet's [shortcut] (two layer outputs of one shape, or darknet's sampling)");
  }

  void mul(const onnx::NodeProto& n) {
    if (n.input_size() != 2) throw Error("Mul with " + std::to_string(n.input_size()) + " inputs");
    for (int k = 0; k < 2; ++k)
      if (std::optional<float> c = scalar(input(n, k)); c && values_.count(input(n, 1 - k))) {
        Value v = value(input(n, 1 - k));
        v.scale *= *c;
        return produce(n, v);
      }
    const Value& a = value(input(n, 0));
    const Value& b = value(input(n, 1));
    const int la = layer_of(a), lb = layer_of(b);
    const Shape sa = shape_of(la), sb = shape_of(lb);
    std::string kind;
    int prev = la, from = lb;
    if (sa == sb) {
      kind = "sam";
      if (lb == last()) std::swap(prev, from);
    } else if (sa.c == sb.c && (sa.h == 1 && sa.w == 1) != (sb.h == 1 && sb.w == 1)) {
      kind = "scale_channels";  // the previous layer is the C x 1 x 1 one
      if (sb.h == 1 && sb.w == 1) std::swap(prev, from);
    } else {
      throw Error("a Mul that is neither [sam] (one shape) nor [scale_channels] (C x 1 x 1 times C x H x W)");
    }
    if (from < 0) throw Error("a darknet [" + kind + "] cannot read the network input as its from");
    reading(prev);
    const int layer = add_layer(kind, {{"from", std::to_string(from)}, {"activation", "linear"}});
    produce(n, Value{layer});
    absorb_activation(n.output(0), layer);
  }

  void flatten(const onnx::NodeProto& n) {
    if (attr_int(n, "axis", 1) != 1) throw Error("a Flatten maps only at axis 1");
    Value v{layer_of(value(input(n, 0)))};
    v.flat = true;
    produce(n, v);
  }

  std::vector<int64_t> current_dims(const Value& v) const {
    if (!v.reshaped.empty()) return v.reshaped;
    const Shape s = shape_of(v.layer);
    if (v.flat) return {s.n, s.per_image()};
    return {s.n, s.c, s.h, s.w};
  }

  void reshape(const onnx::NodeProto& n) {
    const Value& in = value(input(n, 0));
    if (in.layer < 0 && in.layer != -1) throw Error("reads a tensor that maps to no layer");
    if (!(in.reshaped.size() || untransformed(in)) || in.scale != 1.f)
      throw Error("a Reshape of a sliced or scaled tensor does not map");
    if (attr_int(n, "allowzero", 0) != 0) throw Error("Reshape with allowzero does not map");
    const std::vector<int64_t> spec = ints(input(n, 1)), dims = current_dims(in);
    const Shape s = shape_of(in.layer);
    const int64_t total = s.n * s.per_image();
    std::vector<int64_t> out(spec.size());
    int64_t known = 1, infer = -1;
    for (size_t k = 0; k < spec.size(); ++k) {
      out[k] = spec[k] == 0 ? (k < dims.size() ? dims[k] : -2) : spec[k];
      if (out[k] == -1) {
        if (infer >= 0) throw Error("Reshape with two -1");
        infer = int64_t(k);
        continue;
      }
      if (out[k] <= 0 || __builtin_mul_overflow(known, out[k], &known) || known > total)
        throw Error("Reshape to " + join(spec) + " does not fit " + join(dims));
    }
    if (infer >= 0) {
      if (known == 0 || total % known != 0) throw Error("Reshape to " + join(spec) + " does not fit " + join(dims));
      out[size_t(infer)] = total / known;
    } else if (known != total) {
      throw Error("Reshape to " + join(spec) + " does not fit " + join(dims));
    }
    if (out.empty() || out[0] != s.n) throw Error("a Reshape that moves the batch axis does not map");
    Value v{in.layer};
    if (out == std::vector<int64_t>{s.n, s.c, s.h, s.w}) return produce(n, v);
    if (out == std::vector<int64_t>{s.n, s.per_image()}) {
      v.flat = true;
      return produce(n, v);
    }
    v.reshaped = out;
    if (out.size() == 5 && out[1] * out[2] == s.c && out[3] == s.h && out[4] == s.w && yolo(n, in.layer, out)) return;
    produce(n, v);
  }

  // Tags an exported layer kept as Identity: the tensor names of cspnet's
  // exporter (route_19, dropout_16) say which layer it was.
  std::string exported_kind(const std::string& name) const {
    if (model_.producer_name() != "cspnet") return "";
    for (const char* kind : {"route", "dropout", "cost"}) {
      const std::string prefix = std::string(kind) + "_";
      if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
          name.find_first_not_of("0123456789", prefix.size()) == std::string::npos)
        return kind;
    }
    return "";
  }

  // The exporter keeps what ONNX cannot say ([yolo] anchors, dropout
  // probability) as metadata "cspnet.layer.<tensor>" = the cfg section.
  std::vector<std::pair<std::string, std::string>> metadata_entries(const std::string& tensor,
                                                                    const std::string& kind) {
    auto it = metadata_.find("cspnet.layer." + tensor);
    if (it == metadata_.end()) return {};
    const CfgFile cfg = parse_cfg_text(it->second, path_ + " metadata 'cspnet.layer." + cfg_excerpt(tensor) + "'");
    if (cfg.sections.size() != 1 || cfg.sections[0].name != kind)
      throw Error("metadata 'cspnet.layer." + cfg_excerpt(tensor) + "' is not one [" + kind + "] section");
    std::vector<std::pair<std::string, std::string>> entries;
    for (const CfgEntry& e : cfg.sections[0].entries) entries.emplace_back(e.key, e.value);
    return entries;
  }

  void identity(const onnx::NodeProto& n) {
    if (n.op_type() == "Dropout" && n.output_size() > 1 && !n.output(1).empty() && !consumers(n.output(1)).empty())
      throw Error("a Dropout whose mask is read does not map");
    const Value& v = value(input(n, 0));
    const std::string kind = exported_kind(n.output(0));
    if (kind.empty()) return produce(n, v);
    if (kind == "route") {
      if (!untransformed(v)) return produce(n, Value{layer_of(v)});  // the route with groups itself
      if (v.layer < 0) throw Error("a darknet [route] cannot reference the network input");
      return produce(n, Value{add_layer("route", {{"layers", std::to_string(v.layer)}})});
    }
    const int src = layer_of(v);
    reading(src);
    produce(n, Value{add_layer(kind, metadata_entries(n.output(0), kind))});
  }

  void softmax(const onnx::NodeProto& n) {
    const Value& v = value(input(n, 0));
    const int64_t rank = int64_t(current_dims(v).size());
    int64_t axis = attr_int(n, "axis", opset_ < 13 ? 1 : -1);
    axis = axis < 0 ? axis + rank : axis;
    const Shape s = shape_of(v.layer);
    int64_t groups = 0;
    if (v.reshaped.size() == 3 && axis == 2)
      groups = v.reshaped[1];
    else if (v.flat && axis == 1)
      groups = 1;
    else if (v.reshaped.empty() && !v.flat && ((opset_ < 13 && axis == 1) || (axis == 1 && s.h == 1 && s.w == 1)))
      groups = 1;  // below opset 13 Softmax flattens from its axis on
    if (groups == 0 || !(v.reshaped.size() || untransformed(v)) || !(v.scale > 0.f))
      throw Error("a Softmax maps onto [softmax] only over each image's whole C*H*W or equal groups of it");
    reading(v.layer);
    const int layer =
        add_layer("softmax", {{"groups", std::to_string(groups)}, {"temperature", text(1.0 / double(v.scale))}});
    Value out{layer};
    out.flat = v.flat;
    out.reshaped = v.reshaped;
    produce(n, out);
  }

  // [N, C/G, G, H, W] reduced over axis 1: darknet's maxout.
  void maxout(const onnx::NodeProto& n) {
    const Value& v = value(input(n, 0));
    std::vector<int64_t> axes = attr_ints(n, "axes", {});
    if (axes.empty() && !input(n, 1).empty()) axes = ints(input(n, 1));
    if (v.reshaped.size() != 5 || axes != std::vector<int64_t>{1} || attr_int(n, "keepdims", 1) != 0 || v.scale != 1.f)
      throw Error("a ReduceMax maps only as darknet's maxout (Reshape to N x C/G x G x H x W, axis 1, no keepdims)");
    reading(v.layer);
    produce(n, Value{add_layer("maxpool", {{"size", "1"},
                                           {"stride_x", "1"},
                                           {"stride_y", "1"},
                                           {"padding", "0"},
                                           {"maxpool_depth", "1"},
                                           {"out_channels", std::to_string(v.reshaped[2])}})});
  }

  // ---- [yolo] ------------------------------------------------------------------

  struct Branch {
    int64_t begin = 0, end = 0;
    bool sigmoid = false;
    float scale = 1.f, shift = 0.f;
    std::string tail;
    std::vector<const onnx::NodeProto*> nodes;
  };

  // The exporter's [yolo]: Reshape to [N, A, E, H, W], Slices xy | wh | rest
  // along axis 2, Sigmoid on xy and rest (unless new_coords), xy scaled about
  // 0.5 by scale_x_y, Concat, Reshape back. False when `r` is something else.
  bool yolo(const onnx::NodeProto& r, int src, const std::vector<int64_t>& dims) {
    const std::vector<int>& readers = consumers(r.output(0));
    if (readers.size() != 3 || outputs_.count(r.output(0))) return false;
    std::vector<Branch> branches;
    for (int i : readers) {
      const onnx::NodeProto& s = graph_.node(i);
      if (s.op_type() != "Slice" || s.input_size() < 4 || s.input_size() > 4) return false;
      const std::vector<int64_t> axes = ints(input(s, 3)), b = ints(input(s, 1)), e = ints(input(s, 2));
      if (axes.size() != 1 || (axes[0] != 2 && axes[0] != -3) || b.size() != 1 || e.size() != 1) return false;
      Branch br;
      br.begin = std::clamp<int64_t>(b[0], 0, dims[2]);
      br.end = std::clamp<int64_t>(e[0], 0, dims[2]);
      br.nodes.push_back(&s);
      if (!follow(s.output(0), br)) return false;
      branches.push_back(br);
    }
    std::sort(branches.begin(), branches.end(), [](const Branch& x, const Branch& y) { return x.begin < y.begin; });
    const Branch &xy = branches[0], &wh = branches[1], &rest = branches[2];
    if (xy.begin != 0 || xy.end != 2 || wh.begin != 2 || wh.end != 4 || rest.begin != 4 || rest.end != dims[2])
      return false;
    const onnx::NodeProto* join_node = sole_consumer(xy.tail, "Concat");
    if (!join_node || join_node->input_size() != 3 || join_node->input(0) != xy.tail ||
        join_node->input(1) != wh.tail || join_node->input(2) != rest.tail ||
        (attr_int(*join_node, "axis", 0) != 2 && attr_int(*join_node, "axis", 0) != -3))
      return false;
    const onnx::NodeProto* back = sole_consumer(join_node->output(0), "Reshape");
    if (!back) return false;
    const Shape s = shape_of(src);
    std::vector<int64_t> spec = ints(input(*back, 1));
    if (spec.size() != 4 || (spec[0] != 0 && spec[0] != s.n && spec[0] != -1) || spec[1] != s.c || spec[2] != s.h ||
        spec[3] != s.w)
      return false;
    if (wh.sigmoid || wh.scale != 1.f || wh.shift != 0.f || rest.scale != 1.f || rest.shift != 0.f ||
        xy.sigmoid != rest.sigmoid || std::fabs(xy.shift + 0.5f * (xy.scale - 1.f)) > 1e-6f)
      throw Error("a [yolo]-shaped subgraph whose activations are not darknet's [yolo]");
    make_yolo(*back, src, dims, xy);
    for (const Branch& b : branches)
      for (const auto* node : b.nodes) mark_done(*node);
    mark_done(*join_node);
    mark_done(*back);
    return true;
  }

  bool follow(std::string t, Branch& br) {
    for (;;) {
      const std::vector<int>& c = consumers(t);
      if (c.size() != 1 || outputs_.count(t)) return false;
      const onnx::NodeProto& n = graph_.node(c[0]);
      if (n.op_type() == "Concat") break;
      const std::string other = n.input_size() == 2 ? (input(n, 0) == t ? input(n, 1) : input(n, 0)) : "";
      if (n.op_type() == "Sigmoid" && br.nodes.size() == 1)
        br.sigmoid = true;
      else if (n.op_type() == "Mul" && scalar(other) && br.shift == 0.f && br.scale == 1.f)
        br.scale = *scalar(other);
      else if (n.op_type() == "Add" && scalar(other) && br.shift == 0.f)
        br.shift = *scalar(other);
      else
        return false;
      br.nodes.push_back(&n);
      t = n.output(0);
    }
    br.tail = t;
    return true;
  }

  void make_yolo(const onnx::NodeProto& back, int src, const std::vector<int64_t>& dims, const Branch& xy) {
    const int64_t anchors = dims[1], classes = dims[2] - 5;
    if (classes < 1) throw Error("a [yolo] head needs at least one class");
    std::vector<std::pair<std::string, std::string>> entries = metadata_entries(back.output(0), "yolo");
    auto has = [&](const char* key) {
      return std::any_of(entries.begin(), entries.end(), [&](const auto& e) { return e.first == key; });
    };
    if (!has("mask") || !has("anchors")) {
      // Decoding needs anchors; the outputs do not: placeholders, said so.
      std::string mask, boxes;
      for (int64_t a = 0; a < anchors; ++a) {
        if (a > 0) mask += ',', boxes += ',';
        mask += std::to_string(a);
        boxes += "10,10";
      }
      entries.erase(
          std::remove_if(entries.begin(), entries.end(),
                         [](const auto& e) { return e.first == "mask" || e.first == "anchors" || e.first == "num"; }),
          entries.end());
      entries.insert(entries.end(), {{"mask", mask}, {"anchors", boxes}, {"num", std::to_string(anchors)}});
      warnings_.push_back(path_ + ": '" + back.output(0) +
                          "': the model does not hold [yolo] anchors; placeholders written");
    }
    auto put = [&](const std::string& key, const std::string& value) {
      for (auto& e : entries)
        if (e.first == key) {
          e.second = value;
          return;
        }
      entries.emplace_back(key, value);
    };
    put("classes", std::to_string(classes));
    put("scale_x_y", text(xy.scale));
    put("new_coords", xy.sigmoid ? "0" : "1");
    reading(src);
    const int layer = add_layer("yolo", entries);
    values_[back.output(0)] = Value{layer};
  }

  // ---- the end -----------------------------------------------------------------

  // Graph outputs must be layers; a single output that is not the last layer
  // gets a [route] so that the network's output is it.
  void finish_outputs() {
    current_ = graph_.node_size();
    int single = -1;
    for (const auto& o : graph_.output()) {
      auto it = values_.find(o.name());
      if (it == values_.end()) throw Error(path_ + ": graph output '" + cfg_excerpt(o.name()) + "' maps to no layer");
      try {
        single = layer_of(it->second);
      } catch (const Error& e) {
        throw Error(path_ + ": graph output '" + cfg_excerpt(o.name()) + "': " + e.what());
      }
    }
    if (layers_.empty()) throw Error(path_ + ": the graph maps to no layer");
    if (graph_.output_size() == 1 && single != last() && single >= 0 && yolo_count() == 0)
      add_layer("route", {{"layers", std::to_string(single)}});
  }
  int yolo_count() const {
    return int(
        std::count_if(layers_.begin(), layers_.end(), [](const PendingLayer& p) { return p.section.name == "yolo"; }));
  }

  CfgSection net_section() const {
    CfgSection net{"net", 0, {}, {}};
    net.entries = {{"width", std::to_string(input_.w), 0, {}},
                   {"height", std::to_string(input_.h), 0, {}},
                   {"channels", std::to_string(input_.c), 0, {}}};
    // The training keys the exporter kept (cfg text of [net]).
    if (auto it = metadata_.find("cspnet.net"); it != metadata_.end()) {
      const CfgFile cfg = parse_cfg_text(it->second, path_ + " metadata 'cspnet.net'");
      if (cfg.sections.size() == 1 && (cfg.sections[0].name == "net" || cfg.sections[0].name == "network"))
        for (const CfgEntry& e : cfg.sections[0].entries)
          if (e.key != "width" && e.key != "height" && e.key != "channels")
            net.entries.push_back({e.key, e.value, 0, {}});
    }
    return net;
  }

  OnnxImport build() {
    CfgFile cfg;
    cfg.path = path_;
    cfg.sections.push_back(net_section());
    for (const PendingLayer& p : layers_) cfg.sections.push_back(p.section);
    ParseOptions parse;
    parse.batch = int(input_.n);
    OnnxImport result{Network::from_cfg(cfg, parse), warnings_};
    Network& net = result.network;
    for (int i = 0; i < net.size(); ++i) {
      WeightArrays* w = net.layer(i).weight_arrays();
      if (!w) continue;
      PendingLayer& p = layers_[size_t(i)];
      auto assign = [&](std::vector<float>& to, std::vector<float>& from, const char* what) {
        if (to.size() != from.size())
          throw Error(path_ + ": layer " + std::to_string(i) + " " + what + ": " + std::to_string(from.size()) +
                      " values in the model, " + std::to_string(to.size()) + " in the layer");
        to = std::move(from);
      };
      assign(w->weights, p.weights, "weights");
      assign(w->biases, p.biases, "biases");
      if (!w->scales.empty()) {
        assign(w->scales, p.scales, "batch-norm scales");
        assign(w->rolling_mean, p.mean, "batch-norm means");
        assign(w->rolling_variance, p.variance, "batch-norm variances");
      }
    }
    return result;
  }

  const onnx::ModelProto& model_;
  const onnx::GraphProto& graph_;
  std::string path_;
  int opset_ = 0;
  int current_ = 0;
  std::unordered_map<std::string, std::string> metadata_;
  std::unordered_map<std::string, const onnx::TensorProto*> constants_;
  std::unordered_map<std::string, std::vector<int>> consumers_;
  std::unordered_map<std::string, int> producer_;
  std::unordered_map<const onnx::NodeProto*, int> index_of_;
  std::unordered_set<std::string> outputs_;
  std::unordered_map<std::string, Value> values_;
  std::vector<bool> done_;
  Shape input_{};
  std::vector<PendingLayer> layers_;
  std::map<std::tuple<int, int64_t, int64_t>, int> chunks_;
  std::vector<std::string> warnings_;
};

}  // namespace

bool onnx_import_available() { return true; }

OnnxImport import_onnx_bytes(const std::string& bytes, const std::string& name) {
  if (bytes.empty()) throw Error(name + ": empty file, not an ONNX model");
  onnx::ModelProto model;
  if (bytes.size() > kMaxModelBytes || !model.ParseFromArray(bytes.data(), int(bytes.size())))
    throw Error(name + ": not an ONNX model (the protobuf does not parse: truncated or another format)");
  return Importer(model, name).run();
}

OnnxImport import_onnx(const std::string& path) {
  InputFile in = open_regular_file(path, "ONNX model");
  if (in.size > kMaxModelBytes)
    throw Error(path + ": " + std::to_string(in.size) + " bytes; an ONNX model is under 2 GiB");
  std::string bytes(size_t(in.size), '\0');
  if (in.size > 0 && std::fread(bytes.data(), 1, bytes.size(), in.file.get()) != bytes.size())
    throw Error(path + ": read error");
  return import_onnx_bytes(bytes, path);
}

}  // namespace cspnet
