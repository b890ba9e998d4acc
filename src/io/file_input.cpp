#include "cspnet/file_input.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cspnet/error.hpp"

namespace cspnet {

InputFile open_regular_file(const std::string& path, const std::string& what) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error(path + ": cannot open " + what + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int error = errno;
    ::close(fd);
    throw Error(path + ": cannot stat " + what + ": " + std::strerror(error));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + (S_ISDIR(st.st_mode) ? ": is a directory, not a regular file"
                                            : ": not a regular file (a device, FIFO or socket)") +
                "; expected the " + what);
  }
  InputFile in;
  in.file.reset(::fdopen(fd, "rb"));
  if (!in.file) {
    const int error = errno;
    ::close(fd);
    throw Error(path + ": cannot open " + what + ": " + std::strerror(error));
  }
  in.size = uint64_t(st.st_size);
  return in;
}

std::string read_text_file(const std::string& path, const std::string& what, uint64_t max_bytes) {
  InputFile in = open_regular_file(path, what);
  if (in.size > max_bytes)
    throw Error(path + ": " + std::to_string(in.size) + " bytes, larger than the " + std::to_string(max_bytes) +
                " bytes a " + what + " may have");
  // One byte more than the size: a file that grew since fstat is noticed.
  std::string text(size_t(in.size) + 1, '\0');
  const size_t got = std::fread(text.data(), 1, text.size(), in.file.get());
  if (std::ferror(in.file.get())) throw Error(path + ": read error in " + what + ": " + std::strerror(errno));
  if (got > in.size) throw Error(path + ": " + what + " grew while being read");
  text.resize(got);
  return text;
}

}  // namespace cspnet
