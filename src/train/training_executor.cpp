#include "cspnet/training.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "backends/onednn/kernel.hpp"
#include "cspnet/error.hpp"
#include "graph/layout_classes.hpp"
#include "graph/slot_allocator.hpp"
#include "train/cross_entropy.hpp"

namespace cspnet {

int logits_layer(const Network& net) {
  int last = net.size() - 1;
  while (last > 0 && net.layer(last).kind() == LayerKind::cost) --last;
  const Layer& layer = net.layer(last);
  if (is_plain_softmax(layer) && layer.inputs().at(0) >= 0) return layer.inputs()[0];
  return last;
}

namespace {
// A classifier head (plain [softmax]) or a detection head ([yolo]) after
// another layer.
bool can_be_loss(const Layer& layer) {
  return (is_plain_softmax(layer) || layer.kind() == LayerKind::yolo) && layer.inputs().at(0) >= 0;
}
}  // namespace

std::vector<int> loss_layers(const Network& net) {
  std::vector<bool> read_by_other(size_t(net.size()), false);
  for (int i = 0; i < net.size(); ++i)
    for (int in : net.layer(i).inputs())
      if (in >= 0 && net.layer(i).kind() != LayerKind::cost) read_by_other[size_t(in)] = true;
  std::vector<int> losses;
  for (int i = 0; i < net.size(); ++i)
    if (can_be_loss(net.layer(i)) && (net.layer(i).kind() == LayerKind::yolo || !read_by_other[size_t(i)]))
      losses.push_back(i);
  return losses;
}

namespace {

constexpr int kForever = std::numeric_limits<int>::max();
constexpr int64_t kAlignFloats = 16;  // 64-byte alignment of the gradient arena

// Which layers backward runs and where it starts: loss layers (their kernels
// seed their inputs' gradients), or for a network without any, an implicit
// softmax cross-entropy whose logits are the last layer before any [cost]
// (the executor writes that gradient at step -1).
struct BackwardPlan {
  std::vector<int> losses;
  int implicit_logits = -1;
  int last = 0;  // backward runs layers last, last-1, ..., 0
};

BackwardPlan plan_backward(const Network& net, const std::vector<int>& chosen) {
  BackwardPlan plan;
  plan.losses = chosen.empty() ? loss_layers(net) : chosen;
  for (int loss : plan.losses) {
    if (loss < 0 || loss >= net.size() || !can_be_loss(net.layer(loss)))
      throw Error("training: layer " + std::to_string(loss) + " cannot be a loss layer (a [yolo], or a [softmax] "
                  "with groups=1 and temperature=1, after another layer)");
  }
  if (plan.losses.empty()) {
    plan.implicit_logits = logits_layer(net);
    plan.last = plan.implicit_logits;
  } else {
    plan.last = *std::max_element(plan.losses.begin(), plan.losses.end());
  }
  return plan;
}

// Where each layer's output gradient lives in one arena. Backward runs
// layer i at step last - i (an implicit loss runs at step -1). The gradient
// of layer t is first written by its highest-index reader that runs
// backward (or the implicit loss) and last read by t's own backward; two
// gradients share memory only when those closed step ranges are disjoint,
// so a kernel never reads its output gradient from the buffer it writes an
// input gradient to. A gradient nobody writes (an output read by no layer
// that runs backward) stays zero: it keeps a buffer of its own, never
// shared, which holds because backward() never modifies its output gradient
// (TrainCompileContext). Loss layers (which seed their inputs' gradients
// from the targets) and layers after the last one get no gradient at all.
struct GradientPlan {
  std::vector<int64_t> offset;  // per layer, floats into the arena; -1: none
  int64_t arena_floats = 0;
};

GradientPlan plan_gradients(const Network& net, const BackwardPlan& backward, bool reuse) {
  const int count = net.size(), last = backward.last;
  std::vector<bool> has_gradient(size_t(count), false);
  for (int t = 0; t <= last; ++t) has_gradient[size_t(t)] = true;
  for (int loss : backward.losses) has_gradient[size_t(loss)] = false;
  std::vector<int> start(size_t(count), kForever), end(size_t(count), -1);
  for (int t = 0; t <= last; ++t) end[size_t(t)] = last - t;
  if (backward.implicit_logits >= 0) start[size_t(backward.implicit_logits)] = -1;
  for (int i = last; i >= 0; --i)
    for (int in : net.layer(i).inputs())
      if (in >= 0) start[size_t(in)] = std::min(start[size_t(in)], last - i);
  for (int t = 0; t <= last; ++t)
    if (start[size_t(t)] == kForever || !reuse) {
      start[size_t(t)] = -1;
      end[size_t(t)] = kForever;
    }

  // The same slot allocator as the inference planner.
  std::vector<int> gradients;
  std::vector<LiveInterval> intervals;
  for (int t = 0; t <= last; ++t)
    if (has_gradient[size_t(t)]) {
      gradients.push_back(t);
      intervals.push_back({start[size_t(t)], end[size_t(t)], net.layer(t).output_shape().count()});
    }
  const SlotAssignment slots = assign_slots(intervals);
  GradientPlan plan;
  plan.arena_floats = slots.arena_floats;
  plan.offset.assign(size_t(count), -1);
  for (size_t k = 0; k < gradients.size(); ++k)
    plan.offset[size_t(gradients[k])] = slots.slot_offset[size_t(slots.slot[k])];
  return plan;
}

// Which tensors (0..L-1 layer outputs, L the network input) training keeps
// in nChw16c. As in the inference planner, the operands of a layer whose
// training_layout_rule() is `same` share one layout (union-find classes); a
// class is blocked when every member has a multiple of 16 channels and none
// is read or written by a plain-only layer. The network input and the last
// layer's output (TrainingExecutor::output) stay plain.
std::vector<bool> plan_training_layouts(const Network& net, bool enabled) {
  const int tensors = net.size() + 1;
  if (!enabled) return std::vector<bool>(static_cast<size_t>(tensors), false);
  const auto id = [&](int layer) { return layer < 0 ? net.size() : layer; };
  LayoutClasses classes(tensors);
  classes.mark_plain(net.size());
  classes.mark_plain(net.size() - 1);
  for (int i = 0; i < net.size(); ++i) {
    const Layer& layer = net.layer(i);
    if (layer.output_shape().c % kChannelBlock != 0) classes.mark_plain(i);
    const LayoutRule rule = onednn_kernels(layer).training_layout_rule(layer);
    for (int in : layer.inputs()) {
      if (rule == LayoutRule::plain) classes.mark_plain(id(in));
      if (rule == LayoutRule::same) classes.unite(id(in), i);
    }
    if (rule == LayoutRule::plain) classes.mark_plain(i);
  }
  return classes.blocked();
}

}  // namespace

struct TrainingExecutor::Impl {
  Network& net;
  TrainingOptions options;
  std::vector<double> forward_ms, backward_ms;  // per layer, when profiling
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  Tensor input;
  // Every layer output is kept: kernels hold pointers to their inputs and
  // outputs (and some to pre-activation copies) and read them in backward,
  // so an activation lives from its forward to the end of backward.
  std::vector<Tensor> outputs;  // per layer
  // dL/d(output) of the layers up to the logits, planned (see
  // plan_gradients); zeroed once, then every gradient's first writer
  // overwrites it. Padded so the arena starts 64-byte aligned.
  std::vector<float> gradient_storage;
  float* gradient_arena = nullptr;
  GradientPlan gradient_plan;
  std::vector<std::unique_ptr<TrainKernel>> kernels;
  BackwardPlan backward_plan;
  int64_t classes = 0;
  std::vector<bool> blocked;          // per tensor (layers, then the input): nChw16c

  Impl(Network& network, const TrainingOptions& opts) : net(network), options(opts) {}

  TrainTensor tensor_of(int layer) {
    Tensor& t = layer < 0 ? input : outputs[size_t(layer)];
    return TrainTensor{t.data(), t.shape(), blocked[size_t(layer < 0 ? net.size() : layer)]};
  }
  // Null for loss layers and the layers after the last one.
  float* grad_of(int layer) {
    const int64_t offset = gradient_plan.offset[size_t(layer)];
    return offset < 0 ? nullptr : gradient_arena + offset;
  }

  void compile(const std::vector<int>& losses) {
    input = Tensor(net.input_shape());
    for (int i = 0; i < net.size(); ++i) outputs.emplace_back(net.layer(i).output_shape());
    backward_plan = plan_backward(net, losses);
    const int last = backward_plan.last;
    const int head = backward_plan.losses.empty() ? last : net.layer(last).inputs()[0];
    classes = net.layer(head).output_shape().per_image();
    blocked = plan_training_layouts(net, options.blocked_layout);

    // Kernels capture the gradient pointers, so the plan comes first.
    gradient_plan = plan_gradients(net, backward_plan, options.reuse_gradient_memory);
    gradient_storage.assign(size_t(gradient_plan.arena_floats + kAlignFloats), 0.f);
    const auto address = reinterpret_cast<std::uintptr_t>(gradient_storage.data());
    const auto alignment = std::uintptr_t(kAlignFloats) * sizeof(float);
    gradient_arena = gradient_storage.data() + (alignment - address % alignment) % alignment / sizeof(float);

    // Backward runs layers last, last-1, ..., 0 and each layer's slots in
    // order: the first writer of a tensor's gradient overwrites, later ones add.
    std::vector<std::vector<bool>> accumulate(size_t(net.size()));
    std::vector<bool> written(size_t(net.size()), false);
    if (backward_plan.implicit_logits >= 0) written[size_t(last)] = true;  // the implicit loss writes it
    for (int i = last; i >= 0; --i)
      for (int in : net.layer(i).inputs()) {
        bool add = in >= 0 && written[size_t(in)];
        accumulate[size_t(i)].push_back(add);
        if (in >= 0) written[size_t(in)] = true;
      }

    for (int i = 0; i < net.size(); ++i) {
      Layer& layer = net.layer(i);
      TrainCompileContext ctx{engine, {}, tensor_of(i), {}, {}, tensor_of(i)};
      ctx.output_grad.data = grad_of(i);
      ctx.winograd = options.winograd;
      ctx.sync_batch_norm = options.sync_batch_norm;
      ctx.network_input = net.input_shape();
      ctx.loss = std::find(backward_plan.losses.begin(), backward_plan.losses.end(), i) != backward_plan.losses.end();
      const bool runs_backward = i <= last;
      for (size_t slot = 0; slot < layer.inputs().size(); ++slot) {
        int in = layer.inputs()[slot];
        ctx.inputs.push_back(tensor_of(in));
        TrainTensor grad = tensor_of(in);
        grad.data = in < 0 || !runs_backward ? nullptr : grad_of(in);
        ctx.input_grads.push_back(grad);
        ctx.accumulate_input_grad.push_back(runs_backward ? bool(accumulate[size_t(i)][slot]) : false);
      }
      try {
        kernels.push_back(compile_training_kernel(layer, ctx));
      } catch (const dnnl::error& e) {
        throw Error(layer.where() + ": oneDNN cannot train this layer: " + e.what());
      }
    }
  }
};

TrainingExecutor::TrainingExecutor(Network& net, const TrainingOptions& options, const std::vector<int>& losses)
    : impl_(std::make_unique<Impl>(net, options)) {
  impl_->compile(losses);
  if (options.profile_layers) {
    impl_->forward_ms.assign(size_t(net.size()), 0.0);
    impl_->backward_ms.assign(size_t(net.size()), 0.0);
  }
}
TrainingExecutor::~TrainingExecutor() = default;

namespace {

// Runs `body(i)` for i from `first` to `last` in steps of `direction` (+1 or
// -1), timing each when `times` is given (it then waits on the stream after
// every layer).
template <typename Body>
void run_layers(int first, int last, int direction, dnnl::stream& stream, std::vector<double>* times, Body body) {
  for (int i = first; i != last + direction; i += direction) {
    if (!times) {
      body(i);
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    body(i);
    stream.wait();
    (*times)[size_t(i)] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  stream.wait();
}

}  // namespace

void TrainingExecutor::forward(const float* input, const StepContext& step) {
  Impl& s = *impl_;
  std::memcpy(s.input.data(), input, size_t(s.input.size()) * sizeof(float));
  run_layers(0, s.net.size() - 1, 1, s.stream, s.options.profile_layers ? &s.forward_ms : nullptr,
             [&](int i) { s.kernels[size_t(i)]->forward(s.stream, step); });
}

const std::vector<double>& TrainingExecutor::forward_times_ms() const { return impl_->forward_ms; }
const std::vector<double>& TrainingExecutor::backward_times_ms() const { return impl_->backward_ms; }

const Tensor& TrainingExecutor::output() const { return impl_->outputs.back(); }

int TrainingExecutor::classes() const { return static_cast<int>(impl_->classes); }
const std::vector<bool>& TrainingExecutor::blocked_tensors() const { return impl_->blocked; }

LossResult TrainingExecutor::loss(const Targets& targets, float grad_scale) {
  Impl& s = *impl_;
  const BackwardPlan& plan = s.backward_plan;
  const int64_t batch = s.net.input_shape().n;
  if (plan.implicit_logits >= 0) {
    const int logits = plan.implicit_logits;
    LossResult result = softmax_cross_entropy(s.outputs[size_t(logits)].data(), batch, s.classes, targets,
                                              grad_scale, s.grad_of(logits), false);
    result.loss_per_image = result.loss;
    return result;
  }
  LossResult total;
  for (int layer : plan.losses) {  // in network order: `correct` is the last head's
    const LossResult head = static_cast<LossKernel&>(*s.kernels[size_t(layer)]).loss(targets, grad_scale);
    total.loss += head.loss;
    // A [yolo] head reports darknet's sum over the images; softmax a mean.
    total.loss_per_image += yolo_attrs(s.net.layer(layer)) ? head.loss / double(batch) : head.loss;
    total.correct = head.correct;
    total.box_loss += head.box_loss;
    total.objectness_loss += head.objectness_loss;
    total.class_loss += head.class_loss;
    total.positives += head.positives;
    total.positive_iou += head.positive_iou;
    total.recall50 += head.recall50;
    total.recall75 += head.recall75;
    total.skipped_truths += head.skipped_truths;
  }
  return total;
}

const std::vector<int>& TrainingExecutor::loss_layer_indices() const { return impl_->backward_plan.losses; }

void TrainingExecutor::backward() { backward({}); }

void TrainingExecutor::backward(const BackwardObserver& after_layer) {
  Impl& s = *impl_;
  run_layers(s.backward_plan.last, 0, -1, s.stream, s.options.profile_layers ? &s.backward_ms : nullptr, [&](int i) {
    s.kernels[size_t(i)]->backward(s.stream);
    if (after_layer) {
      s.stream.wait();
      after_layer(i);
    }
  });
}

std::span<const float> TrainingExecutor::gradient(int layer) const {
  float* grad = impl_->grad_of(layer);
  if (!grad) return {};
  return {grad, size_t(impl_->outputs[size_t(layer)].size())};
}

std::vector<float> TrainingExecutor::parameter_gradient_for(int layer, const std::string& param,
                                                            std::span<const float> output_gradient) {
  Impl& s = *impl_;
  float* grad = s.grad_of(layer);
  if (!grad || layer > s.backward_plan.last)
    throw Error(s.net.layer(layer).where() + ": backward does not run this layer");
  if (output_gradient.size() != size_t(s.outputs[size_t(layer)].size()))
    throw Error(s.net.layer(layer).where() + ": output gradient of " + std::to_string(output_gradient.size()) +
                " values, the output has " + std::to_string(s.outputs[size_t(layer)].size()));
  std::vector<float>* target = nullptr;
  std::vector<std::vector<float>> saved_params;
  const std::vector<TrainableParam> params = s.net.layer(layer).trainable_params();
  for (const TrainableParam& p : params) {
    if (param == p.name) target = p.grads;
    saved_params.push_back(*p.grads);
    std::fill(p.grads->begin(), p.grads->end(), 0.f);
  }
  if (!target) {
    for (size_t i = 0; i < params.size(); ++i) *params[i].grads = saved_params[i];
    throw Error(s.net.layer(layer).where() + ": no trainable parameter named '" + param + "'");
  }
  // The backward writes its inputs' gradients (the only ones its kernel
  // holds besides its own, which it may use in place): they come back.
  std::vector<int> touched{layer};
  for (int in : s.net.layer(layer).inputs())
    if (in >= 0 && s.grad_of(in)) touched.push_back(in);
  std::vector<std::vector<float>> saved_gradients;
  for (int t : touched) saved_gradients.emplace_back(gradient(t).begin(), gradient(t).end());
  std::copy(output_gradient.begin(), output_gradient.end(), grad);
  s.kernels[size_t(layer)]->backward(s.stream);
  s.stream.wait();
  std::vector<float> result = *target;
  for (size_t i = 0; i < touched.size(); ++i)
    std::copy(saved_gradients[i].begin(), saved_gradients[i].end(), s.grad_of(touched[i]));
  for (size_t i = 0; i < params.size(); ++i) *params[i].grads = saved_params[i];
  return result;
}

namespace {

bool all_finite(const float* values, int64_t count) {
  // A sum is NaN when any term is NaN or infinite (or the sum overflows,
  // which only happens near infinity anyway): one vectorisable pass.
  float sum = 0.f;
  for (int64_t i = 0; i < count; ++i) sum += values[i] * 0.f;
  return sum == 0.f;
}

}  // namespace

int TrainingExecutor::first_non_finite_output() const {
  for (size_t i = 0; i < impl_->outputs.size(); ++i)
    if (!all_finite(impl_->outputs[i].data(), impl_->outputs[i].size())) return int(i);
  return -1;
}

int first_non_finite_gradient(Network& net, std::string* array) {
  for (int i = 0; i < net.size(); ++i)
    for (const TrainableParam& p : net.layer(i).trainable_params())
      if (!all_finite(p.grads->data(), int64_t(p.grads->size()))) {
        if (array) *array = p.name;
        return i;
      }
  return -1;
}

std::vector<TrainableParam> all_trainable_params(Network& net) {
  std::vector<TrainableParam> params;
  for (int i = 0; i < net.size(); ++i)
    for (const TrainableParam& p : net.layer(i).trainable_params()) params.push_back(p);
  return params;
}

void TrainingExecutor::zero_gradients() {
  for (const TrainableParam& p : all_trainable_params(impl_->net)) std::fill(p.grads->begin(), p.grads->end(), 0.f);
}

int64_t TrainingExecutor::memory_bytes() const {
  int64_t floats = impl_->input.size() + impl_->gradient_plan.arena_floats;
  for (const Tensor& output : impl_->outputs) floats += output.size();
  return floats * int64_t(sizeof(float));
}

int64_t TrainingExecutor::unplanned_bytes() const {
  int64_t floats = impl_->input.size();
  for (const Tensor& output : impl_->outputs) floats += 2 * output.size();
  return floats * int64_t(sizeof(float));
}

}  // namespace cspnet
