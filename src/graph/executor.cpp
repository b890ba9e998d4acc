#include "cspnet/executor.hpp"

#include <chrono>
#include <cstdlib>
#include <cstring>

#include "backends/onednn/kernel.hpp"
#include "cspnet/error.hpp"
#include "cspnet/quantization.hpp"

namespace cspnet {

struct Executor::State {
  Network& net;
  ExecOptions options;
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  MemoryPlan plan;
  std::unique_ptr<float, decltype(&std::free)> arena{nullptr, &std::free};
  std::vector<TensorView> views;  // per tensor id (layers, then the input)
  std::vector<std::unique_ptr<Kernel>> kernels;
  int copy_kernels = 0;
  SharedScratchpad scratchpad, staging;
  std::vector<double> layer_times_ms;

  State(Network& network, ExecOptions opts) : net(network), options(opts) {}

  TensorView view_of(int tensor) const {
    int root = plan.root[size_t(tensor)];
    const Shape& shape = tensor == net.size() ? net.input_shape() : net.layer(tensor).output_shape();
    const Shape& root_shape = root == net.size() ? net.input_shape() : net.layer(root).output_shape();
    float* base = arena.get() + plan.slot_offset[size_t(plan.slot[size_t(root)])];
    TensorView view{base,
                    shape,
                    root_shape.per_image(),
                    plan.blocked[size_t(tensor)],
                    plan.channels_last[size_t(tensor)],
                    plan.int8_scale[size_t(tensor)],
                    plan.int8_unsigned[size_t(tensor)],
                    plan.bf16[size_t(tensor)]};
    view.data = view.channel_start(plan.root_channel[size_t(tensor)]);  // a channel slice of its root
    return view;
  }
};

Executor::Executor(Network& net, ExecOptions options) : state_(std::make_unique<State>(net, options)) {
  State& s = *state_;
  s.plan = plan_memory(net, options);
  size_t bytes = size_t(std::max<int64_t>(s.plan.peak_bytes, 64));
  bytes = (bytes + 63) / 64 * 64;
  s.arena.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
  if (!s.arena) throw Error(net.name() + ": cannot allocate " + std::to_string(bytes) + " bytes of activations");
  std::memset(s.arena.get(), 0, bytes);
  for (int t = 0; t <= net.size(); ++t) s.views.push_back(s.view_of(t));
  const QuantizationTable* table = options.quantization.get();
  if (options.precision == Precision::int8) {
    if (!table)
      throw Error(net.name() + ": int8 needs a quantization table (ExecOptions::quantization; `cspnet quantize`)");
    check_table(*table, net, "the quantization table");
  }
  for (int i = 0; i < net.size(); ++i) {
    Layer& layer = net.layer(i);
    CompileContext ctx{s.engine, s.options, {}, s.views[size_t(i)]};
    ctx.scratchpad = &s.scratchpad;
    ctx.staging = &s.staging;
    if (options.precision == Precision::int8) ctx.int8_input = table->find(i);
    const int shortcut = s.plan.accumulates_for[size_t(i)];
    if (shortcut >= 0) {
      ctx.accumulate = true;
      onednn_kernels(net.layer(shortcut)).is_fusable_residual_sum(net.layer(shortcut), &ctx.accumulate_then);
      ctx.accumulate_scale = s.views[size_t(net.layer(shortcut).inputs()[1])].int8_scale;
    }
    for (int in : layer.inputs()) ctx.inputs.push_back(s.views[size_t(in < 0 ? net.size() : in)]);
    std::unique_ptr<Kernel> kernel;
    try {
      const bool no_kernel = layer.output_kind() == OutputKind::view || s.plan.folded[size_t(i)];
      kernel = no_kernel ? nullptr : compile_kernel(layer, ctx);
    } catch (const dnnl::error& e) {
      throw Error(layer.where() + ": oneDNN cannot run this layer: " + e.what());
    }
    if (layer.output_kind() == OutputKind::concat && kernel) ++s.copy_kernels;
    s.kernels.push_back(std::move(kernel));
  }
  s.scratchpad.allocate();
  s.staging.allocate();
}

Executor::~Executor() = default;

size_t Executor::scratchpad_bytes() const { return state_->scratchpad.bytes() + state_->staging.bytes(); }

std::vector<Tensor> Executor::forward(const Tensor& input) { return forward(input.data(), input.shape()); }

std::vector<Tensor> Executor::forward(const float* input, const Shape& shape) {
  State& s = *state_;
  if (!(shape == s.net.input_shape()))
    throw Error(s.net.name() + ": input shape " + std::to_string(shape.n) + "x" + shape.str() +
                " does not match the network input " + std::to_string(s.net.batch()) + "x" +
                s.net.input_shape().str());
  const TensorView& in = s.views.back();
  std::memcpy(in.data, input, size_t(shape.count()) * sizeof(float));
  if (s.options.profile_layers) {
    s.layer_times_ms.assign(s.kernels.size(), 0.0);
    for (size_t i = 0; i < s.kernels.size(); ++i) {
      if (!s.kernels[i]) continue;
      auto start = std::chrono::steady_clock::now();
      s.kernels[i]->run(s.stream);
      s.stream.wait();
      s.layer_times_ms[i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    }
  } else {
    for (auto& kernel : s.kernels)
      if (kernel) kernel->run(s.stream);
  }
  s.stream.wait();
  std::vector<Tensor> outputs;
  for (int layer : s.net.output_layers()) outputs.push_back(layer_output(layer));
  return outputs;
}

Tensor Executor::layer_output(int layer) const {
  const State& s = *state_;
  if (layer < 0 || layer >= s.net.size())
    throw Error("layer_output: layer " + std::to_string(layer) + " out of range 0.." + std::to_string(s.net.size() - 1));
  if (s.plan.overwritten[size_t(layer)])
    throw Error(s.net.layer(layer).where() + ": this layer's output was overwritten in place by residual fusion; "
                "run with ExecOptions::fuse_residual = false to read it");
  const TensorView& view = s.views[size_t(layer)];
  Tensor out(view.shape);
  const int64_t per_image = view.shape.per_image();
  if (view.is_float() && !view.blocked && !view.channels_last) {
    for (int64_t n = 0; n < view.shape.n; ++n)
      std::memcpy(out.data() + n * per_image, view.image(n), size_t(per_image) * sizeof(float));
    return out;
  }
  // Blocked, channels-last, 8-bit or bf16: reorder each image to plain NCHW floats.
  TensorView one = view.first_image();
  TensorView plain{nullptr, one.shape, per_image, false};
  dnnl::memory src(one.desc(), s.engine, view.data), dst(plain.desc(), s.engine, out.data());
  dnnl::primitive_attr dequantize;
  if (view.is_int8()) dequantize.set_output_scales(0, {1.f / view.int8_scale});
  dnnl::reorder copy(src, dst, dequantize);
  dnnl::stream stream(s.engine);
  for (int64_t n = 0; n < view.shape.n; ++n) {
    src.set_data_handle(view.image(n));
    dst.set_data_handle(out.data() + n * per_image);
    copy.execute(stream, src, dst);
  }
  stream.wait();
  return out;
}

const MemoryPlan& Executor::plan() const { return state_->plan; }
const std::vector<double>& Executor::layer_times_ms() const { return state_->layer_times_ms; }
std::vector<std::string> Executor::layer_implementations() const {
  std::vector<std::string> names;
  for (const auto& kernel : state_->kernels) names.push_back(kernel ? kernel->implementation() : std::string());
  return names;
}

void Executor::reload_weights() {
  for (auto& kernel : state_->kernels)
    if (kernel) kernel->reload_weights();
}

int Executor::copy_kernels() const { return state_->copy_kernels; }

}  // namespace cspnet
