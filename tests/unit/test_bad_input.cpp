// Bad input never crashes: a table of malformed cfg texts and .weights files,
// each with the message it must produce. Every message names the file and
// the line (cfg) or byte offset / size (weights) and says what was expected.
// Also: unused-key warnings vs --strict, load_weights leaving the network
// untouched on error, exact save/load round trips, no partial files on save.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "cspnet/cspnet.hpp"
#include "cspnet/data_source.hpp"
#include "io/image_header.hpp"
#include "malformed_table.hpp"

namespace fs = std::filesystem;
using namespace cspnet;

namespace {

// Joins lines with '\n' (and a final one), so that a case's line numbers are
// its element positions, counting from 1.
std::string lines(std::initializer_list<std::vector<std::string>> blocks) {
  std::string text;
  for (const auto& block : blocks)
    for (const auto& line : block) text += line + "\n";
  return text;
}

// Reused blocks. kNet is lines 1-4, so the first layer section starts on line 5.
const std::vector<std::string> kNet = {"[net]", "width=16", "height=16", "channels=3"};
// A 5-line 8x16x16 convolution.
const std::vector<std::string> kConv8 = {"[convolutional]", "filters=8", "size=3", "pad=1", "activation=leaky"};

struct BadCfg {
  const char* name;
  std::string text;
  std::vector<std::string> expect;  // substrings the error message must contain
};

// clang-format off
const std::vector<BadCfg> kBadCfgs = {
  // ---- file structure ----
  {"EmptyFile", "", {"bad.cfg: no sections; expected [net] first"}},
  {"OnlyComments", "# a comment\n; another\n\n   \n", {"bad.cfg: no sections; expected [net] first"}},
  {"MissingNet", lines({{"[convolutional]", "filters=8", "size=3"}}),
   {"bad.cfg:1: section [convolutional] before [net]", "the first section must be [net]"}},
  {"LayerSectionBeforeNet", lines({{"# model", "[maxpool]", "size=2"}, kNet, kConv8}),
   {"bad.cfg:2: section [maxpool] before [net]"}},
  {"KeyBeforeAnySection", lines({{"# header", "width=16"}, kNet}),
   {"bad.cfg:2: key 'width' appears before the first section", "[net] expected first"}},
  {"LineWithoutEquals", lines({kNet, {"[convolutional]", "filters 8"}}),
   {"bad.cfg:6: expected key=value or [section], got 'filters8'"}},
  {"EmptyKey", lines({kNet, {"[convolutional]", "=8"}}),
   {"bad.cfg:6: expected key=value or [section], got '=8'"}},
  {"UnclosedSectionHeader", lines({kNet, {"[convolutional", "filters=8"}}),
   {"bad.cfg:5: malformed section header '[convolutional', expected [name]"}},
  {"EmptySectionHeader", lines({kNet, {"[]"}}),
   {"bad.cfg:5: malformed section header '[]', expected [name]"}},
  {"UnknownSection", lines({kNet, {"[convolution]", "filters=8"}}),
   {"bad.cfg:5: [convolution]: unknown section [convolution]", "(known: convolutional, conv,"}},
  {"SecondNetSection", lines({kNet, kConv8, {"[net]", "width=8"}}),
   {"bad.cfg:10: [net]: a second [net] section; [net] must appear once, first"}},
  {"NoLayers", lines({kNet}), {"bad.cfg: no layers after [net]"}},
  {"NulByte", std::string("[net]\nwidth=16\0\n", 16), {"bad.cfg:2: binary data (NUL byte) in a cfg file"}},

  // ---- [net] ----
  {"NetMissingWidth", lines({{"[net]", "height=16", "channels=3"}, kConv8}),
   {"bad.cfg:1: [net]: missing required key 'width' (an integer)"}},
  {"NetWidthZero", lines({{"[net]", "width=0", "height=16", "channels=3"}, kConv8}),
   {"bad.cfg:2: [net] key 'width': expected a positive integer, got '0'"}},
  {"NetChannelsNegative", lines({{"[net]", "width=16", "height=16", "channels=-3"}, kConv8}),
   {"bad.cfg:4: [net] key 'channels': expected a positive integer, got '-3'"}},
  {"NetAbsurdInputSize", lines({{"[net]", "width=100000", "height=100000", "channels=3"}, kConv8}),
   {"bad.cfg:1: [net]: input width*height*channels = 30000000000 is larger than the supported 1073741824"}},
  // Products that wrap int64 to exactly 0 (2^22*2^21*2^21 = 2^64) and to a negative number (2^63).
  {"NetInputProductWrapsToZero", lines({{"[net]", "width=4194304", "height=2097152", "channels=2097152"},
                                        {"[avgpool]"}, {"[softmax]"}}),
   {"bad.cfg:1: [net]: input width*height*channels = 4194304*2097152*2097152 is larger than the supported"}},
  {"NetInputProductWrapsNegative", lines({{"[net]", "width=2097152", "height=2097152", "channels=2097152"},
                                          {"[avgpool]"}, {"[softmax]"}}),
   {"bad.cfg:1: [net]: input width*height*channels = 2097152*2097152*2097152 is larger than the supported"}},

  // ---- typed values ----
  {"NonNumericValue", lines({kNet, {"[convolutional]", "filters=abc", "size=3"}}),
   {"bad.cfg:6: [convolutional] key 'filters': expected an integer, got 'abc'"}},
  {"FloatWhereIntegerExpected", lines({kNet, {"[convolutional]", "filters=8", "size=3.5"}}),
   {"bad.cfg:7: [convolutional] key 'size': expected an integer, got '3.5'"}},
  {"TrailingGarbage", lines({kNet, {"[convolutional]", "filters=8", "size=3x"}}),
   {"bad.cfg:7: [convolutional] key 'size': expected an integer, got '3x'"}},
  {"IntegerOverflow", lines({kNet, {"[convolutional]", "filters=99999999999"}}),
   {"bad.cfg:6: [convolutional] key 'filters': expected an integer, got '99999999999'"}},
  {"EmptyValue", lines({kNet, {"[convolutional]", "filters="}}),
   {"bad.cfg:6: [convolutional] key 'filters': expected an integer, got ''"}},
  {"FloatOutOfRange", lines({kNet, {"[convolutional]", "filters=18", "size=1"},
                             {"[yolo]", "classes=1", "scale_x_y=1e39"}}),
   {"bad.cfg:10: [yolo] key 'scale_x_y': expected a finite number, got '1e39'"}},
  {"NonNumericFloat", lines({kNet, {"[convolutional]", "filters=18", "size=1"},
                             {"[yolo]", "classes=1", "anchors=10,abc"}}),
   {"bad.cfg:10: [yolo] key 'anchors': expected a comma-separated list of numbers, got '10,abc'"}},

  // ---- [convolutional] ----
  {"ZeroFilters", lines({kNet, {"[convolutional]", "filters=0", "size=3"}}),
   {"bad.cfg:6: [convolutional] key 'filters': expected a positive number of filters, got '0'"}},
  {"NegativeFilters", lines({kNet, {"[convolutional]", "filters=-4", "size=3"}}),
   {"bad.cfg:6: [convolutional] key 'filters': expected a positive number of filters, got '-4'"}},
  {"SizeZero", lines({kNet, {"[convolutional]", "filters=8", "size=0"}}),
   {"bad.cfg:7: [convolutional] key 'size': expected a positive kernel size, got '0'"}},
  {"StrideZero", lines({kNet, {"[convolutional]", "filters=8", "size=3", "stride=0"}}),
   {"bad.cfg:8: [convolutional] key 'stride': expected a positive stride, got '0'"}},
  {"DilationZero", lines({kNet, {"[convolutional]", "filters=8", "size=3", "dilation=0"}}),
   {"bad.cfg:8: [convolutional] key 'dilation': expected a positive dilation, got '0'"}},
  {"NegativePadding", lines({kNet, {"[convolutional]", "filters=8", "size=3", "padding=-1"}}),
   {"bad.cfg:8: [convolutional] key 'padding': expected a non-negative padding, got '-1'"}},
  {"FiltersNotDivisibleByGroups", lines({kNet, {"[convolutional]", "filters=8", "size=3", "groups=3"}}),
   {"bad.cfg:8: [convolutional] key 'groups': expected a divisor of filters=8, got '3'"}},
  {"InputChannelsNotDivisibleByGroups", lines({kNet, {"[convolutional]", "filters=8", "size=3", "groups=2"}}),
   {"bad.cfg:5: [convolutional]: groups=2 must divide the input channels 3"}},
  {"KernelLargerThanPaddedInput", lines({kNet, {"[convolutional]", "filters=8", "size=21", "pad=0"}}),
   {"bad.cfg:5: [convolutional]: kernel extent 21 is larger than the padded input 16x16"}},
  {"DilatedKernelLargerThanPaddedInput",
   lines({kNet, {"[convolutional]", "filters=8", "size=3", "dilation=9", "padding=0"}}),
   {"bad.cfg:5: [convolutional]: kernel extent 19 is larger than the padded input 16x16"}},
  {"HugePaddingOutput", lines({kNet, {"[convolutional]", "filters=1", "size=1", "padding=2147483647"}}),
   {"bad.cfg:5: [convolutional]: output shape", "exceeds the supported 1073741824 elements per image"}},
  // Windows far wider than the input: accepted by darknet, hours of work for padded cells.
  {"MaxpoolWindowFarLargerThanInput", lines({kNet, {"[maxpool]", "size=1000000", "stride=1"}}),
   {"bad.cfg:5: [maxpool]: pool window 1000000 is far larger than the 16x16 input (at most 64"}},
  {"ConvKernelFarLargerThanInput", lines({kNet, {"[convolutional]", "filters=1", "size=1001", "pad=1"}}),
   {"bad.cfg:5: [convolutional]: kernel extent 1001 is far larger than the 16x16 input (at most 64"}},
  {"DilatedConvKernelFarLargerThanInput",
   lines({kNet, {"[convolutional]", "filters=1", "size=3", "dilation=100000", "padding=100000"}}),
   {"bad.cfg:5: [convolutional]: kernel extent 200001 is far larger than the 16x16 input"}},
  {"AbsurdConvParameters", lines({kNet, {"[convolutional]", "filters=65536", "size=99", "pad=1"}}),
   {"bad.cfg:5: [convolutional]: filters*channels/groups*size*size = 1926955008 parameters exceed the "
    "supported 268435456 per layer"}},
  {"UnknownActivation", lines({kNet, {"[convolutional]", "filters=8", "size=3", "activation=relu7"}}),
   {"bad.cfg:8: [convolutional] key 'activation': expected an activation (linear, logistic, relu,",
    "got 'relu7'"}},

  // ---- [route] ----
  {"RouteIndexOutOfRange", lines({kNet, kConv8, {"[route]", "layers=-5"}}),
   {"bad.cfg:11: [route] key 'layers': expected an earlier layer (index 0..0, or -1..-1 relative); "
    "-5 refers to layer -4"}},
  {"RouteForwardPointing", lines({kNet, kConv8, kConv8, {"[route]", "layers=-1,3"}}),
   {"bad.cfg:16: [route] key 'layers': expected an earlier layer (index 0..1, or -1..-2 relative); "
    "3 refers to layer 3"}},
  {"RouteRefersToItself", lines({kNet, kConv8, {"[route]", "layers=1"}}),
   {"bad.cfg:11: [route] key 'layers': expected an earlier layer", "1 refers to layer 1"}},
  {"RouteAsFirstLayer", lines({kNet, {"[route]", "layers=0"}}),
   {"bad.cfg:6: [route] key 'layers': expected an earlier layer", "0 refers to layer 0"}},
  {"RouteMissingLayers", lines({kNet, kConv8, {"[route]", "groups=2"}}),
   {"bad.cfg:10: [route]: missing required key 'layers' (a list of layer indices)"}},
  {"RouteEmptyListItem", lines({kNet, kConv8, kConv8, {"[route]", "layers=-1,,0"}}),
   {"bad.cfg:16: [route] key 'layers': expected a comma-separated list of integers, got '-1,,0'"}},
  {"RouteGroupIdTooLarge", lines({kNet, kConv8, {"[route]", "layers=-1", "groups=2", "group_id=2"}}),
   {"bad.cfg:13: [route] key 'group_id': expected a group index in 0..1, got '2'"}},
  {"RouteGroupIdNegative", lines({kNet, kConv8, {"[route]", "layers=-1", "groups=2", "group_id=-1"}}),
   {"bad.cfg:13: [route] key 'group_id': expected a group index in 0..1, got '-1'"}},
  {"RouteGroupsZero", lines({kNet, kConv8, {"[route]", "layers=-1", "groups=0"}}),
   {"bad.cfg:12: [route] key 'groups': expected a positive number of groups, got '0'"}},
  {"RouteGroupsNotDividingChannels", lines({kNet, kConv8, {"[route]", "layers=-1", "groups=3", "group_id=1"}}),
   {"bad.cfg:10: [route]: groups=3 does not divide the 8 channels of layer 0"}},
  {"RouteInputsDifferentWidthHeight",
   lines({kNet, kConv8, {"[convolutional]", "filters=4", "size=3", "stride=2", "pad=1", "activation=leaky"},
          {"[route]", "layers=0,1"}}),
   {"bad.cfg:16: [route]: input layer 1 is 4x8x8 but layer 0 is 8x16x16; routed layers must share width and "
    "height"}},

  // ---- [shortcut] ----
  {"ShortcutFromOutOfRange", lines({kNet, kConv8, {"[shortcut]", "from=-7"}}),
   {"bad.cfg:11: [shortcut] key 'from': expected an earlier layer (index 0..0, or -1..-1 relative); "
    "-7 refers to layer -6"}},
  {"ShortcutForwardPointing", lines({kNet, kConv8, {"[shortcut]", "from=2"}}),
   {"bad.cfg:11: [shortcut] key 'from': expected an earlier layer", "2 refers to layer 2"}},
  {"ShortcutMissingFrom", lines({kNet, kConv8, {"[shortcut]", "activation=linear"}}),
   {"bad.cfg:10: [shortcut]: missing required key 'from' (a layer index)"}},
  {"ShortcutFirstLayer", lines({kNet, {"[shortcut]", "from=-1"}}),
   {"bad.cfg:5: [shortcut]: [shortcut] cannot be the first layer"}},
  {"ShortcutUnequalSpatialRatios",
   lines({kNet, kConv8, {"[convolutional]", "filters=8", "size=1", "stride_x=2", "stride_y=1", "activation=linear"},
          {"[shortcut]", "from=0"}}),
   {"bad.cfg:16: [shortcut]: layer 0 (8x16x16) cannot be added to the previous layer (8x16x8): width and height "
    "must differ by the same integer ratio"}},
  {"ShortcutWeighted", lines({kNet, kConv8, {"[shortcut]", "from=-1", "weights_type=per_feature"}}),
   {"bad.cfg:12: [shortcut] key 'weights_type': expected none (weighted shortcuts are not supported), got "
    "'per_feature'"}},

  // ---- [upsample] ----
  {"UpsampleStrideZero", lines({kNet, kConv8, {"[upsample]", "stride=0"}}),
   {"bad.cfg:11: [upsample] key 'stride': expected a non-zero stride, got '0'"}},
  {"UpsampleStrideIntMin", lines({kNet, kConv8, {"[upsample]", "stride=-2147483648"}}),
   {"bad.cfg:11: [upsample] key 'stride': expected a non-zero stride, got '-2147483648'"}},
  {"DownsampleStrideNotDividing", lines({kNet, kConv8, {"[upsample]", "stride=-3"}}),
   {"bad.cfg:10: [upsample]: stride 3 must divide the input 8x16x16"}},
  {"UpsampleOutputTooLarge", lines({kNet, kConv8, {"[upsample]", "stride=100000"}}),
   {"bad.cfg:10: [upsample]: output shape 8x1600000x1600000 exceeds the supported 1073741824 elements per image"}},

  // ---- [softmax], [scale_channels], [sam] ----
  {"SoftmaxGroupsNotDividing", lines({kNet, kConv8, {"[softmax]", "groups=3"}}),
   {"bad.cfg:10: [softmax]: groups=3 does not divide the 2048 inputs"}},
  {"SoftmaxGroupsZero", lines({kNet, kConv8, {"[softmax]", "groups=0"}}),
   {"bad.cfg:11: [softmax] key 'groups': expected a positive number of groups, got '0'"}},
  {"ScaleChannelsShapeMismatch", lines({kNet, kConv8, kConv8, {"[scale_channels]", "from=0"}}),
   {"bad.cfg:15: [scale_channels]: the previous layer must be 8x1x1 (one value per channel of layer 0), got "
    "8x16x16"}},
  {"ScaleChannelsChannelMismatch",
   lines({kNet, kConv8, {"[avgpool]"}, {"[convolutional]", "filters=4", "size=1", "activation=logistic"},
          {"[scale_channels]", "from=0"}}),
   {"bad.cfg:15: [scale_channels]: the previous layer must be 8x1x1", "got 4x1x1"}},
  {"ScaleChannelsPerPosition", lines({kNet, kConv8, {"[avgpool]"}, {"[scale_channels]", "from=0", "scale_wh=1"}}),
   {"bad.cfg:13: [scale_channels] key 'scale_wh': expected 0 (per-position scaling is not supported), got '1'"}},
  {"SamShapeMismatch",
   lines({kNet, kConv8, {"[convolutional]", "filters=4", "size=1", "activation=logistic"}, {"[sam]", "from=0"}}),
   {"bad.cfg:14: [sam]: the previous layer (4x16x16) and layer 0 (8x16x16) must have the same shape"}},
  {"SamMissingFrom", lines({kNet, kConv8, {"[sam]"}}),
   {"bad.cfg:10: [sam]: missing required key 'from' (a layer index)"}},

  // ---- [maxpool] ----
  {"MaxoutOutChannelsExceedChannels", lines({kNet, kConv8, {"[maxpool]", "maxpool_depth=1", "out_channels=16"}}),
   {"bad.cfg:10: [maxpool]: out_channels=16 exceeds the input channels 8"}},
  {"MaxpoolSizeZero", lines({kNet, kConv8, {"[maxpool]", "size=0", "stride=1"}}),
   {"bad.cfg:11: [maxpool] key 'size': expected a positive window size, got '0'"}},
  {"MaxpoolSizeIntMin", lines({kNet, kConv8, {"[maxpool]", "size=-2147483648", "stride=1"}}),
   {"bad.cfg:11: [maxpool] key 'size': expected a positive window size, got '-2147483648'"}},
  {"MaxpoolStrideZero", lines({kNet, kConv8, {"[maxpool]", "size=2", "stride=0"}}),
   {"bad.cfg:12: [maxpool] key 'stride': expected a positive stride, got '0'"}},
  {"MaxpoolWindowLargerThanInput", lines({kNet, kConv8, {"[maxpool]", "size=40", "stride=1", "padding=0"}}),
   {"bad.cfg:10: [maxpool]: pool window 40 is larger than the padded input"}},

  // ---- [yolo] ----
  {"YoloChannelsMismatch",
   lines({kNet, {"[convolutional]", "filters=8", "size=1", "activation=linear"},
          {"[yolo]", "mask=0,1,2", "num=3", "classes=1"}}),
   {"bad.cfg:9: [yolo]: input has 8 channels, expected 18 = mask count 3 * (classes 1 + 5)"}},
  {"YoloHugeClasses",
   lines({kNet, {"[convolutional]", "filters=8", "size=1"}, {"[yolo]", "mask=0", "classes=2147483647"}}),
   {"bad.cfg:8: [yolo]: input has 8 channels, expected 2147483652 = mask count 1 * (classes 2147483647 + 5)"}},
  {"YoloMaskOutOfRange",
   lines({kNet, {"[convolutional]", "filters=12", "size=1"}, {"[yolo]", "mask=0,3", "num=3", "classes=1"}}),
   {"bad.cfg:9: [yolo] key 'mask': expected anchor indices in 0..2, got '0,3'"}},
  {"YoloMaskNegative",
   lines({kNet, {"[convolutional]", "filters=12", "size=1"}, {"[yolo]", "mask=-1,0", "num=3", "classes=1"}}),
   {"bad.cfg:9: [yolo] key 'mask': expected anchor indices in 0..2, got '-1,0'"}},
  {"YoloAnchorsCountWrong",
   lines({kNet, {"[convolutional]", "filters=18", "size=1"},
          {"[yolo]", "mask=0,1,2", "num=3", "classes=1", "anchors=10,13,16,30"}}),
   {"bad.cfg:12: [yolo] key 'anchors': expected 6 numbers (w,h for each of num=3 anchors), got '10,13,16,30'"}},
  {"YoloHugeNum", lines({kNet, {"[convolutional]", "filters=18", "size=1"}, {"[yolo]", "num=2147483647"}}),
   {"bad.cfg:9: [yolo] key 'num': expected a positive number of anchors (at most 65536), got '2147483647'"}},
  {"YoloClassesZero", lines({kNet, {"[convolutional]", "filters=18", "size=1"}, {"[yolo]", "classes=0"}}),
   {"bad.cfg:9: [yolo] key 'classes': expected a positive number of classes, got '0'"}},

  // ---- [connected], [dropout], [cost] ----
  {"ConnectedOutputZero", lines({kNet, kConv8, {"[connected]", "output=0"}}),
   {"bad.cfg:11: [connected] key 'output': expected a positive number of outputs, got '0'"}},
  {"ConnectedAbsurdParameters", lines({kNet, kConv8, {"[connected]", "output=2000000"}}),
   {"bad.cfg:10: [connected]: output*inputs = 4096000000 parameters exceed the supported 268435456 per layer"}},
  {"DropoutProbabilityOne", lines({kNet, kConv8, {"[dropout]", "probability=1"}}),
   {"bad.cfg:11: [dropout] key 'probability': expected a probability in [0, 1), got '1'"}},
  {"CostUnknownType", lines({kNet, kConv8, {"[cost]", "type=hinge"}}),
   {"bad.cfg:11: [cost] key 'type': expected a cost type (sse, masked, smooth, L1, seg, wgan), got 'hinge'"}},
};
// clang-format on

class MalformedCfg : public ::testing::TestWithParam<BadCfg> {};

TEST_P(MalformedCfg, FailsWithLocationAndExpectation) {
  const BadCfg& c = GetParam();
  try {
    Network net = Network::from_cfg(parse_cfg_text(c.text, "bad.cfg"));
    ADD_FAILURE() << c.name << ": accepted; " << net.size() << " layers";
  } catch (const Error& e) {
    const std::string message = e.what();
    test::record_malformed_row("cfg", c.name, message);
    EXPECT_EQ(message.rfind("bad.cfg", 0), 0u) << "the message must start with the file name: " << message;
    for (const auto& part : c.expect)
      EXPECT_NE(message.find(part), std::string::npos) << "expected '" << part << "' in:\n  " << message;
  }
  // Anything but cspnet::Error propagates and fails the test.
}

INSTANTIATE_TEST_SUITE_P(Table, MalformedCfg, ::testing::ValuesIn(kBadCfgs),
                         [](const ::testing::TestParamInfo<BadCfg>& info) { return std::string(info.param.name); });

TEST(MalformedCfgTable, HasEnoughCases) { EXPECT_GE(kBadCfgs.size(), 35u); }

// The same table through the file reader: the message names the real path.
TEST(MalformedCfgTable, FileReaderNamesThePath) {
  char dir_template[] = "/tmp/cspnet-bad-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const fs::path dir = dir_template;
  const std::string path = (dir / "model.cfg").string();
  { std::ofstream(path) << lines({kNet, kConv8, {"[route]", "layers=4"}}); }
  try {
    Network::from_cfg_file(path);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":11: [route] key 'layers'"), std::string::npos) << e.what();
  }
  try {
    read_cfg_file((dir / "missing.cfg").string());
    ADD_FAILURE() << "accepted a missing file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.cfg: cannot open cfg file"), std::string::npos) << e.what();
  }
  try {
    read_cfg_file(dir.string());
    ADD_FAILURE() << "accepted a directory";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

// ---- text files: regular files only, and bounded ----

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// /dev/zero was read to 8.2 GB, then std::bad_alloc (cfg) or "read error"
// (image list); a FIFO would block. Refused by name before any reading.
TEST(TextFiles, NonRegularFilesAreRefusedByName) {
  std::string message = error_of([] { read_cfg_file("/dev/zero"); });
  EXPECT_NE(message.find("/dev/zero: not a regular file (a device, FIFO or socket); expected the cfg file"),
            std::string::npos)
      << message;
  char dir_template[] = "/tmp/cspnet-text-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const fs::path dir = dir_template;
  const std::string fifo = (dir / "fifo.cfg").string(), labels = (dir / "labels.txt").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  message = error_of([&] { read_cfg_file(fifo); });
  EXPECT_NE(message.find(fifo + ": not a regular file"), std::string::npos) << message;
  { std::ofstream(labels) << "cat\ndog\n"; }
  message = error_of([&] { ImageListDataSource("/dev/zero", labels, 1, 8, 8); });
  EXPECT_NE(message.find("/dev/zero: not a regular file"), std::string::npos) << message;
  EXPECT_NE(message.find("image list"), std::string::npos) << message;
  message = error_of([&] { read_cfg_file(dir.string()); });
  EXPECT_NE(message.find(dir.string() + ": is a directory"), std::string::npos) << message;
  fs::remove_all(dir);
}

// stb_image 2.27 wrote past its Huffman tables for a JPEG DHT segment
// declaring more than 256 codes (ASan: out of bounds in stbi__build_huffman;
// found by fuzz_image). JPEG is decoded by libjpeg now, which refuses such a
// table itself; it stays a clear error, from the decoder and the header reader.
TEST(Images, JpegHuffmanTableWithMoreThan256CodesIsAnError) {
  std::string jpeg = {'\xFF', '\xD8', '\xFF', '\xC4', '\x01', '\x13', '\x00'};
  jpeg += std::string(16, '\x20');   // 16 code lengths x 32 codes = 512 codes
  jpeg += std::string(512, '\x01');  // their values
  jpeg += "\xFF\xD9";
  char dir_template[] = "/tmp/cspnet-image-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const fs::path dir = dir_template;
  const std::string path = (dir / "huffman.jpg").string();
  { std::ofstream(path, std::ios::binary) << jpeg; }
  // libjpeg-turbo's words for it: "Bogus Huffman table definition".
  const std::string expected = path + ": cannot decode image: corrupt JPEG: Bogus Huffman table";
  std::string message = error_of([&] { load_image_rgb(path); });
  EXPECT_NE(message.find(expected), std::string::npos) << message;
  std::vector<float> chw(3 * 4 * 4);
  message = error_of([&] { load_image_file(path, 3, 4, 4, chw.data()); });
  EXPECT_NE(message.find(expected), std::string::npos) << message;
  message = error_of([&] { read_image_size(path); });
  EXPECT_NE(message.find(expected), std::string::npos) << message;
  message = error_of([] { load_image_rgb("/dev/zero"); });
  EXPECT_NE(message.find("/dev/zero: cannot decode image: not a regular file"), std::string::npos) << message;
  fs::remove_all(dir);
}

// Two findings of fuzz_image in stb_image 2.27's PNG data chunks (IDAT).
// It memcpy'd an empty IDAT into its data buffer before allocating it (UBSan:
// null pointer passed to memcpy in stbi__getn): empty IDAT chunks are legal
// and add nothing, so the image decodes as without them, and one cut short
// after its type is an error (UBSan in scripts/sanitize.sh is what sees the
// null copy). And it grew that buffer to an IDAT's declared length before
// checking the file held it (2 GiB for an 80-byte file): now refused first.
TEST(Images, PngDataChunksStbMishandledAreDecodedOrRefused) {
  char dir_template[] = "/tmp/cspnet-image-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const fs::path dir = dir_template;
  const std::string plain = (dir / "plain.png").string();
  Tensor image(Shape{1, 3, 5, 7});
  for (int64_t i = 0; i < image.shape().count(); ++i) image.data()[i] = float(i % 13) / 12.f;
  save_png(plain, image);
  std::string bytes;
  {
    std::ifstream in(plain, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t idat = bytes.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  const std::string empty_idat("\x00\x00\x00\x00IDAT\x35\xAF\x06\x1E", 12);  // with its CRC-32
  std::string with_empty = bytes;
  with_empty.insert(idat - 4, empty_idat + empty_idat);
  const std::string padded = (dir / "empty-idat.png").string();
  { std::ofstream(padded, std::ios::binary) << with_empty; }
  EXPECT_EQ(load_image_rgb(padded).values(), load_image_rgb(plain).values());
  EXPECT_EQ(read_image_size(padded), (std::pair<int, int>{7, 5}));
  // Only the signature, the header chunk and an empty IDAT's length and type.
  const std::string cut = (dir / "cut.png").string();
  { std::ofstream(cut, std::ios::binary) << bytes.substr(0, idat - 4) + empty_idat.substr(0, 8); }
  std::string message = error_of([&] { load_image_rgb(cut); });
  EXPECT_NE(message.find(cut + ": cannot decode image: "), std::string::npos) << message;
  // An IDAT declaring 2^31 - 1 bytes in a file of a hundred.
  std::string huge = bytes;
  huge.replace(idat - 4, 4, "\x7F\xFF\xFF\xFF");
  const std::string huge_path = (dir / "huge-idat.png").string();
  { std::ofstream(huge_path, std::ios::binary) << huge; }
  message = error_of([&] { load_image_rgb(huge_path); });
  EXPECT_NE(message.find(huge_path + ": cannot decode image: corrupt PNG: the IDAT chunk at byte " +
                         std::to_string(idat - 4) + " declares 2147483647 bytes; the file holds " +
                         std::to_string(huge.size() - idat - 4) + " after it"),
            std::string::npos)
      << message;
  EXPECT_EQ(read_image_size(huge_path), (std::pair<int, int>{7, 5}));  // the header is intact
  fs::remove_all(dir);
}

std::string be32(uint32_t v) {
  return {char(v >> 24), char(v >> 16 & 0xFF), char(v >> 8 & 0xFF), char(v & 0xFF)};
}

// CRC-32 of a PNG chunk's type and data, bit by bit: the files here are tiny.
uint32_t png_crc(const std::string& bytes) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

std::string png_chunk(const std::string& type, const std::string& data) {
  return be32(uint32_t(data.size())) + type + data + be32(png_crc(type + data));
}

// A well-formed PNG whose samples are all zero, in any colour type, bit depth
// and interlace method (the Adam7 passes' rows when interlaced); its data in
// one stored deflate block, so that no encoder decides what is written.
std::string generated_png(uint32_t width, uint32_t height, int depth, int colour, int interlace) {
  const int channels[7] = {1, 0, 3, 1, 2, 0, 4};
  const uint64_t bits_per_pixel = uint64_t(channels[colour]) * uint64_t(depth);
  std::string raw;  // filter byte 0 and the samples, row by row
  const auto add_rows = [&](uint64_t w, uint64_t h) {
    if (w > 0 && h > 0) raw.append(h * (1 + (w * bits_per_pixel + 7) / 8), '\0');
  };
  if (interlace) {
    const uint32_t x0[7] = {0, 4, 0, 2, 0, 1, 0}, y0[7] = {0, 0, 4, 0, 2, 0, 1};
    const uint32_t dx[7] = {8, 8, 4, 4, 2, 2, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
    for (int p = 0; p < 7; ++p)
      add_rows(width > x0[p] ? (width - x0[p] + dx[p] - 1) / dx[p] : 0,
               height > y0[p] ? (height - y0[p] + dy[p] - 1) / dy[p] : 0);
  } else {
    add_rows(width, height);
  }
  EXPECT_LT(raw.size(), 65536u) << "one stored block";
  std::string zlib("\x78\x01\x01", 3);  // zlib header, then the final stored block
  const uint16_t n = uint16_t(raw.size());
  zlib += {char(n & 0xFF), char(n >> 8), char(~n & 0xFF), char((~n >> 8) & 0xFF)};
  zlib += raw;
  uint32_t a = 1, b = 0;  // Adler-32
  for (unsigned char c : raw) a = (a + c) % 65521, b = (b + a) % 65521;
  zlib += be32(b << 16 | a);
  std::string ihdr = be32(width) + be32(height);
  ihdr += {char(depth), char(colour), '\0', '\0', char(interlace)};
  std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr);
  if (colour == 3) png += png_chunk("PLTE", "\x10\x20\x30");
  return png + png_chunk("IDAT", zlib) + png_chunk("IEND", "");
}

// stb said "Image not of any known type, or corrupt" for every malformed PNG
// header. The signature and the IHDR chunk are now checked before stb sees
// the file, by the header reader as by the decoder, each field named with
// its byte; every valid colour type / bit depth pair, plain or interlaced,
// still decodes.
TEST(Images, PngHeadersAreCheckedFieldByFieldBeforeDecoding) {
  char dir_template[] = "/tmp/cspnet-image-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const fs::path dir = dir_template;
  const std::vector<std::pair<int, std::vector<int>>> valid = {
      {0, {1, 2, 4, 8, 16}}, {2, {8, 16}}, {3, {1, 2, 4, 8}}, {4, {8, 16}}, {6, {8, 16}}};
  for (const auto& [colour, depths] : valid)
    for (int depth : depths)
      for (int interlace : {0, 1}) {
        SCOPED_TRACE("colour type " + std::to_string(colour) + ", bit depth " + std::to_string(depth) +
                     ", interlace " + std::to_string(interlace));
        const std::string path = (dir / "valid.png").string();
        { std::ofstream(path, std::ios::binary) << generated_png(5, 3, depth, colour, interlace); }
        EXPECT_EQ(read_image_size(path), (std::pair<int, int>{5, 3}));
        EXPECT_EQ(load_image_rgb(path).shape(), (Shape{1, 3, 3, 5}));
      }
  const std::string good = generated_png(5, 3, 8, 2, 0);
  const auto with = [&](size_t at, const std::string& bytes) {
    return std::string(good).replace(at, bytes.size(), bytes);
  };
  const std::vector<std::pair<std::string, std::string>> malformed = {
      {with(1, "p"), "the file starts 89 70 4E 47 0D 0A 1A 0A, not the PNG signature 89 50 4E 47 0D 0A 1A 0A"},
      {good.substr(0, 6), "the file is 89 50 4E 47 0D 0A (6 bytes), not the 8-byte PNG signature"},
      {good.substr(0, 32),
       "the file ends at byte 32; expected the IHDR chunk at byte 8: 25 bytes (length, type, 13 data bytes, CRC)"},
      {with(12, "iCCP"), "the first chunk (byte 8) is 'iCCP', expected IHDR"},
      {with(12, std::string("\x01HD\xFF", 4)), "the first chunk (byte 8) is '\\x01HD\\xFF', expected IHDR"},
      {with(8, be32(14)), "IHDR length 14 (byte 8) is not valid (expected 13)"},
      {with(16, be32(0)), "IHDR width 0 (byte 16) is outside 1..2147483647"},
      {with(20, be32(0xFFFFFFFFu)), "IHDR height 4294967295 (byte 20) is outside 1..2147483647"},
      {with(24, "\x07"), "IHDR bit depth 7 (byte 24) is not valid for colour type 2 (expected 8 or 16)"},
      {generated_png(5, 3, 16, 3, 0),
       "IHDR bit depth 16 (byte 24) is not valid for colour type 3 (expected 1, 2, 4 or 8)"},
      {generated_png(5, 3, 4, 6, 0), "IHDR bit depth 4 (byte 24) is not valid for colour type 6 (expected 8 or 16)"},
      {generated_png(5, 3, 8, 1, 0),
       "IHDR colour type 1 (byte 25) is not a PNG colour type (expected 0, 2, 3, 4 or 6)"},
      {with(26, "\x08"), "IHDR compression method 8 (byte 26) is not valid (expected 0)"},
      {with(27, "\x01"), "IHDR filter method 1 (byte 27) is not valid (expected 0)"},
      {generated_png(5, 3, 8, 2, 2), "IHDR interlace method 2 (byte 28) is not valid (expected 0 or 1)"},
  };
  for (const auto& [bytes, expect] : malformed) {
    const std::string path = (dir / "bad.png").string();
    { std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes; }
    const std::string expected = path + ": cannot decode image: corrupt PNG: " + expect;
    std::string message = error_of([&] { load_image_rgb(path); });
    EXPECT_NE(message.find(expected), std::string::npos) << message;
    message = error_of([&] { read_image_size(path); });
    EXPECT_NE(message.find(expected), std::string::npos) << message;
    std::vector<float> chw(3 * 4 * 4);
    message = error_of([&] { load_image_file(path, 3, 4, 4, chw.data()); });
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  }
  fs::remove_all(dir);
}

TEST(TextFiles, TextFilesLargerThanTheCapAreRefused) {
  char dir_template[] = "/tmp/cspnet-text-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const fs::path dir = dir_template;
  const std::string big = (dir / "big.cfg").string();
  { std::ofstream(big) << "[net]\n"; }
  fs::resize_file(big, kMaxTextFileBytes + 1);  // sparse: nothing is written
  const std::string message = error_of([&] { read_cfg_file(big); });
  EXPECT_NE(message.find(big + ": " + std::to_string(kMaxTextFileBytes + 1) + " bytes, larger than the " +
                         std::to_string(kMaxTextFileBytes) + " bytes a cfg file may have"),
            std::string::npos)
      << message;
  EXPECT_EQ(read_text_file(big, "text", kMaxTextFileBytes + 1).size(), kMaxTextFileBytes + 1);
  fs::remove_all(dir);
}

// ---- long lines: quoted as bounded excerpts ----

// A 200 MB cfg line was echoed whole into the message; every echo of a cfg
// line, section name, key or value is cut to kCfgExcerptChars plus "...".
TEST(CfgExcerpts, LongLinesKeysAndValuesAreQuotedAsBoundedExcerpts) {
  const std::string huge(1000000, 'a');
  const std::string net = lines({kNet});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {net + huge + "\n", "bad.cfg:5: expected key=value or [section], got '"},
      {net + "[" + huge + "\n", "bad.cfg:5: malformed section header '"},
      {huge + "=1\n" + net, "bad.cfg:1: key '"},
      {net + "[" + huge + "]\n", "bad.cfg:5: [aaaa"},
      {net + "[convolutional]\nfilters=" + huge + "\n", "bad.cfg:6: [convolutional] key 'filters': expected an integer"},
      {net + "[convolutional]\nactivation=" + huge + "\n", "bad.cfg:6: [convolutional] key 'activation'"},
      {net + "[convolutional]\n" + huge + "=1\n", "bad.cfg:6: [convolutional] unused key '"},
  };
  for (const auto& [text, part] : cases) {
    // An init-capture: clang 14 (scripts/tsan.sh) cannot capture a structured binding.
    std::string message =
        error_of([&cfg = text] { Network::from_cfg(parse_cfg_text(cfg, "bad.cfg"), ParseOptions{true}); });
    EXPECT_NE(message.find(part), std::string::npos) << message.substr(0, 300);
    EXPECT_NE(message.find(std::string(kCfgExcerptChars - 1, 'a') + "... (100000"), std::string::npos)
        << message.substr(0, 300);
    EXPECT_LT(message.size(), 2 * kCfgExcerptChars + 300) << message.substr(0, 300);
  }
}

// ---- unused keys: warnings by default, errors with strict ----

TEST(BadInputKeys, UnusedKeyWarnsWithFileLine) {
  const std::string text = lines({kNet, {"bogus=1", "momentum=0.9"}, kConv8, {"colour=blue", "filters=4"}});
  Network net = Network::from_cfg(parse_cfg_text(text, "bad.cfg"));
  const auto& warnings = net.warnings();
  ASSERT_EQ(warnings.size(), 3u);
  EXPECT_EQ(warnings[0], "bad.cfg:5: [net] unused key 'bogus'");  // momentum is a known training key
  EXPECT_EQ(warnings[1], "bad.cfg:12: [convolutional] unused key 'colour'");
  EXPECT_EQ(warnings[2], "bad.cfg:13: [convolutional] duplicate key 'filters' ignored (the first one wins)");
  EXPECT_EQ(net.layer(0).output_shape().c, 8);
}

TEST(BadInputKeys, UnusedKeyIsAnErrorWhenStrict) {
  const std::string text = lines({kNet, kConv8, {"colour=blue"}});
  try {
    Network::from_cfg(parse_cfg_text(text, "bad.cfg"), ParseOptions{true});
    ADD_FAILURE() << "strict parsing accepted an unused key";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.cfg:10: [convolutional] unused key 'colour'"), std::string::npos)
        << e.what();
  }
  // Without the unused key, strict parsing accepts the same network.
  EXPECT_NO_THROW(Network::from_cfg(parse_cfg_text(lines({kNet, kConv8}), "good.cfg"), ParseOptions{true}));
}

// ---- .weights ----

// 4x4x2 input; conv with batch norm (66 floats), maxpool, connected 12 -> 5
// (65 floats): 131 floats = 524 bytes of parameters.
const std::string kTinyCfg = lines({{"[net]", "width=4", "height=4", "channels=2", ""},
                                    {"[convolutional]", "batch_normalize=1", "filters=3", "size=3", "pad=1",
                                     "activation=leaky", ""},
                                    {"[maxpool]", "size=2", "stride=2", ""},
                                    {"[connected]", "output=5", "activation=linear"}});
constexpr int64_t kTinyParamBytes = 524;

Network tiny_network() { return Network::from_cfg(parse_cfg_text(kTinyCfg, "tiny.cfg")); }

std::string header_bytes(int32_t major, int32_t minor, int32_t revision, bool seen64, uint64_t seen = 0) {
  std::string bytes(12, '\0');
  std::memcpy(&bytes[0], &major, 4);
  std::memcpy(&bytes[4], &minor, 4);
  std::memcpy(&bytes[8], &revision, 4);
  if (seen64) {
    bytes.append(8, '\0');
    std::memcpy(&bytes[12], &seen, 8);
  } else {
    uint32_t seen32 = uint32_t(seen);
    bytes.append(4, '\0');
    std::memcpy(&bytes[12], &seen32, 4);
  }
  return bytes;
}

// `count` little-endian floats 0.5, 1.5, 2.5, ...
std::string floats(int64_t count) {
  std::string bytes;
  for (int64_t i = 0; i < count; ++i) {
    float v = float(i) + 0.5f;
    bytes.append(reinterpret_cast<const char*>(&v), 4);
  }
  return bytes;
}

std::string v2() { return header_bytes(0, 2, 0, true); }

// floats(count) with value `v` at `index`.
std::string floats_with(int64_t count, int64_t index, float v) {
  std::string bytes = floats(count);
  std::memcpy(&bytes[size_t(index) * 4], &v, 4);
  return bytes;
}

struct BadWeights {
  const char* name;
  std::string bytes;
  std::vector<std::string> expect;
};

// clang-format off
const std::vector<BadWeights> kBadWeights = {
  {"EmptyFile", "",
   {"bad.weights: 0 bytes is too short for a darknet weights header (12 bytes of major, minor, revision expected)"}},
  {"FiveBytes", std::string(5, '\0'), {"bad.weights: 5 bytes is too short for a darknet weights header"}},
  {"ElevenBytes", std::string(11, '\0'), {"bad.weights: 11 bytes is too short for a darknet weights header"}},
  {"HeaderWithoutSeen", v2().substr(0, 12),
   {"bad.weights: offset 12: file ends inside the header (20 bytes expected, 12 present)"}},
  {"HeaderWithHalfSeen", v2().substr(0, 16),
   {"bad.weights: offset 12: file ends inside the header (20 bytes expected, 16 present)"}},
  {"NegativeMajor", header_bytes(-1, 2, 0, true) + floats(131),
   {"bad.weights: offset 0: invalid header version -1.2.0 (expected non-negative major, minor, revision)"}},
  {"NegativeMinor", header_bytes(0, -2, 0, true) + floats(131), {"bad.weights: offset 0: invalid header version 0.-2.0"}},
  {"NegativeRevision", header_bytes(0, 2, INT32_MIN, true) + floats(131),
   {"bad.weights: offset 0: invalid header version 0.2.-2147483648"}},
  {"HeaderOnly", v2(),
   {"bad.weights: truncated at offset 20: layer 0 (conv, tiny.cfg:6: [convolutional]) needs 12 bytes of biases "
    "at offset 20; the file is 20 bytes, 544 expected"}},
  {"TruncatedInBatchNorm", v2() + floats(10),
   {"bad.weights: truncated at offset 60: layer 0 (conv, tiny.cfg:6: [convolutional]) needs 12 bytes of "
    "rolling_variance at offset 56; the file is 60 bytes, 544 expected"}},
  {"TruncatedInConvWeights", v2() + floats(17),
   {"truncated at offset 88: layer 0 (conv, tiny.cfg:6: [convolutional]) needs 216 bytes of weights at offset 68"}},
  {"TruncatedInConnectedLayer", v2() + floats(66 + 5 + 10),
   {"bad.weights: truncated at offset 344: layer 2 (connected, tiny.cfg:17: [connected]) needs 240 bytes of "
    "weights at offset 304; the file is 344 bytes, 544 expected"}},
  {"OneByteShort", (v2() + floats(131)).substr(0, 543),
   {"truncated at offset 543: layer 2 (connected, tiny.cfg:17: [connected]) needs 240 bytes of weights at "
    "offset 304"}},
  {"ExtraBytes", v2() + floats(132),
   {"bad.weights: 548 bytes, but tiny needs exactly 544 (header 20 + parameters); the file has 4 extra bytes"}},
  {"OneExtraByte", v2() + floats(131) + "x", {"bad.weights: 545 bytes, but tiny needs exactly 544", "1 extra bytes"}},
  // A 32-bit `seen` header (version 0.1) on a file sized for a 64-bit one.
  {"SeenWidthMismatch", header_bytes(0, 1, 0, false) + floats(132),
   {"bad.weights: 544 bytes, but tiny needs exactly 540 (header 16 + parameters); the file has 4 extra bytes"}},
  // Values that make every prediction nan (predict printed nan and exited 0).
  {"NanInConvWeights", v2() + floats_with(131, 22, std::numeric_limits<float>::quiet_NaN()),
   {"bad.weights: offset 108: layer 0 (conv, tiny.cfg:6: [convolutional]) weights[10] is nan, expected a finite "
    "number"}},
  {"InfInConnectedBiases", v2() + floats_with(131, 66, -std::numeric_limits<float>::infinity()),
   {"bad.weights: offset 284: layer 2 (connected, tiny.cfg:17: [connected]) biases[0] is -inf"}},
  {"NegativeBatchNormVariance", v2() + floats_with(131, 10, -1.f),
   {"bad.weights: offset 60: layer 0 (conv, tiny.cfg:6: [convolutional]) rolling_variance[1] is -1, expected a "
    "finite variance >= 0"}},
  // Huge version numbers must not overflow the version arithmetic.
  {"HugeVersionNumbers", header_bytes(INT32_MAX, INT32_MAX, 0, false) + floats(132),
   {"bad.weights: 544 bytes, but tiny needs exactly 540", "4 extra bytes"}},
  // Cuts at the start of each parameter array and inside a float.
  {"TruncatedInScales", v2() + floats(4),
   {"bad.weights: truncated at offset 36: layer 0 (conv, tiny.cfg:6: [convolutional]) needs 12 bytes of scales "
    "at offset 32; the file is 36 bytes, 544 expected"}},
  {"TruncatedInRollingMean", v2() + floats(7),
   {"bad.weights: truncated at offset 48: layer 0 (conv, tiny.cfg:6: [convolutional]) needs 12 bytes of "
    "rolling_mean at offset 44"}},
  {"TruncatedAtConnectedLayerStart", v2() + floats(66),
   {"bad.weights: truncated at offset 284: layer 2 (connected, tiny.cfg:17: [connected]) needs 20 bytes of "
    "biases at offset 284"}},
  {"TruncatedInConnectedBiases", v2() + floats(68),
   {"bad.weights: truncated at offset 292: layer 2 (connected, tiny.cfg:17: [connected]) needs 20 bytes of "
    "biases at offset 284"}},
  {"TruncatedInsideAFloat", v2() + floats(30) + "ab",
   {"bad.weights: truncated at offset 142: layer 0 (conv, tiny.cfg:6: [convolutional]) needs 216 bytes of "
    "weights at offset 68"}},
  {"Version1HeaderOnly", header_bytes(0, 1, 0, false),
   {"bad.weights: truncated at offset 16: layer 0 (conv, tiny.cfg:6: [convolutional]) needs 12 bytes of biases "
    "at offset 16; the file is 16 bytes, 540 expected"}},
  // A version 0.2 header (64-bit seen) on a file written with a 32-bit one.
  {"Version2HeaderOnVersion1File", header_bytes(0, 2, 0, false) + floats(131),
   {"bad.weights: truncated at offset 540: layer 2 (connected, tiny.cfg:17: [connected]) needs 240 bytes of "
    "weights at offset 304; the file is 540 bytes, 544 expected"}},
  {"TwiceTheParameters", v2() + floats(262),
   {"bad.weights: 1068 bytes, but tiny needs exactly 544", "the file has 524 extra bytes"}},
  {"NanInBatchNormScales", v2() + floats_with(131, 4, std::numeric_limits<float>::quiet_NaN()),
   {"bad.weights: offset 36: layer 0 (conv, tiny.cfg:6: [convolutional]) scales[1] is nan, expected a finite "
    "number"}},
  {"InfInRollingMean", v2() + floats_with(131, 6, std::numeric_limits<float>::infinity()),
   {"bad.weights: offset 44: layer 0 (conv, tiny.cfg:6: [convolutional]) rolling_mean[0] is inf, expected a "
    "finite number"}},
  {"NanBatchNormVariance", v2() + floats_with(131, 9, std::numeric_limits<float>::quiet_NaN()),
   {"bad.weights: offset 56: layer 0 (conv, tiny.cfg:6: [convolutional]) rolling_variance[0] is nan, expected a "
    "finite variance >= 0"}},
  {"InfInLastConnectedWeight", v2() + floats_with(131, 130, std::numeric_limits<float>::infinity()),
   {"bad.weights: offset 540: layer 2 (connected, tiny.cfg:17: [connected]) weights[59] is inf"}},
};
// clang-format on

class TempDir {
 public:
  TempDir() {
    char dir_template[] = "/tmp/cspnet-weights-XXXXXX";
    if (!mkdtemp(dir_template)) throw std::runtime_error("mkdtemp failed");
    path_ = dir_template;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string file(const std::string& name, const std::string& bytes) const {
    std::string p = (path_ / name).string();
    std::ofstream(p, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
    return p;
  }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::recursive_directory_iterator(path_)) names.push_back(entry.path().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  fs::path path_;
};

// Every parameter array of the network, in .weights order.
std::vector<std::vector<float>> snapshot(Network& net) {
  std::vector<std::vector<float>> values;
  for (int i = 0; i < net.size(); ++i)
    for (const auto& blob : net.layer(i).darknet_params()) values.push_back(*blob.values);
  return values;
}

bool bitwise_equal(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].size() != b[i].size() || std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float)) != 0)
      return false;
  return true;
}

class MalformedWeights : public ::testing::TestWithParam<BadWeights> {};

TEST_P(MalformedWeights, FailsWithOffsetAndLeavesParametersUntouched) {
  const BadWeights& c = GetParam();
  TempDir dir;
  const std::string path = dir.file("bad.weights", c.bytes);
  Network net = tiny_network();
  init_weights(net, 7);
  const auto before = snapshot(net);
  try {
    load_weights(net, path);
    ADD_FAILURE() << c.name << ": accepted";
  } catch (const Error& e) {
    const std::string message = e.what();
    test::record_malformed_row("weights", c.name, message, dir.path().string());
    EXPECT_EQ(message.rfind(path, 0), 0u) << "the message must start with the path: " << message;
    for (const auto& part : c.expect)
      EXPECT_NE(message.find(part), std::string::npos) << "expected '" << part << "' in:\n  " << message;
  }
  EXPECT_TRUE(bitwise_equal(before, snapshot(net))) << c.name << ": parameters changed by a failed load";
}

INSTANTIATE_TEST_SUITE_P(Table, MalformedWeights, ::testing::ValuesIn(kBadWeights),
                         [](const ::testing::TestParamInfo<BadWeights>& info) { return std::string(info.param.name); });

// docs/reliability.md promises at least 30 malformed inputs per reader.
TEST(MalformedWeightsTable, HasEnoughCases) { EXPECT_GE(kBadWeights.size(), 30u); }

TEST(WeightsIO, ExpectedSizes) {
  Network net = tiny_network();
  EXPECT_EQ(expected_weights_bytes(net, WeightsHeader{0, 2, 0, 0}), 20 + kTinyParamBytes);
  EXPECT_EQ(expected_weights_bytes(net, WeightsHeader{0, 1, 0, 0}), 16 + kTinyParamBytes);
}

TEST(WeightsIO, MissingFileAndDirectory) {
  TempDir dir;
  Network net = tiny_network();
  const std::string missing = (dir.path() / "missing.weights").string();
  try {
    load_weights(net, missing);
    ADD_FAILURE() << "accepted a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), missing + ": cannot open weights file");
  }
  try {
    load_weights(net, dir.path().string());
    ADD_FAILURE() << "accepted a directory";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
  }
}

TEST(WeightsIO, FailedLoadOfTruncatedFileLeavesParametersUntouched) {
  TempDir dir;
  Network source = tiny_network();
  init_weights(source, 11);
  const std::string good = (dir.path() / "good.weights").string();
  save_weights(source, good);
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(int64_t(bytes.size()), 20 + kTinyParamBytes);

  Network net = tiny_network();
  init_weights(net, 12);
  const auto before = snapshot(net);
  // Cut inside every parameter array (and the header) in turn.
  for (size_t cut : {size_t(0), size_t(13), size_t(20), size_t(50), size_t(100), size_t(290), size_t(400),
                     bytes.size() - 1}) {
    const std::string path = dir.file("cut.weights", bytes.substr(0, cut));
    EXPECT_THROW(load_weights(net, path), Error) << "cut at " << cut;
    EXPECT_TRUE(bitwise_equal(before, snapshot(net))) << "parameters changed after a load cut at " << cut;
  }
  // The intact file loads and then equals the source exactly.
  load_weights(net, good);
  EXPECT_TRUE(bitwise_equal(snapshot(source), snapshot(net)));
}

void expect_round_trip(const WeightsHeader& header, int64_t header_size) {
  TempDir dir;
  Network source = tiny_network();
  init_weights(source, 21);
  const std::string path = (dir.path() / "rt.weights").string();
  save_weights(source, path, header);
  EXPECT_EQ(int64_t(fs::file_size(path)), header_size + kTinyParamBytes);
  EXPECT_EQ(int64_t(fs::file_size(path)), expected_weights_bytes(source, header));

  Network loaded = tiny_network();
  init_weights(loaded, 22);  // different values, so the load must overwrite every one
  ASSERT_FALSE(bitwise_equal(snapshot(source), snapshot(loaded)));
  WeightsHeader read = load_weights(loaded, path);
  EXPECT_EQ(read.major, header.major);
  EXPECT_EQ(read.minor, header.minor);
  EXPECT_EQ(read.revision, header.revision);
  EXPECT_EQ(read.seen, header.seen);
  EXPECT_TRUE(bitwise_equal(snapshot(source), snapshot(loaded)));

  // Saving the loaded network reproduces the file byte for byte.
  const std::string again = (dir.path() / "again.weights").string();
  save_weights(loaded, again, read);
  std::ifstream a(path, std::ios::binary), b(again, std::ios::binary);
  std::string bytes_a((std::istreambuf_iterator<char>(a)), std::istreambuf_iterator<char>());
  std::string bytes_b((std::istreambuf_iterator<char>(b)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes_a, bytes_b);
  // No temporary files are left behind.
  EXPECT_EQ(dir.listing().size(), 2u);
}

TEST(WeightsIO, RoundTripSeen64Bit) { expect_round_trip(WeightsHeader{0, 2, 5, 0x0123456789ABull}, 20); }
TEST(WeightsIO, RoundTripSeen32Bit) { expect_round_trip(WeightsHeader{0, 1, 0, 0xFFFFFFF0ull}, 16); }
// Versions above 1000 store connected weights transposed (and a 32-bit seen).
TEST(WeightsIO, RoundTripTransposedConnected) { expect_round_trip(WeightsHeader{1001, 0, 0, 77}, 16); }

TEST(WeightsIO, SaveIntoMissingDirectoryThrowsAndCreatesNothing) {
  TempDir dir;
  Network net = tiny_network();
  init_weights(net, 1);
  const fs::path missing = dir.path() / "no-such-dir";
  EXPECT_THROW(save_weights(net, (missing / "out.weights").string()), Error);
  EXPECT_FALSE(fs::exists(missing));
  EXPECT_TRUE(dir.listing().empty());
}

TEST(WeightsIO, FailedSaveLeavesNoPartialFile) {
  TempDir dir;
  Network net = tiny_network();
  init_weights(net, 1);
  // The destination is a directory: the rename fails after the temporary
  // file was written in full; it must be removed.
  fs::create_directory(dir.path() / "taken");
  try {
    save_weights(net, (dir.path() / "taken").string());
    ADD_FAILURE() << "saved over a directory";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("taken"), std::string::npos) << e.what();
  }
  EXPECT_EQ(dir.listing(), std::vector<std::string>{(dir.path() / "taken").string()});
}

TEST(WeightsIO, SaveReplacesAnExistingFileWhole) {
  TempDir dir;
  const std::string path = dir.file("model.weights", "old contents");
  Network net = tiny_network();
  init_weights(net, 5);
  save_weights(net, path);
  EXPECT_EQ(int64_t(fs::file_size(path)), 20 + kTinyParamBytes);
  EXPECT_EQ(dir.listing().size(), 1u);
}

}  // namespace
