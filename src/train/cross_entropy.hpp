#pragma once
// Softmax cross-entropy from logits, in double: the classification loss of
// a [softmax] loss layer (and of a network whose last layer is its logits).
#include <cstdint>

#include "cspnet/training.hpp"

namespace cspnet {

// For `batch` rows of `classes` logits `z`: the mean over rows of
// -sum_j t_j log softmax(z)_j against the target rows, and the gradient
// (softmax(z) - t) * grad_scale stored into `dz` (added when `accumulate`).
// `correct` counts rows whose most probable class is the hard label.
LossResult softmax_cross_entropy(const float* z, int64_t batch, int64_t classes, const Targets& targets,
                                 float grad_scale, float* dz, bool accumulate);

}  // namespace cspnet
