#include "io/file_output.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "cspnet/error.hpp"

// The library's one stb_image_write implementation.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace cspnet {

AtomicFileWriter::AtomicFileWriter(std::string path)
    : path_(std::move(path)), temp_path_(path_ + ".tmp." + std::to_string(::getpid())) {
  file_ = std::fopen(temp_path_.c_str(), "wb");
  if (!file_) throw Error(path_ + ": cannot create " + temp_path_ + ": " + std::strerror(errno));
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);  // large sequential writes
}

AtomicFileWriter::~AtomicFileWriter() {
  if (file_) std::fclose(file_);
  if (!committed_) std::remove(temp_path_.c_str());
}

void AtomicFileWriter::fail(int error_number, const char* action, const char* outcome) {
  throw Error(path_ + ": cannot " + action + " " + temp_path_ + outcome + ": " + std::strerror(error_number));
}

void AtomicFileWriter::write(const void* data, size_t bytes) {
  if (bytes > 0 && std::fwrite(data, 1, bytes, file_) != bytes) fail(errno, "write");
}

void AtomicFileWriter::commit() {
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) fail(errno, "write");
  std::FILE* file = std::exchange(file_, nullptr);
  if (std::fclose(file) != 0) fail(errno, "write");
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) fail(errno, "rename", " into place");
  committed_ = true;
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  AtomicFileWriter file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

void write_png_file(const std::string& path, const unsigned char* pixels, int width, int height, int channels) {
  std::string encoded;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  if (!stbi_write_png_to_func(append, &encoded, width, height, channels, pixels, width * channels))
    throw Error(path + ": PNG encoding failed");
  write_file_atomically(path, encoded);
}

}  // namespace cspnet
