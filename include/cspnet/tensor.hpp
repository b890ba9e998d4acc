#pragma once
// User-facing tensor: dense NCHW float32 with int64 dimensions.
#include <cstdint>
#include <string>
#include <vector>

namespace cspnet {

struct Shape {
  int64_t n = 0, c = 0, h = 0, w = 0;
  int64_t count() const { return n * c * h * w; }
  int64_t per_image() const { return c * h * w; }
  bool operator==(const Shape&) const = default;
  std::string str() const;  // "CxHxW" (batch omitted, like darknet's table)
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

// Threads used by oneDNN and by our own parallel loops (OpenMP).
void set_num_threads(int threads);
int num_threads();

}  // namespace cspnet
