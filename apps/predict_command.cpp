// `cspnet predict`: what darknet's `detector test -ext_output` and
// Ultralytics' `predict` print, on any number of images with one executor.
// Boxes are pixel xyxy of the original image, clipped to it; JSON adds the
// normalised centre/size darknet's labels use.
#include "predict_command.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli_parse.hpp"
#include "cspnet/detect.hpp"
#include "cspnet/detector.hpp"
#include "cspnet/draw_boxes.hpp"
#include "cspnet/error.hpp"
#include "cspnet/executor.hpp"
#include "cspnet/file_input.hpp"
#include "cspnet/image.hpp"
#include "cspnet/weights.hpp"
#include "image_inputs.hpp"

namespace cspnet::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return text;
}

// Class names, one per line; empty lines keep their index (a names file is
// read by line number, as darknet reads it).
std::vector<std::string> read_names(const std::string& path) {
  std::vector<std::string> names;
  if (path.empty()) return names;
  std::istringstream in(read_text_file(path, "labels file"));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    names.push_back(line);
  }
  return names;
}

// --names, else the names.txt a training run keeps beside its weights.
std::string names_path(const PredictOptions& options) {
  if (!options.names.empty() || options.weights.empty()) return options.names;
  const fs::path beside = fs::path(options.weights).parent_path() / "names.txt";
  return fs::is_regular_file(beside) ? beside.string() : "";
}

std::string name_of(const std::vector<std::string>& names, int64_t index) {
  return size_t(index) < names.size() ? names[size_t(index)] : "class " + std::to_string(index);
}

struct StageTimes {
  double preprocess = 0, inference = 0, postprocess = 0;
  double total() const { return preprocess + inference + postprocess; }
};

struct ClassScore {
  int64_t cls = 0;
  float score = 0;
};

// What predict found in one image.
struct ImageResult {
  std::string file;
  int width = 0, height = 0;
  StageTimes times;
  std::vector<Detection> detections;  // a detector's, best first
  std::vector<ClassScore> top;        // a classifier's, best first
  std::string annotated;              // the annotated PNG written, if any
};

// A box corner in pixels of the original image, clipped to it.
struct PixelBox {
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
};

PixelBox pixel_box(const Detection& d, int width, int height) {
  auto clip = [](double v, double high) { return std::clamp(v, 0.0, high); };
  const double w = width, h = height;
  return {clip((double(d.x) - d.w / 2.0) * w, w), clip((double(d.y) - d.h / 2.0) * h, h),
          clip((double(d.x) + d.w / 2.0) * w, w), clip((double(d.y) + d.h / 2.0) * h, h)};
}

// ---- checks before any image is read or any file written ----

void check_output_options(const PredictOptions& options, size_t image_count) {
  if (!options.save_image.empty() && !options.out_dir.empty())
    throw UsageError("--save-image and --out: give one (--save-image for one image, --out for a folder)");
  if (!options.save_image.empty() && lower(fs::path(options.save_image).extension().string()) != ".png")
    throw UsageError("--save-image: expected a .png path, got '" + options.save_image + "'");
  if (image_count > 1 && !options.save_image.empty())
    throw UsageError("--save-image takes one image, got " + std::to_string(image_count) + ": use --out DIR");
  if (image_count > 1 && !options.dump.empty())
    throw UsageError("--dump takes one image, got " + std::to_string(image_count));
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec_a, ec_b;
  const fs::path canonical_a = fs::weakly_canonical(a, ec_a), canonical_b = fs::weakly_canonical(b, ec_b);
  return !ec_a && !ec_b && canonical_a == canonical_b;
}

// Where each image's annotated PNG goes: --save-image, or --out/<stem>.png.
// Two inputs with one stem, or an output over an input, are usage errors:
// either would silently lose a picture.
std::vector<std::string> annotated_paths(const PredictOptions& options, const std::vector<std::string>& images) {
  std::vector<std::string> paths;
  if (!options.save_image.empty()) paths.push_back(options.save_image);
  if (!options.out_dir.empty()) {
    std::map<std::string, std::string> input_of;
    for (const std::string& image : images) {
      const std::string path = (fs::path(options.out_dir) / (fs::path(image).stem().string() + ".png")).string();
      if (auto [it, added] = input_of.emplace(path, image); !added)
        throw UsageError("--out: " + it->second + " and " + image + " would both be written to " + path);
      paths.push_back(path);
    }
  }
  for (size_t i = 0; i < paths.size(); ++i)
    for (const std::string& image : images)
      if (same_file(paths[i], image)) throw UsageError("the annotated image " + paths[i] + " would overwrite its input");
  return paths;
}

// ---- one image ----

// Detector boxes: decode, NMS at --iou, the best --max-det kept.
std::vector<Detection> postprocess_detector(const Network& net, const std::vector<Tensor>& outputs, int width,
                                            int height, const PredictOptions& options) {
  std::vector<Detection> kept =
      non_max_suppression(decode_yolo(net, outputs, 0, width, height, float(options.threshold)), float(options.iou));
  if (kept.size() > size_t(options.max_det)) kept.resize(size_t(options.max_det));  // sorted best first
  return kept;
}

std::vector<ClassScore> postprocess_classifier(const Tensor& scores, int top) {
  std::vector<int64_t> order(size_t(scores.size()));
  std::iota(order.begin(), order.end(), 0);
  const size_t k = std::min<size_t>(size_t(std::max(top, 1)), order.size());
  std::partial_sort(order.begin(), order.begin() + long(k), order.end(),
                    [&](int64_t a, int64_t b) { return scores.data()[a] > scores.data()[b]; });
  std::vector<ClassScore> best;
  for (size_t i = 0; i < k; ++i) best.push_back({order[i], scores.data()[order[i]]});
  return best;
}

void save_annotated(Tensor image, const std::vector<Detection>& detections, const std::vector<std::string>& names,
                    const std::string& path) {
  std::vector<ScoredBox> boxes;
  for (const Detection& d : detections) boxes.push_back({d.x, d.y, d.w, d.h, d.best_class, d.score});
  draw_boxes(image, boxes, names);
  save_png(path, image);
}

class Predictor {
 public:
  Predictor(Network& net, const PredictOptions& options, std::vector<std::string> names)
      : net_(net), options_(options), names_(std::move(names)), executor_(net), detector_(is_detector(net)) {}

  bool detector() const { return detector_; }

  ImageResult run(const std::string& file, const std::string& annotated) {
    ImageResult result;
    result.file = file;
    Tensor image = load_image_rgb(file);
    result.width = int(image.shape().w);
    result.height = int(image.shape().h);
    const auto start = Clock::now();
    const Tensor input = preprocess(image);
    const auto preprocessed = Clock::now();
    const std::vector<Tensor> outputs = executor_.forward(input);
    const auto inferred = Clock::now();
    if (!options_.dump.empty()) save_npy(options_.dump, outputs[0]);
    const auto post_start = Clock::now();
    if (detector_)
      result.detections = postprocess_detector(net_, outputs, result.width, result.height, options_);
    else
      result.top = postprocess_classifier(outputs[0], options_.top);
    result.times = {ms_between(start, preprocessed), ms_between(preprocessed, inferred),
                    ms_between(post_start, Clock::now())};
    if (!annotated.empty()) {
      save_annotated(std::move(image), result.detections, names_, annotated);
      result.annotated = annotated;
    }
    return result;
  }

 private:
  // A detector's input is letterboxed (boxes are mapped back through it),
  // a classifier's stretched, as darknet does.
  Tensor preprocess(const Tensor& image) const {
    const int width = net_.config().width, height = net_.config().height;
    return match_channels(detector_ ? letterbox_image(image, width, height) : resize_image(image, width, height),
                          net_.config().channels);
  }

  Network& net_;
  const PredictOptions& options_;
  std::vector<std::string> names_;
  Executor executor_;
  bool detector_;
};

// ---- output ----

std::string times_text(const StageTimes& t) {
  char text[128];
  std::snprintf(text, sizeof text, "%.1f ms (preprocess %.1f, inference %.1f, postprocess %.1f)", t.total(),
                t.preprocess, t.inference, t.postprocess);
  return text;
}

void print_text(const ImageResult& r, const std::vector<std::string>& names, const PredictOptions& options,
                bool detector) {
  std::printf("%s: %dx%d", r.file.c_str(), r.width, r.height);
  if (detector) std::printf(", %zu detections (threshold %.2f, iou %.2f)", r.detections.size(), options.threshold,
                            options.iou);
  std::printf(", %s", times_text(r.times).c_str());
  if (!r.annotated.empty()) std::printf(" -> %s", r.annotated.c_str());
  std::printf("\n");
  for (const Detection& d : r.detections) {
    const PixelBox b = pixel_box(d, r.width, r.height);
    std::printf("  %-20s %5.1f%%  x1 %7.1f y1 %7.1f x2 %7.1f y2 %7.1f\n", name_of(names, d.best_class).c_str(),
                100 * d.score, b.x1, b.y1, b.x2, b.y2);
  }
  for (const ClassScore& c : r.top) std::printf("  %-24s %.6f\n", name_of(names, c.cls).c_str(), c.score);
}

StageTimes mean_times(const std::vector<ImageResult>& results) {
  StageTimes sum;
  for (const ImageResult& r : results) {
    sum.preprocess += r.times.preprocess;
    sum.inference += r.times.inference;
    sum.postprocess += r.times.postprocess;
  }
  const double n = double(std::max<size_t>(results.size(), 1));
  return {sum.preprocess / n, sum.inference / n, sum.postprocess / n};
}

size_t detection_count(const std::vector<ImageResult>& results) {
  size_t count = 0;
  for (const ImageResult& r : results) count += r.detections.size();
  return count;
}

void print_summary(const std::vector<ImageResult>& results, bool detector) {
  std::printf("%zu image%s", results.size(), results.size() == 1 ? "" : "s");
  if (detector) std::printf(", %zu detections", detection_count(results));
  const StageTimes mean = mean_times(results);
  std::printf("; per image %.1f ms (preprocess %.1f, inference %.1f, postprocess %.1f)\n", mean.total(),
              mean.preprocess, mean.inference, mean.postprocess);
}

nlohmann::json times_json(const StageTimes& t) {
  return {{"preprocess", t.preprocess}, {"inference", t.inference}, {"postprocess", t.postprocess}};
}

nlohmann::json image_json(const ImageResult& r, const std::vector<std::string>& names, bool detector) {
  nlohmann::json j = {{"file", r.file},     {"width", r.width},
                      {"height", r.height}, {"time_ms", r.times.total()},
                      {"stages_ms", times_json(r.times)}};
  if (!r.annotated.empty()) j["annotated"] = r.annotated;
  if (detector) {
    j["detections"] = nlohmann::json::array();
    for (const Detection& d : r.detections) {
      const PixelBox b = pixel_box(d, r.width, r.height);
      j["detections"].push_back({{"class", d.best_class},
                                 {"name", name_of(names, d.best_class)},
                                 {"score", d.score},
                                 {"box_xyxy", {b.x1, b.y1, b.x2, b.y2}},
                                 {"box_cxcywh_norm", {d.x, d.y, d.w, d.h}}});
    }
  } else {
    j["top"] = nlohmann::json::array();
    for (const ClassScore& c : r.top)
      j["top"].push_back({{"class", c.cls}, {"name", name_of(names, c.cls)}, {"score", c.score}});
  }
  return j;
}

nlohmann::json run_json(const std::vector<ImageResult>& results, const std::vector<std::string>& names,
                        const PredictOptions& options, bool detector) {
  nlohmann::json j = {{"task", detector ? "detect" : "classify"}, {"images", nlohmann::json::array()}};
  if (detector) {
    j["threshold"] = options.threshold;
    j["iou"] = options.iou;
    j["max_det"] = options.max_det;
  } else {
    j["top"] = options.top;
  }
  for (const ImageResult& r : results) j["images"].push_back(image_json(r, names, detector));
  const StageTimes mean = mean_times(results);
  j["summary"] = {{"images", results.size()}, {"mean_time_ms", mean.total()}, {"mean_stages_ms", times_json(mean)}};
  if (detector) j["summary"]["detections"] = detection_count(results);
  return j;
}

void create_out_dir(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create the --out folder: " + ec.message());
}

}  // namespace

void add_predict_options(CLI::App& predict, PredictOptions& o) {
  predict.add_option("inputs", o.inputs, "images (png, jpg, jpeg, bmp), folders of them, or @list.txt (one path a line)")
      ->required();
  predict.add_option("--weights", o.weights, "darknet .weights (default: random, see --seed)");
  predict.add_option("--names,--labels", o.names, "class names, one per line (default: names.txt beside --weights)");
  predict.add_option("--top", o.top, "classifier: how many classes to print")->check(positive_number());
  predict.add_option("--threshold", o.threshold, "detector: score threshold")->check(number_in(0.0, 1.0));
  predict.add_option("--iou", o.iou, "detector: NMS IoU above which the lower-scored box of a class is dropped")
      ->check(number_in(0.0, 1.0));
  predict.add_option("--max-det", o.max_det, "detector: most boxes kept per image after NMS, highest scores first")
      ->check(positive_number());
  predict.add_option("--save-image", o.save_image, "detector: the one image with its boxes drawn, as PNG");
  predict.add_option("--out", o.out_dir, "detector: folder for an annotated PNG per image (named after it)");
  predict.add_flag("--json", o.json, "machine-readable output on stdout");
  predict.add_option("--dump", o.dump, "write the raw (first) output of the one image as .npy");
  predict.add_option("--seed", o.seed, "seed for random parameters when no --weights");
}

int run_predict(Network& net, const PredictOptions& options) {
  const std::vector<std::string> images = expand_image_inputs(options.inputs);
  check_output_options(options, images.size());
  if (options.weights.empty()) {
    std::cerr << "warning: no --weights given: using random parameters (seed " << options.seed << ")\n";
    init_weights(net, options.seed);
  } else {
    load_weights(net, options.weights);
  }
  const std::vector<std::string> annotated = annotated_paths(options, images);
  if (!annotated.empty() && !is_detector(net))
    throw UsageError("--save-image and --out draw boxes: " + net.name() + " is not a detector (no [yolo] output)");
  const std::vector<std::string> names = read_names(names_path(options));
  // Every image decodes before the first annotated PNG is written, so a bad
  // image leaves no outputs behind.
  if (annotated.size() > 1)
    for (const std::string& image : images) load_image_rgb(image);
  create_out_dir(options.out_dir);
  Predictor predictor(net, options, names);
  std::vector<ImageResult> results;
  for (size_t i = 0; i < images.size(); ++i) {
    results.push_back(predictor.run(images[i], annotated.empty() ? "" : annotated[i]));
    if (!options.json) print_text(results.back(), names, options, predictor.detector());
  }
  if (options.json)
    std::cout << run_json(results, names, options, predictor.detector()).dump(2) << "\n";
  else
    print_summary(results, predictor.detector());
  return 0;
}

}  // namespace cspnet::cli
