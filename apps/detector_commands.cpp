#include "detector_commands.hpp"

#include "cspnet/error.hpp"

namespace cspnet::cli {

// Each verb's factory lives in its apps/detector_<verb>.cpp (declared in the header).
DetectorCommands::DetectorCommands() {
  verbs_.push_back(make_detector_train_verb());
  verbs_.push_back(make_detector_test_verb());
  verbs_.push_back(make_detector_valid_verb());
  verbs_.push_back(make_detector_map_verb());
  verbs_.push_back(make_detector_calc_anchors_verb());
  verbs_.push_back(make_detector_ablation_verb());
  verbs_.push_back(make_scenes_verb());
  verbs_.push_back(make_data_verb());
  verbs_.push_back(make_show_augmented_verb());
  verbs_.push_back(make_score_verb());
}

void DetectorCommands::add_to(CLI::App& app) {
  command_ = app.add_subcommand("detector", "object detection: darknet's detector verbs and the scenes generator");
  command_->require_subcommand(1);
  for (auto& verb : verbs_) verb->add_to(*command_);
}

int DetectorCommands::run() const {
  for (const auto& verb : verbs_)
    if (verb->selected()) return verb->run();
  throw UsageError("detector: no verb given");
}

}  // namespace cspnet::cli
