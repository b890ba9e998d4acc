// `cspnet detector map DATA CFG --weights W` (darknet's mAP and COCO AP on
// the validation split) and `cspnet detector valid ... --json results.json`
// (COCO results file).
#include <cstdio>
#include <iostream>

#include "cli_parse.hpp"
#include "cspnet/coco_json.hpp"
#include "cspnet/detection_data.hpp"
#include "cspnet/detector.hpp"
#include "cspnet/error.hpp"
#include "cspnet/file_output.hpp"
#include "cspnet/weights.hpp"
#include "detector_commands.hpp"

namespace cspnet::cli {
namespace {

// Class k is COCO category k + 1: the ids `detector scenes` writes in its
// ground truth, and what a darknet data set without COCO ids gets.
std::vector<int64_t> category_ids(int classes) {
  std::vector<int64_t> ids;
  for (int c = 0; c < classes; ++c) ids.push_back(c + 1);
  return ids;
}

// What map and valid share: the data, the network, the weights, the run.
struct Evaluation {
  std::string data, cfg, weights, precision = "fp32", quantization;
  DetectorEvalOptions options;

  void add_to(CLI::App& command) {
    command.add_option("data", data, "obj.data | fashion-mnist-scenes[:TRAIN,VAL,SIZE]")->required();
    command.add_option("cfg", cfg, "darknet .cfg with [yolo] layers")->required();
    command.add_option("--weights", weights, "darknet .weights")->required();
    command.add_option("--limit", options.limit, "the first N validation images only")->check(non_negative_number());
    command.add_option("--batch", options.batch, "images per forward pass")->check(positive_number());
    command.add_option("--precision", precision, kPrecisionHelp)->check(CLI::IsMember(kPrecisions));
    command.add_option("--quantization", quantization, kQuantizationHelp);
  }
  std::pair<DetectorEvaluation, int> run() {
    Network net = load_cfg_or_zoo(cfg);
    load_weights(net, weights);
    set_precision(options.exec, precision, quantization);
    const auto source = make_detection_source(data, false);
    options.progress = true;
    options.progress_out = &std::cerr;
    DetectorEvaluation result = evaluate_detector(net, *source, options);
    return {std::move(result), last_yolo(net).classes};
  }
};

class MapVerb final : public DetectorVerb {
 public:
  void add_to(CLI::App& detector) override {
    command_ = detector.add_subcommand("map", "darknet's mAP@IoU and COCO AP@[.5:.95] on the validation split");
    evaluation_.add_to(*command_);
    command_->add_option("--iou", evaluation_.options.iou, "darknet mAP's IoU threshold")->check(number_in(0.0, 1.0));
    command_->add_option("--points", evaluation_.options.points, "0 (all points), 11 or 101")
        ->check(CLI::IsMember({0, 11, 101}));
    command_->add_option("--threshold", evaluation_.options.report_threshold,
                         "score for precision, recall, F1 and average IoU")
        ->check(number_in(0.0, 1.0));
    command_->add_flag("--json", json_, "machine-readable output");
  }
  bool selected() const override { return command_ && *command_; }

  int run() const override {
    Evaluation evaluation = evaluation_;
    const auto [result, classes] = evaluation.run();
    const DarknetMap& d = result.darknet;
    if (json_) {
      std::printf("{\"darknet\": {\"map\": %.6f, \"iou\": %.3f, \"points\": %d, \"precision\": %.6f, \"recall\": %.6f, "
                  "\"f1\": %.6f, \"average_iou\": %.6f},\n \"coco\": %s,\n \"images\": %zu, \"seconds\": %.3f}\n",
                  d.map, double(evaluation.options.iou), evaluation.options.points, d.precision, d.recall, d.f1,
                  d.average_iou, coco_eval_json(result.coco, category_ids(classes)).c_str(), result.images.size(),
                  result.inference_seconds + result.metric_seconds);
      return 0;
    }
    std::printf("%zu images: inference %.1f s, metrics %.3f s\n\n", result.images.size(), result.inference_seconds,
                result.metric_seconds);
    std::printf("%-6s %8s %8s %6s %6s\n", "class", "AP", "truths", "TP", "FP");
    for (size_t c = 0; c < d.classes.size(); ++c)
      std::printf("%-6zu %7.2f%% %8d %6d %6d\n", c, 100 * d.classes[c].ap, d.classes[c].truths, d.classes[c].tp,
                  d.classes[c].fp);
    std::printf("\nfor threshold %.2f: precision %.2f, recall %.2f, F1 %.2f, TP %d, FP %d, FN %d, average IoU %.2f%%\n",
                double(evaluation.options.report_threshold), d.precision, d.recall, d.f1, d.tp, d.fp, d.fn,
                100 * d.average_iou);
    std::printf("mAP@%.2f (%s) = %.4f (%.2f%%)\n\n", double(evaluation.options.iou),
                evaluation.options.points == 0 ? "all points" : (std::to_string(evaluation.options.points) + " points").c_str(),
                d.map, 100 * d.map);
    std::printf("%s", coco_summary(result.coco).c_str());
    return 0;
  }

 private:
  CLI::App* command_ = nullptr;
  Evaluation evaluation_;
  bool json_ = false;
};

class ValidVerb final : public DetectorVerb {
 public:
  void add_to(CLI::App& detector) override {
    command_ = detector.add_subcommand("valid", "write the validation split's detections as a COCO results file");
    evaluation_.add_to(*command_);
    command_->add_option("--json", out_, "the results file to write")->required();
  }
  bool selected() const override { return command_ && *command_; }

  int run() const override {
    Evaluation evaluation = evaluation_;
    const auto [result, classes] = evaluation.run();
    std::vector<CocoImage> images;
    for (const EvalImage& image : result.images) images.push_back(to_coco_image(image));
    write_file_atomically(out_, coco_results_json(images, category_ids(classes)));
    size_t detections = 0;
    for (const CocoImage& image : images) detections += image.detections.size();
    std::printf("wrote %s: %zu detections on %zu images (image_id: the position in the validation list, "
                "category_id: class + 1)\n",
                out_.c_str(), detections, images.size());
    return 0;
  }

 private:
  CLI::App* command_ = nullptr;
  Evaluation evaluation_;
  std::string out_;
};

class CalcAnchorsVerb final : public DetectorVerb {
 public:
  void add_to(CLI::App& detector) override {
    command_ = detector.add_subcommand("calc_anchors", "k-means anchors (1 - IoU distance) of the training boxes");
    command_->add_option("data", data_, "obj.data | fashion-mnist-scenes[:TRAIN,VAL,SIZE]")->required();
    command_->add_option("--num", num_, "anchors")->check(number_in(1, 100));
    command_->add_option("--size", size_, "network input WxH the anchors are for")->required();
    command_->add_option("--seed", seed_, "k-means seed (the result is a function of it)");
  }
  bool selected() const override { return command_ && *command_; }

  int run() const override {
    const auto [width, height] = parse_size(size_);
    const auto source = make_detection_source(data_, true);
    std::vector<std::array<float, 2>> sizes;
    BoxLists truths;
    for (int64_t i = 0; i < source->size(); ++i) {
      truths.push_back(source->boxes(i));
      for (const ObjectBox& b : source->boxes(i)) sizes.push_back({b.w * float(width), b.h * float(height)});
    }
    if (int64_t(sizes.size()) < num_)
      throw Error(source->describe() + ": " + std::to_string(sizes.size()) + " boxes, fewer than --num " +
                  std::to_string(num_));
    const AnchorsResult anchors = calc_anchors(sizes, num_, seed_);
    std::printf("%zu boxes of %s, %d anchors for %dx%d, %d iterations\nanchors = ", sizes.size(),
                source->describe().c_str(), num_, width, height, anchors.iterations);
    for (size_t k = 0; k < anchors.anchors.size(); ++k)
      std::printf("%s%.0f,%.0f", k ? ", " : "", double(anchors.anchors[k][0]), double(anchors.anchors[k][1]));
    std::printf("\naverage IoU = %.2f%%\ncounters_per_class = ", 100 * anchors.average_iou);
    const std::vector<int> counts = counters_per_class(truths, int(source->class_names().size()));
    for (size_t c = 0; c < counts.size(); ++c) std::printf("%s%d", c ? ", " : "", counts[c]);
    std::printf("\n");
    return 0;
  }

 private:
  CLI::App* command_ = nullptr;
  std::string data_, size_;
  int num_ = 9;
  uint32_t seed_ = 1;
};

}  // namespace

std::unique_ptr<DetectorVerb> make_detector_map_verb() { return std::make_unique<MapVerb>(); }
std::unique_ptr<DetectorVerb> make_detector_valid_verb() { return std::make_unique<ValidVerb>(); }
std::unique_ptr<DetectorVerb> make_detector_calc_anchors_verb() { return std::make_unique<CalcAnchorsVerb>(); }

}  // namespace cspnet::cli
