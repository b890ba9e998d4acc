// [connected]: fully connected layer (optional batch norm); the input is
// flattened C*H*W per image. Kernels: backends/*/connected.cpp.
#include <cmath>

#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

namespace cspnet {
namespace {

ConnectedAttrs read_attrs(Options& o) {
  ConnectedAttrs a;
  a.outputs = o.get_int("output", 1);
  if (a.outputs <= 0) o.fail("output", "a positive number of outputs");
  a.batch_normalize = o.get_int("batch_normalize", 0) != 0;
  a.activation = parse_activation(o.get_string("activation", "logistic"), o.where("activation"));
  return a;
}

class ConnectedLayer final : public Layer {
 public:
  explicit ConnectedLayer(Options& o) : Layer(read_attrs(o)), a_(attrs_as<ConnectedAttrs>()) {}
  std::string_view type() const override { return "connected"; }
  int filters() const override { return a_.outputs; }

  Shape infer(std::span<const Shape> in) override {
    check_parameter_count(*this, double(a_.outputs) * double(in[0].per_image()), "output*inputs");
    inputs_per_image_ = in[0].per_image();
    size_weight_arrays(arrays_, int64_t{a_.outputs} * inputs_per_image_, a_.outputs, a_.batch_normalize);
    return Shape{in[0].n, a_.outputs, 1, 1};
  }

  int64_t parameter_count() const override {
    return int64_t(arrays_.weights.size()) + int64_t{a_.outputs} * (a_.batch_normalize ? 2 : 1);
  }
  double bflops() const override { return 2.0 * double(a_.outputs) * double(inputs_per_image_) / 1e9; }

  WeightArrays* weight_arrays() override { return &arrays_; }
  std::vector<ParamBlob> darknet_params() override {
    WeightArrays& w = arrays_;
    std::vector<ParamBlob> blobs{{"biases", &w.biases}, {"weights", &w.weights, a_.outputs, inputs_per_image_}};
    if (a_.batch_normalize) {
      blobs.push_back({"scales", &w.scales});
      blobs.push_back({"rolling_mean", &w.rolling_mean});
      blobs.push_back({"rolling_variance", &w.rolling_variance});
    }
    return blobs;
  }

  void init_parameters(std::mt19937_64& rng) override {
    fill_uniform(arrays_.weights, std::sqrt(3.f / float(inputs_per_image_)), rng);
    fill_uniform(arrays_.biases, 0.1f, rng);
    if (a_.batch_normalize) init_batch_norm(arrays_.scales, arrays_.rolling_mean, arrays_.rolling_variance, rng);
  }

  std::vector<TrainableParam> trainable_params() override {
    // darknet_params() order; weight decay on the weights only.
    WeightArrays& w = arrays_;
    std::vector<TrainableParam> params{{"biases", &w.biases, &w.bias_grads, false},
                                       {"weights", &w.weights, &w.weight_grads, true}};
    if (a_.batch_normalize) params.push_back({"scales", &w.scales, &w.scale_grads, false});
    return params;
  }

 private:
  const ConnectedAttrs& a_;
  int64_t inputs_per_image_ = 0;
  WeightArrays arrays_;
};

}  // namespace

std::unique_ptr<Layer> make_connected(LayerSite& site) { return std::make_unique<ConnectedLayer>(site.options); }

}  // namespace cspnet
