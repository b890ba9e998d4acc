#include "cspnet/network.hpp"

#include <algorithm>

#include "cspnet/error.hpp"
#include "train/net_training_keys.hpp"

namespace cspnet {
namespace {

// Largest tensor (elements per image) we agree to plan: 2^30 floats = 4 GiB.
constexpr int64_t kMaxElementsPerImage = int64_t{1} << 30;

NetConfig parse_net_section(Options& options) {
  NetConfig config;
  config.width = options.require_int("width");
  config.height = options.require_int("height");
  config.channels = options.require_int("channels");
  config.batch = options.get_int("batch", 1);
  config.subdivisions = options.get_int("subdivisions", 1);
  if (config.width <= 0) options.fail("width", "a positive integer");
  if (config.height <= 0) options.fail("height", "a positive integer");
  if (config.channels <= 0) options.fail("channels", "a positive integer");
  if (config.batch <= 0) options.fail("batch", "a positive integer");
  if (config.subdivisions <= 0) options.fail("subdivisions", "a positive integer");
  int64_t elements = int64_t{config.width} * config.height * config.channels;
  if (elements > kMaxElementsPerImage)
    throw Error(options.where() + ": input width*height*channels = " + std::to_string(elements) +
                " is larger than the supported " + std::to_string(kMaxElementsPerImage));
  // The training keys are the trainer's to read (NetTrainingKeys); here
  // they are only kept from being reported as unused.
  for (const auto& entry : options.section().entries)
    if (is_net_training_key(entry.key)) options.touch(entry.key);
  config.section = options.section();
  config.path = options.path();
  return config;
}

void report_unused(const Options& options, const ParseOptions& parse, std::vector<std::string>& warnings) {
  for (auto& message : options.unused_key_messages()) {
    if (parse.strict) throw Error(message + " (--strict)");
    warnings.push_back(message);
  }
}

std::string base_name(const std::string& path) {
  auto slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  auto dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

}  // namespace

Shape checked_output(const Layer& layer, Shape shape) {
  if (shape.c <= 0 || shape.h <= 0 || shape.w <= 0)
    throw Error(layer.where() + ": output shape " + std::to_string(shape.c) + "x" + std::to_string(shape.h) +
                "x" + std::to_string(shape.w) + " is empty (the input is too small for this layer)");
  // Each factor is checked first so that the products cannot overflow int64.
  if (shape.c > kMaxElementsPerImage || shape.h > kMaxElementsPerImage || shape.w > kMaxElementsPerImage ||
      shape.h * shape.w > kMaxElementsPerImage || shape.per_image() > kMaxElementsPerImage)
    throw Error(layer.where() + ": output shape " + shape.str() + " exceeds the supported " +
                std::to_string(kMaxElementsPerImage) + " elements per image");
  return shape;
}

int resolve_layer_ref(const LayerSite& site, const std::string& key, int ref) {
  int resolved = ref < 0 ? site.index + ref : ref;
  if (resolved < 0 || resolved >= site.index)
    site.options.fail(key, "an earlier layer (index 0.." + std::to_string(site.index - 1) +
                               ", or -1..-" + std::to_string(site.index) + " relative); " +
                               std::to_string(ref) + " refers to layer " + std::to_string(resolved));
  return resolved;
}

Network Network::from_cfg(const CfgFile& cfg, const ParseOptions& parse) {
  Network net;
  net.name_ = base_name(cfg.path);
  if (cfg.sections.empty()) throw Error(cfg.path + ": no sections; expected [net] first");
  const CfgSection& first = cfg.sections.front();
  if (first.name != "net" && first.name != "network")
    throw Error(cfg.path + ":" + std::to_string(first.line) + ": section [" + first.name +
                "] before [net]; the first section must be [net]");
  Options net_options(first, cfg.path);
  net.config_ = parse_net_section(net_options);
  report_unused(net_options, parse, net.warnings_);
  if (cfg.sections.size() < 2) throw Error(cfg.path + ": no layers after [net]");

  for (size_t s = 1; s < cfg.sections.size(); ++s) {
    const CfgSection& section = cfg.sections[s];
    Options options(section, cfg.path);
    if (section.name == "net" || section.name == "network")
      throw Error(options.where() + ": a second [net] section; [net] must appear once, first");
    LayerSite site{options, static_cast<int>(s) - 1};
    auto layer = make_layer(section.name, site);
    layer->set_site(site.index, options.where());
    if (layer->inputs().empty()) layer->set_inputs({site.index - 1});
    report_unused(options, parse, net.warnings_);
    net.layers_.push_back(std::move(layer));
  }
  // [net] batch is a training setting; inference starts at batch 1 like darknet.
  net.reshape(net.config_.width, net.config_.height, 1);
  return net;
}

Network Network::from_cfg_file(const std::string& path, const ParseOptions& options) {
  return from_cfg(read_cfg_file(path), options);
}

Shape Network::input_shape() const { return Shape{batch_, config_.channels, config_.height, config_.width}; }

void Network::reshape(int width, int height, int batch) {
  if (width <= 0 || height <= 0 || batch <= 0)
    throw Error(name_ + ": input size and batch must be positive, got " + std::to_string(width) + "x" +
                std::to_string(height) + " batch " + std::to_string(batch));
  int64_t elements = int64_t{width} * height * config_.channels;
  if (elements > kMaxElementsPerImage)
    throw Error(name_ + ": input " + std::to_string(width) + "x" + std::to_string(height) +
                " is larger than the supported " + std::to_string(kMaxElementsPerImage) + " elements");
  config_.width = width;
  config_.height = height;
  batch_ = batch;
  for (auto& layer : layers_) {
    std::vector<Shape> shapes;
    for (int in : layer->inputs()) shapes.push_back(in < 0 ? input_shape() : layers_[static_cast<size_t>(in)]->output_shape());
    Shape out = checked_output(*layer, layer->infer(shapes));
    out.n = batch;
    layer->set_shapes(std::move(shapes), out);
  }
}

std::vector<int> Network::output_layers() const {
  std::vector<int> outputs;
  for (const auto& layer : layers_)
    if (yolo_attrs(*layer)) outputs.push_back(layer->index());
  if (outputs.empty()) outputs.push_back(size() - 1);
  return outputs;
}

int64_t Network::parameter_count() const {
  int64_t total = 0;
  for (const auto& layer : layers_) total += layer->parameter_count();
  return total;
}

int64_t Network::conv_weight_count() const {
  int64_t total = 0;
  for (const auto& layer : layers_) total += layer->conv_weight_count();
  return total;
}

double Network::bflops() const {
  double total = 0;
  for (const auto& layer : layers_) total += layer->bflops();
  return total;
}

double Network::conv_bflops() const {
  double total = 0;
  for (const auto& layer : layers_) total += layer->conv_bflops();
  return total;
}

}  // namespace cspnet
