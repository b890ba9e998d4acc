#include "cspnet/version.hpp"

namespace cspnet {

const char* version() { return CSPNET_VERSION; }

}  // namespace cspnet
