// `cspnet detector train DATA CFG`: darknet's `detector train` with our
// flags (those of `cspnet train`, plus --map).
#include <cstdio>
#include <iostream>

#include "cspnet/detector.hpp"
#include "cspnet/distributed.hpp"
#include "detector_commands.hpp"
#include "training_flags.hpp"

namespace cspnet::cli {
namespace {

class TrainVerb final : public DetectorVerb {
 public:
  void add_to(CLI::App& detector) override {
    options_.out_dir = "out/detector";
    command_ = detector.add_subcommand("train", "train a detector (default data: the embedded Fashion-MNIST scenes)");
    command_->add_option("data", options_.data,
                         "obj.data | coco:INSTANCES.json[,IMAGES] | fashion-mnist-scenes[:DIR]")
        ->required();
    command_->add_option("cfg", options_.cfg, "darknet .cfg with [yolo] layers")->required();
    command_->add_flag("--map", options_.map,
                       "score the validation split at every epoch end (mAP@0.5, AP@[.5:.95]); keep best.weights");
    flags_.add_to(*command_, options_);
  }
  bool selected() const override { return command_ && *command_; }

  int run() const override {
    const TrainSummary s = train_detector(flags_.resolve(options_), std::cout);
    if (world_rank() != 0) return 0;  // under MPI, rank 0 reports
    print_trained_line(s);
    if (options_.map)
      std::printf("validation mAP@0.5 %.2f%%, AP@[.5:.95] %.2f%% (best mAP@0.5 %.2f%%: %s)\n", 100 * s.test_map50,
                  100 * s.test_map, 100 * s.best_map50, s.best_weights_path.c_str());
    std::printf("wrote %s, %s, %s, %s\n", s.weights_path.c_str(), s.checkpoint_path.c_str(), s.log_path.c_str(),
                s.plot_path.c_str());
    return 0;
  }

 private:
  CLI::App* command_ = nullptr;
  TrainOptions options_;
  TrainingFlags flags_;
};

}  // namespace

std::unique_ptr<DetectorVerb> make_detector_train_verb() { return std::make_unique<TrainVerb>(); }

}  // namespace cspnet::cli
