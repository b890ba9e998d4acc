#include "cspnet/batch_loader.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cspnet/error.hpp"
#include "train/data_random.hpp"
#include "train/epoch_orders.hpp"
#include "train/prefetch_pool.hpp"

namespace cspnet {
namespace {

using data_random::derive;
using data_random::Stream;

// Independent key families under the seed (11: the epoch permutation, EpochOrders).
enum KeyFamily : uint64_t { kAugment = 12, kMix = 13 };

// Mixes each row of `batch` with another row (see batch_loader.hpp).
void mix_batch(Batch& batch, int classes, const AugmentOptions& augment, uint64_t key) {
  const int rows = batch.rows();
  if (rows < 2) return;
  const Shape& s = batch.images.shape();
  const int64_t per_image = s.per_image(), plane = s.h * s.w;
  const Tensor originals = batch.images;
  const std::vector<float> original_targets = batch.targets;
  const std::vector<int> original_labels = batch.labels;
  for (int i = 0; i < rows; ++i) {
    Stream stream(derive(key, uint64_t(i)));
    int j = static_cast<int>(stream.below(uint64_t(rows - 1)));
    if (j >= i) ++j;
    const bool use_cutmix = augment.mixup && augment.cutmix ? stream.below(2) == 1 : augment.cutmix;
    const float lambda = stream.uniform();
    const float* own = originals.data() + i * per_image;
    const float* other = originals.data() + j * per_image;
    float* out = batch.images.data() + i * per_image;
    float weight = lambda;  // of image i in the result
    if (use_cutmix) {
      const float side = std::sqrt(1.f - lambda);
      const int64_t cut_w = int64_t(float(s.w) * side), cut_h = int64_t(float(s.h) * side);
      const int64_t cx = int64_t(stream.below(uint64_t(s.w))), cy = int64_t(stream.below(uint64_t(s.h)));
      const int64_t x1 = std::clamp(cx - cut_w / 2, int64_t{0}, s.w),
                    x2 = std::clamp(cx + (cut_w + 1) / 2, int64_t{0}, s.w);
      const int64_t y1 = std::clamp(cy - cut_h / 2, int64_t{0}, s.h),
                    y2 = std::clamp(cy + (cut_h + 1) / 2, int64_t{0}, s.h);
      for (int64_t k = 0; k < s.c; ++k)
        for (int64_t y = y1; y < y2; ++y)
          for (int64_t x = x1; x < x2; ++x) out[k * plane + y * s.w + x] = other[k * plane + y * s.w + x];
      weight = 1.f - float((x2 - x1) * (y2 - y1)) / float(plane);
    } else {
      for (int64_t p = 0; p < per_image; ++p) out[p] = lambda * own[p] + (1.f - lambda) * other[p];
    }
    const float* own_target = original_targets.data() + int64_t{i} * classes;
    const float* other_target = original_targets.data() + int64_t{j} * classes;
    float* target = batch.targets.data() + int64_t{i} * classes;
    for (int c = 0; c < classes; ++c) target[c] = weight * own_target[c] + (1.f - weight) * other_target[c];
    batch.labels[size_t(i)] = weight >= 0.5f ? original_labels[size_t(i)] : original_labels[size_t(j)];
  }
}

}  // namespace

struct BatchLoader::Pool {
  explicit Pool(int64_t images, const BatchLoaderOptions& options) : orders(images, options.seed, options.shuffle) {}
  EpochOrders orders;
  std::unique_ptr<PrefetchPool<Batch>> batches;
};

BatchLoader::BatchLoader(std::shared_ptr<const DataSource> source, const BatchLoaderOptions& options)
    : source_(std::move(source)), options_(options) {
  if (!source_) throw Error("BatchLoader: no data source");
  const std::string what = "BatchLoader (" + source_->describe() + ")";
  if (options_.batch < 1) throw Error(what + ": batch " + std::to_string(options_.batch) + " must be positive");
  if (options_.threads < 0 || options_.threads > 256)
    throw Error(what + ": threads " + std::to_string(options_.threads) + " must be in 0..256");
  if (options_.prefetch < 0) throw Error(what + ": prefetch must not be negative");
  if (!(options_.label_smooth_eps >= 0.f && options_.label_smooth_eps < 1.f))
    throw Error(what + ": label_smooth_eps " + std::to_string(options_.label_smooth_eps) + " must be in [0, 1)");
  classes_ = options_.classes == 0 ? source_->classes() : options_.classes;
  if (classes_ < source_->classes())
    throw Error(what + ": the data has " + std::to_string(source_->classes()) + " classes but the targets have " +
                std::to_string(classes_) + " (the network's outputs)");
  if (options_.shards < 1 || options_.shard < 0 || options_.shard >= options_.shards)
    throw Error(what + ": shard " + std::to_string(options_.shard) + " of " + std::to_string(options_.shards));
  if (options_.shards > 1 && !options_.drop_last)
    throw Error(what + ": sharded loading needs whole global batches (drop_last)");
  const int64_t images = source_->size();
  const int64_t global_batch = int64_t(options_.batch) * options_.shards;
  if (images <= 0) throw Error(what + ": no images");
  if (options_.drop_last && images < global_batch)
    throw Error(what + ": " + std::to_string(images) + " images make no complete batch of " +
                std::to_string(global_batch));
  batches_per_epoch_ = options_.drop_last ? images / global_batch : (images + options_.batch - 1) / options_.batch;
  pool_ = std::make_unique<Pool>(images, options_);
  pool_->batches = std::make_unique<PrefetchPool<Batch>>(
      [this](int64_t ordinal) { return prepare(ordinal / batches_per_epoch_, ordinal % batches_per_epoch_); },
      options_.threads, options_.prefetch);
}

BatchLoader::~BatchLoader() = default;

Batch BatchLoader::next() {
  Batch batch = pool_->batches->next(stats_.wait_seconds, stats_.prepare_seconds);
  stats_.batches += 1;
  stats_.images += batch.rows();
  return batch;
}

void BatchLoader::seek(int64_t epoch, int64_t index) {
  if (epoch < 0 || index < 0 || index >= batches_per_epoch_)
    throw Error("BatchLoader::seek: batch " + std::to_string(index) + " of epoch " + std::to_string(epoch) +
                " is outside 0.." + std::to_string(batches_per_epoch_ - 1) + " of epochs >= 0");
  pool_->batches->seek(epoch * batches_per_epoch_ + index);
}

BatchLoaderStats BatchLoader::stats() const { return stats_; }
void BatchLoader::reset_stats() { stats_ = {}; }

Batch BatchLoader::prepare(int64_t epoch, int64_t index) const {
  const std::shared_ptr<const std::vector<int64_t>> order = pool_->orders.order(epoch);
  const Shape& shape = source_->image_shape();
  const int64_t first = (index * options_.shards + options_.shard) * options_.batch;
  const int rows = static_cast<int>(std::min<int64_t>(options_.batch, source_->size() - first));
  Batch batch;
  batch.epoch = epoch;
  batch.index = index;
  batch.images = Tensor(Shape{rows, shape.c, shape.h, shape.w});
  batch.labels.resize(size_t(rows));
  batch.targets.assign(size_t(rows) * size_t(classes_), options_.label_smooth_eps / float(classes_));
  const uint64_t augment_key = derive(derive(options_.seed, kAugment), uint64_t(epoch));
  for (int r = 0; r < rows; ++r) {
    const int64_t position = first + r;
    const int64_t image = (*order)[size_t(position)];
    float* pixels = batch.images.data() + r * shape.per_image();
    int label = -1;
    try {
      source_->load(image, pixels, &label);
    } catch (const Error& error) {
      throw Error(std::string(error.what()) + " (image " + std::to_string(image) + ", batch " + std::to_string(index) +
                  " of epoch " + std::to_string(epoch) + ")");
    }
    if (label < 0 || label >= classes_)
      throw Error(source_->describe() + ": image " + std::to_string(image) + " has label " + std::to_string(label) +
                  "; expected 0.." + std::to_string(classes_ - 1));
    batch.labels[size_t(r)] = label;
    batch.targets[size_t(r) * size_t(classes_) + size_t(label)] += 1.f - options_.label_smooth_eps;
    if (options_.augment.per_image()) {
      const AugmentParams params = draw_augment_params(options_.augment, derive(augment_key, uint64_t(position)));
      apply_augment(params, pixels, int(shape.c), int(shape.h), int(shape.w));
    }
  }
  if (options_.augment.mixup || options_.augment.cutmix)  // within the shard: partners differ from one process's
    mix_batch(batch, classes_, options_.augment,
              derive(derive(derive(options_.seed, kMix), uint64_t(epoch)),
                     uint64_t(index * options_.shards + options_.shard)));
  return batch;
}

std::string describe_data_wait(const BatchLoaderStats& stats, double elapsed_seconds) {
  char line[160];
  const double share = elapsed_seconds > 0 ? 100.0 * stats.wait_seconds / elapsed_seconds : 0.0;
  std::snprintf(line, sizeof line, "data: waited %.1f ms over %lld batches (%.1f%% of %.2f s)",
                1e3 * stats.wait_seconds, static_cast<long long>(stats.batches), share, elapsed_seconds);
  return line;
}

}  // namespace cspnet
