// `cspnet detector scenes --out DIR`: writes the Fashion-MNIST scenes data
// set as a darknet + COCO folder.
#include <iostream>

#include "cspnet/dataset.hpp"
#include "cspnet/detection_data.hpp"
#include "detector_commands.hpp"

namespace cspnet::cli {
namespace {

class ScenesVerb final : public DetectorVerb {
 public:
  void add_to(CLI::App& detector) override {
    command_ = detector.add_subcommand("scenes", "generate the Fashion-MNIST scenes detection data set");
    command_->add_option("--out", out_, "new output folder")->required();
    command_->add_option("--train", train_, "training scenes (default 10000)")->check(CLI::NonNegativeNumber);
    command_->add_option("--val", val_, "validation scenes (default 1000)")->check(CLI::NonNegativeNumber);
    command_->add_option("--size", options_.size, "canvas side in pixels (default 160)")->check(CLI::Range(48, 4096));
    command_->add_option("--seed", options_.seed, "random seed (default 1)");
    command_->add_option("--fashion-mnist", fashion_dir_, "Fashion-MNIST folder")->check(CLI::ExistingDirectory);
  }
  bool selected() const override { return command_ && *command_; }
  int run() const override {
    write_scene_folder(out_, train_, val_, options_, fashion_dir_,
                       [](const std::string& line) { std::cerr << "scenes: " << line << "\n"; });
    std::cout << "wrote " << train_ << " training and " << val_ << " validation scenes to " << out_ << "\n";
    return 0;
  }

 private:
  CLI::App* command_ = nullptr;
  std::string out_, fashion_dir_ = kFashionMnistDir;
  int64_t train_ = 10000, val_ = 1000;
  SceneOptions options_;
};

}  // namespace

std::unique_ptr<DetectorVerb> make_scenes_verb() { return std::make_unique<ScenesVerb>(); }

}  // namespace cspnet::cli
