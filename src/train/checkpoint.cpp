#include "cspnet/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <vector>

#include "cspnet/error.hpp"
#include "cspnet/file_input.hpp"
#include "core/crc32_update.hpp"
#include "io/file_output.hpp"

namespace cspnet {

namespace testing_hooks {
void (*checkpoint_mid_write)() = nullptr;
}

namespace {

constexpr std::array<char, 8> kMagic = {'C', 'S', 'P', 'N', 'C', 'K', 'P', 'T'};
constexpr uint64_t kHeaderBytes = 24;
constexpr uint64_t kSectionHeaderBytes = 16;
constexpr uint64_t kTrailerBytes = 4;
constexpr uint64_t kMaxTypeNameBytes = 256;  // layer types and array names are short

using Tag = std::array<char, 4>;
constexpr Tag kNetworkTag = {'N', 'E', 'T', 'W'};
constexpr Tag kOptimizerTag = {'O', 'P', 'T', 'M'};
constexpr Tag kTrainerTag = {'T', 'R', 'N', 'R'};

std::string tag_text(const Tag& tag) {
  std::string text;
  for (char ch : tag) {
    if (ch >= 0x20 && ch < 0x7f) {
      text.push_back(ch);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", unsigned(static_cast<unsigned char>(ch)));
      text += hex;
    }
  }
  return text;
}

std::string layer_label(const Layer& layer) {
  return "layer " + std::to_string(layer.index()) + " (" + std::string(layer.type()) + ", " + layer.where() + ")";
}

// ---- Writing ----------------------------------------------------------------

// Serialisation runs twice over the same code: once to count bytes (section
// lengths and the total size go before the data), once to write.
struct ByteCounter {
  uint64_t bytes = 0;
  void put(const void*, size_t n) { bytes += n; }
};

class FileSink {
 public:
  explicit FileSink(AtomicFileWriter& file) : file_(file) {}
  void put(const void* data, size_t n) {
    file_.write(data, n);
    crc_ = crc32_update(crc_, data, n);
    offset_ += n;
  }
  uLong crc() const { return crc_; }
  uint64_t offset() const { return offset_; }

 private:
  AtomicFileWriter& file_;
  uLong crc_ = crc32(0L, Z_NULL, 0);
  uint64_t offset_ = 0;
};

template <class Out>
void put_u32(Out& out, uint32_t v) {
  unsigned char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
  out.put(b, 4);
}

template <class Out>
void put_u64(Out& out, uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
  out.put(b, 8);
}

template <class Out>
void put_string(Out& out, const std::string& s) {
  put_u64(out, s.size());
  out.put(s.data(), s.size());
}

template <class Out>
void put_floats(Out& out, const std::vector<float>& values) {
  put_u64(out, values.size());
  if constexpr (std::endian::native == std::endian::little) {
    out.put(values.data(), values.size() * 4);
  } else {
    for (float v : values) put_u32(out, std::bit_cast<uint32_t>(v));
  }
}

template <class Out>
void put_network(Out& out, Network& net) {
  put_u32(out, uint32_t(net.size()));
  for (int i = 0; i < net.size(); ++i) {
    Layer& layer = net.layer(i);
    auto blobs = layer.darknet_params();
    put_string(out, std::string(layer.type()));
    put_u32(out, uint32_t(blobs.size()));
    for (const auto& blob : blobs) {
      put_string(out, blob.name);
      put_floats(out, *blob.values);
    }
  }
}

template <class Out>
void put_optimizer(Out& out, const OptimizerState& state) {
  put_u32(out, state.kind == OptimizerKind::adamw ? 1 : 0);
  put_u64(out, state.step);
  put_u64(out, state.slots.size());
  for (const auto& slot : state.slots) put_floats(out, slot);
}

template <class Out>
void put_trainer(Out& out, const TrainerState& t) {
  put_u64(out, t.step);
  put_u64(out, t.epoch);
  put_u64(out, t.batch_in_epoch);
  put_u64(out, t.seen);
  put_u64(out, t.seed);
  put_string(out, t.rng_state);
  put_u64(out, t.metadata.size());
  for (const auto& [key, value] : t.metadata) {
    put_string(out, key);
    put_string(out, value);
  }
}

template <class Out>
void put_section_header(Out& out, const Tag& tag, uint64_t payload_bytes) {
  out.put(tag.data(), tag.size());
  put_u32(out, 0);
  put_u64(out, payload_bytes);
}

// Makes the rename durable. Filesystems that cannot sync a directory say EINVAL.
void sync_directory(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": written, but cannot open its directory to sync it: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int saved_errno = errno;
  ::close(fd);
  if (rc != 0 && saved_errno != EINVAL)
    throw Error(path + ": written, but syncing its directory failed: " + std::strerror(saved_errno));
}

// ---- Reading ----------------------------------------------------------------

class Reader {
 public:
  Reader(FILE* file, const std::string& path, uint64_t data_end) : file_(file), path_(path), limit_(data_end) {}

  uint64_t offset() const { return offset_; }
  uint64_t remaining() const { return limit_ - offset_; }
  uLong crc() const { return crc_; }
  void set_limit(uint64_t limit) { limit_ = limit; }
  void restart_at(uint64_t offset, uLong crc) {
    if (std::fseek(file_, long(offset), SEEK_SET) != 0) fail("cannot seek: " + std::string(std::strerror(errno)));
    offset_ = offset;
    crc_ = crc;
  }

  [[noreturn]] void fail(const std::string& what) const { fail_at(offset_, what); }
  [[noreturn]] void fail_at(uint64_t offset, const std::string& what) const {
    throw Error(path_ + ": offset " + std::to_string(offset) + ": " + what);
  }

  void get(void* data, size_t n, const std::string& what) {
    if (n > remaining())
      fail(what + ": expected " + std::to_string(n) + " bytes, only " + std::to_string(remaining()) +
           " left in the " + (limit_is_section_ ? "section" : "file"));
    if (n > 0 && std::fread(data, 1, n, file_) != n)
      fail(what + ": read error" + (std::ferror(file_) ? ": " + std::string(std::strerror(errno)) : " (file shrank?)"));
    crc_ = crc32_update(crc_, data, n);
    offset_ += n;
  }
  uint32_t u32(const std::string& what) {
    unsigned char b[4];
    get(b, 4, what);
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t(b[i]) << (8 * i);
    return v;
  }
  uint64_t u64(const std::string& what) {
    unsigned char b[8];
    get(b, 8, what);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(b[i]) << (8 * i);
    return v;
  }
  // A step/epoch/image count. The trainer does signed arithmetic on them
  // (step * subdivisions, passes per epoch): 2^64-1 became -1. 2^40 is
  // beyond any run (35 years at 1000 steps/s).
  uint64_t counter(const std::string& what) {
    const uint64_t at = offset_, v = u64(what);
    if (v > kMaxCounter)
      fail_at(at, what + " " + std::to_string(v) + " is beyond the supported " + std::to_string(kMaxCounter) +
                      " (a corrupt or crafted checkpoint)");
    return v;
  }
  static constexpr uint64_t kMaxCounter = uint64_t{1} << 40;
  std::string string(const std::string& what, uint64_t max_bytes) {
    const uint64_t at = offset_;
    const uint64_t n = u64(what + " length");
    if (n > remaining() || n > max_bytes)
      fail_at(at, what + ": length " + std::to_string(n) + " exceeds the " +
                      std::to_string(std::min(remaining(), max_bytes)) + " bytes allowed here");
    std::string s(size_t(n), '\0');
    get(s.data(), s.size(), what);
    return s;
  }
  // A u64 count followed by that many floats; the count is checked against
  // the bytes left before anything is allocated.
  std::vector<float> floats(const std::string& what, uint64_t expected_count = UINT64_MAX) {
    const uint64_t at = offset_;
    const uint64_t n = u64(what + " count");
    if (expected_count != UINT64_MAX && n != expected_count)
      fail_at(at, what + ": the checkpoint has " + std::to_string(n) + " values, expected " +
                      std::to_string(expected_count));
    if (n > remaining() / 4)
      fail_at(at, what + ": " + std::to_string(n) + " values (" + std::to_string(n) + " x 4 bytes) but only " +
                      std::to_string(remaining()) + " bytes are left in the section");
    std::vector<float> values(static_cast<size_t>(n));
    get(values.data(), values.size() * 4, what);
    if constexpr (std::endian::native != std::endian::little)
      for (float& v : values) {
        const uint32_t u = std::bit_cast<uint32_t>(v);
        v = std::bit_cast<float>((u >> 24) | ((u >> 8) & 0xff00u) | ((u << 8) & 0xff0000u) | (u << 24));
      }
    return values;
  }
  void skip(uint64_t n, const std::string& what) {
    std::vector<char> buffer(size_t(std::min<uint64_t>(n, 1 << 20)));
    while (n > 0) {
      const size_t chunk = size_t(std::min<uint64_t>(n, buffer.size()));
      get(buffer.data(), chunk, what);
      n -= chunk;
    }
  }
  void set_section_mode(bool in_section) { limit_is_section_ = in_section; }

 private:
  FILE* file_;
  const std::string& path_;
  uint64_t limit_;
  uint64_t offset_ = 0;
  bool limit_is_section_ = false;
  uLong crc_ = crc32(0L, Z_NULL, 0);
};

struct ParsedNetwork {
  std::vector<std::vector<float>*> targets;
  std::vector<std::vector<float>> values;
};

ParsedNetwork read_network(Reader& in, Network& net) {
  ParsedNetwork parsed;
  const uint64_t at = in.offset();
  const uint32_t layers = in.u32("layer count");
  if (layers != uint32_t(net.size()))
    in.fail_at(at, "the checkpoint has " + std::to_string(layers) + " layers, the network " + net.name() + " has " +
                       std::to_string(net.size()) + " (a checkpoint of a different cfg?)");
  for (int i = 0; i < net.size(); ++i) {
    Layer& layer = net.layer(i);
    const std::string label = layer_label(layer);
    const uint64_t type_at = in.offset();
    const std::string type = in.string("layer " + std::to_string(i) + " type", kMaxTypeNameBytes);
    if (type != layer.type())
      in.fail_at(type_at, label + ": the checkpoint has a '" + type + "' layer here, the network a '" +
                              std::string(layer.type()) + "'");
    auto blobs = layer.darknet_params();
    const uint64_t count_at = in.offset();
    const uint32_t arrays = in.u32(label + " array count");
    if (arrays != blobs.size())
      in.fail_at(count_at, label + ": the checkpoint has " + std::to_string(arrays) + " parameter arrays, expected " +
                               std::to_string(blobs.size()));
    for (const auto& blob : blobs) {
      const uint64_t name_at = in.offset();
      const std::string name = in.string(label + " array name", kMaxTypeNameBytes);
      if (name != blob.name)
        in.fail_at(name_at, label + ": the checkpoint has array '" + name + "' here, expected '" + blob.name + "'");
      parsed.values.push_back(in.floats(label + " " + blob.name, blob.values->size()));
      parsed.targets.push_back(blob.values);
    }
  }
  return parsed;
}

OptimizerState read_optimizer(Reader& in, const Optimizer& optimizer) {
  OptimizerState state;
  const uint64_t kind_at = in.offset();
  const uint32_t kind = in.u32("optimizer kind");
  if (kind > 1) in.fail_at(kind_at, "optimizer kind " + std::to_string(kind) + ": expected 0 (sgd) or 1 (adamw)");
  state.kind = kind == 1 ? OptimizerKind::adamw : OptimizerKind::sgd;
  if (state.kind != optimizer.config().kind)
    in.fail_at(kind_at, "the checkpoint's optimizer state is " + std::string(optimizer_kind_name(state.kind)) +
                            ", but this run uses " + std::string(optimizer_kind_name(optimizer.config().kind)));
  state.step = in.counter("optimizer step");
  const uint64_t slots_at = in.offset();
  const uint64_t slots = in.u64("optimizer slot count");
  if (slots > in.remaining() / 8)
    in.fail_at(slots_at, "optimizer slot count " + std::to_string(slots) + " needs at least " +
                             std::to_string(slots) + " x 8 bytes, only " + std::to_string(in.remaining()) +
                             " are left in the section");
  const uint64_t per_value = uint64_t(Optimizer::slots_per_value(state.kind));
  state.slots.reserve(size_t(slots));
  for (uint64_t i = 0; i < slots; ++i) {
    const uint64_t at = in.offset();
    state.slots.push_back(in.floats("optimizer slot " + std::to_string(i)));
    if (state.slots.back().size() % per_value != 0)
      in.fail_at(at, "optimizer slot " + std::to_string(i) + " has " + std::to_string(state.slots.back().size()) +
                         " floats, expected a multiple of " + std::to_string(per_value));
  }
  return state;
}

TrainerState read_trainer(Reader& in) {
  TrainerState t;
  t.step = in.counter("trainer step");
  t.epoch = in.counter("trainer epoch");
  t.batch_in_epoch = in.counter("trainer batch_in_epoch");
  t.seen = in.counter("trainer seen");
  t.seed = in.u64("trainer seed");
  t.rng_state = in.string("trainer rng state", UINT64_MAX);
  const uint64_t entries_at = in.offset();
  const uint64_t entries = in.u64("metadata entry count");
  if (entries > in.remaining() / 16)
    in.fail_at(entries_at, "metadata entry count " + std::to_string(entries) + " needs at least " +
                               std::to_string(entries) + " x 16 bytes, only " + std::to_string(in.remaining()) +
                               " are left in the section");
  for (uint64_t i = 0; i < entries; ++i) {
    std::string key = in.string("metadata key", UINT64_MAX);
    std::string value = in.string("metadata value", UINT64_MAX);
    t.metadata[std::move(key)] = std::move(value);
  }
  return t;
}

std::string hex32(uLong v) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08lx", static_cast<unsigned long>(v & 0xffffffffUL));
  return text;
}

}  // namespace

void save_checkpoint(const std::string& path, Network& net, const Optimizer& optimizer, const TrainerState& trainer) {
  ByteCounter network_bytes, optimizer_bytes, trainer_bytes;
  put_network(network_bytes, net);
  put_optimizer(optimizer_bytes, optimizer.state());
  put_trainer(trainer_bytes, trainer);
  const uint64_t total = kHeaderBytes + 3 * kSectionHeaderBytes + network_bytes.bytes + optimizer_bytes.bytes +
                         trainer_bytes.bytes + kTrailerBytes;

  AtomicFileWriter file(path);
  FileSink out(file);
  out.put(kMagic.data(), kMagic.size());
  put_u32(out, kCheckpointVersion);
  put_u32(out, 3);
  put_u64(out, total);
  put_section_header(out, kNetworkTag, network_bytes.bytes);
  put_network(out, net);
  if (testing_hooks::checkpoint_mid_write) testing_hooks::checkpoint_mid_write();
  put_section_header(out, kOptimizerTag, optimizer_bytes.bytes);
  put_optimizer(out, optimizer.state());
  put_section_header(out, kTrainerTag, trainer_bytes.bytes);
  put_trainer(out, trainer);
  const uLong crc = out.crc();
  put_u32(out, uint32_t(crc));
  if (out.offset() != total)
    throw Error(path + ": internal error: wrote " + std::to_string(out.offset()) + " bytes, planned " +
                std::to_string(total));
  file.commit();
  sync_directory(path);
}

TrainerState load_checkpoint(const std::string& path, Network& net, Optimizer& optimizer) {
  const InputFile file = open_regular_file(path, "cspnet checkpoint");
  FILE* raw = file.file.get();
  const uint64_t file_size = file.size;
  if (file_size < kHeaderBytes + kTrailerBytes)
    throw Error(path + ": offset 0: " + std::to_string(file_size) + " bytes is too short for a cspnet checkpoint (" +
                std::to_string(kHeaderBytes + kTrailerBytes) + " bytes of header and checksum at least)");
  const uint64_t data_end = file_size - kTrailerBytes;
  Reader in(raw, path, data_end);

  std::array<char, 8> magic{};
  in.get(magic.data(), magic.size(), "magic");
  if (magic != kMagic)
    in.fail_at(0, "expected the magic 'CSPNCKPT' of a cspnet checkpoint, got '" +
                      tag_text({magic[0], magic[1], magic[2], magic[3]}) +
                      tag_text({magic[4], magic[5], magic[6], magic[7]}) + "'");
  const uint32_t version = in.u32("version");
  if (version != kCheckpointVersion)
    in.fail_at(8, "checkpoint format version " + std::to_string(version) + ", this build reads version " +
                      std::to_string(kCheckpointVersion));
  const uint32_t sections = in.u32("section count");
  const uint64_t declared_size = in.u64("file size");
  if (declared_size != file_size)
    in.fail_at(16, "the header says the checkpoint is " + std::to_string(declared_size) + " bytes, the file has " +
                       std::to_string(file_size) + (file_size < declared_size ? " (truncated)" : " (extra bytes)"));

  // Checksum everything first, so that corruption is reported as such rather
  // than as whatever field it happened to hit.
  const uLong header_crc = in.crc();
  {
    uLong crc = header_crc;
    uint64_t left = data_end - kHeaderBytes;
    // At most 1 MiB at a time; no more than the file holds (a small
    // checkpoint is not worth zeroing a megabyte for).
    std::vector<char> buffer(size_t(std::min<uint64_t>(left, 1 << 20)));
    while (left > 0) {
      const size_t chunk = size_t(std::min<uint64_t>(left, buffer.size()));
      if (std::fread(buffer.data(), 1, chunk, raw) != chunk)
        in.fail_at(data_end - left, "read error while checksumming (file shrank?)");
      crc = crc32_update(crc, buffer.data(), chunk);
      left -= chunk;
    }
    unsigned char b[4];
    if (std::fread(b, 1, 4, raw) != 4) in.fail_at(data_end, "read error in the checksum");
    const uLong stored = uLong(b[0]) | uLong(b[1]) << 8 | uLong(b[2]) << 16 | uLong(b[3]) << 24;
    if (stored != crc)
      in.fail_at(data_end, "checksum mismatch: stored " + hex32(stored) + ", computed " + hex32(crc) + " over bytes 0.." +
                               std::to_string(data_end) + " (the checkpoint is corrupt)");
  }
  in.restart_at(kHeaderBytes, header_crc);

  std::optional<ParsedNetwork> network;
  std::optional<OptimizerState> optimizer_state;
  std::optional<TrainerState> trainer;
  for (uint32_t s = 0; s < sections; ++s) {
    const uint64_t section_at = in.offset();
    Tag tag{};
    in.get(tag.data(), tag.size(), "section " + std::to_string(s) + " tag");
    in.u32("section " + tag_text(tag) + " reserved word");
    const uint64_t length = in.u64("section " + tag_text(tag) + " length");
    if (length > in.remaining())
      in.fail_at(section_at + 8, "section " + tag_text(tag) + " claims " + std::to_string(length) + " bytes, only " +
                                     std::to_string(in.remaining()) + " are left before the checksum");
    const uint64_t section_end = in.offset() + length;
    in.set_limit(section_end);
    in.set_section_mode(true);
    auto once = [&](bool seen) {
      if (seen) in.fail_at(section_at, "a second " + tag_text(tag) + " section");
    };
    if (tag == kNetworkTag) {
      once(network.has_value());
      network = read_network(in, net);
    } else if (tag == kOptimizerTag) {
      once(optimizer_state.has_value());
      optimizer_state = read_optimizer(in, optimizer);
    } else if (tag == kTrainerTag) {
      once(trainer.has_value());
      trainer = read_trainer(in);
    } else {
      in.skip(length, "section " + tag_text(tag));  // from a later writer: not ours to interpret
    }
    if (in.offset() != section_end)
      in.fail("section " + tag_text(tag) + " declares " + std::to_string(length) + " bytes but its contents end " +
              std::to_string(section_end - in.offset()) + " bytes early");
    in.set_limit(data_end);
    in.set_section_mode(false);
  }
  if (in.offset() != data_end)
    in.fail(std::to_string(data_end - in.offset()) + " bytes after the last of the " + std::to_string(sections) +
            " sections, expected the checksum");
  if (!network) in.fail("no NETW (network parameters) section");
  if (!optimizer_state) in.fail("no OPTM (optimizer state) section");
  if (!trainer) in.fail("no TRNR (trainer state) section");
  // The data just parsed is what was checksummed (guards against the file
  // changing between the two passes).
  unsigned char b[4];
  if (std::fread(b, 1, 4, raw) != 4) in.fail("read error in the checksum");
  const uLong stored = uLong(b[0]) | uLong(b[1]) << 8 | uLong(b[2]) << 16 | uLong(b[3]) << 24;
  if (stored != in.crc()) in.fail("the checkpoint changed while it was being read (checksum mismatch)");

  // Commit: the optimizer first (it validates, and may throw before anything
  // changed), then the parameters, copied into the existing buffers so that
  // compiled kernels pointing at them stay valid.
  optimizer.set_state(std::move(*optimizer_state));
  for (size_t k = 0; k < network->targets.size(); ++k)
    std::copy(network->values[k].begin(), network->values[k].end(), network->targets[k]->begin());
  return std::move(*trainer);
}

}  // namespace cspnet
