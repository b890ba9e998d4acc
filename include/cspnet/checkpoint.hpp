#pragma once
// Native training checkpoints: every parameter array of the network (in
// each layer's darknet_params() order, so batch-norm running statistics are
// included), the optimizer state and the trainer's position in the run.
//
// File format (all integers little-endian, floats IEEE-754 binary32 LE):
//   offset 0   8 bytes  magic "CSPNCKPT"
//          8   u32      format version (kCheckpointVersion)
//         12   u32      number of sections
//         16   u64      total file size in bytes (trailer included)
//         24   sections, each: u32 tag, u32 zero, u64 payload bytes, payload
//   last 4     u32      CRC-32 (zlib's crc32) of every byte before it
// Sections (version 1, in this order; unknown tags are skipped):
//   "NETW" u32 layers; per layer: str type, u32 arrays; per array:
//          str name, u64 count, count floats
//   "OPTM" u32 kind (0 sgd, 1 adamw), u64 step, u64 slots; per slot:
//          u64 count, count floats
//   "TRNR" u64 step, epoch, batch_in_epoch, seen, seed; str rng_state;
//          u64 entries; per entry: str key, str value
//   where str = u64 length + bytes.
#include <cstdint>
#include <map>
#include <string>

#include "cspnet/network.hpp"
#include "cspnet/optimizer.hpp"

namespace cspnet {

constexpr uint32_t kCheckpointVersion = 1;

// Where a training run stands.
struct TrainerState {
  uint64_t step = 0;            // optimizer updates done
  uint64_t epoch = 0;
  uint64_t batch_in_epoch = 0;  // batches of the current epoch already done
  uint64_t seen = 0;            // images seen (darknet's `seen`)
  uint64_t seed = 0;            // the run's seed
  std::string rng_state;        // opaque: whatever the trainer needs to resume its random streams
  std::map<std::string, std::string> metadata;  // e.g. "cfg" -> path

  bool operator==(const TrainerState&) const = default;
};

// Writes the checkpoint to `path`.tmp.<pid>, checks every write, flushes and
// fsyncs it, renames it over `path` and fsyncs the directory: `path` is
// always either the previous checkpoint or the new one, never a partial
// file. Throws cspnet::Error (and removes the temporary) on failure.
void save_checkpoint(const std::string& path, Network& net, const Optimizer& optimizer, const TrainerState& trainer);

// Reads `path` into the network's parameters and the optimizer's state and
// returns the trainer state. Validates magic, version, file size and
// checksum, every length against the bytes left before allocating, and the
// layer/array counts, types, names and sizes against `net`; the optimizer
// state must be of the optimizer's kind (its sizes are checked against the
// parameters at the optimizer's next step()). Errors name the file, the byte
// offset and what was expected. On error `net` and `optimizer` are unchanged.
TrainerState load_checkpoint(const std::string& path, Network& net, Optimizer& optimizer);

// Test-only: when set, save_checkpoint() calls it once the parameters are
// written to the temporary file and before anything is flushed or renamed,
// so that a test can kill the writer mid-write deterministically.
namespace testing_hooks {
extern void (*checkpoint_mid_write)();
}

}  // namespace cspnet
