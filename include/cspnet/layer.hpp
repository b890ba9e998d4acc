#pragma once
// The layer contract: what a layer kind is, independent of how any backend
// runs it. Each kind lives in one file under src/layers/ and provides its
// factory (cfg options -> LayerAttrs, validated), shape inference, darknet's
// parameter and FLOP accounting, its arrays in .weights order and their
// initialisation. Kernels are the backends' business (src/backends/), looked
// up per (layer kind, backend); they read only this public description.
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cspnet/activation.hpp"
#include "cspnet/layer_attrs.hpp"
#include "cspnet/tensor.hpp"

namespace cspnet {

class Options;

// Channel block of the blocked activation layout (nChw16c).
constexpr int64_t kChannelBlock = 16;

// One parameter array in the order darknet's .weights stores it.
struct ParamBlob {
  const char* name;
  std::vector<float>* values;
  int64_t rows = 0, cols = 0;  // for connected weights: darknet may store them transposed
};

// A trained array and its gradient (same length), in darknet_params() order.
struct TrainableParam {
  const char* name;
  std::vector<float>* values;
  std::vector<float>* grads;
  bool decay;  // weight decay applies (darknet: convolution and connected weights only)
};

// The arrays of a weighted layer ([convolutional], [connected]) under
// darknet's names. `biases` are batch norm's shifts when batch_normalize is
// set; scales and the rolling statistics are empty otherwise. Weights are
// [outputs][inputs/groups][kh][kw] (connected: [outputs][C*H*W]). The
// gradients are sized and zeroed by the training backend.
struct WeightArrays {
  std::vector<float> weights, biases, scales, rolling_mean, rolling_variance;
  std::vector<float> weight_grads, bias_grads, scale_grads;
};

enum class OutputKind {
  compute,  // the layer writes its own output
  view,     // the output is channels [view_offset, +C) of input 0: nothing runs
  concat,   // channel concatenation of the inputs (zero-copy where the planner can)
};

class Layer {
 public:
  explicit Layer(LayerAttrs attrs) : attrs_(std::move(attrs)) {}
  virtual ~Layer() = default;

  // What the layer is: its kind and attributes (public, typed).
  LayerKind kind() const { return kind_of(attrs_); }
  const LayerAttrs& attrs() const { return attrs_; }
  template <class Attrs>
  const Attrs& attrs_as() const {
    return std::get<Attrs>(attrs_);
  }
  // The name in the per-layer table ("conv", "max", "maxout", ...).
  virtual std::string_view type() const = 0;

  // Indices of the layers this one reads; -1 is the network input.
  const std::vector<int>& inputs() const { return inputs_; }
  int index() const { return index_; }
  const Shape& output_shape() const { return output_; }
  // The shapes of inputs() at the last inference (batch included).
  const std::vector<Shape>& input_shapes() const { return input_shapes_; }

  // Validates against the input shapes and returns the output shape (batch
  // included); sizes the parameter arrays. Throws cspnet::Error with the
  // layer's cfg location.
  virtual Shape infer(std::span<const Shape> inputs) = 0;

  virtual OutputKind output_kind() const { return OutputKind::compute; }
  virtual int64_t view_offset() const { return 0; }

  // Columns of the per-layer table.
  virtual int filters() const { return 0; }
  virtual std::string geometry() const { return ""; }  // e.g. "3 x 3/ 2"

  virtual int64_t parameter_count() const { return 0; }
  virtual int64_t conv_weight_count() const { return 0; }
  virtual double bflops() const { return 0; }       // darknet's per-image figure
  virtual double conv_bflops() const { return 0; }  // convolution part only

  virtual std::vector<ParamBlob> darknet_params() { return {}; }
  virtual void init_parameters(std::mt19937_64& /*rng*/) {}
  // Parameters the optimiser updates (running statistics are not among them).
  virtual std::vector<TrainableParam> trainable_params() { return {}; }
  // The arrays a kernel computes with; null for layers without weights.
  // A layer that shares another's weights ([convolutional] share_index)
  // returns the owner's.
  virtual WeightArrays* weight_arrays() { return nullptr; }
  // Links a layer that uses `owner`'s weights (share_index); called by the
  // network once every layer exists. Throws for kinds that cannot share.
  virtual void share_weights_of(Layer& owner);
  const WeightArrays* weight_arrays() const { return const_cast<Layer*>(this)->weight_arrays(); }

  // cfg location, for messages: "file:line: [section]".
  const std::string& where() const { return where_; }

  void set_inputs(std::vector<int> inputs) { inputs_ = std::move(inputs); }
  void set_site(int index, std::string where) {
    index_ = index;
    where_ = std::move(where);
  }
  void set_shapes(std::vector<Shape> inputs, const Shape& output) {
    input_shapes_ = std::move(inputs);
    output_ = output;
  }

 protected:
  // For factories that read their edges before their attributes.
  void set_attrs(LayerAttrs attrs) { attrs_ = std::move(attrs); }

 private:
  LayerAttrs attrs_;
  int index_ = 0;
  std::vector<int> inputs_;
  std::string where_;
  std::vector<Shape> input_shapes_;
  Shape output_{};
};

// Capability rules read from the description (instead of tests by name).
// A softmax over each image's whole C*H*W vector at temperature 1: the
// classification loss then runs softmax and cross-entropy as one step.
bool is_plain_softmax(const Layer& layer);
// The [yolo] attributes, or null for other kinds.
const YoloAttrs* yolo_attrs(const Layer& layer);

// Everything a layer factory needs: its options and where it sits.
struct LayerSite {
  Options& options;
  int index;  // this layer's index (0 = first after [net])
};

// Resolves a darknet layer reference (negative = relative to `index`) and
// checks that it names an earlier layer.
int resolve_layer_ref(const LayerSite& site, const std::string& key, int ref);

// Checks an inferred output shape: every dimension positive and the tensor
// small enough to address; throws naming the layer otherwise.
Shape checked_output(const Layer& layer, Shape shape);

// Creates a layer from its cfg section; throws on an unknown section name.
std::unique_ptr<Layer> make_layer(const std::string& section, LayerSite& site);
std::vector<std::string> layer_section_names();

}  // namespace cspnet
