// [maxpool]: spatial max pooling, or with maxpool_depth=1 darknet's channel
// Maxout (output channel g = max over input channels k, k mod N == g).
// Kernels: backends/*/maxpool.cpp.
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

namespace cspnet {
namespace {

MaxpoolAttrs read_attrs(Options& o) {
  MaxpoolAttrs a;
  const int stride = o.get_int("stride", 1);
  a.size = o.get_int("size", stride);
  a.stride_x = o.get_int("stride_x", stride);
  a.stride_y = o.get_int("stride_y", stride);
  a.padding = o.get_int("padding", a.size > 0 ? a.size - 1 : 0);  // size is validated below
  a.maxout = o.get_int("maxpool_depth", 0) != 0;
  a.out_channels = o.get_int("out_channels", 1);
  if (stride <= 0) o.fail("stride", "a positive stride");
  if (a.size <= 0) o.fail("size", "a positive window size");
  if (a.stride_x <= 0) o.fail("stride_x", "a positive stride");
  if (a.stride_y <= 0) o.fail("stride_y", "a positive stride");
  if (a.padding < 0) o.fail("padding", "a non-negative padding");
  if (a.out_channels <= 0) o.fail("out_channels", "a positive number of channels");
  return a;
}

class MaxpoolLayer final : public Layer {
 public:
  explicit MaxpoolLayer(Options& o) : Layer(read_attrs(o)), a_(attrs_as<MaxpoolAttrs>()) {}

  std::string_view type() const override { return a_.maxout ? "maxout" : "max"; }

  Shape infer(std::span<const Shape> in) override {
    input_ = in[0];
    if (a_.maxout) {
      if (a_.out_channels > input_.c)
        shape_error(*this, "out_channels=" + std::to_string(a_.out_channels) + " exceeds the input channels " +
                               std::to_string(input_.c));
      out_ = Shape{input_.n, a_.out_channels, input_.h, input_.w};
    } else {
      check_window(*this, "pool window", a_.size, input_);
      if (input_.h + a_.padding < a_.size || input_.w + a_.padding < a_.size)
        shape_error(*this, "pool window " + std::to_string(a_.size) + " is larger than the padded input");
      out_ = Shape{input_.n, input_.c, (input_.h + a_.padding - a_.size) / a_.stride_y + 1,
                   (input_.w + a_.padding - a_.size) / a_.stride_x + 1};
    }
    return out_;
  }

  std::string geometry() const override {
    if (a_.maxout) return "depth " + std::to_string(input_.c) + "->" + std::to_string(a_.out_channels);
    return std::to_string(a_.size) + " x " + std::to_string(a_.size) + "/" +
           (a_.stride_x == a_.stride_y ? std::to_string(a_.stride_x)
                                       : std::to_string(a_.stride_x) + "x" + std::to_string(a_.stride_y));
  }
  // darknet: size*size*c*out_h*out_w comparisons.
  double bflops() const override {
    return double(a_.size) * a_.size * double(input_.c) * double(out_.h * out_.w) / 1e9;
  }

 private:
  const MaxpoolAttrs& a_;
  Shape input_{}, out_{};
};

}  // namespace

std::unique_ptr<Layer> make_maxpool(LayerSite& site) { return std::make_unique<MaxpoolLayer>(site.options); }

}  // namespace cspnet
