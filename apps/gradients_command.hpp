#pragma once
// `cspnet gradients MODEL`: how alike the gradient contributions of a
// tensor's readers are, per fan-out tensor and per stage (the paper's
// duplicate gradient information).
#include <CLI/CLI.hpp>
#include <string>

namespace cspnet::cli {

class GradientsCommand {
 public:
  void add_to(CLI::App& app);
  bool selected() const { return command_ && *command_; }
  int run() const;

 private:
  CLI::App* command_ = nullptr;
  std::string model_, weights_, data_ = "fashion-mnist", csv_;
  int batches_ = 10, batch_ = 32;
  uint64_t seed_ = 1;
  bool json_ = false;
};

}  // namespace cspnet::cli
