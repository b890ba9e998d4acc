#include <algorithm>
#include <cmath>

#include "cspnet/boxes.hpp"
#include "cspnet/detect.hpp"

namespace cspnet {

std::vector<Detection> decode_yolo(const Network& net, const std::vector<Tensor>& outputs, int batch_index,
                                   int image_w, int image_h, float threshold) {
  std::vector<Detection> detections;
  const auto layers = net.output_layers();
  const float net_w = float(net.config().width), net_h = float(net.config().height);
  // Undo the letterbox: the image occupies new_w x new_h of the input.
  float new_w = net_w, new_h = net_h;
  if (net_w / float(image_w) < net_h / float(image_h)) {
    new_h = std::floor(float(int64_t(image_h) * int64_t(net_w) / image_w));
  } else {
    new_w = std::floor(float(int64_t(image_w) * int64_t(net_h) / image_h));
  }
  for (size_t o = 0; o < layers.size() && o < outputs.size(); ++o) {
    const YoloParams* p = yolo_attrs(net.layer(layers[o]));
    if (!p) continue;
    const Tensor& out = outputs[o];
    const int64_t h = out.shape().h, w = out.shape().w, entries = p->classes + 5;
    for (size_t a = 0; a < p->mask.size(); ++a) {
      const int64_t base = int64_t(a) * entries;
      const float anchor_w = p->anchors[size_t(2 * p->mask[a])], anchor_h = p->anchors[size_t(2 * p->mask[a] + 1)];
      for (int64_t j = 0; j < h; ++j)
        for (int64_t i = 0; i < w; ++i) {
          float objectness = out.at(batch_index, base + 4, j, i);
          if (objectness <= threshold) continue;
          Detection d;
          d.x = (float(i) + out.at(batch_index, base + 0, j, i)) / float(w);
          d.y = (float(j) + out.at(batch_index, base + 1, j, i)) / float(h);
          float tw = out.at(batch_index, base + 2, j, i), th = out.at(batch_index, base + 3, j, i);
          d.w = (p->new_coords ? tw * tw * 4 : std::exp(tw)) * anchor_w / net_w;
          d.h = (p->new_coords ? th * th * 4 : std::exp(th)) * anchor_h / net_h;
          d.x = (d.x - (net_w - new_w) / 2 / net_w) / (new_w / net_w);
          d.y = (d.y - (net_h - new_h) / 2 / net_h) / (new_h / net_h);
          d.w *= net_w / new_w;
          d.h *= net_h / new_h;
          d.objectness = objectness;
          for (int c = 0; c < p->classes; ++c) {
            float score = objectness * out.at(batch_index, base + 5 + c, j, i);
            if (score > d.score) {
              d.score = score;
              d.best_class = c;
            }
          }
          if (d.score > threshold) detections.push_back(d);
        }
    }
  }
  return detections;
}

std::vector<Detection> non_max_suppression(std::vector<Detection> detections, float iou_threshold) {
  std::sort(detections.begin(), detections.end(), [](const Detection& a, const Detection& b) { return a.score > b.score; });
  std::vector<Detection> kept;
  for (const auto& d : detections) {
    bool suppressed = false;
    for (const auto& k : kept)
      if (k.best_class == d.best_class && box_iou(k, d) > iou_threshold) {
        suppressed = true;
        break;
      }
    if (!suppressed) kept.push_back(d);
  }
  return kept;
}

}  // namespace cspnet
