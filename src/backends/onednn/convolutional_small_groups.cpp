// Grouped convolutions with 2, 4 or 8 channels per group on nChw16c tensors
// (convolutional_small_groups.hpp says why). Output channels are computed 16
// at a time, one vector lane each: lane l of block b is output channel
// o = 16b + l, whose group's input channels lie in the same 16-channel input
// block, at lanes g..g+cg-1 (g = l - l % cg). Rotation r of an input pixel
// (each lane l takes lane g + (l % cg + r) % cg, one permute; rotation 0 is
// the pixel itself) times a weight vector holding W[o][(l % cg + r) % cg]
// gives each lane one term of its group's sum; cg rotations give all of them.
#include "backends/onednn/convolutional_small_groups.hpp"

#include <immintrin.h>

#include <algorithm>

#include "backends/onednn/kernel_util.hpp"

namespace cspnet {
namespace {

constexpr int64_t kLanes = 16;

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}

struct SmallGroupGeometry {
  int64_t channels, group_channels, size, stride_y, stride_x, pad_top, pad_left;
  int64_t in_h, in_w, out_h, out_w;
  int64_t blocks() const { return channels / kLanes; }
  int64_t taps() const { return size * size; }
};

// weights[((b * taps + tap) * cg + r) * 16 + l] = W[o][(l % cg + r) % cg][tap]
// for o = 16b + l: the weight vectors in the order the loop reads them.
std::vector<float> rotated_weights(const std::vector<float>& w, const SmallGroupGeometry& g) {
  const int64_t cg = g.group_channels, taps = g.taps();
  std::vector<float> rotated(size_t(g.channels * cg * taps));
  for (int64_t b = 0; b < g.blocks(); ++b)
    for (int64_t tap = 0; tap < taps; ++tap)
      for (int64_t r = 0; r < cg; ++r)
        for (int64_t l = 0; l < kLanes; ++l) {
          const int64_t o = b * kLanes + l, i = (l % cg + r) % cg;
          rotated[size_t(((b * taps + tap) * cg + r) * kLanes + l)] = w[size_t((o * cg + i) * taps + tap)];
        }
  return rotated;
}

// GCC 12's AVX-512 intrinsics start masked operations from an undefined
// vector it then reports as maybe uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// One output row of one 16-channel block: bias, then each tap's rotations
// accumulated over the output columns whose input column is inside the
// image (padding contributes nothing), then the activation.
template <int CG>
__attribute__((target("avx512f"))) void convolve_row(const float* in_block, float* out_row, const float* weights,
                                                     const float* bias, int64_t y, const SmallGroupGeometry& g,
                                                     Activation act) {
  __m512i rotation[CG];
  for (int r = 0; r < CG; ++r) {
    alignas(64) int32_t index[kLanes];
    for (int l = 0; l < kLanes; ++l) index[l] = l - l % CG + (l % CG + r) % CG;
    rotation[r] = _mm512_load_si512(index);
  }
  const __m512 b = _mm512_loadu_ps(bias);
  for (int64_t x = 0; x < g.out_w; ++x) _mm512_storeu_ps(out_row + x * kLanes, b);
  for (int64_t ky = 0; ky < g.size; ++ky) {
    const int64_t iy = y * g.stride_y + ky - g.pad_top;
    if (iy < 0 || iy >= g.in_h) continue;
    const float* in_row = in_block + iy * g.in_w * kLanes;
    for (int64_t kx = 0; kx < g.size; ++kx) {
      // Output columns x with 0 <= x * stride + kx - pad_left < in_w.
      const int64_t shift = kx - g.pad_left;
      const int64_t first = shift >= 0 ? 0 : (-shift + g.stride_x - 1) / g.stride_x;
      const int64_t last_column = g.in_w - 1 - shift;  // negative: the tap is right of the image
      const int64_t end = last_column < 0 ? 0 : std::min(g.out_w, last_column / g.stride_x + 1);
      const float* w = weights + (ky * g.size + kx) * CG * kLanes;
      __m512 wr[CG];
      for (int r = 0; r < CG; ++r) wr[r] = _mm512_loadu_ps(w + r * kLanes);
      for (int64_t x = first; x < end; ++x) {
        const __m512 v = _mm512_loadu_ps(in_row + (x * g.stride_x + shift) * kLanes);
        __m512 acc = _mm512_fmadd_ps(v, wr[0], _mm512_loadu_ps(out_row + x * kLanes));
        for (int r = 1; r < CG; ++r) acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(rotation[r], v), wr[r], acc);
        _mm512_storeu_ps(out_row + x * kLanes, acc);
      }
    }
  }
  if (act == Activation::linear) return;
  const __m512 slope = _mm512_set1_ps(act == Activation::leaky ? 0.1f : 0.f);
  for (int64_t x = 0; x < g.out_w; ++x) {
    const __m512 v = _mm512_loadu_ps(out_row + x * kLanes);
    _mm512_storeu_ps(out_row + x * kLanes, _mm512_max_ps(v, _mm512_mul_ps(v, slope)));
  }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

class SmallGroupConvolution final : public Kernel {
 public:
  SmallGroupConvolution(const Layer& layer, const TensorView& in, const TensorView& out,
                        const SmallGroupGeometry& geometry)
      : arrays_(*layer.weight_arrays()),
        batch_norm_(layer.attrs_as<ConvolutionalAttrs>().batch_normalize),
        act_(layer.attrs_as<ConvolutionalAttrs>().activation),
        in_(in),
        out_(out),
        g_(geometry) {
    reload_weights();
  }

  void run(dnnl::stream&) override {
    switch (g_.group_channels) {
      case 2: run_rows<2>(); break;
      case 4: run_rows<4>(); break;
      default: run_rows<8>(); break;
    }
  }
  std::string implementation() const override { return "cspnet_small_groups:avx512"; }
  void reload_weights() override {
    InferenceArrays folded(arrays_, batch_norm_, true);
    weights_ = rotated_weights(folded.weights, g_);
    bias_ = std::move(folded.bias);
  }

 private:
  template <int CG>
  void run_rows() {
    const int64_t blocks = g_.blocks(), rows = in_.shape.n * blocks * g_.out_h;
    const int64_t in_plane = g_.in_h * g_.in_w, out_plane = g_.out_h * g_.out_w;
    const int64_t block_weights = g_.taps() * CG * kLanes;
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t y = row % g_.out_h, b = row / g_.out_h % blocks, n = row / g_.out_h / blocks;
      convolve_row<CG>(in_.image(n) + b * kLanes * in_plane, out_.image(n) + b * kLanes * out_plane + y * g_.out_w * kLanes,
                       weights_.data() + b * block_weights, bias_.data() + b * kLanes, y, g_, act_);
    }
  }

  const WeightArrays& arrays_;
  bool batch_norm_;
  Activation act_;
  TensorView in_, out_;
  SmallGroupGeometry g_;
  std::vector<float> weights_, bias_;
};

}  // namespace

std::unique_ptr<Kernel> compile_small_group_convolution(const Layer& layer, const CompileContext& ctx) {
  const auto& a = layer.attrs_as<ConvolutionalAttrs>();
  const TensorView& in = ctx.inputs[0];
  const TensorView& out = ctx.output;
  const int64_t channels = in.shape.c;
  const int64_t group_channels = a.groups > 0 ? channels / a.groups : 0;
  const bool fits = ctx.options.small_group_kernel && ctx.options.precision == Precision::fp32 && a.groups > 1 &&
                    (group_channels == 2 || group_channels == 4 || group_channels == 8) &&
                    channels % kLanes == 0 && a.filters == channels && out.shape.c == channels &&
                    a.dilation == 1 && in.blocked && out.blocked && in.is_float() && out.is_float() &&
                    (!a.batch_normalize || ctx.options.fold_batchnorm) && ctx.options.fuse_activation &&
                    (a.activation == Activation::linear || a.activation == Activation::relu ||
                     a.activation == Activation::leaky) &&
                    !ctx.accumulate && ctx.int8_input == nullptr && cpu_has_avx512();
  if (!fits) return nullptr;
  const SmallGroupGeometry g{channels,      group_channels, a.size,     a.stride_y,  a.stride_x,
                             a.padding,     a.padding,      in.shape.h, in.shape.w,  out.shape.h,
                             out.shape.w};
  return std::make_unique<SmallGroupConvolution>(layer, in, out, g);
}

}  // namespace cspnet
