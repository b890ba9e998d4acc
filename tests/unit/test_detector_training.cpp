// Detector training end to end on the embedded scenes with a tiny two-head
// detector: the loss falls, validation mAP is logged, and a resumed run is
// bit for bit the straight one (augmentation, multi-scale draws and the
// loader are pure functions of seed and position).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cspnet/detector.hpp"
#include "cspnet/training_log.hpp"
#include "test_helpers.hpp"

namespace {

using namespace cspnet;
namespace fs = std::filesystem;

class DetectorTraining : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cspnet_dettrain_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  TrainOptions options(const std::string& out) const {
    TrainOptions o;
    o.cfg = tests::test_cfg("tiny_detector.cfg");
    o.data = "fashion-mnist-scenes:64,16,64";
    o.out_dir = (dir_ / out).string();
    o.seed = 3;
    o.loader_threads = 1;
    o.map = true;
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

TEST_F(DetectorTraining, LossFallsAndValidationMapIsLogged) {
  std::ostringstream log;
  TrainOptions o = options("run");
  o.max_batches = 32;  // 4 epochs of 8 steps
  const TrainSummary s = train_detector(o, log);
  const auto rows = read_training_log(s.log_path);
  ASSERT_EQ(rows.size(), 4u) << log.str();
  EXPECT_LT(*rows.back().train_loss, 0.7 * *rows.front().train_loss) << log.str();
  for (const auto& row : rows) {
    ASSERT_TRUE(row.test_map50.has_value());
    EXPECT_GE(*row.test_map50, 0.0);
    EXPECT_LE(*row.test_map50, 1.0);
  }
  EXPECT_TRUE(fs::exists(s.best_weights_path));
  EXPECT_TRUE(fs::exists(o.out_dir + "/names.txt"));
}

TEST_F(DetectorTraining, ResumedRunEqualsStraightRunBitForBit) {
  std::ostringstream sink;
  TrainOptions straight = options("straight");
  straight.max_batches = 12;
  const TrainSummary a = train_detector(straight, sink);
  TrainOptions first = options("resumed");
  first.max_batches = 5;
  train_detector(first, sink);
  TrainOptions second = first;
  second.max_batches = 12;
  second.resume = true;
  const TrainSummary b = train_detector(second, sink);
  EXPECT_EQ(b.steps, 12);
  EXPECT_EQ(bytes(a.weights_path), bytes(b.weights_path));
}

}  // namespace
