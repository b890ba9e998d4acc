// [yolo] as a loss layer: the IoU-loss gradients against finite
// differences, the NaN guard, the training keys' parsing, and a tiny
// detector that learns. The float64 oracle of every delta is
// tests/oracle/test_yolo_loss_oracle.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "cspnet/cfg.hpp"
#include "cspnet/cspnet.hpp"
#include "cspnet/error.hpp"
#include "cspnet/optimizer.hpp"
#include "cspnet/training.hpp"
#include "cspnet/weights.hpp"
#include "unit/gradient_check.hpp"
#include "unit/test_helpers.hpp"
#include "train/box_overlap.hpp"
#include "train/yolo_loss.hpp"

namespace cspnet {
namespace {

// Central differences of the measure in double; CIoU's alpha frozen at the
// point, as its gradient treats it.
std::array<double, 4> numeric_gradient(const BoxD& pred, const BoxD& truth, IouKind kind) {
  double alpha = -1;
  if (kind == IouKind::ciou) {
    const double iou = box_overlap(pred, truth, IouKind::iou);
    const double k = 4 / (std::numbers::pi * std::numbers::pi), d = std::atan(truth.w / truth.h) - std::atan(pred.w / pred.h);
    const double v = k * d * d;
    alpha = v > 0 ? v / (1 - iou + v) : 0;
  }
  std::array<double, 4> grad{};
  const double step = 1e-6;
  for (int e = 0; e < 4; ++e) {
    BoxD up = pred, down = pred;
    (&up.x)[e] += step;
    (&down.x)[e] -= step;
    grad[size_t(e)] = (box_overlap(up, truth, kind, alpha) - box_overlap(down, truth, kind, alpha)) / (2 * step);
  }
  return grad;
}

TEST(YoloLoss, IouLossGradientsMatchFiniteDifferencesOfTheMeasuresInDouble) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> centre(0.2, 0.8), size(0.05, 0.5);
  int overlapping = 0, disjoint = 0;
  for (IouKind kind : {IouKind::iou, IouKind::giou, IouKind::diou, IouKind::ciou})
    for (int trial = 0; trial < 200; ++trial) {
      const BoxD pred{centre(rng), centre(rng), size(rng), size(rng)};
      const BoxD truth{centre(rng), centre(rng), size(rng), size(rng)};
      const bool overlaps = box_overlap(pred, truth, IouKind::iou) > 0;
      (overlaps ? overlapping : disjoint)++;
      const auto analytic = box_overlap_gradient(pred, truth, kind);
      const auto numeric = numeric_gradient(pred, truth, kind);
      for (size_t e = 0; e < 4; ++e)
        EXPECT_NEAR(analytic[e], numeric[e], 1e-6 * std::max(1.0, std::fabs(numeric[e])))
            << "kind " << int(kind) << " trial " << trial << " element " << e;
      if (kind != IouKind::iou || overlaps) {
        double norm = 0;
        for (double g : analytic) norm += std::fabs(g);
        EXPECT_GT(norm, 0) << "kind " << int(kind) << " trial " << trial;  // the check compares something
      }
    }
  EXPECT_GT(overlapping, 100);
  EXPECT_GT(disjoint, 100);
}

TEST(YoloLoss, IouMeasureAgreesWithBoxIouAndOrdersTheVariants) {
  const BoxD a{0.5, 0.5, 0.4, 0.2}, b{0.6, 0.45, 0.3, 0.3};
  const ObjectBox fa{0.5f, 0.5f, 0.4f, 0.2f}, fb{0.6f, 0.45f, 0.3f, 0.3f};
  const double iou = box_overlap(a, b, IouKind::iou);
  EXPECT_NEAR(iou, box_iou(fa, fb), 1e-6);
  EXPECT_GT(iou, 0.2);
  // each variant subtracts a non-negative penalty from the one before
  EXPECT_LT(box_overlap(a, b, IouKind::giou), iou);
  EXPECT_LT(box_overlap(a, b, IouKind::diou), iou);
  EXPECT_LT(box_overlap(a, b, IouKind::ciou), box_overlap(a, b, IouKind::diou));
  EXPECT_NEAR(box_overlap(a, a, IouKind::ciou), 1.0, 1e-12);
}

YoloAttrs two_class_head() {
  YoloAttrs a;
  a.classes = 2;
  a.num = 2;
  a.mask = {0, 1};
  a.anchors = {8, 8, 16, 24};
  return a;
}

TEST(YoloLoss, NanPredictionThrowsNamingTheLayerAndTheTerm) {
  const YoloAttrs a = two_class_head();
  const Shape shape{1, 14, 4, 4};
  std::vector<float> output(size_t(shape.count()), 0.3f);
  output[size_t(4 * 16 + 5)] = std::nanf("");  // anchor 0's objectness at one cell
  const std::vector<std::vector<ObjectBox>> truths{{ObjectBox{0.3f, 0.3f, 0.2f, 0.3f, 1}}};
  std::vector<double> delta;
  tests::expect_error_mentioning([&] { yolo_deltas(YoloHead{a, shape, 32, 32, "layer 139 [yolo]"}, output.data(), truths, delta); },
                          {"layer 139 [yolo]: objectness loss is NaN"});
}

TEST(YoloLoss, NanInputThroughTheExecutorThrowsNamingTheYoloLayer) {
  Network net = Network::from_cfg(parse_cfg_text(R"([net]
width=16
height=16
channels=3
batch=1
[convolutional]
filters=14
size=1
activation=linear
[yolo]
mask=0,1
anchors=8,8,16,24
num=2
classes=2
)", "nan.cfg"));
  net.reshape(16, 16, 1);
  init_weights(net, 1);
  TrainingExecutor executor(net);
  Tensor input = tests::random_input(net.input_shape(), 3);
  input.data()[5] = std::nanf("");
  executor.forward(input.data(), StepContext{});
  const std::vector<std::vector<ObjectBox>> truths{{ObjectBox{0.5f, 0.5f, 0.5f, 0.5f, 0}}};
  tests::expect_error_mentioning([&] { executor.loss(Targets{{}, {}, truths}, 1.f); },
                                 {"layer 1 [yolo]: ", " loss is NaN"});
}

TEST(YoloLoss, TruthsWithClassOutOfRangeAreSkippedAndCounted) {
  const YoloAttrs a = two_class_head();
  const Shape shape{1, 14, 4, 4};
  std::vector<float> output(size_t(shape.count()), 0.1f);
  std::vector<double> delta;
  const std::vector<std::vector<ObjectBox>> bad{{ObjectBox{0.3f, 0.3f, 0.2f, 0.3f, 2}}};
  const LossResult skipped = yolo_deltas(YoloHead{a, shape, 32, 32, "h"}, output.data(), bad, delta);
  EXPECT_EQ(skipped.skipped_truths, 1);
  EXPECT_EQ(skipped.positives, 0);
  const std::vector<std::vector<ObjectBox>> good{{ObjectBox{0.3f, 0.3f, 0.2f, 0.3f, 1}}};
  const LossResult trained = yolo_deltas(YoloHead{a, shape, 32, 32, "h"}, output.data(), good, delta);
  EXPECT_EQ(trained.skipped_truths, 0);
  EXPECT_EQ(trained.positives, 1);
  EXPECT_GT(trained.box_loss, 0);
  EXPECT_NEAR(trained.loss, trained.box_loss + trained.objectness_loss + trained.class_loss, 1e-12);
}

const char* kHeadNet = R"([net]
width=32
height=32
channels=3
batch=2
[convolutional]
filters=14
size=1
activation=linear
[yolo]
mask=0,1
anchors=8,8,16,24
num=2
classes=2
)";

Network head_net(const std::string& extra) {
  return Network::from_cfg(parse_cfg_text(std::string(kHeadNet) + extra, "bad.cfg"));
}

TEST(YoloParse, BadTrainingKeysAreNamedErrors) {
  tests::expect_error_mentioning([] { head_net("iou_loss=fancy\n"); },
                          {"bad.cfg:", "[yolo] key 'iou_loss'", "one of mse, iou, giou, diou, ciou"});
  tests::expect_error_mentioning([] { head_net("iou_thresh_kind=mse\n"); }, {"key 'iou_thresh_kind'", "one of iou"});
  tests::expect_error_mentioning([] { head_net("ignore_thresh=1.5\n"); }, {"key 'ignore_thresh'", "[0,1]"});
  tests::expect_error_mentioning([] { head_net("counters_per_class=5\n"); }, {"key 'counters_per_class'", "2 counts"});
  tests::expect_error_mentioning([] { head_net("counters_per_class=5,0\n"); }, {"key 'counters_per_class'", "positive"});
  tests::expect_error_mentioning([] { head_net("max_delta=0\n"); }, {"key 'max_delta'", "positive"});
  tests::expect_error_mentioning([] { head_net("nms_kind=soft\n"); }, {"key 'nms_kind'", "greedynms"});
  tests::expect_error_mentioning([] { head_net("embedding_layer=2\n"); }, {"key 'embedding_layer'", "not supported"});
  tests::expect_error_mentioning([] { head_net("map=labels.map\n"); }, {"key 'map'", "not supported"});
}

TEST(YoloParse, TrainingKeysReadWithDarknetsDefaultsAndRoundTrip) {
  const Network defaults = head_net("");
  const auto& d = defaults.layer(1).attrs_as<YoloAttrs>();
  EXPECT_FLOAT_EQ(d.ignore_thresh, 0.5f);
  EXPECT_FLOAT_EQ(d.iou_normalizer, 0.75f);
  EXPECT_FLOAT_EQ(d.jitter, 0.2f);
  EXPECT_EQ(d.max_boxes, 200);
  EXPECT_TRUE(std::isinf(d.max_delta));
  const Network net = head_net(
      "ignore_thresh=.7\ntruth_thresh=.9\niou_thresh=0.213\niou_thresh_kind=ciou\niou_loss=giou\n"
      "iou_normalizer=0.07\nobj_normalizer=2\ncls_normalizer=0.5\ndelta_normalizer=0.9\nmax_delta=5\n"
      "label_smooth_eps=0.1\ncounters_per_class=10,40\nfocal_loss=1\nobjectness_smooth=1\nnms_kind=diounms\n"
      "beta_nms=0.5\njitter=.3\nresize=1.5\nrandom=1\nmax=90\nuc_normalizer=0.07\nbeta1=0.6\n");
  const auto& a = net.layer(1).attrs_as<YoloAttrs>();
  EXPECT_EQ(a.iou_loss, BoxLoss::giou);
  EXPECT_EQ(a.iou_thresh_kind, IouKind::ciou);
  EXPECT_EQ(a.nms_kind, NmsKind::diounms);
  EXPECT_EQ(a.counters_per_class, (std::vector<int>{10, 40}));
  EXPECT_FLOAT_EQ(a.max_delta, 5.f);
  EXPECT_TRUE(a.focal_loss && a.objectness_smooth);
  EXPECT_EQ(a.max_boxes, 90);
  const Network again = Network::from_cfg(parse_cfg_text(format_cfg(network_cfg(net)), "again.cfg"));
  EXPECT_EQ(again.layer(1).attrs_as<YoloAttrs>(), a);
}

TEST(YoloLoss, LossLayersAreEveryYoloHead) {
  const Network net = Network::from_cfg(parse_cfg_text(std::string(kHeadNet) + R"(
[route]
layers=-2
[convolutional]
filters=7
size=1
stride=2
activation=linear
[yolo]
mask=1
anchors=8,8,16,24
num=2
classes=2
)", "two.cfg"));
  EXPECT_EQ(loss_layers(net), (std::vector<int>{1, 4}));
}

// Per-parameter gradients of one backward on `truths` with `losses` trained.
std::vector<std::vector<float>> gradients(Network& net, const std::vector<int>& losses,
                                          const std::vector<std::vector<ObjectBox>>& truths) {
  init_weights(net, 5);
  TrainingExecutor executor(net, {}, losses);
  const Tensor input = tests::random_input(net.input_shape(), 4);
  executor.zero_gradients();
  executor.forward(input.data(), StepContext{true, 1});
  executor.loss(Targets{{}, {}, truths}, 0.5f);
  executor.backward();
  std::vector<std::vector<float>> grads;
  for (const TrainableParam& p : all_trainable_params(net)) grads.push_back(*p.grads);
  return grads;
}

TEST(YoloLoss, TwoHeadsTrainWithTheSumOfTheirGradients) {
  Network net = Network::from_cfg(parse_cfg_text(std::string(kHeadNet) + R"(
[route]
layers=-2
[convolutional]
filters=7
size=1
stride=2
activation=linear
[yolo]
mask=1
anchors=8,8,16,24
num=2
classes=2
)", "two.cfg"));
  net.reshape(32, 32, 2);
  const std::vector<std::vector<ObjectBox>> truths{{ObjectBox{0.3f, 0.4f, 0.25f, 0.25f, 0}},
                                                  {ObjectBox{0.6f, 0.5f, 0.5f, 0.7f, 1}}};
  const auto both = gradients(net, {1, 4}, truths);
  const auto first = gradients(net, {1}, truths);  // head 4 runs as plain activations
  const auto second = gradients(net, {4}, truths);
  ASSERT_EQ(both.size(), 4u);  // two convolutions' weights and biases
  for (size_t p = 0; p < both.size(); ++p) {
    std::vector<float> sum(both[p].size());
    for (size_t k = 0; k < sum.size(); ++k) sum[k] = first[p][k] + second[p][k];
    const tests::Deviation d = tests::deviation(both[p], sum);
    ASSERT_GT(d.scale, 0.0) << "parameter " << p;
    EXPECT_LE(d.worst, 1e-5 * d.scale) << "parameter " << p;
  }
}

// A [yolo] that is not trained as a loss (another head is) runs its
// activations, and backward their exact derivative.
TEST(YoloLoss, NonLossHeadBackwardIsTheActivationDerivative) {
  for (const bool new_coords : {false, true}) {
    SCOPED_TRACE(new_coords ? "new_coords" : "logistic");
    const std::string cfg = std::string("[net]\nwidth=4\nheight=3\nchannels=14\nbatch=2\n"
                                        "[maxpool]\nsize=1\nstride=1\n"
                                        "[yolo]\nmask=0,1\nanchors=8,8,16,24\nnum=2\nclasses=2\nscale_x_y=1.3\n") +
                            (new_coords ? "new_coords=1\n" : "");
    auto reference = [new_coords](const tests::RefInputs& in, const tests::RefParams&) {
      std::vector<double> out = in[0];
      const size_t plane = 12, entries = 7;
      for (size_t k = 0; k < out.size(); ++k) {
        const size_t entry = k / plane % entries;
        const double logistic = 1 / (1 + std::exp(-out[k]));
        if (entry < 2) out[k] = 1.3 * (new_coords ? out[k] : logistic) - 0.15;
        else if (entry >= 4 && !new_coords) out[k] = logistic;
      }
      return out;
    };
    EXPECT_TRUE(tests::check_layer_gradients(tests::GradientCase{cfg}, reference));
  }
}

// Two [yolo] heads (strides 4 and 8) on a few convolutions, fixed synthetic
// boxes: 30 SGD steps must lower the summed loss a lot.
TEST(YoloLoss, TinyDetectorTrainedWithSgdLowersItsLoss) {
  Network net = Network::from_cfg(parse_cfg_text(R"([net]
width=32
height=32
channels=3
batch=2
[convolutional]
filters=8
size=3
stride=2
pad=1
activation=leaky
[convolutional]
filters=8
size=3
stride=2
pad=1
activation=leaky
[convolutional]
filters=14
size=1
activation=linear
[yolo]
mask=0,1
anchors=6,6,10,14,20,20,28,24
num=4
classes=2
[route]
layers=-3
[convolutional]
filters=14
size=3
stride=2
pad=1
activation=linear
[yolo]
mask=2,3
anchors=6,6,10,14,20,20,28,24
num=4
classes=2
)", "tiny.cfg"));
  net.reshape(32, 32, 2);
  init_weights(net, 3);
  TrainingExecutor executor(net);
  ASSERT_EQ(executor.loss_layer_indices(), (std::vector<int>{3, 6}));
  const Tensor input = tests::random_input(net.input_shape(), 9);
  const std::vector<std::vector<ObjectBox>> truths{
      {ObjectBox{0.3f, 0.4f, 0.2f, 0.25f, 0}, ObjectBox{0.7f, 0.7f, 0.6f, 0.5f, 1}},
      {ObjectBox{0.5f, 0.5f, 0.3f, 0.4f, 1}}};
  OptimizerConfig config;
  config.momentum = 0.9f;
  config.decay = 0;
  Optimizer sgd(config);
  const std::vector<TrainableParam> params = all_trainable_params(net);
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    executor.zero_gradients();
    executor.forward(input.data(), StepContext{true, uint64_t(step)});
    const LossResult r = executor.loss(Targets{{}, {}, truths}, 0.5f);
    ASSERT_TRUE(std::isfinite(r.loss));
    EXPECT_EQ(r.positives, 3) << "each truth's best anchor lies in exactly one head";
    if (step == 0) first = r.loss;
    last = r.loss;
    executor.backward();
    sgd.step(params, 0.001f);
  }
  EXPECT_LT(last, 0.5 * first) << "first " << first << " last " << last;
}

}  // namespace
}  // namespace cspnet
