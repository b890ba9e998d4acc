#pragma once
// Command-line values the CLI parses itself, with range checks: misuse is a
// UsageError (exit 2), never a wrapped number.
#include <CLI/CLI.hpp>
#include <string>
#include <utility>

#include "cspnet/executor.hpp"
#include "cspnet/network.hpp"

namespace cspnet::cli {

// "WxH", both positive and within int; checked before any cfg is read.
std::pair<int, int> parse_size(const std::string& size);

// Checks for numeric flags whose message says what is expected ("--lr:
// expected a number > 0, got '0.1abc'") rather than CLI11's spelled-out
// numeric range.
CLI::Validator positive_number();      // > 0
CLI::Validator non_negative_number();  // >= 0
CLI::Validator number_in(double low, double high);  // low <= x <= high

// A cfg path, else a zoo model name (at its own input size unless width and
// height are given); neither is a UsageError.
// Whether `name` is one of the zoo's model names (backbones or detectors).
bool is_zoo_name(const std::string& name);
Network load_cfg_or_zoo(const std::string& model, int width = 0, int height = 0);

// --precision fp32|bf16|int8 [--quantization TABLE] on a verb that runs
// inference: the values the option accepts, its help, and the options it
// sets (int8 reads the table, which the executor checks against the network).
inline const std::vector<std::string> kPrecisions{"fp32", "bf16", "int8"};
constexpr const char* kPrecisionHelp =
    "fp32, bf16 (bf16 convolutions) or int8 (int8 convolutions calibrated by `cspnet quantize`: --quantization)";
constexpr const char* kQuantizationHelp = "--precision int8: the table `cspnet quantize` wrote for these weights";
void set_precision(ExecOptions& exec, const std::string& precision, const std::string& quantization);
const char* precision_name(Precision precision);

}  // namespace cspnet::cli
