#include "export_command.hpp"

#include <cstdio>

#include "cli_parse.hpp"
#include "cspnet/error.hpp"
#include "cspnet/onnx_export.hpp"
#include "cspnet/weights.hpp"

namespace cspnet::cli {
namespace {

// "dynamic" or a positive batch.
int parse_batch(const std::string& text) {
  if (text == "dynamic") return 0;
  try {
    size_t used = 0;
    const int batch = std::stoi(text, &used);
    if (used == text.size() && batch > 0) return batch;
  } catch (const std::exception&) {
  }
  throw UsageError("export: --batch expects a positive number or 'dynamic', got '" + text + "'");
}

}  // namespace

void ExportCommand::add_to(CLI::App& app) {
  command_ = app.add_subcommand("export", "write a network with its weights as an ONNX model");
  command_->add_option("model", model_, "darknet .cfg (or a zoo model name)")->required();
  command_->add_option("out", out_, "output .onnx")->required();
  command_->add_option("--weights", weights_, "darknet .weights to export")->required();
  command_->add_option("--opset", opset_, "ONNX opset (11..21; Mish is decomposed below 18)")
      ->check(CLI::Range(kOnnxMinOpset, kOnnxMaxOpset));
  command_->add_option("--batch", batch_, "batch size, or 'dynamic' for a free batch axis");
  command_->add_option("--size", size_, "input size WxH (default: the cfg's)");
  command_->add_flag("--fold-bn", fold_bn_, "fold batch norm into the weights");
  command_->add_flag("--yolo-decode", yolo_decode_,
                     "outputs boxes [N, B, 4] (cx, cy, w, h relative to the input) and scores [N, B, classes]");
}

int ExportCommand::run() const {
  if (!onnx_export_available())
    throw Error("export: this cspnet was built without ONNX support (libprotobuf-dev, libonnx-dev missing)");
  const int batch = parse_batch(batch_);
  auto [width, height] = size_.empty() ? std::pair<int, int>{0, 0} : parse_size(size_);
  Network net = load_cfg_or_zoo(model_, width, height);
  load_weights(net, weights_);
  const Shape in = net.input_shape();
  if (batch > 1 || (width > 0 && (width != in.w || height != in.h)))
    net.reshape(width > 0 ? width : int(in.w), height > 0 ? height : int(in.h), batch > 0 ? batch : 1);
  OnnxExportOptions options;
  options.opset = opset_;
  options.dynamic_batch = batch == 0;
  options.fold_bn = fold_bn_;
  options.yolo_decode = yolo_decode_;
  export_onnx(net, out_, options);
  std::printf("wrote %s: %d layers, input %s, opset %d, batch %s\n", out_.c_str(), net.size(),
              net.input_shape().str().c_str(), opset_, batch == 0 ? "dynamic" : std::to_string(batch).c_str());
  return 0;
}

}  // namespace cspnet::cli
