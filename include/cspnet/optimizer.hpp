#pragma once
// Parameter updates from gradients: SGD with momentum and weight decay
// (darknet's rule), optionally Nesterov, and AdamW.
//
// Gradients are those of the MEAN loss over the full batch
// (batch*subdivisions images, summed over subdivisions). For that gradient g
// darknet's SGD rule is exactly
//     v = momentum*v + (g + decay*w)     (decay only where the param decays)
//     w = w - lr*v
// Darknet itself accumulates the negated SUM of per-image gradients,
// u = -B*g with B = batch*subdivisions, into an update buffer and runs
//     u -= decay*B*w;  w += (lr/B)*u;  u *= momentum;
// Writing v = -u/B turns that into the rule above, so `learning_rate` and
// `decay` in a darknet cfg mean the same thing here as they do in darknet.
//
// Nesterov follows PyTorch: g' = g + decay*w, v = momentum*v + g',
// w -= lr*(g' + momentum*v).
// AdamW: decoupled weight decay w -= lr*decay*w (where the param decays),
// then Adam with bias-corrected moments: m = b1*m + (1-b1)*g,
// s = b2*s + (1-b2)*g^2, w -= lr * (m/(1-b1^t)) / (sqrt(s/(1-b2^t)) + eps).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cspnet/cfg.hpp"
#include "cspnet/layer.hpp"

namespace cspnet {

enum class OptimizerKind { sgd, adamw };

std::string_view optimizer_kind_name(OptimizerKind kind);

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::sgd;
  float momentum = 0.9f;  // sgd
  float decay = 0.0005f;  // L2 (sgd) or decoupled (adamw) weight decay; only params with decay=true
  bool nesterov = false;  // sgd
  float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;  // adamw

  // Throws cspnet::Error, prefixed by `where`, for values outside their range
  // (momentum and betas in [0, 1), decay >= 0, epsilon > 0, all finite).
  void validate(const std::string& where) const;
};

// [net] keys: darknet's `momentum` (default 0.9) and `decay` (darknet's
// default 0.0001 when absent), plus our `optimizer=sgd|adamw`, `nesterov=0|1`
// and darknet's AdamW-relevant `B1`, `B2`, `eps`. darknet's `adam=1` (Adam
// with coupled L2 decay) is rejected with a pointer to optimizer=adamw.
// Errors name file:line (or the override's origin), the key, the expected
// value and what was found.
OptimizerConfig parse_optimizer_config(Options& net);

// Everything an optimizer carries between steps: `slots[i]` belongs to the
// i-th parameter given to step(), flat: SGD keeps its velocity (n floats),
// AdamW its first then its second moment (2n floats).
struct OptimizerState {
  OptimizerKind kind = OptimizerKind::sgd;
  uint64_t step = 0;  // updates done
  std::vector<std::vector<float>> slots;
};

class Optimizer {
 public:
  explicit Optimizer(const OptimizerConfig& config);

  // One update of every parameter from its gradient (gradients are read, not
  // cleared). The parameter list must be the same, in the same order, at every
  // step; the first step (or the first after an empty state) sizes the state.
  void step(std::span<const TrainableParam> params, float learning_rate);

  const OptimizerConfig& config() const { return config_; }
  uint64_t steps_done() const { return state_.step; }
  // Floats of state per parameter value: 1 for SGD, 2 for AdamW.
  static int slots_per_value(OptimizerKind kind);

  const OptimizerState& state() const { return state_; }
  // Replaces the state after checking it: the kind must be this optimizer's,
  // every slot a whole number of per-value entries, and (when `params` is
  // not empty) one slot per parameter of exactly the right length. Throws
  // cspnet::Error naming the mismatch and leaves the state unchanged on error.
  void set_state(OptimizerState state, std::span<const TrainableParam> params = {});

 private:
  void check_matches(const OptimizerState& state, std::span<const TrainableParam> params) const;
  OptimizerConfig config_;
  OptimizerState state_;
};

}  // namespace cspnet
