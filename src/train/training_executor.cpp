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

namespace cspnet {

int logits_layer(const Network& net) {
  int last = net.size() - 1;
  while (last > 0 && net.layer(last).kind() == LayerKind::cost) --last;
  const Layer& layer = net.layer(last);
  if (is_plain_softmax(layer) && layer.inputs().at(0) >= 0) return layer.inputs()[0];
  return last;
}

namespace {

constexpr int kForever = std::numeric_limits<int>::max();
constexpr int64_t kAlignFloats = 16;  // 64-byte alignment for every gradient buffer

int64_t aligned(int64_t floats) { return (floats + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

// Where each layer's output gradient lives in one arena. Backward runs
// layer i at step logits - i (the loss runs at step -1). The gradient of
// layer t is first written by its highest-index reader that runs backward
// (the loss for the logits layer) and last read by t's own backward; two
// gradients share memory only when those closed step ranges are disjoint,
// so a kernel never reads its output gradient from the buffer it writes an
// input gradient to. A gradient nobody writes (an output read by no layer
// that runs backward) stays zero: it keeps a buffer of its own, never
// shared, which holds because backward() never modifies its output gradient
// (TrainCompileContext). Layers after the logits get no gradient at all.
struct GradientPlan {
  std::vector<int64_t> offset;  // per layer, floats into the arena; -1: none
  int64_t arena_floats = 0;
};

GradientPlan plan_gradients(const Network& net, int logits, bool reuse) {
  const int count = net.size();
  std::vector<int> start(size_t(count), kForever), end(size_t(count), -1);
  for (int t = 0; t <= logits; ++t) end[size_t(t)] = logits - t;
  start[size_t(logits)] = -1;
  for (int i = logits; i >= 0; --i)
    for (int in : net.layer(i).inputs())
      if (in >= 0) start[size_t(in)] = std::min(start[size_t(in)], logits - i);
  for (int t = 0; t <= logits; ++t)
    if (start[size_t(t)] == kForever || !reuse) {
      start[size_t(t)] = -1;
      end[size_t(t)] = kForever;
    }

  // Greedy in order of first write, like the inference planner: the
  // best-fitting free slot, else grow the largest free one, else a new slot.
  std::vector<int> order;
  for (int t = 0; t <= logits; ++t) order.push_back(t);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return start[size_t(a)] < start[size_t(b)]; });
  std::vector<int64_t> slot_floats;
  std::vector<int> slot_busy_until, slot_of(size_t(count), -1);
  for (int t : order) {
    const int64_t need = aligned(net.layer(t).output_shape().count());
    int best = -1;
    for (size_t s = 0; s < slot_floats.size(); ++s) {
      if (slot_busy_until[s] >= start[size_t(t)]) continue;
      if (best < 0) {
        best = int(s);
        continue;
      }
      const bool fits = slot_floats[s] >= need, best_fits = slot_floats[size_t(best)] >= need;
      if ((fits && (!best_fits || slot_floats[s] < slot_floats[size_t(best)])) ||
          (!fits && !best_fits && slot_floats[s] > slot_floats[size_t(best)]))
        best = int(s);
    }
    if (best < 0) {
      best = int(slot_floats.size());
      slot_floats.push_back(0);
      slot_busy_until.push_back(-1);
    }
    slot_floats[size_t(best)] = std::max(slot_floats[size_t(best)], need);
    slot_busy_until[size_t(best)] = end[size_t(t)];
    slot_of[size_t(t)] = best;
  }

  GradientPlan plan;
  std::vector<int64_t> slot_offset;
  for (int64_t floats : slot_floats) {
    slot_offset.push_back(plan.arena_floats);
    plan.arena_floats += floats;
  }
  plan.offset.assign(size_t(count), -1);
  for (int t = 0; t <= logits; ++t) plan.offset[size_t(t)] = slot_offset[size_t(slot_of[size_t(t)])];
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
  int logits = 0;
  int64_t classes = 0;
  std::vector<float> probabilities;  // batch x classes, from the last loss
  std::vector<bool> blocked;          // per tensor (layers, then the input): nChw16c

  Impl(Network& network, const TrainingOptions& opts) : net(network), options(opts) {}

  TrainTensor tensor_of(int layer) {
    Tensor& t = layer < 0 ? input : outputs[size_t(layer)];
    return TrainTensor{t.data(), t.shape(), blocked[size_t(layer < 0 ? net.size() : layer)]};
  }
  // Null for the layers after the logits: they never run backward.
  float* grad_of(int layer) {
    const int64_t offset = gradient_plan.offset[size_t(layer)];
    return offset < 0 ? nullptr : gradient_arena + offset;
  }

  void compile() {
    input = Tensor(net.input_shape());
    for (int i = 0; i < net.size(); ++i) outputs.emplace_back(net.layer(i).output_shape());
    logits = logits_layer(net);
    classes = net.layer(logits).output_shape().per_image();
    blocked = plan_training_layouts(net, options.blocked_layout);

    // Kernels capture the gradient pointers, so the plan comes first.
    gradient_plan = plan_gradients(net, logits, options.reuse_gradient_memory);
    gradient_storage.assign(size_t(gradient_plan.arena_floats + kAlignFloats), 0.f);
    const auto address = reinterpret_cast<std::uintptr_t>(gradient_storage.data());
    const auto alignment = std::uintptr_t(kAlignFloats) * sizeof(float);
    gradient_arena = gradient_storage.data() + (alignment - address % alignment) % alignment / sizeof(float);

    // Backward runs layers logits, logits-1, ..., 0 and each layer's slots in
    // order: the first writer of a tensor's gradient overwrites, later ones add.
    std::vector<std::vector<bool>> accumulate(size_t(net.size()));
    std::vector<bool> written(size_t(net.size()), false);
    written[size_t(logits)] = true;  // the loss writes it
    for (int i = logits; i >= 0; --i)
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
      const bool runs_backward = i <= logits;
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

TrainingExecutor::TrainingExecutor(Network& net, const TrainingOptions& options)
    : impl_(std::make_unique<Impl>(net, options)) {
  impl_->compile();
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

LossResult TrainingExecutor::softmax_cross_entropy(std::span<const float> targets, std::span<const int> labels,
                                                   float grad_scale) {
  Impl& s = *impl_;
  const int64_t batch = s.net.input_shape().n, k = s.classes;
  if (int64_t(targets.size()) != batch * k || int64_t(labels.size()) != batch)
    throw Error("softmax_cross_entropy: expected " + std::to_string(batch) + " x " + std::to_string(k) +
                " targets and " + std::to_string(batch) + " labels, got " + std::to_string(targets.size()) + " and " +
                std::to_string(labels.size()));
  const float* z = s.outputs[size_t(s.logits)].data();
  float* dz = s.grad_of(s.logits);
  s.probabilities.resize(size_t(batch * k));
  double loss = 0;
  int64_t correct = 0;
  for (int64_t n = 0; n < batch; ++n) {
    const float* row = z + n * k;
    const float* t = targets.data() + n * k;
    float* p = s.probabilities.data() + n * k;
    const float largest = *std::max_element(row, row + k);
    double sum = 0;
    for (int64_t j = 0; j < k; ++j) sum += std::exp(double(row[j]) - largest);
    const double log_sum = std::log(sum) + largest;  // log sum exp(z)
    for (int64_t j = 0; j < k; ++j) {
      const double log_p = double(row[j]) - log_sum;
      p[j] = float(std::exp(log_p));
      if (t[j] != 0) loss -= double(t[j]) * log_p;
      dz[n * k + j] = (p[j] - t[j]) * grad_scale;
    }
    if (std::max_element(p, p + k) - p == labels[size_t(n)]) ++correct;
  }
  return LossResult{loss / double(batch), correct};
}

void TrainingExecutor::backward() {
  Impl& s = *impl_;
  run_layers(s.logits, 0, -1, s.stream, s.options.profile_layers ? &s.backward_ms : nullptr,
             [&](int i) { s.kernels[size_t(i)]->backward(s.stream); });
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
