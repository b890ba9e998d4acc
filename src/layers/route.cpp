// [route]: channel concatenation of earlier layers; with groups/group_id each
// input contributes its group_id-th contiguous chunk of C/groups channels.
// One input: a view (nothing runs). Several: the planner lets producers write
// straight into their slice. Kernels: backends/*/route.cpp.
#include <vector>

#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

namespace cspnet {
namespace {

RouteAttrs read_attrs(Options& o) {
  RouteAttrs a;
  a.groups = o.get_int("groups", 1);
  a.group_id = o.get_int("group_id", 0);
  if (a.groups <= 0) o.fail("groups", "a positive number of groups");
  if (a.group_id < 0 || a.group_id >= a.groups) o.fail("group_id", "a group index in 0.." + std::to_string(a.groups - 1));
  return a;
}

std::vector<int> read_layers(LayerSite& site) {
  Options& o = site.options;
  if (!o.has("layers")) throw Error(o.where() + ": missing required key 'layers' (a list of layer indices)");
  std::vector<int> inputs;
  for (int ref : o.get_ints("layers")) inputs.push_back(resolve_layer_ref(site, "layers", ref));
  return inputs;
}

class RouteLayer final : public Layer {
 public:
  RouteLayer(std::vector<int> inputs, const RouteAttrs& attrs) : Layer(attrs), a_(attrs_as<RouteAttrs>()) {
    set_inputs(std::move(inputs));
  }

  std::string_view type() const override { return "route"; }

  Shape infer(std::span<const Shape> in) override {
    Shape out{in[0].n, 0, in[0].h, in[0].w};
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i].h != out.h || in[i].w != out.w)
        shape_error(*this, "input layer " + std::to_string(inputs()[i]) + " is " + in[i].str() +
                               " but layer " + std::to_string(inputs()[0]) + " is " + in[0].str() +
                               "; routed layers must share width and height");
      if (in[i].c % a_.groups != 0)
        shape_error(*this, "groups=" + std::to_string(a_.groups) + " does not divide the " +
                               std::to_string(in[i].c) + " channels of layer " + std::to_string(inputs()[i]));
      out.c += in[i].c / a_.groups;
    }
    chunk_offset_ = in[0].c / a_.groups * a_.group_id;
    return out;
  }

  OutputKind output_kind() const override {
    if (inputs().size() == 1) return OutputKind::view;
    return a_.groups == 1 ? OutputKind::concat : OutputKind::compute;
  }
  int64_t view_offset() const override { return chunk_offset_; }

  std::string geometry() const override {
    std::string text;
    for (int in : inputs()) {
      if (!text.empty()) text += ',';
      text += std::to_string(in);
    }
    if (a_.groups > 1) text += " g" + std::to_string(a_.group_id) + "/" + std::to_string(a_.groups);
    return text;
  }

 private:
  const RouteAttrs& a_;
  int64_t chunk_offset_ = 0;
};

}  // namespace

std::unique_ptr<Layer> make_route(LayerSite& site) {
  std::vector<int> inputs = read_layers(site);
  return std::make_unique<RouteLayer>(std::move(inputs), read_attrs(site.options));
}

}  // namespace cspnet
