#pragma once
// Writing output files so that a reader never sees a partial one: the bytes
// go to `path`.tmp.<pid>, which is flushed, fsynced and renamed over `path`;
// on any failure the temporary file is removed and `path` is left as it was.
#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

#include "cspnet/file_output.hpp"

namespace cspnet {

class AtomicFileWriter {
 public:
  // Creates the temporary file; an Error naming `path` if it cannot.
  explicit AtomicFileWriter(std::string path);
  // Removes the temporary file unless commit() renamed it into place.
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t bytes);
  // Flushes, fsyncs, closes and renames the file over `path`.
  void commit();

 private:
  // Error "`path`: cannot <action> <temp path><outcome>: <strerror>".
  [[noreturn]] void fail(int error_number, const char* action, const char* outcome = "");

  std::string path_, temp_path_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

// Encodes 8-bit pixels, interleaved row by row (`channels` per pixel: 1 grey,
// 3 RGB or 4 RGBA), as PNG and writes it atomically.
void write_png_file(const std::string& path, const unsigned char* pixels, int width, int height, int channels);

}  // namespace cspnet
