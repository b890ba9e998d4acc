// Detector inference and evaluation: images in, per-class boxes out (NMS as
// the last [yolo] layer says), and a data set scored with darknet's mAP and
// COCO AP (src/detect/detection_metrics.cpp).
#include "cspnet/detector.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <type_traits>

#include "cspnet/detect.hpp"
#include "cspnet/detection_data.hpp"
#include "cspnet/distributed.hpp"
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

bool is_detector(const Network& net) { return yolo_attrs(net.layer(net.output_layers().at(0))) != nullptr; }

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

namespace {

// EvalImage lists as bytes for the gather to rank 0 (every rank runs the same
// binary: the structs go as they are in memory).
template <class T>
void append_bytes(std::vector<unsigned char>& out, const T* values, size_t count) {
  static_assert(std::is_trivially_copyable_v<T>);
  const auto* bytes = reinterpret_cast<const unsigned char*>(values);
  out.insert(out.end(), bytes, bytes + count * sizeof(T));
}

std::vector<unsigned char> eval_images_to_bytes(const std::vector<EvalImage>& images, int64_t first, int64_t last) {
  std::vector<unsigned char> out;
  for (int64_t i = first; i < last; ++i) {
    const EvalImage& e = images[size_t(i)];
    const int64_t header[5] = {e.id, e.width, e.height, int64_t(e.truths.size()), int64_t(e.detections.size())};
    append_bytes(out, header, 5);
    append_bytes(out, e.truths.data(), e.truths.size());
    append_bytes(out, e.detections.data(), e.detections.size());
  }
  return out;
}

class ByteReader {
 public:
  explicit ByteReader(const std::vector<unsigned char>& bytes) : bytes_(bytes) {}
  bool done() const { return at_ == bytes_.size(); }
  template <class T>
  void read(T* values, size_t count) {
    if (count * sizeof(T) > bytes_.size() - at_) throw Error("gathered evaluation results are truncated");
    std::memcpy(static_cast<void*>(values), bytes_.data() + at_, count * sizeof(T));
    at_ += count * sizeof(T);
  }

 private:
  const std::vector<unsigned char>& bytes_;
  size_t at_ = 0;
};

// Rank 0: every rank's images in rank order (the shards are contiguous).
void read_gathered_images(const std::vector<std::vector<unsigned char>>& per_rank, std::vector<EvalImage>& images) {
  size_t next = 0;
  for (const std::vector<unsigned char>& bytes : per_rank) {
    ByteReader reader(bytes);
    while (!reader.done()) {
      if (next == images.size()) throw Error("gathered evaluation results hold more images than evaluated");
      EvalImage& e = images[next++];
      int64_t header[5];
      reader.read(header, 5);
      e.id = header[0];
      e.width = int(header[1]);
      e.height = int(header[2]);
      e.truths.resize(size_t(header[3]));
      e.detections.resize(size_t(header[4]));
      reader.read(e.truths.data(), e.truths.size());
      reader.read(e.detections.data(), e.detections.size());
    }
  }
  if (next != images.size()) throw Error("gathered evaluation results miss images");
}

}  // namespace

DetectorEvaluation evaluate_detector(Executor& executor, const Network& net, const DetectionSource& source,
                                     const DetectorEvalOptions& options) {
  const int64_t total = options.limit > 0 ? std::min(options.limit, source.size()) : source.size();
  if (total <= 0) throw Error(source.describe() + ": no images to evaluate");
  if (options.shards != world_size() && options.shards != 1)
    throw Error("evaluate_detector: " + std::to_string(options.shards) + " shards but " + describe_world());
  const auto [first_image, last_image] = shard_range(total, options.shard, options.shards);
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
  for (int64_t first = first_image; first < last_image; first += batch) {
    const int rows = int(std::min<int64_t>(batch, last_image - first));
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
      const int64_t done = first + rows - first_image, mine = last_image - first_image;
      const double rate = double(done) / seconds_since(start);
      *options.progress_out << "evaluated " << done << "/" << mine << " images, " << int(rate) << " img/s, ETA "
                            << int(double(mine - done) / rate) << " s\n" << std::flush;
    }
  }
  result.inference_seconds = seconds_since(start);
  if (options.shards > 1) {
    const auto per_rank = gather_to_rank0(eval_images_to_bytes(result.images, first_image, last_image));
    if (options.shard != 0) {
      // Only this rank's images: the others' are on rank 0.
      result.images = {result.images.begin() + first_image, result.images.begin() + last_image};
      return result;
    }
    read_gathered_images(per_rank, result.images);
  }
  const auto metrics_start = Clock::now();
  const int classes = last_yolo(net).classes;
  result.darknet = darknet_map(result.images, classes, options.iou, options.points, options.report_threshold);
  result.coco = coco_eval(result.images, classes);
  result.metric_seconds = seconds_since(metrics_start);
  return result;
}

}  // namespace cspnet
