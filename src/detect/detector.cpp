// Detector inference and evaluation: images in, per-class boxes out (NMS as
// the last [yolo] layer says), and a data set scored with darknet's mAP and
// COCO AP (src/detect/detection_metrics.cpp).
#include "cspnet/detector.hpp"

#include <algorithm>
#include <chrono>

#include "cspnet/detect.hpp"
#include "cspnet/detection_data.hpp"
#include "cspnet/error.hpp"
#include "cspnet/image.hpp"
#include "train/net_training_keys.hpp"

namespace cspnet {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// NMS as the last [yolo] layer asks (darknet reads nms_kind from it).
std::vector<ScoredBox> suppress(std::vector<ScoredBox> boxes, const Network& net, float nms) {
  const YoloAttrs& yolo = last_yolo(net);
  if (yolo.nms_kind == NmsKind::diounms) return nms_diou(std::move(boxes), nms, yolo.beta_nms);
  return nms_greedy(std::move(boxes), nms);
}

}  // namespace

const YoloAttrs& last_yolo(const Network& net) {
  const YoloAttrs* last = nullptr;
  for (int i = 0; i < net.size(); ++i)
    if (const YoloAttrs* a = yolo_attrs(net.layer(i))) last = a;
  if (!last) throw Error(net.name() + ": not a detector: no [yolo] layer");
  return *last;
}

bool uses_letterbox(const Network& net) {
  NetTrainingKeys keys(net.config(), {});
  return keys.options().get_int("letter_box", 0) != 0;
}

Tensor detector_input(const Network& net, const Tensor& image) {
  const int width = int(net.input_shape().w), height = int(net.input_shape().h);
  return match_channels(uses_letterbox(net) ? letterbox_image(image, width, height)
                                            : resize_image(image, width, height),
                        int(net.input_shape().c));
}

std::vector<ScoredBox> detect(Executor& executor, const Network& net, const Tensor& image,
                              const DetectOptions& options) {
  if (net.batch() != 1) throw Error(net.name() + ": detect() needs the network at batch 1");
  const std::vector<Tensor> outputs = executor.forward(detector_input(net, image));
  std::vector<ScoredBox> boxes = suppress(
      decode_yolo_boxes(net, outputs, 0, int(image.shape().w), int(image.shape().h), uses_letterbox(net),
                        options.threshold),
      net, options.nms);
  std::sort(boxes.begin(), boxes.end(), [](const ScoredBox& a, const ScoredBox& b) { return a.score > b.score; });
  return boxes;
}

DetectorEvaluation evaluate_detector(Network& net, const DetectionSource& source,
                                     const DetectorEvalOptions& options) {
  const int64_t total = options.limit > 0 ? std::min(options.limit, source.size()) : source.size();
  if (total <= 0) throw Error(source.describe() + ": no images to evaluate");
  net.reshape(net.config().width, net.config().height, int(std::min<int64_t>(std::max(options.batch, 1), total)));
  Executor executor(net, options.exec);
  return evaluate_detector(executor, net, source, options);
}

DetectorEvaluation evaluate_detector(Executor& executor, const Network& net, const DetectionSource& source,
                                     const DetectorEvalOptions& options) {
  const int64_t total = options.limit > 0 ? std::min(options.limit, source.size()) : source.size();
  if (total <= 0) throw Error(source.describe() + ": no images to evaluate");
  if (int(source.class_names().size()) > last_yolo(net).classes)
    throw Error(net.name() + ": the network detects " + std::to_string(last_yolo(net).classes) +
                " classes but " + source.describe() + " has " + std::to_string(source.class_names().size()));
  const bool letterbox = uses_letterbox(net);
  const int batch = net.batch();
  DetectorEvaluation result;
  result.images.resize(size_t(total));
  Tensor input(net.input_shape());
  const auto start = Clock::now();
  auto last_report = start;
  for (int64_t first = 0; first < total; first += batch) {
    const int rows = int(std::min<int64_t>(batch, total - first));
    std::fill(input.values().begin(), input.values().end(), 0.f);
    for (int r = 0; r < rows; ++r) {
      const int64_t index = first + r;
      const Tensor image = source.load(index);
      const Tensor prepared = detector_input(net, image);
      std::copy(prepared.values().begin(), prepared.values().end(), input.data() + r * input.shape().per_image());
      EvalImage& e = result.images[size_t(index)];
      e.id = source.image_id(index);
      e.width = int(image.shape().w);
      e.height = int(image.shape().h);
      e.truths = source.boxes(index);
    }
    const std::vector<Tensor> outputs = executor.forward(input);
    for (int r = 0; r < rows; ++r) {
      EvalImage& e = result.images[size_t(first + r)];
      e.detections =
          suppress(decode_yolo_boxes(net, outputs, r, e.width, e.height, letterbox, options.threshold), net, options.nms);
    }
    if (options.progress && options.progress_out && seconds_since(last_report) > 10) {
      last_report = Clock::now();
      const double rate = double(first + rows) / seconds_since(start);
      *options.progress_out << "evaluated " << (first + rows) << "/" << total << " images, " << int(rate)
                            << " img/s, ETA " << int(double(total - first - rows) / rate) << " s\n" << std::flush;
    }
  }
  result.inference_seconds = seconds_since(start);
  const auto metrics_start = Clock::now();
  const int classes = last_yolo(net).classes;
  result.darknet = darknet_map(result.images, classes, options.iou, options.points, options.report_threshold);
  result.coco = coco_eval(result.images, classes);
  result.metric_seconds = seconds_since(metrics_start);
  return result;
}

}  // namespace cspnet
