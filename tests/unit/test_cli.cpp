// The `cspnet` command line, run as a separate process on temporary files:
// exit codes (0 ok, 1 runtime error, 2 usage error), messages on stderr,
// `info` text and JSON, `init` + `predict` on a generated BMP with a .npy
// dump, and no files left behind when an output cannot be written.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cspnet/cspnet.hpp"
#include "test_helpers.hpp"

namespace fs = std::filesystem;

namespace {

// 16x16x3 -> conv(BN) 8 -> maxpool 2/2 -> conv 4 (1x1) -> global avgpool -> softmax: 4 class scores.
const char* kGoodCfg = R"([net]
width=16
height=16
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=4
size=1
activation=linear

[avgpool]

[softmax]
groups=1
)";

// Layer 1 routes from layer 4: forward-pointing (line 11).
const char* kBadCfg = R"([net]
width=16
height=16
channels=3

[convolutional]
filters=8
size=3

[route]
layers=4
)";

struct Result {
  int code = -1;
  std::string out, err;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/cspnet-cli-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    out_ = dir_ / "io";
    fs::create_directory(out_);  // stdout/stderr captures live apart from the files under test
    good_cfg_ = write("good.cfg", kGoodCfg);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string write(const std::string& name, const std::string& bytes) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
    return path.string();
  }

  // Runs `cspnet <args>` (args are already shell-quoted where needed).
  Result cli(const std::string& args) {
    const fs::path out = out_ / "stdout.txt", err = out_ / "stderr.txt";
    const std::string command = std::string("'") + CSPNET_CLI_PATH + "' " + args + " >'" + out.string() + "' 2>'" +
                                err.string() + "' </dev/null";
    const int status = std::system(command.c_str());
    Result r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    r.out = read_file(out);
    r.err = read_file(err);
    // In sanitizer builds the CLI is instrumented too: a report is a failure
    // even when the exit code happens to be the expected 1.
    EXPECT_EQ(r.err.find("Sanitizer"), std::string::npos) << args << ":\n" << r.err;
    EXPECT_EQ(r.err.find("runtime error:"), std::string::npos) << args << ":\n" << r.err;
    return r;
  }

  // Names of everything under the work directory except the captures.
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::recursive_directory_iterator(dir_))
      if (entry.path().parent_path() != out_ && entry.path() != out_)
        names.push_back(fs::relative(entry.path(), dir_).string());
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path dir_, out_;
  std::string good_cfg_;
};

std::string quote(const std::string& s) { return "'" + s + "'"; }

// A 24-bit uncompressed BMP (bottom-up rows padded to 4 bytes) of a colour gradient.
std::string make_bmp(int width, int height) {
  const int row = (width * 3 + 3) / 4 * 4;
  const uint32_t pixels = uint32_t(row * height), file_size = 54 + pixels;
  std::string b(54, '\0');
  auto put16 = [&](size_t at, uint16_t v) { std::memcpy(&b[at], &v, 2); };
  auto put32 = [&](size_t at, uint32_t v) { std::memcpy(&b[at], &v, 4); };
  b[0] = 'B';
  b[1] = 'M';
  put32(2, file_size);
  put32(10, 54);            // pixel data offset
  put32(14, 40);            // BITMAPINFOHEADER
  put32(18, uint32_t(width));
  put32(22, uint32_t(height));
  put16(26, 1);             // planes
  put16(28, 24);            // bits per pixel
  put32(30, 0);             // BI_RGB
  put32(34, pixels);
  put32(38, 2835);          // 72 dpi
  put32(42, 2835);
  for (int y = height - 1; y >= 0; --y) {
    std::string line(size_t(row), '\0');
    for (int x = 0; x < width; ++x) {
      line[size_t(3 * x + 0)] = char(uint8_t(255 * x / std::max(width - 1, 1)));   // B
      line[size_t(3 * x + 1)] = char(uint8_t(255 * y / std::max(height - 1, 1)));  // G
      line[size_t(3 * x + 2)] = char(uint8_t((x * 37 + y * 11) % 256));           // R
    }
    b += line;
  }
  return b;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---- exit codes and messages ----

TEST_F(Cli, BadCfgExitsOneWithFileLine) {
  const std::string bad = write("bad.cfg", kBadCfg);
  Result r = cli("info " + quote(bad));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "cspnet: error: " + bad + ":11: [route] key 'layers': expected an earlier layer"))
      << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST_F(Cli, MissingCfgExitsOne) {
  Result r = cli("info " + quote((dir_ / "nope.cfg").string()));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "nope.cfg: cannot open cfg file")) << r.err;
}

TEST_F(Cli, StrictTurnsUnusedKeyWarningIntoError) {
  const std::string cfg = write("extra.cfg", std::string(kGoodCfg) + "colour=blue\n");
  Result warn = cli("info " + quote(cfg));
  EXPECT_EQ(warn.code, 0) << warn.err;
  EXPECT_TRUE(contains(warn.err, "warning: " + cfg + ":27: [softmax] unused key 'colour'")) << warn.err;
  Result strict = cli("info --strict " + quote(cfg));
  EXPECT_EQ(strict.code, 1);
  EXPECT_TRUE(contains(strict.err, cfg + ":27: [softmax] unused key 'colour'")) << strict.err;
}

TEST_F(Cli, MalformedSizeOptionExitsTwo) {
  for (const char* size : {"12", "12x", "x12", "0x16", "16x-16", "16x16x3", "abc"}) {
    Result r = cli("info " + quote(good_cfg_) + " --size " + quote(size));
    EXPECT_EQ(r.code, 2) << "--size " << size << ": " << r.err;
    EXPECT_TRUE(contains(r.err, "--size")) << r.err;
  }
}

TEST_F(Cli, UnknownFlagExitsTwo) {
  Result r = cli("info " + quote(good_cfg_) + " --frobnicate");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "frobnicate")) << r.err;
}

TEST_F(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(cli("").code, 2);                                            // no subcommand
  EXPECT_EQ(cli("frobnicate").code, 2);                                  // unknown subcommand
  EXPECT_EQ(cli("info").code, 2);                                        // missing cfg
  EXPECT_EQ(cli("info " + quote(good_cfg_) + " --batch 0").code, 2);     // not positive
  EXPECT_EQ(cli("info " + quote(good_cfg_) + " --batch two").code, 2);   // not a number
  EXPECT_EQ(cli("--threads=-1 info " + quote(good_cfg_)).code, 2);       // library usage error
  EXPECT_EQ(cli("predict " + quote(good_cfg_)).code, 2);                 // missing image
}

// w*h*c = 2^64 wrapped to 0 and passed every check: bench crashed (SIGSEGV).
TEST_F(Cli, OverflowingInputSizeExitsOneInEveryCommand) {
  const std::string cfg = write("huge.cfg", "[net]\nwidth=4194304\nheight=2097152\nchannels=2097152\n[avgpool]\n[softmax]\n");
  for (const char* command : {"info", "bench", "bench --train"}) {
    Result r = cli(std::string(command) + " " + quote(cfg));
    EXPECT_EQ(r.code, 1) << command << ": " << r.err;
    EXPECT_TRUE(contains(r.err, cfg + ":1: [net]: input width*height*channels")) << command << ": " << r.err;
  }
}

// sscanf's %d wrapped 4294967324 to 28 (exit 0, run at 28x28) and 99999999999
// to a runtime error (exit 1): out-of-range sides are usage errors.
TEST_F(Cli, OutOfRangeSizeExitsTwo) {
  for (const char* size : {"4294967324x28", "99999999999x28", "28x2147483648", "28x+28", "28x 28"}) {
    Result r = cli("info " + quote(good_cfg_) + " --size " + quote(size));
    EXPECT_EQ(r.code, 2) << "--size " << size << ": " << r.err;
    EXPECT_TRUE(contains(r.err, "--size: expected WxH")) << r.err;
  }
  EXPECT_EQ(cli("export-cfg cspdarknet53 " + quote((dir_ / "z.cfg").string()) + " --size 4294967324x28").code, 2);
  EXPECT_EQ(cli("info " + quote(good_cfg_) + " --size 32x24").code, 0);
}

// 100000 threads overflowed libgomp's stack in bench (SIGSEGV); far more
// threads than cores only slow it down: a bound (usage error) and a warning.
TEST_F(Cli, ThreadsAreBoundedAndOversubscriptionWarns) {
  Result r = cli("--threads 100000 bench " + quote(good_cfg_) + " --runs 1 --warmup 0");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "--threads must be at most " +
                                  std::to_string(cspnet::kMaxThreadsPerCore * cspnet::hardware_threads())))
      << r.err;
  const std::string over = std::to_string(cspnet::hardware_threads() + 1);
  Result warned = cli("--threads " + over + " info " + quote(good_cfg_));
  EXPECT_EQ(warned.code, 0) << warned.err;
  EXPECT_TRUE(contains(warned.err, "warning: --threads " + over + " is more than the")) << warned.err;
  Result quiet = cli("--threads 1 info " + quote(good_cfg_));
  EXPECT_FALSE(contains(quiet.err, "warning")) << quiet.err;
}

// Global flags are accepted after the verb too, nested verbs included.
TEST_F(Cli, ThreadsFlagIsAcceptedAnywhere) {
  Result after = cli("info " + quote(good_cfg_) + " --threads 1");
  EXPECT_EQ(after.code, 0) << after.err;
  const std::string over = std::to_string(cspnet::hardware_threads() + 1);
  Result warned = cli("info " + quote(good_cfg_) + " --threads " + over);
  EXPECT_TRUE(contains(warned.err, "warning: --threads " + over)) << "the flag after the verb took effect: " << warned.err;
  Result nested = cli("detector calc_anchors fashion-mnist-scenes:40 --num 3 --size 64x64 --threads 1");
  EXPECT_EQ(nested.code, 0) << nested.err;
  EXPECT_EQ(cli("info " + quote(good_cfg_) + " --threads 0").code, 2);
}

// A --seed before the verb is the verb's own; a verb with nothing random
// says the flag does nothing.
TEST_F(Cli, GlobalSeedReachesTheVerbOrSaysItHasNoEffect) {
  const auto weights = [&](const std::string& name) { return quote((dir_ / name).string()); };
  ASSERT_EQ(cli("init " + quote(good_cfg_) + " " + weights("own.weights") + " --seed 9").code, 0);
  Result global = cli("--seed 9 init " + quote(good_cfg_) + " " + weights("global.weights"));
  ASSERT_EQ(global.code, 0) << global.err;
  EXPECT_TRUE(contains(global.out, "seed 9")) << global.out;
  EXPECT_EQ(read_file(dir_ / "global.weights"), read_file(dir_ / "own.weights"));
  Result verb_wins = cli("--seed 9 init " + quote(good_cfg_) + " " + weights("verb.weights") + " --seed 4");
  EXPECT_TRUE(contains(verb_wins.out, "seed 4")) << verb_wins.out;
  Result info = cli("info " + quote(good_cfg_) + " --seed 3");
  EXPECT_EQ(info.code, 0) << info.err;
  EXPECT_TRUE(contains(info.err, "--seed has no effect on 'info'")) << info.err;
  EXPECT_EQ(cli("--seed many info " + quote(good_cfg_)).code, 2);
}

// scripts/check-docs.sh's mode: the arguments are parsed, nothing runs.
TEST_F(Cli, CheckArgsModeParsesWithoutRunning) {
  const fs::path out = dir_ / "never";
  setenv("CSPNET_CHECK_ARGS", "1", 1);
  Result ok = cli("train no-such.cfg --epochs 3 --out " + quote(out.string()));
  Result bad = cli("train no-such.cfg --epoch 3");
  unsetenv("CSPNET_CHECK_ARGS");
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_TRUE(contains(ok.out, "arguments of 'train' OK")) << ok.out;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(bad.code, 2) << bad.err;
}

// ---- info ----

TEST_F(Cli, InfoPrintsTotalBflops) {
  Result r = cli("info " + quote(good_cfg_));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "Total BFLOPS")) << r.out;
  EXPECT_TRUE(contains(r.out, "Parameters")) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST_F(Cli, InfoJsonParses) {
  Result r = cli("info --json " + quote(good_cfg_) + " --size 32x24");
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(r.out)) << r.out;
  EXPECT_EQ(j["name"], "good");
  EXPECT_EQ(j["input"], nlohmann::json({1, 3, 24, 32}));
  ASSERT_EQ(j["layers"].size(), 5u);
  EXPECT_EQ(j["layers"][0]["type"], "conv");
  EXPECT_EQ(j["layers"][0]["output"], nlohmann::json({8, 24, 32}));
  EXPECT_EQ(j["layers"][1]["output"], nlohmann::json({8, 12, 16}));
  EXPECT_EQ(j["layers"][4]["output"], nlohmann::json({4, 1, 1}));
  // conv 3x3x3x8 + bias + BN scale, conv 1x1x8x4 + bias.
  EXPECT_EQ(j["parameters"], 8 * 27 + 16 + 4 * 8 + 4);
  EXPECT_GT(j["bflops"].get<double>(), 0.0);
  EXPECT_GT(j["peak_activation_bytes"].get<int64_t>(), 0);
}

// ---- init + predict ----

TEST_F(Cli, InitThenPredictWithDump) {
  const std::string weights = (dir_ / "good.weights").string();
  Result init = cli("init " + quote(good_cfg_) + " " + quote(weights) + " --seed 42");
  ASSERT_EQ(init.code, 0) << init.err;
  cspnet::Network net = cspnet::Network::from_cfg_file(good_cfg_);
  EXPECT_EQ(int64_t(fs::file_size(weights)), cspnet::expected_weights_bytes(net, cspnet::WeightsHeader{}));

  const std::string image = write("gradient.bmp", make_bmp(21, 13));
  const std::string npy = (dir_ / "out.npy").string();
  Result r = cli("predict " + quote(good_cfg_) + " " + quote(image) + " --weights " + quote(weights) + " --dump " +
                 quote(npy) + " --top 3");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "class ")) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;  // with --weights there is no random-parameters warning

  // A valid version 1.0 .npy: magic, header length, dict padded to 64 bytes, then 1x4x1x1 float32.
  const std::string bytes = read_file(npy);
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  uint16_t header_len = 0;
  std::memcpy(&header_len, &bytes[8], 2);
  ASSERT_GE(bytes.size(), 10u + header_len);
  const std::string header = bytes.substr(10, header_len);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_TRUE(contains(header, "'descr': '<f4'")) << header;
  EXPECT_TRUE(contains(header, "'fortran_order': False")) << header;
  EXPECT_TRUE(contains(header, "'shape': (1, 4, 1, 1)")) << header;
  ASSERT_EQ(bytes.size(), 10u + header_len + 4 * sizeof(float));
  float scores[4];
  std::memcpy(scores, &bytes[10 + header_len], sizeof scores);
  float sum = 0;
  for (float s : scores) {
    EXPECT_GE(s, 0.f);
    EXPECT_LE(s, 1.f);
    sum += s;
  }
  EXPECT_NEAR(sum, 1.f, 1e-5f);  // a softmax

  // Deterministic: the same weights and image give the same dump.
  const std::string npy2 = (dir_ / "again.npy").string();
  ASSERT_EQ(cli("predict " + quote(good_cfg_) + " " + quote(image) + " --weights " + quote(weights) + " --dump " +
                quote(npy2))
                .code,
            0);
  EXPECT_EQ(read_file(npy2), bytes);
}

TEST_F(Cli, QuantizeWritesATableThatBenchRunsInInt8AndBindsToTheWeights) {
  const std::string weights = (dir_ / "good.weights").string(), other = (dir_ / "other.weights").string();
  const std::string table = (dir_ / "good.q").string();
  ASSERT_EQ(cli("init " + quote(good_cfg_) + " " + quote(weights) + " --seed 3").code, 0);
  ASSERT_EQ(cli("init " + quote(good_cfg_) + " " + quote(other) + " --seed 4").code, 0);
  Result q = cli("quantize " + quote(good_cfg_) + " --weights " + quote(weights) +
                 " --data random --calibration 4 --method minmax --out " + quote(table));
  ASSERT_EQ(q.code, 0) << q.err;
  EXPECT_TRUE(contains(q.out, "wrote " + table + ": ")) << q.out;
  const cspnet::QuantizationTable t = cspnet::read_quantization_table(table);
  EXPECT_EQ(t.method, "minmax");
  EXPECT_EQ(t.images, 4);
  EXPECT_FALSE(t.inputs.empty());
  const std::string bench = "bench " + quote(good_cfg_) + " --runs 1 --warmup 0 --accuracy-inputs 2 --weights ";
  Result int8 = cli(bench + quote(weights) + " --precision int8 --quantization " + quote(table));
  ASSERT_EQ(int8.code, 0) << int8.err;
  EXPECT_TRUE(contains(int8.out, ", int8, ")) << int8.out;
  EXPECT_TRUE(contains(int8.out, "of the measured fp32 FMA peak")) << int8.out;
  // A VNNI CPU holds it against vpdpbusd as well; one without does not name it.
  EXPECT_EQ(contains(int8.out, "of the measured int8 vpdpbusd peak"),
            cspnet::has_dot_product(cspnet::DotProduct::int8_quads))
      << int8.out;
  EXPECT_TRUE(contains(int8.out, "int8 vs direct fp32 on 2 random inputs")) << int8.out;
  // Every activation in floats is the same arithmetic: the same deviation from fp32.
  Result wide = cli(bench + quote(weights) + " --precision int8 --fp32-activations --quantization " + quote(table));
  ASSERT_EQ(wide.code, 0) << wide.err;
  auto deviation = [](const std::string& out) {
    const size_t at = out.find("max |int8 - fp32| / max |fp32| = ");
    return at == std::string::npos ? std::string("(none)") : out.substr(at, out.find('\n', at) - at);
  };
  EXPECT_NE(deviation(int8.out), "(none)") << int8.out;
  EXPECT_EQ(deviation(int8.out), deviation(wide.out));
  // Misuse is a usage error; a table of other weights is refused by name.
  Result missing = cli(bench + quote(weights) + " --precision int8");
  EXPECT_EQ(missing.code, 2);
  EXPECT_TRUE(contains(missing.err, "--precision int8 needs --quantization")) << missing.err;
  Result stray = cli(bench + quote(weights) + " --quantization " + quote(table));
  EXPECT_EQ(stray.code, 2);
  EXPECT_TRUE(contains(stray.err, "--quantization applies to --precision int8 only")) << stray.err;
  Result foreign = cli(bench + quote(other) + " --precision int8 --quantization " + quote(table));
  EXPECT_EQ(foreign.code, 1);
  EXPECT_TRUE(contains(foreign.err, "calibrated with other weights")) << foreign.err;
  // A bad table names its line; nothing was written over it.
  write("bad.q", "cspnet-quantization 1\nlayers x\n");
  Result bad = cli(bench + quote(weights) + " --precision int8 --quantization " + quote((dir_ / "bad.q").string()));
  EXPECT_EQ(bad.code, 1);
  EXPECT_TRUE(contains(bad.err, "bad.q:2: expected the layer count as an integer, got 'x'")) << bad.err;
}

// --labels /dev/zero read 8.2 GB, dropped the labels and exited 0.
TEST_F(Cli, PredictWithNonRegularLabelsFileExitsOne) {
  const std::string image = write("gradient.bmp", make_bmp(21, 13));
  Result r = cli("predict " + quote(good_cfg_) + " " + quote(image) + " --labels /dev/zero");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "/dev/zero: not a regular file")) << r.err;
  EXPECT_TRUE(contains(r.err, "labels file")) << r.err;
}

TEST_F(Cli, PredictOnCorruptImageExitsOne) {
  const std::string image = write("corrupt.bmp", "BM this is not really a bitmap");
  Result r = cli("predict " + quote(good_cfg_) + " " + quote(image) + " --seed 3");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "cspnet: error: " + image + ": cannot decode image")) << r.err;
}

TEST_F(Cli, PredictOnImageWithAbsurdHeaderExitsOne) {
  std::string bmp = make_bmp(4, 4);
  const uint32_t huge = 100000;
  std::memcpy(&bmp[18], &huge, 4);
  std::memcpy(&bmp[22], &huge, 4);
  const std::string image = write("huge.bmp", bmp);
  Result r = cli("predict " + quote(good_cfg_) + " " + quote(image));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, image + ": ")) << r.err;
}

TEST_F(Cli, PredictWithMissingImageExitsOne) {
  Result r = cli("predict " + quote(good_cfg_) + " " + quote((dir_ / "none.png").string()));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "none.png: cannot open image: No such file or directory")) << r.err;
}

TEST_F(Cli, PredictWithTruncatedWeightsExitsOne) {
  const std::string weights = (dir_ / "good.weights").string();
  ASSERT_EQ(cli("init " + quote(good_cfg_) + " " + quote(weights)).code, 0);
  const std::string bytes = read_file(weights);
  const std::string cut = write("cut.weights", bytes.substr(0, bytes.size() - 10));
  const std::string image = write("gradient.bmp", make_bmp(8, 8));
  Result r = cli("predict " + quote(good_cfg_) + " " + quote(image) + " --weights " + quote(cut));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, cut + ": truncated at offset")) << r.err;
  EXPECT_TRUE(contains(r.err, "layer 2 (conv, " + good_cfg_ + ":18: [convolutional])")) << r.err;
}

TEST_F(Cli, InitWithUnwritablePathExitsOneAndLeavesNothing) {
  const auto before = listing();
  Result r = cli("init " + quote(good_cfg_) + " " + quote((dir_ / "no-such-dir" / "out.weights").string()));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "cspnet: error: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "no-such-dir/out.weights: cannot create")) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "no-such-dir"));
  EXPECT_EQ(listing(), before);

  // The output path is an existing directory: the write succeeds, the rename
  // fails, and the temporary file must be removed.
  fs::create_directory(dir_ / "taken");
  const auto with_dir = listing();
  Result r2 = cli("init " + quote(good_cfg_) + " " + quote((dir_ / "taken").string()));
  EXPECT_EQ(r2.code, 1);
  EXPECT_TRUE(contains(r2.err, "cannot rename")) << r2.err;
  EXPECT_EQ(listing(), with_dir);
}

TEST_F(Cli, PredictDumpToUnwritablePathExitsOneAndLeavesNothing) {
  const std::string image = write("gradient.bmp", make_bmp(8, 8));
  const auto before = listing();
  Result r = cli("predict " + quote(good_cfg_) + " " + quote(image) + " --dump " +
                 quote((dir_ / "no-such-dir" / "out.npy").string()));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "no-such-dir/out.npy: cannot create")) << r.err;
  EXPECT_EQ(listing(), before);
}

}  // namespace

namespace {

// `partial` keeps the first N layers: the written file is exactly those
// layers' weights, and loading it as a prefix fills them bit for bit.
TEST_F(Cli, PartialWritesTheFirstLayersWhichLoadAsAPrefix) {
  const std::string weights = (dir_ / "full.weights").string(), part = (dir_ / "part.weights").string();
  ASSERT_EQ(cli("init '" + good_cfg_ + "' '" + weights + "'").code, 0);
  Result r = cli("partial '" + good_cfg_ + "' '" + weights + "' '" + part + "' 1");
  ASSERT_EQ(r.code, 0) << r.err;
  cspnet::Network full = cspnet::Network::from_cfg_file(good_cfg_);
  cspnet::load_weights(full, weights);
  // 20-byte header + layer 0's 8 biases, 8 scales, 8 means, 8 variances and 3*3*3*8 weights.
  EXPECT_EQ(fs::file_size(part), 20u + 4u * (4 * 8 + 3 * 3 * 3 * 8));
  cspnet::Network net = cspnet::Network::from_cfg_file(good_cfg_);
  cspnet::init_weights(net, 99);
  const auto untouched = *net.layer(2).darknet_params()[0].values;
  EXPECT_EQ(cspnet::load_weights_prefix(net, part), 1);
  for (size_t k = 0; k < full.layer(0).darknet_params().size(); ++k)
    EXPECT_EQ(*net.layer(0).darknet_params()[k].values, *full.layer(0).darknet_params()[k].values);
  EXPECT_EQ(*net.layer(2).darknet_params()[0].values, untouched);
  // The full loader still refuses the short file; N past the network is misuse.
  EXPECT_THROW(cspnet::load_weights(net, part), cspnet::Error);
  EXPECT_EQ(cli("partial '" + good_cfg_ + "' '" + weights + "' '" + part + "' 9").code, 2);
}

// A file that ends inside a layer is not a prefix of whole layers.
TEST_F(Cli, PrefixWeightsEndingInsideALayerAreAnErrorNamingIt) {
  const std::string weights = (dir_ / "full.weights").string();
  ASSERT_EQ(cli("init '" + good_cfg_ + "' '" + weights + "'").code, 0);
  fs::resize_file(weights, 20 + 4 * 10);
  cspnet::Network net = cspnet::Network::from_cfg_file(good_cfg_);
  cspnet::tests::expect_error_mentioning([&] { cspnet::load_weights_prefix(net, weights); }, {weights, "end inside", "layer 0"});
}

}  // namespace

namespace {

TEST_F(Cli, AMisspeltCommandSuggestsTheRightOneAndExitsTwo) {
  Result r = cli("infp '" + good_cfg_ + "'");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown command 'infp'; did you mean 'info'?"), std::string::npos) << r.err;
  r = cli("--threads 1 zooo");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("did you mean 'zoo'?"), std::string::npos) << r.err;
}

TEST_F(Cli, AMisspeltCfgKeySuggestsTheKeyTheLayerReads) {
  const std::string cfg = write("typo.cfg", "[net]\nwidth=8\nheight=8\nchannels=1\n[convolutional]\nfiltres=4\nsize=3\n");
  Result r = cli("info '" + cfg + "'");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("typo.cfg:6: [convolutional] unused key 'filtres'; did you mean 'filters'?"), std::string::npos)
      << r.err;
  // A key far from every key the layer reads gets no guess.
  const std::string other = write("other.cfg", "[net]\nwidth=8\nheight=8\nchannels=1\n[maxpool]\ncolour=red\n");
  r = cli("info '" + other + "'");
  EXPECT_NE(r.err.find("unused key 'colour'"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("did you mean"), std::string::npos) << r.err;
}

// bench --train on a detector times full steps with the [yolo] loss on random
// boxes, and --dump-batch writes the batch a PyTorch peer trains on.
TEST_F(Cli, BenchTrainTimesADetectorOnRandomBoxes) {
  const std::string prefix = (dir_ / "batch").string();
  Result r = cli("--threads 2 bench " + quote(cspnet::tests::test_cfg("tiny_detector.cfg")) +
                 " --train --batch 4 --runs 2 --warmup 1 --boxes 3 --dump-batch " + quote(prefix));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "images/s")) << r.out;
  EXPECT_TRUE(contains(r.out, "targets: 3 random boxes per image")) << r.out;
  const nlohmann::json batch = nlohmann::json::parse(read_file(prefix + ".json"));
  ASSERT_EQ(batch["boxes"].size(), 4u);
  for (const auto& image : batch["boxes"]) {
    ASSERT_EQ(image.size(), 3u);
    for (const auto& box : image) {
      EXPECT_GT(box[2].get<double>(), 0.0);
      EXPECT_LE(box[0].get<double>() + box[2].get<double>() / 2, 1.0 + 1e-6);
      EXPECT_LT(box[4].get<int>(), 10);
    }
  }
  EXPECT_TRUE(fs::exists(prefix + ".npy"));
  EXPECT_EQ(cli("bench " + quote(good_cfg_) + " --dump-batch " + quote(prefix)).code, 2);  // --train only
}

TEST_F(Cli, VersionPrintsTheSemanticVersion) {
  Result r = cli("--version");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind(std::string("cspnet ") + cspnet::version() + " (with", 0), 0u) << r.out;
}

}  // namespace
