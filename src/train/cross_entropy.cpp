#include "cross_entropy.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cspnet/error.hpp"

namespace cspnet {

LossResult softmax_cross_entropy(const float* z, int64_t batch, int64_t classes, const Targets& targets,
                                 float grad_scale, float* dz, bool accumulate) {
  if (int64_t(targets.class_rows.size()) != batch * classes || int64_t(targets.labels.size()) != batch)
    throw Error("softmax cross-entropy: expected " + std::to_string(batch) + " x " + std::to_string(classes) +
                " targets and " + std::to_string(batch) + " labels, got " + std::to_string(targets.class_rows.size()) +
                " and " + std::to_string(targets.labels.size()));
  std::vector<float> p(static_cast<size_t>(classes));
  double loss = 0;
  int64_t correct = 0;
  for (int64_t n = 0; n < batch; ++n) {
    const float* row = z + n * classes;
    const float* t = targets.class_rows.data() + n * classes;
    float* grad = dz + n * classes;
    const float largest = *std::max_element(row, row + classes);
    double sum = 0;
    for (int64_t j = 0; j < classes; ++j) sum += std::exp(double(row[j]) - largest);
    const double log_sum = std::log(sum) + largest;  // log sum exp(z)
    for (int64_t j = 0; j < classes; ++j) {
      const double log_p = double(row[j]) - log_sum;
      p[size_t(j)] = float(std::exp(log_p));
      if (t[j] != 0) loss -= double(t[j]) * log_p;
      const float value = (p[size_t(j)] - t[j]) * grad_scale;
      grad[j] = accumulate ? grad[j] + value : value;
    }
    if (std::max_element(p.begin(), p.end()) - p.begin() == targets.labels[size_t(n)]) ++correct;
  }
  return LossResult{loss / double(batch), correct};
}

}  // namespace cspnet
