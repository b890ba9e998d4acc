#include <algorithm>
#include <cmath>

#include "cspnet/boxes.hpp"
#include "cspnet/detect.hpp"

namespace cspnet {

namespace {

// Where the image lies in the network input: all of it (a plain resize), or
// new_w x new_h centred in it (darknet's letterbox).
struct InputPlacement {
  float net_w, net_h, new_w, new_h;
};

InputPlacement placement(const Network& net, int image_w, int image_h, bool letterboxed) {
  const float net_w = float(net.input_shape().w), net_h = float(net.input_shape().h);
  InputPlacement p{net_w, net_h, net_w, net_h};
  if (!letterboxed) return p;
  if (net_w / float(image_w) < net_h / float(image_h)) {
    p.new_h = std::floor(float(int64_t(image_h) * int64_t(net_w) / image_w));
  } else {
    p.new_w = std::floor(float(int64_t(image_w) * int64_t(net_h) / image_h));
  }
  return p;
}

// Calls visit(box, objectness, class_probability(c)) for every anchor cell of
// every [yolo] output of image `n` whose objectness exceeds `threshold`; the
// box is relative to the image (the letterbox undone).
template <class Visit>
void for_each_candidate(const Network& net, const std::vector<Tensor>& outputs, int n, const InputPlacement& place,
                        float threshold, Visit&& visit) {
  const auto layers = net.output_layers();
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
          const float objectness = out.at(n, base + 4, j, i);
          if (objectness <= threshold) continue;
          ScoredBox box;
          box.x = (float(i) + out.at(n, base + 0, j, i)) / float(w);
          box.y = (float(j) + out.at(n, base + 1, j, i)) / float(h);
          const float tw = out.at(n, base + 2, j, i), th = out.at(n, base + 3, j, i);
          box.w = (p->new_coords ? tw * tw * 4 : std::exp(tw)) * anchor_w / place.net_w;
          box.h = (p->new_coords ? th * th * 4 : std::exp(th)) * anchor_h / place.net_h;
          box.x = (box.x - (place.net_w - place.new_w) / 2 / place.net_w) / (place.new_w / place.net_w);
          box.y = (box.y - (place.net_h - place.new_h) / 2 / place.net_h) / (place.new_h / place.net_h);
          box.w *= place.net_w / place.new_w;
          box.h *= place.net_h / place.new_h;
          visit(box, objectness, p->classes, [&](int c) { return out.at(n, base + 5 + c, j, i); });
        }
    }
  }
}

}  // namespace

std::vector<Detection> decode_yolo(const Network& net, const std::vector<Tensor>& outputs, int batch_index,
                                   int image_w, int image_h, float threshold) {
  std::vector<Detection> detections;
  for_each_candidate(net, outputs, batch_index, placement(net, image_w, image_h, true), threshold,
                     [&](const ScoredBox& box, float objectness, int classes, auto probability) {
                       Detection d{box.x, box.y, box.w, box.h, objectness, -1, 0.f};
                       for (int c = 0; c < classes; ++c) {
                         const float score = objectness * probability(c);
                         if (score > d.score) {
                           d.score = score;
                           d.best_class = c;
                         }
                       }
                       if (d.score > threshold) detections.push_back(d);
                     });
  return detections;
}

std::vector<ScoredBox> decode_yolo_boxes(const Network& net, const std::vector<Tensor>& outputs, int batch_index,
                                         int image_w, int image_h, bool letterboxed, float threshold) {
  std::vector<ScoredBox> boxes;
  for_each_candidate(net, outputs, batch_index, placement(net, image_w, image_h, letterboxed), threshold,
                     [&](ScoredBox box, float objectness, int classes, auto probability) {
                       for (int c = 0; c < classes; ++c) {
                         box.cls = c;
                         box.score = objectness * probability(c);
                         if (box.score > threshold) boxes.push_back(box);
                       }
                     });
  return boxes;
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
