// [upsample] as parallel loops (either layout: a blocked map's cells hold
// 16 channels).
#include "backends/onednn/kernel_util.hpp"
#include "backends/onednn/train_util.hpp"

namespace cspnet {
namespace {

class UpsampleKernels final : public LayerKernels {
 public:
  LayoutRule layout_rule(const Layer&) const override { return LayoutRule::same; }

  std::unique_ptr<Kernel> compile(const Layer& layer, const CompileContext& ctx) const override {
    const auto& a = layer.attrs_as<UpsampleAttrs>();
    TensorView in = ctx.inputs[0], out = ctx.output;
    int64_t s = a.stride;
    float scale = a.scale;
    bool reverse = a.downsample;
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
  std::unique_ptr<TrainKernel> compile_training(Layer& layer, const TrainCompileContext& ctx) const override {
    const auto& a = layer.attrs_as<UpsampleAttrs>();
    const TrainTensor in = ctx.inputs[0], out = ctx.output, dy = ctx.output_grad, dx = ctx.input_grads[0];
    const bool accumulate = ctx.accumulate_input_grad[0], reverse = a.downsample;
    const int64_t s = a.stride;
    const float scale = a.scale;
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

};

}  // namespace

const LayerKernels& upsample_kernels() {
  static const UpsampleKernels kernels;
  return kernels;
}

}  // namespace cspnet
