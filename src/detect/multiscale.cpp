// darknet's multi-scale training schedule (train_detector, `random`).
#include <algorithm>
#include <cmath>

#include "cspnet/detection_augment.hpp"
#include "train/data_random.hpp"

namespace cspnet {
namespace {

constexpr int64_t kIterationsPerSize = 10;
constexpr int64_t kLastIterationsAtMax = 100;
constexpr uint64_t kMultiScaleStream = 0x6d756c7469ull;  // "multi"

}  // namespace

float multiscale_coefficient(float random) { return random == 1.f ? 1.4f : random; }

int multiscale_side(float scale, int initial, int step) {
  // darknet: roundl(scale * init / step + 1) * step with the argument in
  // float arithmetic, halves rounded away from zero.
  const float steps = scale * float(initial) / float(step) + 1.f;
  return static_cast<int>(std::lround(steps)) * step;
}

NetSize multiscale_max_size(const MultiScaleSchedule& schedule) {
  if (schedule.random == 0.f) return {schedule.initial_width, schedule.initial_height};
  const float coefficient = multiscale_coefficient(schedule.random);
  return {std::max(multiscale_side(coefficient, schedule.initial_width, schedule.resize_step), schedule.resize_step),
          std::max(multiscale_side(coefficient, schedule.initial_height, schedule.resize_step), schedule.resize_step)};
}

NetSize multiscale_size(const MultiScaleSchedule& schedule, int64_t iteration) {
  if (schedule.random == 0.f) return {schedule.initial_width, schedule.initial_height};
  const int64_t block = iteration / kIterationsPerSize;
  const int64_t block_start = block * kIterationsPerSize;
  // The first block checks that the largest size fits in memory; the last
  // 100 iterations settle batch-norm statistics at it.
  if (block == 0 || block_start > schedule.max_batches - kLastIterationsAtMax)
    return multiscale_max_size(schedule);
  data_random::Stream stream(data_random::derive(schedule.seed ^ kMultiScaleStream, uint64_t(block)));
  const float coefficient = multiscale_coefficient(schedule.random);
  // darknet's rand_scale: uniform in [1, c], inverted with probability 1/2.
  float scale = stream.uniform(1.f, coefficient);
  if (stream.below(2) == 0) scale = 1.f / scale;
  NetSize size{multiscale_side(scale, schedule.initial_width, schedule.resize_step),
               multiscale_side(scale, schedule.initial_height, schedule.resize_step)};
  if (scale < 1.f && (size.width > schedule.initial_width || size.height > schedule.initial_height))
    size = {schedule.initial_width, schedule.initial_height};
  size.width = std::max(size.width, schedule.resize_step);
  size.height = std::max(size.height, schedule.resize_step);
  return size;
}

int multiscale_dynamic_batch(int initial_batch, NetSize largest, NetSize size) {
  const int64_t area = std::max<int64_t>(int64_t{size.width} * size.height, 1);
  const int64_t batch = int64_t{initial_batch} * largest.width * largest.height / area;
  const int64_t reduced = static_cast<int64_t>(double(batch) * 0.8);
  return int(std::clamp<int64_t>(reduced > initial_batch ? reduced : batch, 1, int64_t{1} << 30));
}

}  // namespace cspnet
