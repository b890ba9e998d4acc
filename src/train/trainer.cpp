#include "cspnet/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cspnet/augment.hpp"
#include "cspnet/batch_loader.hpp"
#include "cspnet/checkpoint.hpp"
#include "cspnet/data_source.hpp"
#include "cspnet/error.hpp"
#include "cspnet/executor.hpp"
#include "cspnet/lr_schedule.hpp"
#include "cspnet/optimizer.hpp"
#include "cspnet/training.hpp"
#include "cspnet/training_log.hpp"
#include "cspnet/weights.hpp"
#include "core/splitmix.hpp"
#include "io/file_output.hpp"
#include "train/net_training_keys.hpp"

namespace cspnet {
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
  char text[32];
  if (s >= 3600)
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60),
                  (long long)(s % 60));
  else
    std::snprintf(text, sizeof text, "%lld:%02lld", (long long)(s / 60), (long long)(s % 60));
  return text;
}

float parse_label_smoothing(Options& net) {
  const double eps = net.get_double("label_smooth_eps", 0.0);
  if (!(eps >= 0 && eps < 1)) net.fail("label_smooth_eps", "a number in [0, 1)");
  return float(eps);
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

// The progress display: one redrawn line on a terminal, plain lines at most
// every `log_seconds` otherwise.
class Progress {
 public:
  Progress(std::ostream& out, bool redraw, double log_seconds)
      : out_(out), redraw_(redraw), log_seconds_(log_seconds) {}

  void update(const std::string& line, bool force = false) {
    const double now = seconds_since(start_);
    if (redraw_) {
      if (!force && now - last_ < 0.25) return;
      out_ << '\r' << line << "\x1b[K" << std::flush;
      dirty_ = true;
    } else {
      if (!force && now - last_ < log_seconds_) return;
      out_ << line << '\n' << std::flush;
    }
    last_ = now;
  }
  // A line that stays (epoch summaries), below any redrawn progress line.
  void print(const std::string& line) {
    if (dirty_) out_ << '\r' << "\x1b[K";
    dirty_ = false;
    out_ << line << '\n' << std::flush;
  }

 private:
  std::ostream& out_;
  bool redraw_;
  double log_seconds_;
  Clock::time_point start_ = Clock::now();
  double last_ = -1e9;
  bool dirty_ = false;
};

std::string format(const char* fmt, auto... args) {
  char text[512];
  std::snprintf(text, sizeof text, fmt, args...);
  return text;
}

}  // namespace

void copy_parameters(Network& from, Network& to) {
  if (from.size() != to.size()) throw Error("copy_parameters: networks of different sizes");
  for (int i = 0; i < from.size(); ++i) {
    auto source = from.layer(i).darknet_params();
    auto target = to.layer(i).darknet_params();
    if (source.size() != target.size()) throw Error(to.layer(i).where() + ": parameter arrays differ from the source");
    for (size_t j = 0; j < source.size(); ++j) {
      if (source[j].values->size() != target[j].values->size())
        throw Error(to.layer(i).where() + ": " + source[j].name + " sizes differ from the source");
      *target[j].values = *source[j].values;
    }
  }
}

std::vector<double> EvalReport::class_accuracy() const {
  std::vector<double> accuracy;
  for (size_t c = 0; c < confusion.size(); ++c) {
    const int64_t images = class_images.at(c);
    accuracy.push_back(images ? double(confusion[c][c]) / double(images) : 0.0);
  }
  return accuracy;
}

EvalReport evaluate(Network& net, const DataSource& source, int batch, int64_t limit, const ExecOptions& options) {
  const int64_t total = limit > 0 ? std::min(limit, source.size()) : source.size();
  if (total <= 0) throw Error("evaluate: the data set is empty");
  batch = int(std::min<int64_t>(std::max(batch, 1), total));
  net.reshape(net.config().width, net.config().height, batch);
  const int logits = logits_layer(net);
  const int last = net.output_layers().back();
  const bool probabilities = logits != last;  // the network ends in its own softmax
  const int64_t outputs = net.layer(last).output_shape().per_image();
  const int classes = source.classes();
  if (outputs < classes)
    throw Error(net.name() + ": the network has " + std::to_string(outputs) + " outputs but the data set has " +
                std::to_string(classes) + " classes");
  Executor executor(net, options);
  BatchLoaderOptions lo;
  lo.batch = batch;
  lo.classes = int(outputs);
  lo.shuffle = false;
  lo.drop_last = false;
  BatchLoader loader(std::shared_ptr<const DataSource>(&source, [](const DataSource*) {}), lo);

  EvalReport report;
  report.class_names = source.class_names();
  report.confusion.assign(size_t(classes), std::vector<int64_t>(size_t(classes), 0));
  report.class_images.assign(size_t(classes), 0);
  Tensor input(net.input_shape());
  std::vector<double> p(static_cast<size_t>(outputs));
  int64_t top1 = 0, top5 = 0;
  double loss = 0;
  while (report.images < total) {
    Batch b = loader.next();
    const int64_t rows = std::min<int64_t>(b.rows(), total - report.images);
    std::fill(input.values().begin(), input.values().end(), 0.f);
    std::copy(b.images.data(), b.images.data() + b.images.size(), input.data());
    const Tensor out = executor.forward(input).back();
    for (int64_t n = 0; n < rows; ++n) {
      const float* row = out.data() + n * outputs;
      const double largest = *std::max_element(row, row + outputs);
      double sum = 0;
      for (int64_t j = 0; j < outputs; ++j) sum += p[size_t(j)] = probabilities ? row[j] : std::exp(row[j] - largest);
      for (double& v : p) v /= sum;
      const int label = b.labels[size_t(n)];
      loss -= std::log(std::max(p[size_t(label)], 1e-30));
      const int64_t predicted = std::max_element(p.begin(), p.end()) - p.begin();
      int64_t better = 0;
      for (double v : p) better += v > p[size_t(label)];
      report.predictions.push_back(int(predicted));
      top1 += predicted == label;
      top5 += better < 5;
      if (predicted < classes) ++report.confusion[size_t(label)][size_t(predicted)];
      ++report.class_images[size_t(label)];
    }
    report.images += rows;
  }
  report.loss = loss / double(report.images);
  report.top1 = double(top1) / double(report.images);
  report.top5 = double(top5) / double(report.images);
  return report;
}

TrainSummary train(const TrainOptions& options, std::ostream& out) {
  const std::string& where = options.cfg;
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
  Network net = Network::from_cfg_file(options.cfg);
  for (const auto& w : net.warnings()) out << "warning: " << w << '\n';
  NetConfig config = net.config();
  std::vector<CfgEntry> overrides = override_entries(options.net_overrides, "--set");
  NetTrainingKeys keys(config, overrides);
  const int batch = options.batch > 0 ? options.batch : config.batch;
  const int subdivisions = options.subdivisions > 0 ? options.subdivisions : config.subdivisions;
  if (batch % subdivisions != 0)
    throw Error(where + ": batch=" + std::to_string(batch) + " is not a multiple of subdivisions=" +
                std::to_string(subdivisions));
  const int mini = batch / subdivisions;
  net.reshape(config.width, config.height, mini);

  std::shared_ptr<const DataSource> train_data =
      make_data_source(options.data, true, config.channels, config.height, config.width);
  std::shared_ptr<const DataSource> test_data =
      make_data_source(options.data, false, config.channels, config.height, config.width);
  const int logits = logits_layer(net);
  const int64_t outputs = net.layer(logits).output_shape().per_image();
  if (outputs < train_data->classes())
    throw Error(where + ": the network has " + std::to_string(outputs) + " outputs but " + train_data->describe() +
                " has " + std::to_string(train_data->classes()) + " classes");

  BatchLoaderOptions lo;
  lo.batch = mini;
  lo.classes = int(outputs);
  lo.augment = parse_augment_options(keys.options());
  lo.label_smooth_eps = parse_label_smoothing(keys.options());
  lo.seed = options.seed;
  lo.threads = options.loader_threads;
  BatchLoader loader(train_data, lo);
  // An epoch is the loader's: passes_per_epoch mini-batches, which need not
  // be a whole number of steps (a step is `subdivisions` passes). A step
  // that crosses into a new epoch ends the old one (evaluation, checkpoint).
  const int64_t passes_per_epoch = loader.batches_per_epoch();
  if (passes_per_epoch < subdivisions)
    throw Error(train_data->describe() + ": fewer images than one batch of " + std::to_string(batch));
  auto epochs_after = [&](int64_t steps) { return steps * subdivisions / passes_per_epoch; };

  int64_t total_steps =
      options.max_batches > 0 ? options.max_batches : keys.options().get_int64("max_batches", 0);
  if (options.epochs > 0) total_steps = (options.epochs * passes_per_epoch + subdivisions - 1) / subdivisions;
  if (total_steps <= 0) throw Error(where + ": no length given: set [net] max_batches, --max-batches or --epochs");
  // poly/cosine decay over the run actually made
  const std::string length_origin = run_length_origin(options);
  if (!length_origin.empty())
    overrides.insert(overrides.begin(), CfgEntry{"max_batches", std::to_string(total_steps), 0, length_origin});
  NetTrainingKeys schedule_keys(config, overrides);
  const LrSchedule schedule = parse_lr_schedule(schedule_keys.options());
  Optimizer optimizer(parse_optimizer_config(keys.options()));

  std::error_code fs_error;
  std::filesystem::create_directories(options.out_dir, fs_error);
  if (fs_error || !std::filesystem::is_directory(options.out_dir))
    throw Error(options.out_dir + ": cannot create the output folder" +
                (fs_error ? ": " + fs_error.message() : std::string(": a file is in the way")));
  TrainSummary summary;
  summary.checkpoint_path = options.out_dir + "/checkpoint.cspnet";
  summary.weights_path = options.out_dir + "/final.weights";
  summary.log_path = options.out_dir + "/log.csv";
  summary.plot_path = options.out_dir + "/curves.png";

  TrainerState state;
  state.seed = options.seed;
  state.metadata = {{"cfg", options.cfg}, {"data", options.data}};
  if (options.resume) {
    state = load_checkpoint(summary.checkpoint_path, net, optimizer);
    if (state.seed != options.seed)
      throw Error(summary.checkpoint_path + ": the checkpoint was written with --seed " + std::to_string(state.seed) +
                  ", not " + std::to_string(options.seed) + ": resume with the same seed");
    out << "resumed from " << summary.checkpoint_path << " at step " << state.step << '\n';
  } else if (!options.weights.empty()) {
    load_weights(net, options.weights);
  } else {
    init_weights(net, options.seed);
  }
  TrainingExecutor executor(net);
  Network eval_net = Network::from_cfg_file(options.cfg);
  std::vector<TrainableParam> params = all_trainable_params(net);
  if (options.resume) optimizer.set_state(optimizer.state(), params);  // its sizes against these parameters
  if (options.resume) keep_logged_steps_up_to(summary.log_path, int64_t(state.step));
  TrainingLog log(summary.log_path, options.resume);

  // e.g. "937", "18.5", "12.33"
  std::string steps_per_epoch = format("%.2f", double(passes_per_epoch) / subdivisions);
  while (steps_per_epoch.back() == '0') steps_per_epoch.pop_back();
  if (steps_per_epoch.back() == '.') steps_per_epoch.pop_back();
  out << net.name() << ": " << train_data->describe() << "; batch " << batch << " (" << subdivisions
      << " x " << mini << "), " << steps_per_epoch << " steps per epoch, " << total_steps << " steps, "
      << optimizer_kind_name(optimizer.config().kind) << ", lr " << schedule.learning_rate << " ("
      << lr_policy_name(schedule.policy) << "), training memory "
      << format("%.1f MiB (unplanned %.1f MiB)", double(executor.memory_bytes()) / (1 << 20),
                double(executor.unplanned_bytes()) / (1 << 20))
      << '\n';

  const int64_t passes_done = int64_t(state.step) * subdivisions;
  loader.seek(passes_done / passes_per_epoch, passes_done % passes_per_epoch);
  Progress progress(out, options.progress_line, options.log_seconds);
  const auto start = Clock::now();
  double train_seconds = 0;
  int64_t session_steps = 0;
  double interval_loss = 0;
  int64_t interval_correct = 0, interval_images = 0;
  const double train_size = double(train_data->size());

  while (int64_t(state.step) < total_steps) {
    const auto step_start = Clock::now();
    executor.zero_gradients();
    double step_loss = 0;
    int64_t step_correct = 0;
    for (int s = 0; s < subdivisions; ++s) {
      Batch b = loader.next();
      StepContext context{true, pass_seed(options.seed, state.step * uint64_t(subdivisions) + uint64_t(s))};
      executor.forward(b.images.data(), context);
      LossResult r = executor.loss({b.targets, b.labels}, 1.f / float(batch));
      step_loss += r.loss * mini;
      step_correct += r.correct;
      executor.backward();
    }
    if (!std::isfinite(step_loss))
      throw Error(where + ": the loss became " + std::to_string(step_loss) + " at step " + std::to_string(state.step) +
                  ": lower the learning rate (learning_rate / --lr) or add burn_in");
    const float lr = schedule.rate_at(state.step);
    optimizer.step(params, lr);
    ++state.step;
    state.seen += uint64_t(batch);
    train_seconds += seconds_since(step_start);
    ++session_steps;
    interval_loss += step_loss;
    interval_correct += step_correct;
    interval_images += batch;

    const double rate = double(session_steps * batch) / train_seconds;
    const double eta = double(total_steps - int64_t(state.step)) * train_seconds / double(session_steps);
    const double epoch = double(state.seen) / train_size;
    progress.update(format("epoch %.2f | step %lld/%lld | loss %.4f | acc %.1f%% | lr %.4g | %.0f img/s | ETA %s",
                           epoch, (long long)state.step, (long long)total_steps, interval_loss / double(interval_images),
                           100.0 * double(interval_correct) / double(interval_images), double(lr), rate,
                           clock_text(eta).c_str()));

    const bool epoch_end = epochs_after(int64_t(state.step)) > epochs_after(int64_t(state.step) - 1);
    if (epoch_end || int64_t(state.step) == total_steps) {
      copy_parameters(net, eval_net);
      EvalReport test = evaluate(eval_net, *test_data, options.eval_batch, options.eval_limit);
      TrainingLogRow row;
      row.epoch = epoch;
      row.step = int64_t(state.step);
      row.images = int64_t(state.seen);
      row.lr = lr;
      row.train_loss = interval_loss / double(interval_images);
      row.train_accuracy = double(interval_correct) / double(interval_images);
      row.test_loss = test.loss;
      row.test_accuracy = test.top1;
      row.images_per_second = rate;
      row.seconds = seconds_since(start);
      log.write(row);
      const int64_t passes = int64_t(state.step) * subdivisions;
      state.epoch = uint64_t(passes / passes_per_epoch);
      state.batch_in_epoch = uint64_t(passes % passes_per_epoch);
      save_checkpoint(summary.checkpoint_path, net, optimizer, state);
      progress.print(format("epoch %.2f  step %lld  train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%  "
                            "%.0f img/s  %s elapsed",
                            epoch, (long long)state.step, *row.train_loss, 100 * *row.train_accuracy, test.loss,
                            100 * test.top1, rate, clock_text(row.seconds).c_str()));
      summary.test_loss = test.loss;
      summary.test_top1 = test.top1;
      interval_loss = 0;
      interval_correct = interval_images = 0;
    }
  }

  WeightsHeader header;
  header.seen = state.seen;
  save_weights(net, summary.weights_path, header);
  std::vector<TrainingLogRow> rows = read_training_log(summary.log_path);
  if (!rows.empty()) write_curves_png(summary.plot_path, rows);
  summary.steps = int64_t(state.step);
  summary.epochs = double(state.seen) / train_size;
  summary.seconds = seconds_since(start);
  summary.images_per_second = session_steps ? double(session_steps * batch) / train_seconds : 0;
  summary.data_wait_seconds = loader.stats().wait_seconds;
  return summary;
}

}  // namespace cspnet
