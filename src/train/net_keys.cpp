#include "train/net_keys.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "cspnet/cfg.hpp"
#include "cspnet/error.hpp"

namespace cspnet::train_keys {
namespace {

bool parse_number(const std::string& text, double& out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(value)) return false;
  out = value;
  return true;
}

bool parse_integer(const std::string& text, int64_t& out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  out = value;
  return true;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::string part;
  for (char ch : text) {
    if (ch == ',') {
      parts.push_back(part);
      part.clear();
    } else {
      part.push_back(ch);
    }
  }
  parts.push_back(part);
  return parts;
}

}  // namespace

void fail(const std::string& where, const std::string& key, const std::string& expected, const std::string& got) {
  throw Error(where + ": key '" + key + "': expected " + expected + (got.empty() ? "" : ", got '" + cfg_excerpt(got) + "'"));
}

void fail(const NetKeys& keys, const std::string& where, const std::string& key, const std::string& expected) {
  auto it = keys.find(key);
  fail(where, key, expected, it == keys.end() ? std::string() : it->second);
}

std::optional<std::string> find_string(const NetKeys& keys, const std::string& key) {
  auto it = keys.find(key);
  if (it == keys.end()) return std::nullopt;
  return it->second;
}

std::optional<double> find_number(const NetKeys& keys, const std::string& where, const std::string& key) {
  auto text = find_string(keys, key);
  if (!text) return std::nullopt;
  double value = 0;
  if (!parse_number(*text, value)) fail(where, key, "a finite number", *text);
  return value;
}

std::optional<int64_t> find_integer(const NetKeys& keys, const std::string& where, const std::string& key) {
  auto text = find_string(keys, key);
  if (!text) return std::nullopt;
  int64_t value = 0;
  if (!parse_integer(*text, value)) fail(where, key, "an integer", *text);
  return value;
}

std::vector<double> find_numbers(const NetKeys& keys, const std::string& where, const std::string& key) {
  std::vector<double> values;
  auto text = find_string(keys, key);
  if (!text) return values;
  for (const auto& part : split_commas(*text)) {
    double value = 0;
    if (!parse_number(part, value)) fail(where, key, "a comma-separated list of numbers", *text);
    values.push_back(value);
  }
  return values;
}

std::vector<int64_t> find_integers(const NetKeys& keys, const std::string& where, const std::string& key) {
  std::vector<int64_t> values;
  auto text = find_string(keys, key);
  if (!text) return values;
  for (const auto& part : split_commas(*text)) {
    int64_t value = 0;
    if (!parse_integer(part, value)) fail(where, key, "a comma-separated list of integers", *text);
    values.push_back(value);
  }
  return values;
}

}  // namespace cspnet::train_keys
