#include "cli_parse.hpp"

#include <charconv>

#include "cspnet/error.hpp"

namespace cspnet::cli {
namespace {

// A whole positive decimal int; from_chars reports overflow instead of wrapping.
bool parse_side(const std::string& text, int& value) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end && value > 0;
}

}  // namespace

std::pair<int, int> parse_size(const std::string& size) {
  const auto x = size.find('x');
  int width = 0, height = 0;
  if (x == std::string::npos || !parse_side(size.substr(0, x), width) || !parse_side(size.substr(x + 1), height))
    throw UsageError("--size: expected WxH with positive integers (at most 2147483647), e.g. 256x256, got '" +
                     size + "'");
  return {width, height};
}

}  // namespace cspnet::cli
