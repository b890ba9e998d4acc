// The training loop end to end on a small synthetic IDX data set: it learns,
// it is deterministic, a resumed run continues bit for bit, and its outputs
// (darknet .weights, log, curves) are readable.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "cspnet/cspnet.hpp"
#include "cspnet/data_source.hpp"
#include "cspnet/trainer.hpp"
#include "cspnet/training_log.hpp"

namespace fs = std::filesystem;
using namespace cspnet;

namespace {

// Four classes that a small network separates quickly: a bright square in
// one of the four quadrants, on noise.
void write_idx(const fs::path& dir, const std::string& prefix, int count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(0, 60), jitter(0, 3), label_of(0, 3);
  std::string images, labels;
  auto put32 = [](std::string& b, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(char((v >> shift) & 0xff));
  };
  put32(images, 0x803);
  put32(images, uint32_t(count));
  put32(images, 28);
  put32(images, 28);
  put32(labels, 0x801);
  put32(labels, uint32_t(count));
  for (int i = 0; i < count; ++i) {
    int label = label_of(rng);
    int y0 = (label / 2) * 14 + jitter(rng), x0 = (label % 2) * 14 + jitter(rng);
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        bool inside = y >= y0 && y < y0 + 9 && x >= x0 && x < x0 + 9;
        images.push_back(char(inside ? 200 + noise(rng) / 2 : noise(rng)));
      }
    labels.push_back(char(label));
  }
  std::ofstream(dir / (prefix + "-images-idx3-ubyte"), std::ios::binary) << images;
  std::ofstream(dir / (prefix + "-labels-idx1-ubyte"), std::ios::binary) << labels;
}

constexpr const char* kCfg = R"([net]
width=28
height=28
channels=1
batch=16
subdivisions=2
learning_rate=0.05
momentum=0.9
decay=0.0005
policy=steps
steps=6
scales=0.5
max_batches=10
flip=0
translate=1

[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=leaky

[route]
layers=-1
groups=2
group_id=1

[convolutional]
batch_normalize=1
filters=4
size=3
stride=1
pad=1
activation=mish

[route]
layers=-1,0

[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=leaky

[avgpool]

[convolutional]
filters=10
size=1
stride=1
pad=0
activation=linear

[softmax]
groups=1

[cost]
)";

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cspnet_trainer_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data");
    write_idx(dir_ / "data", "train", 320, 1);
    write_idx(dir_ / "data", "t10k", 64, 2);
    std::ofstream(dir_ / "net.cfg") << kCfg;
  }
  void TearDown() override { fs::remove_all(dir_); }

  TrainOptions options(const std::string& out) const {
    TrainOptions o;
    o.cfg = (dir_ / "net.cfg").string();
    o.data = "fashion-mnist:" + (dir_ / "data").string();
    o.out_dir = (dir_ / out).string();
    o.seed = 7;
    o.loader_threads = 1;
    o.eval_batch = 32;
    return o;
  }
  static std::string bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  fs::path dir_;
};

TEST_F(TrainerTest, LearnsSeparableClassesAndWritesItsOutputs) {
  TrainOptions o = options("run");
  o.epochs = 6;
  std::ostringstream log;
  TrainSummary s = train(o, log);
  EXPECT_EQ(s.steps, 6 * (320 / 16));
  EXPECT_GT(s.test_top1, 0.9) << log.str();
  // darknet .weights with `seen`, readable by the inference engine.
  Network net = Network::from_cfg_file(o.cfg);
  WeightsHeader header = load_weights(net, s.weights_path);
  EXPECT_EQ(header.seen, uint64_t(s.steps) * 16);
  auto source = make_data_source(o.data, false, 1, 28, 28);
  EvalReport r = evaluate(net, *source, 20);
  EXPECT_EQ(r.images, 64);
  EXPECT_NEAR(r.top1, s.test_top1, 1e-9);
  auto rows = read_training_log(s.log_path);
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows.back().step, s.steps);
  EXPECT_TRUE(fs::file_size(s.plot_path) > 1000);
}

TEST_F(TrainerTest, ResumedRunEqualsStraightRunBitForBit) {
  TrainOptions straight = options("straight");
  straight.max_batches = 10;
  std::ostringstream sink;
  TrainSummary a = train(straight, sink);

  TrainOptions first = options("resumed");
  first.max_batches = 5;
  train(first, sink);
  TrainOptions second = first;
  second.max_batches = 10;
  second.resume = true;
  TrainSummary b = train(second, sink);
  EXPECT_EQ(b.steps, 10);
  EXPECT_EQ(bytes(a.weights_path), bytes(b.weights_path));
}

TEST_F(TrainerTest, SameSeedSameWeightsDifferentSeedDifferentWeights) {
  std::ostringstream sink;
  TrainOptions o = options("one");
  o.max_batches = 3;
  TrainSummary a = train(o, sink);
  o.out_dir = (dir_ / "two").string();
  TrainSummary b = train(o, sink);
  o.out_dir = (dir_ / "three").string();
  o.seed = 8;
  TrainSummary c = train(o, sink);
  EXPECT_EQ(bytes(a.weights_path), bytes(b.weights_path));
  EXPECT_NE(bytes(a.weights_path), bytes(c.weights_path));
}

TEST_F(TrainerTest, ResumeWithAnotherSeedIsRefused) {
  std::ostringstream sink;
  TrainOptions o = options("run");
  o.max_batches = 2;
  train(o, sink);
  o.resume = true;
  o.seed = 99;
  o.max_batches = 4;
  try {
    train(o, sink);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--seed"), std::string::npos) << e.what();
  }
}

TEST_F(TrainerTest, TooFewOutputsForTheClassesIsAnError) {
  std::string cfg = kCfg;
  cfg.replace(cfg.find("filters=10"), 10, "filters=3");
  std::ofstream(dir_ / "net.cfg") << cfg;
  TrainOptions o = options("run");
  o.max_batches = 1;
  std::ostringstream sink;
  try {
    train(o, sink);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("3 outputs"), std::string::npos) << e.what();
  }
}

TEST_F(TrainerTest, BatchNotMultipleOfSubdivisionsIsAnError) {
  TrainOptions o = options("run");
  o.batch = 15;
  o.max_batches = 1;
  std::ostringstream sink;
  EXPECT_THROW(train(o, sink), Error);
}

}  // namespace
