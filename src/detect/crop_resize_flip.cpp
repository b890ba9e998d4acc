// One source's geometric transform: crop with mean-colour fill, bilinear
// resize (OpenCV's INTER_LINEAR, as darknet's training path), flip.
#include <algorithm>
#include <string>
#include <vector>

#include "cspnet/detection_augment.hpp"
#include "cspnet/error.hpp"
#include "detect/crop_window.hpp"

namespace cspnet {
namespace {

void check_crop(const Tensor& source, const DetectionDraws& draws, int net_w, int net_h) {
  const Shape& s = source.shape();
  const int64_t crop_w = s.w - draws.left - draws.right, crop_h = s.h - draws.top - draws.bottom;
  if (s.n != 1 || s.c < 1 || s.h < 1 || s.w < 1 || crop_w < 1 || crop_h < 1 || net_w < 1 || net_h < 1 ||
      !Shape{1, s.c, net_h, net_w}.within_limits())
    throw Error("crop_resize_flip: cannot crop " + std::to_string(crop_w) + "x" + std::to_string(crop_h) +
                " from a " + std::to_string(s.n) + "x" + s.str() + " image into " + std::to_string(net_w) + "x" +
                std::to_string(net_h));
}

// OpenCV's INTER_LINEAR sampling positions (pixel centres aligned, clamped
// at the edges): output i reads inputs first and first + 1 with weight
// `weight` on the second.
struct Tap {
  int first = 0;
  int second = 0;
  float weight = 0.f;
};

std::vector<Tap> linear_taps(int in, int out) {
  std::vector<Tap> taps(static_cast<size_t>(out));
  const float scale = float(in) / float(out);
  for (int i = 0; i < out; ++i) {
    const float position = std::max((float(i) + 0.5f) * scale - 0.5f, 0.f);
    Tap& tap = taps[size_t(i)];
    tap.first = std::min(static_cast<int>(position), in - 1);
    tap.weight = tap.first == in - 1 ? 0.f : position - float(tap.first);
    tap.second = std::min(tap.first + 1, in - 1);
  }
  return taps;
}

std::vector<float> channel_means(const Tensor& image) {
  const Shape& s = image.shape();
  std::vector<float> means(size_t(s.c), 0.f);
  const int64_t plane = s.h * s.w;
  for (int64_t k = 0; k < s.c; ++k) {
    double sum = 0;
    for (int64_t i = 0; i < plane; ++i) sum += image.data()[k * plane + i];
    means[size_t(k)] = static_cast<float>(sum / double(plane));
  }
  return means;
}

}  // namespace

Tensor crop_resize_flip_window(const Tensor& source, const DetectionDraws& draws, int net_w, int net_h,
                               const OutputWindow& window) {
  check_crop(source, draws, net_w, net_h);
  if (window.x < 0 || window.y < 0 || window.width < 1 || window.height < 1 || window.x + window.width > net_w ||
      window.y + window.height > net_h)
    throw Error("crop_resize_flip: the window is not inside the " + std::to_string(net_w) + "x" +
                std::to_string(net_h) + " output");
  const Shape& s = source.shape();
  const int ow = int(s.w), oh = int(s.h);
  const std::vector<float> means = channel_means(source);
  const std::vector<Tap> xs = linear_taps(ow - draws.left - draws.right, net_w);
  const std::vector<Tap> ys = linear_taps(oh - draws.top - draws.bottom, net_h);
  Tensor out(Shape{1, s.c, window.height, window.width});
  for (int64_t k = 0; k < s.c; ++k) {
    const float mean = means[size_t(k)];
    auto pixel = [&](int crop_x, int crop_y) {
      const int x = crop_x + draws.left, y = crop_y + draws.top;
      return x >= 0 && x < ow && y >= 0 && y < oh ? source.at(0, k, y, x) : mean;
    };
    for (int y = 0; y < window.height; ++y) {
      const Tap& ty = ys[size_t(window.y + y)];
      for (int x = 0; x < window.width; ++x) {
        // Output column X shows the resized crop's column X, or its mirror.
        const int column = window.x + x;
        const Tap& tx = xs[size_t(draws.flip ? net_w - 1 - column : column)];
        const float top = (1 - tx.weight) * pixel(tx.first, ty.first) + tx.weight * pixel(tx.second, ty.first);
        const float bottom = (1 - tx.weight) * pixel(tx.first, ty.second) + tx.weight * pixel(tx.second, ty.second);
        out.at(0, k, y, x) = (1 - ty.weight) * top + ty.weight * bottom;
      }
    }
  }
  return out;
}

Tensor crop_resize_flip(const Tensor& source, const DetectionDraws& draws, int net_w, int net_h) {
  return crop_resize_flip_window(source, draws, net_w, net_h, OutputWindow{0, 0, net_w, net_h});
}

}  // namespace cspnet
