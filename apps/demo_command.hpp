#pragma once
// `cspnet demo`: the paper's argument on the user's machine — baselines and
// their CSP versions from the zoo, trained from scratch on Fashion-MNIST with
// one recipe and seed, measured side by side (parameters, BFLOPs, CIO,
// memory, speed, accuracy, gradient diversity), as a table and a Markdown
// report with plots.
#include <CLI/CLI.hpp>
#include <string>

namespace cspnet::cli {

class DemoCommand {
 public:
  void add_to(CLI::App& app);
  bool selected() const { return command_ && *command_; }
  int run() const;

 private:
  CLI::App* command_ = nullptr;
  bool quick_ = false, full_ = false;
  int epochs_ = 0;
  std::string out_ = "out/demo", data_ = "fashion-mnist";
  uint64_t seed_ = 1;
};

}  // namespace cspnet::cli
