// [maxpool]: spatial max pooling on oneDNN, or with maxpool_depth=1 darknet's
// channel Maxout (output channel g = max over input channels k, k mod N == g).
#include <algorithm>
#include <limits>

#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

namespace cspnet {
namespace {

class MaxpoolLayer final : public Layer {
 public:
  explicit MaxpoolLayer(Options& o) {
    int stride = o.get_int("stride", 1);
    size_ = o.get_int("size", stride);
    stride_x_ = o.get_int("stride_x", stride);
    stride_y_ = o.get_int("stride_y", stride);
    padding_ = o.get_int("padding", size_ > 0 ? size_ - 1 : 0);  // size is validated below
    depth_ = o.get_int("maxpool_depth", 0) != 0;
    out_channels_ = o.get_int("out_channels", 1);
    if (stride <= 0) o.fail("stride", "a positive stride");
    if (size_ <= 0) o.fail("size", "a positive window size");
    if (stride_x_ <= 0) o.fail("stride_x", "a positive stride");
    if (stride_y_ <= 0) o.fail("stride_y", "a positive stride");
    if (padding_ < 0) o.fail("padding", "a non-negative padding");
    if (out_channels_ <= 0) o.fail("out_channels", "a positive number of channels");
  }

  std::string_view type() const override { return depth_ ? "maxout" : "max"; }
  LayoutRule layout_rule() const override { return depth_ ? LayoutRule::plain : LayoutRule::same; }

  Shape infer(std::span<const Shape> in) override {
    input_ = in[0];
    if (depth_) {
      if (out_channels_ > input_.c)
        shape_error(*this, "out_channels=" + std::to_string(out_channels_) + " exceeds the input channels " +
                               std::to_string(input_.c));
      out_ = Shape{input_.n, out_channels_, input_.h, input_.w};
    } else {
      if (input_.h + padding_ < size_ || input_.w + padding_ < size_)
        shape_error(*this, "pool window " + std::to_string(size_) + " is larger than the padded input");
      out_ = Shape{input_.n, input_.c, (input_.h + padding_ - size_) / stride_y_ + 1,
                   (input_.w + padding_ - size_) / stride_x_ + 1};
    }
    return out_;
  }

  std::string geometry() const override {
    if (depth_) return "depth " + std::to_string(input_.c) + "->" + std::to_string(out_channels_);
    return std::to_string(size_) + " x " + std::to_string(size_) + "/" +
           (stride_x_ == stride_y_ ? std::to_string(stride_x_)
                                   : std::to_string(stride_x_) + "x" + std::to_string(stride_y_));
  }
  // darknet: size*size*c*out_h*out_w comparisons.
  double bflops() const override { return double(size_) * size_ * double(input_.c) * double(out_.h * out_.w) / 1e9; }

  std::unique_ptr<Kernel> compile(const CompileContext& ctx) override {
    return depth_ ? compile_maxout(ctx) : compile_pool(ctx);
  }

 private:
  std::unique_ptr<Kernel> compile_pool(const CompileContext& ctx) const {
    using namespace dnnl;
    const TensorView& in = ctx.inputs[0];
    int64_t pad_before = padding_ / 2;
    int64_t pad_b = padding_after(in.shape.h, out_.h, size_, stride_y_, pad_before);
    int64_t pad_r = padding_after(in.shape.w, out_.w, size_, stride_x_, pad_before);
    const bool each_image = per_image({in, ctx.output});
    pooling_forward::primitive_desc pd(
        {prop_kind::forward_inference, algorithm::pooling_max, arg_view(in, each_image).desc(),
         arg_view(ctx.output, each_image).desc(), memory::dims{stride_y_, stride_x_}, memory::dims{size_, size_},
         memory::dims{pad_before, pad_before}, memory::dims{pad_b, pad_r}},
        primitive_attributes(ctx), ctx.engine);
    return std::make_unique<ViewPrimitiveKernel>(
        pooling_forward(pd), scratchpad_args(ctx, pd.scratchpad_desc()),
        std::vector<ViewArg>{view_arg(DNNL_ARG_SRC, in, each_image), view_arg(DNNL_ARG_DST, ctx.output, each_image)}, each_image,
        ctx.engine);
  }

  std::unique_ptr<Kernel> compile_maxout(const CompileContext& ctx) const {
    TensorView in = ctx.inputs[0], out = ctx.output;
    return make_kernel([in, out](dnnl::stream&) {
      const int64_t plane = in.plane(), groups = out.shape.c, batch = in.shape.n;
#pragma omp parallel for collapse(2) schedule(static)
      for (int64_t n = 0; n < batch; ++n)
        for (int64_t g = 0; g < groups; ++g) {
          float* dst = out.image(n) + g * plane;
          std::fill(dst, dst + plane, -std::numeric_limits<float>::infinity());
          for (int64_t k = g; k < in.shape.c; k += groups) {
            const float* src = in.image(n) + k * plane;
            for (int64_t i = 0; i < plane; ++i) dst[i] = std::max(dst[i], src[i]);
          }
        }
    });
  }

  int size_ = 1, stride_x_ = 1, stride_y_ = 1, padding_ = 0, out_channels_ = 1;
  bool depth_ = false;
  Shape input_{}, out_{};
};

}  // namespace

std::unique_ptr<Layer> make_maxpool(LayerSite& site) { return std::make_unique<MaxpoolLayer>(site.options); }

}  // namespace cspnet
