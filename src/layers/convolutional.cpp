// [convolutional]: grouped/depthwise/dilated/strided 2-D convolution with
// optional batch norm and an activation. Kernels: backends/*/convolutional.cpp.
#include <cmath>

#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

namespace cspnet {
namespace {

ConvolutionalAttrs read_attrs(LayerSite& site) {
  Options& o = site.options;
  ConvolutionalAttrs a;
  a.filters = o.get_int("filters", 1);
  a.size = o.get_int("size", 1);
  const int stride = o.get_int("stride", 1);
  a.stride_x = o.get_int("stride_x", stride);
  a.stride_y = o.get_int("stride_y", stride);
  const bool pad = o.get_int("pad", 0) != 0;
  a.padding = o.get_int("padding", pad ? a.size / 2 : 0);
  a.groups = o.get_int("groups", 1);
  a.dilation = o.get_int("dilation", 1);
  a.batch_normalize = o.get_int("batch_normalize", 0) != 0;
  a.activation = parse_activation(o.get_string("activation", "logistic"), o.where("activation"));
  if (a.filters <= 0) o.fail("filters", "a positive number of filters");
  if (a.size <= 0) o.fail("size", "a positive kernel size");
  if (stride <= 0) o.fail("stride", "a positive stride");
  if (a.stride_x <= 0) o.fail("stride_x", "a positive stride");
  if (a.stride_y <= 0) o.fail("stride_y", "a positive stride");
  if (a.padding < 0) o.fail("padding", "a non-negative padding");
  if (a.groups <= 0) o.fail("groups", "a positive number of groups");
  if (a.dilation <= 0) o.fail("dilation", "a positive dilation");
  if (a.filters % a.groups != 0) o.fail("groups", "a divisor of filters=" + std::to_string(a.filters));
  // AlexeyAB's share_index: absolute when >= 0, else relative.
  if (o.has("share_index")) a.share_index = resolve_layer_ref(site, "share_index", o.get_int("share_index", 0));
  return a;
}

class ConvolutionalLayer final : public Layer {
 public:
  explicit ConvolutionalLayer(LayerSite& site) : Layer(read_attrs(site)), a_(attrs_as<ConvolutionalAttrs>()) {}

  std::string_view type() const override { return "conv"; }

  Shape infer(std::span<const Shape> in) override {
    const Shape& x = in[0];
    if (x.c % a_.groups != 0)
      shape_error(*this, "groups=" + std::to_string(a_.groups) + " must divide the input channels " +
                             std::to_string(x.c));
    channels_ = x.c;
    const int64_t extent = int64_t{a_.size - 1} * a_.dilation + 1;
    const int64_t pad2 = 2 * int64_t{a_.padding};  // int64: padding may be near INT_MAX
    if (x.h + pad2 < extent || x.w + pad2 < extent)
      shape_error(*this, "kernel extent " + std::to_string(extent) + " is larger than the padded input " +
                             std::to_string(x.h + pad2) + "x" + std::to_string(x.w + pad2));
    out_h_ = (x.h + pad2 - extent) / a_.stride_y + 1;
    out_w_ = (x.w + pad2 - extent) / a_.stride_x + 1;
    check_parameter_count(*this, double(a_.filters) * double(x.c / a_.groups) * double(a_.size) * double(a_.size),
                          "filters*channels/groups*size*size");
    check_window(*this, "kernel extent", extent, x);
    if (owner_)
      check_shared_arrays();
    else
      size_weight_arrays(arrays_, weight_count(), a_.filters, a_.batch_normalize);
    return Shape{x.n, a_.filters, out_h_, out_w_};
  }

  int filters() const override { return a_.filters; }
  std::string geometry() const override {
    std::string g = std::to_string(a_.size) + " x " + std::to_string(a_.size) + "/";
    g += a_.stride_x == a_.stride_y ? std::to_string(a_.stride_x)
                                    : std::to_string(a_.stride_x) + "x" + std::to_string(a_.stride_y);
    if (a_.groups > 1) g += " g" + std::to_string(a_.groups);
    if (a_.dilation > 1) g += " d" + std::to_string(a_.dilation);
    return g;
  }
  int64_t weight_count() const { return int64_t{a_.filters} * (channels_ / a_.groups) * a_.size * a_.size; }
  // A layer sharing another's weights stores none of its own.
  int64_t parameter_count() const override {
    return owner_ ? 0 : weight_count() + int64_t{a_.filters} * (a_.batch_normalize ? 2 : 1);
  }
  int64_t conv_weight_count() const override { return owner_ ? 0 : weight_count(); }
  double conv_bflops() const override { return 2.0 * double(weight_count()) * double(out_h_ * out_w_) / 1e9; }
  double bflops() const override { return conv_bflops(); }

  WeightArrays* weight_arrays() override { return owner_ ? owner_->weight_arrays() : &arrays_; }
  void share_weights_of(Layer& owner) override {
    if (owner.kind() != LayerKind::convolutional)
      throw Error(where() + ": share_index=" + std::to_string(owner.index()) + " names a [" +
                  section_name(owner.kind()) + "] layer; expected a [convolutional] one");
    if (owner.attrs_as<ConvolutionalAttrs>().batch_normalize != a_.batch_normalize)
      throw Error(where() + ": share_index=" + std::to_string(owner.index()) +
                  ": both layers must agree on batch_normalize to share their arrays");
    owner_ = &owner;
  }
  // The owner's arrays are stored, initialised and trained once, as the
  // owner's: .weights holds nothing for this layer (darknet's rule).
  std::vector<ParamBlob> darknet_params() override {
    if (owner_) return {};
    WeightArrays& w = arrays_;
    if (a_.batch_normalize)
      return {{"biases", &w.biases},
              {"scales", &w.scales},
              {"rolling_mean", &w.rolling_mean},
              {"rolling_variance", &w.rolling_variance},
              {"weights", &w.weights}};
    return {{"biases", &w.biases}, {"weights", &w.weights}};
  }

  void init_parameters(std::mt19937_64& rng) override {
    if (owner_) return;
    // Unit-gain (LeCun) uniform: with leaky/relu each conv halves the
    // variance, which offsets the doubling at every residual sum, so deep
    // random networks keep activations O(1) instead of exploding.
    const float fan_in = float(channels_ / a_.groups) * float(a_.size * a_.size);
    fill_uniform(arrays_.weights, std::sqrt(3.f / fan_in), rng);
    fill_uniform(arrays_.biases, 0.1f, rng);
    if (a_.batch_normalize) init_batch_norm(arrays_.scales, arrays_.rolling_mean, arrays_.rolling_variance, rng);
  }

  std::vector<TrainableParam> trainable_params() override {
    // darknet_params() order; weight decay on the weights only. A sharing
    // layer's gradients add into the owner's arrays.
    if (owner_) return {};
    WeightArrays& w = arrays_;
    std::vector<TrainableParam> params{{"biases", &w.biases, &w.bias_grads, false}};
    if (a_.batch_normalize) params.push_back({"scales", &w.scales, &w.scale_grads, false});
    params.push_back({"weights", &w.weights, &w.weight_grads, true});
    return params;
  }

 private:
  void check_shared_arrays() const {
    const WeightArrays& shared = *owner_->weight_arrays();
    if (int64_t(shared.weights.size()) != weight_count() || int64_t(shared.biases.size()) != a_.filters)
      shape_error(*this, "share_index=" + std::to_string(owner_->index()) + ": layer " +
                             std::to_string(owner_->index()) + " has " + std::to_string(shared.weights.size()) +
                             " weights and " + std::to_string(shared.biases.size()) + " filters, this layer needs " +
                             std::to_string(weight_count()) + " and " + std::to_string(a_.filters));
  }

  const ConvolutionalAttrs& a_;
  Layer* owner_ = nullptr;  // share_index: the layer whose arrays this one uses
  int64_t channels_ = 0, out_h_ = 0, out_w_ = 0;
  WeightArrays arrays_;
};

}  // namespace

std::unique_ptr<Layer> make_convolutional(LayerSite& site) {
  return std::make_unique<ConvolutionalLayer>(site);
}

}  // namespace cspnet
