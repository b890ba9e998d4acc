#pragma once
// Command-line values the CLI parses itself, with range checks: misuse is a
// UsageError (exit 2), never a wrapped number.
#include <string>
#include <utility>

namespace cspnet::cli {

// "WxH", both positive and within int; checked before any cfg is read.
std::pair<int, int> parse_size(const std::string& size);

}  // namespace cspnet::cli
