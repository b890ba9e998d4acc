// The zoo's registry: every family adds its models, in the order `cspnet zoo`
// lists them.
#include <algorithm>

#include "cspnet/error.hpp"
#include "zoo_families.hpp"

namespace cspnet {
namespace zoo_detail {

NetInput imagenet_input(int size) {
  NetInput input;
  input.width = input.height = size;
  input.channels = 3;
  input.training = imagenet_training_keys();
  return input;
}

NetInput small_input() {
  NetInput input;
  input.width = input.height = 28;
  input.channels = 1;
  input.training = {{"batch", "64"}, {"subdivisions", "1"},    {"learning_rate", "0.01"}, {"policy", "poly"},
                    {"power", "2"},  {"max_batches", "20000"}, {"momentum", "0.9"},       {"decay", "0.0005"}};
  return input;
}

void append_classifier(ModelBuilder& b, int classes, bool conv_before_pool) {
  b.note("classifier");
  const ConvSpec head{.filters = classes, .activation = "linear", .batch_normalize = false};
  if (conv_before_pool) {
    b.conv(head);
    b.global_avgpool();
  } else {
    b.global_avgpool();
    b.conv(head);
  }
  b.softmax();
}

}  // namespace zoo_detail

const std::vector<ZooModel>& zoo_models() {
  static const std::vector<ZooModel> zoo = [] {
    std::vector<ZooModel> all;
    zoo_detail::add_darknet_family(all);
    zoo_detail::add_resnet_family(all);
    zoo_detail::add_densenet_family(all);
    zoo_detail::add_peleenet_family(all);
    zoo_detail::add_mobilenetv2_family(all);
    return all;
  }();
  return zoo;
}

const ZooModel& zoo_model(const std::string& name) {
  const auto& zoo = zoo_models();
  auto it = std::find_if(zoo.begin(), zoo.end(), [&](const ZooModel& m) { return m.name == name; });
  if (it != zoo.end()) return *it;
  std::string names;
  for (const auto& m : zoo) names += (names.empty() ? "" : ", ") + m.name;
  throw Error("unknown zoo model '" + name + "'; the zoo has: " + names);
}

CfgFile zoo_cfg(const std::string& name) { return zoo_cfg(name, zoo_model(name).input); }

CfgFile zoo_cfg(const std::string& name, const NetInput& input) { return zoo_model(name).build(input).cfg(); }

Network zoo_network(const std::string& name) { return zoo_model(name).build(zoo_model(name).input).build(); }

}  // namespace cspnet
