#pragma once
// `cspnet export CFG|ZOO_NAME --weights W out.onnx [--opset N] [--batch N|dynamic]
// [--size WxH] [--fold-bn] [--yolo-decode]`: the network as an ONNX model.
#include <CLI/CLI.hpp>
#include <string>

namespace cspnet::cli {

class ExportCommand {
 public:
  void add_to(CLI::App& app);
  bool selected() const { return command_ && *command_; }
  int run() const;

 private:
  CLI::App* command_ = nullptr;
  std::string model_, weights_, out_, batch_ = "1", size_;
  int opset_ = 17;
  bool fold_bn_ = false;
  bool yolo_decode_ = false;
};

}  // namespace cspnet::cli
