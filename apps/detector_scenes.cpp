// `cspnet detector scenes --out DIR`: the embedded Fashion-MNIST scenes
// written as a darknet data set (obj.data, lists, images, labels) with COCO
// ground truth, for other tools or for inspection.
#include <cstdio>
#include <filesystem>

#include "cli_parse.hpp"
#include "cspnet/dataset.hpp"
#include "cspnet/detection_data.hpp"
#include "cspnet/error.hpp"
#include "cspnet/file_output.hpp"
#include "detector_commands.hpp"

namespace cspnet::cli {
namespace {

class ScenesVerb final : public DetectorVerb {
 public:
  void add_to(CLI::App& detector) override {
    command_ = detector.add_subcommand("scenes", "write the embedded Fashion-MNIST scenes as a darknet data set");
    command_->add_option("--out", out_, "output folder (must not exist yet)")->required();
    command_->add_option("--train", train_, "training scenes")->check(positive_number());
    command_->add_option("--val", val_, "validation scenes")->check(positive_number());
    command_->add_option("--size", size_, "scene side in pixels")->check(number_in(32, 4096));
    command_->add_option("--seed", seed_, "generator seed");
  }
  bool selected() const override { return command_ && *command_; }

  int run() const override {
    namespace fs = std::filesystem;
    if (fs::exists(out_)) throw UsageError("detector scenes: " + out_ + " exists; choose a new --out folder");
    // Written into a temporary folder renamed at the end: no partial data set on error.
    const std::string temp = out_ + ".tmp.partial";
    fs::remove_all(temp);
    for (bool train : {true, false}) {
      SceneOptions options;
      options.count = train ? train_ : val_;
      options.size = size_;
      options.seed = seed_;
      FashionMnistScenes scenes(train, options);
      std::printf("writing %s\n", scenes.describe().c_str());
      write_darknet_split(scenes, temp, train ? "train" : "val");
    }
    std::string names;
    for (const std::string& name : fashion_mnist_class_names()) names += name + "\n";
    write_file_atomically(temp + "/obj.names", names);
    write_file_atomically(temp + "/obj.data", "classes = 10\ntrain = train.txt\nvalid = val.txt\nnames = obj.names\n"
                                              "backup = backup/\n");
    fs::rename(temp, out_);
    std::printf("wrote %s: obj.data, train.txt (%lld), val.txt (%lld), images/, labels/, annotations/\n", out_.c_str(),
                (long long)train_, (long long)val_);
    return 0;
  }

 private:
  CLI::App* command_ = nullptr;
  std::string out_;
  int64_t train_ = 4000, val_ = 500;
  int size_ = 128;
  uint64_t seed_ = 1;
};

}  // namespace

std::unique_ptr<DetectorVerb> make_detector_scenes_verb() { return std::make_unique<ScenesVerb>(); }

}  // namespace cspnet::cli
