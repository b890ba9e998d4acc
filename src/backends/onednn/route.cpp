// [route]: no kernel when every input was written into its slice (the
// planner's zero-copy concat) or for a single input (a view); otherwise a
// copy of the channel ranges not already in place.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "backends/onednn/kernel_util.hpp"
#include "backends/onednn/train_util.hpp"

namespace cspnet {
namespace {

// Where element (image n, channel c, pixel p) of a view lies, in elements
// from view.data: the three layouts a planned tensor may have.
int64_t element_index(const TensorView& v, int64_t n, int64_t c, int64_t p) {
  if (v.channels_last) return n * v.image_stride + p * v.shape.c + c;
  if (v.blocked) return n * v.image_stride + (c / kChannelBlock) * v.plane() * kChannelBlock + p * kChannelBlock +
                        c % kChannelBlock;
  return n * v.image_stride + c * v.plane() + p;
}

float load(const TensorView& v, int64_t i) {
  if (v.is_float()) return v.data[i];
  const auto* bytes = reinterpret_cast<const std::byte*>(v.data);
  const float q = v.int8_unsigned ? float(std::to_integer<uint8_t>(bytes[i])) : float(int8_t(bytes[i]));
  return q / v.int8_scale;
}

void store(const TensorView& v, int64_t i, float x) {
  if (v.is_float()) {
    v.data[i] = x;
    return;
  }
  // As oneDNN's quantizing reorder: round to nearest even, then saturate.
  const float q = std::nearbyint(x * v.int8_scale);
  auto* bytes = reinterpret_cast<std::byte*>(v.data);
  bytes[i] = v.int8_unsigned ? std::byte(uint8_t(std::clamp(q, 0.f, 255.f)))
                             : std::byte(uint8_t(int8_t(std::clamp(q, -128.f, 127.f))));
}

// A concatenation copied in 8 bits, channels-last (MemoryPlan::int8_concatenation):
// an input already in the output's quantization moves as bytes, pixel by
// pixel; any other (floats, another scale, another layout) is converted
// element by element.
void copy_into_int8_concatenation(const TensorView& in, int64_t src_channel, const TensorView& out,
                                  int64_t dst_channel, int64_t channels) {
  const int64_t plane = out.plane(), pixels = out.shape.n * plane;
  const bool as_bytes = in.channels_last && in.is_int8() && in.int8_scale == out.int8_scale &&
                        in.int8_unsigned == out.int8_unsigned;
  const auto* src = reinterpret_cast<const std::byte*>(in.data);
  auto* dst = reinterpret_cast<std::byte*>(out.data);
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < pixels; ++k) {
    const int64_t n = k / plane, p = k % plane;
    if (as_bytes) {
      std::memcpy(dst + element_index(out, n, dst_channel, p), src + element_index(in, n, src_channel, p),
                  size_t(channels));
      continue;
    }
    for (int64_t c = 0; c < channels; ++c)
      store(out, element_index(out, n, dst_channel + c, p), load(in, element_index(in, n, src_channel + c, p)));
  }
}

class RouteKernels final : public LayerKernels {
 public:
  // The copy kernel moves whole channel ranges: valid in the blocked layout
  // when every range starts and ends on a channel block. The training loops
  // copy channel ranges too, which in nChw16c are the same contiguous bytes
  // as in NCHW under the same condition.
  LayoutRule layout_rule(const Layer& layer) const override {
    const int groups = layer.attrs_as<RouteAttrs>().groups;
    for (const Shape& s : layer.input_shapes())
      if ((s.c / groups) % kChannelBlock != 0) return LayoutRule::plain;
    return LayoutRule::same;
  }
  LayoutRule training_layout_rule(const Layer& layer) const override { return layout_rule(layer); }

  std::unique_ptr<Kernel> compile(const Layer& layer, const CompileContext& ctx) const override {
    const auto& a = layer.attrs_as<RouteAttrs>();
    struct Copy {
      TensorView src;
      int64_t src_channel, dst_channel, channels;
    };
    std::vector<Copy> copies;
    int64_t dst_channel = 0;
    for (const TensorView& in : ctx.inputs) {
      int64_t channels = in.shape.c / a.groups;
      const float* wanted = ctx.output.channel_start(dst_channel);
      bool in_place = a.groups == 1 && in.data == wanted && in.image_stride == ctx.output.image_stride;
      if (!in_place) copies.push_back(Copy{in, channels * a.group_id, dst_channel, channels});
      dst_channel += channels;
    }
    if (copies.empty()) return nullptr;  // every producer wrote into its slice
    TensorView out = ctx.output;
    if (out.is_int8() || out.channels_last) {
      for (const Copy& copy : copies)
        if (!copy.src.is_float() && !copy.src.is_int8())
          throw Error(layer.where() + ": internal: a bf16 input to an 8-bit concatenation");
      return make_kernel([copies, out](dnnl::stream&) {
        for (const Copy& copy : copies)
          copy_into_int8_concatenation(copy.src, copy.src_channel, out, copy.dst_channel, copy.channels);
      });
    }
    bool narrow = !out.is_float();
    for (const Copy& copy : copies) narrow = narrow || !copy.src.is_float() || copy.src.channels_last;
    if (narrow)  // the planner keeps other narrow or channels-last concatenations in place
      throw Error(layer.where() + ": internal: a copying route over bf16, 8-bit or channels-last tensors");
    return make_kernel([copies, out](dnnl::stream&) {
      const int64_t plane = out.plane();
      for (const Copy& copy : copies) {
#pragma omp parallel for schedule(static)
        for (int64_t n = 0; n < out.shape.n; ++n)
          std::memcpy(out.image(n) + copy.dst_channel * plane, copy.src.image(n) + copy.src_channel * plane,
                      static_cast<size_t>(copy.channels * plane) * sizeof(float));
      }
    });
  }

  // Training: the forward copies each input's chunk into its channel range
  // of the output; the backward hands each input slot its range of the
  // output gradient (in its group_id chunk) and zero in the other chunks.
  std::unique_ptr<TrainKernel> compile_training(Layer& layer, const TrainCompileContext& ctx) const override {
    const auto& a = layer.attrs_as<RouteAttrs>();
    struct Slot {
      TrainTensor input, grad;
      int64_t src_channel, dst_channel, channels;
      bool accumulate;
    };
    std::vector<Slot> slots;
    int64_t dst_channel = 0;
    for (size_t i = 0; i < ctx.inputs.size(); ++i) {
      const int64_t channels = ctx.inputs[i].shape.c / a.groups;
      slots.push_back(Slot{ctx.inputs[i], ctx.input_grads[i], channels * a.group_id, dst_channel, channels,
                           static_cast<bool>(ctx.accumulate_input_grad[i])});
      dst_channel += channels;
    }
    const TrainTensor out = ctx.output, dy = ctx.output_grad;
    // Loops over (image, channel) planes: parallel even at batch 1.
    return make_train_kernel(
        [slots, out](dnnl::stream&, const StepContext&) {
          const int64_t plane = out.shape.h * out.shape.w;
          for (const Slot& slot : slots) {
#pragma omp parallel for collapse(2) schedule(static)
            for (int64_t n = 0; n < out.shape.n; ++n)
              for (int64_t c = 0; c < slot.channels; ++c)
                std::memcpy(out.data + (n * out.shape.c + slot.dst_channel + c) * plane,
                            slot.input.data + (n * slot.input.shape.c + slot.src_channel + c) * plane,
                            static_cast<size_t>(plane) * sizeof(float));
          }
        },
        [slots, dy](dnnl::stream&) {
          const int64_t plane = dy.shape.h * dy.shape.w;
          // Slots in order: a tensor routed twice gets its first gradient
          // stored, then the second added (see TrainCompileContext).
          for (const Slot& slot : slots) {
            if (!slot.grad.data) continue;
            const int64_t channels = slot.grad.shape.c;
#pragma omp parallel for collapse(2) schedule(static)
            for (int64_t n = 0; n < dy.shape.n; ++n)
              for (int64_t c = 0; c < channels; ++c) {
                float* g = slot.grad.data + (n * channels + c) * plane;
                const int64_t from = c - slot.src_channel;  // channel within this input's chunk
                if (from < 0 || from >= slot.channels) {
                  if (!slot.accumulate) std::fill(g, g + plane, 0.f);
                  continue;
                }
                const float* src = dy.data + (n * dy.shape.c + slot.dst_channel + from) * plane;
                if (slot.accumulate)
                  for (int64_t i = 0; i < plane; ++i) g[i] += src[i];
                else
                  std::memcpy(g, src, static_cast<size_t>(plane) * sizeof(float));
              }
          }
        });
  }

};

}  // namespace

const LayerKernels& route_kernels() {
  static const RouteKernels kernels;
  return kernels;
}

}  // namespace cspnet
