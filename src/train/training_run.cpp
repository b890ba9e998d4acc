#include "train/training_run.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <string_view>

#include "cspnet/checkpoint.hpp"
#include "cspnet/distributed.hpp"
#include "cspnet/error.hpp"
#include "cspnet/lr_schedule.hpp"
#include "cspnet/optimizer.hpp"
#include "cspnet/progress.hpp"
#include "cspnet/weights.hpp"
#include "cspnet/necks.hpp"
#include "cspnet/zoo.hpp"
#include "core/splitmix.hpp"
#include "io/file_output.hpp"
#include "train/gradient_buckets.hpp"
#include "train/net_training_keys.hpp"

namespace cspnet {

std::string format_text(const char* fmt, ...) {
  char text[1024];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(text, sizeof text, fmt, args);
  va_end(args);
  return text;
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Seed of one forward pass (dropout masks): a function of the run's seed and
// the pass's position only, so a resumed run draws the same masks.
uint64_t pass_seed(uint64_t seed, uint64_t pass) {
  return splitmix64_finalise(seed ^ (kSplitmixIncrement * (pass + 1)));
}

std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return format_text("%lld:%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60), (long long)(s % 60));
  return format_text("%lld:%02lld", (long long)(s / 60), (long long)(s % 60));
}

// Which option set the run length, for messages about the max_batches the
// schedule decays over; empty when it is the cfg's own.
std::string run_length_origin(const TrainOptions& options) {
  if (options.epochs > 0) return "--epochs";
  return options.max_batches > 0 ? "--max-batches" : "";
}

// A run killed after logging an epoch but before its checkpoint landed has
// rows past the checkpoint: drop them, so the resumed run logs them once.
void keep_logged_steps_up_to(const std::string& path, int64_t step) {
  if (!std::filesystem::exists(path)) return;
  std::string text = std::string(kTrainingLogHeader) + "\n";
  for (const TrainingLogRow& row : read_training_log(path))
    if (row.step <= step) text += format_training_log_row(row) + "\n";
  write_file_atomically(path, text);
}

// SIGINT/SIGTERM while training: the first asks the run to stop after the
// current step (checkpoint written); a second one aborts at once. Installed
// for the run's lifetime, the previous handlers restored after.
std::atomic<int> g_stop_signals{0};

extern "C" void on_stop_signal(int signal) {
  if (g_stop_signals.fetch_add(1) >= 1) {
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
}

class StopSignals {
 public:
  StopSignals() {
    g_stop_signals = 0;
    previous_int_ = std::signal(SIGINT, on_stop_signal);
    previous_term_ = std::signal(SIGTERM, on_stop_signal);
  }
  ~StopSignals() {
    std::signal(SIGINT, previous_int_);
    std::signal(SIGTERM, previous_term_);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  bool requested() const { return g_stop_signals.load() > 0; }

 private:
  void (*previous_int_)(int) = SIG_DFL;
  void (*previous_term_)(int) = SIG_DFL;
};

// Files of a finished or running training in an output folder.
constexpr const char* kRunFiles[] = {"checkpoint.cspnet", "final.weights", "log.csv"};

// Throws for a [net] override the training keys cannot take.
void check_net_overrides(const TrainOptions& options) {
  // These [net] keys are read into NetConfig, not from the training keys the
  // overrides go to: an override would be silently ignored.
  for (const auto& [key, value] : options.net_overrides) {
    if (key == "batch" || key == "subdivisions")
      throw Error("[net] override " + key + "=" + value + ": set it with --" + key + " (TrainOptions::" + key + ")");
    if (key == "width" || key == "height" || key == "channels")
      throw Error("[net] override " + key + "=" + value + ": the network's input size comes from " + options.cfg +
                  " and cannot be overridden");
    if (!is_net_training_key(key))
      throw Error("[net] override " + key + "=" + value + ": not a [net] training key (e.g. learning_rate, policy, " +
                  "momentum, decay, burn_in, max_batches, translate, flip, mixup, label_smooth_eps)");
  }
}

// What a step reports.
struct StepResult {
  double loss = 0;  // mean over the step's images
  float lr = 0;
};

// One training run, in three parts: set-up (the constructor: network, task,
// schedule, optimiser, output folder, resume, executor), one optimiser
// step, and the end of an epoch (evaluation, log row, checkpoint).
class TrainingRun {
 public:
  TrainingRun(const TrainOptions& options, std::ostream& out, const TaskFactory& make_task)
      : options_(options), out_(out), where_(options.cfg), net_(load_network()), config_(net_.config()) {
    set_up_batches();
    task_ = make_task(TaskSetup{options_, net_, keys_->options(), mini_, out_, rank_, ranks_});
    passes_per_epoch_ = task_->passes_per_epoch();
    if (passes_per_epoch_ < subdivisions_)
      throw Error(task_->describe() + ": fewer images than one batch of " + std::to_string(batch_));
    set_up_schedule();
    set_up_output();
    set_up_state();
    const int64_t passes_done = int64_t(state_.step) * subdivisions_;
    task_->start(passes_done / passes_per_epoch_, passes_done % passes_per_epoch_, total_steps_, subdivisions_);
    compile_for_step();
    if (options_.resume) optimizer_->set_state(optimizer_->state(), params_);  // its sizes against these parameters
    if (options_.resume && rank_ == 0) keep_logged_steps_up_to(summary_.log_path, int64_t(state_.step));
    if (rank_ == 0) log_ = std::make_unique<TrainingLog>(summary_.log_path, options_.resume);
    print_header();
  }

  bool done() const { return int64_t(state_.step) >= total_steps_; }

  // One optimiser update over `batch` images in `subdivisions` passes.
  StepResult step() {
    compile_for_step();
    executor_->zero_gradients();
    if (options_.skip_non_finite) running_statistics_before_ = running_statistics();
    StepResult result;
    for (int s = 0; s < subdivisions_; ++s) {
      TrainingPass pass = task_->next();
      StepContext context{true, pass_seed(options_.seed, state_.step * uint64_t(subdivisions_) + uint64_t(s))};
      executor_->forward(pass.images, context);
      LossResult r = executor_->loss(pass.targets, 1.f / float(batch_));
      result.loss += r.loss_per_image * mini_;
      task_->observe(r, mini_);
      if (buckets_ && s == subdivisions_ - 1)
        executor_->backward([this](int layer) { buckets_->layer_done(layer); });
      else
        executor_->backward();
    }
    if (ranks_ > 1) {
      // The global batch's gradient: every rank's shard gradient is already
      // scaled by 1 / global batch, so their sum is the one-process gradient.
      const auto reduce_start = Clock::now();
      if (buckets_) {
        buckets_->finish();
        summary_.allreduce_bytes_per_step = int64_t(buckets_->bytes());
      } else {
        reduce_gradients();
      }
      allreduce_sum(&result.loss, 1);
      summary_.allreduce_seconds += seconds_since(reduce_start);
    }
    if (const std::string problem = non_finite_problem(result.loss); !problem.empty()) {
      if (!options_.skip_non_finite)
        throw Error(where_ + ": step " + std::to_string(state_.step) + ": " + problem +
                    ": lower the learning rate (learning_rate / --lr) or add burn_in; nothing of this step was "
                    "saved (--on-nan skip skips such steps instead)");
      out_ << "warning: step " << state_.step << " skipped: " << problem << '\n';
      restore_running_statistics();
      ++summary_.skipped_steps;
      result.loss = 0;
    } else {
      result.lr = schedule_->rate_at(state_.step);
      optimizer_->step(params_, result.lr);
    }
    ++state_.step;
    state_.seen += uint64_t(batch_);
    result.loss /= double(batch_);
    return result;
  }

  // Empty when the step's loss and every gradient are finite; else which
  // layer produced the first NaN/Inf (checked before the optimiser step, so
  // no non-finite value ever reaches the weights or a checkpoint).
  std::string non_finite_problem(double loss) {
    std::string array;
    if (std::isfinite(loss)) {
      if (const int layer = first_non_finite_gradient(net_, &array); layer >= 0)
        return "the " + array + " gradient of " + net_.layer(layer).where() + " is not finite";
      for (int i = 0; i < net_.size(); ++i)
        for (const ParamBlob& blob : net_.layer(i).darknet_params())
          if (std::string_view(blob.name).starts_with("rolling_") &&
              !std::all_of(blob.values->begin(), blob.values->end(), [](float v) { return std::isfinite(v); }))
            return "the " + std::string(blob.name) + " of " + net_.layer(i).where() + " is not finite";
      return "";
    }
    const int layer = executor_->first_non_finite_output();
    std::string text = "the loss is " + std::to_string(loss);
    if (layer >= 0) text += "; the first non-finite output is " + net_.layer(layer).where();
    return text;
  }

  // Sums the parameter gradients over the ranks in one call (packed).
  void reduce_gradients() {
    size_t total = 0;
    for (const TrainableParam& p : params_) total += p.grads->size();
    reduce_buffer_.resize(total);
    float* at = reduce_buffer_.data();
    for (const TrainableParam& p : params_) at = std::copy(p.grads->begin(), p.grads->end(), at);
    summary_.allreduce_bytes_per_step = int64_t(total * sizeof(float));
    allreduce_sum(reduce_buffer_.data(), total);
    const float* from = reduce_buffer_.data();
    for (const TrainableParam& p : params_) {
      std::copy(from, from + p.grads->size(), p.grads->begin());
      from += p.grads->size();
    }
  }

  // Batch norm's running statistics, which a training forward updates: kept
  // before a step that may be skipped, put back if it is.
  std::vector<std::pair<std::vector<float>*, std::vector<float>>> running_statistics() {
    std::vector<std::pair<std::vector<float>*, std::vector<float>>> saved;
    for (int i = 0; i < net_.size(); ++i)
      for (const ParamBlob& blob : net_.layer(i).darknet_params())
        if (std::string_view(blob.name).starts_with("rolling_")) saved.emplace_back(blob.values, *blob.values);
    return saved;
  }
  void restore_running_statistics() {
    for (auto& [target, values] : running_statistics_before_) *target = values;
  }

  // The step just made crossed into a new epoch (or was the last one).
  bool epoch_ended() const {
    const int64_t step = int64_t(state_.step);
    return epochs_after(step) > epochs_after(step - 1) || step == total_steps_;
  }

  // Evaluates on the held-out split, logs `row` (its training columns
  // filled in) and writes the checkpoint; returns the evaluation's text.
  std::string end_epoch(TrainingLogRow row) {
    // Every rank evaluates its share; rank 0 has the result, logs and writes.
    const std::string text = task_->evaluate(net_, row, summary_);
    if (rank_ != 0) return "";
    log_row(row);
    save_checkpoint();
    return text;
  }

  // Writes `row` (rank 0) with the step and images seen so far.
  void log_row(TrainingLogRow row) {
    if (rank_ != 0) return;
    row.step = int64_t(state_.step);
    row.images = int64_t(state_.seen);
    log_->write(row);
  }

  // Steps between the rows logged inside an epoch (0: none).
  int64_t log_every() const {
    if (options_.log_every != kLogEveryAuto) return std::max<int64_t>(options_.log_every, 0);
    return std::max<int64_t>(1, total_steps_ / 100);
  }

  // The run's state after the last step, for --resume.
  void save_checkpoint() {
    if (rank_ != 0) return;
    const int64_t passes = int64_t(state_.step) * subdivisions_;
    state_.epoch = uint64_t(passes / passes_per_epoch_);
    state_.batch_in_epoch = uint64_t(passes % passes_per_epoch_);
    cspnet::save_checkpoint(summary_.checkpoint_path, net_, *optimizer_, state_);
  }

  // Final weights and curves; the summary's figures.
  TrainSummary finish(double seconds, double train_seconds, int64_t session_steps) {
    if (rank_ == 0) {
      WeightsHeader header;
      header.seen = state_.seen;
      save_weights(net_, summary_.weights_path, header);
      std::vector<TrainingLogRow> rows = read_training_log(summary_.log_path);
      if (!rows.empty()) write_curves(summary_.plot_path, rows, net_.name() + "  (" + options_.out_dir + ")");
    }
    summary_.steps = int64_t(state_.step);
    summary_.ranks = ranks_;
    summary_.epochs = epoch();
    summary_.seconds = seconds;
    summary_.images_per_second = session_steps ? double(session_steps * batch_) / train_seconds : 0;
    summary_.data_wait_seconds = task_->data_wait_seconds();
    return summary_;
  }

  TrainingTask& task() { return *task_; }
  TrainSummary& summary() { return summary_; }
  int64_t step_count() const { return int64_t(state_.step); }
  int64_t total_steps() const { return total_steps_; }
  int batch() const { return batch_; }
  double epoch() const { return double(state_.seen) / double(task_->images_per_epoch()); }

 private:
  Network load_network() {
    check_net_overrides(options_);
    Network net = Network::from_cfg_file(options_.cfg);
    for (const auto& w : net.warnings()) out_ << "warning: " << w << '\n';
    return net;
  }

  void set_up_batches() {
    overrides_ = override_entries(options_.net_overrides, "--set");
    keys_ = std::make_unique<NetTrainingKeys>(config_, overrides_);
    batch_ = options_.batch > 0 ? options_.batch : config_.batch;
    subdivisions_ = options_.subdivisions > 0 ? options_.subdivisions : config_.subdivisions;
    if (batch_ % subdivisions_ != 0)
      throw Error(where_ + ": batch=" + std::to_string(batch_) + " is not a multiple of subdivisions=" +
                  std::to_string(subdivisions_));
    if (batch_ % (subdivisions_ * ranks_) != 0)
      throw Error(where_ + ": batch=" + std::to_string(batch_) + " is not a multiple of subdivisions=" +
                  std::to_string(subdivisions_) + " x " + std::to_string(ranks_) + " MPI ranks");
    mini_ = batch_ / (subdivisions_ * ranks_);
    net_.reshape(config_.width, config_.height, mini_);
  }

  void set_up_schedule() {
    total_steps_ = options_.max_batches > 0 ? options_.max_batches : keys_->options().get_int64("max_batches", 0);
    if (options_.epochs > 0) total_steps_ = (options_.epochs * passes_per_epoch_ + subdivisions_ - 1) / subdivisions_;
    if (total_steps_ <= 0) throw Error(where_ + ": no length given: set [net] max_batches, --max-batches or --epochs");
    // poly/cosine decay over the run actually made
    std::vector<CfgEntry> schedule_overrides = overrides_;
    const std::string length_origin = run_length_origin(options_);
    if (!length_origin.empty())
      schedule_overrides.insert(schedule_overrides.begin(),
                                CfgEntry{"max_batches", std::to_string(total_steps_), 0, length_origin});
    NetTrainingKeys schedule_keys(config_, schedule_overrides);
    schedule_ = std::make_unique<LrSchedule>(parse_lr_schedule(schedule_keys.options()));
    optimizer_ = std::make_unique<Optimizer>(parse_optimizer_config(keys_->options()));
  }

  void set_up_output() {
    std::error_code fs_error;
    std::filesystem::create_directories(options_.out_dir, fs_error);
    if (fs_error || !std::filesystem::is_directory(options_.out_dir))
      throw Error(options_.out_dir + ": cannot create the output folder" +
                  (fs_error ? ": " + fs_error.message() : std::string(": a file is in the way")));
    summary_.checkpoint_path = options_.out_dir + "/checkpoint.cspnet";
    summary_.weights_path = options_.out_dir + "/final.weights";
    summary_.log_path = options_.out_dir + "/log.csv";
    summary_.plot_path = options_.out_dir + "/curves.png";
    if (rank_ != 0) return;
    if (!options_.resume && !options_.exist_ok)
      for (const char* name : kRunFiles)
        if (std::filesystem::exists(options_.out_dir + "/" + name))
          throw Error(options_.out_dir + " already holds a training run (" + name +
                      "): continue it with --resume, overwrite it with --exist-ok, or choose another --out");
    // The class names travel with the weights: predict and eval read them back.
    std::string names;
    for (const std::string& name : task_->class_names()) names += name + "\n";
    write_file_atomically(options_.out_dir + "/names.txt", names);
  }

  // Where the run starts: a checkpoint (--resume), given weights, or random.
  void set_up_state() {
    state_.seed = options_.seed;
    state_.metadata = {{"cfg", options_.cfg}, {"data", options_.data}};
    if (options_.resume) {
      state_ = load_checkpoint(summary_.checkpoint_path, net_, *optimizer_);
      if (state_.seed != options_.seed)
        throw Error(summary_.checkpoint_path + ": the checkpoint was written with --seed " +
                    std::to_string(state_.seed) + ", not " + std::to_string(options_.seed) +
                    ": resume with the same seed");
      out_ << "resumed from " << summary_.checkpoint_path << " at step " << state_.step << '\n';
    } else if (!options_.weights.empty()) {
      // A file for the first layers only (a pretrained backbone, darknet's
      // partial) fills those; the rest start random, as in darknet.
      init_weights(net_, options_.seed);
      const int loaded = load_weights_prefix(net_, options_.weights);
      if (loaded < net_.size())
        out_ << options_.weights << ": loaded the first " << loaded << " of " << net_.size()
             << " layers; the others start from random values (seed " << options_.seed << ")\n";
    } else {
      init_weights(net_, options_.seed);
    }
  }

  // The training executor for the coming step's input size (multi-scale
  // training changes it between steps; parameters and their gradients live
  // in the layers, so recompiling loses nothing).
  void compile_for_step() {
    const auto [width, height] = task_->input_size(int64_t(state_.step));
    if (executor_ && width == net_.input_shape().w && height == net_.input_shape().h) return;
    executor_.reset();
    net_.reshape(width, height, mini_);
    TrainingOptions training;
    training.sync_batch_norm = options_.sync_batch_norm;
    executor_ = std::make_unique<TrainingExecutor>(net_, training);
    params_ = all_trainable_params(net_);
    buckets_.reset();
    if (ranks_ > 1 && options_.allreduce_bucket_mb > 0)
      buckets_ = std::make_unique<GradientBuckets>(net_, size_t(options_.allreduce_bucket_mb * 1e6));
  }

  void print_header() {
    // e.g. "937", "18.5", "12.33"
    std::string steps_per_epoch = format_text("%.2f", double(passes_per_epoch_) / subdivisions_);
    while (steps_per_epoch.back() == '0') steps_per_epoch.pop_back();
    if (steps_per_epoch.back() == '.') steps_per_epoch.pop_back();
    out_ << net_.name() << ": " << task_->describe() << "; batch " << batch_ << " (" << subdivisions_ << " x "
         << (ranks_ > 1 ? std::to_string(ranks_) + " ranks x " : std::string()) << mini_ << "), " << steps_per_epoch << " steps per epoch, " << total_steps_ << " steps, "
         << optimizer_kind_name(optimizer_->config().kind) << ", lr " << schedule_->learning_rate << " ("
         << lr_policy_name(schedule_->policy) << "), training memory "
         << format_text("%.1f MiB (unplanned %.1f MiB)", double(executor_->memory_bytes()) / (1 << 20),
                        double(executor_->unplanned_bytes()) / (1 << 20))
         << std::endl;  // visible at once in a log file
    if (options_.sync_batch_norm)
      out_ << (ranks_ > 1 ? "synchronized batch norm: statistics over all " + std::to_string(ranks_) + " ranks\n"
                          : std::string("--sync-bn: a single process; batch norm is over its whole batch anyway\n"));
  }

  int64_t epochs_after(int64_t steps) const { return steps * subdivisions_ / passes_per_epoch_; }

  const TrainOptions& options_;
  std::ostream& out_;
  const std::string& where_;
  Network net_;
  NetConfig config_;
  std::vector<CfgEntry> overrides_;          // --set, as entries that name it
  std::unique_ptr<NetTrainingKeys> keys_;     // [net] training keys with the overrides in front
  int batch_ = 1, subdivisions_ = 1, mini_ = 1;
  std::unique_ptr<TrainingTask> task_;
  int64_t passes_per_epoch_ = 1, total_steps_ = 0;
  std::unique_ptr<LrSchedule> schedule_;
  std::unique_ptr<Optimizer> optimizer_;
  TrainSummary summary_;
  TrainerState state_;
  std::unique_ptr<TrainingExecutor> executor_;
  std::unique_ptr<GradientBuckets> buckets_;  // several ranks, overlapped allreduce
  std::vector<TrainableParam> params_;
  std::unique_ptr<TrainingLog> log_;
  std::vector<std::pair<std::vector<float>*, std::vector<float>>> running_statistics_before_;
  int rank_ = world_rank(), ranks_ = world_size();
  std::vector<float> reduce_buffer_;
};

}  // namespace

namespace {

// A zoo model name instead of a cfg path: its cfg is written into the run
// folder (so the run keeps it, and predict/eval can use it) and trained.
TrainOptions with_cfg_file(TrainOptions options) {
  if (std::filesystem::exists(options.cfg)) return options;
  const auto& models = zoo_models();
  const bool backbone =
      std::any_of(models.begin(), models.end(), [&](const ZooModel& m) { return m.name == options.cfg; });
  if (!backbone && !is_detector_model(options.cfg))
    return options;  // not a zoo name either: the cfg reader says the file is missing
  std::filesystem::create_directories(options.out_dir);
  const std::string path = options.out_dir + "/" + options.cfg + ".cfg";
  if (backbone) {
    write_cfg_file(zoo_cfg(options.cfg), path);
  } else {
    const DetectorModel& model = detector_model(options.cfg);
    write_cfg_file(model.build(model.input).cfg(), path);
  }
  options.cfg = path;
  return options;
}

}  // namespace

TrainSummary run_training(const TrainOptions& given, std::ostream& given_out, const TaskFactory& make_task) {
  const TrainOptions options = with_cfg_file(given);
  // Ranks other than 0 train silently (rank 0 prints, logs and writes).
  std::ostream null_stream(nullptr);
  std::ostream& out = world_rank() == 0 ? given_out : null_stream;
  // Installed before the run prints its header: an interrupt from then on
  // stops after a step with a checkpoint, never kills the process.
  StopSignals stop;
  TrainingRun run(options, out, make_task);
  ProgressLine progress(options.progress_line && world_rank() == 0, options.log_seconds, out);
  const auto start = Clock::now();
  double train_seconds = 0;
  int64_t session_steps = 0;
  double interval_loss = 0;  // summed over the epoch's images so far
  int64_t interval_images = 0;
  double row_loss = 0;  // summed over the images since the last log row
  int64_t row_images = 0;
  while (!run.done()) {
    const auto step_start = Clock::now();
    const StepResult step = run.step();
    train_seconds += seconds_since(step_start);
    ++session_steps;
    interval_loss += step.loss * run.batch();
    interval_images += run.batch();
    row_loss += step.loss * run.batch();
    row_images += run.batch();

    const double rate = double(session_steps * run.batch()) / train_seconds;
    const double eta = double(run.total_steps() - run.step_count()) * train_seconds / double(session_steps);
    progress.update(format_text("epoch %.2f | step %lld/%lld | loss %.4f%s | lr %.4g | %.0f img/s | ETA %s",
                                run.epoch(), (long long)run.step_count(), (long long)run.total_steps(),
                                interval_loss / double(interval_images), run.task().interval_text().c_str(),
                                double(step.lr), rate, clock_text(eta).c_str()));
    const bool caller_stops =
        options.on_step && !options.on_step(StepReport{run.step_count(), run.total_steps(), run.epoch(), step.loss,
                                                       double(step.lr), rate});
    double stop_votes = stop.requested() || caller_stops ? 1 : 0;
    allreduce_sum(&stop_votes, 1);  // every rank stops after the same step
    if (stop_votes > 0) {
      run.save_checkpoint();
      progress.print(format_text("interrupted after step %lld: wrote %s; continue with --resume",
                                 (long long)run.step_count(), run.summary().checkpoint_path.c_str()));
      run.summary().interrupted = true;
      run.summary().steps = run.step_count();
      run.summary().epochs = run.epoch();
      return run.summary();
    }
    if (options.save_every > 0 && run.step_count() % options.save_every == 0 && !run.epoch_ended())
      run.save_checkpoint();
    TrainingLogRow row;
    row.epoch = run.epoch();
    row.lr = step.lr;
    row.train_loss = row_loss / double(row_images);
    row.images_per_second = rate;
    row.seconds = seconds_since(start);
    if (!run.epoch_ended()) {
      if (run.log_every() > 0 && run.step_count() % run.log_every() == 0) {
        run.log_row(row);
        row_loss = 0;
        row_images = 0;
      }
      continue;
    }
    const std::string train_text = run.task().take_interval(row);
    const std::string test = run.end_epoch(row);
    progress.print(format_text("epoch %.2f  step %lld  train loss %.4f%s  %s  %.0f img/s  %s elapsed", run.epoch(),
                               (long long)run.step_count(), interval_loss / double(interval_images),
                               train_text.c_str(), test.c_str(), rate, clock_text(row.seconds).c_str()));
    interval_loss = 0;
    interval_images = 0;
    row_loss = 0;
    row_images = 0;
  }
  return run.finish(seconds_since(start), train_seconds, session_steps);
}

}  // namespace cspnet
