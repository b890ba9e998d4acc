#include "backends/onednn/kernel_util.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace cspnet {

ViewPrimitiveKernel::ViewPrimitiveKernel(dnnl::primitive primitive, std::unordered_map<int, dnnl::memory> fixed_args,
                                         std::vector<ViewArg> view_args, bool per_image, const dnnl::engine& engine)
    : primitive_(std::move(primitive)),
      args_(std::move(fixed_args)),
      view_args_(std::move(view_args)),
      per_image_(per_image),
      images_(view_args_.empty() ? 1 : view_args_.front().view.shape.n) {
  for (const auto& a : view_args_) {
    const bool gather = !per_image_ && !a.view.dense();
    dnnl::memory view_memory = gather ? dnnl::memory(a.desc, engine) : dnnl::memory(a.desc, engine, a.view.data);
    view_memories_.push_back(view_memory);
    if (gather) gathered_.push_back(Gathered{a.view, view_memory, !a.output() || a.accumulate, a.output()});
    if (a.staged.is_zero() || a.staged == a.desc) {
      args_.insert_or_assign(a.arg, view_memory);
      continue;
    }
    dnnl::memory staged(a.staged, engine);
    args_.insert_or_assign(a.arg, staged);
    Staging stage{view_memory, staged, std::nullopt, std::nullopt};
    dnnl::primitive_attr quantize;
    if (a.stage_scale != 1.f) quantize.set_output_scales(0, {a.stage_scale});
    if (!a.output() || a.accumulate) stage.load = dnnl::reorder(view_memory, staged, quantize);
    if (a.output()) stage.store = dnnl::reorder(staged, view_memory);
    staging_.push_back(stage);
  }
}

void ViewPrimitiveKernel::copy_images(const TensorView& view, std::byte* dense, bool into_dense) {
  const int64_t bytes = view.shape.per_image() * view.element_bytes();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < view.shape.n; ++n) {
    auto* image = reinterpret_cast<std::byte*>(view.image(n));
    if (into_dense)
      std::memcpy(dense + n * bytes, image, size_t(bytes));
    else
      std::memcpy(image, dense + n * bytes, size_t(bytes));
  }
}

void ViewPrimitiveKernel::run(dnnl::stream& stream) {
  for (auto& g : gathered_)
    if (g.load) copy_images(g.view, static_cast<std::byte*>(g.dense.get_data_handle()), true);
  const int64_t passes = per_image_ ? images_ : 1;
  for (int64_t n = 0; n < passes; ++n) {
    if (per_image_)
      for (size_t i = 0; i < view_args_.size(); ++i) view_memories_[i].set_data_handle(view_args_[i].view.image(n));
    for (auto& stage : staging_)
      if (stage.load) stage.load->execute(stream, stage.view_memory, stage.staged);
    primitive_.execute(stream, args_);
    for (auto& stage : staging_)
      if (stage.store) stage.store->execute(stream, stage.staged, stage.view_memory);
  }
  for (auto& g : gathered_)
    if (g.store) copy_images(g.view, static_cast<std::byte*>(g.dense.get_data_handle()), false);
}

std::string ViewPrimitiveKernel::implementation() const {
  const char* name = nullptr;
  if (dnnl_primitive_desc_query(primitive_.get_primitive_desc(), dnnl_query_impl_info_str, 0, &name) != dnnl_success ||
      !name)
    return "oneDNN";
  return name;
}

dnnl::memory SharedScratchpad::bind(const dnnl::memory::desc& md, const dnnl::engine& engine) {
  bytes_ = std::max(bytes_, md.get_size());
  memories_.emplace_back(md, engine, nullptr);
  return memories_.back();
}

void SharedScratchpad::allocate() {
  buffer_.assign(std::max<size_t>(bytes_, 1) + 64, 0);
  // oneDNN wants its scratchpad 64-byte aligned.
  auto address = reinterpret_cast<uintptr_t>(buffer_.data());
  void* aligned = buffer_.data() + ((64 - address % 64) % 64);
  for (auto& memory : memories_) memory.set_data_handle(aligned);
}

dnnl::primitive_attr primitive_attributes(const CompileContext& ctx, dnnl::post_ops ops) {
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  if (ctx.scratchpad) attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

std::unordered_map<int, dnnl::memory> scratchpad_args(const CompileContext& ctx, const dnnl::memory::desc& md,
                                                      std::unordered_map<int, dnnl::memory> args) {
  if (ctx.scratchpad) args.insert_or_assign(DNNL_ARG_SCRATCHPAD, ctx.scratchpad->bind(md, ctx.engine));
  return args;
}

void fold_batch_norm(std::vector<float>& weights, std::vector<float>& bias, const std::vector<float>& scales,
                     const std::vector<float>& mean, const std::vector<float>& variance) {
  const size_t per_output = weights.size() / bias.size();
  for (size_t o = 0; o < bias.size(); ++o) {
    float factor = scales[o] / std::sqrt(variance[o] + kBatchNormEpsilon);
    for (size_t k = 0; k < per_output; ++k) weights[o * per_output + k] *= factor;
    bias[o] -= mean[o] * factor;
  }
}

void activate_view(Activation act, const TensorView& view) {
  for (int64_t n = 0; n < view.shape.n; ++n) activate_array(act, view.image(n), view.shape.per_image());
}

std::unique_ptr<Kernel> activation_kernel(Activation act, const TensorView& view, const CompileContext& ctx) {
  if (act == Activation::linear) return nullptr;
  // oneDNN's JIT eltwise is vectorised for the CPU and threaded; our loop
  // serves what is not one of its algorithms (hard_mish; selu's two steps).
  if (const std::optional<Eltwise> op = single_eltwise(act); op && view.is_float())
    return eltwise_kernel(*op, view, view, ctx);
  return make_kernel([act, view](dnnl::stream&) { activate_view(act, view); });
}

std::unique_ptr<Kernel> eltwise_kernel(const Eltwise& op, const TensorView& src, const TensorView& dst,
                                       const CompileContext& ctx) {
  const bool each_image = per_image({src, dst});
  const dnnl::eltwise_forward::primitive_desc pd(
      {dnnl::prop_kind::forward_inference, op.algorithm, arg_view(src, each_image).desc(), op.alpha, op.beta},
      primitive_attributes(ctx), ctx.engine);
  return std::make_unique<ViewPrimitiveKernel>(
      dnnl::eltwise_forward(pd), scratchpad_args(ctx, pd.scratchpad_desc()),
      std::vector<ViewArg>{view_arg(DNNL_ARG_SRC, src, each_image), view_arg(DNNL_ARG_DST, dst, each_image)},
      each_image, ctx.engine);
}

dnnl::memory::desc TensorView::desc() const {
  using dims = dnnl::memory::dims;
  const dims shape_dims{shape.n, shape.c, shape.h, shape.w};
  if (blocked || channels_last) {
    if (!dense()) throw Error("internal: a blocked or channels-last view strided across images has no oneDNN descriptor");
    return dnnl::memory::desc(shape_dims, data_type(),
                              blocked ? dnnl::memory::format_tag::nChw16c : dnnl::memory::format_tag::nhwc);
  }
  // With one image the image stride is irrelevant; describing the view as
  // dense lets oneDNN pick its fast kernels (it treats any gap as non-dense).
  int64_t stride = dense() ? shape.per_image() : image_stride;
  return dnnl::memory::desc(shape_dims, data_type(), dims{stride, plane(), shape.w, 1});
}

InferenceArrays::InferenceArrays(const WeightArrays& arrays, bool batch_norm, bool fold)
    : weights(arrays.weights), bias(arrays.biases) {
  if (batch_norm && fold) fold_batch_norm(weights, bias, arrays.scales, arrays.rolling_mean, arrays.rolling_variance);
}

WeightMemories::WeightMemories(const dnnl::engine& engine, const WeightArrays& arrays, bool batch_norm, bool fold,
                               const dnnl::memory::desc& user_weights, const dnnl::memory::desc& primitive_weights,
                               std::optional<Int8Scales> int8)
    : engine_(engine),
      arrays_(arrays),
      batch_norm_(batch_norm),
      fold_(fold),
      user_weights_(user_weights),
      int8_(std::move(int8)) {
  const dnnl::memory::desc vector_md({dnnl::memory::dim(arrays.biases.size())}, dnnl::memory::data_type::f32,
                                     dnnl::memory::format_tag::x);
  weights = dnnl::memory(primitive_weights, engine);
  bias = dnnl::memory(vector_md, engine);
  if (batch_norm && !fold)
    for (dnnl::memory* m : {&mean, &variance, &scale, &shift}) *m = dnnl::memory(vector_md, engine);
  load();
}

void WeightMemories::load() {
  InferenceArrays folded(arrays_, batch_norm_, fold_);
  dnnl::memory user(user_weights_, engine_, folded.weights.data());
  dnnl::stream setup(engine_);
  dnnl::primitive_attr quantize;
  // Per output channel: dims 0 (oihw) or 0 and 1 (goihw: groups, outputs per group).
  if (int8_) {
    quantize.set_output_scales(user_weights_.dims().size() == 5 ? 3 : 1, int8_->weights);
    const size_t per_output = folded.weights.size() / folded.bias.size();
    for (size_t o = 0; o < folded.bias.size(); ++o) {
      folded.bias[o] *= int8_->input * int8_->weights[o];
      if (int8_->input_shift == 0) continue;
      // The quantized weights as the reorder below makes them: nearest even, saturated.
      double sum = 0;
      for (size_t k = 0; k < per_output; ++k)
        sum += std::clamp(std::nearbyint(folded.weights[o * per_output + k] * int8_->weights[o]), -128.f, 127.f);
      folded.bias[o] -= float(double(int8_->input_shift) * sum);
    }
  }
  dnnl::reorder(user, weights, quantize).execute(setup, user, weights);
  setup.wait();
  auto copy = [](const std::vector<float>& from, const dnnl::memory& to) {
    std::copy(from.begin(), from.end(), static_cast<float*>(to.get_data_handle()));
  };
  copy(folded.bias, bias);
  if (batch_norm_ && !fold_) {
    copy(arrays_.rolling_mean, mean);
    copy(arrays_.rolling_variance, variance);
    copy(arrays_.scales, scale);
    copy(arrays_.biases, shift);
  }
}

namespace {
class ReloadingKernel final : public Kernel {
 public:
  ReloadingKernel(std::unique_ptr<Kernel> kernel, std::function<void()> reload)
      : kernel_(std::move(kernel)), reload_(std::move(reload)) {}
  void run(dnnl::stream& stream) override { kernel_->run(stream); }
  std::string implementation() const override { return kernel_->implementation(); }
  void reload_weights() override {
    reload_();
    kernel_->reload_weights();
  }

 private:
  std::unique_ptr<Kernel> kernel_;
  std::function<void()> reload_;
};
}  // namespace

std::unique_ptr<Kernel> with_reload(std::unique_ptr<Kernel> kernel, std::function<void()> reload) {
  return std::make_unique<ReloadingKernel>(std::move(kernel), std::move(reload));
}

std::unique_ptr<TrainKernel> LayerKernels::compile_training(Layer& layer, const TrainCompileContext&) const {
  throw Error(layer.where() + ": a [" + std::string(layer.type()) + "] layer cannot be trained");
}

bool append_activation_post_op(Activation act, dnnl::post_ops& ops) {
  using dnnl::algorithm;
  switch (act) {
    case Activation::linear: return true;
    case Activation::logistic: ops.append_eltwise(1.f, algorithm::eltwise_logistic, 0.f, 0.f); return true;
    case Activation::relu: ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f); return true;
    case Activation::relu6: ops.append_eltwise(1.f, algorithm::eltwise_clip, 0.f, 6.f); return true;
    case Activation::leaky: ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.1f, 0.f); return true;
    case Activation::tanh: ops.append_eltwise(1.f, algorithm::eltwise_tanh, 0.f, 0.f); return true;
    case Activation::elu: ops.append_eltwise(1.f, algorithm::eltwise_elu, 1.f, 0.f); return true;
    case Activation::selu:
      ops.append_eltwise(1.f, algorithm::eltwise_elu, static_cast<float>(kSeluAlpha), 0.f);
      ops.append_eltwise(1.f, algorithm::eltwise_linear, static_cast<float>(kSeluScale), 0.f);
      return true;
    case Activation::swish: ops.append_eltwise(1.f, algorithm::eltwise_swish, 1.f, 0.f); return true;
    // darknet's mish switches softplus to the identity above 20 and its gelu
    // rounds the tanh-approximation constants to 6 digits; in float both
    // agree with oneDNN's definitions to a few ulp (tested), and oneDNN's are
    // vectorised post-ops instead of a scalar pass over memory.
    case Activation::mish: ops.append_eltwise(1.f, algorithm::eltwise_mish, 0.f, 0.f); return true;
    case Activation::gelu: ops.append_eltwise(1.f, algorithm::eltwise_gelu_tanh, 0.f, 0.f); return true;
    case Activation::hard_mish: return false;
  }
  return false;
}

std::optional<Eltwise> single_eltwise(Activation act) {
  dnnl::post_ops ops;
  if (!append_activation_post_op(act, ops) || ops.len() != 1) return std::nullopt;
  Eltwise op{};
  float scale = 1.f;
  ops.get_params_eltwise(0, scale, op.algorithm, op.alpha, op.beta);
  return op;
}

bool has_activation_post_op(Activation act) {
  dnnl::post_ops scratch;
  return append_activation_post_op(act, scratch);
}

}  // namespace cspnet
