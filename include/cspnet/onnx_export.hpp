#pragma once
// ONNX export: a network (its layers' public description and arrays) as an
// ONNX model whose nodes and initialisers are named after the cfg layers
// (conv_12, conv_12_weight, ...). Built only with libprotobuf-dev and
// libonnx-dev; otherwise export_onnx throws saying so.
#include <string>
#include <vector>

#include "cspnet/network.hpp"

namespace cspnet {

struct OnnxExportOptions {
  int opset = 17;              // 11..21; Mish is decomposed below 18
  bool dynamic_batch = false;  // batch axis named "batch" instead of the network's batch
  bool fold_bn = false;        // batch norm folded into the convolution / connected weights
  // Layers exposed as graph outputs, in order (empty: net.output_layers());
  // every layer, for checking each one against another runtime.
  std::vector<int> outputs;
  // Adds outputs `boxes` [N, B, 4] (centre x, y, width, height relative to
  // the network input) and `scores` [N, B, classes] (objectness x class
  // probability) over every [yolo] layer's anchors and cells (rows: layer,
  // anchor, y, x), replacing the raw [yolo] outputs unless `outputs` names
  // layers. Throws for a network without [yolo] layers.
  bool yolo_decode = false;
};

// Oldest and newest opsets the exporter writes.
constexpr int kOnnxMinOpset = 11;
constexpr int kOnnxMaxOpset = 21;

// Whether this build can export (false without the protobuf/ONNX packages).
bool onnx_export_available();

// Writes `net` at its current input size and batch to `path`. Outputs are
// options.outputs, else net.output_layers(), named after their layers. Throws
// cspnet::Error for an opset out of range, a layer configuration ONNX cannot
// express here (naming the layer), or an unwritable file.
void export_onnx(const Network& net, const std::string& path, const OnnxExportOptions& options = {});

}  // namespace cspnet
