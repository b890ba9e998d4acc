#pragma once
// Post-training int8 quantization: calibration of activation ranges and the
// table an int8 executor runs from (ExecOptions::precision = int8).
//
// What is quantized: every [convolutional] layer. Its weights get one
// symmetric int8 scale per output channel (127 / max|w| of the batch-norm
// folded weights), computed when the executor compiles; its input gets one
// per-tensor scale from calibration: a clipping threshold T, the input
// stored as uint8 x*255/T when it was never negative during calibration
// (after relu, an image), else int8 x*127/T. Accumulation is int32; the
// output is dequantized to fp32 with bias, activation and residual sum
// fused, and the layers between convolutions run in fp32.
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "cspnet/network.hpp"
#include "cspnet/tensor.hpp"

namespace cspnet {

// How a tensor's clipping threshold is chosen from its calibration values.
enum class CalibrationMethod {
  minmax,      // the largest |x| seen: nothing clipped, coarsest steps
  percentile,  // the given percentile of |x|: the rare outliers clipped
};

struct CalibrationOptions {
  CalibrationMethod method = CalibrationMethod::percentile;
  double percentile = 99.99;  // of |x|, per tensor (percentile method)
  int bins = 2048;            // histogram bins over [0, max|x|] (percentile method)
};

// "minmax" or "percentile 99.99": the table's method line.
std::string calibration_method_name(const CalibrationOptions& options);

// One quantized convolution input.
struct QuantizedInput {
  int layer = 0;             // index of a [convolutional] layer
  float threshold = 0;       // |x| is clipped at this value (> 0)
  bool is_unsigned = false;  // never negative in calibration: uint8 [0, T], else int8 [-T, T]

  // The factor an input is multiplied by before rounding: 255/T or 127/T.
  float scale() const { return (is_unsigned ? 255.f : 127.f) / threshold; }

  bool operator==(const QuantizedInput&) const = default;
};

// What `cspnet quantize` writes. It belongs to one network and one set of
// weights: `layers` and `parameters_crc32` are checked when an executor
// uses it.
struct QuantizationTable {
  int layers = 0;                 // the network's layer count
  uint32_t parameters_crc32 = 0;  // parameters_crc32() of the calibrated network
  std::string method;             // "minmax" or "percentile 99.99"
  int64_t images = 0;             // calibration images
  std::vector<QuantizedInput> inputs;  // ascending layer order

  // The entry for `layer`, or nullptr: that convolution runs in fp32.
  const QuantizedInput* find(int layer) const;
  bool operator==(const QuantizationTable&) const = default;
};

// CRC-32 of every parameter array of the network in .weights order: binds a
// table to the weights it was calibrated with.
uint32_t parameters_crc32(Network& net);

// The threshold of one tensor from its values (exposed for tests): for
// minmax max|x|, for percentile the smallest histogram bin edge at or above
// which at most (100 - percentile)% of the |x| lie. 0 when every value is 0.
class RangeObserver {
 public:
  explicit RangeObserver(const CalibrationOptions& options) : options_(options) {}
  // Pass 1: min and max|x|. Pass 2 (percentile only): the histogram of |x|
  // over [0, max|x| of pass 1]; values beyond it land in the last bin.
  void observe_range(const float* values, int64_t count);
  void observe_histogram(const float* values, int64_t count);
  float threshold() const;
  bool never_negative() const { return min_ >= 0; }
  float max_abs() const { return max_abs_; }

 private:
  CalibrationOptions options_;
  float min_ = 0, max_abs_ = 0;
  bool seen_ = false;
  std::vector<int64_t> histogram_;
  int64_t histogram_count_ = 0;
};

// Runs `batches` fp32 forward passes of `batch(i)` (tensors of the network's
// input shape; each called twice for the percentile method, so it must be a
// pure function of i) and returns the table for every convolution of `net`.
// `progress`, when set, is called after each pass with (done, total).
QuantizationTable calibrate(Network& net, int64_t batches, const std::function<Tensor(int64_t)>& batch,
                            const CalibrationOptions& options,
                            const std::function<void(int64_t, int64_t)>& progress = {});

// The table as text (one line per convolution; see docs/deploy.md) and back.
// Reading checks every line (errors name the file and line) and that the
// entries are in ascending, distinct layer order; check_table() then checks
// it against a network.
std::string quantization_table_text(const QuantizationTable& table);
void write_quantization_table(const std::string& path, const QuantizationTable& table);
QuantizationTable parse_quantization_table(const std::string& text, const std::string& path);
QuantizationTable read_quantization_table(const std::string& path);
// Throws unless the table fits `net`: same layer count, every entry a
// convolution, the same parameters (CRC). `origin` names the table in errors.
void check_table(const QuantizationTable& table, Network& net, const std::string& origin);

}  // namespace cspnet
