#pragma once
// `cspnet zoo` (the model zoo beside the paper's figures, and the PeleeNet
// ablation) and `cspnet export-cfg` (a zoo model as a darknet cfg).
#include <CLI/CLI.hpp>
#include <string>

namespace cspnet::cli {

class ZooCommands {
 public:
  void add_to(CLI::App& app);
  bool selected() const;
  // Runs the selected subcommand; errors are thrown as cspnet::Error.
  int run() const;

 private:
  int export_detector() const;

  CLI::App* zoo_ = nullptr;
  CLI::App* export_ = nullptr;
  bool json_ = false;
  bool detectors_ = false;
  std::string family_;
  std::string ablation_;
  std::string name_, out_, size_;
  int channels_ = 0;
};

}  // namespace cspnet::cli
