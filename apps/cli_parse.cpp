#include "cli_parse.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <filesystem>
#include <tuple>

#include "cspnet/error.hpp"
#include "cspnet/necks.hpp"
#include "cspnet/quantization.hpp"
#include "cspnet/zoo.hpp"

namespace cspnet::cli {
namespace {

// A whole positive decimal int; from_chars reports overflow instead of wrapping.
bool parse_side(const std::string& text, int& value) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end && value > 0;
}

}  // namespace

std::pair<int, int> parse_size(const std::string& size) {
  const auto x = size.find('x');
  int width = 0, height = 0;
  if (x == std::string::npos || !parse_side(size.substr(0, x), width) || !parse_side(size.substr(x + 1), height))
    throw UsageError("--size: expected WxH with positive integers (at most 2147483647), e.g. 256x256, got '" +
                     size + "'");
  return {width, height};
}

namespace {

// A validator: a number (the whole text) for which `accept` holds.
CLI::Validator number_check(std::function<bool(double)> accept, const std::string& expected) {
  return CLI::Validator(
      [accept, expected](const std::string& text) -> std::string {
        double value = 0;
        const char* end = text.data() + text.size();
        auto [ptr, ec] = std::from_chars(text.data(), end, value);
        if (ec != std::errc() || ptr != end || !std::isfinite(value) || !accept(value))
          return "expected " + expected + ", got '" + text + "'";
        return "";
      },
      expected);
}

std::string number_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

}  // namespace

CLI::Validator positive_number() { return number_check([](double v) { return v > 0; }, "a number > 0"); }
CLI::Validator non_negative_number() { return number_check([](double v) { return v >= 0; }, "a number >= 0"); }
CLI::Validator number_in(double low, double high) {
  return number_check([=](double v) { return v >= low && v <= high; },
                      "a number in [" + number_text(low) + ", " + number_text(high) + "]");
}

bool is_zoo_name(const std::string& name) {
  for (const ZooModel& model : zoo_models())
    if (model.name == name) return true;
  return is_detector_model(name);
}

Network load_cfg_or_zoo(const std::string& model, int width, int height) {
  ParseOptions parse;
  parse.width = width;
  parse.height = height;
  if (std::filesystem::exists(model)) return Network::from_cfg_file(model, parse);
  if (is_detector_model(model)) {  // the detector zoo (cspnet zoo --detectors)
    NetInput input = detector_model(model).input;
    if (width > 0) std::tie(input.width, input.height) = std::pair{width, height};
    return detector_model(model).build(input).build();
  }
  const ZooModel* zoo = nullptr;
  try {
    zoo = &zoo_model(model);
  } catch (const Error& e) {
    throw UsageError(model + ": neither a cfg file nor a zoo model (" + e.what() + ")");
  }
  NetInput input = zoo->input;
  if (width > 0) std::tie(input.width, input.height) = std::pair{width, height};
  return zoo->build(input).build();
}

void set_precision(ExecOptions& exec, const std::string& precision, const std::string& quantization) {
  exec.precision = precision == "int8" ? Precision::int8 : precision == "bf16" ? Precision::bf16 : Precision::fp32;
  if (exec.precision == Precision::int8 && quantization.empty())
    throw UsageError("--precision int8 needs --quantization TABLE (write one with `cspnet quantize`)");
  if (exec.precision != Precision::int8 && !quantization.empty())
    throw UsageError("--quantization applies to --precision int8 only");
  if (!quantization.empty())
    exec.quantization = std::make_shared<const QuantizationTable>(read_quantization_table(quantization));
}

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::fp32: return "fp32";
    case Precision::bf16: return "bf16";
    case Precision::int8: return "int8";
  }
  return "?";
}

}  // namespace cspnet::cli
