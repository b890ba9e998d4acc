// ONNX export against independent runtimes: a network with seeded random
// weights (batch norm statistics included) runs on a random input in our
// executor; its export runs in ONNX Runtime, OpenVINO and OpenCV through
// check_onnx_export.py, which also runs onnx.checker with full shape
// inference. Every output must match to 1e-4 of its largest |value|.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "cspnet/error.hpp"
#include "cspnet/executor.hpp"
#include "cspnet/layer.hpp"
#include "cspnet/network.hpp"
#include "cspnet/onnx_export.hpp"
#include "cspnet/weights.hpp"
#include "cspnet/necks.hpp"
#include "cspnet/zoo.hpp"
#include "randomized_weights.hpp"

namespace cspnet {
namespace {

namespace fs = std::filesystem;

void write_npy_f32(const fs::path& path, const Shape& shape, const float* data) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(shape.n) + ", " +
                       std::to_string(shape.c) + ", " + std::to_string(shape.h) + ", " + std::to_string(shape.w) +
                       "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const char length[2] = {char(header.size() & 0xff), char(header.size() >> 8)};
  out.write(length, 2);
  out << header;
  out.write(reinterpret_cast<const char*>(data), std::streamsize(shape.count() * int64_t(sizeof(float))));
  if (!out) throw Error(path.string() + ": cannot write");
}

// What check_onnx_export.py needs to decode the [yolo] outputs itself: per
// [yolo] layer, its index among the graph outputs and its masked anchors.
void write_decode_json(const Network& net, const std::vector<int>& outputs, const fs::path& path) {
  std::string json = "{\"net_w\": " + std::to_string(net.input_shape().w) +
                     ", \"net_h\": " + std::to_string(net.input_shape().h) + ", \"yolo\": [";
  bool first = true;
  for (int i = 0; i < net.size(); ++i) {
    const YoloAttrs* a = yolo_attrs(net.layer(i));
    if (!a) continue;
    const auto at = std::find(outputs.begin(), outputs.end(), i);
    if (at == outputs.end()) throw Error("decode check: [yolo] layer " + std::to_string(i) + " is not an output");
    std::string anchors;
    for (int m : a->mask)
      anchors += (anchors.empty() ? "" : ", ") + std::string("[") + std::to_string(a->anchors[size_t(2 * m)]) + ", " +
                 std::to_string(a->anchors[size_t(2 * m + 1)]) + "]";
    json += std::string(first ? "" : ", ") + "{\"output\": " + std::to_string(at - outputs.begin()) +
            ", \"classes\": " + std::to_string(a->classes) + ", \"new_coords\": " +
            (a->new_coords ? "true" : "false") + ", \"anchors\": [" + anchors + "]}";
    first = false;
  }
  std::ofstream(path) << json << "]}\n";
}

struct RunResult {
  int exit_code;
  std::string output;
};

RunResult run(const std::string& command) {
  RunResult r{-1, {}};
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) r.output.append(buffer, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string python() { return fs::path(CSPNET_SOURCE_DIR) / ".venv" / "bin" / "python"; }

struct Case {
  OnnxExportOptions options;
  int batch = 1;
  bool every_layer = false;  // every layer's output, not only the network's
};

// Exports `net` (its weights set, at batch `c.batch`) and checks it; skips
// when the Python oracles are missing.
void check_export(Network& net, Case c, const std::string& label) {
  if (!onnx_export_available()) GTEST_SKIP() << "built without ONNX support (libprotobuf-dev/libonnx-dev missing)";
  if (!fs::exists(python())) GTEST_SKIP() << python() << " missing: run scripts/install-deps.sh";
  const Shape in = net.input_shape();
  if (c.batch != in.n) net.reshape(int(in.w), int(in.h), c.batch);
  if (c.every_layer)
    for (int i = 0; i < net.size(); ++i) c.options.outputs.push_back(i);
  const std::vector<int> outputs = c.options.outputs.empty() ? net.output_layers() : c.options.outputs;

  const fs::path dir = fs::temp_directory_path() / ("cspnet_onnx_" + label + "_" + std::to_string(getpid()));
  fs::create_directories(dir);
  Tensor input(net.input_shape());
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<float> unit(0.f, 1.f);
  for (float& v : input.values()) v = unit(rng);
  write_npy_f32(dir / "input.npy", input.shape(), input.data());

  ExecOptions exec;
  exec.reuse_memory = false;  // every layer's output stays readable
  exec.fuse_residual = false;
  Executor executor(net, exec);
  executor.forward(input);
  for (size_t k = 0; k < outputs.size(); ++k) {
    const Tensor out = executor.layer_output(outputs[k]);
    write_npy_f32(dir / ("ref_" + std::to_string(k) + ".npy"), out.shape(), out.data());
  }
  if (c.options.yolo_decode) write_decode_json(net, outputs, dir / "decode.json");
  export_onnx(net, (dir / "model.onnx").string(), c.options);

  const RunResult r = run(python() + " " + CSPNET_ORACLE_DIR "/check_onnx_export.py " + dir.string());
  std::printf("%s", r.output.c_str());
  if (r.exit_code == 3) {
    fs::remove_all(dir);
    GTEST_SKIP() << "ONNX oracle packages missing: " << r.output;
  }
  ASSERT_EQ(r.exit_code, 0) << "kept " << dir << "\n" << r.output;
  fs::remove_all(dir);
}

Network test_cfg(const std::string& name) {
  return Network::from_cfg_file(std::string(CSPNET_TEST_CFG_DIR) + "/" + name);
}

// The fast subset (label "oracle"): one small cfg with every layer kind,
// every layer's output compared.
TEST(OnnxExport, EveryLayerKindMatchesOnnxRuntimeAtOpset17) {
  Network net = test_cfg("export_every_layer.cfg");
  randomize(net, 3);
  check_export(net, {OnnxExportOptions{}, 1, true}, "every17");
}

TEST(OnnxExport, EveryLayerKindMatchesWithDynamicBatchOfThreeAtOpset11) {
  Network net = test_cfg("export_every_layer.cfg");
  randomize(net, 4);
  check_export(net, {OnnxExportOptions{11, true, false, {}, false}, 3, true}, "every11");
}

TEST(OnnxExport, EveryLayerKindMatchesWithMishAndReduceMaxOpsAtOpset18) {
  Network net = test_cfg("export_every_layer.cfg");
  randomize(net, 5);
  check_export(net, {OnnxExportOptions{18, false, false, {}, false}, 1, true}, "every18");
}

TEST(OnnxExport, FoldedBatchNormMatches) {
  Network net = test_cfg("export_every_layer.cfg");
  randomize(net, 6);
  check_export(net, {OnnxExportOptions{13, false, true, {}, false}, 1, true}, "fold");
}

// --yolo-decode's boxes and scores against a float64 decoding (in the
// script) of our [yolo] outputs.
TEST(OnnxExport, YoloDecodeBoxesAndScoresMatchAFloat64Decoding) {
  Network net = test_cfg("export_every_layer.cfg");
  randomize(net, 8);
  OnnxExportOptions options;
  options.yolo_decode = true;
  options.dynamic_batch = true;
  check_export(net, {options, 2, true}, "decode");
}

TEST(OnnxExport, YoloDecodeWithoutYoloLayersIsAnError) {
  if (!onnx_export_available()) GTEST_SKIP() << "built without ONNX support";
  Network net = test_cfg("train_every_layer.cfg");
  OnnxExportOptions options;
  options.yolo_decode = true;
  const std::string path = (fs::temp_directory_path() / "cspnet_onnx_no_yolo.onnx").string();
  EXPECT_THROW(export_onnx(net, path, options), Error);
}

TEST(OnnxExport, TrainEveryLayerAndOriginalShortcutCfgsMatch) {
  for (const char* name : {"train_every_layer.cfg", "original_shortcut.cfg", "csp_every_layer.cfg"}) {
    SCOPED_TRACE(name);
    Network net = test_cfg(name);
    randomize(net, 7);
    check_export(net, {OnnxExportOptions{}, 1, true}, "small");
  }
}

TEST(OnnxExport, OpsetOutsideTheSupportedRangeIsAnError) {
  if (!onnx_export_available()) GTEST_SKIP() << "built without ONNX support";
  Network net = test_cfg("export_every_layer.cfg");
  const std::string path = (fs::temp_directory_path() / "cspnet_onnx_bad_opset.onnx").string();
  EXPECT_THROW(export_onnx(net, path, OnnxExportOptions{kOnnxMaxOpset + 1, false, false, {}, false}), Error);
  EXPECT_THROW(export_onnx(net, path, OnnxExportOptions{kOnnxMinOpset - 1, false, false, {}, false}), Error);
}

TEST(OnnxExport, UnwritablePathIsAnErrorNamingItAndLeavesNoFile) {
  if (!onnx_export_available()) GTEST_SKIP() << "built without ONNX support";
  Network net = test_cfg("export_every_layer.cfg");
  const fs::path path = fs::temp_directory_path() / "cspnet_no_such_folder" / "model.onnx";
  try {
    export_onnx(net, path.string(), OnnxExportOptions{});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(path.parent_path()));
}

// Whole networks (labels "oracle;slow"): the shared cfgs at a reduced size
// and every zoo model, at batch 1 and at a dynamic batch of 3.
class OnnxExportWholeNetwork : public ::testing::TestWithParam<bool> {};

void check_whole(Network& net, bool dynamic, const std::string& label) {
  randomize(net, 9);
  check_export(net, {OnnxExportOptions{17, dynamic, false, {}, false}, dynamic ? 3 : 1, false}, label);
}

TEST_P(OnnxExportWholeNetwork, SharedCfgsMatch) {
  const fs::path dir = CSPNET_SHARED_CFG_DIR;
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " missing (the design notes' cfgs are not in the repository)";
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".cfg") continue;
    SCOPED_TRACE(entry.path().string());
    std::printf("== %s\n", entry.path().c_str());
    ParseOptions parse;
    parse.width = parse.height = 160;  // every cfg's strides divide 160... except 32-fold detectors'
    if (entry.path().filename().string().find("panet") != std::string::npos) parse.width = parse.height = 256;
    Network net = Network::from_cfg_file(entry.path().string(), parse);
    check_whole(net, GetParam(), "shared");
    if (HasFatalFailure()) return;
  }
}

TEST_P(OnnxExportWholeNetwork, ZooModelsMatch) {
  for (const ZooModel& model : zoo_models()) {
    SCOPED_TRACE(model.name);
    std::printf("== zoo %s\n", model.name.c_str());
    Network net = Network::from_cfg(zoo_cfg(model.name));
    check_whole(net, GetParam(), "zoo");
    if (HasFatalFailure()) return;
  }
}

// Every detector of the zoo (the EFM, GFM, CEM, PRN necks with Maxout, SAM
// and SPP; the PANet-SPP detectors) at its smallest common size, 128x128
// (the Ref. models' stride is 64: 128 still divides).
TEST_P(OnnxExportWholeNetwork, ZooDetectorsMatch) {
  for (const DetectorModel& model : detector_models()) {
    SCOPED_TRACE(model.name);
    std::printf("== detector %s\n", model.name.c_str());
    NetInput input = model.input;
    input.width = input.height = 128;
    Network net = model.build(input).build();
    check_whole(net, GetParam(), "detector");
    if (HasFatalFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Batch, OnnxExportWholeNetwork, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? std::string("DynamicBatch3") : std::string("Batch1"); });

}  // namespace
}  // namespace cspnet
