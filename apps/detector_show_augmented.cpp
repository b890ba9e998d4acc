// `cspnet detector show-augmented CFG IMAGE...`: writes augmented training
// samples as PNGs with their boxes drawn, to see what the network will be
// trained on (darknet's -show_imgs).
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_parse.hpp"
#include "cspnet/cfg.hpp"
#include "cspnet/detection_augment.hpp"
#include "cspnet/draw_boxes.hpp"
#include "cspnet/error.hpp"
#include "cspnet/file_input.hpp"
#include "cspnet/image.hpp"
#include "detector_commands.hpp"

namespace cspnet::cli {
namespace {

// darknet's label file for an image: .../images/ or .../JPEGImages/ becomes
// .../labels/, the extension .txt.
std::string label_path_for(const std::string& image) {
  std::string path = "/" + image;  // so that a relative "images/a.jpg" matches too
  for (const std::string folder : {"/images/", "/JPEGImages/"}) {
    const size_t at = path.rfind(folder);
    if (at != std::string::npos) {
      path.replace(at, folder.size(), "/labels/");
      break;
    }
  }
  path.erase(0, 1);
  return std::filesystem::path(path).replace_extension(".txt").string();
}

// "class x y w h" per line, relative centre and size. (A small reader for
// this preview; the detection data loader has the full one.) A missing label
// file means no objects, as in darknet.
std::vector<ObjectBox> read_labels(const std::string& path) {
  std::vector<ObjectBox> boxes;
  if (!std::filesystem::exists(path)) {
    std::cerr << "note: no label file " << path << " (no objects)\n";
    return boxes;
  }
  std::istringstream text(read_text_file(path, "label file"));
  std::string line;
  for (int number = 1; std::getline(text, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::istringstream fields(line);
    ObjectBox box;
    if (!(fields >> box.cls >> box.x >> box.y >> box.w >> box.h) || box.cls < 0 || !std::isfinite(box.x) ||
        !std::isfinite(box.y) || !(box.w > 0) || !(box.h > 0) || box.w > 1 || box.h > 1)
      throw Error(path + ":" + std::to_string(number) +
                  ": expected 'class x y w h' (class >= 0, 0 < w, h <= 1), got '" + cfg_excerpt(line) + "'");
    boxes.push_back(box);
  }
  return boxes;
}

std::vector<std::string> read_names(const std::string& path) {
  std::vector<std::string> names;
  if (path.empty()) return names;
  std::istringstream text(read_text_file(path, "class names file"));
  for (std::string line; std::getline(text, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    names.push_back(line);
  }
  return names;
}

const CfgSection* find_section(const CfgFile& cfg, bool last, std::initializer_list<const char*> names) {
  const CfgSection* found = nullptr;
  for (const CfgSection& section : cfg.sections)
    for (const char* name : names)
      if (section.name == name) {
        found = &section;
        if (!last) return found;
      }
  return found;
}

class ShowAugmented : public DetectorVerb {
 public:
  void add_to(CLI::App& detector) override {
    command_ = detector.add_subcommand(
        "show-augmented", "write augmented training samples with their boxes drawn, as PNGs (darknet's -show_imgs)");
    command_->add_option("cfg", cfg_, "network .cfg: [net] augmentation keys and size, the last [yolo]'s jitter, "
                                      "resize, max")
        ->required();
    command_->add_option("images", images_, "images; labels by darknet's rule (images/ -> labels/, .txt)")
        ->required();
    command_->add_option("--out", out_, "folder for aug_<n>.png (default: .)");
    command_->add_option("--count", count_, "samples to write (default 8)")->check(number_in(1, 10000));
    command_->add_option("--seed", seed_, "augmentation seed (default 1)");
    command_->add_option("--names", names_, "class names, one a line (default: class ids)");
  }
  bool selected() const override { return command_ && *command_; }

  int run() const override {
    const CfgFile cfg = read_cfg_file(cfg_);
    const CfgSection* net_section = find_section(cfg, false, {"net", "network"});
    if (!net_section) throw Error(cfg_ + ": no [net] section");
    Options net(*net_section, cfg.path);
    YoloAugmentKeys yolo_keys;
    if (const CfgSection* yolo_section = find_section(cfg, true, {"yolo"})) {
      Options yolo(*yolo_section, cfg.path);
      yolo_keys = parse_yolo_augment_keys(yolo);
    }
    const DetectionAugmentOptions options = parse_detection_augment_options(net, yolo_keys);
    const int width = net.get_int("width", 416), height = net.get_int("height", 416);
    const int channels = net.get_int("channels", 3);
    if (width < 1 || width > 8192) net.fail("width", "pixels in 1..8192");
    if (height < 1 || height > 8192) net.fail("height", "pixels in 1..8192");
    if (channels != 1 && channels != 3) net.fail("channels", "1 or 3");
    std::vector<AugmentInput> sources;
    for (const std::string& image : images_)
      sources.push_back({load_image_rgb(image), read_labels(label_path_for(image))});
    const std::vector<std::string> names = read_names(names_);
    std::filesystem::create_directories(out_);
    for (int n = 0; n < count_; ++n) write_sample(sources, options, width, height, channels, names, n);
    return 0;
  }

 private:
  void write_sample(const std::vector<AugmentInput>& sources, const DetectionAugmentOptions& options, int width,
                    int height, int channels, const std::vector<std::string>& names, int n) const {
    const uint64_t key = (seed_ << 32) ^ uint64_t(n);
    const SampleKind kind = batch_sample_kind(options, key);
    std::vector<AugmentInput> chosen;
    for (int s = 0; s < sources_needed(kind); ++s)
      chosen.push_back(sources[size_t(n * sources_needed(kind) + s) % sources.size()]);
    AugmentedSample sample = augment_detection(chosen, kind, options, width, height, channels, key);
    std::vector<ScoredBox> shown;
    for (const ObjectBox& b : sample.boxes) shown.push_back(ScoredBox{b.x, b.y, b.w, b.h, b.cls, -1.f});
    draw_boxes(sample.image, shown, names);
    const std::string path = (std::filesystem::path(out_) / ("aug_" + std::to_string(n) + ".png")).string();
    save_png(path, sample.image);
    const char* kind_name = kind == SampleKind::mosaic ? "mosaic" : kind == SampleKind::mixup ? "mixup" : "single";
    std::cout << path << ": " << kind_name << ", " << sample.boxes.size() << " boxes\n";
  }

  CLI::App* command_ = nullptr;
  std::string cfg_;
  std::vector<std::string> images_;
  std::string out_ = ".";
  int count_ = 8;
  uint64_t seed_ = 1;
  std::string names_;
};

}  // namespace

std::unique_ptr<DetectorVerb> make_show_augmented_verb() { return std::make_unique<ShowAugmented>(); }

}  // namespace cspnet::cli
