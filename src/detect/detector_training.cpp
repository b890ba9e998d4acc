// Detector training: the detection TrainingTask (src/train/training_run.hpp)
// — batches of augmented images with their boxes from a DetectionSource,
// multi-scale input sizes, [yolo] losses, and mAP at epoch ends.
#include <algorithm>
#include <filesystem>

#include "cspnet/detection_augment.hpp"
#include "cspnet/detection_data.hpp"
#include "cspnet/detector.hpp"
#include "cspnet/distributed.hpp"
#include "cspnet/error.hpp"
#include "cspnet/weights.hpp"
#include "train/data_random.hpp"
#include "train/epoch_orders.hpp"
#include "train/prefetch_pool.hpp"
#include "train/training_run.hpp"

namespace cspnet {
namespace {

// The key family of the detection augmentation draws under the seed.
constexpr uint64_t kDetectionAugmentFamily = 21;

// One pass's inputs: rows x C x H x W floats and each row's boxes.
struct DetectionBatch {
  std::vector<float> images;
  BoxLists boxes;
};

YoloAugmentKeys yolo_augment_keys(const YoloAttrs& yolo) {
  YoloAugmentKeys keys;
  keys.jitter = yolo.jitter;
  keys.resize = yolo.resize;
  keys.max_boxes = yolo.max_boxes;
  keys.random = yolo.random;
  return keys;
}


class DetectionTask final : public TrainingTask {
 public:
  explicit DetectionTask(const TaskSetup& setup)
      : options_(setup.options),
        mini_(setup.mini_batch),
        channels_(int(setup.net.config().channels)),
        base_width_(setup.net.config().width),
        base_height_(setup.net.config().height),
        train_data_(make_detection_source(options_.data, true)),
        orders_(train_data_->size(), options_.seed, true) {
    const YoloAttrs& yolo = last_yolo(setup.net);
    if (int(train_data_->class_names().size()) > yolo.classes)
      throw Error(options_.cfg + ": its [yolo] layers detect " + std::to_string(yolo.classes) + " classes but " +
                  train_data_->describe() + " has " + std::to_string(train_data_->class_names().size()));
    augment_ = parse_detection_augment_options(setup.net_keys, yolo_augment_keys(yolo));
    schedule_.initial_width = base_width_;
    schedule_.initial_height = base_height_;
    schedule_.resize_step = augment_.resize_step;
    schedule_.random = augment_.yolo.random;
    schedule_.seed = options_.seed;
    shard_ = setup.shard;
    shards_ = setup.shards;
    passes_per_epoch_ = train_data_->size() / (int64_t(mini_) * shards_);
    if (options_.map) set_up_evaluation(setup.net);
  }

  std::string describe() const override { return train_data_->describe(); }
  std::vector<std::string> class_names() const override { return train_data_->class_names(); }
  int64_t images_per_epoch() const override { return train_data_->size(); }
  int64_t passes_per_epoch() const override { return passes_per_epoch_; }

  void start(int64_t epoch, int64_t pass, int64_t total_steps, int subdivisions) override {
    schedule_.max_batches = total_steps;
    subdivisions_ = subdivisions;
    if (!pool_)
      pool_ = std::make_unique<PrefetchPool<DetectionBatch>>(
          [this](int64_t ordinal) { return prepare(ordinal); }, options_.loader_threads, 0);
    pool_->seek(epoch * passes_per_epoch_ + pass);
  }

  std::pair<int, int> input_size(int64_t step) const override {
    const NetSize size = multiscale_size(schedule_, step);
    return {size.width, size.height};
  }

  TrainingPass next() override {
    batch_ = pool_->next(wait_seconds_, prepare_seconds_);
    return {batch_.images.data(), Targets{{}, {}, batch_.boxes}};
  }

  void observe(const LossResult& result, int) override {
    interval_.loss += result.loss;
    interval_.iou_sum += result.positive_iou;
    interval_.positives += result.positives;
    interval_.recall50 += double(result.recall50);
  }
  std::string interval_text() const override {
    return format_text(" | IoU %.2f | recall %.0f%%", interval_.mean_iou(), 100 * interval_.recall());
  }
  std::string take_interval(TrainingLogRow&) override {
    // Every rank's share of the interval (a collective: all ranks call it).
    double sums[3] = {interval_.iou_sum, interval_.recall50, double(interval_.positives)};
    allreduce_sum(sums, 3);
    interval_.iou_sum = sums[0];
    interval_.recall50 = sums[1];
    interval_.positives = int64_t(sums[2]);
    const std::string text = format_text(" avg IoU %.3f recall@.5 %.1f%%", interval_.mean_iou(), 100 * interval_.recall());
    interval_ = {};
    return text;
  }

  std::string evaluate(Network& trained, TrainingLogRow& row, TrainSummary& summary) override {
    if (!options_.map) return "(no --map: validation not scored)";
    copy_parameters(trained, eval_net_);
    evaluator_->reload_weights();
    DetectorEvalOptions eval;
    eval.limit = options_.eval_limit;
    eval.shard = shard_;  // each rank infers its share; rank 0 scores
    eval.shards = shards_;
    const DetectorEvaluation result = evaluate_detector(*evaluator_, eval_net_, *valid_data_, eval);
    if (shard_ != 0) return "";
    row.test_map50 = summary.test_map50 = result.darknet.map;
    row.test_map = summary.test_map = result.coco.stats[0];
    std::string text =
        format_text("mAP@0.5 %.2f%%  AP@[.5:.95] %.2f%%", 100 * result.darknet.map, 100 * result.coco.stats[0]);
    if (result.darknet.map > summary.best_map50) {
      summary.best_map50 = result.darknet.map;
      summary.best_weights_path = options_.out_dir + "/best.weights";
      save_weights(trained, summary.best_weights_path);
      text += " (best)";
    }
    return text;
  }

  double data_wait_seconds() const override { return wait_seconds_; }

 private:
  struct Interval {
    double loss = 0, iou_sum = 0, recall50 = 0;
    int64_t positives = 0;
    double mean_iou() const { return positives ? iou_sum / double(positives) : 0.0; }
    double recall() const { return positives ? recall50 / double(positives) : 0.0; }
  };

  // Pass `ordinal` of the run: its images in the epoch's order, each
  // augmented with draws keyed by (seed, epoch, position), at the size of
  // the step it belongs to.
  DetectionBatch prepare(int64_t ordinal) const {
    const int64_t epoch = ordinal / passes_per_epoch_, pass = ordinal % passes_per_epoch_;
    const auto [width, height] = input_size(ordinal / subdivisions_);
    const auto order = orders_.order(epoch);
    DetectionBatch batch;
    const int64_t per_image = int64_t(channels_) * width * height;
    batch.images.resize(size_t(per_image * mini_));
    batch.boxes.resize(size_t(mini_));
    using data_random::derive;
    const uint64_t epoch_key = derive(derive(options_.seed, kDetectionAugmentFamily), uint64_t(epoch));
    const SampleKind kind = batch_sample_kind(augment_, derive(epoch_key, uint64_t(~pass)));
    for (int r = 0; r < mini_; ++r) {
      const int64_t position = (pass * shards_ + shard_) * mini_ + r;
      const uint64_t key = derive(epoch_key, uint64_t(position));
      // Mosaic and mixup partners: other images drawn from the same key.
      std::vector<AugmentInput> sources;
      data_random::Stream partners(derive(key, 1));
      for (int s = 0; s < sources_needed(kind); ++s) {
        const int64_t index = s == 0 ? (*order)[size_t(position)]
                                     : int64_t(partners.below(uint64_t(train_data_->size())));
        sources.push_back({load_image(index), train_data_->boxes(index)});
      }
      AugmentedSample sample = augment_detection(sources, kind, augment_, width, height, channels_, derive(key, 2));
      std::copy(sample.image.values().begin(), sample.image.values().end(), batch.images.data() + r * per_image);
      batch.boxes[size_t(r)] = std::move(sample.boxes);
    }
    return batch;
  }

  Tensor load_image(int64_t index) const {
    try {
      return train_data_->load(index);
    } catch (const Error& error) {
      throw Error(std::string(error.what()) + " (training image " + std::to_string(index) + ")");
    }
  }

  // The validation network at the evaluation batch and cfg size, compiled
  // once; evaluate() copies the trained parameters in.
  void set_up_evaluation(Network& trained) {
    valid_data_ = make_detection_source(options_.data, false);
    ParseOptions parse;
    const int64_t images = options_.eval_limit > 0 ? std::min(options_.eval_limit, valid_data_->size()) : valid_data_->size();
    parse.batch = int(std::clamp<int64_t>(std::min<int64_t>(options_.eval_batch, 16), 1, std::max<int64_t>(images, 1)));
    eval_net_ = Network::from_cfg_file(options_.cfg, parse);
    copy_parameters(trained, eval_net_);
    evaluator_ = std::make_unique<Executor>(eval_net_);
  }

  const TrainOptions& options_;
  int mini_, channels_, base_width_, base_height_;
  std::shared_ptr<const DetectionSource> train_data_, valid_data_;
  mutable EpochOrders orders_;
  DetectionAugmentOptions augment_;
  MultiScaleSchedule schedule_;
  int64_t passes_per_epoch_ = 0;
  int subdivisions_ = 1, shard_ = 0, shards_ = 1;
  std::unique_ptr<PrefetchPool<DetectionBatch>> pool_;
  DetectionBatch batch_;
  double wait_seconds_ = 0, prepare_seconds_ = 0;
  Interval interval_;
  Network eval_net_;
  std::unique_ptr<Executor> evaluator_;
};

}  // namespace

TrainSummary train_detector(const TrainOptions& options, std::ostream& out) {
  return run_training(options, out, [](const TaskSetup& setup) { return std::make_unique<DetectionTask>(setup); });
}

}  // namespace cspnet
