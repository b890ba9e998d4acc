// Darknet cfg text from sections: the inverse of parse_cfg_text, used to
// export the model zoo's generated networks.
#include <sstream>

#include "cspnet/cfg.hpp"
#include "io/file_output.hpp"

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
  write_file_atomically(path, format_cfg(cfg));
}

}  // namespace cspnet
