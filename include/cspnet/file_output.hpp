#pragma once
// Output files a reader never sees half-written: the bytes go to a
// temporary file beside `path`, which is flushed, fsynced and renamed over
// `path`; on failure an Error naming `path`, and `path` is left as it was.
#include <string>
#include <string_view>

namespace cspnet {

void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace cspnet
