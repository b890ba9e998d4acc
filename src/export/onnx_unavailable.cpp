// Built when libprotobuf-dev / libonnx-dev were missing at configure time.
#include "cspnet/error.hpp"
#include "cspnet/onnx_export.hpp"

namespace cspnet {

bool onnx_export_available() { return false; }

void export_onnx(const Network&, const std::string& path, const OnnxExportOptions&) {
  throw Error(path + ": cspnet was built without ONNX support (install libprotobuf-dev, protobuf-compiler and "
                     "libonnx-dev, then reconfigure)");
}

}  // namespace cspnet
