#pragma once
// The one exception type of the library: every error carries its context
// (file:line, section, key, byte offset) in its message.
#include <stdexcept>
#include <string>

namespace cspnet {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Thrown for command-line misuse; the CLI maps it to exit code 2.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(what) {}
};

}  // namespace cspnet
