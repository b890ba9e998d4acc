// int8 post-training quantization: the range observer and calibration, the
// table's text form and its malformed inputs, and int8 convolutions against a
// double reference that performs the same quantization (so the arithmetic is
// checked exactly, not only "close to fp32").
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "cspnet/quantization.hpp"
#include "unit/layers/layer_reference.hpp"
#include "unit/malformed_table.hpp"

namespace {

using namespace cspnet;
using namespace cspnet::tests::layer_reference;

TEST(Quantization, MinmaxThresholdIsTheLargestMagnitudeAndSignIsTracked) {
  CalibrationOptions options;
  options.method = CalibrationMethod::minmax;
  RangeObserver observer(options);
  const std::vector<float> a{0.5f, -3.25f, 2.f}, b{1.f, 0.f};
  observer.observe_range(a.data(), int64_t(a.size()));
  observer.observe_range(b.data(), int64_t(b.size()));
  EXPECT_EQ(observer.threshold(), 3.25f);
  EXPECT_FALSE(observer.never_negative());
  RangeObserver positive(options);
  positive.observe_range(b.data(), int64_t(b.size()));
  EXPECT_TRUE(positive.never_negative());
  EXPECT_EQ(positive.threshold(), 1.f);
}

TEST(Quantization, PercentileThresholdClipsTheRareOutliers) {
  // 9990 values spread over [0, 1) and 10 outliers at 100: the 99.9th
  // percentile of |x| lies below 1 (one bin's width above it at most), the
  // 99.95th among the outliers.
  std::vector<float> values;
  for (int i = 0; i < 9990; ++i) values.push_back(float(i) / 9990.f * (i % 2 ? 1.f : -1.f));
  for (int i = 0; i < 10; ++i) values.push_back(100.f);
  CalibrationOptions options;
  options.percentile = 99.9;
  RangeObserver observer(options);
  observer.observe_range(values.data(), int64_t(values.size()));
  observer.observe_histogram(values.data(), int64_t(values.size()));
  const float bin = 100.f / float(options.bins);
  EXPECT_GE(observer.threshold(), 1.f - bin);
  EXPECT_LE(observer.threshold(), 1.f + bin);
  options.percentile = 99.95;
  RangeObserver high(options);
  high.observe_range(values.data(), int64_t(values.size()));
  high.observe_histogram(values.data(), int64_t(values.size()));
  EXPECT_EQ(high.threshold(), 100.f);
}

TEST(Quantization, CalibrationRecordsEachConvolutionsInputRange) {
  // conv 0 reads the image (never negative); conv 2 reads a linear conv's
  // output, which has both signs; the table's thresholds are the largest
  // |x| the fp32 network produced there (minmax).
  NetSpec spec{8, 8, 3, 1,
               {conv({.filters = 16, .size = 3, .bn = true, .act = Activation::relu}),
                conv({.filters = 16, .size = 1, .pad = Pad::none, .act = Activation::linear}),
                conv({.filters = 8, .size = 3, .act = Activation::leaky})}};
  Network net = build(spec);
  std::vector<Tensor> images;
  for (uint64_t i = 0; i < 3; ++i) images.push_back(random_tensor(net.input_shape(), 40 + i, 0.f, 1.f));
  CalibrationOptions options;
  options.method = CalibrationMethod::minmax;
  const QuantizationTable table = calibrate(net, 3, [&](int64_t i) { return images[size_t(i)]; }, options);
  ASSERT_EQ(table.inputs.size(), 3u);
  EXPECT_EQ(table.layers, 3);
  EXPECT_EQ(table.images, 3);
  EXPECT_EQ(table.method, "minmax");
  EXPECT_EQ(table.parameters_crc32, parameters_crc32(net));
  float image_max = 0, relu_max = 0, linear_max = 0;
  bool linear_negative = false;
  for (const Tensor& image : images) {
    const std::vector<Tensor> out = run_all(net, image, ExecOptions{});
    for (float v : image.values()) image_max = std::max(image_max, std::fabs(v));
    for (float v : out[0].values()) relu_max = std::max(relu_max, std::fabs(v));
    for (float v : out[1].values()) {
      linear_max = std::max(linear_max, std::fabs(v));
      linear_negative |= v < 0;
    }
  }
  ASSERT_TRUE(linear_negative);
  EXPECT_EQ(table.inputs[0], (QuantizedInput{0, image_max, true}));
  EXPECT_EQ(table.inputs[1], (QuantizedInput{1, relu_max, true}));
  EXPECT_EQ(table.inputs[2], (QuantizedInput{2, linear_max, false}));
}

// The int8 convolution's expected output: the input quantized as the
// executor does (x * 127/T or 255/T in float, rounded to nearest, saturated),
// the batch-norm-folded weights quantized per output channel, then the
// convolution in double on the dequantized values (exactly the int32
// accumulation scaled back) with the folded bias and the activation.
Ref int8_reference(const NetSpec& spec, ConvArgs args, Network& net, const Tensor& input, const QuantizedInput& q) {
  WeightArrays& w = *net.layer(0).weight_arrays();
  std::vector<float> weights = w.weights, bias = w.biases;
  const size_t outputs = bias.size(), per_output = weights.size() / outputs;
  if (args.bn)
    for (size_t o = 0; o < outputs; ++o) {
      const float factor = w.scales[o] / std::sqrt(w.rolling_variance[o] + 0.00001f);
      for (size_t k = 0; k < per_output; ++k) weights[o * per_output + k] *= factor;
      bias[o] -= w.rolling_mean[o] * factor;
    }
  for (size_t o = 0; o < outputs; ++o) {
    float largest = 0;
    for (size_t k = 0; k < per_output; ++k) largest = std::max(largest, std::fabs(weights[o * per_output + k]));
    const float scale = largest > 0 ? 127.f / largest : 1.f;
    for (size_t k = 0; k < per_output; ++k) {
      float& v = weights[o * per_output + k];
      v = float(double(std::nearbyint(v * scale)) / double(scale));
    }
  }
  // A copy of the layer without batch norm carries the quantized weights.
  NetSpec plain = spec;
  args.bn = false;
  plain.layers[0] = conv(args);
  Network ref_net = build(plain);
  ref_net.layer(0).weight_arrays()->weights = weights;
  ref_net.layer(0).weight_arrays()->biases = bias;
  const float input_scale = (q.is_unsigned ? 255.f : 127.f) / q.threshold;
  const double low = q.is_unsigned ? 0 : -128, high = q.is_unsigned ? 255 : 127;
  Ref x = to_ref(input);
  for (size_t i = 0; i < x.v.size(); ++i) {
    const double level = std::clamp(double(std::nearbyint(input.values()[i] * input_scale)), low, high);
    x.v[i] = level / double(input_scale);
  }
  return ref_conv(x, args, ref_net.layer(0));
}

ExecOptions int8_options(Network& net, std::vector<QuantizedInput> inputs) {
  auto table = std::make_shared<QuantizationTable>();
  table->layers = net.size();
  table->parameters_crc32 = parameters_crc32(net);
  table->method = "minmax";
  table->images = 1;
  table->inputs = std::move(inputs);
  ExecOptions options;
  options.precision = Precision::int8;
  options.quantization = table;
  return options;
}

TEST(Quantization, Int8ConvolutionComputesTheQuantizedArithmetic) {
  struct Case {
    int c, w, h, batch;
    ConvArgs args;
    float lo, hi, threshold;
    bool is_unsigned;
  };
  const Case cases[] = {
      // signed input clipped at 1.5 (values reach 2), batch norm folded, leaky
      {16, 9, 7, 2, {.filters = 32, .size = 3, .pad = Pad::flag, .bn = true, .act = Activation::leaky}, -2, 2, 1.5f,
       false},
      // an image-like first layer: 3 channels, unsigned, stride 2
      {3, 12, 10, 1, {.filters = 16, .size = 3, .stride_x = 2, .stride_y = 2, .pad = Pad::flag, .act = Activation::relu},
       0, 1, 1.f, true},
      // grouped, mish (a post-op oneDNN computes after the dequantization)
      {16, 8, 8, 1, {.filters = 16, .size = 3, .pad = Pad::flag, .groups = 4, .bn = true, .act = Activation::mish},
       -1, 1, 1.f, false},
      // 1x1, linear, an odd channel count
      {24, 6, 5, 2, {.filters = 10, .size = 1, .pad = Pad::none, .bn = true, .act = Activation::linear}, -3, 3, 3.f,
       false},
  };
  for (const Case& c : cases) {
    NetSpec spec{c.w, c.h, c.c, c.batch, {conv(c.args)}};
    SCOPED_TRACE(cfg_text(spec));
    Network net = build(spec);
    const Tensor input = random_tensor(net.input_shape(), 7, c.lo, c.hi);
    const QuantizedInput q{0, c.threshold, c.is_unsigned};
    Executor int8(net, int8_options(net, {q}));
    const Tensor ours = int8.forward(input)[0];
    const Ref expected = int8_reference(spec, c.args, net, input, q);
    EXPECT_TRUE(matches(ours, expected, 1e-5));
    // ... and that is not the fp32 result: the test sees the quantization.
    Executor fp32(net, ExecOptions{});
    EXPECT_FALSE(matches(fp32.forward(input)[0], expected, 1e-4));
  }
}

// int8 options with a table calibrated by minmax on `input` itself, so
// nothing the tests then run is clipped by calibration.
ExecOptions int8_calibrated_on(Network& net, const Tensor& input) {
  CalibrationOptions minmax;
  minmax.method = CalibrationMethod::minmax;
  ExecOptions options;
  options.precision = Precision::int8;
  options.quantization = std::make_shared<QuantizationTable>(calibrate(net, 1, [&](int64_t) { return input; }, minmax));
  return options;
}

TEST(Quantization, Int8ResidualSumFusedEqualsUnfused) {
  // A convolution summed into a shortcut is fused as a sum post-op of the
  // int8 convolution: a linear one (ResNe(X)t's pattern) and, in int8 only,
  // one with an activation before the sum (darknet's residual blocks). The
  // unfused path runs the shortcut as its own loop. Both quantize
  // identically. An activation, the sum, then another activation of the
  // same oneDNN algorithm (leaky, relu) stays unfused: oneDNN 2.6 gives both
  // eltwise post-ops the first one's parameters.
  for (auto [act, then] : {std::pair{Activation::linear, Activation::relu}, std::pair{Activation::leaky, Activation::linear},
                           std::pair{Activation::mish, Activation::linear}, std::pair{Activation::leaky, Activation::relu}}) {
    NetSpec spec{8, 8, 16, 2,
                 {conv({.filters = 16, .size = 1, .pad = Pad::none, .act = Activation::leaky}),
                  conv({.filters = 8, .size = 1, .pad = Pad::none, .act = Activation::leaky}),
                  conv({.filters = 16, .size = 3, .bn = true, .act = act}),
                  shortcut({-3}, then),
                  conv({.filters = 8, .size = 1, .pad = Pad::none, .act = Activation::linear})}};
    Network net = build(spec);
    const Tensor input = random_tensor(net.input_shape(), 3, -1, 1);
    ExecOptions fused = int8_options(net, {{0, 1.f, false}, {1, 2.f, false}, {2, 2.f, false}, {4, 4.f, false}});
    fused.int8_activations = false;  // the residual in floats either way (8-bit streams: below)
    ExecOptions unfused = fused;
    unfused.fuse_residual = false;
    Executor a(net, fused), b(net, unfused);
    const std::string which = std::string(activation_name(act)) + " then " + activation_name(then);
    const bool mixed_up = act == Activation::leaky && then == Activation::relu;
    ASSERT_EQ(a.plan().accumulates_for[2], mixed_up ? -1 : 3) << which << ": which conv performs the shortcut";
    EXPECT_TRUE(same_tensor(a.forward(input)[0], b.forward(input)[0], 1e-5)) << which;
    for (const std::string& name : a.layer_implementations())
      EXPECT_EQ(name.find("ref"), std::string::npos) << which << ": a reference kernel: " << name;
  }
}

TEST(Quantization, Int8ResidualStreamStaysEightBit) {
  // Two darknet residual blocks fused into one buffer: the first tensor, each
  // block's convolution adding into it and each shortcut are stored in 8
  // bits, each at its readers' scale (the adding convolution at its
  // shortcut's). The stream is then quantized where the float-residual path
  // keeps floats: the shortcuts and the output stay close to their float
  // values.
  NetSpec spec{10, 10, 8, 2,
               {conv({.filters = 16, .size = 1, .pad = Pad::none, .act = Activation::leaky}),  // 0: the stream
                conv({.filters = 16, .size = 1, .pad = Pad::none, .act = Activation::leaky}),  // 1
                conv({.filters = 16, .size = 3, .bn = true, .act = Activation::leaky}),        // 2: += 0
                shortcut({-3}, Activation::linear),                                            // 3
                conv({.filters = 16, .size = 1, .pad = Pad::none, .act = Activation::leaky}),  // 4
                conv({.filters = 16, .size = 3, .bn = true, .act = Activation::mish}),         // 5: += 3
                shortcut({-3}, Activation::linear),                                            // 6
                conv({.filters = 8, .size = 1, .pad = Pad::none, .act = Activation::linear})}};  // 7
  Network net = build(spec);
  const Tensor input = random_tensor(net.input_shape(), 19, -1, 1);
  ExecOptions with = int8_calibrated_on(net, input);
  with.reuse_memory = false;
  ExecOptions without = with;
  without.int8_activations = false;
  Executor a(net, with), b(net, without);
  const MemoryPlan& plan = a.plan();
  ASSERT_EQ(plan.accumulates_for[2], 3);
  ASSERT_EQ(plan.accumulates_for[5], 6);
  for (int t : {0, 2, 3, 5, 6}) {
    EXPECT_EQ(plan.root[size_t(t)], 0) << t;
    EXPECT_NE(plan.int8_scale[size_t(t)], 0.f) << t;
  }
  EXPECT_EQ(plan.int8_scale[2], plan.int8_scale[3]);
  EXPECT_EQ(plan.int8_scale[5], plan.int8_scale[6]);
  EXPECT_TRUE(std::all_of(b.plan().int8_scale.begin(), b.plan().int8_scale.end(), [](float v) { return v == 0.f; }));
  EXPECT_TRUE(same_tensor(a.forward(input)[0], b.forward(input)[0], 0.03));
  b.forward(input);
  // The last shortcut (the first is overwritten in place by the second block).
  EXPECT_TRUE(same_tensor(a.layer_output(6), b.layer_output(6), 0.03));
  EXPECT_FALSE(same_tensor(a.layer_output(6), b.layer_output(6), 1e-6));  // really quantized
  for (const std::string& name : a.layer_implementations())
    EXPECT_EQ(name.find("ref"), std::string::npos) << "a reference kernel: " << name;
}

TEST(Quantization, ChannelsLastTensorsGiveTheSameInt8Outputs) {
  // int8 keeps the tensors that only convolutions and equal-shape shortcuts
  // touch channels-last; the pooling, the concat and its slices, the input
  // and the output stay as they were. The outputs of every layer are the
  // same either way (the same quantized arithmetic; only layouts change).
  NetSpec spec{12, 12, 3, 2,
               {conv({.filters = 16, .size = 3, .bn = true, .act = Activation::leaky}),             // 0
                conv({.filters = 16, .size = 1, .pad = Pad::none, .act = Activation::leaky}),       // 1
                conv({.filters = 16, .size = 3, .bn = true, .act = Activation::linear}),            // 2
                shortcut({-3}, Activation::leaky),                                                  // 3
                conv({.filters = 32, .size = 3, .bn = true, .act = Activation::mish}),              // 4
                maxpool({.size = 2, .stride_x = 2, .stride_y = 2}),                                 // 5
                conv({.filters = 16, .size = 1, .pad = Pad::none, .act = Activation::leaky}),       // 6
                route({-1, -2}),                                                                    // 7: 16+32 channels
                conv({.filters = 8, .size = 1, .pad = Pad::none, .act = Activation::linear})}};     // 8
  Network net = build(spec);
  const Tensor input = random_tensor(net.input_shape(), 5, 0, 1);
  ExecOptions last = int8_calibrated_on(net, input);
  last.reuse_memory = false;
  last.int8_activations = false;  // every layer output in floats, comparable (see Int8Activations...)
  ExecOptions first = last;
  first.channels_last = false;
  Executor a(net, last), b(net, first);
  const MemoryPlan& plan = a.plan();
  std::vector<int> channels_last;
  for (int t = 0; t <= net.size(); ++t) {
    if (!plan.channels_last[size_t(t)]) continue;
    channels_last.push_back(t);
    EXPECT_FALSE(plan.blocked[size_t(t)]) << t;
    EXPECT_EQ(plan.root_channel[size_t(t)], 0) << t;
  }
  // 0..4 (the residual block and the conv after it) only feed convolutions
  // or the fused shortcut; 4 is read by the maxpool, which rules its class out.
  EXPECT_EQ(channels_last, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_FALSE(std::any_of(b.plan().channels_last.begin(), b.plan().channels_last.end(), [](bool v) { return v; }));
  EXPECT_TRUE(same_tensor(a.forward(input)[0], b.forward(input)[0], 1e-5));
  for (int i = 0; i < net.size(); ++i)
    if (!plan.overwritten[size_t(i)]) {
      EXPECT_TRUE(same_tensor(a.layer_output(i), b.layer_output(i), 1e-5)) << i;
    }
}

// The largest difference between an 8-bit tensor read back and the float
// tensor it was quantized from, saturated to the 8-bit range first (the int8
// path saturates where a value exceeds the calibrated threshold).
float largest_quantization_error(const Tensor& quantized, const Tensor& floats, float scale, bool is_unsigned) {
  const float low = is_unsigned ? 0.f : -128.f / scale, high = (is_unsigned ? 255.f : 127.f) / scale;
  float largest = 0;
  for (int64_t k = 0; k < floats.size(); ++k)
    largest = std::max(largest, std::fabs(quantized.data()[k] - std::clamp(floats.data()[k], low, high)));
  return largest;
}

TEST(Quantization, Int8ActivationsBetweenConvolutionsGiveTheSameOutputs) {
  // A convolution whose output only int8 convolutions read (directly or
  // through a whole-tensor route) writes it as 8-bit integers; its readers
  // then skip their quantizing reorder. The arithmetic is the same as
  // writing floats and quantizing them on the way in, so the network output
  // is too; the 8-bit tensor reads back as its quantized values.
  NetSpec spec{12, 12, 3, 2,
               {conv({.filters = 16, .size = 3, .bn = true, .act = Activation::leaky}),        // 0 -> 1 only
                conv({.filters = 16, .size = 1, .pad = Pad::none, .act = Activation::relu}),   // 1 -> 2, 4 (via 3)
                conv({.filters = 16, .size = 3, .bn = true, .act = Activation::leaky}),        // 2 -> concat
                route({-2}),                                                                   // 3: a view of 1
                conv({.filters = 16, .size = 3, .bn = true, .act = Activation::mish}),         // 4 -> concat, 6
                route({-3, -1}),                                                               // 5: 2 and 4
                conv({.filters = 8, .size = 1, .pad = Pad::none, .act = Activation::linear})}};  // 6
  Network net = build(spec);
  const Tensor input = random_tensor(net.input_shape(), 7, -1, 1);
  ExecOptions with = int8_calibrated_on(net, input);
  with.reuse_memory = false;
  ExecOptions without = with;
  without.int8_activations = false;
  Executor a(net, with), b(net, without);
  std::vector<int> int8_tensors;
  for (int t = 0; t <= net.size(); ++t)
    if (a.plan().int8_scale[size_t(t)] != 0.f) int8_tensors.push_back(t);
  // The concat 5 is only read by an int8 convolution, so it is copied in
  // 8 bits and 2 and 4 write their own 8-bit tensors at its scale; 6 is the
  // output.
  EXPECT_EQ(int8_tensors, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_TRUE(a.plan().int8_concatenation[5]);
  EXPECT_EQ(a.plan().int8_scale[2], a.plan().int8_scale[5]);
  EXPECT_EQ(a.plan().int8_scale[4], a.plan().int8_scale[5]);
  EXPECT_EQ(a.plan().copied_inputs, 2);
  EXPECT_EQ(b.plan().zero_copy_inputs, 2);
  EXPECT_FALSE(a.plan().int8_unsigned[0]);  // leaky: signed
  EXPECT_TRUE(a.plan().int8_unsigned[1]);   // relu: never negative
  EXPECT_TRUE(std::all_of(b.plan().int8_scale.begin(), b.plan().int8_scale.end(), [](float v) { return v == 0.f; }));
  EXPECT_LT(a.plan().peak_bytes, b.plan().peak_bytes);  // every tensor its own buffer: the 8-bit ones a quarter
  EXPECT_TRUE(same_tensor(a.forward(input)[0], b.forward(input)[0], 1e-5));
  b.forward(input);
  for (int t : {0, 1, 2, 4, 5}) {
    const float scale = a.plan().int8_scale[size_t(t)];
    const float error =
        largest_quantization_error(a.layer_output(t), b.layer_output(t), scale, a.plan().int8_unsigned[size_t(t)]);
    EXPECT_LE(error, 0.5f / scale * 1.001f) << t;  // rounding
    EXPECT_GT(error, 0.f) << t;                    // really quantized
  }
  for (const std::string& name : a.layer_implementations())
    EXPECT_EQ(name.find("ref"), std::string::npos) << "an int8 layer fell back to a reference kernel: " << name;
}

TEST(Quantization, MaxPoolsAndUpsamplesMoveEightBitValues) {
  // SPP and PANet's upsampling path between int8 convolutions: the max
  // pools and the upsample read and write 8 bits quantized as what their
  // readers share (a concatenation copied in 8 bits for one convolution;
  // convolutions with one threshold), since max and copies commute with
  // quantizing. The output is the float path's exactly, and each 8-bit
  // tensor reads back as its quantized float value.
  NetSpec spec{16, 16, 3, 2,
               {conv({.filters = 32, .size = 3, .bn = true, .act = Activation::leaky}),       // 0
                maxpool({.size = 5, .stride_x = 1, .stride_y = 1}),                           // 1
                route({-2}),                                                                  // 2: a view of 0
                maxpool({.size = 9, .stride_x = 1, .stride_y = 1}),                           // 3
                route({-1, -3, -4}),                                                          // 4: 3, 1, 0
                conv({.filters = 16, .size = 1, .pad = Pad::none, .act = Activation::relu}),  // 5: 16x16
                maxpool({.size = 2, .stride_x = 2, .stride_y = 2}),                           // 6: 8x8
                conv({.filters = 16, .size = 3, .bn = true, .act = Activation::relu}),        // 7
                upsample(2),                                                                  // 8: 16x16
                route({-1, -4}),                                                              // 9: 8, 5
                conv({.filters = 8, .size = 1, .pad = Pad::none, .act = Activation::linear})}};  // 10
  Network net = build(spec);
  const Tensor input = random_tensor(net.input_shape(), 17, -1, 1);
  // 5 is read by the pool 6 (for 7) and the concatenation 9 (for 10): one
  // threshold for 7 and 10 lets it be 8-bit.
  ExecOptions with = int8_options(net, {{0, 1.f, false}, {5, 3.f, false}, {7, 2.f, true}, {10, 2.f, true}});
  with.reuse_memory = false;
  ExecOptions without = with;
  without.int8_activations = false;
  Executor a(net, with), b(net, without);
  const MemoryPlan& plan = a.plan();
  for (int t : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
    EXPECT_NE(plan.int8_scale[size_t(t)], 0.f) << t;
    EXPECT_TRUE(plan.channels_last[size_t(t)]) << t;
  }
  for (int t : {0, 1, 3}) EXPECT_EQ(plan.int8_scale[size_t(t)], 127.f / 3.f) << t;  // the SPP concat's
  for (int t : {5, 6, 7, 8, 9}) EXPECT_EQ(plan.int8_scale[size_t(t)], 255.f / 2.f) << t;
  EXPECT_FALSE(plan.int8_unsigned[1]);
  EXPECT_TRUE(plan.int8_unsigned[6]);
  // Another threshold for 10: 5 and the loops after it have no common
  // quantization and stay floats.
  ExecOptions apart = int8_options(net, {{0, 1.f, false}, {5, 3.f, false}, {7, 2.f, true}, {10, 2.5f, true}});
  const Executor c(net, apart);
  for (int t : {5, 6}) EXPECT_EQ(c.plan().int8_scale[size_t(t)], 0.f) << t;
  for (int t : {7, 8}) EXPECT_NE(c.plan().int8_scale[size_t(t)], 0.f) << t;
  EXPECT_TRUE(same_tensor(a.forward(input)[0], b.forward(input)[0], 1e-5));
  b.forward(input);
  for (int t : {1, 3, 6, 8}) {
    const float scale = plan.int8_scale[size_t(t)];
    const float error = largest_quantization_error(a.layer_output(t), b.layer_output(t), scale, plan.int8_unsigned[size_t(t)]);
    EXPECT_LE(error, 0.5f / scale * 1.001f) << t;
    EXPECT_GT(error, 0.f) << t;
  }
  for (const std::string& name : a.layer_implementations())
    EXPECT_EQ(name.find("ref"), std::string::npos) << "an int8 layer fell back to a reference kernel: " << name;
}

TEST(Quantization, Int8SeluOutputStaysFloat) {
  // selu's post-ops end in an eltwise_linear, which oneDNN 2.6 would let the
  // requantizing eltwise_linear after it mistake for its own: a selu
  // convolution writes floats, and the output is right.
  NetSpec spec{8, 8, 3, 1,
               {conv({.filters = 16, .size = 3, .act = Activation::selu}),
                conv({.filters = 8, .size = 1, .pad = Pad::none, .act = Activation::linear})}};
  Network net = build(spec);
  const Tensor input = random_tensor(net.input_shape(), 23, -1, 1);
  ExecOptions with = int8_calibrated_on(net, input);
  ExecOptions without = with;
  without.int8_activations = false;
  Executor a(net, with), b(net, without);
  EXPECT_EQ(a.plan().int8_scale[0], 0.f);
  EXPECT_TRUE(same_tensor(a.forward(input)[0], b.forward(input)[0], 1e-6));
  EXPECT_TRUE(same_tensor(a.forward(input)[0], Executor(net, ExecOptions{}).forward(input)[0], 0.03));
}

TEST(Quantization, Int8ConcatenationQuantizesWhatItCopies) {
  // A concatenation only an int8 convolution reads is copied in 8 bits even
  // when its inputs are floats: 0 is also read by a convolution quantizing
  // it otherwise (channels-last floats), 1 by a SAM layer (blocked floats:
  // a float loop), 2 is the SAM's output. The route quantizes them on the
  // copy exactly as the reader's reorder would quantize the float
  // concatenation.
  NetSpec spec{12, 12, 3, 2,
               {conv({.filters = 16, .size = 3, .bn = true, .act = Activation::leaky}),         // 0
                conv({.filters = 16, .size = 1, .pad = Pad::none, .act = Activation::mish}),    // 1
                sam(-1),                                                                        // 2: 1 * 1
                route({-3, -2, -1}),                                                            // 3: 16+16+16
                conv({.filters = 8, .size = 1, .pad = Pad::none, .act = Activation::linear})}};  // 4
  Network net = build(spec);
  const Tensor input = random_tensor(net.input_shape(), 13, -1, 1);
  ExecOptions with = int8_options(net, {{0, 1.f, false}, {1, 2.f, false}, {4, 1.5f, false}});
  with.reuse_memory = false;
  ExecOptions without = with;
  without.int8_activations = false;
  Executor a(net, with), b(net, without);
  const MemoryPlan& plan = a.plan();
  ASSERT_TRUE(plan.int8_concatenation[3]);
  EXPECT_FLOAT_EQ(plan.int8_scale[3], 127.f / 1.5f);
  EXPECT_TRUE(plan.channels_last[3]);
  for (int t : {0, 1, 2}) EXPECT_EQ(plan.int8_scale[size_t(t)], 0.f) << t;
  EXPECT_TRUE(plan.channels_last[0]);
  EXPECT_TRUE(plan.blocked[1] && plan.blocked[2]);
  EXPECT_EQ(plan.copied_inputs, 3);
  EXPECT_FALSE(b.plan().int8_concatenation[3]);
  EXPECT_TRUE(same_tensor(a.forward(input)[0], b.forward(input)[0], 1e-5));
  b.forward(input);
  const float error = largest_quantization_error(a.layer_output(3), b.layer_output(3), plan.int8_scale[3], false);
  EXPECT_LE(error, 0.5f / plan.int8_scale[3] * 1.001f);
  EXPECT_GT(error, 0.f);
  for (const std::string& name : a.layer_implementations())
    EXPECT_EQ(name.find("ref"), std::string::npos) << "a reference kernel: " << name;
}

TEST(Quantization, SignedInt8InputsRunShiftedOnTheUnsignedKernel) {
  // oneDNN 2.6's brgconv int8 kernel takes uint8 sources only; a convolution
  // reading a signed 8-bit tensor (leaky, mish) shifts it to uint8 in a
  // padded buffer and corrects its bias. The output is the same as quantizing
  // the float tensor on the way in (oneDNN's signed-input kernel): 3x3 with
  // padding, stride 2 on an odd size (asymmetric padding), grouped; batch 2.
  NetSpec spec{13, 13, 3, 2,
               {conv({.filters = 32, .size = 1, .pad = Pad::none, .act = Activation::leaky}),               // 0
                conv({.filters = 32, .size = 3, .bn = true, .act = Activation::leaky}),                     // 1
                conv({.filters = 32, .size = 1, .pad = Pad::none, .act = Activation::mish}),                // 2
                conv({.filters = 64, .size = 3, .stride_x = 2, .stride_y = 2, .bn = true, .act = Activation::leaky}),  // 3
                conv({.filters = 64, .size = 1, .pad = Pad::none, .act = Activation::leaky}),               // 4
                conv({.filters = 64, .size = 3, .groups = 4, .bn = true, .act = Activation::leaky}),        // 5
                conv({.filters = 10, .size = 1, .pad = Pad::none, .act = Activation::linear})}};            // 6
  Network net = build(spec);
  const Tensor input = random_tensor(net.input_shape(), 17, -1, 1);
  ExecOptions with = int8_calibrated_on(net, input);
  ExecOptions without = with;
  without.int8_activations = false;  // every convolution reads floats, quantized by oneDNN's reorder
  Executor a(net, with), b(net, without);
  for (int t : {0, 2, 4}) {
    EXPECT_NE(a.plan().int8_scale[size_t(t)], 0.f) << t;
    EXPECT_FALSE(a.plan().int8_unsigned[size_t(t)]) << t;
  }
  EXPECT_TRUE(same_tensor(a.forward(input)[0], b.forward(input)[0], 1e-5));
  const std::vector<std::string> kernels = a.layer_implementations();
  for (int layer : {1, 3, 5}) {
    if (kernels[size_t(layer)].rfind("brgconv", 0) != 0)
      std::printf("note: layer %d runs %s (no brgconv int8 kernel for it on this CPU): not shifted\n",
                  layer, kernels[size_t(layer)].c_str());
  }
  for (const std::string& name : kernels)
    EXPECT_EQ(name.find("ref"), std::string::npos) << "a reference kernel: " << name;
}

TEST(Quantization, Int8NetworkStaysCloseToFp32) {
  // Calibrated on the inputs it then runs, a small network's int8 output stays
  // within a few quantization steps of fp32.
  NetSpec spec{16, 16, 3, 4,
               {conv({.filters = 16, .size = 3, .bn = true, .act = Activation::leaky}),
                maxpool({.size = 2, .stride_x = 2, .stride_y = 2}),
                conv({.filters = 32, .size = 3, .bn = true, .act = Activation::mish}),
                conv({.filters = 16, .size = 1, .pad = Pad::none, .bn = true, .act = Activation::leaky}),
                route({-1, -2}), conv({.filters = 10, .size = 1, .pad = Pad::none, .act = Activation::linear}),
                avgpool()}};
  Network net = build(spec);
  const Tensor input = random_tensor(net.input_shape(), 11, 0, 1);
  CalibrationOptions options;
  const QuantizationTable table = calibrate(net, 1, [&](int64_t) { return input; }, options);
  ExecOptions exec;
  exec.precision = Precision::int8;
  exec.quantization = std::make_shared<QuantizationTable>(table);
  Executor int8(net, exec), fp32(net, ExecOptions{});
  EXPECT_TRUE(same_tensor(int8.forward(input)[0], fp32.forward(input)[0], 0.03));
  for (const std::string& name : int8.layer_implementations())
    EXPECT_EQ(name.find("ref"), std::string::npos) << "an int8 layer fell back to a reference kernel: " << name;
}

TEST(Quantization, ExecutorRefusesAMissingOrForeignTable) {
  NetSpec spec{8, 8, 3, 1, {conv({.filters = 16, .size = 3, .act = Activation::relu}), maxpool({})}};
  Network net = build(spec);
  ExecOptions exec;
  exec.precision = Precision::int8;
  auto message = [&](const ExecOptions& options) {
    try {
      Executor executor(net, options);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(message(exec).find("int8 needs a quantization table"), std::string::npos);
  ExecOptions other_weights = int8_options(net, {{0, 1.f, true}});
  auto changed = std::make_shared<QuantizationTable>(*other_weights.quantization);
  changed->parameters_crc32 ^= 1;
  other_weights.quantization = changed;
  EXPECT_NE(message(other_weights).find("calibrated with other weights"), std::string::npos);
  ExecOptions not_a_conv = int8_options(net, {{1, 1.f, true}});
  EXPECT_NE(message(not_a_conv).find("layer 1 of"), std::string::npos);
  auto more_layers = std::make_shared<QuantizationTable>(*not_a_conv.quantization);
  more_layers->layers = 3;
  not_a_conv.quantization = more_layers;
  EXPECT_NE(message(not_a_conv).find("calibrated for a network of 3 layers"), std::string::npos);
}

class QuantizationTableFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cspnet-qtable-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(QuantizationTableFile, WrittenTableReadsBackEqual) {
  QuantizationTable table;
  table.layers = 12;
  table.parameters_crc32 = 0x0badf00d;
  table.method = "percentile 99.99";
  table.images = 100;
  table.inputs = {{0, 1.f, true}, {3, 0.123456789f, false}, {11, 1e-7f, false}};
  write_quantization_table(path("t.q"), table);
  EXPECT_EQ(read_quantization_table(path("t.q")), table);
}

TEST_F(QuantizationTableFile, MalformedTablesNameTheLine) {
  const std::string head = "cspnet-quantization 1\nlayers 5\nparameters_crc32 0badf00d\nmethod minmax\nimages 10\n";
  const std::string ok_conv = "conv 0 1.5 unsigned\n";
  struct Case {
    const char* name;
    std::string text;
    std::string expect;
  };
  // clang-format off
  const std::vector<Case> cases = {
      {"Empty", "", "no 'cspnet-quantization' line"},
      {"OnlyComments", "# nothing\n\n", "no 'cspnet-quantization' line"},
      {"NotATable", "[net]\nwidth=8\n", "t.q:1: expected the first line 'cspnet-quantization 1'"},
      {"HeaderNotFirst", "layers 5\n" + head + ok_conv, "t.q:1: expected the first line"},
      {"FutureVersion", "cspnet-quantization 2\n", "t.q:1: table version 2 is not supported"},
      {"VersionText", "cspnet-quantization one\n", "t.q:1: expected the version as an integer, got 'one'"},
      {"VersionMissing", "cspnet-quantization\n", "t.q:1: expected 'cspnet-quantization VERSION'"},
      {"HeaderTwice", head + "cspnet-quantization 1\n" + ok_conv, "t.q:6: 'cspnet-quantization' given again (first on line 1)"},
      {"LayersTwice", head + "layers 5\n" + ok_conv, "t.q:6: 'layers' given again (first on line 2)"},
      {"LayersZero", "cspnet-quantization 1\nlayers 0\n", "t.q:2: the layer count 0 is outside 1..1048576"},
      {"LayersNegative", "cspnet-quantization 1\nlayers -4\n", "t.q:2: the layer count -4 is outside"},
      {"LayersHuge", "cspnet-quantization 1\nlayers 99999999999999999999\n", "t.q:2: expected the layer count as an integer"},
      {"LayersMissing", "cspnet-quantization 1\nparameters_crc32 0badf00d\nmethod minmax\nimages 10\n" + ok_conv, "no 'layers' line"},
      {"CrcMissing", "cspnet-quantization 1\nlayers 5\nmethod minmax\nimages 10\n" + ok_conv, "no 'parameters_crc32' line"},
      {"CrcShort", "cspnet-quantization 1\nparameters_crc32 badf00d\n", "t.q:2: expected parameters_crc32 as 8 hexadecimal digits, got 'badf00d'"},
      {"CrcNotHex", "cspnet-quantization 1\nparameters_crc32 0badf00g\n", "t.q:2: expected parameters_crc32 as 8 hexadecimal digits"},
      {"MethodUnknown", "cspnet-quantization 1\nmethod entropy\n", "t.q:2: expected 'method minmax' or 'method percentile P'"},
      {"PercentileAbove100", "cspnet-quantization 1\nmethod percentile 101\n", "t.q:2: expected a percentile in (0, 100], got '101'"},
      {"PercentileText", "cspnet-quantization 1\nmethod percentile high\n", "t.q:2: expected a percentile in (0, 100], got 'high'"},
      {"MethodMissing", "cspnet-quantization 1\nlayers 5\nparameters_crc32 0badf00d\nimages 10\n" + ok_conv, "no 'method' line"},
      {"ImagesZero", "cspnet-quantization 1\nimages 0\n", "t.q:2: the image count 0 is outside"},
      {"ImagesMissing", "cspnet-quantization 1\nlayers 5\nparameters_crc32 0badf00d\nmethod minmax\n" + ok_conv, "no 'images' line"},
      {"UnknownKey", head + "scale 3\n", "t.q:6: unknown key 'scale'"},
      {"NoConvLines", head, "no 'conv' line: the table quantizes nothing"},
      {"ConvTooFewWords", head + "conv 0 1.5\n", "t.q:6: expected 'conv LAYER THRESHOLD signed|unsigned'"},
      {"ConvTooManyWords", head + "conv 0 1.5 signed extra\n", "t.q:6: expected 'conv LAYER THRESHOLD signed|unsigned'"},
      {"ConvLayerNegative", head + "conv -1 1.5 signed\n", "t.q:6: LAYER -1 is outside 0..1048575"},
      {"ConvLayerText", head + "conv first 1.5 signed\n", "t.q:6: expected LAYER as an integer, got 'first'"},
      {"ConvLayerBeyondTable", head + "conv 5 1.5 signed\n", "conv layer 5 is beyond the table's 5 layers"},
      {"ConvThresholdZero", head + "conv 0 0 signed\n", "t.q:6: threshold 0 is not a finite number in (0, 1e30]"},
      {"ConvThresholdNegative", head + "conv 0 -2 signed\n", "t.q:6: threshold -2 is not a finite number"},
      {"ConvThresholdNan", head + "conv 0 nan signed\n", "t.q:6: threshold nan is not a finite number"},
      {"ConvThresholdInfinite", head + "conv 0 inf signed\n", "t.q:6: threshold inf is not a finite number"},
      {"ConvThresholdHuge", head + "conv 0 1e31 signed\n", "t.q:6: threshold 1e31 is not a finite number"},
      {"ConvThresholdJunk", head + "conv 0 1.5x signed\n", "t.q:6: expected the threshold as a number, got '1.5x'"},
      {"ConvSignUnknown", head + "conv 0 1.5 positive\n", "t.q:6: expected 'signed' or 'unsigned', got 'positive'"},
      {"ConvRepeated", head + ok_conv + ok_conv, "t.q:7: layer 0 does not follow layer 0"},
      {"ConvDescending", head + "conv 3 1 signed\nconv 1 1 signed\n", "t.q:7: layer 1 does not follow layer 3"},
      {"BinaryBytes", std::string("cspnet-quantization 1\n\x01\x02\xff\n", 25), "t.q:2: unknown key"},
  };
  // clang-format on
  EXPECT_GE(cases.size(), 30u);  // docs/reliability.md promises at least 30 per reader
  for (const Case& c : cases) {
    std::ofstream(path("t.q"), std::ios::binary | std::ios::trunc) << c.text;
    std::string message = "(no error)";
    try {
      read_quantization_table(path("t.q"));
    } catch (const Error& e) {
      message = e.what();
    }
    test::record_malformed_row("quantization-table", c.name, message, dir_.string());
    EXPECT_NE(message.find(c.expect), std::string::npos) << c.name << ": " << message;
  }
  for (const auto& [name, file, part] : std::vector<std::tuple<const char*, std::string, std::string>>{
           {"MissingFile", path("absent.q"), "absent.q"}, {"Directory", dir_.string(), "not a regular file"}}) {
    std::string message = "(no error)";
    try {
      read_quantization_table(file);
    } catch (const Error& e) {
      message = e.what();
    }
    test::record_malformed_row("quantization-table", name, message, dir_.string());
    EXPECT_NE(message.find(part), std::string::npos) << name << ": " << message;
  }
}

}  // namespace
