// [upsample]: nearest-neighbour upsampling by `stride` (times `scale`); a
// negative stride sums stride x stride blocks down, as darknet does.
#include <limits>

#include "cspnet/cfg.hpp"
#include "layer_util.hpp"
#include "train_util.hpp"

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
  LayoutRule layout_rule() const override { return LayoutRule::same; }
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
    // Blocked layout: planes of 16 interleaved channels, so each "channel
    // plane" below is a channel block and each cell holds 16 values.
    const int64_t lanes = in.blocked ? kChannelBlock : 1;
    return make_kernel([in, out, s, scale, reverse, lanes](dnnl::stream&) {
      const TensorView& big = reverse ? in : out;
      const TensorView& small = reverse ? out : in;
      const int64_t planes = in.shape.c / lanes;
#pragma omp parallel for collapse(2) schedule(static)
      for (int64_t n = 0; n < in.shape.n; ++n)
        for (int64_t c = 0; c < planes; ++c) {
          float* b = big.image(n) + c * big.plane() * lanes;
          float* sm = small.image(n) + c * small.plane() * lanes;
          if (reverse)
            for (int64_t i = 0; i < small.plane() * lanes; ++i) sm[i] = 0;
          for (int64_t y = 0; y < big.shape.h; ++y)
            for (int64_t x = 0; x < big.shape.w; ++x) {
              float* small_cell = sm + ((y / s) * small.shape.w + x / s) * lanes;
              float* big_cell = b + (y * big.shape.w + x) * lanes;
              for (int64_t l = 0; l < lanes; ++l) {
                if (reverse)
                  small_cell[l] += scale * big_cell[l];
                else
                  big_cell[l] = scale * small_cell[l];
              }
            }
        }
    });
  }

  // Training: upsampling copies each cell (times scale) into an s x s block,
  // so its backward sums the block's gradients; downsampling (negative
  // stride) sums a block, so its backward spreads the gradient over it.
  std::unique_ptr<TrainKernel> compile_training(const TrainCompileContext& ctx) override {
    const TrainTensor in = ctx.inputs[0], out = ctx.output, dy = ctx.output_grad, dx = ctx.input_grads[0];
    const bool accumulate = ctx.accumulate_input_grad[0], reverse = reverse_;
    const int64_t s = stride_;
    const float scale = scale_;
    // Each (image, channel) plane: the small map and its s-times larger one.
    const Shape small = reverse ? out.shape : in.shape, big = reverse ? in.shape : out.shape;
    const int64_t planes = in.shape.n * in.shape.c;
    const int64_t small_plane = small.h * small.w, big_plane = big.h * big.w;
    // Big = scale * small, spread (upsample forward, downsample backward).
    auto spread = [s, scale, small, big, small_plane, big_plane, planes](const float* from, float* to,
                                                                        bool add) {
#pragma omp parallel for collapse(2) schedule(static)
      for (int64_t p = 0; p < planes; ++p)
        for (int64_t y = 0; y < big.h; ++y) {
          const float* row = from + p * small_plane + (y / s) * small.w;
          float* dst = to + p * big_plane + y * big.w;
          for (int64_t x = 0; x < big.w; ++x) dst[x] = add ? dst[x] + scale * row[x / s] : scale * row[x / s];
        }
    };
    // Small = scale * block sums (downsample forward, upsample backward).
    auto gather = [s, scale, small, big, small_plane, big_plane, planes](const float* from, float* to, bool add) {
#pragma omp parallel for collapse(2) schedule(static)
      for (int64_t p = 0; p < planes; ++p)
        for (int64_t y = 0; y < small.h; ++y) {
          float* dst = to + p * small_plane + y * small.w;
          for (int64_t x = 0; x < small.w; ++x) {
            float sum = 0;
            for (int64_t row_in_block = 0; row_in_block < s; ++row_in_block) {
              const float* row = from + p * big_plane + (y * s + row_in_block) * big.w + x * s;
              for (int64_t i = 0; i < s; ++i) sum += row[i];
            }
            dst[x] = add ? dst[x] + scale * sum : scale * sum;
          }
        }
    };
    return make_train_kernel(
        [in, out, reverse, spread, gather](dnnl::stream&, const StepContext&) {
          if (reverse)
            gather(in.data, out.data, false);
          else
            spread(in.data, out.data, false);
        },
        [dy, dx, accumulate, reverse, spread, gather](dnnl::stream&) {
          if (!dx.data) return;
          if (reverse)
            spread(dy.data, dx.data, accumulate);
          else
            gather(dy.data, dx.data, accumulate);
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
