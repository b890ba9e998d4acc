// The Fashion-MNIST scenes generator: a deterministic detection data set.
#include <algorithm>
#include <cmath>

#include "cspnet/detection_data.hpp"
#include "cspnet/error.hpp"

namespace cspnet {
namespace {

// splitmix64: scene i's random stream is a pure function of (seed, i).
class SceneRandom {
 public:
  SceneRandom(uint64_t seed, uint64_t index, uint64_t stream) : state_(seed * 0x9E3779B97F4A7C15ull ^ (index + 1) * 0xBF58476D1CE4E5B9ull ^ stream) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform() { return static_cast<float>(next() >> 40) / float(1 << 24); }  // [0,1)
  int below(int n) { return static_cast<int>(next() % static_cast<uint64_t>(n)); }

 private:
  uint64_t state_;
};

constexpr float kTransparentBelow = 1.0f / 16;  // item intensities below count as background
constexpr float kPi = 3.14159265f;

struct Colour {
  float c[3];
};

Colour random_colour(SceneRandom& rng) { return Colour{{rng.uniform(), rng.uniform(), rng.uniform()}}; }

// An item scaled to side x side by bilinear sampling, alpha in [0,1].
std::vector<float> scale_item(const float* pixels, int rows, int cols, int side) {
  std::vector<float> out(static_cast<size_t>(side) * side);
  for (int v = 0; v < side; ++v) {
    const float sy = std::clamp((v + 0.5f) * rows / side - 0.5f, 0.0f, rows - 1.0f);
    const int y0 = static_cast<int>(sy), y1 = std::min(y0 + 1, rows - 1);
    const float fy = sy - y0;
    for (int u = 0; u < side; ++u) {
      const float sx = std::clamp((u + 0.5f) * cols / side - 0.5f, 0.0f, cols - 1.0f);
      const int x0 = static_cast<int>(sx), x1 = std::min(x0 + 1, cols - 1);
      const float fx = sx - x0;
      const float top = pixels[y0 * cols + x0] * (1 - fx) + pixels[y0 * cols + x1] * fx;
      const float bottom = pixels[y1 * cols + x0] * (1 - fx) + pixels[y1 * cols + x1] * fx;
      const float a = top * (1 - fy) + bottom * fy;
      out[static_cast<size_t>(v) * side + u] = a < kTransparentBelow ? 0.0f : a;
    }
  }
  return out;
}

struct PixelBox {
  int x0, y0, x1, y1;  // inclusive
  bool apart(const PixelBox& o) const { return x1 + 1 < o.x0 || o.x1 + 1 < x0 || y1 + 1 < o.y0 || o.y1 + 1 < y0; }
};

// The tight box of the non-zero alpha; x0 > x1 when the item is empty.
PixelBox tight_box(const std::vector<float>& alpha, int side) {
  PixelBox b{side, side, -1, -1};
  for (int v = 0; v < side; ++v)
    for (int u = 0; u < side; ++u)
      if (alpha[static_cast<size_t>(v) * side + u] > 0) {
        b.x0 = std::min(b.x0, u), b.x1 = std::max(b.x1, u);
        b.y0 = std::min(b.y0, v), b.y1 = std::max(b.y1, v);
      }
  return b;
}

}  // namespace

SceneGenerator::SceneGenerator(ImageDataset items, SceneOptions options)
    : items_(std::move(items)), options_(options) {
  if (items_.size() == 0 || items_.images.shape().c != 1)
    throw Error("scenes: need a non-empty single-channel item set");
  if (options_.size < 48 || options_.size > 4096) throw Error("scenes: canvas size must be in 48..4096");
  if (options_.max_items < 1 || options_.max_items > 64) throw Error("scenes: max_items must be in 1..64");
  if (options_.min_item_px < 4 || options_.min_item_px > options_.size / 2)
    throw Error("scenes: min_item_px must be in 4..size/2");
}

// A smooth two-colour gradient in a random direction, plus faint stripes and
// per-pixel noise: texture the detector must learn to ignore.
Tensor SceneGenerator::background(int64_t index) const {
  SceneRandom rng(options_.seed, static_cast<uint64_t>(index), 0x6267);
  const int s = options_.size;
  const Colour a = random_colour(rng), b = random_colour(rng);
  const float angle = rng.uniform() * 2 * kPi, stripe_angle = rng.uniform() * 2 * kPi;
  const float stripe_freq = (2 + 10 * rng.uniform()) * 2 * kPi / s, stripe_amp = 0.1f * rng.uniform();
  const float dx = std::cos(angle), dy = std::sin(angle), sx = std::cos(stripe_angle), sy = std::sin(stripe_angle);
  Tensor image(Shape{1, 3, s, s});
  for (int y = 0; y < s; ++y)
    for (int x = 0; x < s; ++x) {
      const float t = std::clamp(0.5f + ((x - s / 2.0f) * dx + (y - s / 2.0f) * dy) / s, 0.0f, 1.0f);
      const float stripe = stripe_amp * std::sin((x * sx + y * sy) * stripe_freq);
      const float noise = 0.06f * (rng.uniform() - 0.5f);
      for (int c = 0; c < 3; ++c)
        image.at(0, c, y, x) = std::clamp(a.c[c] * (1 - t) + b.c[c] * t + stripe + noise, 0.0f, 1.0f);
    }
  return image;
}

Scene SceneGenerator::scene(int64_t index) const { return make(index, true); }

std::vector<ObjectBox> SceneGenerator::boxes(int64_t index) const { return make(index, false).boxes; }

// Item placement uses its own random stream, so boxes come out the same
// whether or not the pixels are painted.
Scene SceneGenerator::make(int64_t index, bool paint) const {
  Scene scene{paint ? background(index) : Tensor(), {}};
  SceneRandom rng(options_.seed, static_cast<uint64_t>(index), 0x6974656d);
  const int s = options_.size, rows = static_cast<int>(items_.images.shape().h),
            cols = static_cast<int>(items_.images.shape().w);
  const int wanted = 1 + rng.below(options_.max_items);
  std::vector<PixelBox> placed;
  for (int item = 0; item < wanted; ++item) {
    const int64_t pick = static_cast<int64_t>(rng.next() % static_cast<uint64_t>(items_.size()));
    // Log-uniform side between min_item_px and half the canvas.
    const float lo = std::log(float(options_.min_item_px)), hi = std::log(s / 2.0f);
    const int side = std::max(options_.min_item_px, static_cast<int>(std::exp(lo + (hi - lo) * rng.uniform())));
    const std::vector<float> alpha = scale_item(items_.images.data() + pick * rows * cols, rows, cols, side);
    const PixelBox tight = tight_box(alpha, side);
    if (tight.x0 > tight.x1) continue;
    const Colour tint = random_colour(rng);
    for (int attempt = 0; attempt < 20; ++attempt) {
      const int ox = rng.below(s - side + 1), oy = rng.below(s - side + 1);
      const PixelBox box{ox + tight.x0, oy + tight.y0, ox + tight.x1, oy + tight.y1};
      if (!std::all_of(placed.begin(), placed.end(), [&](const PixelBox& p) { return p.apart(box); })) continue;
      for (int v = 0; paint && v < side; ++v)
        for (int u = 0; u < side; ++u) {
          const float al = alpha[static_cast<size_t>(v) * side + u];
          if (al <= 0) continue;
          for (int c = 0; c < 3; ++c) {
            float& px = scene.image.at(0, c, oy + v, ox + u);
            px = tint.c[c] * al + px * (1 - al);
          }
        }
      placed.push_back(box);
      ObjectBox truth;
      truth.x = (box.x0 + box.x1 + 1) / (2.0f * s);
      truth.y = (box.y0 + box.y1 + 1) / (2.0f * s);
      truth.w = float(box.x1 - box.x0 + 1) / s;
      truth.h = float(box.y1 - box.y0 + 1) / s;
      truth.cls = items_.labels[static_cast<size_t>(pick)];
      scene.boxes.push_back(truth);
      break;
    }
  }
  return scene;
}

}  // namespace cspnet
