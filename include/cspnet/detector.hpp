#pragma once
// Detectors ([yolo] networks): inference on images, evaluation on a data
// set (darknet's mAP and COCO AP), and training (`cspnet detector ...`).
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "cspnet/boxes.hpp"
#include "cspnet/detection_metrics.hpp"
#include "cspnet/executor.hpp"
#include "cspnet/network.hpp"
#include "cspnet/tensor.hpp"
#include "cspnet/trainer.hpp"

namespace cspnet {

class DetectionSource;

// The last [yolo] layer's description: darknet reads the detector's
// augmentation (jitter, resize, random, max) and NMS settings from it. An
// Error when the network has no [yolo] layer.
const YoloAttrs& last_yolo(const Network& net);

// Whether the network's first output is a [yolo] head.
bool is_detector(const Network& net);
// Whether the network's input is letterboxed ([net] letter_box=1, darknet's
// rule for detectors) rather than stretched.
bool uses_letterbox(const Network& net);

// The network input for `image` (1 x 3 x H x W RGB in [0,1], any size):
// stretched or letterboxed to the network size, channels adapted.
Tensor detector_input(const Network& net, const Tensor& image);

struct DetectOptions {
  float threshold = 0.25f;  // score (objectness x class probability)
  float nms = 0.45f;        // IoU above which a lower-scored box of the same class is dropped
};

// The boxes of one image after NMS (the last [yolo] layer's nms_kind and
// beta_nms), relative to the image, best first.
std::vector<ScoredBox> detect(Executor& executor, const Network& net, const Tensor& image,
                              const DetectOptions& options);

struct DetectorEvalOptions {
  int batch = 8;
  int64_t limit = 0;         // > 0: the first `limit` images only
  float threshold = 0.005f;  // darknet's detector map: every box above this
  float nms = 0.45f;
  float iou = 0.5f;          // darknet's mAP IoU
  int points = 0;            // 0 (all points), 11 or 101
  float report_threshold = 0.25f;  // precision/recall/F1 at this score
  ExecOptions exec;
  bool progress = false;     // plain progress lines on `progress_out`
  std::ostream* progress_out = nullptr;
  // Under MPI (shards = the number of ranks, shard = this rank): each rank
  // runs its contiguous share of the images; rank 0 gathers every image's
  // boxes and scores them, the other ranks' results hold their own images only
  // and no scores.
  int shard = 0, shards = 1;
};

struct DetectorEvaluation {
  std::vector<EvalImage> images;  // ground truth and detections per image
  DarknetMap darknet;
  CocoEval coco;
  double inference_seconds = 0, metric_seconds = 0;
};

// Runs `net` (weights loaded) over `source` and scores it both ways. The
// network is reshaped to the evaluation batch at its cfg size.
DetectorEvaluation evaluate_detector(Network& net, const DetectionSource& source,
                                     const DetectorEvalOptions& options);
// The same on an executor already compiled for `net` at its batch.
DetectorEvaluation evaluate_detector(Executor& executor, const Network& net, const DetectionSource& source,
                                     const DetectorEvalOptions& options);

// Trains a detector: options.data is a detection data spec
// (make_detection_source); with options.map the validation split is scored
// at every epoch end and best.weights kept on the best mAP@0.5. Writes what
// train() writes (checkpoint, final.weights, log.csv, curves.png with mAP).
TrainSummary train_detector(const TrainOptions& options, std::ostream& out);

}  // namespace cspnet
