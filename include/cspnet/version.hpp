#pragma once
// The library's semantic version (CMake's project version).
namespace cspnet {

// "MAJOR.MINOR.PATCH" of the library linked in.
const char* version();

}  // namespace cspnet
