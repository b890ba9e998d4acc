// `cspnet detector test CFG --weights W IMAGE...`: darknet's detector test —
// boxes drawn on a PNG per image and a table (or JSON) of what was found.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli_parse.hpp"
#include "cspnet/detector.hpp"
#include "cspnet/draw_boxes.hpp"
#include "cspnet/error.hpp"
#include "cspnet/file_input.hpp"
#include "cspnet/image.hpp"
#include "cspnet/weights.hpp"
#include "detector_commands.hpp"

namespace cspnet::cli {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> read_names(const std::string& path) {
  std::vector<std::string> names;
  std::istringstream in(read_text_file(path, "class names file"));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

class TestVerb final : public DetectorVerb {
 public:
  void add_to(CLI::App& detector) override {
    command_ = detector.add_subcommand("test", "detect objects in images: a table and an annotated PNG per image");
    command_->add_option("cfg", cfg_, "darknet .cfg with [yolo] layers (or a zoo model name)")->required();
    command_->add_option("images", images_, "png, jpg or bmp images")->required();
    command_->add_option("--weights", weights_, "darknet .weights")->required();
    command_->add_option("--names", names_, "class names, one per line (default: names.txt beside --weights)");
    command_->add_option("--threshold", options_.threshold, "score threshold")->check(number_in(0.0, 1.0));
    command_->add_option("--iou", options_.nms, "NMS IoU threshold")->check(number_in(0.0, 1.0));
    command_->add_option("--out", out_, "folder for the annotated PNGs");
    command_->add_flag("--json", json_, "print JSON (pixel xyxy and normalised boxes) instead of the table");
  }
  bool selected() const override { return command_ && *command_; }

  int run() const override {
    Network net = load_cfg_or_zoo(cfg_);
    net.reshape(net.config().width, net.config().height, 1);
    load_weights(net, weights_);
    std::string names_path = names_;
    if (names_path.empty() && fs::is_regular_file(fs::path(weights_).parent_path() / "names.txt"))
      names_path = (fs::path(weights_).parent_path() / "names.txt").string();
    const std::vector<std::string> names = names_path.empty() ? std::vector<std::string>{} : read_names(names_path);
    auto name_of = [&](int c) { return size_t(c) < names.size() ? names[size_t(c)] : "class " + std::to_string(c); };
    Executor executor(net);
    fs::create_directories(out_);
    nlohmann::json all = nlohmann::json::array();
    for (const std::string& path : images_) {
      Tensor image = load_image_rgb(path);
      const auto start = std::chrono::steady_clock::now();
      const std::vector<ScoredBox> boxes = detect(executor, net, image, options_);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      const double w = double(image.shape().w), h = double(image.shape().h);
      const std::string png = (fs::path(out_) / (fs::path(path).stem().string() + ".png")).string();
      draw_boxes(image, boxes, names);
      save_png(png, image);
      nlohmann::json found = nlohmann::json::array();
      if (!json_) std::printf("%s: %zu objects in %.1f ms -> %s\n", path.c_str(), boxes.size(), ms, png.c_str());
      for (const ScoredBox& b : boxes) {
        const double x1 = (b.x - b.w / 2) * w, y1 = (b.y - b.h / 2) * h, x2 = (b.x + b.w / 2) * w,
                     y2 = (b.y + b.h / 2) * h;
        if (json_)
          found.push_back({{"class", b.cls}, {"name", name_of(b.cls)}, {"score", b.score},
                           {"xyxy", {x1, y1, x2, y2}}, {"box_normalised", {b.x, b.y, b.w, b.h}}});
        else
          std::printf("  %-20s %5.1f%%  x1 %6.1f y1 %6.1f x2 %6.1f y2 %6.1f\n", name_of(b.cls).c_str(),
                      100 * b.score, x1, y1, x2, y2);
      }
      if (json_) all.push_back({{"image", path}, {"width", w}, {"height", h}, {"ms", ms}, {"annotated", png},
                                {"detections", found}});
    }
    if (json_) std::cout << all.dump(2) << '\n';
    return 0;
  }

 private:
  CLI::App* command_ = nullptr;
  std::string cfg_, weights_, names_, out_ = "out/detect";
  std::vector<std::string> images_;
  DetectOptions options_;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<DetectorVerb> make_detector_test_verb() { return std::make_unique<TestVerb>(); }

}  // namespace cspnet::cli
