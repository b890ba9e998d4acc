#pragma once
// Opening input files: only regular files (a directory, a device such as
// /dev/zero or a FIFO would be read forever or block), and text files only
// up to a size, so that a wrong path is an error naming it, not gigabytes
// read into memory.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace cspnet {

struct InputFile {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file{nullptr, &std::fclose};
  uint64_t size = 0;
};

// `path` opened for binary reading, with its size; an Error naming the path
// and `what` ("checkpoint", "cfg file") when it cannot be opened or is not a
// regular file.
InputFile open_regular_file(const std::string& path, const std::string& what);

// Largest text file (cfg, class names, image list) read: 64 MiB, about a
// thousand times the largest darknet cfg and a list of ~500k image paths.
constexpr uint64_t kMaxTextFileBytes = uint64_t{64} << 20;

// The whole regular file `path`, at most max_bytes (an Error beyond).
std::string read_text_file(const std::string& path, const std::string& what, uint64_t max_bytes = kMaxTextFileBytes);

}  // namespace cspnet
