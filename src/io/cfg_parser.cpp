#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "cspnet/cfg.hpp"
#include "cspnet/error.hpp"
#include "cspnet/file_input.hpp"

namespace cspnet {
namespace {

std::string strip_whitespace(const std::string& line) {
  std::string out;
  out.reserve(line.size());
  for (char ch : line)
    if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n') out.push_back(ch);
  return out;
}

bool parse_int(const std::string& text, int& out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long value = std::strtol(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || value < std::numeric_limits<int>::min() ||
      value > std::numeric_limits<int>::max())
    return false;
  out = static_cast<int>(value);
  return true;
}

bool parse_float(const std::string& text, float& out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  // Beyond float's range the conversion below would be undefined behaviour.
  if (errno != 0 || *end != '\0' || !std::isfinite(value) ||
      std::fabs(value) > double(std::numeric_limits<float>::max()))
    return false;
  out = static_cast<float>(value);
  return true;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream stream(text);
  while (std::getline(stream, part, ',')) parts.push_back(part);
  if (!text.empty() && text.back() == ',') parts.emplace_back();
  return parts;
}

}  // namespace

std::string cfg_excerpt(const std::string& text) {
  if (text.size() <= kCfgExcerptChars) return text;
  return text.substr(0, kCfgExcerptChars) + "... (" + std::to_string(text.size()) + " characters)";
}

CfgFile parse_cfg_text(const std::string& text, const std::string& path) {
  CfgFile file{path, {}};
  std::istringstream stream(text);
  std::string raw;
  int line_no = 0;
  while (std::getline(stream, raw)) {
    ++line_no;
    if (raw.find('\0') != std::string::npos)
      throw Error(path + ":" + std::to_string(line_no) + ": binary data (NUL byte) in a cfg file");
    std::string line = strip_whitespace(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      if (line.back() != ']' || line.size() < 3)
        throw Error(path + ":" + std::to_string(line_no) + ": malformed section header '" + cfg_excerpt(line) +
                    "', expected [name]");
      file.sections.push_back(CfgSection{line.substr(1, line.size() - 2), line_no, {}, {}});
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error(path + ":" + std::to_string(line_no) + ": expected key=value or [section], got '" + cfg_excerpt(line) +
                  "'");
    if (file.sections.empty())
      throw Error(path + ":" + std::to_string(line_no) + ": key '" + cfg_excerpt(line.substr(0, eq)) +
                  "' appears before the first section ([net] expected first)");
    file.sections.back().entries.push_back(CfgEntry{line.substr(0, eq), line.substr(eq + 1), line_no});
  }
  return file;
}

CfgFile read_cfg_file(const std::string& path) {
  return parse_cfg_text(read_text_file(path, "cfg file"), path);
}

Options::Options(const CfgSection& section, const std::string& path)
    : section_(section), path_(path), used_(section.entries.size(), false) {}

const CfgEntry* Options::find(const std::string& key) const {
  // darknet takes the first occurrence of a key; so do we.
  for (size_t i = 0; i < section_.entries.size(); ++i)
    if (section_.entries[i].key == key) {
      used_[i] = true;
      return &section_.entries[i];
    }
  return nullptr;
}

bool Options::has(const std::string& key) const {
  for (const auto& entry : section_.entries)
    if (entry.key == key) return true;
  return false;
}

void Options::touch(const std::string& key) { (void)find(key); }

std::string Options::where() const {
  return path_ + ":" + std::to_string(section_.line) + ": [" + cfg_excerpt(section_.name) + "]";
}

std::string Options::where(const std::string& key) const {
  int line = section_.line;
  for (const auto& entry : section_.entries)
    if (entry.key == key) {
      line = entry.line;
      break;
    }
  return path_ + ":" + std::to_string(line) + ": [" + cfg_excerpt(section_.name) + "] key '" + cfg_excerpt(key) + "'";
}

void Options::fail(const std::string& key, const std::string& expected) const {
  std::string got;
  for (const auto& entry : section_.entries)
    if (entry.key == key) {
      got = ", got '" + cfg_excerpt(entry.value) + "'";
      break;
    }
  throw Error(where(key) + ": expected " + expected + got);
}

int Options::get_int(const std::string& key, int fallback) {
  const CfgEntry* entry = find(key);
  if (!entry) return fallback;
  int value = 0;
  if (!parse_int(entry->value, value)) fail(key, "an integer");
  return value;
}

int Options::require_int(const std::string& key) {
  if (!find(key)) throw Error(where() + ": missing required key '" + key + "' (an integer)");
  return get_int(key, 0);
}

float Options::get_float(const std::string& key, float fallback) {
  const CfgEntry* entry = find(key);
  if (!entry) return fallback;
  float value = 0;
  if (!parse_float(entry->value, value)) fail(key, "a finite number");
  return value;
}

std::string Options::get_string(const std::string& key, const std::string& fallback) {
  const CfgEntry* entry = find(key);
  return entry ? entry->value : fallback;
}

std::vector<int> Options::get_ints(const std::string& key) {
  const CfgEntry* entry = find(key);
  std::vector<int> values;
  if (!entry) return values;
  for (const auto& part : split_commas(entry->value)) {
    int value = 0;
    if (!parse_int(part, value)) fail(key, "a comma-separated list of integers");
    values.push_back(value);
  }
  if (values.empty()) fail(key, "a comma-separated list of integers");
  return values;
}

std::vector<float> Options::get_floats(const std::string& key) {
  const CfgEntry* entry = find(key);
  std::vector<float> values;
  if (!entry) return values;
  for (const auto& part : split_commas(entry->value)) {
    float value = 0;
    if (!parse_float(part, value)) fail(key, "a comma-separated list of numbers");
    values.push_back(value);
  }
  if (values.empty()) fail(key, "a comma-separated list of numbers");
  return values;
}

std::vector<std::string> Options::unused_key_messages() const {
  std::vector<std::string> messages;
  for (size_t i = 0; i < section_.entries.size(); ++i)
    if (!used_[i]) {
      const auto& entry = section_.entries[i];
      bool duplicate = false;
      for (size_t j = 0; j < i; ++j) duplicate |= section_.entries[j].key == entry.key;
      messages.push_back(path_ + ":" + std::to_string(entry.line) + ": [" + cfg_excerpt(section_.name) + "] " +
                         (duplicate ? "duplicate key '" + cfg_excerpt(entry.key) + "' ignored (the first one wins)"
                                    : "unused key '" + cfg_excerpt(entry.key) + "'"));
    }
  return messages;
}

}  // namespace cspnet
