#pragma once
// Shared by the fuzz targets: fuzz bytes as files the readers open by path
// (in-memory files, reopened through /proc/self/fd, so no disk is touched
// and nothing is left behind), and seeds written by the project's own
// writers (CSPNET_FUZZ_WRITE_SEEDS=DIR: scripts/fuzz-smoke.sh sets it once
// before fuzzing, so no binary seed is kept in git).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>

namespace fuzz {

// The weights and checkpoint targets' network: conv + batch norm, grouped
// conv, maxpool, connected + batch norm (every kind of parameter array, 220
// floats).
inline constexpr const char* kParameterNetCfg = R"([net]
width=6
height=6
channels=2

[convolutional]
batch_normalize=1
filters=4
size=3
pad=1
activation=leaky

[convolutional]
filters=4
groups=2
size=1
activation=linear

[maxpool]
size=2
stride=2

[connected]
batch_normalize=1
output=3
activation=linear
)";

// One in-memory file, created once per target and rewritten per input.
class MemoryFile {
 public:
  explicit MemoryFile(const char* name) : fd_(memfd_create(name, 0)) {
    if (fd_ < 0) __builtin_trap();
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  // Replaces the contents with `bytes`; returns the path to open.
  const std::string& write(std::string_view bytes) {
    if (ftruncate(fd_, 0) != 0) __builtin_trap();
    if (!bytes.empty() && pwrite(fd_, bytes.data(), bytes.size(), 0) != ssize_t(bytes.size())) __builtin_trap();
    return path_;
  }
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_ = "/proc/self/fd/" + std::to_string(fd_);
};

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Two files from one input: split at the first NUL byte (text readers),
// the second empty when there is none.
inline std::pair<std::string_view, std::string_view> split_at_nul(std::string_view input) {
  const size_t at = input.find('\0');
  if (at == std::string_view::npos) return {input, {}};
  return {input.substr(0, at), input.substr(at + 1)};
}

// The folder seeds should be written to, or empty.
inline std::string seed_dir() {
  const char* dir = std::getenv("CSPNET_FUZZ_WRITE_SEEDS");
  return dir ? dir : "";
}

inline void write_seed(const std::string& dir, const std::string& name, std::string_view bytes) {
  std::ofstream out(dir + "/" + name, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) __builtin_trap();
}

}  // namespace fuzz
