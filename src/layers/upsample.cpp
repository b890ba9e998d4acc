// [upsample]: nearest-neighbour upsampling by `stride` (times `scale`); a
// negative stride sums stride x stride blocks down, as darknet does.
// Kernels: backends/*/upsample.cpp.
#include <limits>

#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

namespace cspnet {
namespace {

UpsampleAttrs read_attrs(Options& o) {
  UpsampleAttrs a;
  const int stride = o.get_int("stride", 2);
  if (stride == 0 || stride == std::numeric_limits<int>::min())  // INT_MIN: -stride overflows
    o.fail("stride", "a non-zero stride");
  a.downsample = stride < 0;
  a.stride = a.downsample ? -stride : stride;
  a.scale = o.get_float("scale", 1.f);
  return a;
}

class UpsampleLayer final : public Layer {
 public:
  explicit UpsampleLayer(Options& o) : Layer(read_attrs(o)), a_(attrs_as<UpsampleAttrs>()) {}
  std::string_view type() const override { return a_.downsample ? "downsample" : "upsample"; }
  std::string geometry() const override { return std::to_string(a_.stride) + "x"; }

  Shape infer(std::span<const Shape> in) override {
    const Shape& x = in[0];
    const int64_t s = a_.stride;
    if (a_.downsample) {
      if (x.h % s != 0 || x.w % s != 0)
        shape_error(*this, "stride " + std::to_string(s) + " must divide the input " + x.str());
      return Shape{x.n, x.c, x.h / s, x.w / s};
    }
    return Shape{x.n, x.c, x.h * s, x.w * s};
  }

 private:
  const UpsampleAttrs& a_;
};

}  // namespace

std::unique_ptr<Layer> make_upsample(LayerSite& site) { return std::make_unique<UpsampleLayer>(site.options); }

}  // namespace cspnet
