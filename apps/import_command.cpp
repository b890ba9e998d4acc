#include "import_command.hpp"

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cspnet/cfg.hpp"
#include "cspnet/error.hpp"
#include "cspnet/onnx_import.hpp"
#include "cspnet/weights.hpp"

namespace cspnet::cli {

void ImportCommand::add_to(CLI::App& app) {
  command_ = app.add_subcommand("import", "read an ONNX model back into a darknet cfg and weights");
  command_->add_option("model", model_, "input .onnx")->required();
  command_->add_option("cfg", cfg_, "output .cfg")->required();
  command_->add_option("weights", weights_, "output .weights")->required();
}

int ImportCommand::run() const {
  if (!onnx_import_available())
    throw Error("import: this cspnet was built without ONNX support (libprotobuf-dev, libonnx-dev missing)");
  if (cfg_ == weights_) throw UsageError("import: the cfg and weights outputs are the same file '" + cfg_ + "'");
  // Every check happens here, before either file is written.
  OnnxImport imported = import_onnx(model_);
  for (const std::string& warning : imported.warnings) std::cerr << "warning: " << warning << "\n";
  Network& net = imported.network;
  // Both files are written atomically; if the weights cannot be, the cfg
  // written just before goes too, so a failure leaves no half of a pair.
  const bool cfg_existed = std::filesystem::exists(cfg_);
  write_cfg_file(network_cfg(net), cfg_);
  try {
    save_weights(net, weights_);
  } catch (const Error&) {
    std::error_code ignored;
    if (!cfg_existed) std::filesystem::remove(cfg_, ignored);
    throw;
  }
  std::printf("wrote %s and %s: %d layers, input %s\n", cfg_.c_str(), weights_.c_str(), net.size(),
              net.input_shape().str().c_str());
  return 0;
}

}  // namespace cspnet::cli
