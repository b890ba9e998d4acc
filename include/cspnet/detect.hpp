#pragma once
// YOLO decoding: boxes from [yolo] layer outputs, letterbox correction, NMS.
#include <vector>

#include "cspnet/boxes.hpp"
#include "cspnet/network.hpp"
#include "cspnet/tensor.hpp"

namespace cspnet {

// The [yolo] attributes decoding reads (include/cspnet/layer_attrs.hpp).
using YoloParams = YoloAttrs;

struct Detection {
  float x = 0, y = 0, w = 0, h = 0;  // box centre and size, relative to the original image (0..1)
  float objectness = 0;
  int best_class = -1;
  float score = 0;                   // objectness * best class probability
};

// Decodes every [yolo] output of `net` (the executor's outputs, in
// net.output_layers() order) for image `batch_index`. `image_w/h` is the
// original image size, used to undo the letterbox.
std::vector<Detection> decode_yolo(const Network& net, const std::vector<Tensor>& outputs, int batch_index,
                                   int image_w, int image_h, float threshold);
// Every (box, class) of image `batch_index` whose score (objectness x class
// probability) exceeds `threshold`, as darknet's mAP and results files
// take them: one ScoredBox per class, relative to the original image.
// `letterboxed`: the image was letterboxed into the input (else stretched).
std::vector<ScoredBox> decode_yolo_boxes(const Network& net, const std::vector<Tensor>& outputs, int batch_index,
                                         int image_w, int image_h, bool letterboxed, float threshold);
// Greedy per-class NMS by IoU.
std::vector<Detection> non_max_suppression(std::vector<Detection> detections, float iou_threshold);

}  // namespace cspnet
