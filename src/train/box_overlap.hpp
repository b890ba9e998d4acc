#pragma once
// Overlap measures of two centre/size boxes in double, and their exact
// gradients with respect to the first box: the [yolo] IoU losses
// (iou_loss=iou|giou|diou|ciou) and iou_thresh_kind.
#include <array>

#include "cspnet/layer_attrs.hpp"

namespace cspnet {

struct BoxD {
  double x = 0, y = 0, w = 0, h = 0;
};

// IoU, GIoU (IoU minus the enclosing box's share not covered by the union),
// DIoU (IoU minus squared centre distance over squared enclosing diagonal)
// or CIoU (DIoU minus alpha * v, v the aspect-ratio mismatch). IoU is 0 for
// disjoint boxes, as in darknet. `ciou_alpha` >= 0 replaces CIoU's
// alpha = v / (1 - IoU + v) (finite-difference checks freeze it).
double box_overlap(const BoxD& pred, const BoxD& truth, IouKind kind, double ciou_alpha = -1);

// d box_overlap / d(pred x, y, w, h). CIoU treats alpha as a constant, as
// its paper (Zheng et al. 2020) and darknet do.
std::array<double, 4> box_overlap_gradient(const BoxD& pred, const BoxD& truth, IouKind kind);

// The measure an iou_loss option names (mse has none).
IouKind overlap_kind(BoxLoss loss);

}  // namespace cspnet
