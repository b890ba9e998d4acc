#pragma once
// Darknet's [yolo] training deltas (AlexeyAB darknet forward_yolo_layer),
// computed in double from the head's activated output. docs/training.md
// "[yolo] loss" lists the rules and the few departures from darknet.
#include <span>
#include <string>
#include <vector>

#include "cspnet/boxes.hpp"
#include "cspnet/layer_attrs.hpp"
#include "cspnet/tensor.hpp"
#include "cspnet/training.hpp"

namespace cspnet {

struct YoloHead {
  const YoloAttrs& attrs;
  Shape shape;             // the head's input = output (batch x mask*(5+classes) x H x W)
  int64_t net_w, net_h;    // the network input size: anchors are in its pixels
  std::string name;        // "layer 139 [yolo]", for errors
};

// For the head's activated output `output` (plain NCHW) and each image's
// truths (boxes relative to the network input): darknet's deltas
// (target - output, i.e. minus the gradient of its loss with respect to the
// layer input) into `delta` (shape.count() values, overwritten), the loss
// (sum of squared deltas, split by term) and darknet's diagnostics. Throws
// cspnet::Error naming `head.name` and the term when a term is NaN or
// infinite.
LossResult yolo_deltas(const YoloHead& head, const float* output, std::span<const std::vector<ObjectBox>> truths,
                       std::vector<double>& delta);

}  // namespace cspnet
