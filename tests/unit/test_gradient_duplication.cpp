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

TEST(GradientDuplication, RecordedContributionsMatchTheGradientsTakenApart) {
  const fs::path dir = fs::temp_directory_path() / ("cspnet_gradients_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  cspnet::tests::write_texture_idx(dir, "train", 64, 3);
  cspnet::tests::write_texture_idx(dir, "t10k", 16, 4);
  std::ofstream(dir / "dense.cfg") << kDenseCfg;
  const auto data = make_data_source("fashion-mnist:" + dir.string(), true, 1, 8, 8);

  Network net = Network::from_cfg_file((dir / "dense.cfg").string());
  init_weights(net, 5);
  const GradientReport report = measure_gradient_duplication(net, *data, 1, 8, 11);
  ASSERT_EQ(report.fan_outs.size(), 1u);
  EXPECT_EQ(report.fan_outs[0].layer, 0);
  EXPECT_EQ(report.fan_outs[0].readers, (std::vector<int>{1, 2}));

  // The same batch and pass again, this time reading the finished gradients.
  TrainingOptions options;
  options.reuse_gradient_memory = false;
  options.blocked_layout = false;
  TrainingExecutor executor(net, options);
  BatchLoaderOptions lo;
  lo.batch = 8;
  lo.classes = executor.classes();
  lo.seed = 11;
  lo.threads = 0;
  BatchLoader loader(std::shared_ptr<const DataSource>(data.get(), [](const DataSource*) {}), lo);
  Batch batch = loader.next();
  executor.forward(batch.images.data(), StepContext{true, 11});
  executor.loss(Targets{batch.targets, batch.labels, {}}, 1.f / 8);
  executor.backward();
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
  fs::remove_all(dir);
}

}  // namespace
