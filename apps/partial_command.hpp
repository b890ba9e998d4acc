#pragma once
// `cspnet partial CFG WEIGHTS OUT N`: darknet's partial — the weights of the
// first N layers, `seen` reset, for a pretrained backbone.
#include <CLI/CLI.hpp>
#include <string>

namespace cspnet::cli {

class PartialCommand {
 public:
  void add_to(CLI::App& app);
  bool selected() const { return command_ && *command_; }
  int run() const;

 private:
  CLI::App* command_ = nullptr;
  std::string cfg_, weights_, out_;
  int layers_ = 0;
};

}  // namespace cspnet::cli
