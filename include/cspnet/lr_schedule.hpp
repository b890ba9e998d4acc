#pragma once
// darknet's learning-rate policies ([net] policy=...), as a function of the
// number of updates done so far (darknet's get_current_batch(): seen images
// divided by batch*subdivisions). rate_at(b) is the rate of the update that
// follows b updates, so the first update uses rate_at(0).
//
//   burn-in (any policy)  b < burn_in: lr * (b/burn_in)^power
//   constant              lr
//   step                  lr * scale^floor(b/step)
//   steps                 lr * product of scales[i] over every steps[i] <= b
//   poly                  lr * (1 - b/max_batches)^power   (0 from max_batches on)
//   exp                   lr * gamma^b
//   sigmoid               lr / (1 + exp(gamma*(b - step)))
//   sgdr                  cosine annealing from lr to learning_rate_min over a
//                         cycle of sgdr_cycle updates; each restart multiplies
//                         the cycle by sgdr_mult. As in darknet, a cycle that
//                         starts at s with length c covers s..s+c inclusive
//                         (rate_at(s+c) is the minimum; the restart is at s+c+1).
//   cosine                our name for sgdr with learning_rate_min 0 by default
//                         (with the default sgdr_cycle = max_batches: a single
//                         cosine decay to 0 over the run).
// `power` defaults to 4 and serves both burn-in and poly, as in darknet.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cspnet/cfg.hpp"

namespace cspnet {

enum class LrPolicy { constant, step, steps, poly, exp, sigmoid, sgdr, cosine };

std::string_view lr_policy_name(LrPolicy policy);

struct LrSchedule {
  LrPolicy policy = LrPolicy::constant;
  double learning_rate = 0.001;  // darknet's default
  int64_t burn_in = 0;
  double power = 4;              // burn-in and poly exponent
  int64_t max_batches = 0;       // poly (required), sgdr/cosine (default cycle)
  int64_t step = 1;              // step, sigmoid
  double scale = 1;              // step
  std::vector<int64_t> steps;    // steps: strictly increasing
  std::vector<double> scales;    // steps: one per step
  double gamma = 1;              // exp, sigmoid
  double learning_rate_min = 0;  // sgdr (darknet's default 1e-5 when parsed), cosine (0)
  int64_t sgdr_cycle = 0;        // sgdr/cosine cycle length; 0 = max_batches
  int64_t sgdr_mult = 2;         // sgdr/cosine cycle growth per restart

  // Checks every field the policy uses; throws cspnet::Error prefixed by
  // `where`, naming the key and the expected value.
  void validate(const std::string& where) const;
  // The learning rate after `batch` updates.
  float rate_at(uint64_t batch) const;
};

// From the [net] keys (Options over NetConfig::section): learning_rate, policy, burn_in,
// power, max_batches, step, scale, steps, scales, gamma, learning_rate_min,
// sgdr_cycle, sgdr_mult. Policy names as darknet spells them (constant,
// step, steps, poly, exp, sigmoid, sgdr) plus `cosine`; `sig` is accepted
// for sigmoid. Unlike darknet (which falls back to constant, or crashes),
// an unknown policy, a negative rate, steps/scales of different lengths or
// non-increasing steps are errors naming file:line (or the override's
// origin) and the key.
LrSchedule parse_lr_schedule(Options& net);

}  // namespace cspnet
