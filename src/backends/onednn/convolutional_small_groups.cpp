// Grouped convolutions with 2, 4 or 8 channels per group on nChw16c or
// channels-last tensors of floats or bfloat16 (convolutional_small_groups.hpp
// says why). Output channels are computed 16
// at a time, one vector lane each: lane l of block b is output channel
// o = 16b + l, whose group's input channels lie in the same 16-channel input
// block, at lanes g..g+cg-1 (g = l - l % cg). Rotation r of an input pixel
// (each lane l takes lane g + (l % cg + r) % cg, one permute; rotation 0 is
// the pixel itself) times a weight vector holding W[o][(l % cg + r) % cg]
// gives each lane one term of its group's sum; cg rotations give all of them.
// Both layouts hold a block's 16 channels of a pixel together; they differ
// in the strides between pixels and between blocks (TensorLayout).
#include "backends/onednn/convolutional_small_groups.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <type_traits>
#include <vector>

#include "backends/onednn/kernel_util.hpp"

namespace cspnet {
namespace {

constexpr int64_t kLanes = 16;

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}

struct SmallGroupGeometry {
  int64_t channels, group_channels, size, stride_y, stride_x, padding;
  int64_t in_h, in_w, out_h, out_w;
  int64_t blocks() const { return channels / kLanes; }
  int64_t taps() const { return size * size; }
};

// Elements between neighbouring pixels and between 16-channel blocks of one
// image: nChw16c (16, 16 * H * W) or channels last (C, 16).
struct TensorLayout {
  int64_t pixel, block;
  explicit TensorLayout(const TensorView& v)
      : pixel(v.channels_last ? v.shape.c : kLanes), block(v.channels_last ? kLanes : kLanes * v.plane()) {}
};

// bfloat16 as its 16 bits, rounded to nearest even like oneDNN's reorders.
float bf16_rounded(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits = (bits + 0x7fffu + ((bits >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// The activation as max(v, slope * v): 1 for linear, else the slope of the
// relu oneDNN fuses for it (0 for relu, darknet's for leaky); none for
// activations that are not such a relu.
std::optional<float> relu_slope(Activation act) {
  if (act == Activation::linear) return 1.f;
  const std::optional<Eltwise> op = single_eltwise(act);
  if (!op || op->algorithm != dnnl::algorithm::eltwise_relu || op->alpha < 0.f || op->alpha > 1.f) return std::nullopt;
  return op->alpha;
}

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

__attribute__((target("avx512f"))) inline __m512 load_lanes(const float* p) { return _mm512_loadu_ps(p); }
__attribute__((target("avx512f"))) inline __m512 load_lanes(const uint16_t* p) {
  const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}
__attribute__((target("avx512f"))) inline void store_lanes(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
__attribute__((target("avx512f"))) inline void store_lanes(uint16_t* p, __m512 v) {
  // Round to nearest even (NaN is not expected from a convolution's sums).
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(_mm512_srli_epi32(rounded, 16)));
}

// One output row of one 16-channel block: bias, then each tap's rotations
// accumulated in `sums` (out_w vectors of floats) over the output columns
// whose input column is inside the image (padding contributes nothing),
// then the activation max(v, slope * v) on the way to `out_row`.
template <int CG, class In, class Out>
__attribute__((target("avx512f"))) void convolve_row(const In* in_block, TensorLayout in_layout, Out* out_row,
                                                     int64_t out_pixel, float* sums, const float* weights,
                                                     const float* bias, int64_t y, const SmallGroupGeometry& g,
                                                     float slope) {
  __m512i rotation[CG];
  for (int r = 0; r < CG; ++r) {
    alignas(64) int32_t index[kLanes];
    for (int l = 0; l < kLanes; ++l) index[l] = l - l % CG + (l % CG + r) % CG;
    rotation[r] = _mm512_load_si512(index);
  }
  const __m512 b = _mm512_loadu_ps(bias);
  for (int64_t x = 0; x < g.out_w; ++x) _mm512_storeu_ps(sums + x * kLanes, b);
  for (int64_t ky = 0; ky < g.size; ++ky) {
    const int64_t iy = y * g.stride_y + ky - g.padding;
    if (iy < 0 || iy >= g.in_h) continue;
    const In* in_row = in_block + iy * g.in_w * in_layout.pixel;
    for (int64_t kx = 0; kx < g.size; ++kx) {
      // Output columns x with 0 <= x * stride + kx - padding < in_w.
      const int64_t shift = kx - g.padding;
      const int64_t first = shift >= 0 ? 0 : (-shift + g.stride_x - 1) / g.stride_x;
      const int64_t last_column = g.in_w - 1 - shift;  // negative: the tap is right of the image
      const int64_t end = last_column < 0 ? 0 : std::min(g.out_w, last_column / g.stride_x + 1);
      const float* w = weights + (ky * g.size + kx) * CG * kLanes;
      __m512 wr[CG];
      for (int r = 0; r < CG; ++r) wr[r] = _mm512_loadu_ps(w + r * kLanes);
      for (int64_t x = first; x < end; ++x) {
        const __m512 v = load_lanes(in_row + (x * g.stride_x + shift) * in_layout.pixel);
        __m512 acc = _mm512_fmadd_ps(v, wr[0], _mm512_loadu_ps(sums + x * kLanes));
        for (int r = 1; r < CG; ++r) acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(rotation[r], v), wr[r], acc);
        _mm512_storeu_ps(sums + x * kLanes, acc);
      }
    }
  }
  const __m512 slopes = _mm512_set1_ps(slope);
  for (int64_t x = 0; x < g.out_w; ++x) {
    const __m512 v = _mm512_loadu_ps(sums + x * kLanes);
    store_lanes(out_row + x * out_pixel, _mm512_max_ps(v, _mm512_mul_ps(v, slopes)));
  }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

class SmallGroupConvolution final : public Kernel {
 public:
  SmallGroupConvolution(const Layer& layer, const TensorView& in, const TensorView& out,
                        const SmallGroupGeometry& geometry, float slope, bool bf16_weights)
      : arrays_(*layer.weight_arrays()),
        batch_norm_(layer.attrs_as<ConvolutionalAttrs>().batch_normalize),
        slope_(slope),
        bf16_weights_(bf16_weights),
        in_(in),
        out_(out),
        g_(geometry) {
    reload_weights();
  }

  void run(dnnl::stream&) override {
    switch (g_.group_channels) {
      case 2: run_types<2>(); break;
      case 4: run_types<4>(); break;
      default: run_types<8>(); break;
    }
  }
  std::string implementation() const override { return "cspnet_small_groups:avx512"; }
  void reload_weights() override {
    InferenceArrays folded(arrays_, batch_norm_, true);
    // bf16: the products of bf16 inputs and bf16 weights, as oneDNN's.
    if (bf16_weights_)
      for (float& w : folded.weights) w = bf16_rounded(w);
    weights_ = rotated_weights(folded.weights, g_);
    bias_ = std::move(folded.bias);
  }

 private:
  template <int CG>
  void run_types() {
    if (in_.bf16 && out_.bf16) return run_rows<CG, uint16_t, uint16_t>();
    if (in_.bf16) return run_rows<CG, uint16_t, float>();
    run_rows<CG, float, float>();
  }

  template <int CG, class In, class Out>
  void run_rows() {
    const int64_t blocks = g_.blocks(), rows = in_.shape.n * blocks * g_.out_h;
    const int64_t block_weights = g_.taps() * CG * kLanes;
    const TensorLayout in_layout(in_), out_layout(out_);
    // A float nChw16c output row is the sums' own place; others are
    // converted or spread out from a row of sums.
    const bool sums_in_place = std::is_same_v<Out, float> && out_layout.pixel == kLanes;
    const bool blocks_inner = in_layout.block == kLanes;
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      thread_local std::vector<float> row_sums;
      // Consecutive rows of a thread share input cache lines: rows of one
      // block in nChw16c, the blocks of one row in channels last.
      const int64_t y = blocks_inner ? row / blocks % g_.out_h : row % g_.out_h;
      const int64_t b = blocks_inner ? row % blocks : row / g_.out_h % blocks, n = row / g_.out_h / blocks;
      Out* out_row = reinterpret_cast<Out*>(out_.image(n)) + b * out_layout.block + y * g_.out_w * out_layout.pixel;
      float* sums = reinterpret_cast<float*>(out_row);
      if (!sums_in_place) {
        if (row_sums.size() < size_t(g_.out_w * kLanes)) row_sums.resize(size_t(g_.out_w * kLanes));
        sums = row_sums.data();
      }
      convolve_row<CG>(reinterpret_cast<const In*>(in_.image(n)) + b * in_layout.block, in_layout, out_row,
                       out_layout.pixel, sums, weights_.data() + b * block_weights, bias_.data() + b * kLanes, y, g_,
                       slope_);
    }
  }

  const WeightArrays& arrays_;
  bool batch_norm_;
  float slope_;
  bool bf16_weights_;
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
  // fp32: float nChw16c tensors (what fp32 plans keep); bf16: a bf16 input
  // and a bf16 or float output, nChw16c or channels last.
  const bool bf16 = ctx.options.precision == Precision::bf16;
  const std::optional<float> slope = relu_slope(a.activation);
  const auto layout_fits = [](const TensorView& v) { return v.blocked || (v.channels_last && v.dense()); };
  const bool tensors_fit = bf16 ? in.bf16 && !out.is_int8() && layout_fits(in) && layout_fits(out)
                                : in.is_float() && out.is_float() && in.blocked && out.blocked;
  const bool fits = ctx.options.small_group_kernel && (bf16 || ctx.options.precision == Precision::fp32) &&
                    tensors_fit && a.groups > 1 && (group_channels == 2 || group_channels == 4 || group_channels == 8) &&
                    channels % kLanes == 0 && a.filters == channels && out.shape.c == channels && a.dilation == 1 &&
                    (!a.batch_normalize || ctx.options.fold_batchnorm) && ctx.options.fuse_activation && slope &&
                    !ctx.accumulate && ctx.int8_input == nullptr && cpu_has_avx512();
  if (!fits) return nullptr;
  const SmallGroupGeometry g{channels,   group_channels, a.size,      a.stride_y,  a.stride_x, a.padding,
                             in.shape.h, in.shape.w,     out.shape.h, out.shape.w};
  return std::make_unique<SmallGroupConvolution>(layer, in, out, g, *slope, bf16);
}

}  // namespace cspnet
