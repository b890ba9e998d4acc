#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <unordered_set>

#include "cspnet/cfg.hpp"
#include "cspnet/suggest.hpp"
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

// One integer parser for every integer type a getter returns.
template <class T>
bool parse_integer(const std::string& text, T& out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || value < std::numeric_limits<T>::min() || value > std::numeric_limits<T>::max())
    return false;
  out = static_cast<T>(value);
  return true;
}

// One number parser for float and double getters.
template <class T>
bool parse_real(const std::string& text, T& out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  // Beyond float's range the conversion below would be undefined behaviour.
  if (errno != 0 || *end != '\0' || !std::isfinite(value) || std::fabs(value) > double(std::numeric_limits<T>::max()))
    return false;
  out = static_cast<T>(value);
  return true;
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
    file.sections.back().entries.push_back(CfgEntry{line.substr(0, eq), line.substr(eq + 1), line_no, {}});
  }
  return file;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream stream(text);
  while (std::getline(stream, part, ',')) parts.push_back(part);
  if (!text.empty() && text.back() == ',') parts.emplace_back();
  return parts;
}

CfgFile read_cfg_file(const std::string& path) {
  return parse_cfg_text(read_text_file(path, "cfg file"), path);
}

Options::Options(const CfgSection& section, const std::string& path)
    : section_(section), path_(path), used_(section.entries.size(), false) {}

const CfgEntry* Options::find(const std::string& key) const {
  if (std::find(asked_.begin(), asked_.end(), key) == asked_.end()) asked_.push_back(key);
  // darknet takes the first occurrence of a key; so do we.
  for (size_t i = 0; i < section_.entries.size(); ++i)
    if (section_.entries[i].key == key) {
      used_[i] = true;
      return &section_.entries[i];
    }
  return nullptr;
}

const CfgEntry* Options::peek(const std::string& key) const {
  for (const auto& entry : section_.entries)
    if (entry.key == key) return &entry;
  return nullptr;
}

bool Options::has(const std::string& key) const { return peek(key) != nullptr; }

void Options::touch(const std::string& key) { (void)find(key); }

std::string Options::where() const {
  return path_ + ":" + std::to_string(section_.line) + ": [" + cfg_excerpt(section_.name) + "]";
}

std::string Options::where(const CfgEntry& entry) const {
  if (!entry.origin.empty()) return entry.origin + " " + cfg_excerpt(entry.key);
  return path_ + ":" + std::to_string(entry.line) + ": [" + cfg_excerpt(section_.name) + "] key '" +
         cfg_excerpt(entry.key) + "'";
}

std::string Options::where(const std::string& key) const {
  if (const CfgEntry* entry = peek(key)) return where(*entry);
  return where() + " key '" + cfg_excerpt(key) + "'";
}

void Options::fail(const std::string& key, const std::string& expected) const {
  const CfgEntry* entry = peek(key);
  throw Error(where(key) + ": expected " + expected + (entry ? ", got '" + cfg_excerpt(entry->value) + "'" : std::string()));
}

template <class T, class Parse>
T Options::get_one(const std::string& key, T fallback, Parse parse, const char* expected) {
  const CfgEntry* entry = find(key);
  if (!entry) return fallback;
  T value{};
  if (!parse(entry->value, value)) fail(key, expected);
  return value;
}

template <class T, class Parse>
std::vector<T> Options::get_list(const std::string& key, Parse parse, const char* expected) {
  const CfgEntry* entry = find(key);
  std::vector<T> values;
  if (!entry) return values;
  for (const auto& part : split_commas(entry->value)) {
    T value{};
    if (!parse(part, value)) fail(key, expected);
    values.push_back(value);
  }
  if (values.empty()) fail(key, expected);
  return values;
}

int Options::get_int(const std::string& key, int fallback) {
  return get_one(key, fallback, parse_integer<int>, "an integer");
}

int64_t Options::get_int64(const std::string& key, int64_t fallback) {
  return get_one(key, fallback, parse_integer<int64_t>, "an integer");
}

int Options::require_int(const std::string& key) {
  if (!find(key)) throw Error(where() + ": missing required key '" + key + "' (an integer)");
  return get_int(key, 0);
}

float Options::get_float(const std::string& key, float fallback) {
  return get_one(key, fallback, parse_real<float>, "a finite number");
}

double Options::get_double(const std::string& key, double fallback) {
  return get_one(key, fallback, parse_real<double>, "a finite number");
}

std::string Options::get_string(const std::string& key, const std::string& fallback) {
  const CfgEntry* entry = find(key);
  return entry ? entry->value : fallback;
}

std::vector<int> Options::get_ints(const std::string& key) {
  return get_list<int>(key, parse_integer<int>, "a comma-separated list of integers");
}

std::vector<int64_t> Options::get_int64s(const std::string& key) {
  return get_list<int64_t>(key, parse_integer<int64_t>, "a comma-separated list of integers");
}

std::vector<float> Options::get_floats(const std::string& key) {
  return get_list<float>(key, parse_real<float>, "a comma-separated list of numbers");
}

std::vector<double> Options::get_doubles(const std::string& key) {
  return get_list<double>(key, parse_real<double>, "a comma-separated list of numbers");
}

std::vector<std::string> Options::unused_key_messages() const {
  std::vector<std::string> messages;
  std::unordered_set<std::string> seen;  // keys met so far: a later one is a duplicate
  for (size_t i = 0; i < section_.entries.size(); ++i) {
    const auto& entry = section_.entries[i];
    const bool duplicate = !seen.insert(entry.key).second;
    if (used_[i]) continue;
    std::string message = path_ + ":" + std::to_string(entry.line) + ": [" + cfg_excerpt(section_.name) + "] ";
    if (duplicate) {
      message += "duplicate key '" + cfg_excerpt(entry.key) + "' ignored (the first one wins)";
    } else {
      message += "unused key '" + cfg_excerpt(entry.key) + "'";
      // A key the layer asked for and did not find, close to this one: a typo.
      std::vector<std::string> missing;
      for (const std::string& key : asked_)
        if (!peek(key)) missing.push_back(key);
      if (const std::string guess = closest_match(entry.key, missing); !guess.empty())
        message += "; did you mean '" + guess + "'?";
    }
    messages.push_back(message);
  }
  return messages;
}

}  // namespace cspnet
