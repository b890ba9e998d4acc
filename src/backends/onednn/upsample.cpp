// [upsample] as parallel loops (either layout: a blocked map's cells hold
// 16 channels).
#include <cstdint>
#include <type_traits>

#include "backends/onednn/kernel_util.hpp"
#include "backends/onednn/train_util.hpp"

namespace cspnet {
namespace {

// Each cell of the small map copied (times scale) into an s x s block of
// the big one, or (reverse: downsampling) the block's sum into it. In the
// blocked layout each "channel plane" is a channel block whose cells hold 16
// values; channels-last, one plane whose cells hold every channel. T: float,
// or for copies (scale 1, forward only) uint16_t (bfloat16) or uint8_t (8-bit
// integers).
template <typename T>
void resample_cells(const TensorView& in, const TensorView& out, int64_t s, float scale, bool reverse) {
  const TensorView& big = reverse ? in : out;
  const TensorView& small = reverse ? out : in;
  const int64_t lanes = in.channels_last ? in.shape.c : in.blocked ? kChannelBlock : 1, planes = in.shape.c / lanes;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < in.shape.n; ++n)
    for (int64_t c = 0; c < planes; ++c) {
      T* b = reinterpret_cast<T*>(big.image(n)) + c * big.plane() * lanes;
      T* sm = reinterpret_cast<T*>(small.image(n)) + c * small.plane() * lanes;
      if (reverse)
        for (int64_t i = 0; i < small.plane() * lanes; ++i) sm[i] = 0;
      for (int64_t y = 0; y < big.shape.h; ++y)
        for (int64_t x = 0; x < big.shape.w; ++x) {
          T* small_cell = sm + ((y / s) * small.shape.w + x / s) * lanes;
          T* big_cell = b + (y * big.shape.w + x) * lanes;
          for (int64_t l = 0; l < lanes; ++l) {
            if constexpr (std::is_same_v<T, float>) {
              if (reverse)
                small_cell[l] += scale * big_cell[l];
              else
                big_cell[l] = scale * small_cell[l];
            } else {
              big_cell[l] = small_cell[l];
            }
          }
        }
    }
}

class UpsampleKernels final : public LayerKernels {
 public:
  LayoutRule layout_rule(const Layer&) const override { return LayoutRule::same; }

  // Upsampling at scale 1 only copies cells: bfloat16 moves as 16-bit words,
  // 8-bit integers as bytes (quantized as the input).
  bool runs_on_bf16(const Layer& layer) const override { return copies_cells(layer); }
  bool moves_int8(const Layer& layer) const override { return copies_cells(layer); }
  bool takes_channels_last(const Layer&) const override { return true; }  // a cell is then all C channels

  std::unique_ptr<Kernel> compile(const Layer& layer, const CompileContext& ctx) const override {
    const auto& a = layer.attrs_as<UpsampleAttrs>();
    TensorView in = ctx.inputs[0], out = ctx.output;
    const int64_t s = a.stride;
    const float scale = a.scale;
    const bool reverse = a.downsample;
    if (in.data_type() != out.data_type() || in.int8_scale != out.int8_scale ||
        (!in.is_float() && !copies_cells(layer)))
      throw Error(layer.where() + ": internal: narrow operands planned for an upsample that cannot take them");
    if (in.bf16)
      return make_kernel([in, out, s](dnnl::stream&) { resample_cells<uint16_t>(in, out, s, 1.f, false); });
    if (in.is_int8())
      return make_kernel([in, out, s](dnnl::stream&) { resample_cells<uint8_t>(in, out, s, 1.f, false); });
    return make_kernel([in, out, s, scale, reverse](dnnl::stream&) {
      resample_cells<float>(in, out, s, scale, reverse);
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

 private:
  static bool copies_cells(const Layer& layer) {
    const auto& a = layer.attrs_as<UpsampleAttrs>();
    return !a.downsample && a.scale == 1.f;
  }
};

}  // namespace

const LayerKernels& upsample_kernels() {
  static const UpsampleKernels kernels;
  return kernels;
}

}  // namespace cspnet
