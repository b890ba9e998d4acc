#include "partial_command.hpp"

#include <cstdio>

#include "cli_parse.hpp"
#include "cspnet/error.hpp"
#include "cspnet/weights.hpp"
#include "cspnet/zoo.hpp"

namespace cspnet::cli {

void PartialCommand::add_to(CLI::App& app) {
  command_ = app.add_subcommand("partial", "write the weights of a network's first N layers (darknet's partial)");
  command_->add_option("cfg", cfg_, "darknet .cfg (or a zoo model name)")->required();
  command_->add_option("weights", weights_, "its darknet .weights")->required();
  command_->add_option("out", out_, "output .weights")->required();
  command_->add_option("layers", layers_, "how many layers to keep (N: layers 0..N-1)")
      ->required()
      ->check(positive_number());
}

int PartialCommand::run() const {
  Network net = load_cfg_or_zoo(cfg_);
  if (layers_ > net.size())
    throw UsageError("partial: " + std::to_string(layers_) + " layers asked, " + cfg_ + " has " +
                     std::to_string(net.size()));
  load_weights(net, weights_);
  save_weights(net, out_, WeightsHeader{}, layers_);  // seen = 0: a fresh start, as darknet's partial
  std::printf("wrote %s: layers 0..%d of %s (%d layers), seen 0\n", out_.c_str(), layers_ - 1, cfg_.c_str(),
              net.size());
  return 0;
}

}  // namespace cspnet::cli
