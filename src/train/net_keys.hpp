#pragma once
// Typed reading of [net] training keys kept verbatim in NetConfig::training.
// Every error names `where`, the key, what was expected and what was found.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cspnet::train_keys {

using NetKeys = std::map<std::string, std::string>;

[[noreturn]] void fail(const std::string& where, const std::string& key, const std::string& expected,
                       const std::string& got);
// Throws naming the key and its value in `keys`.
[[noreturn]] void fail(const NetKeys& keys, const std::string& where, const std::string& key,
                       const std::string& expected);

std::optional<double> find_number(const NetKeys& keys, const std::string& where, const std::string& key);
std::optional<int64_t> find_integer(const NetKeys& keys, const std::string& where, const std::string& key);
std::vector<double> find_numbers(const NetKeys& keys, const std::string& where, const std::string& key);
std::vector<int64_t> find_integers(const NetKeys& keys, const std::string& where, const std::string& key);
std::optional<std::string> find_string(const NetKeys& keys, const std::string& key);

}  // namespace cspnet::train_keys
