#pragma once
// The public description of every layer kind: one attribute struct per kind
// holding what its darknet cfg section says, with darknet's defaults applied
// and validated by the cfg factory (or the model builder, which goes through
// it). Shape inference, the counts, the cfg writer, the per-layer table and
// every backend read these; a layer's edges (`layers=`, `from=`) are
// Layer::inputs(), its arrays Layer::weight_arrays().
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "cspnet/activation.hpp"

namespace cspnet {

struct ConvolutionalAttrs {
  int filters = 1;
  int size = 1;  // square kernel
  int stride_x = 1, stride_y = 1;
  int padding = 0;  // before and (darknet's arithmetic permitting) after
  int groups = 1;
  int dilation = 1;
  bool batch_normalize = false;
  Activation activation = Activation::logistic;
  // share_index: the layer whose weights (and batch norm) this one uses
  // instead of its own (-1: its own arrays).
  int share_index = -1;
  bool operator==(const ConvolutionalAttrs&) const = default;
};

struct MaxpoolAttrs {
  int size = 1;
  int stride_x = 1, stride_y = 1;
  int padding = 0;  // total: darknet pads padding/2 before
  // maxpool_depth=1: channel Maxout; output channel g is the max over input
  // channels k with k mod out_channels == g.
  bool maxout = false;
  int out_channels = 1;
  bool operator==(const MaxpoolAttrs&) const = default;
};

// darknet's [avgpool]: the mean over the whole map (global average pooling).
struct AvgpoolAttrs {
  bool operator==(const AvgpoolAttrs&) const = default;
};

// Inputs are the `layers=` list; each contributes chunk `group_id` of `groups`.
struct RouteAttrs {
  int groups = 1;
  int group_id = 0;
  bool operator==(const RouteAttrs&) const = default;
};

// out = activation(alpha * previous + beta * sum of `from`); inputs are the
// previous layer then the `from` layers. Shapes may differ as in darknet.
struct ShortcutAttrs {
  Activation activation = Activation::linear;
  float alpha = 1.f, beta = 1.f;
  bool operator==(const ShortcutAttrs&) const = default;
};

// Nearest-neighbour upsampling by `stride` times `scale`; `downsample`
// (darknet's negative stride) sums stride x stride blocks instead.
struct UpsampleAttrs {
  int stride = 2;
  bool downsample = false;
  float scale = 1.f;
  bool operator==(const UpsampleAttrs&) const = default;
};

struct ConnectedAttrs {
  int outputs = 1;
  bool batch_normalize = false;
  Activation activation = Activation::logistic;
  bool operator==(const ConnectedAttrs&) const = default;
};

// Softmax over each of `groups` contiguous chunks of the flattened C*H*W
// input, at `temperature`.
struct SoftmaxAttrs {
  int groups = 1;
  float temperature = 1.f;
  bool operator==(const SoftmaxAttrs&) const = default;
};

// Identity at inference; in training each value is kept with probability
// 1 - probability and scaled by 1/(1 - probability).
struct DropoutAttrs {
  float probability = 0.5f;
  bool operator==(const DropoutAttrs&) const = default;
};

// darknet's [cost]: the identity (the loss is the loss layer's business).
struct CostAttrs {
  std::string type = "sse";
  float scale = 1.f;
  bool operator==(const CostAttrs&) const = default;
};

// out = activation(previous * from), elementwise; inputs: previous, from.
struct SamAttrs {
  Activation activation = Activation::linear;
  bool operator==(const SamAttrs&) const = default;
};

// out = activation(from's C x H x W map * previous's C x 1 x 1 values);
// inputs: previous, from.
struct ScaleChannelsAttrs {
  Activation activation = Activation::linear;
  bool operator==(const ScaleChannelsAttrs&) const = default;
};

// [yolo] box overlap measures: iou_thresh_kind (iou..ciou) and iou_loss
// (mse or a measure).
enum class IouKind { iou, giou, diou, ciou };
enum class BoxLoss { mse, iou, giou, diou, ciou };
enum class NmsKind { default_nms, greedynms, diounms, cornersnms };

struct YoloAttrs {
  std::vector<int> mask;       // which anchors this layer predicts
  std::vector<float> anchors;  // all anchors, w,h pairs in network pixels
  int classes = 20;
  int num = 1;
  float scale_x_y = 1.f;
  bool new_coords = false;
  // Training (darknet's parse_yolo keys and defaults; docs/training.md).
  int max_boxes = 200;                  // `max`: truths per image darknet's loader keeps
  float jitter = 0.2f;                  // augmentation crop jitter (the loader reads the last head's)
  float resize = 1.f;                   // augmentation extra zoom
  float random = 0.f;                   // multi-scale training (0 off, 1 on, >1 its scale)
  float ignore_thresh = 0.5f;           // no objectness penalty above this IoU with a truth
  float truth_thresh = 1.f;             // a slot above this IoU with a truth becomes positive
  float iou_thresh = 1.f;               // extra positive anchors above this shape IoU (1: off)
  IouKind iou_thresh_kind = IouKind::iou;
  BoxLoss iou_loss = BoxLoss::mse;
  float iou_normalizer = 0.75f, obj_normalizer = 1.f, cls_normalizer = 1.f, delta_normalizer = 1.f;
  float max_delta = std::numeric_limits<float>::infinity();  // clip of IoU-loss deltas and class multipliers
  float label_smooth_eps = 0.f;
  std::vector<int> counters_per_class;  // objects per class: rare classes weigh more (empty: off)
  bool focal_loss = false;
  bool objectness_smooth = false;
  NmsKind nms_kind = NmsKind::default_nms;  // how `detector map` and inference merge boxes
  float beta_nms = 0.6f;
  bool operator==(const YoloAttrs&) const = default;
};

using LayerAttrs = std::variant<ConvolutionalAttrs, MaxpoolAttrs, AvgpoolAttrs, RouteAttrs, ShortcutAttrs,
                                UpsampleAttrs, ConnectedAttrs, SoftmaxAttrs, DropoutAttrs, CostAttrs, SamAttrs,
                                ScaleChannelsAttrs, YoloAttrs>;

// The layer kinds, in LayerAttrs' alternative order.
enum class LayerKind {
  convolutional,
  maxpool,
  avgpool,
  route,
  shortcut,
  upsample,
  connected,
  softmax,
  dropout,
  cost,
  sam,
  scale_channels,
  yolo,
};
constexpr int kLayerKinds = 13;
static_assert(std::variant_size_v<LayerAttrs> == kLayerKinds);

inline LayerKind kind_of(const LayerAttrs& attrs) { return static_cast<LayerKind>(attrs.index()); }
// The darknet section name of a kind ("convolutional", "maxpool", ...).
const char* section_name(LayerKind kind);

}  // namespace cspnet
