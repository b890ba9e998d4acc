#pragma once
// `cspnet train` (classification training with progress, CSV log, curves,
// checkpoints and resume) and `cspnet eval` (top-1/top-5, per-class
// accuracy, confusion matrix).
#include <CLI/CLI.hpp>
#include <map>
#include <string>
#include <vector>

#include "cspnet/trainer.hpp"
#include "training_flags.hpp"

namespace cspnet::cli {

class TrainCommands {
 public:
  void add_to(CLI::App& app);
  bool selected() const;
  // Runs the selected subcommand; errors are thrown as cspnet::Error.
  int run();

 private:
  int run_train();
  int run_eval() const;

  CLI::App* train_ = nullptr;
  CLI::App* eval_ = nullptr;
  TrainOptions train_options_;
  TrainingFlags flags_;
  // eval
  std::string eval_cfg_, eval_weights_, eval_data_ = "fashion-mnist", eval_split_ = "test";
  int eval_batch_ = 200;
  int64_t eval_limit_ = 0;
  bool eval_json_ = false;
  std::string eval_precision_ = "fp32", eval_quantization_;
};

}  // namespace cspnet::cli
