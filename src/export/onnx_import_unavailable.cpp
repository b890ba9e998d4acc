// Built when libprotobuf-dev / libonnx-dev were missing at configure time.
#include "cspnet/error.hpp"
#include "cspnet/onnx_import.hpp"

namespace cspnet {

bool onnx_import_available() { return false; }

OnnxImport import_onnx_bytes(const std::string&, const std::string& name) {
  throw Error(name +
              ": cspnet was built without ONNX support (install libprotobuf-dev, protobuf-compiler and "
              "libonnx-dev, then reconfigure)");
}

OnnxImport import_onnx(const std::string& path) { return import_onnx_bytes({}, path); }

}  // namespace cspnet
