#pragma once
// Internal: each family file registers its models; shared helpers.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cspnet/zoo.hpp"

namespace cspnet::zoo_detail {

void add_darknet_family(std::vector<ZooModel>& zoo);
void add_resnet_family(std::vector<ZooModel>& zoo);
void add_densenet_family(std::vector<ZooModel>& zoo);
void add_peleenet_family(std::vector<ZooModel>& zoo);
void add_mobilenetv2_family(std::vector<ZooModel>& zoo);

// ImageNet input of the paper's cfgs (square, RGB, their training keys).
NetInput imagenet_input(int size);
// The small models' input: Fashion-MNIST (28x28 grey); 32x32 inputs
// (CIFAR-sized) go through the same networks (--size 32x32, --channels 3).
NetInput small_input();
constexpr int kImageNetClasses = 1000;
constexpr int kSmallClasses = 10;

// A zoo entry built by `build(spec, input)`; the spec is named after the model.
template <class Spec, class Build>
ZooModel family_model(std::string name, std::string paper_name, std::string family, std::string baseline,
                      std::optional<PaperFigures> paper, std::string official_cfg, Spec spec, NetInput input,
                      Build build) {
  spec.name = name;
  return ZooModel{std::move(name),     std::move(paper_name), std::move(family),
                  std::move(baseline), std::move(input),      paper,
                  std::move(official_cfg), [spec, build](const NetInput& in) { return build(spec, in); }};
}

// Darknet's classifier: global average, a 1x1 convolution to the classes
// (linear, no batch norm), softmax. resnet50.cfg puts the convolution before
// the pooling (same weights, 49x the FLOPs at 7x7): `conv_before_pool`.
void append_classifier(ModelBuilder& b, int classes, bool conv_before_pool = false);

}  // namespace cspnet::zoo_detail

namespace cspnet::zoo_detail {

// The Ref. models' layout (densenet.cpp), shared with the PeleeNet Ref. models.
ModelBuilder reference_csp_model(const std::string& name, const NetInput& input, const std::vector<int>& widths,
                                 const std::vector<Block>& blocks);

}  // namespace cspnet::zoo_detail

namespace cspnet::zoo_detail {

// The small CSPPeleeNet the small detectors stand on: PeleeNet's stem and
// four stages (strides 4 to 32) like the ImageNet model, narrower and
// shallower; 10 classes (its classifier is dropped by the detectors).
ModelBuilder small_detection_peleenet(const NetInput& input);

}  // namespace cspnet::zoo_detail
