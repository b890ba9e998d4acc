// The executor across layer kinds: a small CSP-like network layer by layer
// against the references of tests/unit/layers/layer_reference.hpp, and the
// executor's optimisation switches against the plain path.
#include <gtest/gtest.h>

#include "layers/layer_reference.hpp"

namespace {

using namespace cspnet::tests::layer_reference;


// ---------------------------------------------------------------------------
// A small CSP-like network: every layer against its reference, and the
// executor's switches against the plain path.

NetSpec csp_network() {
  return NetSpec{16, 12, 3, 2,
                 {
                     conv({.filters = 8, .size = 3, .bn = true, .act = Activation::leaky}),           // 0: 8x12x16
                     conv({.filters = 16, .size = 3, .stride_x = 2, .stride_y = 2, .bn = true,
                           .act = Activation::mish}),                                                   // 1: 16x6x8
                     route({-1}, 2, 1),                                                                 // 2: split
                     conv({.filters = 8, .size = 1, .pad = Pad::none, .bn = true, .act = Activation::leaky}),
                     conv({.filters = 8, .size = 3, .bn = true, .act = Activation::leaky}),
                     shortcut({-2}, Activation::linear),                                                // 5: residual
                     conv({.filters = 8, .size = 1, .pad = Pad::none, .bn = true, .act = Activation::leaky}),
                     route({-1, -6}),                                                                   // 7: 6, 1
                     conv({.filters = 16, .size = 1, .pad = Pad::none, .bn = true, .act = Activation::leaky}),
                     maxpool({.size = 2, .stride_x = 2, .stride_y = 2}),                                // 9: 16x3x4
                     conv({.filters = 8, .size = 1, .pad = Pad::none, .bn = true, .act = Activation::swish}),
                     upsample(2),                                                                       // 11: 8x6x8
                     route({-1, -5}),                                                                   // 12: 11, 7
                     maxpool({.size = 5, .stride_x = 1, .stride_y = 1}),                                // 13: SPP
                     route({-1, -2}),                                                                   // 14: 13, 12
                     conv({.filters = 16, .size = 3, .groups = 4, .bn = true, .act = Activation::leaky}),
                     conv({.filters = 16, .size = 3, .groups = 16, .bn = true, .act = Activation::relu6}),
                     identity("dropout", "probability=0.1\n"),
                     conv({.filters = 7, .size = 1, .pad = Pad::none, .act = Activation::linear}),
                     yolo({.mask = {0}, .num = 1, .classes = 2, .scale_x_y = 1.05}),
                 }};
}

TEST(LayerReference, CspNetworkMatchesReferenceLayerByLayerWithBatch) {
  for (const ExecOptions& options : {ExecOptions{}, unoptimised()}) check_layers(csp_network(), 0, 1, options);
}

TEST(ExecutorSwitch, EachSwitchGivesTheSameOutputAsThePlainPath) {
  NetSpec spec = csp_network();
  Network net = build(spec);
  Tensor input = random_tensor(net.input_shape(), kSeed + 1, 0, 1);

  ExecOptions plain = unoptimised();
  std::vector<Tensor> reference = run_all(net, input, plain);
  Executor plain_ex(net, plain);
  std::vector<Tensor> plain_outputs = plain_ex.forward(input);

  struct Variant {
    const char* name;
    ExecOptions options;
  };
  std::vector<Variant> variants;
  variants.push_back({"all optimisations (default)", ExecOptions{}});
  const std::pair<const char*, bool ExecOptions::*> switches[] = {
      {"fold_batchnorm", &ExecOptions::fold_batchnorm},
      {"fuse_activation", &ExecOptions::fuse_activation},
      {"zero_copy_concat", &ExecOptions::zero_copy_concat}};
  for (const auto& [name, member] : switches) {
    ExecOptions only_off{}, only_on = plain;  // one switch off among the defaults; one switch alone on
    only_off.*member = false;
    only_on.*member = true;
    variants.push_back({name, only_off});
    variants.push_back({name, only_on});
  }
  for (const Variant& variant : variants)
    for (bool reuse : {false, true}) {
      ExecOptions options = variant.options;
      options.reuse_memory = reuse;
      SCOPED_TRACE(std::string(variant.name) + ": " + options_text(options) +
                   (reuse ? " reuse_memory=1" : " reuse_memory=0"));
      Executor ex(net, options);
      std::vector<Tensor> outputs = ex.forward(input);
      ASSERT_EQ(outputs.size(), plain_outputs.size());
      for (size_t k = 0; k < outputs.size(); ++k)
        EXPECT_TRUE(same_tensor(outputs[k], plain_outputs[k], kSwitchTolerance)) << "network output " << k;
      if (!reuse) {  // every layer kept: compare them all
        for (int i = 0; i < net.size(); ++i)
          EXPECT_TRUE(same_tensor(ex.layer_output(i), reference[size_t(i)], kSwitchTolerance)) << "layer " << i;
      }
      // A second forward on the same executor gives the same answer.
      std::vector<Tensor> again = ex.forward(input);
      for (size_t k = 0; k < outputs.size(); ++k) EXPECT_EQ(again[k].values(), outputs[k].values());
    }
}

TEST(ExecutorSwitch, ReuseMemoryGivesTheSameOutputAcrossBatchAndSize) {
  NetSpec spec = csp_network();
  Network net = build(spec);
  for (auto [w, h, batch] : {std::tuple{16, 12, 1}, std::tuple{24, 20, 3}}) {
    net.reshape(w, h, batch);
    Tensor input = random_tensor(net.input_shape(), kSeed + 7, 0, 1);
    ExecOptions keep, reuse;
    keep.reuse_memory = false;
    Executor keep_ex(net, keep), reuse_ex(net, reuse);
    std::vector<Tensor> a = keep_ex.forward(input), b = reuse_ex.forward(input);
    ASSERT_EQ(a.size(), b.size());
    for (size_t k = 0; k < a.size(); ++k) EXPECT_TRUE(same_tensor(b[k], a[k], kSwitchTolerance)) << w << "x" << h;
    EXPECT_LE(reuse_ex.plan().peak_bytes, keep_ex.plan().peak_bytes);
  }
}

TEST(ExecutorSwitch, ZeroCopyConcatSwitchControlsCopyKernels) {
  // Every concat input is an ordinary convolution output.
  NetSpec spec{9, 7, 3, 2,
               {conv({.filters = 4, .size = 3, .act = Activation::leaky}),
                conv({.filters = 5, .size = 3, .act = Activation::leaky}),
                conv({.filters = 3, .size = 1, .pad = Pad::none, .act = Activation::leaky}),
                route({-1, -3, -2}),
                conv({.filters = 6, .size = 3, .act = Activation::leaky}),
                route({-1, -2})}};  // 4 and the concat 3 (nested)
  Network net = build(spec);
  Tensor input = random_tensor(net.input_shape(), kSeed + 3, -1, 1);
  ExecOptions on, off;
  on.reuse_memory = off.reuse_memory = false;
  off.zero_copy_concat = false;
  Executor on_ex(net, on), off_ex(net, off);
  EXPECT_EQ(on_ex.copy_kernels(), 0);
  EXPECT_GT(off_ex.copy_kernels(), 0);
  on_ex.forward(input);
  off_ex.forward(input);
  for (int i = 0; i < net.size(); ++i)
    EXPECT_TRUE(same_tensor(on_ex.layer_output(i), off_ex.layer_output(i), kSwitchTolerance)) << "layer " << i;
  // And both against the reference, layer by layer.
  check_layers(spec, -1, 1, on);
  check_layers(spec, -1, 1, off);
}

}  // namespace
