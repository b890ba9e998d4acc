#include "cspnet/tensor.hpp"

#include <omp.h>

#include "cspnet/error.hpp"

namespace cspnet {

std::string Shape::str() const {
  return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

Tensor::Tensor(Shape shape, float fill) : shape_(shape) {
  if (shape.n < 0 || shape.c < 0 || shape.h < 0 || shape.w < 0)
    throw Error("tensor: negative dimension in shape " + std::to_string(shape.n) + "x" + shape.str());
  data_.assign(static_cast<size_t>(shape.count()), fill);
}

void set_num_threads(int threads) {
  if (threads < 1) throw UsageError("--threads must be >= 1, got " + std::to_string(threads));
  omp_set_num_threads(threads);
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace cspnet
