// [route]: no kernel when every input was written into its slice (the
// planner's zero-copy concat) or for a single input (a view); otherwise a
// copy of the channel ranges not already in place.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "backends/onednn/kernel_util.hpp"
#include "backends/onednn/train_util.hpp"

namespace cspnet {
namespace {

// A copy into or out of a channels-last, 8-bit or bfloat16 tensor (e.g.
// MemoryPlan::int8_concatenation): one oneDNN reorder per input, from the input's
// channel range in its own layout and type into the output's channel range,
// requantizing on the way (scale: output's over input's; 1 for floats and
// bfloat16).
// Inputs strided across images (a slice of another concatenation) are
// reordered image by image.
struct ChannelRangeReorder {
  dnnl::reorder reorder;
  dnnl::memory src, dst;
  TensorView in;
  bool each_image = false;
};

ChannelRangeReorder channel_range_reorder(const TensorView& in, int64_t src_channel, const TensorView& out,
                                          int64_t dst_channel, int64_t channels, const dnnl::engine& engine) {
  ChannelRangeReorder r;
  r.in = in;
  r.each_image = !in.dense() || !out.dense();
  const TensorView from = r.each_image ? in.first_image() : in, to = r.each_image ? out.first_image() : out;
  const dnnl::memory::dims range{from.shape.n, channels, in.shape.h, in.shape.w};
  r.src = dnnl::memory(from.desc().submemory_desc(range, {0, src_channel, 0, 0}), engine, in.data);
  r.dst = dnnl::memory(to.desc().submemory_desc(range, {0, dst_channel, 0, 0}), engine, out.data);
  const float in_scale = in.is_int8() ? in.int8_scale : 1.f, out_scale = out.is_int8() ? out.int8_scale : 1.f;
  dnnl::primitive_attr requantize;
  if (out_scale != in_scale) requantize.set_output_scales(0, {out_scale / in_scale});
  r.reorder = dnnl::reorder(r.src, r.dst, requantize);
  return r;
}

// A channel range between two channels-last tensors of one element type and
// quantization: a byte copy per pixel (3x faster than oneDNN 2.6's reorder
// between these strided layouts: 0.37 against 1.17 ms for two 64-channel
// 256x256 int8 inputs, 2 threads). Channels-last tensors are whole and dense.
bool copies_bytes(const TensorView& in, const TensorView& out) {
  return in.channels_last && out.channels_last && in.data_type() == out.data_type() && in.int8_scale == out.int8_scale;
}

void copy_pixels(const TensorView& in, int64_t src_channel, const TensorView& out, int64_t dst_channel,
                 int64_t channels) {
  const int64_t bytes = out.element_bytes(), pixels = in.plane(), images = in.shape.n;
  const int64_t in_row = in.shape.c * bytes, out_row = out.shape.c * bytes;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < images; ++n)
    for (int64_t p = 0; p < pixels; ++p)
      std::memcpy(reinterpret_cast<std::byte*>(out.image(n)) + p * out_row + dst_channel * bytes,
                  reinterpret_cast<const std::byte*>(in.image(n)) + p * in_row + src_channel * bytes,
                  size_t(channels * bytes));
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
    // A copy touching a bf16, 8-bit or channels-last tensor: a byte copy per
    // pixel where nothing converts, else a reorder (converting type, scale,
    // layout). Float NCHW / nChw16c copies: memcpy per image, below.
    bool converts = !out.is_float() || out.channels_last;
    for (const Copy& copy : copies) converts = converts || !copy.src.is_float() || copy.src.channels_last;
    if (converts) {
      std::vector<ChannelRangeReorder> reorders;
      std::vector<Copy> byte_copies;
      for (const Copy& copy : copies)
        if (copies_bytes(copy.src, out))
          byte_copies.push_back(copy);
        else
          reorders.push_back(
              channel_range_reorder(copy.src, copy.src_channel, out, copy.dst_channel, copy.channels, ctx.engine));
      return make_kernel([reorders, byte_copies, out](dnnl::stream& stream) mutable {
        for (const Copy& copy : byte_copies) copy_pixels(copy.src, copy.src_channel, out, copy.dst_channel, copy.channels);
        for (ChannelRangeReorder& r : reorders)
          for (int64_t n = 0; n < (r.each_image ? out.shape.n : 1); ++n) {
            if (r.each_image) {
              r.src.set_data_handle(r.in.image(n));
              r.dst.set_data_handle(out.image(n));
            }
            r.reorder.execute(stream, r.src, r.dst);
          }
      });
    }
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
