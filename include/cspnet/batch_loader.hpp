#pragma once
// Batches for training: shuffled, augmented, label-smoothed and mixed images
// from a DataSource, prepared by a pool of worker threads ahead of the
// trainer.
//
// Determinism: epoch e visits the images in a permutation drawn from
// (seed, e) (or in order without shuffling); image p of the epoch is
// augmented with draws keyed by (seed, e, p), and batch b's mixing with draws
// keyed by (seed, e, b). A batch is therefore a pure function of
// (seed, e, b): the same for any thread count, and seek(e, b) reproduces it
// (resuming needs only the epoch and batch index, no RNG state).
//
// Targets: one probability row per image, (1 - eps) * one_hot + eps / classes
// (label smoothing), then mixed:
//  - mixup: image i becomes lambda * x_i + (1 - lambda) * x_j, with j another
//    image of the same batch (uniform among the others) and lambda uniform in
//    [0, 1] (Beta(1, 1), the cutmix paper's choice; mixup's paper uses
//    Beta(alpha, alpha) with small alpha); target rows mix with the same
//    lambda.
//  - cutmix: a box of area fraction 1 - lambda (lambda uniform in [0, 1],
//    box centre uniform, clipped to the image) is pasted from image j at the
//    same place; targets mix by the pasted area actually covered.
//  - both enabled: each image picks one of the two with probability 1/2.
// Every image of a batch is mixed (partners are read before any mixing). The
// hard label (for accuracy) is the label with the larger weight (image i's on
// a tie).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cspnet/augment.hpp"
#include "cspnet/data_source.hpp"
#include "cspnet/tensor.hpp"

namespace cspnet {

struct Batch {
  Tensor images;                 // rows x C x H x W
  std::vector<float> targets;    // rows x classes probability rows (each sums to 1)
  std::vector<int> labels;       // rows hard labels
  int64_t epoch = 0, index = 0;  // which batch of which epoch
  int rows() const { return static_cast<int>(labels.size()); }
};

struct BatchLoaderOptions {
  int batch = 64;
  // Width of a target row; 0 = the source's class count. Must be at least
  // the source's class count (a network may have spare outputs).
  int classes = 0;
  AugmentOptions augment;  // default: none (evaluation)
  float label_smooth_eps = 0.f;
  uint64_t seed = 0;
  // Worker threads that prepare batches; 0 = none: next() prepares each
  // batch itself (same batches, no overlap with training).
  int threads = 2;
  // Batches prepared ahead (the bounded queue); 0 = 2 * threads.
  int prefetch = 0;
  bool shuffle = true;
  // Drop the last, incomplete batch of an epoch (training). Without it the
  // last batch has fewer rows.
  bool drop_last = true;
  // Data parallelism: this loader delivers shard `shard` of `shards` equal
  // parts of every global batch of batch * shards images (positions
  // [(index * shards + shard) * batch, + batch) of the epoch's order), so the
  // shards of all ranks together are the one-process batches of batch * shards.
  int shard = 0, shards = 1;
};

struct BatchLoaderStats {
  int64_t batches = 0;  // returned by next()
  int64_t images = 0;
  double wait_seconds = 0;     // time next() spent waiting for a batch (or building it, threads = 0)
  double prepare_seconds = 0;  // total worker time spent preparing the delivered batches
};

class BatchLoader {
 public:
  BatchLoader(std::shared_ptr<const DataSource> source, const BatchLoaderOptions& options);
  ~BatchLoader();  // stops and joins the workers
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The next batch: batch 0 of epoch 0 first, then on through the epochs
  // without end (Batch::epoch / index say where it is). A worker's error
  // (a corrupt image, ...) is rethrown here as a cspnet::Error naming the
  // file and the batch; the following call goes on with the next batch.
  Batch next();
  // The next call to next() returns batch `index` of `epoch`.
  void seek(int64_t epoch, int64_t index);
  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  const DataSource& source() const { return *source_; }
  const BatchLoaderOptions& options() const { return options_; }

  // Where compute waited on data; reset_stats() starts a new interval (an
  // epoch, a log period).
  BatchLoaderStats stats() const;
  void reset_stats();

  // Batch `index` of `epoch`, prepared on the calling thread; what next()
  // returns for that batch.
  Batch prepare(int64_t epoch, int64_t index) const;

 private:
  struct Pool;
  std::shared_ptr<const DataSource> source_;
  BatchLoaderOptions options_;
  int classes_ = 0;
  int64_t batches_per_epoch_ = 0;
  BatchLoaderStats stats_;
  std::unique_ptr<Pool> pool_;

};

// "data: waited 123.4 ms over 100 batches (1.2% of 10.10 s)": the line a
// trainer prints after an interval that took `elapsed_seconds` in total.
std::string describe_data_wait(const BatchLoaderStats& stats, double elapsed_seconds);

}  // namespace cspnet
