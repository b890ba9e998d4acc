// Darknet cfg text from sections: the inverse of parse_cfg_text, used to
// export the model zoo's generated networks.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "cspnet/cfg.hpp"
#include "cspnet/error.hpp"

namespace cspnet {

std::string format_cfg(const CfgFile& cfg) {
  std::ostringstream out;
  bool first = true;
  for (const auto& section : cfg.sections) {
    if (!first) out << "\n";
    first = false;
    std::istringstream comment(section.comment);
    for (std::string line; std::getline(comment, line);) out << "# " << line << "\n";
    out << "[" << section.name << "]\n";
    for (const auto& entry : section.entries) out << entry.key << "=" << entry.value << "\n";
  }
  return out.str();
}

void write_cfg_file(const CfgFile& cfg, const std::string& path) {
  const std::string text = format_cfg(cfg);
  const std::string temp = path + ".tmp." + std::to_string(getpid());
  FILE* file = std::fopen(temp.c_str(), "wb");
  if (!file) throw Error(path + ": cannot create " + temp + ": " + std::strerror(errno));
  bool ok = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  ok = ok && std::fflush(file) == 0 && fsync(fileno(file)) == 0;
  const int saved_errno = errno;  // fclose/remove may overwrite it
  if (std::fclose(file) != 0) ok = false;
  if (!ok) {
    std::remove(temp.c_str());
    throw Error(path + ": cannot write " + temp + ": " + std::strerror(saved_errno));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int rename_errno = errno;
    std::remove(temp.c_str());
    throw Error(path + ": cannot rename " + temp + " into place: " + std::strerror(rename_errno));
  }
}

}  // namespace cspnet
