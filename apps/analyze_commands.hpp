#pragma once
// `cspnet analyze A [B ...]`: the paper's measurements per stage for cfgs
// or zoo models, side by side with the change against the first.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace cspnet::cli {

class AnalyzeCommand {
 public:
  void add_to(CLI::App& app);
  bool selected() const { return command_ && *command_; }
  // Runs it; errors are thrown as cspnet::Error (UsageError for misuse).
  int run() const;

 private:
  CLI::App* command_ = nullptr;
  std::vector<std::string> models_;
  std::string size_;
  std::string plot_;
  bool json_ = false;
  int runs_ = 0;
  int training_batch_ = 0;
};

}  // namespace cspnet::cli
