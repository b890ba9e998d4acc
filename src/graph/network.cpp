#include "cspnet/network.hpp"

#include <algorithm>

#include "cspnet/error.hpp"
#include "train/net_training_keys.hpp"

namespace cspnet {
namespace {

// "a*b*c" evaluated, or spelled out where the product does not fit in 64 bits.
std::string product_text(int64_t a, int64_t b, int64_t c) {
  int64_t ab = 0, abc = 0;
  if (__builtin_mul_overflow(a, b, &ab) || __builtin_mul_overflow(ab, c, &abc))
    return std::to_string(a) + "*" + std::to_string(b) + "*" + std::to_string(c);
  return std::to_string(abc);
}

// Empty when `shape` is within the tensor limits, else what exceeds them.
std::string limits_exceeded(const Shape& shape) {
  if (!Shape{1, shape.c, shape.h, shape.w}.within_limits())
    return "exceeds the supported " + std::to_string(kMaxElementsPerImage) + " elements per image";
  if (!shape.within_limits())
    return "at batch " + std::to_string(shape.n) + " exceeds the supported " + std::to_string(kMaxTensorElements) +
           " elements per tensor";
  return "";
}

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
  // Per image: [net] batch only matters to training, whose reshape checks it.
  if (!Shape{1, config.channels, config.height, config.width}.within_limits())
    throw Error(options.where() + ": input width*height*channels = " +
                product_text(config.width, config.height, config.channels) + " is larger than the supported " +
                std::to_string(kMaxElementsPerImage));
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

void Layer::share_weights_of(Layer& owner) {
  throw Error(where() + ": cannot share the weights of layer " + std::to_string(owner.index()));
}

Shape checked_output(const Layer& layer, Shape shape) {
  if (shape.c <= 0 || shape.h <= 0 || shape.w <= 0)
    throw Error(layer.where() + ": output shape " + std::to_string(shape.c) + "x" + std::to_string(shape.h) +
                "x" + std::to_string(shape.w) + " is empty (the input is too small for this layer)");
  if (std::string exceeded = limits_exceeded(shape); !exceeded.empty())
    throw Error(layer.where() + ": output shape " + shape.str() + " " + exceeded);
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
    throw Error(cfg.path + ":" + std::to_string(first.line) + ": section [" + cfg_excerpt(first.name) +
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
  for (auto& layer : net.layers_)
    if (const auto* conv = std::get_if<ConvolutionalAttrs>(&layer->attrs()); conv && conv->share_index >= 0)
      layer->share_weights_of(*net.layers_[size_t(conv->share_index)]);
  // [net] batch is a training setting; inference starts at batch 1 like
  // darknet unless the caller asks for another.
  net.reshape(parse.width > 0 ? parse.width : net.config_.width, parse.height > 0 ? parse.height : net.config_.height,
              parse.batch);
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
  const Shape input{batch, config_.channels, height, width};
  if (std::string exceeded = limits_exceeded(input); !exceeded.empty())
    throw Error(name_ + ": input " + input.str() + " " + exceeded);
  config_.width = width;
  config_.height = height;
  batch_ = batch;
  for (auto& layer : layers_) {
    std::vector<Shape> shapes;
    for (int in : layer->inputs()) shapes.push_back(in < 0 ? input_shape() : layers_[static_cast<size_t>(in)]->output_shape());
    Shape out = layer->infer(shapes);
    out.n = batch;
    layer->set_shapes(std::move(shapes), checked_output(*layer, out));
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
