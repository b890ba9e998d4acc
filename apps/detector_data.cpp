// `cspnet detector data SPEC [--valid]`: reads a detection data set (obj.data,
// coco:JSON[,DIR], fashion-mnist-scenes[:DIR]) with every check the trainer
// applies and prints what it holds: images, boxes per class, negatives.
#include <iostream>

#include "cspnet/detection_data.hpp"
#include "detector_commands.hpp"

namespace cspnet::cli {
namespace {

class DataVerb final : public DetectorVerb {
 public:
  void add_to(CLI::App& detector) override {
    command_ = detector.add_subcommand("data", "check a detection data set and print its statistics");
    command_->add_option("spec", spec_, "obj.data, coco:INSTANCES.json[,IMAGE_DIR] or fashion-mnist-scenes[:DIR]")
        ->required();
    command_->add_flag("--valid", valid_, "the validation split (obj.data's valid=) instead of train=");
  }
  bool selected() const override { return command_ && *command_; }
  int run() const override {
    const auto source = make_detection_source(spec_, !valid_);
    std::vector<int64_t> per_class(static_cast<size_t>(source->classes()), 0);
    int64_t boxes = 0, crowd = 0, empty = 0;
    for (int64_t i = 0; i < source->size(); ++i) {
      const auto& truths = source->boxes(i);
      empty += truths.empty();
      for (const ObjectBox& b : truths) {
        ++boxes;
        crowd += b.crowd;
        ++per_class[static_cast<size_t>(b.cls)];
      }
    }
    std::cout << source->describe() << "\n"
              << source->size() << " images, " << boxes << " boxes (" << crowd << " crowd), " << empty
              << " images without boxes, " << source->missing_labels() << " without a label file\n";
    for (size_t c = 0; c < per_class.size(); ++c)
      std::cout << "  " << c << " " << source->class_names()[c] << ": " << per_class[c] << "\n";
    return 0;
  }

 private:
  CLI::App* command_ = nullptr;
  std::string spec_;
  bool valid_ = false;
};

}  // namespace

std::unique_ptr<DetectorVerb> make_data_verb() { return std::make_unique<DataVerb>(); }

}  // namespace cspnet::cli
