// libFuzzer target: the fuzz bytes as a native checkpoint (load_checkpoint)
// for a fixed small network, with an SGD and an AdamW optimizer.
//
// The reader checksums the whole file and compares the header's file size
// before it parses anything, so almost every mutation would stop there. The
// harness therefore fixes both up first (file size at offset 16, CRC-32 in
// the last 4 bytes), exactly as a writer would, so the mutations reach the
// section parser. A cspnet::Error is the expected outcome for bad input;
// any other exception, a sanitizer report or a crash is a bug. Checked as
// well: a failed load leaves the parameters untouched, and the optimizer
// state a successful load installs is either usable by step() or refused by
// it with an Error.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cspnet/checkpoint.hpp"
#include "cspnet/cspnet.hpp"
#include "cspnet/training.hpp"
#include "fuzz_util.hpp"

namespace {


cspnet::Network& network() {
  static cspnet::Network net = [] {
    cspnet::Network n = cspnet::Network::from_cfg(cspnet::parse_cfg_text(fuzz::kParameterNetCfg, "fuzz.cfg"));
    cspnet::init_weights(n, 1);
    // Zero gradients: lets the optimizer step (as the trainer would after a
    // resume) without a training executor.
    for (const cspnet::TrainableParam& p : cspnet::all_trainable_params(n)) p.grads->assign(p.values->size(), 0.f);
    return n;
  }();
  return net;
}

std::vector<float> snapshot(cspnet::Network& net) {
  std::vector<float> values;
  for (int i = 0; i < net.size(); ++i)
    for (const auto& blob : net.layer(i).darknet_params())
      values.insert(values.end(), blob.values->begin(), blob.values->end());
  return values;
}

cspnet::OptimizerConfig config_of(cspnet::OptimizerKind kind) {
  cspnet::OptimizerConfig config;
  config.kind = kind;
  return config;
}

void put_le(std::string& bytes, size_t at, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) bytes[at + size_t(i)] = char(value >> (8 * i));
}

// What a writer would have put in the size field and the trailer.
void fix_up(std::string& bytes) {
  if (bytes.size() < 28) return;  // shorter than header + checksum: the reader says so
  put_le(bytes, 16, bytes.size(), 8);
  const size_t data = bytes.size() - 4;
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), uInt(data));
  put_le(bytes, data, crc, 4);
}

// Seeds from save_checkpoint itself: fresh and stepped optimizers of both
// kinds, and trainer states with and without metadata.
void write_seeds(const std::string& dir) {
  cspnet::Network& net = network();
  const auto params = cspnet::all_trainable_params(net);
  int n = 0;
  for (cspnet::OptimizerKind kind : {cspnet::OptimizerKind::sgd, cspnet::OptimizerKind::adamw})
    for (int steps : {0, 1}) {
      cspnet::Optimizer optimizer(config_of(kind));
      for (int s = 0; s < steps; ++s) optimizer.step(params, 0.01f);
      cspnet::TrainerState state;
      state.step = uint64_t(steps);
      state.epoch = 1;
      state.seen = 64;
      state.seed = 7;
      if (steps > 0) state.metadata = {{"cfg", "fuzz.cfg"}, {"data", "fashion-mnist"}};
      state.rng_state = steps > 0 ? "rng" : "";
      cspnet::save_checkpoint(dir + "/seed" + std::to_string(n++) + ".cspnet", net, optimizer, state);
    }
  cspnet::init_weights(net, 1);
}

void load_with(cspnet::OptimizerKind kind, const std::string& path) {
  cspnet::Network& net = network();
  cspnet::Optimizer optimizer(config_of(kind));
  const std::vector<float> before = snapshot(net);
  try {
    cspnet::load_checkpoint(path, net, optimizer);
  } catch (const cspnet::Error&) {
    const std::vector<float> after = snapshot(net);
    if (after.size() != before.size() || std::memcmp(after.data(), before.data(), after.size() * sizeof(float)) != 0)
      __builtin_trap();  // "on error net and optimizer are unchanged"
    return;
  }
  try {
    optimizer.step(cspnet::all_trainable_params(net), 0.f);  // the sizes are checked here
  } catch (const cspnet::Error&) {
    // a state of the wrong shape, refused
  }
  cspnet::init_weights(net, 1);  // the next input starts from the same parameters
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const std::string dir = fuzz::seed_dir(); !dir.empty()) write_seeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemoryFile file("fuzz.cspnet");
  std::string bytes(fuzz::as_text(data, size));
  fix_up(bytes);
  const std::string& path = file.write(bytes);
  load_with(cspnet::OptimizerKind::sgd, path);
  load_with(cspnet::OptimizerKind::adamw, path);
  return 0;
}
