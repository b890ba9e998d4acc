// cspnet analyze's figures (include/cspnet/analysis.hpp) against values
// computed by hand on a small cfg.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "cspnet/analysis.hpp"
#include "cspnet/cspnet.hpp"
#include "cspnet/image.hpp"
#include "cspnet/training.hpp"

namespace cspnet {
namespace {

// 8x8x3 -> conv 4 (8x8) -> conv 8 stride 2 (4x4) -> maxpool (2x2) -> conv 2 1x1 (2x2).
constexpr const char* kSmall = R"([net]
width=8
height=8
channels=3
[convolutional]
filters=4
size=3
pad=1
activation=leaky
[convolutional]
filters=8
size=3
stride=2
pad=1
activation=leaky
[maxpool]
size=2
stride=2
[convolutional]
filters=2
size=1
activation=linear
)";

Network small() { return Network::from_cfg(parse_cfg_text(kSmall, "small.cfg")); }

TEST(Analysis, StagesStartWhereTheResolutionChanges) {
  EXPECT_EQ(resolution_stages(small()), (std::vector<std::pair<int, int>>{{0, 0}, {1, 1}, {2, 3}}));
}

TEST(Analysis, CioParametersAndFlopsMatchHandComputedValues) {
  Network net = small();
  const NetworkFigures f = analyze(net);
  ASSERT_EQ(f.stages.size(), 3u);
  // CIO per convolution: input + output elements per image.
  EXPECT_EQ(f.stages[0].cio, 8 * 8 * 3 + 8 * 8 * 4);  // 448
  EXPECT_EQ(f.stages[1].cio, 8 * 8 * 4 + 4 * 4 * 8);  // 384
  EXPECT_EQ(f.stages[2].cio, 2 * 2 * 8 + 2 * 2 * 2);  // 40: the pool is not a convolution
  EXPECT_EQ(f.total.cio, 448 + 384 + 40);
  // Parameters: weights + biases.
  EXPECT_EQ(f.stages[0].parameters, 4 * 3 * 9 + 4);
  EXPECT_EQ(f.stages[1].parameters, 8 * 4 * 9 + 8);
  EXPECT_EQ(f.stages[2].parameters, 2 * 8 + 2);
  EXPECT_EQ(f.total.conv_weights, 4 * 3 * 9 + 8 * 4 * 9 + 2 * 8);
  // darknet's BFLOPs: 2 * weights * output positions (+ the pool's comparisons).
  EXPECT_DOUBLE_EQ(f.stages[0].bflops, 2.0 * 108 * 64 / 1e9);
  EXPECT_DOUBLE_EQ(f.stages[1].bflops, 2.0 * 288 * 16 / 1e9);
  EXPECT_DOUBLE_EQ(f.stages[2].bflops, (2.0 * 2 * 8 * 2 * 2 + 2.0 * 16 * 4) / 1e9);  // pool 2x2 over 8 channels, 2x2 out
  EXPECT_DOUBLE_EQ(f.total.bflops, net.bflops());
  EXPECT_EQ(f.inference_peak_bytes, plan_memory(net, ExecOptions{}).peak_bytes);
  EXPECT_EQ(f.stages[2].name, "3: 2x2");
  EXPECT_EQ(f.total.time_ms, 0.0);  // not timed unless asked
}

TEST(Analysis, TimesEveryStageAndPlansTrainingMemoryWhenAsked) {
  Network net = small();
  AnalysisOptions options;
  options.runs = 3;
  options.training_batch = 4;
  const NetworkFigures f = analyze(net, options);
  double sum = 0;
  for (const StageFigures& s : f.stages) {
    EXPECT_GT(s.time_ms, 0.0) << s.name;
    sum += s.time_ms;
  }
  EXPECT_DOUBLE_EQ(f.total.time_ms, sum);
  EXPECT_EQ(f.training_batch, 4);
  net.reshape(8, 8, 4);
  EXPECT_EQ(f.training_bytes, TrainingExecutor(net).memory_bytes());
}

TEST(Analysis, BarsAreEachNetworksTotalsRelativeToTheFirst) {
  Network a = small(), b = Network::from_cfg(parse_cfg_text(std::string(kSmall) + "[convolutional]\nfilters=2\nsize=1\n",
                                                            "bigger.cfg"));
  const RelativeTotals r = relative_totals({analyze(a), analyze(b)});
  ASSERT_EQ(r.networks, (std::vector<std::string>{"small", "bigger"}));
  // Not measured: no bars for time.
  ASSERT_EQ(r.measures, (std::vector<std::string>{"parameters", "BFLOPs", "CIO", "planned memory"}));
  // The baseline is 100% of itself; the second adds a 2->2 1x1 convolution
  // on the 2x2 map: 4 weights + 2 biases (426 -> 432 parameters, 101.4%)
  // and 8 + 8 input/output elements (CIO 872 -> 888, 101.8%).
  for (double p : r.percent[0]) EXPECT_DOUBLE_EQ(p, 100.0);
  EXPECT_NEAR(r.percent[1][0], 100.0 * 432 / 426, 1e-9);
  EXPECT_NEAR(r.percent[1][2], 100.0 * 888 / 872, 1e-9);
}

TEST(Analysis, PlotIsWrittenAsPngOrSvgWithOneColourPerNetwork) {
  Network a = small(), b = Network::from_cfg(parse_cfg_text(std::string(kSmall) + "[convolutional]\nfilters=2\nsize=1\n",
                                                            "bigger.cfg"));
  const auto dir = std::filesystem::temp_directory_path();
  const std::string png = (dir / ("cspnet_analysis_" + std::to_string(::getpid()) + ".png")).string();
  const std::string svg = (dir / ("cspnet_analysis_" + std::to_string(::getpid()) + ".svg")).string();
  write_analysis_plot(png, {analyze(a), analyze(b)});
  write_analysis_plot(svg, {analyze(a), analyze(b)});
  const Tensor image = load_image_rgb(png);
  auto count = [&](int r, int g, int bl) {
    int n = 0;
    for (int64_t y = 0; y < image.shape().h; ++y)
      for (int64_t x = 0; x < image.shape().w; ++x)
        n += std::lround(image.at(0, 0, y, x) * 255) == r && std::lround(image.at(0, 1, y, x) * 255) == g &&
             std::lround(image.at(0, 2, y, x) * 255) == bl;
    return n;
  };
  EXPECT_GT(count(76, 114, 176), 2000) << "first network's bars";
  EXPECT_GT(count(221, 132, 82), 2000) << "second network's bars";
  std::ifstream in(svg);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("<svg"), std::string::npos);
  std::filesystem::remove(png);
  std::filesystem::remove(svg);
}

}  // namespace
}  // namespace cspnet
