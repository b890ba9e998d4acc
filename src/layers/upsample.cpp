// [upsample]: nearest-neighbour upsampling by `stride` (times `scale`); a
// negative stride sums stride x stride blocks down, as darknet does.
#include <limits>

#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

namespace cspnet {
namespace {

class UpsampleLayer final : public Layer {
 public:
  explicit UpsampleLayer(Options& o) {
    int stride = o.get_int("stride", 2);
    if (stride == 0 || stride == std::numeric_limits<int>::min())  // INT_MIN: -stride overflows
      o.fail("stride", "a non-zero stride");
    reverse_ = stride < 0;
    stride_ = reverse_ ? -stride : stride;
    scale_ = o.get_float("scale", 1.f);
  }
  std::string_view type() const override { return reverse_ ? "downsample" : "upsample"; }
  std::string geometry() const override { return std::to_string(stride_) + "x"; }

  Shape infer(std::span<const Shape> in) override {
    const Shape& x = in[0];
    if (reverse_) {
      if (x.h % stride_ != 0 || x.w % stride_ != 0)
        shape_error(*this, "stride " + std::to_string(stride_) + " must divide the input " + x.str());
      return Shape{x.n, x.c, x.h / stride_, x.w / stride_};
    }
    return Shape{x.n, x.c, x.h * stride_, x.w * stride_};
  }

  std::unique_ptr<Kernel> compile(const CompileContext& ctx) override {
    TensorView in = ctx.inputs[0], out = ctx.output;
    int64_t s = stride_;
    float scale = scale_;
    bool reverse = reverse_;
    return make_kernel([in, out, s, scale, reverse](dnnl::stream&) {
      const TensorView& big = reverse ? in : out;
      const TensorView& small = reverse ? out : in;
#pragma omp parallel for collapse(2) schedule(static)
      for (int64_t n = 0; n < in.shape.n; ++n)
        for (int64_t c = 0; c < in.shape.c; ++c) {
          float* b = big.image(n) + c * big.plane();
          float* sm = small.image(n) + c * small.plane();
          if (reverse)
            for (int64_t i = 0; i < small.plane(); ++i) sm[i] = 0;
          for (int64_t y = 0; y < big.shape.h; ++y)
            for (int64_t x = 0; x < big.shape.w; ++x) {
              float& small_cell = sm[(y / s) * small.shape.w + x / s];
              if (reverse)
                small_cell += scale * b[y * big.shape.w + x];
              else
                b[y * big.shape.w + x] = scale * small_cell;
            }
        }
    });
  }

 private:
  int stride_ = 2;
  bool reverse_ = false;
  float scale_ = 1.f;
};

}  // namespace

std::unique_ptr<Layer> make_upsample(LayerSite& site) { return std::make_unique<UpsampleLayer>(site.options); }

}  // namespace cspnet
