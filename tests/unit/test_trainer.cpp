// The training loop end to end on a small synthetic IDX data set: it learns,
// it is deterministic, a resumed run continues bit for bit, and its outputs
// (darknet .weights, log, curves) are readable.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cspnet/cspnet.hpp"
#include "cspnet/data_source.hpp"
#include "cspnet/trainer.hpp"
#include "cspnet/training_log.hpp"
#include "synthetic_data.hpp"
#include "test_helpers.hpp"

namespace fs = std::filesystem;
using namespace cspnet;
using cspnet::tests::expect_error_mentioning;

namespace {

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
 public:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cspnet_trainer_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data");
    cspnet::tests::write_texture_idx(dir_ / "data", "train", 320, 1);
    cspnet::tests::write_texture_idx(dir_ / "data", "t10k", 64, 2);
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

// 296 images in mini-batches of 8 are 37 passes per epoch, 18.5 steps of 2
// passes: epochs end inside steps 19 and 37, and 2 epochs take 37 steps.
TEST_F(TrainerTest, EpochsEndWhereTheDataDoesWhenStepsStraddleThem) {
  cspnet::tests::write_texture_idx(dir_ / "data", "train", 296, 1);
  TrainOptions o = options("run");
  o.epochs = 2;
  std::ostringstream log;
  TrainSummary s = train(o, log);
  EXPECT_EQ(s.steps, 37);
  EXPECT_NE(log.str().find("18.5 steps per epoch"), std::string::npos) << log.str();
  auto rows = read_training_log(s.log_path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].step, 19);
  EXPECT_EQ(rows[1].step, 37);
  EXPECT_NEAR(rows[1].epoch, 2.0, 1e-9);
}

TEST_F(TrainerTest, LogEveryAddsRowsWhoseLossCoversTheStepsSinceThePreviousRow) {
  TrainOptions o = options("run");
  o.max_batches = 10;  // inside the first 20-step epoch: it ends at step 10
  o.log_every = 3;
  std::vector<double> losses;  // per step, as the callback sees them
  o.on_step = [&](const StepReport& r) {
    losses.push_back(r.loss);
    return true;
  };
  std::ostringstream sink;
  const TrainSummary s = train(o, sink);
  const auto rows = read_training_log(s.log_path);
  ASSERT_EQ(rows.size(), 4u);
  const int64_t ends[] = {3, 6, 9, 10};
  int64_t first = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].step, ends[i]);
    double mean = 0;
    for (int64_t k = first; k < ends[i]; ++k) mean += losses[size_t(k)];
    mean /= double(ends[i] - first);
    ASSERT_TRUE(rows[i].train_loss.has_value());
    EXPECT_NEAR(*rows[i].train_loss, mean, 1e-9 * std::max(1.0, mean)) << "row " << i;
    EXPECT_EQ(rows[i].test_loss.has_value(), i == 3) << "only the epoch row is evaluated";
    first = ends[i];
  }

  TrainOptions automatic = options("auto");
  automatic.max_batches = 10;
  automatic.log_every = kLogEveryAuto;  // about 100 rows: every step of 10
  EXPECT_EQ(read_training_log(train(automatic, sink).log_path).size(), 10u);
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

TEST_F(TrainerTest, ResumeDropsLogRowsPastTheCheckpoint) {
  std::ostringstream sink;
  TrainOptions o = options("run");
  o.max_batches = 4;
  train(o, sink);
  // As if killed after logging a later epoch but before its checkpoint.
  const std::string log_path = o.out_dir + "/log.csv";
  TrainingLogRow stray;
  stray.step = 99;
  stray.epoch = 9;
  TrainingLog(log_path, true).write(stray);
  o.resume = true;
  o.max_batches = 6;
  train(o, sink);
  auto rows = read_training_log(log_path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].step, 4);
  EXPECT_EQ(rows[1].step, 6);
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
  expect_error_mentioning([&] { train(o, sink); }, {"--seed"});
}

TEST_F(TrainerTest, TooFewOutputsForTheClassesIsAnError) {
  std::string cfg = kCfg;
  cfg.replace(cfg.find("filters=10"), 10, "filters=3");
  std::ofstream(dir_ / "net.cfg") << cfg;
  TrainOptions o = options("run");
  o.max_batches = 1;
  std::ostringstream sink;
  expect_error_mentioning([&] { train(o, sink); }, {"3 outputs"});
}

TEST_F(TrainerTest, OverridingBatchOrInputSizeKeysIsAnErrorNotIgnored) {
  std::ostringstream sink;
  TrainOptions o = options("run");
  o.net_overrides["batch"] = "8";
  expect_error_mentioning([&] { train(o, sink); }, {"batch=8", "--batch"});
  o.net_overrides = {{"width", "32"}};
  expect_error_mentioning([&] { train(o, sink); }, {"width=32", o.cfg});
  o.net_overrides = {{"learning_rat", "0.1"}};  // a typo is not silently ignored
  expect_error_mentioning([&] { train(o, sink); }, {"learning_rat=0.1", "not a [net] training key"});
}

TEST_F(TrainerTest, BadValuesNameTheCfgLineOrSet) {
  std::ostringstream sink;
  TrainOptions o = options("run");
  o.net_overrides = {{"momentum", "abc"}};
  expect_error_mentioning([&] { train(o, sink); }, {"--set momentum: expected a finite number, got 'abc'"});
  std::string cfg = kCfg;
  cfg.replace(cfg.find("momentum=0.9"), 12, "momentum=abc");
  std::ofstream(dir_ / "net.cfg") << cfg;
  o.net_overrides.clear();
  expect_error_mentioning([&] { train(o, sink); }, {o.cfg + ":8: [net] key 'momentum': expected a finite number"});
}

TEST(EvalReport, ClassAccuracyCountsPredictionsOfSpareOutputsAsMisses) {
  // Class 0: 6 images, 3 hits, 1 predicted as class 1, 2 predicted as a
  // spare output (in no column).
  EvalReport r;
  r.confusion = {{3, 1}, {0, 2}};
  r.class_images = {6, 2};
  EXPECT_EQ(r.class_accuracy(), (std::vector<double>{0.5, 1.0}));
}

TEST_F(TrainerTest, EvaluationCountsTheImagesOfEachClass) {
  // 12 outputs for the 10 classes: spare outputs are allowed.
  std::string cfg = kCfg;
  cfg.replace(cfg.find("filters=10"), 10, "filters=12");
  std::ofstream(dir_ / "net.cfg") << cfg;
  Network net = Network::from_cfg_file((dir_ / "net.cfg").string());
  init_weights(net, 3);
  auto source = make_data_source("fashion-mnist:" + (dir_ / "data").string(), false, 1, 28, 28);
  EvalReport r = evaluate(net, *source, 32);
  std::vector<int64_t> images_of_class(r.confusion.size(), 0);
  for (int64_t i = 0; i < source->size(); ++i) ++images_of_class[size_t(source->label(i))];
  EXPECT_EQ(r.class_images, images_of_class);
  int64_t hits = 0;
  for (size_t c = 0; c < r.confusion.size(); ++c) hits += r.confusion[c][c];
  EXPECT_NEAR(double(hits) / double(r.images), r.top1, 1e-12);
}

TEST_F(TrainerTest, BatchNotMultipleOfSubdivisionsIsAnError) {
  TrainOptions o = options("run");
  o.batch = 15;
  o.max_batches = 1;
  std::ostringstream sink;
  EXPECT_THROW(train(o, sink), Error);
}

// An image folder (train/ and test/, one sub-folder per class) of colour
// PNGs: reddish or bluish noise, learned through colour augmentation.
TEST_F(TrainerTest, TrainsOnAnImageFolderWithColourAugmentation) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> noise(0.f, 0.5f);
  for (const char* split : {"train", "test"})
    for (int cls = 0; cls < 2; ++cls) {
      const fs::path folder = dir_ / "images" / split / (cls ? "blue" : "red");
      fs::create_directories(folder);
      for (int i = 0; i < (split[1] == 'r' ? 48 : 16); ++i) {
        Tensor image(Shape{1, 3, 12, 12});
        for (int64_t c = 0; c < 3; ++c)
          for (int64_t y = 0; y < 12; ++y)
            for (int64_t x = 0; x < 12; ++x)
              image.at(0, c, y, x) = noise(rng) + (c == (cls ? 2 : 0) ? 0.5f : 0.f);
        save_png((folder / (std::to_string(i) + ".png")).string(), image);
      }
    }
  std::string cfg = kCfg;
  auto replace = [&cfg](const std::string& from, const std::string& to) { cfg.replace(cfg.find(from), from.size(), to); };
  replace("width=28\nheight=28\nchannels=1", "width=16\nheight=16\nchannels=3");
  replace("translate=1", "hue=0.05\nsaturation=1.3\nexposure=1.3\nangle=10");
  std::ofstream(dir_ / "net.cfg") << cfg;
  TrainOptions o = options("folder");
  o.data = (dir_ / "images").string();
  o.epochs = 8;
  std::ostringstream log;
  TrainSummary s = train(o, log);
  EXPECT_EQ(s.steps, 8 * (96 / 16));
  EXPECT_GT(s.test_top1, 0.9) << log.str();
  EXPECT_NE(log.str().find("2 classes"), std::string::npos) << log.str();
}

std::pair<int, std::string> run_cli(const std::string& args, const fs::path& dir) {
  const fs::path out = dir / "cli.out";
  const std::string command = std::string("'") + CSPNET_CLI_PATH + "' " + args + " >'" + out.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, TrainerTest::bytes(out.string())};
}

TEST_F(TrainerTest, CliTrainsThenEvaluatesWithConfusionMatrix) {
  const std::string data = "--data fashion-mnist:" + (dir_ / "data").string();
  const std::string cfg = (dir_ / "net.cfg").string(), out = (dir_ / "cli").string();
  auto [code, text] = run_cli("--threads 1 train " + cfg + " " + data + " --max-batches 4 --out " + out, dir_);
  ASSERT_EQ(code, 0) << text;
  EXPECT_NE(text.find("test accuracy"), std::string::npos) << text;
  std::tie(code, text) = run_cli("eval " + cfg + " --weights " + out + "/final.weights " + data, dir_);
  ASSERT_EQ(code, 0) << text;
  EXPECT_NE(text.find("top-1"), std::string::npos) << text;
  EXPECT_NE(text.find("confusion matrix"), std::string::npos) << text;
  std::tie(code, text) =
      run_cli("eval " + cfg + " --weights " + out + "/final.weights " + data + " --precision bf16 --json", dir_);
  ASSERT_EQ(code, 0) << text;
  const auto report = nlohmann::json::parse(text);
  EXPECT_EQ(report["precision"], "bf16");
  EXPECT_GE(report["top1_agreement_with_fp32"].get<double>(), 0.9) << text;
  EXPECT_EQ(report["images"].get<int64_t>(), 64);
}

// --quiet (a global flag, so after the verb too) drops the progress lines,
// not the results; `cspnet --seed K train` is the verb's --seed K.
TEST_F(TrainerTest, CliQuietHidesProgressAndAGlobalSeedIsTheVerbs) {
  const std::string data = "--data fashion-mnist:" + (dir_ / "data").string();
  const std::string cfg = (dir_ / "net.cfg").string();
  const std::string run = "train " + cfg + " " + data + " --max-batches 2 --threads 1 --out ";
  auto [code, text] = run_cli(run + (dir_ / "loud").string() + " --seed 5", dir_);
  ASSERT_EQ(code, 0) << text;
  EXPECT_NE(text.find("| step 1/2"), std::string::npos) << text;
  std::tie(code, text) = run_cli("--seed 5 " + run + (dir_ / "quiet").string() + " --quiet", dir_);
  ASSERT_EQ(code, 0) << text;
  EXPECT_EQ(text.find("| step "), std::string::npos) << text;
  EXPECT_NE(text.find("test accuracy"), std::string::npos) << text;
  EXPECT_EQ(bytes((dir_ / "quiet" / "final.weights").string()), bytes((dir_ / "loud" / "final.weights").string()));
  std::tie(code, text) = run_cli(run + (dir_ / "other").string() + " --seed 6 -q", dir_);
  ASSERT_EQ(code, 0) << text;
  EXPECT_NE(bytes((dir_ / "other" / "final.weights").string()), bytes((dir_ / "loud" / "final.weights").string()));
}

TEST_F(TrainerTest, CliBadDataAndBadOptionsFailNamingTheCause) {
  const std::string cfg = (dir_ / "net.cfg").string(), out = (dir_ / "cli").string();
  auto [code, text] = run_cli("train " + cfg + " --data fashion-mnist:/no/such/dir --out " + out, dir_);
  EXPECT_EQ(code, 1);
  EXPECT_NE(text.find("/no/such/dir"), std::string::npos) << text;
  // A label outside the 10 classes: rewrite the first label of the training set.
  {
    std::fstream labels(dir_ / "data" / "train-labels-idx1-ubyte", std::ios::in | std::ios::out | std::ios::binary);
    labels.seekp(8);
    labels.put(char(42));
  }
  std::tie(code, text) = run_cli("train " + cfg + " --data fashion-mnist:" + (dir_ / "data").string() + " --out " + out, dir_);
  EXPECT_EQ(code, 1);
  EXPECT_NE(text.find("train-labels-idx1-ubyte"), std::string::npos) << text;
  std::tie(code, text) = run_cli("train " + cfg + " --lr fast --out " + out, dir_);
  EXPECT_EQ(code, 2);  // a usage error, not a cfg key's
  EXPECT_NE(text.find("--lr"), std::string::npos) << text;
  std::tie(code, text) = run_cli("train " + cfg + " --policy foo --out " + out, dir_);
  EXPECT_EQ(code, 2);
  EXPECT_NE(text.find("--policy"), std::string::npos) << text;
  EXPECT_FALSE(fs::exists(dir_ / "cli" / "final.weights"));
}

TEST_F(TrainerTest, AnExistingRunIsRefusedUnlessResumedOrExistOk) {
  std::ostringstream sink;
  TrainOptions o = options("run");
  o.max_batches = 2;
  train(o, sink);
  EXPECT_EQ(bytes(o.out_dir + "/names.txt").substr(0, 12), "T-shirt/top\n");
  const std::string before = bytes(o.out_dir + "/final.weights");
  o.seed = 8;  // would write other weights
  expect_error_mentioning([&] { train(o, sink); }, {o.out_dir, "--resume", "--exist-ok"});
  EXPECT_EQ(bytes(o.out_dir + "/final.weights"), before);
  o.exist_ok = true;
  train(o, sink);
  EXPECT_NE(bytes(o.out_dir + "/final.weights"), before);
}

// SIGINT during `cspnet train`: the step finishes, the checkpoint is written,
// exit 0 with a message; --resume then completes the run.
TEST_F(TrainerTest, CliInterruptWritesACheckpointThatResumes) {
  const std::string cfg = (dir_ / "net.cfg").string(), out = (dir_ / "cli").string();
  const fs::path log = dir_ / "interrupted.out";
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string data = "fashion-mnist:" + (dir_ / "data").string();
    freopen(log.c_str(), "w", stdout);
    dup2(fileno(stdout), 2);
    execl(CSPNET_CLI_PATH, CSPNET_CLI_PATH, "--threads", "1", "train", cfg.c_str(), "--data", data.c_str(),
          "--max-batches", "100000", "--progress", "plain", "--out", out.c_str(), (char*)nullptr);
    _exit(127);
  }
  // Wait for the header line (training has started), then interrupt. A
  // child that does not get there, or does not stop, is killed and the
  // test fails showing its output (generous limits: CI machines are loaded).
  const auto waited_for = [&](const std::function<bool()>& ready) {
    for (int i = 0; i < 2400; ++i, usleep(50000))
      if (ready()) return true;
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    return false;
  };
  ASSERT_TRUE(waited_for([&] { return bytes(log.string()).find("steps per epoch") != std::string::npos; }))
      << "no header within 120 s:\n" << bytes(log.string());
  usleep(200000);
  kill(child, SIGINT);
  int status = 0;
  ASSERT_TRUE(waited_for([&] { return waitpid(child, &status, WNOHANG) == child; }))
      << "still running 120 s after SIGINT:\n" << bytes(log.string());
  const std::string text = bytes(log.string());
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status << ":\n" << text;
  EXPECT_EQ(WEXITSTATUS(status), 0) << text;
  EXPECT_NE(text.find("interrupted after step"), std::string::npos) << text;
  EXPECT_TRUE(fs::exists(out + "/checkpoint.cspnet"));
  EXPECT_FALSE(fs::exists(out + "/final.weights"));
  auto [code, resumed] = run_cli("--threads 1 train " + cfg + " --data fashion-mnist:" + (dir_ / "data").string() +
                                     " --resume --out " + out + " --max-batches 3",
                                 dir_);
  // 3 steps may already be behind the interrupted run: either way it ends cleanly.
  EXPECT_EQ(code, 0) << resumed;
  EXPECT_NE(resumed.find("resumed from"), std::string::npos) << resumed;
}

// On a terminal the redrawn progress line fits its width (run under
// script(1) with a 60-column pseudo-terminal).
TEST_F(TrainerTest, CliProgressLineFitsTheTerminalWidth) {
  if (std::system("command -v script >/dev/null 2>&1") != 0) GTEST_SKIP() << "script(1) (util-linux) not found";
  const std::string cfg = (dir_ / "net.cfg").string(), out = (dir_ / "cli").string();
  const fs::path typescript = dir_ / "tty.out";
  for (int columns : {60, 80}) {
    const std::string inner = "stty cols " + std::to_string(columns) + " rows 20; '" + CSPNET_CLI_PATH +
                              "' --threads 1 train " + cfg + " --data fashion-mnist:" + (dir_ / "data").string() +
                              " --max-batches 10 --exist-ok --out " + out;
    const std::string command = "script -qfec \"" + inner + "\" '" + typescript.string() + "' >/dev/null 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    const std::string text = bytes(typescript.string());
    int redraws = 0;
    size_t start = 0;
    while ((start = text.find('\r', start)) != std::string::npos) {
      ++start;
      const size_t end = text.find_first_of("\r\n\x1b", start);
      const std::string segment = text.substr(start, end - start);
      if (segment.find(" | step ") != std::string::npos) ++redraws;
      EXPECT_LT(segment.size(), size_t(columns)) << segment;
    }
    EXPECT_GT(redraws, 0) << text;
  }
}

}  // namespace

namespace {

// A learning rate that blows the weights up: the run stops at the first
// non-finite step naming it and the layer, before any update or checkpoint;
// with skip_non_finite the bad steps are dropped and the weights stay finite.
TEST_F(TrainerTest, NonFiniteStepsStopNamingTheLayerOrAreSkipped) {
  std::ostringstream sink;
  TrainOptions o = options("nan");
  o.max_batches = 12;
  o.net_overrides["learning_rate"] = "1e30";
  o.net_overrides["burn_in"] = "0";
  try {
    train(o, sink);
    FAIL() << "expected the run to stop on a non-finite step";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(": step "), std::string::npos) << what;
    EXPECT_TRUE(what.find("not finite") != std::string::npos || what.find("first non-finite output") != std::string::npos)
        << what;
  }
  EXPECT_FALSE(fs::exists(o.out_dir + "/final.weights"));
  o.skip_non_finite = true;
  o.exist_ok = true;
  const TrainSummary s = train(o, sink);
  EXPECT_GT(s.skipped_steps, 0) << sink.str();
  Network net = Network::from_cfg_file(o.cfg);
  load_weights(net, s.weights_path);  // refuses NaN/Inf values
}

}  // namespace

namespace {

// A zoo name where a cfg is expected: the run folder gets the model's cfg,
// which eval then takes like any cfg.
TEST_F(TrainerTest, CliTrainsAZooModelByNameAndKeepsItsCfg) {
  const std::string data = "--data fashion-mnist:" + (dir_ / "data").string(), out = (dir_ / "zoo").string();
  auto [code, text] = run_cli("--threads 1 train cspdarknet-small " + data + " --max-batches 2 --out " + out, dir_);
  ASSERT_EQ(code, 0) << text;
  ASSERT_TRUE(fs::exists(out + "/cspdarknet-small.cfg"));
  std::tie(code, text) = run_cli("eval " + out + "/cspdarknet-small.cfg --weights " + out + "/final.weights " + data, dir_);
  EXPECT_EQ(code, 0) << text;
  std::tie(code, text) = run_cli("eval cspdarknet-small --weights " + out + "/final.weights " + data, dir_);
  EXPECT_EQ(code, 0) << text;
}

}  // namespace
