#pragma once
// One training run, whatever it trains: set-up (network, schedule,
// optimiser, output folder, resume), optimiser steps of `subdivisions`
// passes, epoch ends (evaluation, log row, checkpoint) and the final
// weights. What is trained on and how it is evaluated is a TrainingTask:
// classification (src/train/trainer.cpp) and detection
// (src/detect/detector_training.cpp) each supply one.
#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "cspnet/cfg.hpp"
#include "cspnet/network.hpp"
#include "cspnet/trainer.hpp"
#include "cspnet/training.hpp"
#include "cspnet/training_log.hpp"

namespace cspnet {

// One pass of a step: `mini` images at the network's size for this step
// and what the loss layers compare them with. The task keeps the memory
// alive until its next next().
struct TrainingPass {
  const float* images = nullptr;
  Targets targets;
};

// What a run needs from the thing it trains on.
class TrainingTask {
 public:
  virtual ~TrainingTask() = default;
  virtual std::string describe() const = 0;  // the data, for the header line
  virtual std::vector<std::string> class_names() const = 0;
  virtual int64_t images_per_epoch() const = 0;
  virtual int64_t passes_per_epoch() const = 0;
  // Before the first next(): the run is `total_steps` optimiser steps of
  // `subdivisions` passes, and the next next() delivers pass `pass` of
  // `epoch`.
  virtual void start(int64_t epoch, int64_t pass, int64_t total_steps, int subdivisions) = 0;
  // The input size (width, height) of optimiser step `step`: the cfg's,
  // or a multi-scale schedule's (start() has been called).
  virtual std::pair<int, int> input_size(int64_t step) const = 0;
  virtual TrainingPass next() = 0;
  // The loss layers' report for a pass, accumulated for the progress line
  // and the log until take_interval().
  virtual void observe(const LossResult& result, int rows) = 0;
  // The interval's figures for the progress line (" | acc 91.2%").
  virtual std::string interval_text() const = 0;
  // Fills the log row's training columns from the interval and returns
  // them for the epoch line (" acc 91.20%"); starts a new interval.
  virtual std::string take_interval(TrainingLogRow& row) = 0;
  // Evaluates `trained` (the run's network with the current weights) on the
  // held-out split: fills the row's test columns and returns the epoch
  // line's text ("test loss 0.31 acc 90.12%"). Also records figures for
  // the summary. Called on every rank (each evaluates its share, a
  // collective); only rank 0's row, text and figures are used.
  virtual std::string evaluate(Network& trained, TrainingLogRow& row, TrainSummary& summary) = 0;
  virtual double data_wait_seconds() const = 0;
};

// What a task is set up with: the run's options, its network (at the
// training mini-batch), its [net] training keys, the mini-batch.
struct TaskSetup {
  const TrainOptions& options;
  Network& net;
  Options& net_keys;
  int mini_batch;  // images per pass on this rank
  std::ostream& out;
  // Data parallelism: this rank's shard of every global pass of
  // mini_batch * shards images (include/cspnet/distributed.hpp).
  int shard = 0, shards = 1;
};

using TaskFactory = std::function<std::unique_ptr<TrainingTask>(const TaskSetup&)>;

// Trains `options.cfg` on the task `make_task` builds; see train().
TrainSummary run_training(const TrainOptions& options, std::ostream& out, const TaskFactory& make_task);

// printf into a std::string.
std::string format_text(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace cspnet
