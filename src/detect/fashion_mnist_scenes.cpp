// The embedded detection data: Fashion-MNIST items on textured, coloured
// backgrounds, objects of very different sizes on purpose (what multi-scale
// heads and EFM are about), with exact boxes.
#include <algorithm>
#include <cmath>

#include "cspnet/dataset.hpp"
#include "cspnet/detection_data.hpp"
#include "cspnet/error.hpp"
#include "core/splitmix.hpp"

namespace cspnet {
namespace {

constexpr int kItemSide = 28;

// Counter-based draws (the same generator the data pipeline uses): scene i
// depends on nothing but (seed, split, i).
class Draws {
 public:
  explicit Draws(uint64_t key) : state_(key) {}
  uint64_t next() { return splitmix64_finalise(state_ += kSplitmixIncrement); }
  float uniform() { return float(next() >> 40) * (1.0f / 16777216.0f); }
  float uniform(float low, float high) { return low + (high - low) * uniform(); }
  int64_t below(int64_t n) { return int64_t(next() % uint64_t(n)); }

 private:
  uint64_t state_;
};

uint64_t key_of(uint64_t seed, bool train, int64_t index, uint64_t purpose) {
  return splitmix64_finalise(seed * 0x9e3779b97f4a7c15ull ^ splitmix64_finalise(uint64_t(index) * 4 + purpose + (train ? 2 : 0)));
}

// The item's intensity at scaled pixel (x, y) of a side x side rendering
// (nearest source pixel: the visible pixels, and so the box, are exact).
float item_value(const float* item, int side, int x, int y) {
  const int sx = std::min(kItemSide - 1, x * kItemSide / side), sy = std::min(kItemSide - 1, y * kItemSide / side);
  return item[sy * kItemSide + sx];
}

}  // namespace

FashionMnistScenes::FashionMnistScenes(bool train, const SceneOptions& options)
    : DetectionSource(fashion_mnist_class_names()), train_(train), options_(options) {
  if (options_.count < 1 || options_.size < 32)
    throw Error("Fashion-MNIST scenes: at least 1 scene of 32x32 pixels (asked: " + std::to_string(options_.count) +
                " of " + std::to_string(options_.size) + ")");
  items_ = std::make_shared<const ImageDataset>(
      load_fashion_mnist(options_.fashion_mnist_dir.empty() ? kFashionMnistDir : options_.fashion_mnist_dir, train));
  layouts_.reserve(size_t(options_.count));
  for (int64_t i = 0; i < options_.count; ++i) layouts_.push_back(make_layout(i));
}

FashionMnistScenes::Layout FashionMnistScenes::make_layout(int64_t index) const {
  Draws draws(key_of(options_.seed, train_, index, 0));
  Layout layout;
  layout.background_key = key_of(options_.seed, train_, index, 1);
  const int size = options_.size;
  const int count = 1 + int(draws.below(8));
  const float min_side = 12, max_side = float(size) / 2;
  for (int k = 0; k < count; ++k) {
    for (int attempt = 0; attempt < 30; ++attempt) {
      Placed p;
      p.item = draws.below(items_->size());
      // Log-uniform sides: as many small objects as large ones.
      p.side = int(std::round(min_side * std::pow(max_side / min_side, draws.uniform())));
      p.x = int(draws.below(size - p.side + 1));
      p.y = int(draws.below(size - p.side + 1));
      const float hue = draws.uniform() * 6;
      for (int c = 0; c < 3; ++c) {  // a bright colour: hue around the circle, full value
        const float d = std::fabs(std::fmod(hue + float(4 - 2 * c), 6.f) - 3.f);
        p.tint[c] = std::clamp(d - 1.f, 0.f, 1.f) * 0.7f + 0.3f;
      }
      // The visible pixels' box (items are bright on black).
      const float* item = items_->images.data() + p.item * kItemSide * kItemSide;
      int x0 = p.side, y0 = p.side, x1 = -1, y1 = -1;
      for (int y = 0; y < p.side; ++y)
        for (int x = 0; x < p.side; ++x)
          if (item_value(item, p.side, x, y) > 0) {
            x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
          }
      if (x1 < 0) continue;  // an empty item (none in Fashion-MNIST, but be safe)
      ObjectBox box;
      box.x = (float(p.x + x0) + float(x1 - x0 + 1) / 2) / float(size);
      box.y = (float(p.y + y0) + float(y1 - y0 + 1) / 2) / float(size);
      box.w = float(x1 - x0 + 1) / float(size);
      box.h = float(y1 - y0 + 1) / float(size);
      box.cls = items_->labels[size_t(p.item)];
      // Little overlap, so that every object stays mostly visible.
      const bool crowded = std::any_of(layout.boxes.begin(), layout.boxes.end(), [&](const ObjectBox& other) {
        const float iw = std::min(box.x + box.w / 2, other.x + other.w / 2) - std::max(box.x - box.w / 2, other.x - other.w / 2);
        const float ih = std::min(box.y + box.h / 2, other.y + other.h / 2) - std::max(box.y - box.h / 2, other.y - other.h / 2);
        return iw > 0 && ih > 0 && iw * ih > 0.15f * std::min(box.w * box.h, other.w * other.h);
      });
      if (crowded) continue;
      layout.items.push_back(p);
      layout.boxes.push_back(box);
      break;
    }
  }
  return layout;
}

const std::vector<ObjectBox>& FashionMnistScenes::boxes(int64_t index) const {
  check_index(index);
  return layouts_[size_t(index)].boxes;
}

Tensor FashionMnistScenes::load(int64_t index) const {
  check_index(index);
  const Layout& layout = layouts_[size_t(index)];
  const int size = options_.size;
  Tensor image(Shape{1, 3, size, size});
  // Background: a gradient between two colours along a random direction,
  // stripes of a random frequency and a little noise.
  Draws draws(layout.background_key);
  float from[3], to[3];
  for (int c = 0; c < 3; ++c) from[c] = draws.uniform(0.f, 0.6f), to[c] = draws.uniform(0.f, 0.6f);
  const float angle = draws.uniform(0.f, 6.2831853f), stripes = draws.uniform(2.f, 12.f),
              stripe_angle = draws.uniform(0.f, 6.2831853f), stripe_depth = draws.uniform(0.f, 0.15f);
  const float ca = std::cos(angle), sa = std::sin(angle), cs = std::cos(stripe_angle), ss = std::sin(stripe_angle);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const float u = float(x) / float(size), v = float(y) / float(size);
      const float t = std::clamp(0.5f + (u - 0.5f) * ca + (v - 0.5f) * sa, 0.f, 1.f);
      const float stripe = stripe_depth * std::sin(6.2831853f * stripes * (u * cs + v * ss));
      for (int c = 0; c < 3; ++c) {
        const float noise = (float(draws.next() >> 40) / 16777216.f - 0.5f) * 0.08f;
        image.at(0, c, y, x) = std::clamp(from[c] + (to[c] - from[c]) * t + stripe + noise, 0.f, 1.f);
      }
    }
  // Items: their intensity is the opacity of their tint.
  for (const Placed& p : layout.items) {
    const float* item = items_->images.data() + p.item * kItemSide * kItemSide;
    for (int y = 0; y < p.side; ++y)
      for (int x = 0; x < p.side; ++x) {
        const float a = item_value(item, p.side, x, y);
        if (a <= 0) continue;
        for (int c = 0; c < 3; ++c) {
          float& pixel = image.at(0, c, p.y + y, p.x + x);
          pixel = (1 - a) * pixel + a * p.tint[c];
        }
      }
  }
  return image;
}

std::string FashionMnistScenes::image_name(int64_t index) const {
  check_index(index);
  return std::string(train_ ? "train" : "val") + " scene " + std::to_string(index);
}

std::string FashionMnistScenes::describe() const {
  int64_t objects = 0;
  for (const Layout& l : layouts_) objects += int64_t(l.boxes.size());
  return "Fashion-MNIST scenes, " + std::string(train_ ? "training" : "validation") + " (" +
         std::to_string(layouts_.size()) + " images of " + std::to_string(options_.size) + "x" +
         std::to_string(options_.size) + ", " + std::to_string(objects) + " objects, 10 classes, seed " +
         std::to_string(options_.seed) + ")";
}

}  // namespace cspnet
