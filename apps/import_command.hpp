#pragma once
// `cspnet import model.onnx out.cfg out.weights`: an ONNX model (what `cspnet
// export` writes, or the same architectures exported elsewhere) back to a
// darknet cfg and weights.
#include <CLI/CLI.hpp>
#include <string>

namespace cspnet::cli {

class ImportCommand {
 public:
  void add_to(CLI::App& app);
  bool selected() const { return command_ && *command_; }
  int run() const;

 private:
  CLI::App* command_ = nullptr;
  std::string model_, cfg_, weights_;
};

}  // namespace cspnet::cli
