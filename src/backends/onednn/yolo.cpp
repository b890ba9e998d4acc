// [yolo] at inference: darknet's output activations in place of the raw
// map, as a parallel loop.
#include <cstring>

#include "backends/onednn/kernel_util.hpp"

namespace cspnet {
namespace {

class YoloKernels final : public LayerKernels {
 public:
  std::unique_ptr<Kernel> compile(const Layer& layer, const CompileContext& ctx) const override {
    TensorView in = ctx.inputs[0], out = ctx.output;
    const YoloAttrs p = layer.attrs_as<YoloAttrs>();
    return make_kernel([in, out, p](dnnl::stream&) {
      const int64_t plane = in.plane(), entries = p.classes + 5;
      const float scale = p.scale_x_y, shift = -0.5f * (p.scale_x_y - 1.f);
      for (int64_t n = 0; n < in.shape.n; ++n) {
        std::memcpy(out.image(n), in.image(n), size_t(in.shape.per_image()) * sizeof(float));
        for (size_t a = 0; a < p.mask.size(); ++a) {
          float* base = out.image(n) + int64_t(a) * entries * plane;
          if (!p.new_coords) {
            activate_array(Activation::logistic, base, 2 * plane);
            activate_array(Activation::logistic, base + 4 * plane, (1 + p.classes) * plane);
          }
          for (int64_t i = 0; i < 2 * plane; ++i) base[i] = base[i] * scale + shift;
        }
      }
    });
  }

};

}  // namespace

const LayerKernels& yolo_kernels() {
  static const YoloKernels kernels;
  return kernels;
}

}  // namespace cspnet
