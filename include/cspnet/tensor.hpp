#pragma once
// User-facing tensor: dense NCHW float32 with int64 dimensions.
#include <cstdint>
#include <string>
#include <vector>

namespace cspnet {

// Largest tensor we agree to allocate or plan: 2^30 floats (4 GiB) per image,
// 2^32 (16 GiB) in all; shapes come from untrusted cfgs and command lines.
constexpr int64_t kMaxElementsPerImage = int64_t{1} << 30;
constexpr int64_t kMaxTensorElements = int64_t{1} << 32;

[[noreturn]] void throw_shape_overflow(int64_t a, int64_t b);

// a*b for shape arithmetic: an Error instead of a wrapped (undefined) product.
inline int64_t checked_mul(int64_t a, int64_t b) {
  int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) throw_shape_overflow(a, b);
  return product;
}

struct Shape {
  int64_t n = 0, c = 0, h = 0, w = 0;
  int64_t count() const { return checked_mul(n, per_image()); }
  int64_t per_image() const { return checked_mul(checked_mul(c, h), w); }
  bool operator==(const Shape&) const = default;
  std::string str() const;  // "CxHxW" (batch omitted, like darknet's table)
  // At most kMaxElementsPerImage per image and kMaxTensorElements in all
  // (false where the products overflow): checked before planning anything.
  bool within_limits() const;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, float fill = 0.0f);
  const Shape& shape() const { return shape_; }
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  int64_t size() const { return static_cast<int64_t>(data_.size()); }
  float& at(int64_t n, int64_t c, int64_t h, int64_t w) {
    return data_[static_cast<size_t>(((n * shape_.c + c) * shape_.h + h) * shape_.w + w)];
  }
  float at(int64_t n, int64_t c, int64_t h, int64_t w) const {
    return data_[static_cast<size_t>(((n * shape_.c + c) * shape_.h + h) * shape_.w + w)];
  }
  std::vector<float>& values() { return data_; }
  const std::vector<float>& values() const { return data_; }

 private:
  Shape shape_{};
  std::vector<float> data_;
};

// Threads used by oneDNN and by our own parallel loops (OpenMP): 1 up to
// kMaxThreadsPerCore per hardware thread (a UsageError beyond: 100000
// threads overflowed libgomp's stack, and oversubscription only slows down).
constexpr int kMaxThreadsPerCore = 4;
void set_num_threads(int threads);
int num_threads();
int hardware_threads();

}  // namespace cspnet
