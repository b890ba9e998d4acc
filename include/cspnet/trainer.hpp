#pragma once
// Classification training and evaluation: the loop behind `cspnet train` and
// `cspnet eval`.
//
// A step is one optimiser update over [net] batch images, run as
// `subdivisions` forward/backward passes of batch/subdivisions images whose
// gradients add up (darknet's meaning of both keys). The loss is the mean
// softmax cross-entropy over the step's images, with label smoothing
// (`label_smooth_eps`). Every random choice (initial weights, shuffling,
// augmentation, dropout) derives from --seed and the position in the run,
// so a run resumed from a checkpoint continues bit for bit.
#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "cspnet/executor.hpp"
#include "cspnet/network.hpp"

namespace cspnet {

class DataSource;

// What the training loop tells TrainOptions::on_step after every optimiser step.
struct StepReport {
  int64_t step = 0, total_steps = 0;
  double epoch = 0;
  double loss = 0;               // the step's mean loss over its images
  double lr = 0;
  double images_per_second = 0;  // training steps of this session so far
};

inline constexpr int64_t kLogEveryAuto = -1;

struct TrainOptions {
  std::string cfg;
  std::string weights;                  // initial darknet .weights; empty: random from the seed
  std::string data = "fashion-mnist";   // see make_data_source()
  std::string out_dir = "out/train";
  int64_t epochs = 0;                   // > 0: train this many epochs (sets max_batches for the schedule)
  int64_t max_batches = 0;              // > 0: overrides [net] max_batches
  int batch = 0, subdivisions = 0;      // > 0: override [net]
  // [net] training keys, e.g. learning_rate, policy, momentum; batch,
  // subdivisions, width, height and channels are errors here (use the
  // fields above; the input size is the cfg's).
  std::map<std::string, std::string> net_overrides;
  uint64_t seed = 1;
  bool resume = false;                  // continue from out_dir/checkpoint.cspnet
  // Without resume, an out_dir holding a run (checkpoint, final weights or
  // log) is refused unless exist_ok, which overwrites it.
  bool exist_ok = false;
  int64_t save_every = 0;               // > 0: also write the checkpoint every N steps
  // Also a log row (training loss since the previous row, lr, rate) every N
  // steps between the epoch rows: > 0 every N, 0 none, kLogEveryAuto about
  // 100 rows over the run. The train_loss of every row, epoch rows included,
  // covers the steps since the previous row.
  int64_t log_every = 0;
  // A step whose loss or gradients are NaN/Inf: an error naming the step and
  // the layer (default), or skipped (no update) with a warning.
  bool skip_non_finite = false;
  // Under MPI: synchronized batch norm (TrainingOptions::sync_batch_norm).
  bool sync_batch_norm = false;
  // Under MPI: the gradient allreduce overlaps backward in buckets of about
  // this many MB (src/train/gradient_buckets.hpp); 0: one allreduce of
  // every gradient after backward.
  double allreduce_bucket_mb = 25;
  int loader_threads = 2;
  int eval_batch = 200;
  int64_t eval_limit = 0;               // > 0: evaluate on the first N test images only
  double log_seconds = 10;              // plain progress lines (not a TTY): at most this often
  bool progress_line = false;           // redraw one progress line on stderr (a TTY)
  // Detection (train_detector): score the validation split at every epoch
  // end (mAP@0.5 and COCO AP) and keep best.weights.
  bool map = false;
  // Called after every step; returning false stops the run as an interrupt
  // does (checkpoint written, TrainSummary::interrupted set).
  std::function<bool(const StepReport&)> on_step;
};

struct TrainSummary {
  int64_t steps = 0;
  double epochs = 0;
  double seconds = 0;
  double images_per_second = 0;  // training steps only (evaluation excluded)
  double data_wait_seconds = 0;  // compute waiting on the loader
  double test_loss = 0, test_top1 = 0;
  double test_map50 = 0, test_map = 0, best_map50 = -1;  // detection with `map`
  std::string weights_path, checkpoint_path, log_path, plot_path;
  std::string best_weights_path;  // detection with `map`: the weights of the best mAP@0.5
  // SIGINT/SIGTERM stopped the run after a step: the checkpoint holds it
  // (no final weights, curves or evaluation).
  bool interrupted = false;
  int64_t skipped_steps = 0;  // skip_non_finite: steps dropped for NaN/Inf
  // Under MPI: the ranks, the bytes of the gradient allreduce per step and
  // the time this rank spent in it (waiting for the others included).
  int ranks = 1;
  int64_t allreduce_bytes_per_step = 0;
  double allreduce_seconds = 0;
};

// Trains as `options` say and writes, in out_dir: names.txt (the class
// names), checkpoint.cspnet (after every epoch, every `save_every` steps and
// at the end), final.weights (darknet format, with `seen`), log.csv and
// curves.png. Lines go to `out`; the redrawn progress line to stderr.
// SIGINT or SIGTERM finishes the current step, writes the checkpoint and
// returns (`interrupted`); a second one aborts.
TrainSummary train(const TrainOptions& options, std::ostream& out);

struct EvalReport {
  int64_t images = 0;
  double loss = 0;  // mean cross-entropy of the probabilities against the labels
  double top1 = 0, top5 = 0;
  std::vector<std::string> class_names;
  // [true class][predicted class]; a prediction of one of the network's
  // spare outputs (beyond the data set's classes) is in no column.
  std::vector<std::vector<int64_t>> confusion;
  std::vector<int64_t> class_images;  // images per true class
  std::vector<int> predictions;       // top-1 class of every image, in order
  // Per class: top-1 hits / images of the class (0 for a class with none).
  std::vector<double> class_accuracy() const;
};

// Runs the network (inference engine, batch norm folded) over the source in
// batches of `batch` images (the network is reshaped to it). `limit` > 0
// evaluates the first `limit` images only.
// `options` selects the executor's optimisations and precision (bf16).
EvalReport evaluate(Network& net, const DataSource& source, int batch, int64_t limit = 0,
                    const ExecOptions& options = {});

// Copies every parameter array (darknet_params(), running statistics
// included) from one network to another built from the same cfg.
void copy_parameters(Network& from, Network& to);

}  // namespace cspnet
