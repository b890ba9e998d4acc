#include "cspnet/tensor.hpp"

#include <omp.h>

#include "cspnet/error.hpp"

namespace cspnet {

std::string Shape::str() const {
  return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

bool Shape::within_limits() const {
  int64_t plane = 0, per_image = 0, total = 0;
  return !__builtin_mul_overflow(h, w, &plane) && !__builtin_mul_overflow(plane, c, &per_image) &&
         per_image <= kMaxElementsPerImage && !__builtin_mul_overflow(per_image, n, &total) &&
         total <= kMaxTensorElements;
}

void throw_shape_overflow(int64_t a, int64_t b) {
  throw Error("shape arithmetic overflows: " + std::to_string(a) + " * " + std::to_string(b) +
              " does not fit in 64 bits");
}

Tensor::Tensor(Shape shape, float fill) : shape_(shape) {
  if (shape.n < 0 || shape.c < 0 || shape.h < 0 || shape.w < 0)
    throw Error("tensor: negative dimension in shape " + std::to_string(shape.n) + "x" + shape.str());
  if (shape.count() > kMaxTensorElements)
    throw Error("tensor: shape " + std::to_string(shape.n) + "x" + shape.str() + " has more than the supported " +
                std::to_string(kMaxTensorElements) + " elements");
  data_.assign(static_cast<size_t>(shape.count()), fill);
}

void set_num_threads(int threads) {
  if (threads < 1) throw UsageError("--threads must be >= 1, got " + std::to_string(threads));
  const int most = kMaxThreadsPerCore * hardware_threads();
  if (threads > most)
    throw UsageError("--threads must be at most " + std::to_string(most) + " (" + std::to_string(kMaxThreadsPerCore) +
                     " per hardware thread), got " + std::to_string(threads));
  omp_set_num_threads(threads);
}

int num_threads() { return omp_get_max_threads(); }

int hardware_threads() { return omp_get_num_procs(); }

}  // namespace cspnet
