// Calibration: the clipping threshold of every convolution's input from fp32
// forward passes over calibration images (cspnet/quantization.hpp).
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/crc32_update.hpp"
#include "cspnet/error.hpp"
#include "cspnet/executor.hpp"
#include "cspnet/quantization.hpp"

namespace cspnet {

uint32_t parameters_crc32(Network& net) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (int i = 0; i < net.size(); ++i)
    for (const ParamBlob& blob : net.layer(i).darknet_params())
      crc = crc32_update(crc, blob.values->data(), blob.values->size() * sizeof(float));
  return static_cast<uint32_t>(crc);
}

void RangeObserver::observe_range(const float* values, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const float v = values[i];
    if (!std::isfinite(v)) throw Error("calibration: a non-finite activation (" + std::to_string(v) + ")");
    min_ = seen_ ? std::min(min_, v) : v;
    max_abs_ = std::max(max_abs_, std::fabs(v));
    seen_ = true;
  }
}

void RangeObserver::observe_histogram(const float* values, int64_t count) {
  if (histogram_.empty()) histogram_.assign(size_t(std::max(options_.bins, 1)), 0);
  if (max_abs_ == 0) return;  // every value is 0: nothing to place
  const int64_t bins = int64_t(histogram_.size());
  const double per_bin = double(bins) / double(max_abs_);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t bin = std::min(bins - 1, int64_t(std::fabs(double(values[i])) * per_bin));
    ++histogram_[size_t(bin)];
  }
  histogram_count_ += count;
}

float RangeObserver::threshold() const {
  if (options_.method == CalibrationMethod::minmax || max_abs_ == 0 || histogram_count_ == 0) return max_abs_;
  // The smallest upper bin edge with at least percentile% of the values at
  // or below it.
  const double wanted = std::ceil(double(histogram_count_) * options_.percentile / 100.0);
  int64_t below = 0;
  const size_t bins = histogram_.size();
  for (size_t b = 0; b < bins; ++b) {
    below += histogram_[b];
    if (double(below) >= wanted) return float(double(max_abs_) * double(b + 1) / double(bins));
  }
  return max_abs_;
}

std::string calibration_method_name(const CalibrationOptions& options) {
  if (options.method == CalibrationMethod::minmax) return "minmax";
  char text[64];
  std::snprintf(text, sizeof text, "percentile %.6g", options.percentile);
  return text;
}

QuantizationTable calibrate(Network& net, int64_t batches, const std::function<Tensor(int64_t)>& batch,
                            const CalibrationOptions& options, const std::function<void(int64_t, int64_t)>& progress) {
  if (batches < 1) throw Error(net.name() + ": calibration needs at least one batch of images");
  if (options.method == CalibrationMethod::percentile && !(options.percentile > 0 && options.percentile <= 100))
    throw Error("calibration: percentile " + std::to_string(options.percentile) + " is not in (0, 100]");
  // Every tensor kept and none overwritten in place, so that each
  // convolution's input can be read after the pass.
  ExecOptions exec;
  exec.reuse_memory = false;
  exec.fuse_residual = false;
  Executor executor(net, exec);

  // One observer per tensor read by a convolution (-1: the network input).
  std::map<int, RangeObserver> observers;
  for (int i = 0; i < net.size(); ++i)
    if (net.layer(i).kind() == LayerKind::convolutional) observers.try_emplace(net.layer(i).inputs().at(0), options);
  if (observers.empty()) throw Error(net.name() + ": no [convolutional] layer to quantize");

  const bool histogram = options.method == CalibrationMethod::percentile;
  const int64_t passes = histogram ? 2 : 1;
  int64_t done = 0;
  for (int64_t pass = 0; pass < passes; ++pass)
    for (int64_t b = 0; b < batches; ++b) {
      const Tensor input = batch(b);
      executor.forward(input);
      for (auto& [tensor, observer] : observers) {
        const Tensor values = tensor < 0 ? input : executor.layer_output(tensor);
        if (pass == 0)
          observer.observe_range(values.data(), values.size());
        else
          observer.observe_histogram(values.data(), values.size());
      }
      if (progress) progress(++done, passes * batches);
    }

  QuantizationTable table;
  table.layers = net.size();
  table.parameters_crc32 = parameters_crc32(net);
  table.method = calibration_method_name(options);
  table.images = batches * net.batch();
  for (int i = 0; i < net.size(); ++i) {
    if (net.layer(i).kind() != LayerKind::convolutional) continue;
    const RangeObserver& observer = observers.at(net.layer(i).inputs().at(0));
    // An input that was 0 throughout quantizes exactly at any scale.
    const float threshold = observer.threshold() > 0 ? observer.threshold() : 1.0f;
    table.inputs.push_back(QuantizedInput{i, threshold, observer.never_negative()});
  }
  return table;
}

}  // namespace cspnet
