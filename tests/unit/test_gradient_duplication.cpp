// Gradient duplication statistics (cspnet gradients): the statistics on
// constructed contributions with known answers, and the per-reader
// contributions recorded during backward against the same contributions
// taken apart from the finished gradients.
#include "cspnet/gradient_duplication.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "cspnet/batch_loader.hpp"
#include "cspnet/cspnet.hpp"
#include "cspnet/data_source.hpp"
#include "cspnet/training.hpp"
#include "synthetic_data.hpp"

namespace {

using namespace cspnet;
namespace fs = std::filesystem;

TEST(GradientDuplication, IdenticalContributionsHaveCosineOneAndDiversityOneOverN) {
  const std::vector<double> g = {1, -2, 3, 0.5};
  const ContributionStats s = contribution_stats({g, g, g});
  EXPECT_EQ(s.contributions, 3);
  EXPECT_NEAR(s.mean_cosine, 1.0, 1e-12);
  EXPECT_NEAR(s.diversity, 1.0 / 3, 1e-12);
}

TEST(GradientDuplication, OrthogonalContributionsHaveCosineZeroAndDiversityOne) {
  const ContributionStats s = contribution_stats({{1, 0, 0}, {0, 2, 0}, {0, 0, -3}});
  EXPECT_NEAR(s.mean_cosine, 0.0, 1e-12);
  EXPECT_NEAR(s.diversity, 1.0, 1e-12);
}

TEST(GradientDuplication, OppositeContributionsCancelAndPartlyOppositeOnesExceedOne) {
  const ContributionStats cancel = contribution_stats({{1, 2}, {-1, -2}});
  EXPECT_NEAR(cancel.mean_cosine, -1.0, 1e-12);
  EXPECT_TRUE(std::isnan(cancel.diversity));  // they sum to zero
  // (1,0) and (-1/2, 0): squares 1.25 over a sum of squares 0.25.
  const ContributionStats partly = contribution_stats({{1, 0}, {-0.5, 0}});
  EXPECT_NEAR(partly.diversity, 5.0, 1e-12);
  EXPECT_THROW(contribution_stats({{1, 2}, {1}}), Error);
}

// Small networks on a temporary texture data set (8x8 crops), measured by
// measure_gradient_duplication and replayed batch for batch through an
// executor whose gradients stay readable.
class GradientDuplicationOnTextures : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cspnet_gradients_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    cspnet::tests::write_texture_idx(dir_, "train", 64, 3);
    cspnet::tests::write_texture_idx(dir_, "t10k", 16, 4);
    data_ = make_data_source("fashion-mnist:" + dir_.string(), true, 1, 8, 8);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Network network(const char* cfg, uint64_t seed) {
    std::ofstream(dir_ / "net.cfg") << cfg;
    Network net = Network::from_cfg_file((dir_ / "net.cfg").string());
    init_weights(net, seed);
    return net;
  }
  // The first batch measure_gradient_duplication(..., batch, seed) sees.
  Batch first_batch(int batch, int classes, uint64_t seed) const {
    BatchLoaderOptions lo;
    lo.batch = batch;
    lo.classes = classes;
    lo.seed = seed;
    lo.threads = 0;
    BatchLoader loader(std::shared_ptr<const DataSource>(data_.get(), [](const DataSource*) {}), lo);
    return loader.next();
  }
  // That batch's forward, loss and backward, every gradient kept readable.
  std::unique_ptr<TrainingExecutor> replay(Network& net, int batch, uint64_t seed) const {
    TrainingOptions options;
    options.reuse_gradient_memory = false;
    options.blocked_layout = false;
    auto executor = std::make_unique<TrainingExecutor>(net, options);
    const Batch b = first_batch(batch, executor->classes(), seed);
    executor->zero_gradients();
    executor->forward(b.images.data(), StepContext{true, seed});
    executor->loss(Targets{b.targets, b.labels, {}}, 1.f / float(batch));
    executor->backward();
    return executor;
  }
  const DataSource& data() const { return *data_; }

 private:
  fs::path dir_;
  std::unique_ptr<DataSource> data_;
};

// conv0 is read by conv1 and by the route that concatenates conv0 and conv1
// (a dense block's shared input): its gradient is the route's gradient on
// conv0's channels plus what conv1 passes back.
constexpr const char* kDenseCfg = R"([net]
width=8
height=8
channels=1

[convolutional]
filters=4
size=3
pad=1
activation=leaky

[convolutional]
filters=4
size=3
pad=1
activation=leaky

[route]
layers=0,1

[convolutional]
filters=10
size=1
activation=linear

[avgpool]

[softmax]
)";

TEST_F(GradientDuplicationOnTextures, RecordedContributionsMatchTheGradientsTakenApart) {
  Network net = network(kDenseCfg, 5);
  const GradientReport report = measure_gradient_duplication(net, data(), 1, 8, 11);
  ASSERT_EQ(report.fan_outs.size(), 1u);
  EXPECT_EQ(report.fan_outs[0].layer, 0);
  EXPECT_EQ(report.fan_outs[0].readers, (std::vector<int>{1, 2}));

  // The same batch and pass again, this time reading the finished gradients.
  const auto replayed = replay(net, 8, 11);
  const TrainingExecutor& executor = *replayed;
  const auto total = executor.gradient(0), route = executor.gradient(2);
  // Route output channels 0..3 are conv0's: its contribution, image by image.
  const int64_t plane = 8 * 8, per_image = 4 * plane;
  std::vector<double> from_route(total.size()), from_conv1(total.size());
  for (int64_t n = 0; n < 8; ++n)
    for (int64_t k = 0; k < per_image; ++k) {
      const size_t at = size_t(n * per_image + k);
      from_route[at] = route[size_t(n * 2 * per_image + k)];
      from_conv1[at] = double(total[at]) - from_route[at];
    }
  const ContributionStats expected = contribution_stats({from_route, from_conv1});
  EXPECT_NEAR(report.fan_outs[0].mean_cosine, expected.mean_cosine, 1e-4);
  EXPECT_NEAR(report.fan_outs[0].diversity, expected.diversity, 1e-4 * expected.diversity);
  EXPECT_EQ(report.stages.size(), 2u);  // 8x8 and the pooled 1x1
  EXPECT_EQ(report.stages[0].fan_outs, 1);
}

// The dense block of kDenseCfg in double precision, written from the
// semantics: conv0 (3x3, 1->4, leaky) is read by conv1 (3x3, 4->4, leaky)
// and by the route [0, 1], which a 1x1 convolution to 10 logits reads
// before global average pooling and softmax cross-entropy (mean over the
// batch). Returns conv0's two gradient contributions (route, conv1) and the
// matching shares of conv0's weight gradient.
struct DenseBlockShares {
  std::vector<std::vector<double>> features, weights;
};

DenseBlockShares dense_block_shares_in_double(Network& net, const float* images,
                                              const std::vector<float>& targets, int batch) {
  constexpr int kSide = 8, kPlane = kSide * kSide;
  auto param = [&](int layer, const char* name) {
    for (const TrainableParam& p : net.layer(layer).trainable_params())
      if (std::string(p.name) == name) return std::vector<double>(p.values->begin(), p.values->end());
    throw Error("no parameter");
  };
  const auto w0 = param(0, "weights"), b0 = param(0, "biases"), w1 = param(1, "weights"), b1 = param(1, "biases"),
             w3 = param(3, "weights"), b3 = param(3, "biases");
  auto leaky = [](double z) { return z > 0 ? z : 0.1 * z; };
  auto leaky_slope = [](double z) { return z > 0 ? 1.0 : 0.1; };
  // Same-padded 3x3 convolution of one image, [in][8][8] -> [out][8][8].
  auto conv3x3 = [&](const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>& b,
                     int in, int out) {
    std::vector<double> z(size_t(out * kPlane));
    for (int o = 0; o < out; ++o)
      for (int y = 0; y < kSide; ++y)
        for (int x0 = 0; x0 < kSide; ++x0) {
          double sum = b[size_t(o)];
          for (int c = 0; c < in; ++c)
            for (int ky = 0; ky < 3; ++ky)
              for (int kx = 0; kx < 3; ++kx) {
                const int yy = y + ky - 1, xx = x0 + kx - 1;
                if (yy < 0 || yy >= kSide || xx < 0 || xx >= kSide) continue;
                sum += w[size_t(((o * in + c) * 3 + ky) * 3 + kx)] * x[size_t(c * kPlane + yy * kSide + xx)];
              }
          z[size_t(o * kPlane + y * kSide + x0)] = sum;
        }
    return z;
  };
  DenseBlockShares shares;
  shares.features.assign(2, std::vector<double>(size_t(batch * 4 * kPlane), 0.0));
  shares.weights.assign(2, std::vector<double>(w0.size(), 0.0));
  for (int n = 0; n < batch; ++n) {
    const std::vector<double> x(images + n * kPlane, images + (n + 1) * kPlane);
    const auto z0 = conv3x3(x, w0, b0, 1, 4);
    std::vector<double> a0(z0.size()), a1;
    for (size_t i = 0; i < z0.size(); ++i) a0[i] = leaky(z0[i]);
    const auto z1 = conv3x3(a0, w1, b1, 4, 4);
    for (double z : z1) a1.push_back(leaky(z));
    // Logits: the 1x1 convolution averaged over the plane (both linear).
    std::vector<double> logits(10);
    for (int o = 0; o < 10; ++o) {
      double sum = 0;
      for (int c = 0; c < 8; ++c)
        for (int k = 0; k < kPlane; ++k)
          sum += w3[size_t(o * 8 + c)] * (c < 4 ? a0[size_t(c * kPlane + k)] : a1[size_t((c - 4) * kPlane + k)]);
      logits[size_t(o)] = b3[size_t(o)] + sum / kPlane;
    }
    double largest = logits[0], total = 0;
    for (double l : logits) largest = std::max(largest, l);
    for (double l : logits) total += std::exp(l - largest);
    // dL/d(route) is the same at every pixel: sum_o dlogit_o w3[o][c] / 64.
    std::vector<double> droute(8, 0.0);
    for (int o = 0; o < 10; ++o) {
      const double dlogit =
          (std::exp(logits[size_t(o)] - largest) / total - double(targets[size_t(n * 10 + o)])) / batch;
      for (int c = 0; c < 8; ++c) droute[size_t(c)] += dlogit * w3[size_t(o * 8 + c)] / kPlane;
    }
    const size_t at = size_t(n * 4 * kPlane);
    for (int c = 0; c < 4; ++c)
      for (int k = 0; k < kPlane; ++k) shares.features[0][at + size_t(c * kPlane + k)] = droute[size_t(c)];
    // conv1's contribution: its backward to its input.
    std::vector<double> dz1(z1.size());
    for (size_t i = 0; i < z1.size(); ++i) dz1[i] = droute[4 + i / kPlane] * leaky_slope(z1[i]);
    for (int o = 0; o < 4; ++o)
      for (int y = 0; y < kSide; ++y)
        for (int x0 = 0; x0 < kSide; ++x0)
          for (int c = 0; c < 4; ++c)
            for (int ky = 0; ky < 3; ++ky)
              for (int kx = 0; kx < 3; ++kx) {
                const int yy = y + ky - 1, xx = x0 + kx - 1;
                if (yy < 0 || yy >= kSide || xx < 0 || xx >= kSide) continue;
                shares.features[1][at + size_t(c * kPlane + yy * kSide + xx)] +=
                    w1[size_t(((o * 4 + c) * 3 + ky) * 3 + kx)] * dz1[size_t(o * kPlane + y * kSide + x0)];
              }
    // Each contribution's share of conv0's weight gradient.
    for (int s = 0; s < 2; ++s)
      for (int o = 0; o < 4; ++o)
        for (int y = 0; y < kSide; ++y)
          for (int x0 = 0; x0 < kSide; ++x0) {
            const size_t out = size_t(o * kPlane + y * kSide + x0);
            const double dz0 = shares.features[size_t(s)][at + out] * leaky_slope(z0[out]);
            for (int ky = 0; ky < 3; ++ky)
              for (int kx = 0; kx < 3; ++kx) {
                const int yy = y + ky - 1, xx = x0 + kx - 1;
                if (yy < 0 || yy >= kSide || xx < 0 || xx >= kSide) continue;
                shares.weights[size_t(s)][size_t((o * 3 + ky) * 3 + kx)] += dz0 * x[size_t(yy * kSide + xx)];
              }
          }
  }
  return shares;
}

TEST_F(GradientDuplicationOnTextures, FeatureAndWeightStatisticsMatchADenseBlockComputedInDouble) {
  Network net = network(kDenseCfg, 7);
  constexpr int kBatch = 8;
  const GradientReport report = measure_gradient_duplication(net, data(), 1, kBatch, 13);
  ASSERT_EQ(report.fan_outs.size(), 1u);
  const Batch batch = first_batch(kBatch, 10, 13);
  const DenseBlockShares shares = dense_block_shares_in_double(net, batch.images.data(), batch.targets, kBatch);
  const ContributionStats features = contribution_stats(shares.features);
  const ContributionStats weights = contribution_stats(shares.weights);
  const FanOutGradients& measured = report.fan_outs[0];
  EXPECT_NEAR(measured.mean_cosine, features.mean_cosine, 1e-4);
  EXPECT_NEAR(measured.diversity, features.diversity, 1e-4 * features.diversity);
  // conv0 has weights and two readers: conv1 and, through the route, conv3.
  ASSERT_EQ(report.weight_updates.size(), 1u);
  const WeightUpdateShares& update = report.weight_updates[0];
  EXPECT_EQ(update.layer, 0);
  EXPECT_EQ(update.readers, (std::vector<int>{1, 3}));
  EXPECT_NEAR(update.feature_mean_cosine, features.mean_cosine, 1e-4);
  EXPECT_NEAR(update.mean_cosine, weights.mean_cosine, 1e-4);
  EXPECT_NEAR(update.diversity, weights.diversity, 1e-4 * weights.diversity);
  // Not a coincidence of equal numbers: the two statistics differ here.
  EXPECT_GT(std::abs(weights.mean_cosine - features.mean_cosine), 1e-3);
  EXPECT_EQ(report.stages[0].weighted_layers, 1);
  EXPECT_NEAR(report.stages[0].weight_mean_cosine, weights.mean_cosine, 1e-4);
  EXPECT_TRUE(std::isnan(report.stages[1].weight_mean_cosine));  // nothing read twice in the pooled stage
}

// Batch norm and mish in the writer: its weight-gradient shares, taken one
// at a time by parameter_gradient_for, add up to the gradient backward gave,
// and every gradient is as it was afterwards.
constexpr const char* kBatchNormCfg = R"([net]
width=8
height=8
channels=1

[convolutional]
batch_normalize=1
filters=4
size=3
pad=1
activation=mish

[convolutional]
batch_normalize=1
filters=4
size=3
stride=2
pad=1
activation=leaky

[route]
layers=0

[maxpool]
size=2
stride=2

[route]
layers=1,3

[convolutional]
filters=10
size=1
activation=linear

[avgpool]

[softmax]
)";

TEST_F(GradientDuplicationOnTextures, WeightSharesOfABatchNormWriterAddUpToItsGradient) {
  Network net = network(kBatchNormCfg, 3);
  constexpr int kBatch = 4;
  net.reshape(8, 8, kBatch);
  TrainingOptions options;
  options.reuse_gradient_memory = false;
  options.blocked_layout = false;
  TrainingExecutor executor(net, options);
  std::vector<float> images(size_t(kBatch * 64)), targets(size_t(kBatch * 10), 0.f);
  for (size_t i = 0; i < images.size(); ++i) images[i] = float((i * 37) % 101) / 101.f;
  std::vector<int> labels;
  for (int n = 0; n < kBatch; ++n) {
    targets[size_t(n * 10 + n % 10)] = 1.f;
    labels.push_back(n % 10);
  }
  executor.zero_gradients();
  executor.forward(images.data(), StepContext{true, 1});
  executor.loss(Targets{targets, labels, {}}, 1.f / kBatch);
  // Layer 0 is read by conv 1 and route 2: record what each adds.
  std::vector<float> before, from_conv1, from_route;
  executor.backward([&](int layer) {
    const auto now = executor.gradient(0);
    if (layer == 2) from_route.assign(now.begin(), now.end());
    if (layer == 1)
      for (size_t i = 0; i < now.size(); ++i) from_conv1.push_back(now[i] - from_route[i]);
  });
  std::vector<float>* weight_grads = nullptr;
  for (const TrainableParam& p : net.layer(0).trainable_params())
    if (std::string(p.name) == "weights") weight_grads = p.grads;
  ASSERT_NE(weight_grads, nullptr);
  const std::vector<float> backward_gave = *weight_grads;
  const std::vector<float> gradient_before(executor.gradient(1).begin(), executor.gradient(1).end());

  const std::vector<float> share_route = executor.parameter_gradient_for(0, "weights", from_route);
  const std::vector<float> share_conv1 = executor.parameter_gradient_for(0, "weights", from_conv1);
  std::vector<float> whole(from_route.size());
  for (size_t i = 0; i < whole.size(); ++i) whole[i] = from_route[i] + from_conv1[i];
  const std::vector<float> share_whole = executor.parameter_gradient_for(0, "weights", whole);
  float largest = 0;
  for (float g : backward_gave) largest = std::max(largest, std::abs(g));
  ASSERT_GT(largest, 0.f);
  double cosine_numerator = 0, norm_route = 0, norm_conv1 = 0;
  for (size_t i = 0; i < backward_gave.size(); ++i) {
    EXPECT_NEAR(share_route[i] + share_conv1[i], backward_gave[i], 1e-4f * largest) << i;
    EXPECT_NEAR(share_whole[i], backward_gave[i], 1e-5f * largest) << i;
    cosine_numerator += double(share_route[i]) * share_conv1[i];
    norm_route += double(share_route[i]) * share_route[i];
    norm_conv1 += double(share_conv1[i]) * share_conv1[i];
  }
  EXPECT_GT(norm_route, 0);
  EXPECT_GT(norm_conv1, 0);
  EXPECT_LT(std::abs(cosine_numerator) / std::sqrt(norm_route * norm_conv1), 0.999);  // two different shares
  EXPECT_EQ(*weight_grads, backward_gave);
  const auto gradient_after = executor.gradient(1);
  EXPECT_TRUE(std::equal(gradient_after.begin(), gradient_after.end(), gradient_before.begin()));
  EXPECT_THROW(executor.parameter_gradient_for(0, "scales_of_nothing", whole), Error);
  EXPECT_THROW(executor.parameter_gradient_for(0, "weights", std::vector<float>(3)), Error);
}


// A darknet dense block chains routes: conv0 reaches conv1 directly, conv3
// through route 2, and conv5 through routes 2 and 4 (route 4 takes the
// second half of each input's channels, which is all of conv0's in route 2
// and none of conv1's). The attribution by reader through the routes,
// against the same contributions taken apart from the finished gradients.
constexpr const char* kChainCfg = R"([net]
width=8
height=8
channels=1

[convolutional]
batch_normalize=1
filters=4
size=3
pad=1
activation=leaky

[convolutional]
batch_normalize=1
filters=4
size=3
pad=1
activation=leaky

[route]
layers=1,0

[convolutional]
batch_normalize=1
filters=4
size=3
pad=1
activation=leaky

[route]
layers=3,2
groups=2
group_id=1

[convolutional]
filters=10
size=1
activation=linear

[avgpool]

[softmax]
)";

TEST_F(GradientDuplicationOnTextures, WeightUpdateReadersAreFollowedThroughRoutes) {
  Network net = network(kChainCfg, 9);
  constexpr int kBatch = 8;
  const GradientReport report = measure_gradient_duplication(net, data(), 1, kBatch, 17);
  // conv1 reaches only conv3 (route 4 drops its channels), conv3 only conv5.
  ASSERT_EQ(report.weight_updates.size(), 1u);
  EXPECT_EQ(report.weight_updates[0].layer, 0);
  EXPECT_EQ(report.weight_updates[0].readers, (std::vector<int>{1, 3, 5}));

  const auto replayed = replay(net, kBatch, 17);
  TrainingExecutor& executor = *replayed;
  // Per image: conv0 is channels 4..7 of route 2 (8 channels), which are
  // channels 2..5 of route 4 (6 channels).
  const int64_t plane = 64, per_image = 4 * plane;
  const auto total = executor.gradient(0), route2 = executor.gradient(2), route4 = executor.gradient(4);
  std::vector<double> from_conv5(total.size()), from_conv3(total.size()), from_conv1(total.size());
  for (int64_t n = 0; n < kBatch; ++n)
    for (int64_t k = 0; k < per_image; ++k) {
      const size_t at = size_t(n * per_image + k);
      from_conv5[at] = route4[size_t(n * 6 * plane + 2 * plane + k)];
      const double through_route2 = route2[size_t(n * 8 * plane + 4 * plane + k)];
      from_conv3[at] = through_route2 - from_conv5[at];
      from_conv1[at] = double(total[at]) - through_route2;
    }
  const ContributionStats features = contribution_stats({from_conv1, from_conv3, from_conv5});
  std::vector<std::vector<double>> shares;
  for (const auto* g : {&from_conv1, &from_conv3, &from_conv5}) {
    const std::vector<float> share = executor.parameter_gradient_for(0, "weights", std::vector<float>(g->begin(), g->end()));
    shares.emplace_back(share.begin(), share.end());
  }
  const ContributionStats weights = contribution_stats(shares);
  EXPECT_NEAR(report.weight_updates[0].feature_mean_cosine, features.mean_cosine, 1e-4);
  EXPECT_NEAR(report.weight_updates[0].feature_diversity, features.diversity, 1e-4 * features.diversity);
  EXPECT_NEAR(report.weight_updates[0].mean_cosine, weights.mean_cosine, 1e-4);
  EXPECT_NEAR(report.weight_updates[0].diversity, weights.diversity, 1e-4 * weights.diversity);
}

}  // namespace
