// [connected]: fully connected layer (optional batch norm) on oneDNN's
// inner product; the input is flattened C*H*W per image.
#include <cmath>
#include <optional>

#include "cspnet/activation.hpp"
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"
#include "weighted_train.hpp"

namespace cspnet {
namespace {


class ConnectedLayer final : public Layer {
 public:
  explicit ConnectedLayer(Options& o) {
    outputs_ = o.get_int("output", 1);
    if (outputs_ <= 0) o.fail("output", "a positive number of outputs");
    batch_norm_ = o.get_int("batch_normalize", 0) != 0;
    activation_ = parse_activation(o.get_string("activation", "logistic"), o.where("activation"));
  }
  std::string_view type() const override { return "connected"; }
  LayoutRule layout_rule() const override { return LayoutRule::any; }
  int filters() const override { return outputs_; }

  Shape infer(std::span<const Shape> in) override {
    check_parameter_count(*this, double(outputs_) * double(in[0].per_image()), "output*inputs");
    input_ = in[0];
    size_t n = static_cast<size_t>(outputs_);
    size_t count = n * static_cast<size_t>(input_.per_image());
    if (weights_.size() != count) weights_.assign(count, 0.f);
    biases_.resize(n, 0.f);
    if (batch_norm_) {
      scales_.resize(n, 1.f);
      rolling_mean_.resize(n, 0.f);
      rolling_variance_.resize(n, 1.f);
    }
    return Shape{input_.n, outputs_, 1, 1};
  }

  int64_t parameter_count() const override {
    return int64_t(weights_.size()) + int64_t{outputs_} * (batch_norm_ ? 2 : 1);
  }
  double bflops() const override { return 2.0 * double(outputs_) * double(input_.per_image()) / 1e9; }

  std::vector<ParamBlob> darknet_params() override {
    std::vector<ParamBlob> blobs{{"biases", &biases_}, {"weights", &weights_, outputs_, input_.per_image()}};
    if (batch_norm_) {
      blobs.push_back({"scales", &scales_});
      blobs.push_back({"rolling_mean", &rolling_mean_});
      blobs.push_back({"rolling_variance", &rolling_variance_});
    }
    return blobs;
  }

  void init_parameters(std::mt19937_64& rng) override {
    fill_uniform(weights_, std::sqrt(3.f / float(input_.per_image())), rng);
    fill_uniform(biases_, 0.1f, rng);
    if (batch_norm_) init_batch_norm(scales_, rolling_mean_, rolling_variance_, rng);
  }

  std::unique_ptr<Kernel> compile(const CompileContext& ctx) override {
    using namespace dnnl;
    using dims = memory::dims;
    const TensorView& in = ctx.inputs[0];
    const TensorView& out = ctx.output;
    // BN at inference is an affine map per output: fold it into the weights
    // (this layer has no unfolded path: the fold is exact algebra).
    std::vector<float> weights = weights_, bias = biases_;
    if (batch_norm_) fold_batch_norm(weights, bias, scales_, rolling_mean_, rolling_variance_);
    dims weight_dims{outputs_, in.shape.c, in.shape.h, in.shape.w};
    memory::desc bias_md(dims{outputs_}, memory::data_type::f32, memory::format_tag::x);
    // The output is O x 1 x 1: the same memory in plain and blocked layouts.
    const bool each_image = per_image({in, out});
    const int64_t rows = each_image ? 1 : out.shape.n;
    memory::desc dst_md(dims{rows, outputs_}, memory::data_type::f32, dims{outputs_, 1});
    post_ops ops;
    bool fused = ctx.options.fuse_activation && append_activation_post_op(activation_, ops);
    const primitive_attr attr = primitive_attributes(ctx, ops);
    inner_product_forward::primitive_desc pd(
        {prop_kind::forward_inference, arg_view(in, each_image).desc(),
         memory::desc(weight_dims, memory::data_type::f32, memory::format_tag::any), bias_md, dst_md},
        attr, ctx.engine);
    memory user_weights({weight_dims, memory::data_type::f32, memory::format_tag::oihw}, ctx.engine,
                        weights.data());
    memory ip_weights(pd.weights_desc(), ctx.engine);
    stream setup(ctx.engine);
    reorder(user_weights, ip_weights).execute(setup, user_weights, ip_weights);
    setup.wait();
    memory bias_mem(bias_md, ctx.engine);
    std::copy(bias.begin(), bias.end(), static_cast<float*>(bias_mem.get_data_handle()));
    auto sequence = std::make_unique<SequenceKernel>();
    sequence->add(std::make_unique<ViewPrimitiveKernel>(
        inner_product_forward(pd),
        scratchpad_args(ctx, pd.scratchpad_desc(), {{DNNL_ARG_WEIGHTS, ip_weights}, {DNNL_ARG_BIAS, bias_mem}}),
        std::vector<ViewArg>{view_arg(DNNL_ARG_SRC, in, each_image), ViewArg{DNNL_ARG_DST, out, dst_md}}, each_image,
        ctx.engine));
    if (!fused) sequence->add(activation_kernel(activation_, out));
    return sequence;
  }

  std::unique_ptr<TrainKernel> compile_training(const TrainCompileContext& ctx) override {
    using namespace dnnl;
    using dims = memory::dims;
    std::optional<BatchNormArrays> bn;
    if (batch_norm_)  // over the batch: m = batch
      bn.emplace(BatchNormArrays{scales_, biases_, rolling_mean_, rolling_variance_, scale_grads_, bias_grads_});
    const Shape& in = ctx.inputs.at(0).shape;
    const auto f32 = memory::data_type::f32;
    // Weights [outputs][inputs] with the inputs in C, H, W order: oihw.
    const dims src_dims{in.n, in.c, in.h, in.w}, weight_dims{outputs_, in.c, in.h, in.w}, dst_dims{in.n, outputs_};
    const memory::desc bias_md({outputs_}, f32, memory::format_tag::x);
    const memory::desc src_any(src_dims, f32, memory::format_tag::any), dst_any(dst_dims, f32, memory::format_tag::any);
    const memory::desc weights_any(weight_dims, f32, memory::format_tag::any);
    const bool with_bias = !batch_norm_;
    inner_product_forward::primitive_desc forward_pd(
        with_bias ? inner_product_forward::desc(prop_kind::forward_training, src_any, weights_any, bias_md, dst_any)
                  : inner_product_forward::desc(prop_kind::forward_training, src_any, weights_any, dst_any),
        ctx.engine);
    const memory::desc src_md = forward_pd.src_desc(), dst_md = forward_pd.dst_desc();
    inner_product_backward_data::primitive_desc backward_data_pd({src_md, weights_any, dst_md}, ctx.engine, forward_pd);
    inner_product_backward_weights::primitive_desc backward_weights_pd(
        with_bias ? inner_product_backward_weights::desc(src_md, weights_any, bias_md, dst_md)
                  : inner_product_backward_weights::desc(src_md, weights_any, dst_md),
        ctx.engine, forward_pd);
    WeightedPrimitives primitives = weighted_primitives(
        forward_pd, backward_data_pd, backward_weights_pd, with_bias, memory::desc(src_dims, f32, memory::format_tag::nchw),
        memory::desc(dst_dims, f32, memory::format_tag::nc), memory::desc(weight_dims, f32, memory::format_tag::oihw));
    return std::make_unique<WeightedTrainKernel>(ctx, std::move(primitives),
                                                 WeightedArrays{weights_, biases_, weight_grads_, bias_grads_}, bn,
                                                 activation_);
  }

  std::vector<TrainableParam> trainable_params() override {
    // darknet_params() order; weight decay on the weights only.
    std::vector<TrainableParam> params{{"biases", &biases_, &bias_grads_, false},
                                       {"weights", &weights_, &weight_grads_, true}};
    if (batch_norm_) params.push_back({"scales", &scales_, &scale_grads_, false});
    return params;
  }

 private:
  int outputs_ = 1;
  bool batch_norm_ = false;
  Activation activation_ = Activation::logistic;
  Shape input_{};
  std::vector<float> weights_, biases_, scales_, rolling_mean_, rolling_variance_;
  std::vector<float> weight_grads_, bias_grads_, scale_grads_;  // sized and zeroed by compile_training
};

}  // namespace

std::unique_ptr<Layer> make_connected(LayerSite& site) { return std::make_unique<ConnectedLayer>(site.options); }

}  // namespace cspnet
