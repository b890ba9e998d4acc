#pragma once
// Gradient check for one layer's TrainKernel against a double-precision
// reference forward written in the test:
//  - the training forward output equals ref(inputs, params);
//  - every input gradient and every trainable parameter's gradient equals the
//    central finite difference of sum(ref(inputs, params) * G) for a random
//    output gradient G (sampled elements of each tensor, to stay fast);
//  - the accumulate mode: input gradients add to what the buffers hold when
//    accumulate_input_grad is set, parameter gradients add across backward
//    calls, a null input gradient is skipped, and G is left untouched.
// The network is built from cfg text at its [net] batch (subdivisions are
// ignored) with init_weights(seed); the layer's inputs are random in [-1, 1].
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "backends/onednn/kernel.hpp"  // the kernels under test
#include "cspnet/cspnet.hpp"

namespace cspnet::tests {

struct GradientCase {
  std::string cfg;  // darknet cfg text, [net] first
  int layer = -1;   // the layer checked; -1: the last
  uint64_t seed = 1;
};

using RefInputs = std::vector<std::vector<double>>;            // the layer's inputs, dense NCHW, batch included
using RefParams = std::map<std::string, std::vector<double>>;  // darknet_params() by name
using ReferenceForward = std::function<std::vector<double>(const RefInputs&, const RefParams&)>;

namespace gradient_check_detail {

constexpr double kForwardTolerance = 1e-4;  // float32 kernel vs double reference, relative to max|ref|
constexpr double kRepeatTolerance = 1e-5;   // one run of the kernel against another (accumulation checks)
constexpr double kGradientFloor = 1e-3;     // smallest gradient scale errors are measured against
constexpr size_t kMaxCheckedElements = 300; // finite differences per tensor

inline std::vector<float> random_floats(int64_t count, std::mt19937_64& rng, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> values(static_cast<size_t>(count));
  for (auto& v : values) v = dist(rng);
  return values;
}

inline std::vector<double> to_double(const std::vector<float>& values) { return {values.begin(), values.end()}; }

inline double weighted_sum(const std::vector<double>& out, const std::vector<double>& weights) {
  double sum = 0;
  for (size_t i = 0; i < out.size() && i < weights.size(); ++i) sum += out[i] * weights[i];
  return sum;
}

// Indices to check: all when few, else a random subset (always sorted).
inline std::vector<size_t> sample_indices(size_t count, std::mt19937_64& rng) {
  std::vector<size_t> all(count);
  std::iota(all.begin(), all.end(), size_t{0});
  if (count <= kMaxCheckedElements) return all;
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(kMaxCheckedElements);
  std::sort(all.begin(), all.end());
  return all;
}

// max|a - b| over all elements relative to max(max|b|, floor); false with a
// message when above `tolerance`.
inline ::testing::AssertionResult close(const std::string& what, const std::vector<double>& ours,
                                        const std::vector<double>& expected, double tolerance, double floor) {
  if (ours.size() != expected.size())
    return ::testing::AssertionFailure() << what << ": " << ours.size() << " values, expected " << expected.size();
  double scale = floor, worst = 0;
  size_t worst_at = 0;
  for (double e : expected) scale = std::max(scale, std::abs(e));
  for (size_t i = 0; i < ours.size(); ++i) {
    double d = std::abs(ours[i] - expected[i]);
    if (!(d <= worst)) {  // also catches NaN
      worst = std::isnan(d) ? std::numeric_limits<double>::infinity() : d;
      worst_at = i;
    }
  }
  if (worst <= tolerance * scale) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": max |ours - expected| / " << scale << " = " << worst / scale
                                       << " > " << tolerance << " at element " << worst_at << ": ours "
                                       << ours[worst_at] << ", expected " << expected[worst_at];
}

struct Buffers {
  std::vector<std::vector<float>> inputs, input_grads;
  std::vector<float> output, output_grad;
};

inline TrainCompileContext make_context(const dnnl::engine& engine, const Layer& layer,
                                        const std::vector<Shape>& input_shapes, Buffers& b, bool accumulate,
                                        bool null_input_grads) {
  TrainCompileContext ctx{engine, {}, {}, {}, {}, {}};
  for (size_t i = 0; i < input_shapes.size(); ++i) {
    ctx.inputs.push_back({b.inputs[i].data(), input_shapes[i]});
    ctx.input_grads.push_back({null_input_grads ? nullptr : b.input_grads[i].data(), input_shapes[i]});
    ctx.accumulate_input_grad.push_back(accumulate);
  }
  ctx.output = {b.output.data(), layer.output_shape()};
  ctx.output_grad = {b.output_grad.data(), layer.output_shape()};
  return ctx;
}

inline std::string param_name(const TrainableParam& p) { return std::string("parameter '") + p.name + "'"; }

}  // namespace gradient_check_detail

inline ::testing::AssertionResult check_layer_gradients(const GradientCase& c, const ReferenceForward& ref,
                                                        double tolerance = 1e-3) {
  namespace d = gradient_check_detail;
  Network net = Network::from_cfg(parse_cfg_text(c.cfg, "gradient_check.cfg"));
  net.reshape(net.config().width, net.config().height, net.config().batch);
  init_weights(net, c.seed);
  const int index = c.layer < 0 ? net.size() - 1 : c.layer;
  Layer& layer = net.layer(index);
  const std::string where = "layer " + std::to_string(index) + " [" + std::string(layer.type()) + "]: ";

  std::mt19937_64 rng(c.seed * 0x9e3779b97f4a7c15ULL + 17);
  std::vector<Shape> input_shapes;
  d::Buffers b;
  for (int j : layer.inputs()) {
    input_shapes.push_back(j < 0 ? net.input_shape() : net.layer(j).output_shape());
    b.inputs.push_back(d::random_floats(input_shapes.back().count(), rng));
    b.input_grads.emplace_back(static_cast<size_t>(input_shapes.back().count()), 0.f);
  }
  const int64_t out_count = layer.output_shape().count();
  b.output.assign(static_cast<size_t>(out_count), 0.f);
  b.output_grad = d::random_floats(out_count, rng);
  const std::vector<float> output_grad = b.output_grad;

  RefInputs ref_inputs;
  for (const auto& in : b.inputs) ref_inputs.push_back(d::to_double(in));
  RefParams ref_params;  // before any training forward (which moves running statistics)
  for (const ParamBlob& blob : layer.darknet_params()) ref_params[blob.name] = d::to_double(*blob.values);

  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const StepContext step{true, c.seed};

  // ---- forward and backward, overwrite mode
  auto kernel = cspnet::compile_training_kernel(layer, d::make_context(engine, layer, input_shapes, b, false, false));
  std::vector<TrainableParam> params = layer.trainable_params();
  for (const TrainableParam& p : params) {
    if (!p.values || !p.grads) return ::testing::AssertionFailure() << where << d::param_name(p) << " has no arrays";
    if (p.grads->size() != p.values->size())
      return ::testing::AssertionFailure() << where << d::param_name(p) << ": " << p.grads->size()
                                           << " gradients for " << p.values->size() << " values";
    if (!ref_params.count(p.name))
      return ::testing::AssertionFailure() << where << d::param_name(p) << " is not among darknet_params()";
    for (float g : *p.grads)
      if (g != 0.f) return ::testing::AssertionFailure() << where << d::param_name(p) << ": gradient not zeroed";
  }
  // Garbage in the input gradients: overwrite mode must not read them.
  for (auto& g : b.input_grads) std::fill(g.begin(), g.end(), 1e6f);

  kernel->forward(stream, step);
  stream.wait();
  const std::vector<double> expected_output = ref(ref_inputs, ref_params);
  if (auto r = d::close(where + "forward output", d::to_double(b.output), expected_output, d::kForwardTolerance, 1e-12);
      !r)
    return r;
  kernel->backward(stream);
  stream.wait();
  if (b.output_grad != output_grad) return ::testing::AssertionFailure() << where << "backward() modified the output gradient";

  const std::vector<double> G = d::to_double(output_grad);
  auto objective = [&](const RefInputs& in, const RefParams& p) { return d::weighted_sum(ref(in, p), G); };

  // ---- finite differences: inputs, then parameters
  std::vector<std::vector<float>> first_input_grads = b.input_grads;
  for (size_t i = 0; i < ref_inputs.size(); ++i) {
    std::vector<double> ours, fd;
    RefInputs probe = ref_inputs;
    for (size_t e : d::sample_indices(probe[i].size(), rng)) {
      const double x = probe[i][e], h = 1e-6 * std::max(1.0, std::abs(x));
      probe[i][e] = x + h;
      const double up = objective(probe, ref_params);
      probe[i][e] = x - h;
      const double down = objective(probe, ref_params);
      probe[i][e] = x;
      fd.push_back((up - down) / (2 * h));
      ours.push_back(b.input_grads[i][e]);
    }
    if (auto r = d::close(where + "gradient of input " + std::to_string(i), ours, fd, tolerance, d::kGradientFloor); !r)
      return r;
  }
  std::vector<std::vector<float>> first_param_grads;
  for (const TrainableParam& p : params) {
    first_param_grads.push_back(*p.grads);
    std::vector<double> ours, fd;
    RefParams probe = ref_params;
    std::vector<double>& values = probe[p.name];
    for (size_t e : d::sample_indices(values.size(), rng)) {
      const double x = values[e], h = 1e-6 * std::max(1.0, std::abs(x));
      values[e] = x + h;
      const double up = objective(ref_inputs, probe);
      values[e] = x - h;
      const double down = objective(ref_inputs, probe);
      values[e] = x;
      fd.push_back((up - down) / (2 * h));
      ours.push_back((*p.grads)[e]);
    }
    if (auto r = d::close(where + "gradient of " + d::param_name(p), ours, fd, tolerance, d::kGradientFloor); !r)
      return r;
  }

  // ---- accumulate mode: input gradients add to the buffers, parameter
  // gradients add across backward calls.
  auto check_repeat = [&](const std::string& what, const std::vector<float>& ours, const std::vector<double>& expected) {
    return d::close(where + what, d::to_double(ours), expected, d::kRepeatTolerance, d::kGradientFloor);
  };
  kernel = cspnet::compile_training_kernel(layer, d::make_context(engine, layer, input_shapes, b, true, false));
  params = layer.trainable_params();
  std::vector<std::vector<float>> prefill;
  for (auto& g : b.input_grads) {
    prefill.push_back(d::random_floats(int64_t(g.size()), rng));
    std::copy(prefill.back().begin(), prefill.back().end(), g.begin());  // in place: the kernel holds g.data()
  }
  for (int pass = 1; pass <= 2; ++pass) {
    kernel->forward(stream, step);
    stream.wait();
    kernel->backward(stream);
    stream.wait();
    const std::string suffix = " after " + std::to_string(pass) + " accumulating backward call(s)";
    for (size_t i = 0; i < b.input_grads.size(); ++i) {
      std::vector<double> expected(prefill[i].size());
      for (size_t e = 0; e < expected.size(); ++e) expected[e] = prefill[i][e] + pass * double(first_input_grads[i][e]);
      if (auto r = check_repeat("gradient of input " + std::to_string(i) + suffix, b.input_grads[i], expected); !r)
        return r;
    }
    for (size_t k = 0; k < params.size(); ++k) {
      std::vector<double> expected(first_param_grads[k].size());
      for (size_t e = 0; e < expected.size(); ++e) expected[e] = pass * double(first_param_grads[k][e]);
      if (auto r = check_repeat("gradient of " + d::param_name(params[k]) + suffix, *params[k].grads, expected); !r)
        return r;
    }
  }

  // ---- no gradient wanted for the inputs (the network input): parameter
  // gradients still come.
  kernel = cspnet::compile_training_kernel(layer, d::make_context(engine, layer, input_shapes, b, false, true));
  params = layer.trainable_params();
  kernel->forward(stream, step);
  stream.wait();
  kernel->backward(stream);
  stream.wait();
  for (size_t k = 0; k < params.size(); ++k)
    if (auto r = check_repeat("gradient of " + d::param_name(params[k]) + " with null input gradients",
                              *params[k].grads, d::to_double(first_param_grads[k]));
        !r)
      return r;
  return ::testing::AssertionSuccess();
}

}  // namespace cspnet::tests
