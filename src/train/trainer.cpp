#include "cspnet/trainer.hpp"

#include <algorithm>
#include <cmath>

#include "cspnet/augment.hpp"
#include "cspnet/batch_loader.hpp"
#include "cspnet/data_source.hpp"
#include "cspnet/distributed.hpp"
#include "cspnet/error.hpp"
#include "cspnet/executor.hpp"
#include "cspnet/training.hpp"
#include "train/training_run.hpp"

namespace cspnet {

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

namespace {

// Images [first, last) of another source (a rank's share of an evaluation).
class SourceRange final : public DataSource {
 public:
  SourceRange(const DataSource& source, int64_t first, int64_t last)
      : DataSource(source.class_names(), int(source.image_shape().c), int(source.image_shape().h),
                   int(source.image_shape().w)),
        source_(source), first_(first), size_(last - first) {}
  int64_t size() const override { return size_; }
  int label(int64_t index) const override {
    check_index(index);
    return source_.label(first_ + index);
  }
  void load(int64_t index, float* chw_out, int* label) const override {
    check_index(index);
    source_.load(first_ + index, chw_out, label);
  }
  std::string describe() const override { return source_.describe(); }

 private:
  const DataSource& source_;
  int64_t first_, size_;
};

// Evaluation on an executor already compiled for `net` at its current batch.
EvalReport evaluate_compiled(Executor& executor, const Network& net, const DataSource& source, int64_t total) {
  const int batch = net.batch();
  const int logits = logits_layer(net);
  const int last = net.output_layers().back();
  const bool probabilities = logits != last;  // the network ends in its own softmax
  const int64_t outputs = net.layer(last).output_shape().per_image();
  const int classes = source.classes();
  if (outputs < classes)
    throw Error(net.name() + ": the network has " + std::to_string(outputs) + " outputs but the data set has " +
                std::to_string(classes) + " classes");
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

// How many images an evaluation covers: the set, or its first `limit`.
int64_t evaluated_images(const DataSource& source, int64_t limit) {
  const int64_t total = limit > 0 ? std::min(limit, source.size()) : source.size();
  if (total <= 0) throw Error("evaluate: the data set is empty");
  return total;
}

}  // namespace

EvalReport evaluate(Network& net, const DataSource& source, int batch, int64_t limit, const ExecOptions& options) {
  const int64_t total = evaluated_images(source, limit);
  net.reshape(net.config().width, net.config().height, int(std::min<int64_t>(std::max(batch, 1), total)));
  Executor executor(net, options);
  return evaluate_compiled(executor, net, source, total);
}

namespace {

float parse_label_smoothing(Options& net) {
  const double eps = net.get_double("label_smooth_eps", 0.0);
  if (!(eps >= 0 && eps < 1)) net.fail("label_smooth_eps", "a number in [0, 1)");
  return float(eps);
}

// Classification: batches from the loader (augmented, smoothed, mixed),
// softmax cross-entropy, top-1 accuracy; evaluated on the test split by a
// second network at the evaluation batch, compiled once, that reloads the
// trained weights at every evaluation.
class ClassificationTask final : public TrainingTask {
 public:
  explicit ClassificationTask(const TaskSetup& setup)
      : options_(setup.options), width_(setup.net.config().width), height_(setup.net.config().height) {
    const NetConfig& config = setup.net.config();
    train_data_ = make_data_source(options_.data, true, config.channels, config.height, config.width);
    test_data_ = make_data_source(options_.data, false, config.channels, config.height, config.width);
    const int64_t outputs = setup.net.layer(logits_layer(setup.net)).output_shape().per_image();
    if (outputs < train_data_->classes())
      throw Error(options_.cfg + ": the network has " + std::to_string(outputs) + " outputs but " +
                  train_data_->describe() + " has " + std::to_string(train_data_->classes()) + " classes");
    BatchLoaderOptions lo;
    lo.batch = setup.mini_batch;
    lo.classes = int(outputs);
    lo.augment = parse_augment_options(setup.net_keys);
    lo.label_smooth_eps = parse_label_smoothing(setup.net_keys);
    lo.seed = options_.seed;
    lo.threads = options_.loader_threads;
    lo.shard = shard_ = setup.shard;
    lo.shards = shards_ = setup.shards;
    loader_ = std::make_unique<BatchLoader>(train_data_, lo);
    set_up_evaluation(setup.net);
  }

  std::string describe() const override { return train_data_->describe(); }
  std::vector<std::string> class_names() const override { return train_data_->class_names(); }
  int64_t images_per_epoch() const override { return train_data_->size(); }
  // An epoch is the loader's: passes_per_epoch mini-batches, which need not
  // be a whole number of steps (a step is `subdivisions` passes). A step
  // that crosses into a new epoch ends the old one (evaluation, checkpoint).
  int64_t passes_per_epoch() const override { return loader_->batches_per_epoch(); }
  void start(int64_t epoch, int64_t pass, int64_t, int) override { loader_->seek(epoch, pass); }
  std::pair<int, int> input_size(int64_t) const override { return {width_, height_}; }

  TrainingPass next() override {
    batch_ = loader_->next();
    return {batch_.images.data(), Targets{batch_.targets, batch_.labels, {}}};
  }

  void observe(const LossResult& result, int rows) override {
    correct_ += result.correct;
    images_ += rows;
  }
  std::string interval_text() const override { return format_text(" | acc %.1f%%", 100 * accuracy()); }
  std::string take_interval(TrainingLogRow& row) override {
    // Every rank's share of the interval (a collective: all ranks call it).
    double counts[2] = {double(correct_), double(images_)};
    allreduce_sum(counts, 2);
    correct_ = int64_t(counts[0]);
    images_ = int64_t(counts[1]);
    row.train_accuracy = accuracy();
    correct_ = images_ = 0;
    return format_text(" acc %.2f%%", 100 * *row.train_accuracy);
  }

  std::string evaluate(Network& trained, TrainingLogRow& row, TrainSummary& summary) override {
    copy_parameters(trained, eval_net_);
    evaluator_->reload_weights();
    // Each rank evaluates its share of the test images; the sums are reduced.
    const auto [first, last] = shard_range(eval_images_, shard_, shards_);
    EvalReport test;
    if (last > first) test = evaluate_compiled(*evaluator_, eval_net_, SourceRange(*test_data_, first, last), last - first);
    double sums[3] = {test.loss * double(test.images), test.top1 * double(test.images), double(test.images)};
    allreduce_sum(sums, 3);
    test.loss = sums[0] / sums[2];
    test.top1 = sums[1] / sums[2];
    row.test_loss = summary.test_loss = test.loss;
    row.test_accuracy = summary.test_top1 = test.top1;
    return format_text("test loss %.4f acc %.2f%%", test.loss, 100 * test.top1);
  }

  double data_wait_seconds() const override { return loader_->stats().wait_seconds; }

 private:
  double accuracy() const { return images_ ? double(correct_) / double(images_) : 0.0; }

  // A second network at the evaluation batch with its executor, compiled
  // once; evaluate() copies the trained parameters in and reloads them.
  void set_up_evaluation(Network& trained) {
    eval_images_ = evaluated_images(*test_data_, options_.eval_limit);
    ParseOptions parse;
    parse.batch = int(std::min<int64_t>(std::max(options_.eval_batch, 1), eval_images_));
    eval_net_ = Network::from_cfg_file(options_.cfg, parse);
    copy_parameters(trained, eval_net_);
    evaluator_ = std::make_unique<Executor>(eval_net_);
  }

  const TrainOptions& options_;
  int width_, height_;
  std::shared_ptr<const DataSource> train_data_, test_data_;
  std::unique_ptr<BatchLoader> loader_;
  Batch batch_;
  int64_t correct_ = 0, images_ = 0;
  Network eval_net_;
  std::unique_ptr<Executor> evaluator_;
  int64_t eval_images_ = 0;
  int shard_ = 0, shards_ = 1;
};

}  // namespace

TrainSummary train(const TrainOptions& options, std::ostream& out) {
  return run_training(options, out,
                      [](const TaskSetup& setup) { return std::make_unique<ClassificationTask>(setup); });
}

}  // namespace cspnet
