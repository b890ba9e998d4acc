// [route]: channel concatenation of earlier layers; with groups/group_id each
// input contributes its group_id-th contiguous chunk of C/groups channels.
// One input: a view (no kernel). Several: the planner lets producers write
// straight into their slice; the kernel copies only inputs not already there.
#include <algorithm>
#include <cstring>
#include <vector>

#include "cspnet/cfg.hpp"
#include "layer_util.hpp"
#include "train_util.hpp"

namespace cspnet {
namespace {

class RouteLayer final : public Layer {
 public:
  explicit RouteLayer(LayerSite& site) {
    Options& o = site.options;
    if (!o.has("layers")) throw Error(o.where() + ": missing required key 'layers' (a list of layer indices)");
    std::vector<int> inputs;
    for (int ref : o.get_ints("layers")) inputs.push_back(resolve_layer_ref(site, "layers", ref));
    groups_ = o.get_int("groups", 1);
    group_id_ = o.get_int("group_id", 0);
    if (groups_ <= 0) o.fail("groups", "a positive number of groups");
    if (group_id_ < 0 || group_id_ >= groups_)
      o.fail("group_id", "a group index in 0.." + std::to_string(groups_ - 1));
    set_inputs(std::move(inputs));
  }

  std::string_view type() const override { return "route"; }

  Shape infer(std::span<const Shape> in) override {
    Shape out{in[0].n, 0, in[0].h, in[0].w};
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i].h != out.h || in[i].w != out.w)
        shape_error(*this, "input layer " + std::to_string(inputs()[i]) + " is " + in[i].str() +
                               " but layer " + std::to_string(inputs()[0]) + " is " + in[0].str() +
                               "; routed layers must share width and height");
      if (in[i].c % groups_ != 0)
        shape_error(*this, "groups=" + std::to_string(groups_) + " does not divide the " +
                               std::to_string(in[i].c) + " channels of layer " + std::to_string(inputs()[i]));
      out.c += in[i].c / groups_;
    }
    chunk_offset_ = in[0].c / groups_ * group_id_;
    chunks_aligned_ = true;
    for (const Shape& s : in) chunks_aligned_ = chunks_aligned_ && (s.c / groups_) % kChannelBlock == 0;
    return out;
  }

  OutputKind output_kind() const override {
    if (inputs().size() == 1) return OutputKind::view;
    return groups_ == 1 ? OutputKind::concat : OutputKind::compute;
  }
  int64_t view_offset() const override { return chunk_offset_; }
  // The copy kernel moves whole channel ranges: valid in the blocked layout
  // when every range starts and ends on a channel block.
  LayoutRule layout_rule() const override { return chunks_aligned_ ? LayoutRule::same : LayoutRule::plain; }
  // The training loops copy channel ranges, which in nChw16c are the same
  // contiguous bytes as in NCHW when every range starts and ends at a
  // multiple of 16 channels.
  LayoutRule training_layout_rule() const override { return layout_rule(); }

  std::string geometry() const override {
    std::string text;
    for (int in : inputs()) {
      if (!text.empty()) text += ',';
      text += std::to_string(in);
    }
    if (groups_ > 1) text += " g" + std::to_string(group_id_) + "/" + std::to_string(groups_);
    return text;
  }

  std::unique_ptr<Kernel> compile(const CompileContext& ctx) override {
    struct Copy {
      TensorView src;
      int64_t src_channel, dst_channel, channels;
    };
    std::vector<Copy> copies;
    int64_t dst_channel = 0;
    for (const TensorView& in : ctx.inputs) {
      int64_t channels = in.shape.c / groups_;
      const float* wanted = ctx.output.data + dst_channel * ctx.output.plane();
      bool in_place = groups_ == 1 && in.data == wanted && in.image_stride == ctx.output.image_stride;
      if (!in_place) copies.push_back(Copy{in, channels * group_id_, dst_channel, channels});
      dst_channel += channels;
    }
    if (copies.empty()) return nullptr;  // every producer wrote into its slice
    TensorView out = ctx.output;
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
  std::unique_ptr<TrainKernel> compile_training(const TrainCompileContext& ctx) override {
    struct Slot {
      TrainTensor input, grad;
      int64_t src_channel, dst_channel, channels;
      bool accumulate;
    };
    std::vector<Slot> slots;
    int64_t dst_channel = 0;
    for (size_t i = 0; i < ctx.inputs.size(); ++i) {
      const int64_t channels = ctx.inputs[i].shape.c / groups_;
      slots.push_back(Slot{ctx.inputs[i], ctx.input_grads[i], channels * group_id_, dst_channel, channels,
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

 private:
  int groups_ = 1, group_id_ = 0;
  int64_t chunk_offset_ = 0;
  bool chunks_aligned_ = false;
};

}  // namespace

std::unique_ptr<Layer> make_route(LayerSite& site) { return std::make_unique<RouteLayer>(site); }

}  // namespace cspnet
