#pragma once
// ONNX import: the subset of ONNX that maps onto cspnet's layers (everything
// `cspnet export` writes, and Conv/BatchNormalization/activation graphs in the
// style PyTorch exports) back to a Network built from darknet cfg sections,
// with its weights set. Built only with libprotobuf-dev and libonnx-dev;
// otherwise import_onnx throws saying so. docs/deploy.md lists what maps.
#include <string>
#include <vector>

#include "cspnet/network.hpp"

namespace cspnet {

struct OnnxImport {
  // At the model's input size; batch 1 when the model's batch is dynamic,
  // else the model's batch. Weights (and batch-norm statistics) are set.
  Network network;
  // What the model did not say and the import assumed (e.g. [yolo] anchors
  // of a model exported elsewhere).
  std::vector<std::string> warnings;
};

// Whether this build can import (false without the protobuf/ONNX packages).
bool onnx_import_available();

// Reads the ONNX model at `path`. Throws cspnet::Error naming the file and,
// for a graph that does not map, the node (index, name, op_type): a file that
// is not an ONNX model, an initialiser whose size does not match its dims or
// is not float, a node reading an undefined tensor (a cycle), shapes that do
// not fit, or an op no layer computes.
OnnxImport import_onnx(const std::string& path);
// The same from the model's bytes; `name` stands for the file in messages.
OnnxImport import_onnx_bytes(const std::string& bytes, const std::string& name);

}  // namespace cspnet
