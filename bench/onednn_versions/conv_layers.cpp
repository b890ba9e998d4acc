// Times a network's convolutions, one oneDNN primitive per layer, in one
// precision: the measurement behind "does oneDNN 3.x beat Debian's 2.6.3 on
// our networks". It builds against either API (the same source, compiled
// twice by bench/onednn_versions.sh), so both libraries run the same layers,
// formats (`any` everywhere), fused leaky-ReLU and scales.
//
//   conv_layers SHAPES f32|bf16|int8 [runs] [any|blocked]
//
// Activation layout: `any` lets oneDNN choose (brgconv kernels take channels
// last); `blocked` fixes nChw16c where the channels allow, as our executor
// keeps activations between layers.
//
// SHAPES: one convolution per line, "ic ih iw oc oh ow kernel stride groups".
// Prints one line per layer (median ms and oneDNN's implementation) and the
// sum of the medians.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Type = memory::data_type;

struct ConvShape {
  int64_t ic, ih, iw, oc, oh, ow, kernel, stride, groups;
};

std::vector<ConvShape> read_shapes(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::vector<ConvShape> shapes;
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    std::istringstream fields(line);
    ConvShape s{};
    if (!(fields >> s.ic >> s.ih >> s.iw >> s.oc >> s.oh >> s.ow >> s.kernel >> s.stride >> s.groups))
      throw std::runtime_error(path + ":" + std::to_string(line_number) + ": expected 9 integers");
    shapes.push_back(s);
  }
  return shapes;
}

struct Types {
  Type src, weights, dst;
};

Types types_for(const std::string& precision) {
  if (precision == "f32") return {Type::f32, Type::f32, Type::f32};
  if (precision == "bf16") return {Type::bf16, Type::bf16, Type::bf16};
  if (precision == "int8") return {Type::s8, Type::s8, Type::s8};  // leaky outputs are signed
  throw std::runtime_error("precision must be f32, bf16 or int8, not " + precision);
}

memory::dims weight_dims(const ConvShape& s) {
  if (s.groups == 1) return {s.oc, s.ic, s.kernel, s.kernel};
  return {s.groups, s.oc / s.groups, s.ic / s.groups, s.kernel, s.kernel};
}

struct Layer {
  dnnl::convolution_forward primitive;
  std::unordered_map<int, memory> args;
  std::string implementation;
};

Tag activation_tag(int64_t channels, bool blocked) {
  if (!blocked) return Tag::any;
  return channels % 16 == 0 ? Tag::nChw16c : Tag::nchw;
}

Layer make_layer(const dnnl::engine& engine, const ConvShape& s, const Types& t, bool blocked) {
  const memory::dims src_dims{1, s.ic, s.ih, s.iw}, dst_dims{1, s.oc, s.oh, s.ow};
  const memory::dims strides{s.stride, s.stride};
  const int64_t pad = s.kernel / 2;
  // darknet's pad=1: left pad k/2, right pad whatever makes the output size.
  const int64_t pad_right_h = (s.oh - 1) * s.stride + s.kernel - s.ih - pad;
  const int64_t pad_right_w = (s.ow - 1) * s.stride + s.kernel - s.iw - pad;
  const memory::desc src_md(src_dims, t.src, activation_tag(s.ic, blocked));
  const memory::desc dst_md(dst_dims, t.dst, activation_tag(s.oc, blocked));
  const memory::desc weights_md(weight_dims(s), t.weights, Tag::any);
  const memory::desc bias_md({s.oc}, Type::f32, Tag::x);
  const bool int8 = t.weights == Type::s8;
  dnnl::post_ops post_ops;
  dnnl::primitive_attr attr;
  std::vector<float> scales(static_cast<size_t>(s.oc), 0.01f);
#if DNNL_VERSION_MAJOR >= 3
  post_ops.append_eltwise(dnnl::algorithm::eltwise_relu, 0.1f, 0.f);
  if (int8) attr.set_scales_mask(DNNL_ARG_WEIGHTS, s.groups == 1 ? 1 : 3);
  attr.set_post_ops(post_ops);
  dnnl::convolution_forward::primitive_desc pd(engine, dnnl::prop_kind::forward_inference,
                                                dnnl::algorithm::convolution_direct, src_md, weights_md,
                                                bias_md, dst_md, strides, {pad, pad},
                                                {pad_right_h, pad_right_w}, attr);
#else
  post_ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.1f, 0.f);
  if (int8) attr.set_output_scales(2, scales);
  attr.set_post_ops(post_ops);
  dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                       src_md, weights_md, bias_md, dst_md, strides, {pad, pad},
                                       {pad_right_h, pad_right_w});
  dnnl::convolution_forward::primitive_desc pd(desc, attr, engine);
#endif
  Layer layer{dnnl::convolution_forward(pd), {}, pd.impl_info_str()};
  layer.args[DNNL_ARG_SRC] = memory(pd.src_desc(), engine);
  layer.args[DNNL_ARG_WEIGHTS] = memory(pd.weights_desc(), engine);
  layer.args[DNNL_ARG_BIAS] = memory(pd.bias_desc(), engine);
  layer.args[DNNL_ARG_DST] = memory(pd.dst_desc(), engine);
  for (int arg : {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS}) {
    memory& m = layer.args[arg];
    std::fill_n(static_cast<char*>(m.get_data_handle()), m.get_desc().get_size(), char{0x3c});  // 0.0115 as f32 and bf16: no denormals
  }
#if DNNL_VERSION_MAJOR >= 3
  if (int8) {
    memory scale_memory({{s.oc}, Type::f32, Tag::x}, engine);
    std::copy(scales.begin(), scales.end(), static_cast<float*>(scale_memory.get_data_handle()));
    layer.args[DNNL_ARG_ATTR_SCALES | DNNL_ARG_WEIGHTS] = scale_memory;
  }
#endif
  return layer;
}

double median_ms(dnnl::stream& stream, Layer& layer, int runs) {
  std::vector<double> times;
  for (int run = 0; run < runs + 2; ++run) {  // two warm-up runs
    const auto start = std::chrono::steady_clock::now();
    layer.primitive.execute(stream, layer.args);
    stream.wait();
    const std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
    if (run >= 2) times.push_back(elapsed.count());
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 3) {
      std::cerr << "usage: conv_layers SHAPES f32|bf16|int8 [runs] [any|blocked]\n";
      return 2;
    }
    const auto shapes = read_shapes(argv[1]);
    const Types types = types_for(argv[2]);
    const int runs = argc > 3 ? std::max(1, std::atoi(argv[3])) : 11;
    const std::string layout = argc > 4 ? argv[4] : "any";
    if (layout != "any" && layout != "blocked") throw std::runtime_error("layout must be any or blocked");
    dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(engine);
    const dnnl_version_t* version = dnnl_version();
    double total = 0;
    for (size_t i = 0; i < shapes.size(); ++i) {
      Layer layer = make_layer(engine, shapes[i], types, layout == "blocked");
      const double ms = median_ms(stream, layer, runs);
      total += ms;
      std::printf("%zu %.4f %s\n", i, ms, layer.implementation.c_str());
    }
    std::printf("total %s %s oneDNN %d.%d.%d: %.3f ms over %zu convolutions\n", argv[2], layout.c_str(), version->major,
                version->minor, version->patch, total, shapes.size());
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "conv_layers: " << e.what() << "\n";
    return 1;
  }
}
