#pragma once
// `cspnet detector VERB ...`: darknet's detector verbs (train, test, valid,
// map, calc_anchors) and the scenes generator. One file per verb
// (apps/detector_<verb>.cpp) defines its DetectorVerb; detector_commands.cpp
// lists them.
#include <CLI/CLI.hpp>
#include <memory>
#include <vector>

namespace cspnet::cli {

class DetectorVerb {
 public:
  virtual ~DetectorVerb() = default;
  // Adds the verb's subcommand to `detector`.
  virtual void add_to(CLI::App& detector) = 0;
  virtual bool selected() const = 0;
  // Runs it; errors are thrown as cspnet::Error (UsageError for misuse).
  virtual int run() const = 0;
};

// One factory per verb, each in its apps/detector_<verb>.cpp.
std::unique_ptr<DetectorVerb> make_show_augmented_verb();
std::unique_ptr<DetectorVerb> make_scenes_verb();
std::unique_ptr<DetectorVerb> make_data_verb();
std::unique_ptr<DetectorVerb> make_score_verb();
std::unique_ptr<DetectorVerb> make_detector_train_verb();
std::unique_ptr<DetectorVerb> make_detector_test_verb();
std::unique_ptr<DetectorVerb> make_detector_map_verb();
std::unique_ptr<DetectorVerb> make_detector_valid_verb();
std::unique_ptr<DetectorVerb> make_detector_calc_anchors_verb();
std::unique_ptr<DetectorVerb> make_detector_ablation_verb();

class DetectorCommands {
 public:
  DetectorCommands();
  void add_to(CLI::App& app);
  bool selected() const { return command_ && *command_; }
  int run() const;

 private:
  CLI::App* command_ = nullptr;
  std::vector<std::unique_ptr<DetectorVerb>> verbs_;
};

}  // namespace cspnet::cli
