#pragma once
// Command-line values the CLI parses itself, with range checks: misuse is a
// UsageError (exit 2), never a wrapped number.
#include <string>
#include <utility>

#include "cspnet/network.hpp"

namespace cspnet::cli {

// "WxH", both positive and within int; checked before any cfg is read.
std::pair<int, int> parse_size(const std::string& size);

// A cfg path, else a zoo model name (at its own input size unless width and
// height are given); neither is a UsageError.
Network load_cfg_or_zoo(const std::string& model, int width = 0, int height = 0);

}  // namespace cspnet::cli
