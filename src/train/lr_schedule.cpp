#include "cspnet/lr_schedule.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numbers>

#include "cspnet/error.hpp"

namespace cspnet {
namespace {

[[noreturn]] void bad(const std::string& where, const std::string& key, const std::string& expected,
                      const std::string& got) {
  throw Error(where + ": key '" + key + "': expected " + expected + ", got " + got);
}

std::string number_text(double x) {
  std::string text = std::to_string(x);
  // to_string prints 6 decimals; trim the zeros it pads with.
  if (text.find('.') != std::string::npos) {
    while (!text.empty() && text.back() == '0') text.pop_back();
    if (!text.empty() && text.back() == '.') text.pop_back();
  }
  return text;
}

// darknet's sgdr: the cycle containing `batch` (start, length), where a cycle
// starting at s of length c covers s..s+c and the next starts at s+c.
void sgdr_cycle_of(uint64_t batch, uint64_t first_cycle, uint64_t mult, uint64_t& start, uint64_t& cycle) {
  start = 0;
  cycle = first_cycle;
  if (mult == 1) {
    // Closed form of the loop below: the largest multiple of the cycle below batch.
    start = batch == 0 ? 0 : (batch - 1) / cycle * cycle;
    return;
  }
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  while (cycle < batch - start) {
    start += cycle;
    cycle = cycle > kMax / mult ? kMax : cycle * mult;  // at most 64 rounds: the cycle at least doubles
  }
}

}  // namespace

std::string_view lr_policy_name(LrPolicy policy) {
  switch (policy) {
    case LrPolicy::constant:
      return "constant";
    case LrPolicy::step:
      return "step";
    case LrPolicy::steps:
      return "steps";
    case LrPolicy::poly:
      return "poly";
    case LrPolicy::exp:
      return "exp";
    case LrPolicy::sigmoid:
      return "sigmoid";
    case LrPolicy::sgdr:
      return "sgdr";
    case LrPolicy::cosine:
      return "cosine";
  }
  return "?";
}

namespace {

// Throws for a field outside its range, naming its key, what was expected
// and what was found; the caller says where the key came from.
using Reject = std::function<void(const std::string& key, const std::string& expected, const std::string& got)>;

// Every field the policy uses, against its range.
void check_fields(const LrSchedule& s, const Reject& reject) {
  const auto& [policy, learning_rate, burn_in, power, max_batches, step, scale, steps, scales, gamma,
               learning_rate_min, sgdr_cycle, sgdr_mult] = s;
  const std::string policy_note = " (policy=" + std::string(lr_policy_name(policy)) + ")";
  if (!std::isfinite(learning_rate) || learning_rate < 0)
    reject("learning_rate", "a finite number >= 0", number_text(learning_rate));
  if (burn_in < 0) reject("burn_in", "an integer >= 0", std::to_string(burn_in));
  if (!std::isfinite(power) || power < 0) reject("power", "a finite number >= 0", number_text(power));
  if (max_batches < 0) reject("max_batches", "an integer >= 0", std::to_string(max_batches));
  switch (policy) {
    case LrPolicy::constant:
      break;
    case LrPolicy::step:
      if (step <= 0) reject("step", "a positive integer" + policy_note, std::to_string(step));
      if (!std::isfinite(scale) || scale < 0) reject("scale", "a finite number >= 0" + policy_note, number_text(scale));
      break;
    case LrPolicy::steps:
      if (steps.empty()) reject("steps", "at least one step" + policy_note, "none");
      if (scales.size() != steps.size())
        reject("scales",
            std::to_string(steps.size()) + " values, one per entry of steps" + policy_note,
            std::to_string(scales.size()));
      for (size_t i = 1; i < steps.size(); ++i)
        if (steps[i] <= steps[i - 1])
          reject("steps", "strictly increasing batch numbers" + policy_note,
              std::to_string(steps[i - 1]) + " followed by " + std::to_string(steps[i]));
      for (double s : scales)
        if (!std::isfinite(s) || s < 0) reject("scales", "finite numbers >= 0" + policy_note, number_text(s));
      break;
    case LrPolicy::poly:
      if (max_batches <= 0)
        reject("max_batches", "a positive integer" + policy_note, std::to_string(max_batches));
      break;
    case LrPolicy::exp:
      if (!std::isfinite(gamma) || gamma <= 0) reject("gamma", "a finite number > 0" + policy_note, number_text(gamma));
      break;
    case LrPolicy::sigmoid:
      if (!std::isfinite(gamma)) reject("gamma", "a finite number" + policy_note, number_text(gamma));
      if (step < 0) reject("step", "an integer >= 0" + policy_note, std::to_string(step));
      break;
    case LrPolicy::sgdr:
    case LrPolicy::cosine:
      if (sgdr_cycle < 0) reject("sgdr_cycle", "a positive integer" + policy_note, std::to_string(sgdr_cycle));
      if (sgdr_cycle == 0 && max_batches <= 0)
        reject("sgdr_cycle", "a positive integer, or max_batches > 0 to default to" + policy_note, "neither");
      if (sgdr_mult < 1) reject("sgdr_mult", "an integer >= 1" + policy_note, std::to_string(sgdr_mult));
      if (!std::isfinite(learning_rate_min) || learning_rate_min < 0 || learning_rate_min > learning_rate)
        reject("learning_rate_min", "a number in [0, learning_rate=" + number_text(learning_rate) + "]" + policy_note,
            number_text(learning_rate_min));
      break;
  }
}

}  // namespace

void LrSchedule::validate(const std::string& where) const {
  check_fields(*this, [&](const std::string& key, const std::string& expected, const std::string& got) {
    bad(where, key, expected, got);
  });
}

float LrSchedule::rate_at(uint64_t batch) const {
  const double b = double(batch);
  if (burn_in > 0 && batch < uint64_t(burn_in)) return float(learning_rate * std::pow(b / double(burn_in), power));
  switch (policy) {
    case LrPolicy::constant:
      return float(learning_rate);
    case LrPolicy::step:
      return float(learning_rate * std::pow(scale, double(batch / uint64_t(step))));
    case LrPolicy::steps: {
      double rate = learning_rate;
      for (size_t i = 0; i < steps.size(); ++i) {
        // A negative step (darknet cfgs use -1) applies from the start.
        if (steps[i] >= 0 && uint64_t(steps[i]) > batch) break;
        rate *= scales[i];
      }
      return float(rate);
    }
    case LrPolicy::poly: {
      // darknet's formula goes negative/NaN past max_batches; training is over there.
      if (batch >= uint64_t(max_batches)) return 0.f;
      return float(learning_rate * std::pow(1.0 - b / double(max_batches), power));
    }
    case LrPolicy::exp:
      return float(learning_rate * std::pow(gamma, b));
    case LrPolicy::sigmoid:
      return float(learning_rate / (1.0 + std::exp(gamma * (b - double(step)))));
    case LrPolicy::sgdr:
    case LrPolicy::cosine: {
      uint64_t start = 0, cycle = 0;
      sgdr_cycle_of(batch, uint64_t(sgdr_cycle > 0 ? sgdr_cycle : max_batches), uint64_t(sgdr_mult), start, cycle);
      const double phase = double(batch - start) / double(cycle);
      return float(learning_rate_min +
                   0.5 * (learning_rate - learning_rate_min) * (1.0 + std::cos(phase * std::numbers::pi)));
    }
  }
  return float(learning_rate);
}

LrSchedule parse_lr_schedule(Options& net) {
  LrSchedule s;
  const std::string policy = net.get_string("policy", "constant");
  if (policy == "constant")
    s.policy = LrPolicy::constant;
  else if (policy == "step")
    s.policy = LrPolicy::step;
  else if (policy == "steps")
    s.policy = LrPolicy::steps;
  else if (policy == "poly")
    s.policy = LrPolicy::poly;
  else if (policy == "exp")
    s.policy = LrPolicy::exp;
  else if (policy == "sigmoid" || policy == "sig")
    s.policy = LrPolicy::sigmoid;
  else if (policy == "sgdr")
    s.policy = LrPolicy::sgdr;
  else if (policy == "cosine")
    s.policy = LrPolicy::cosine;
  else
    net.fail("policy", "one of constant, step, steps, poly, exp, sigmoid, sgdr, cosine");

  auto number = [&](const std::string& key, double& out) { out = net.get_double(key, out); };
  auto integer = [&](const std::string& key, int64_t& out) { out = net.get_int64(key, out); };
  number("learning_rate", s.learning_rate);
  integer("burn_in", s.burn_in);
  number("power", s.power);
  integer("max_batches", s.max_batches);
  switch (s.policy) {
    case LrPolicy::constant:
    case LrPolicy::poly:
      break;
    case LrPolicy::step:
      integer("step", s.step);
      number("scale", s.scale);
      break;
    case LrPolicy::steps:
      if (!net.has("steps")) net.fail("steps", "a comma-separated list of batch numbers (policy=steps)");
      if (!net.has("scales")) net.fail("scales", "a comma-separated list of factors (policy=steps)");
      s.steps = net.get_int64s("steps");
      s.scales = net.get_doubles("scales");
      break;
    case LrPolicy::exp:
      number("gamma", s.gamma);
      break;
    case LrPolicy::sigmoid:
      number("gamma", s.gamma);
      integer("step", s.step);
      break;
    case LrPolicy::sgdr:
    case LrPolicy::cosine:
      // darknet's default floor for sgdr is 1e-5 (capped by the rate itself).
      s.learning_rate_min = s.policy == LrPolicy::sgdr ? std::min(0.00001, s.learning_rate) : 0.0;
      number("learning_rate_min", s.learning_rate_min);
      integer("sgdr_cycle", s.sgdr_cycle);
      integer("sgdr_mult", s.sgdr_mult);
      break;
  }
  // A value out of range names the line (or --set) it came from.
  check_fields(s, [&](const std::string& key, const std::string& expected, const std::string& got) {
    throw Error(net.where(key) + ": expected " + expected + ", got " + got);
  });
  return s;
}

}  // namespace cspnet
