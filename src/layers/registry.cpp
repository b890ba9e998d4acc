// The layer registry: darknet section name -> factory. Adding a layer kind
// adds its file and one line here.
#include "cspnet/cfg.hpp"
#include "cspnet/error.hpp"
#include "cspnet/layer.hpp"

namespace cspnet {

std::unique_ptr<Layer> make_convolutional(LayerSite&);
std::unique_ptr<Layer> make_maxpool(LayerSite&);
std::unique_ptr<Layer> make_avgpool(LayerSite&);
std::unique_ptr<Layer> make_route(LayerSite&);
std::unique_ptr<Layer> make_shortcut(LayerSite&);
std::unique_ptr<Layer> make_upsample(LayerSite&);
std::unique_ptr<Layer> make_connected(LayerSite&);
std::unique_ptr<Layer> make_softmax(LayerSite&);
std::unique_ptr<Layer> make_dropout(LayerSite&);
std::unique_ptr<Layer> make_cost(LayerSite&);
std::unique_ptr<Layer> make_sam(LayerSite&);
std::unique_ptr<Layer> make_scale_channels(LayerSite&);
std::unique_ptr<Layer> make_yolo(LayerSite&);

namespace {

struct RegistryEntry {
  const char* section;
  std::unique_ptr<Layer> (*make)(LayerSite&);
};

// darknet's short aliases ([conv], [max], ...) are accepted too.
constexpr RegistryEntry kRegistry[] = {
    {"convolutional", make_convolutional}, {"conv", make_convolutional},
    {"maxpool", make_maxpool},             {"max", make_maxpool},
    {"avgpool", make_avgpool},             {"avg", make_avgpool},
    {"route", make_route},
    {"shortcut", make_shortcut},
    {"upsample", make_upsample},
    {"connected", make_connected},         {"conn", make_connected},
    {"softmax", make_softmax},             {"soft", make_softmax},
    {"dropout", make_dropout},
    {"cost", make_cost},
    {"sam", make_sam},
    {"scale_channels", make_scale_channels},
    {"yolo", make_yolo},
};

}  // namespace

const char* section_name(LayerKind kind) {
  constexpr const char* kNames[kLayerKinds] = {"convolutional", "maxpool", "avgpool", "route",   "shortcut",
                                               "upsample",      "connected", "softmax", "dropout", "cost",
                                               "sam",           "scale_channels", "yolo"};
  return kNames[static_cast<int>(kind)];
}

bool is_plain_softmax(const Layer& layer) {
  const auto* softmax = std::get_if<SoftmaxAttrs>(&layer.attrs());
  return softmax && softmax->groups == 1 && softmax->temperature == 1.f;
}

const YoloAttrs* yolo_attrs(const Layer& layer) { return std::get_if<YoloAttrs>(&layer.attrs()); }

std::vector<std::string> layer_section_names() {
  std::vector<std::string> names;
  for (const auto& entry : kRegistry) names.emplace_back(entry.section);
  return names;
}

std::unique_ptr<Layer> make_layer(const std::string& section, LayerSite& site) {
  for (const auto& entry : kRegistry)
    if (section == entry.section) return entry.make(site);
  std::string known;
  for (const auto& entry : kRegistry) {
    if (!known.empty()) known += ", ";
    known += entry.section;
  }
  throw Error(site.options.where() + ": unknown section [" + cfg_excerpt(section) + "] (known: " + known + ")");
}

}  // namespace cspnet
