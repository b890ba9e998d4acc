// Native checkpoints: bit-exact round trips, and every kind of damage (flipped
// bytes, truncation, lying lengths, another network, a writer killed
// mid-write) gives a clear error or the previous checkpoint, never a crash.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "cspnet/cfg.hpp"
#include "cspnet/checkpoint.hpp"
#include "cspnet/error.hpp"
#include "cspnet/network.hpp"
#include "cspnet/optimizer.hpp"
#include "cspnet/weights.hpp"
#include "malformed_table.hpp"

namespace {

namespace fs = std::filesystem;
using cspnet::Network;
using cspnet::Optimizer;
using cspnet::OptimizerConfig;
using cspnet::OptimizerKind;
using cspnet::TrainerState;
using Bytes = std::vector<unsigned char>;

std::string small_cfg(int filters, const std::string& pool = "maxpool") {
  return "[net]\nwidth=8\nheight=8\nchannels=3\n\n"
         "[convolutional]\nbatch_normalize=1\nfilters=" + std::to_string(filters) +
         "\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
         "[" + pool + "]\nsize=2\nstride=2\n\n"
         "[connected]\noutput=5\nactivation=linear\n\n"
         "[softmax]\n";
}

// Two 3x3 convolutions of 256 channels: about 4.7 MB of parameters.
std::string large_cfg() {
  return "[net]\nwidth=4\nheight=4\nchannels=256\n\n"
         "[convolutional]\nbatch_normalize=1\nfilters=256\nsize=3\npad=1\nactivation=leaky\n\n"
         "[convolutional]\nbatch_normalize=1\nfilters=256\nsize=3\npad=1\nactivation=leaky\n";
}

Network build(const std::string& cfg, uint64_t seed) {
  Network net = Network::from_cfg(cspnet::parse_cfg_text(cfg, "ckpt.cfg"));
  cspnet::init_weights(net, seed);
  return net;
}

// Stand-in for the layers' trainable_params(): every array except the
// running statistics, with gradients owned here.
struct FakeGradients {
  std::vector<std::vector<float>> grads;
  std::vector<cspnet::TrainableParam> params;
  FakeGradients(Network& net, uint64_t seed) {
    std::mt19937 rng{uint32_t(seed)};
    std::uniform_real_distribution<float> uniform(-1.f, 1.f);
    std::vector<std::pair<std::string, std::vector<float>*>> arrays;
    for (int i = 0; i < net.size(); ++i)
      for (const auto& blob : net.layer(i).darknet_params())
        if (std::strcmp(blob.name, "rolling_mean") != 0 && std::strcmp(blob.name, "rolling_variance") != 0)
          arrays.emplace_back(blob.name, blob.values);
    grads.reserve(arrays.size());
    for (auto& [name, values] : arrays) {
      grads.emplace_back(values->size());
      for (float& g : grads.back()) g = uniform(rng);
      const bool decay = name == "weights";
      params.push_back({decay ? "weights" : "other", values, &grads.back(), decay});
    }
  }
};

std::vector<std::vector<float>> snapshot(Network& net) {
  std::vector<std::vector<float>> all;
  for (int i = 0; i < net.size(); ++i)
    for (const auto& blob : net.layer(i).darknet_params()) all.push_back(*blob.values);
  return all;
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

bool bit_equal(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!bit_equal(a[i], b[i])) return false;
  return true;
}

TrainerState sample_trainer_state() {
  TrainerState t;
  t.step = 1234;
  t.epoch = 7;
  t.batch_in_epoch = 89;
  t.seen = 1234 * 64;
  t.seed = 0xfeedfacecafebeefULL;
  t.rng_state = std::string("mt19937 state \0 with a NUL", 26);
  t.metadata = {{"cfg", "cfg/csp-fashion.cfg"}, {"data", "fashion-mnist"}};
  return t;
}

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

uint64_t get_u64(const Bytes& b, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(b[at + i]) << (8 * i);
  return v;
}

// Where a checkpoint's sections start: header 24 bytes, then per section
// tag(4) zero(4) length(8) payload.
struct SectionOffsets {
  size_t network = 24, optimizer = 0, trainer = 0;
  explicit SectionOffsets(const Bytes& b)
      : optimizer(network + 16 + get_u64(b, network + 8)), trainer(optimizer + 16 + get_u64(b, optimizer + 8)) {}
};

void set_u64(Bytes& b, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + i] = static_cast<unsigned char>(v >> (8 * i));
}

// Makes the trailer match the (edited) contents, so that only the structural
// checks stand between the edit and the parser.
void fix_checksum(Bytes& b) {
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), b.data(), uInt(b.size() - 4));
  for (int i = 0; i < 4; ++i) b[b.size() - 4 + i] = static_cast<unsigned char>(crc >> (8 * i));
}

// Offsets to probe in a file: dense near both ends, where the headers,
// the small sections and the checksum are, sparse in the parameter data.
size_t next_probe(size_t at, size_t size) { return at < 256 || at + 256 >= size ? 1 : 7; }

class Checkpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cspnet_checkpoint_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/run.ckpt";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // One optimiser step on seeded gradients, then a checkpoint at path_;
  // returns the file's bytes.
  Bytes save_after_one_step(Network& net, Optimizer& optimizer) {
    FakeGradients gradients(net, 2);
    optimizer.step(gradients.params, 0.01f);
    cspnet::save_checkpoint(path_, net, optimizer, sample_trainer_state());
    return read_bytes(path_);
  }

  // Expects load_checkpoint to throw a cspnet::Error mentioning every fragment,
  // and the network and optimizer to be exactly as they were.
  // With `case_name`, the message is also a row of docs/malformed-inputs.md.
  void expect_load_error(const std::string& path, Network& net, Optimizer& optimizer,
                         const std::vector<std::string>& fragments, const char* case_name = nullptr) {
    const auto params_before = snapshot(net);
    const auto state_before = optimizer.state();
    try {
      cspnet::load_checkpoint(path, net, optimizer);
      ADD_FAILURE() << "expected an error loading " << path;
    } catch (const cspnet::Error& e) {
      const std::string message = e.what();
      if (case_name) cspnet::test::record_malformed_row("checkpoint", case_name, message, dir_);
      for (const auto& fragment : fragments) EXPECT_NE(message.find(fragment), std::string::npos) << message;
    }
    EXPECT_TRUE(bit_equal(snapshot(net), params_before));
    EXPECT_TRUE(bit_equal(optimizer.state().slots, state_before.slots));
    EXPECT_EQ(optimizer.state().step, state_before.step);
  }

  std::string dir_, path_;
};

void round_trip(const std::string& path, OptimizerKind kind) {
  OptimizerConfig config;
  config.kind = kind;
  Network net = build(small_cfg(8), 1);
  Optimizer optimizer(config);
  FakeGradients gradients(net, 2);
  optimizer.step(gradients.params, 0.01f);
  optimizer.step(gradients.params, 0.01f);
  const TrainerState trainer = sample_trainer_state();
  cspnet::save_checkpoint(path, net, optimizer, trainer);
  const auto saved_params = snapshot(net);
  const auto saved_state = optimizer.state();

  // Move everything on, then come back.
  cspnet::init_weights(net, 3);
  optimizer.step(gradients.params, 0.01f);
  ASSERT_FALSE(bit_equal(snapshot(net), saved_params));
  const TrainerState loaded = cspnet::load_checkpoint(path, net, optimizer);
  EXPECT_TRUE(bit_equal(snapshot(net), saved_params));
  EXPECT_TRUE(bit_equal(optimizer.state().slots, saved_state.slots));
  EXPECT_EQ(optimizer.state().step, 2u);
  EXPECT_EQ(loaded, trainer);

  // A fresh network and optimizer from the same cfg load it too.
  Network fresh = build(small_cfg(8), 9);
  Optimizer fresh_optimizer(config);
  EXPECT_EQ(cspnet::load_checkpoint(path, fresh, fresh_optimizer), trainer);
  EXPECT_TRUE(bit_equal(snapshot(fresh), saved_params));
  EXPECT_TRUE(bit_equal(fresh_optimizer.state().slots, saved_state.slots));
}

TEST_F(Checkpoint, RoundTripIsBitExactForSgd) { round_trip(path_, OptimizerKind::sgd); }
TEST_F(Checkpoint, RoundTripIsBitExactForAdamW) { round_trip(path_, OptimizerKind::adamw); }

TEST_F(Checkpoint, SavingLeavesOnlyTheCheckpointAndReplacesAnOldOne) {
  Network net = build(small_cfg(8), 1);
  Optimizer optimizer(OptimizerConfig{});
  cspnet::save_checkpoint(path_, net, optimizer, {});
  cspnet::init_weights(net, 2);
  const auto second = snapshot(net);
  cspnet::save_checkpoint(path_, net, optimizer, sample_trainer_state());
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir_)) names.push_back(entry.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"run.ckpt"});
  cspnet::init_weights(net, 3);
  EXPECT_EQ(cspnet::load_checkpoint(path_, net, optimizer), sample_trainer_state());
  EXPECT_TRUE(bit_equal(snapshot(net), second));
}

TEST_F(Checkpoint, SavingIntoAMissingDirectoryIsAnError) {
  Network net = build(small_cfg(8), 1);
  Optimizer optimizer(OptimizerConfig{});
  EXPECT_THROW(cspnet::save_checkpoint(dir_ + "/no/such/dir/x.ckpt", net, optimizer, {}), cspnet::Error);
}

TEST_F(Checkpoint, MissingFileOrDirectoryIsAnError) {
  Network net = build(small_cfg(8), 1);
  Optimizer optimizer(OptimizerConfig{});
  expect_load_error(dir_ + "/absent.ckpt", net, optimizer, {"absent.ckpt", "cannot open"});
  expect_load_error(dir_, net, optimizer, {dir_, "not a regular file"});
}

TEST_F(Checkpoint, CorruptByteIsAChecksumError) {
  Network net = build(small_cfg(8), 1);
  Optimizer optimizer(OptimizerConfig{});
  const Bytes good = save_after_one_step(net, optimizer);
  ASSERT_GT(good.size(), 1000u);

  const std::string bad = dir_ + "/bad.ckpt";
  Bytes corrupt = good;
  corrupt[500] ^= 0x10;  // inside the first layer's weights
  write_bytes(bad, corrupt);
  cspnet::init_weights(net, 5);
  expect_load_error(bad, net, optimizer, {bad, "checksum mismatch", "offset " + std::to_string(good.size() - 4)});

  // Any single flipped byte, header and trailer included, is caught: every
  // byte of the first and last 256 (headers, trainer state, checksum) and
  // every 7th in between.
  for (size_t at = 0; at < good.size(); at += next_probe(at, good.size())) {
    corrupt = good;
    corrupt[at] ^= 0x5a;
    write_bytes(bad, corrupt);
    expect_load_error(bad, net, optimizer, {bad, "offset"});
    if (HasFailure()) {
      ADD_FAILURE() << "flipped byte at offset " << at;
      break;
    }
  }
}

TEST_F(Checkpoint, TruncationAtAnyPointIsAnErrorNotACrash) {
  Network net = build(small_cfg(8), 1);
  Optimizer optimizer(OptimizerConfig{});
  const Bytes good = save_after_one_step(net, optimizer);
  const std::string cut_path = dir_ + "/cut.ckpt";
  for (size_t cut = 0; cut < good.size(); cut += next_probe(cut, good.size())) {
    Bytes cut_bytes(good.begin(), good.begin() + std::ptrdiff_t(cut));
    write_bytes(cut_path, cut_bytes);
    expect_load_error(cut_path, net, optimizer, {cut_path, "offset"});
    // The same cut with the header's size and the checksum made consistent:
    // now the section lengths must catch it.
    if (cut >= 28) {
      set_u64(cut_bytes, 16, cut_bytes.size());
      fix_checksum(cut_bytes);
      write_bytes(cut_path, cut_bytes);
      expect_load_error(cut_path, net, optimizer, {cut_path, "offset"});
    }
    if (HasFailure()) {
      ADD_FAILURE() << "cut at " << cut << " of " << good.size();
      break;
    }
  }
}

TEST_F(Checkpoint, HugeLengthsAreRejectedBeforeAllocating) {
  Network net = build(small_cfg(8), 1);
  Optimizer optimizer(OptimizerConfig{});
  const Bytes good = save_after_one_step(net, optimizer);
  const SectionOffsets sections(good);
  const size_t network_at = sections.network, optimizer_at = sections.optimizer, trainer_at = sections.trainer;
  ASSERT_EQ(std::string(good.begin() + std::ptrdiff_t(optimizer_at), good.begin() + std::ptrdiff_t(optimizer_at) + 4),
            "OPTM");
  ASSERT_EQ(std::string(good.begin() + std::ptrdiff_t(trainer_at), good.begin() + std::ptrdiff_t(trainer_at) + 4),
            "TRNR");
  struct Lie {
    size_t at;
    uint64_t value;
    std::string fragment;
  };
  const std::vector<Lie> lies = {
      {network_at + 8, uint64_t{1} << 62, "NETW claims"},                // section length
      {network_at + 16 + 4, uint64_t{1} << 63, "layer 0 type"},          // first string length
      {optimizer_at + 16 + 12, uint64_t{1} << 61, "slot count"},         // number of optimizer slots
      {optimizer_at + 16 + 20, uint64_t{1} << 60, "optimizer slot 0"},   // floats in the first slot
      {trainer_at + 16 + 40, uint64_t{1} << 61, "rng state"},            // opaque RNG state length
      {16, uint64_t{1} << 40, "header says"},                            // total file size
  };
  const std::string bad = dir_ + "/lying.ckpt";
  for (const auto& lie : lies) {
    Bytes lying = good;
    set_u64(lying, lie.at, lie.value);
    fix_checksum(lying);
    write_bytes(bad, lying);
    // A bad_alloc (or any non-cspnet exception) fails the test.
    expect_load_error(bad, net, optimizer, {bad, "offset", lie.fragment});
  }
}

// Steps of 2^62 or 2^64-1 (-1 once the trainer casts it to int64) are
// refused with the checkpoint's name and the field's offset.
TEST_F(Checkpoint, HugeStepAndEpochCountersAreRejected) {
  Network net = build(small_cfg(8), 1);
  Optimizer optimizer(OptimizerConfig{});
  const Bytes good = save_after_one_step(net, optimizer);
  const SectionOffsets sections(good);
  const size_t optimizer_at = sections.optimizer, trainer_at = sections.trainer;
  const std::vector<std::pair<size_t, std::string>> counters = {
      {optimizer_at + 16 + 4, "optimizer step"}, {trainer_at + 16, "trainer step"},
      {trainer_at + 16 + 8, "trainer epoch"},    {trainer_at + 16 + 16, "trainer batch_in_epoch"},
      {trainer_at + 16 + 24, "trainer seen"}};
  const std::string bad = dir_ + "/huge.ckpt";
  for (const auto& [at, name] : counters)
    for (uint64_t value : {uint64_t{1} << 62, UINT64_MAX}) {
      Bytes lying = good;
      set_u64(lying, at, value);
      fix_checksum(lying);
      write_bytes(bad, lying);
      expect_load_error(bad, net, optimizer,
                        {bad, "offset " + std::to_string(at), name + " " + std::to_string(value) + " is beyond"});
    }
}

TEST_F(Checkpoint, WrongNetworkIsAnErrorNamingTheMismatch) {
  Network net = build(small_cfg(8), 1);
  Optimizer optimizer(OptimizerConfig{});
  cspnet::save_checkpoint(path_, net, optimizer, {});

  Network wider = build(small_cfg(16), 1);
  expect_load_error(path_, wider, optimizer, {path_, "layer 0", "biases", "8 values, expected 16"});

  Network other_type = build(small_cfg(8, "avgpool"), 1);
  expect_load_error(path_, other_type, optimizer, {path_, "layer 1", "'max'", "'avg'"});

  Network longer = build(small_cfg(8) + "\n[dropout]\nprobability=.5\n", 1);
  expect_load_error(path_, longer, optimizer, {path_, "4 layers", "has 5"});

  OptimizerConfig adamw_config;
  adamw_config.kind = OptimizerKind::adamw;
  Optimizer adamw(adamw_config);
  expect_load_error(path_, net, adamw, {path_, "sgd", "adamw"});
}

TEST_F(Checkpoint, NotACheckpointIsReportedAsSuch) {
  Network net = build(small_cfg(8), 1);
  Optimizer optimizer(OptimizerConfig{});
  cspnet::save_weights(net, path_);  // a darknet .weights file
  expect_load_error(path_, net, optimizer, {path_, "offset 0", "magic"});
  Bytes future = [&] {
    cspnet::save_checkpoint(path_, net, optimizer, {});
    return read_bytes(path_);
  }();
  future[8] = 2;  // version 2
  fix_checksum(future);
  write_bytes(path_, future);
  expect_load_error(path_, net, optimizer, {path_, "offset 8", "version 2"});
}

// One named case per kind of damage, each with the text it must give: the
// checkpoint table of docs/malformed-inputs.md (the tests above sweep every
// byte and cut; these are the representatives, with their messages).
TEST_F(Checkpoint, MalformedTable) {
  Network net = build(small_cfg(8), 1);
  Optimizer optimizer(OptimizerConfig{});
  const Bytes good = save_after_one_step(net, optimizer);
  const SectionOffsets sections(good);
  const size_t network_at = sections.network, optimizer_at = sections.optimizer, trainer_at = sections.trainer;
  auto cut = [&](size_t keep) { return Bytes(good.begin(), good.begin() + std::ptrdiff_t(keep)); };
  auto edited = [&](auto edit, bool checksum) {
    Bytes b = good;
    edit(b);
    if (checksum) fix_checksum(b);
    return b;
  };
  auto lie = [&](size_t at, uint64_t value) { return edited([&](Bytes& b) { set_u64(b, at, value); }, true); };
  auto flip = [&](size_t at) { return edited([&](Bytes& b) { b[at] ^= 0x10; }, false); };
  const std::string text = "this is a text file, not a cspnet checkpoint\n";
  auto says = [&](size_t size) {
    return "offset 16: the header says the checkpoint is " + std::to_string(good.size()) + " bytes, the file has " +
           std::to_string(size);
  };
  struct Case {
    const char* name;
    Bytes bytes;
    std::vector<std::string> expect;
  };
  // clang-format off
  const std::vector<Case> cases = {
      {"EmptyFile", {}, {"offset 0: 0 bytes is too short for a cspnet checkpoint"}},
      {"FourBytes", cut(4), {"offset 0: 4 bytes is too short for a cspnet checkpoint"}},
      {"HeaderOnly", cut(24), {"offset 0: 24 bytes is too short for a cspnet checkpoint"}},
      {"TextFile", Bytes(text.begin(), text.end()), {"offset 0: expected the magic 'CSPNCKPT'", "got 'this is '"}},
      {"CutInNetworkSection", cut(network_at + 100), {says(network_at + 100) + " (truncated)"}},
      {"CutInOptimizerSection", cut(optimizer_at + 20), {says(optimizer_at + 20) + " (truncated)"}},
      {"CutInTrainerSection", cut(trainer_at + 20), {says(trainer_at + 20) + " (truncated)"}},
      {"CutBeforeChecksum", cut(good.size() - 4), {says(good.size() - 4) + " (truncated)"}},
      {"CutInsideChecksum", cut(good.size() - 1), {says(good.size() - 1) + " (truncated)"}},
      {"ExtraByteAppended", [&] { Bytes b = good; b.push_back(0); return b; }(), {says(good.size() + 1) + " (extra bytes)"}},
      {"FlippedByteInWeights", flip(500), {"checksum mismatch", "offset " + std::to_string(good.size() - 4)}},
      {"FlippedMagicByte", flip(0), {"offset 0", "magic"}},
      {"FlippedChecksumByte", flip(good.size() - 1), {"checksum mismatch: stored 0x", "(the checkpoint is corrupt)"}},
      {"FutureVersion", edited([](Bytes& b) { b[8] = 2; }, true), {"offset 8: checkpoint format version 2, this build reads version 1"}},
      {"HeaderSizeOneShort", lie(16, good.size() - 1), {"offset 16: the header says the checkpoint is " + std::to_string(good.size() - 1) + " bytes, the file has " + std::to_string(good.size()) + " (extra bytes)"}},
      {"HeaderSizeHuge", lie(16, uint64_t{1} << 40), {"offset 16: the header says the checkpoint is 1099511627776 bytes"}},
      {"WrongSectionTag", edited([&](Bytes& b) { b[optimizer_at + 3] = 'X'; }, true),
       {"no OPTM (optimizer state) section"}},
      {"NetworkSectionHugeLength", lie(network_at + 8, uint64_t{1} << 62), {"offset", "NETW claims"}},
      {"LayerTypeHugeLength", lie(network_at + 16 + 4, uint64_t{1} << 63), {"offset", "layer 0 type"}},
      {"OptimizerSlotCountHuge", lie(optimizer_at + 16 + 12, uint64_t{1} << 61), {"offset", "slot count"}},
      {"OptimizerSlotFloatsHuge", lie(optimizer_at + 16 + 20, uint64_t{1} << 60), {"offset", "optimizer slot 0"}},
      {"RngStateHugeLength", lie(trainer_at + 16 + 40, uint64_t{1} << 61), {"offset", "rng state"}},
      {"OptimizerStepHuge", lie(optimizer_at + 16 + 4, uint64_t{1} << 62),
       {"offset " + std::to_string(optimizer_at + 16 + 4), "optimizer step 4611686018427387904 is beyond"}},
      {"TrainerStepMinusOne", lie(trainer_at + 16, UINT64_MAX),
       {"offset " + std::to_string(trainer_at + 16), "trainer step 18446744073709551615 is beyond"}},
      {"TrainerEpochHuge", lie(trainer_at + 16 + 8, uint64_t{1} << 62), {"trainer epoch 4611686018427387904 is beyond"}},
      {"TrainerBatchInEpochHuge", lie(trainer_at + 16 + 16, uint64_t{1} << 62),
       {"trainer batch_in_epoch 4611686018427387904 is beyond"}},
      {"TrainerSeenHuge", lie(trainer_at + 16 + 24, UINT64_MAX), {"trainer seen 18446744073709551615 is beyond"}},
  };
  // clang-format on
  // With the 8 below: at least 30, as docs/reliability.md promises per reader.
  EXPECT_GE(cases.size() + 8, 30u);
  const std::string bad = dir_ + "/bad.ckpt";
  for (const auto& c : cases) {
    write_bytes(bad, c.bytes);
    std::vector<std::string> expect = c.expect;
    expect.insert(expect.begin(), bad);
    expect_load_error(bad, net, optimizer, expect, c.name);
    if (HasFailure()) {
      ADD_FAILURE() << c.name;
      break;
    }
  }
  // Files that are not there, or not files, and checkpoints of another model.
  expect_load_error(dir_ + "/absent.ckpt", net, optimizer, {"absent.ckpt", "cannot open"}, "MissingFile");
  expect_load_error(dir_, net, optimizer, {dir_, "not a regular file"}, "Directory");
  expect_load_error("/dev/zero", net, optimizer, {"/dev/zero", "not a regular file"}, "DeviceFile");
  cspnet::save_weights(net, bad);
  expect_load_error(bad, net, optimizer, {bad, "offset 0", "magic"}, "DarknetWeightsFile");
  write_bytes(bad, good);
  Network wider = build(small_cfg(16), 1);
  expect_load_error(bad, wider, optimizer, {bad, "layer 0", "biases", "8 values, expected 16"}, "WiderNetwork");
  Network other_type = build(small_cfg(8, "avgpool"), 1);
  expect_load_error(bad, other_type, optimizer, {bad, "layer 1", "'max'", "'avg'"}, "OtherLayerType");
  Network longer = build(small_cfg(8) + "\n[dropout]\nprobability=.5\n", 1);
  expect_load_error(bad, longer, optimizer, {bad, "4 layers", "has 5"}, "MoreLayers");
  OptimizerConfig adamw_config;
  adamw_config.kind = OptimizerKind::adamw;
  Optimizer adamw(adamw_config);
  expect_load_error(bad, net, adamw, {bad, "sgd", "adamw"}, "OtherOptimizer");
}

// --- Killed writers -----------------------------------------------------------

int g_ready_fd = -1;

// Runs in the forked child: tell the parent we are mid-write, then wait to die.
void signal_and_hang() {
  const char byte = 'w';
  if (::write(g_ready_fd, &byte, 1) != 1) ::_exit(4);
  for (;;) ::pause();
}

TEST_F(Checkpoint, KillDuringWriteLeavesThePreviousCheckpoint) {
  Network net = build(large_cfg(), 1);
  Optimizer optimizer(OptimizerConfig{});
  FakeGradients gradients(net, 2);
  optimizer.step(gradients.params, 0.01f);
  const TrainerState previous = sample_trainer_state();
  cspnet::save_checkpoint(path_, net, optimizer, previous);
  const auto previous_params = snapshot(net);
  const auto previous_slots = optimizer.state().slots;

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    g_ready_fd = fds[1];
    cspnet::testing_hooks::checkpoint_mid_write = &signal_and_hang;
    // No optimizer step here: an OpenMP region in a child forked from a
    // process that already ran OpenMP can deadlock (libgomp is not fork-safe).
    try {
      cspnet::init_weights(net, 77);
      cspnet::save_checkpoint(path_, net, optimizer, TrainerState{});
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);  // the hook never returns: reaching this means it was not called
  }
  ::close(fds[1]);
  pollfd ready{fds[0], POLLIN, 0};
  const int polled = ::poll(&ready, 1, 30000);
  char byte = 0;
  const bool mid_write = polled == 1 && ::read(fds[0], &byte, 1) == 1 && byte == 'w';
  ::close(fds[0]);
  const std::string temp = path_ + ".tmp." + std::to_string(child);
  const bool temp_existed = fs::exists(temp);
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(mid_write) << "the child never reached the middle of its write (status " << status << ")";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_TRUE(temp_existed) << "the half-written temporary should exist while the writer hangs";

  Network reloaded = build(large_cfg(), 5);
  Optimizer reloaded_optimizer(OptimizerConfig{});
  EXPECT_EQ(cspnet::load_checkpoint(path_, reloaded, reloaded_optimizer), previous);
  EXPECT_TRUE(bit_equal(snapshot(reloaded), previous_params));
  EXPECT_TRUE(bit_equal(reloaded_optimizer.state().slots, previous_slots));
}

TEST_F(Checkpoint, KillAtRandomMomentsNeverLeavesATornCheckpoint) {
  Network net = build(large_cfg(), 1);
  Optimizer optimizer(OptimizerConfig{});
  TrainerState first;
  first.step = 1;
  cspnet::save_checkpoint(path_, net, optimizer, first);
  const auto first_params = snapshot(net);
  cspnet::init_weights(net, 2);
  const auto second_params = snapshot(net);
  TrainerState second;
  second.step = 2;

  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> delay_us(0, 40000);
  int saw_second = 0;
  for (int round = 0; round < 4; ++round) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      try {
        for (;;) cspnet::save_checkpoint(path_, net, optimizer, second);  // until killed
      } catch (...) {
        ::_exit(3);
      }
    }
    ::usleep(useconds_t(delay_us(rng)));
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(status)) << "the writer exited by itself: status " << status;

    Network reloaded = build(large_cfg(), 5);
    Optimizer reloaded_optimizer(OptimizerConfig{});
    const TrainerState loaded = cspnet::load_checkpoint(path_, reloaded, reloaded_optimizer);
    ASSERT_TRUE(loaded.step == 1 || loaded.step == 2) << loaded.step;
    EXPECT_TRUE(bit_equal(snapshot(reloaded), loaded.step == 1 ? first_params : second_params)) << "round " << round;
    saw_second += loaded.step == 2;
    fs::remove(path_ + ".tmp." + std::to_string(child));
  }
  RecordProperty("rounds_with_second_checkpoint", saw_second);
}

}  // namespace
