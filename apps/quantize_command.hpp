#pragma once
// `cspnet quantize CFG|ZOO_NAME [--weights W] --data SOURCE --out TABLE
// [--calibration N] [--method percentile|minmax] [--percentile P]`: calibrates
// the int8 quantization table (cspnet/quantization.hpp) that
// `--precision int8 --quantization TABLE` runs from.
#include <CLI/CLI.hpp>
#include <string>

namespace cspnet::cli {

class QuantizeCommand {
 public:
  void add_to(CLI::App& app);
  bool selected() const { return command_ && *command_; }
  int run() const;

 private:
  CLI::App* command_ = nullptr;
  std::string model_, weights_, data_, out_, method_ = "percentile", size_;
  int calibration_ = 100;
  double percentile_ = 99.99;
  uint64_t seed_ = 1;
};

}  // namespace cspnet::cli
