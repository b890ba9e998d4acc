#pragma once
// The network DAG: layers with resolved input edges and inferred shapes.
// Darknet cfgs, the model zoo and exporters all meet at this type.
#include <memory>
#include <string>
#include <vector>

#include "cspnet/cfg.hpp"
#include "cspnet/layer.hpp"

namespace cspnet {

struct NetConfig {
  int width = 0, height = 0, channels = 0;
  int batch = 1, subdivisions = 1;
  // The [net] section as written (entries with their lines) and the cfg's
  // path: the trainer reads its keys (training hyper-parameters,
  // augmentation) through Options over them, so errors name file:line.
  CfgSection section;
  std::string path;
};

struct ParseOptions {
  bool strict = false;  // unknown/unused keys become errors instead of warnings
  // The input size and batch the network is built at (0: the cfg's width
  // and height). Shapes are inferred once, at this size: a cfg whose layers
  // only fit at another size than its own [net] width/height can be used.
  int width = 0, height = 0;
  int batch = 1;
};

class Network {
 public:
  static Network from_cfg(const CfgFile& cfg, const ParseOptions& options = {});
  static Network from_cfg_file(const std::string& path, const ParseOptions& options = {});

  // Re-infers every shape for a new input size and batch.
  void reshape(int width, int height, int batch);

  const NetConfig& config() const { return config_; }
  const std::string& name() const { return name_; }
  int size() const { return static_cast<int>(layers_.size()); }
  Layer& layer(int i) { return *layers_.at(static_cast<size_t>(i)); }
  const Layer& layer(int i) const { return *layers_.at(static_cast<size_t>(i)); }
  Shape input_shape() const;
  int batch() const { return batch_; }
  // Layers whose outputs the user receives: every [yolo] layer, else the last.
  std::vector<int> output_layers() const;
  const std::vector<std::string>& warnings() const { return warnings_; }

  int64_t parameter_count() const;
  int64_t conv_weight_count() const;
  double bflops() const;
  double conv_bflops() const;

 private:
  std::string name_;
  NetConfig config_;
  int batch_ = 1;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::string> warnings_;
};

// The network as a darknet cfg written from its layers' description (every
// attribute explicit, references absolute): parsing it back builds the same
// graph. [net] holds the input size, batch and training keys.
CfgFile network_cfg(const Network& net);

}  // namespace cspnet
