#include "cspnet/optimizer.hpp"

#include <cmath>

#include "cspnet/error.hpp"

namespace cspnet {
namespace {

// Below this many values a parallel region costs more than the loop.
constexpr int64_t kParallelThreshold = 1 << 15;

std::string param_label(size_t index, const TrainableParam& param) {
  return "parameter " + std::to_string(index) + " ('" + std::string(param.name ? param.name : "?") + "')";
}

// darknet's rule for the mean gradient g. darknet accumulates u = -B*g
// (B = batch*subdivisions, deltas are negated gradients summed over the batch)
// and runs u -= decay*B*w; w += (lr/B)*u; u *= momentum. With v = -u/B that is
// v = momentum*v + g + decay*w; w -= lr*v, which is what runs here.
void sgd_update(float* w, const float* g, float* v, int64_t n, float lr, float momentum, float decay, bool nesterov) {
  if (nesterov) {
#pragma omp parallel for schedule(static) if (n >= kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) {
      const float grad = g[i] + decay * w[i];
      v[i] = momentum * v[i] + grad;
      w[i] -= lr * (grad + momentum * v[i]);
    }
  } else {
#pragma omp parallel for schedule(static) if (n >= kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) {
      v[i] = momentum * v[i] + (g[i] + decay * w[i]);
      w[i] -= lr * v[i];
    }
  }
}

void adamw_update(float* w, const float* g, float* m, float* s, int64_t n, float lr, float decay, float beta1,
                  float beta2, float epsilon, uint64_t t) {
  // Bias corrections in double: beta^t for large t underflows gracefully.
  const double correction1 = 1.0 - std::pow(double(beta1), double(t));
  const double correction2 = 1.0 - std::pow(double(beta2), double(t));
  const float step_size = float(double(lr) / correction1);
  const float inv_sqrt_correction2 = float(1.0 / std::sqrt(correction2));
  const float shrink = 1.f - lr * decay;  // decoupled decay, applied before the Adam step
#pragma omp parallel for schedule(static) if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    w[i] *= shrink;
    m[i] = beta1 * m[i] + (1.f - beta1) * g[i];
    s[i] = beta2 * s[i] + (1.f - beta2) * g[i] * g[i];
    w[i] -= step_size * m[i] / (std::sqrt(s[i]) * inv_sqrt_correction2 + epsilon);
  }
}

bool in_unit_interval(float x) { return std::isfinite(x) && x >= 0.f && x < 1.f; }

}  // namespace

std::string_view optimizer_kind_name(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::sgd:
      return "sgd";
    case OptimizerKind::adamw:
      return "adamw";
  }
  return "?";
}

void OptimizerConfig::validate(const std::string& where) const {
  auto bad = [&](const std::string& key, const std::string& expected, float got) {
    throw Error(where + ": optimizer " + key + ": expected " + expected + ", got " + std::to_string(got));
  };
  if (!in_unit_interval(momentum)) bad("momentum", "a number in [0, 1)", momentum);
  if (!std::isfinite(decay) || decay < 0.f) bad("decay", "a finite number >= 0", decay);
  if (!in_unit_interval(beta1)) bad("beta1", "a number in [0, 1)", beta1);
  if (!in_unit_interval(beta2)) bad("beta2", "a number in [0, 1)", beta2);
  if (!std::isfinite(epsilon) || epsilon <= 0.f) bad("epsilon", "a finite number > 0", epsilon);
  if (nesterov && kind != OptimizerKind::sgd) throw Error(where + ": optimizer nesterov: only applies to sgd");
}

OptimizerConfig parse_optimizer_config(Options& net) {
  OptimizerConfig config;
  config.decay = 0.0001f;  // darknet's default when the cfg has no `decay`
  const std::string kind = net.get_string("optimizer", "sgd");
  if (kind == "sgd")
    config.kind = OptimizerKind::sgd;
  else if (kind == "adamw")
    config.kind = OptimizerKind::adamw;
  else
    net.fail("optimizer", "sgd or adamw");
  if (net.get_int64("adam", 0) != 0)
    net.fail("adam", "0 (darknet's Adam couples L2 decay into the gradient; use optimizer=adamw)");
  auto number_in = [&](const std::string& key, double low, bool low_inclusive, double high, bool high_inclusive,
                       const std::string& expected, float& out) {
    if (!net.has(key)) return;
    const double value = net.get_double(key, 0);
    const bool ok = (low_inclusive ? value >= low : value > low) && (high_inclusive ? value <= high : value < high);
    if (!ok) net.fail(key, expected);
    out = float(value);
  };
  const double inf = HUGE_VAL;
  number_in("momentum", 0, true, 1, false, "a number in [0, 1)", config.momentum);
  number_in("decay", 0, true, inf, false, "a number >= 0", config.decay);
  number_in("B1", 0, true, 1, false, "a number in [0, 1)", config.beta1);
  number_in("B2", 0, true, 1, false, "a number in [0, 1)", config.beta2);
  number_in("eps", 0, false, inf, false, "a number > 0", config.epsilon);
  if (net.has("nesterov")) {
    const int64_t nesterov = net.get_int64("nesterov", 0);
    if (nesterov != 0 && nesterov != 1) net.fail("nesterov", "0 or 1");
    if (nesterov == 1 && config.kind != OptimizerKind::sgd)
      net.fail("nesterov", "0 with optimizer=adamw (Nesterov momentum is an SGD option)");
    config.nesterov = nesterov == 1;
  }
  config.validate(net.where());
  return config;
}

Optimizer::Optimizer(const OptimizerConfig& config) : config_(config) {
  config_.validate("optimizer configuration");
  state_.kind = config_.kind;
}

int Optimizer::slots_per_value(OptimizerKind kind) { return kind == OptimizerKind::adamw ? 2 : 1; }

void Optimizer::check_matches(const OptimizerState& state, std::span<const TrainableParam> params) const {
  if (state.slots.size() != params.size())
    throw Error("optimizer state has " + std::to_string(state.slots.size()) + " parameter slots, expected " +
                std::to_string(params.size()) + " (one per trainable parameter)");
  const size_t per_value = size_t(slots_per_value(state.kind));
  for (size_t i = 0; i < params.size(); ++i) {
    const size_t expected = params[i].values->size() * per_value;
    if (state.slots[i].size() != expected)
      throw Error("optimizer state for " + param_label(i, params[i]) + " has " +
                  std::to_string(state.slots[i].size()) + " floats, expected " + std::to_string(expected) + " (" +
                  std::to_string(params[i].values->size()) + " values x " + std::to_string(per_value) + ")");
  }
}

void Optimizer::set_state(OptimizerState state, std::span<const TrainableParam> params) {
  if (state.kind != config_.kind)
    throw Error("optimizer state was saved by " + std::string(optimizer_kind_name(state.kind)) +
                ", but this optimizer is " + std::string(optimizer_kind_name(config_.kind)));
  const size_t per_value = size_t(slots_per_value(state.kind));
  for (size_t i = 0; i < state.slots.size(); ++i)
    if (state.slots[i].size() % per_value != 0)
      throw Error("optimizer state slot " + std::to_string(i) + " has " + std::to_string(state.slots[i].size()) +
                  " floats, expected a multiple of " + std::to_string(per_value));
  if (!params.empty()) check_matches(state, params);
  state_ = std::move(state);
}

void Optimizer::step(std::span<const TrainableParam> params, float learning_rate) {
  if (!std::isfinite(learning_rate) || learning_rate < 0.f)
    throw Error("optimizer step: learning rate " + std::to_string(learning_rate) + " is not a finite number >= 0");
  for (size_t i = 0; i < params.size(); ++i)
    if (params[i].grads->size() != params[i].values->size())
      throw Error("optimizer step: " + param_label(i, params[i]) + " has " + std::to_string(params[i].values->size()) +
                  " values but " + std::to_string(params[i].grads->size()) + " gradients");
  const size_t per_value = size_t(slots_per_value(config_.kind));
  if (state_.slots.empty() && !params.empty()) {
    state_.slots.resize(params.size());
    for (size_t i = 0; i < params.size(); ++i) state_.slots[i].assign(params[i].values->size() * per_value, 0.f);
  }
  check_matches(state_, params);
  const uint64_t t = state_.step + 1;
  for (size_t i = 0; i < params.size(); ++i) {
    const TrainableParam& p = params[i];
    const int64_t n = int64_t(p.values->size());
    float* w = p.values->data();
    const float* g = p.grads->data();
    float* slot = state_.slots[i].data();
    const float decay = p.decay ? config_.decay : 0.f;
    if (config_.kind == OptimizerKind::sgd)
      sgd_update(w, g, slot, n, learning_rate, config_.momentum, decay, config_.nesterov);
    else
      adamw_update(w, g, slot, slot + n, n, learning_rate, decay, config_.beta1, config_.beta2, config_.epsilon, t);
  }
  state_.step = t;
}

}  // namespace cspnet
