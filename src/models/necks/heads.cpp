// The pieces every neck shares: the [yolo] output, SPP and SAM.
#include "cspnet/error.hpp"
#include "cspnet/necks.hpp"

namespace cspnet {

std::vector<int> head_mask(int level, const HeadOptions& head) {
  std::vector<int> mask;
  for (int i = 0; i < head.anchors_per_head; ++i) mask.push_back(level * head.anchors_per_head + i);
  if (2 * (mask.back() + 1) > static_cast<int>(head.anchors.size()))
    throw Error("head " + std::to_string(level) + " needs anchor " + std::to_string(mask.back()) + " but only " +
                std::to_string(head.anchors.size() / 2) + " anchors are given");
  return mask;
}

int append_yolo_linear(ModelBuilder& b, int from, const std::vector<int>& mask, const HeadOptions& head) {
  const int outputs = static_cast<int>(mask.size()) * (head.classes + 5);
  b.conv(ConvSpec{.filters = outputs, .activation = "linear", .batch_normalize = false}, from);
  return b.yolo(YoloSpec{mask, head.anchors, head.classes, head.yolo_training});
}

int append_yolo_output(ModelBuilder& b, int from, int width, const std::vector<int>& mask, const HeadOptions& head) {
  b.note("head: " + std::to_string(mask.size()) + " anchors from " + std::to_string(mask.front()));
  const int features = b.conv(ConvSpec{.filters = width, .size = 3}, from);
  return append_yolo_linear(b, features, mask, head);
}

int append_spp(ModelBuilder& b, int from, const std::vector<int>& sizes) {
  if (sizes.empty()) throw Error(b.name() + ": SPP needs pool sizes");
  b.note("SPP");
  std::vector<int> pooled;
  for (int size : sizes) pooled.push_back(b.maxpool(size, 1, from));
  std::vector<int> concat(pooled.rbegin(), pooled.rend());  // largest first, as the release
  concat.push_back(from);
  return b.route(concat);
}

int append_sam(ModelBuilder& b, int from) {
  b.note("SAM: spatial attention");
  b.conv(ConvSpec{.filters = b.channels(from), .activation = "logistic"}, from);
  return b.sam(from);
}

}  // namespace cspnet
