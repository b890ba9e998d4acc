#pragma once
// The flags `cspnet train` and `cspnet detector train` share (run length,
// batch, schedule and optimiser overrides, output, resume, progress), and
// their translation into TrainOptions.
#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cspnet/trainer.hpp"

namespace cspnet::cli {

class TrainingFlags {
 public:
  // Adds the shared flags to `command`; `options` receives the plain ones.
  void add_to(CLI::App& command, TrainOptions& options);
  // `options` with the overrides (--lr, --set, ...) and the progress mode applied.
  TrainOptions resolve(TrainOptions options) const;

 private:
  std::vector<std::string> set_;  // --set key=value
  std::optional<double> lr_, momentum_, decay_, label_smoothing_;  // unset: the cfg's
  std::string policy_, optimizer_;
  std::string progress_ = "auto";
  std::string log_every_ = "auto";  // auto or a step count
};

// "trained N steps (E epochs) in S s: R images/s, data wait W s", and under
// MPI the gradient allreduce's volume and time per step.
void print_trained_line(const TrainSummary& summary);

}  // namespace cspnet::cli
