// ONNX import: our exporter's models read back give the same graph (the cfg
// text our cfg writer writes for both) and the same outputs; malformed
// models are a cspnet::Error naming what is wrong, and the CLI leaves no
// output files behind them.
#include <gtest/gtest.h>
#include <onnx/onnx.pb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cspnet/cfg.hpp"
#include "cspnet/error.hpp"
#include "cspnet/executor.hpp"
#include "cspnet/model_builder.hpp"
#include "cspnet/necks.hpp"
#include "cspnet/network.hpp"
#include "cspnet/onnx_export.hpp"
#include "cspnet/onnx_import.hpp"
#include "cspnet/weights.hpp"
#include "cspnet/zoo.hpp"
#include "../unit/malformed_table.hpp"
#include "randomized_weights.hpp"

namespace cspnet {
namespace {

namespace fs = std::filesystem;

// A scratch folder per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() / ("cspnet_import_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  fs::path operator/(const std::string& name) const { return path_ / name; }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

std::string cfg_text(const Network& net) { return format_cfg(network_cfg(net)); }

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// Every output of both networks on one random input, to 1e-5 of the largest |value|.
void expect_same_outputs(Network& original, Network& imported) {
  Tensor input(original.input_shape());
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> unit(0.f, 1.f);
  for (float& v : input.values()) v = unit(rng);
  Executor a(original), b(imported);
  const std::vector<Tensor> want = a.forward(input), got = b.forward(input);
  ASSERT_EQ(want.size(), got.size());
  for (size_t k = 0; k < want.size(); ++k) {
    ASSERT_EQ(want[k].shape(), got[k].shape());
    float largest = 0.f, worst = 0.f;
    for (int64_t i = 0; i < want[k].shape().count(); ++i) {
      largest = std::max(largest, std::fabs(want[k].data()[i]));
      worst = std::max(worst, std::fabs(want[k].data()[i] - got[k].data()[i]));
    }
    EXPECT_LE(worst, 1e-5f * std::max(largest, 1e-6f)) << "output " << k << ", largest |value| " << largest;
  }
}

// Exports `net`, imports the model, and checks graph and outputs.
void round_trip(Network& net, const OnnxExportOptions& options, const std::string& label) {
  if (!onnx_import_available()) GTEST_SKIP() << "built without ONNX support";
  SCOPED_TRACE(label + " opset " + std::to_string(options.opset) + (options.fold_bn ? " fold-bn" : "") +
               (options.dynamic_batch ? " dynamic batch" : ""));
  TempDir dir;
  const std::string path = (dir / "model.onnx").string();
  export_onnx(net, path, options);
  OnnxImport imported = import_onnx(path);
  std::string want = cfg_text(net);
  // Folded batch norm is a convolution with biases: the same outputs.
  if (options.fold_bn) want = replace_all(want, "batch_normalize=1", "batch_normalize=0");
  EXPECT_EQ(cfg_text(imported.network), want);
  EXPECT_EQ(net.output_layers(), imported.network.output_layers());
  EXPECT_TRUE(imported.warnings.empty()) << imported.warnings.front();
  expect_same_outputs(net, imported.network);
}

Network test_cfg(const std::string& name) {
  return Network::from_cfg_file(std::string(CSPNET_TEST_CFG_DIR) + "/" + name);
}

TEST(OnnxImport, EveryLayerKindRoundTripsAtEveryOpsetTheExporterWrites) {
  for (int opset = kOnnxMinOpset; opset <= kOnnxMaxOpset; ++opset) {
    Network net = test_cfg("export_every_layer.cfg");
    randomize(net, uint64_t(opset));
    OnnxExportOptions options;
    options.opset = opset;
    options.dynamic_batch = opset % 2 == 0;
    round_trip(net, options, "export_every_layer");
    if (HasFatalFailure()) return;
  }
}

TEST(OnnxImport, FoldedBatchNormImportsAsConvolutionsWithTheSameOutputs) {
  for (int opset : {11, 17, 18}) {
    Network net = test_cfg("export_every_layer.cfg");
    randomize(net, 40 + uint64_t(opset));
    OnnxExportOptions options;
    options.opset = opset;
    options.fold_bn = true;
    round_trip(net, options, "export_every_layer");
    if (HasFatalFailure()) return;
  }
}

TEST(OnnxImport, ProjectCfgsRoundTrip) {
  for (const char* name :
       {"tiny_detector.cfg", "train_every_layer.cfg", "original_shortcut.cfg", "csp_every_layer.cfg"}) {
    Network net = test_cfg(name);
    randomize(net, 7);
    round_trip(net, OnnxExportOptions{}, name);
    if (HasFatalFailure()) return;
  }
}

TEST(OnnxImport, FixedBatchOfTwoRoundTrips) {
  Network net = test_cfg("tiny_detector.cfg");
  net.reshape(64, 64, 2);
  randomize(net, 9);
  round_trip(net, OnnxExportOptions{}, "tiny_detector batch 2");
}

TEST(OnnxImport, ZooModelsRoundTrip) {
  for (const char* name :
       {"cspdarknet-small", "cspresnext-small", "csppeleenet-small-efm-sam", "csppeleenet-small-prn"}) {
    NetInput input;
    input.width = input.height = 64;
    Network net = is_detector_model(name) ? [&] {
      input = detector_model(name).input;
      input.width = input.height = 128;
      return detector_model(name).build(input).build();
    }()
                                          : Network::from_cfg(zoo_cfg(name, input));
    randomize(net, 11);
    round_trip(net, OnnxExportOptions{}, name);
    if (HasFatalFailure()) return;
    OnnxExportOptions folded;
    folded.fold_bn = true;
    folded.opset = 13;
    round_trip(net, folded, name);
    if (HasFatalFailure()) return;
  }
}

TEST(OnnxImport, YoloDecodeSubgraphIsRefusedSayingSo) {
  if (!onnx_import_available()) GTEST_SKIP() << "built without ONNX support";
  TempDir dir;
  Network net = test_cfg("tiny_detector.cfg");
  OnnxExportOptions options;
  options.yolo_decode = true;
  export_onnx(net, (dir / "decode.onnx").string(), options);
  try {
    import_onnx((dir / "decode.onnx").string());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--yolo-decode"), std::string::npos) << e.what();
  }
}

// ---- malformed models ---------------------------------------------------------

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

onnx::TensorProto& initializer(onnx::ModelProto& m, const std::string& name) {
  for (auto& t : *m.mutable_graph()->mutable_initializer())
    if (t.name() == name) return t;
  throw Error("test: no initialiser " + name);
}

struct Malformed {
  std::string name;
  std::function<std::string(const std::string& valid)> make;  // the file's bytes
  std::string message;                                        // a substring of the error
};

std::string mutated(const std::string& valid, const std::function<void(onnx::ModelProto&)>& change) {
  onnx::ModelProto m;
  if (!m.ParseFromString(valid)) throw Error("test: the valid model does not parse");
  change(m);
  return m.SerializeAsString();
}

std::vector<Malformed> malformed_cases() {
  using M = onnx::ModelProto;
  return {
      {"empty file", [](const std::string&) { return std::string(); }, "empty file"},
      {"not a protobuf", [](const std::string&) { return std::string("\xff\xff\xff\xff\x0f not onnx", 14); },
       "not an ONNX model"},
      {"truncated", [](const std::string& v) { return v.substr(0, v.size() / 2); }, "not an ONNX model"},
      {"missing initialiser",
       [](const std::string& v) {
         return mutated(v, [](M& m) {
           auto* inits = m.mutable_graph()->mutable_initializer();
           for (int i = 0; i < inits->size(); ++i)
             if (inits->Get(i).name() == "conv_0_weight") {
               inits->DeleteSubrange(i, 1);
               break;
             }
         });
       },
       "reads 'conv_0_weight', which is no initialiser"},
      {"initialiser shorter than its dims",
       [](const std::string& v) {
         return mutated(v, [](M& m) {
           auto& t = initializer(m, "conv_0_weight");
           t.set_raw_data(t.raw_data().substr(0, 100));
         });
       },
       "holds 100 bytes; its dims need 1728"},
      {"integer initialiser",
       [](const std::string& v) {
         return mutated(v, [](M& m) { initializer(m, "conv_0_weight").set_data_type(onnx::TensorProto::INT32); });
       },
       "is INT32, expected FLOAT"},
      {"absurd dims",
       [](const std::string& v) {
         return mutated(v, [](M& m) { initializer(m, "conv_0_weight").set_dims(0, int64_t(1e12)); });
       },
       "more than 268435456 elements"},
      {"overflowing dims",
       [](const std::string& v) {
         return mutated(v, [](M& m) {
           auto& t = initializer(m, "conv_0_weight");
           t.set_dims(0, int64_t{1} << 40);
           t.set_dims(1, int64_t{1} << 40);
         });
       },
       "do not fit an input of 3 channels"},
      {"weights for other input channels",
       [](const std::string& v) { return mutated(v, [](M& m) { initializer(m, "conv_0_weight").set_dims(1, 5); }); },
       "do not fit an input of 3 channels"},
      {"absurd input size",
       [](const std::string& v) {
         return mutated(v, [](M& m) {
           m.mutable_graph()
               ->mutable_input(0)
               ->mutable_type()
               ->mutable_tensor_type()
               ->mutable_shape()
               ->mutable_dim(2)
               ->set_dim_value(int64_t(1e12));
         });
       },
       "is not a positive size up to 2^30"},
      {"unknown op",
       [](const std::string& v) {
         return mutated(v, [](M& m) { m.mutable_graph()->mutable_node(0)->set_op_type("FooBar"); });
       },
       "node #0 'conv_0_conv_1' (FooBar): op FooBar maps onto no cspnet layer"},
      {"cycle",
       [](const std::string& v) {
         return mutated(v, [](M& m) {
           auto* g = m.mutable_graph();
           g->mutable_node(0)->set_input(0, g->node(g->node_size() - 1).output(0));
         });
       },
       "(an undefined tensor or a cycle)"},
      {"tensor written twice",
       [](const std::string& v) {
         return mutated(v,
                        [](M& m) { m.mutable_graph()->mutable_node(1)->set_output(0, m.graph().node(0).output(0)); });
       },
       "exists already"},
      {"unsupported opset",
       [](const std::string& v) { return mutated(v, [](M& m) { m.mutable_opset_import(0)->set_version(7); }); },
       "opset 7 is outside the supported 11..21"},
      {"reshape that does not fit",
       [](const std::string& v) {
         return mutated(v, [](M& m) {
           for (auto& n : *m.mutable_graph()->mutable_node())
             if (n.op_type() == "Reshape") {
               const int64_t shape[5] = {0, 3, 7, 5, 5};
               initializer(m, n.input(1)).set_raw_data(shape, sizeof shape);
               return;
             }
         });
       },
       "Reshape to [0,3,7,5,5] does not fit"},
      {"activation darknet does not have",
       [](const std::string& v) {
         return mutated(v, [](M& m) {
           for (auto& n : *m.mutable_graph()->mutable_node())
             if (n.op_type() == "LeakyRelu")
               for (auto& a : *n.mutable_attribute()) a.set_f(0.01f);
         });
       },
       "(LeakyRelu): elementwise nodes that compute none of darknet's activations"},
      {"external data",
       [](const std::string& v) {
         return mutated(v,
                        [](M& m) { initializer(m, "conv_0_weight").set_data_location(onnx::TensorProto::EXTERNAL); });
       },
       "external file"},
      {"no nodes", [](const std::string& v) { return mutated(v, [](M& m) { m.mutable_graph()->clear_node(); }); },
       "not an ONNX model with a graph (no nodes)"},
      {"no graph input",
       [](const std::string& v) { return mutated(v, [](M& m) { m.mutable_graph()->clear_input(); }); },
       "reads 'input', which is no initialiser, graph input or earlier node's output"},
      {"output of no node",
       [](const std::string& v) {
         return mutated(v, [](M& m) { m.mutable_graph()->mutable_output(0)->set_name("nowhere"); });
       },
       "graph output 'nowhere' is never computed"},
      {"input of three dims",
       [](const std::string& v) {
         return mutated(v, [](M& m) {
           m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim()->RemoveLast();
         });
       },
       "has rank 3, expected N x C x H x W"},
      {"input of integers",
       [](const std::string& v) {
         return mutated(v, [](M& m) {
           m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
               onnx::TensorProto::INT64);
         });
       },
       "graph input 'input' is not a float tensor"},
      {"half-precision initialiser",
       [](const std::string& v) {
         return mutated(v, [](M& m) { initializer(m, "conv_0_weight").set_data_type(onnx::TensorProto::FLOAT16); });
       },
       "is FLOAT16, expected FLOAT"},
      {"negative dim",
       [](const std::string& v) {
         return mutated(v, [](M& m) { initializer(m, "conv_0_weight").set_dims(0, -16); });
       },
       "weight dims [-16,3,3,3] are not [filters, channels/groups, k, k]"},
      {"no opset",
       [](const std::string& v) { return mutated(v, [](M& m) { m.clear_opset_import(); }); },
       "ONNX opset -1 is outside the supported 11..21"},
      {"opset from the future",
       [](const std::string& v) { return mutated(v, [](M& m) { m.mutable_opset_import(0)->set_version(99); }); },
       "ONNX opset 99 is outside the supported 11..21"},
      {"conv stride zero",
       [](const std::string& v) {
         return mutated(v, [](M& m) {
           for (auto& a : *m.mutable_graph()->mutable_node(0)->mutable_attribute())
             if (a.name() == "strides") a.set_ints(0, 0);
         });
       },
       "key 'stride_y': expected"},
      {"conv groups that do not divide the channels",
       [](const std::string& v) {
         return mutated(v, [](M& m) {
           for (auto& a : *m.mutable_graph()->mutable_node(0)->mutable_attribute())
             if (a.name() == "group") a.set_i(2);
         });
       },
       "with group 2 do not fit an input of 3 channels"},
      {"node without outputs",
       [](const std::string& v) {
         return mutated(v, [](M& m) { m.mutable_graph()->mutable_node(0)->clear_output(); });
       },
       "a node without an output"},
      {"node without inputs",
       [](const std::string& v) {
         return mutated(v, [](M& m) { m.mutable_graph()->mutable_node(0)->clear_input(); });
       },
       "reads '', which no mapped node produces"},
      {"bytes after a valid model", [](const std::string& v) { return v + std::string("\x07garbage", 8); },
       "not an ONNX model (the protobuf does not parse"},
      {"graph without outputs",
       [](const std::string& v) { return mutated(v, [](M& m) { m.mutable_graph()->clear_output(); }); },
       "the graph declares no outputs; expected at least one graph output"},
      {"attribute given twice",
       [](const std::string& v) {
         return mutated(v, [](M& m) {
           // A second `group` (2, which does not divide the 3 channels): which one a
           // reader takes is unspecified, so the model is refused whatever the values.
           onnx::NodeProto* conv = m.mutable_graph()->mutable_node(0);
           for (const auto& a : conv->attribute())
             if (a.name() == "group") {
               onnx::AttributeProto twice = a;
               twice.set_i(2);
               *conv->add_attribute() = twice;
               return;
             }
         });
       },
       "node #0 'conv_0_conv_1' (Conv): attribute 'group' appears twice"},
  };
}

TEST(OnnxImport, MalformedModelsAreErrorsNamingTheProblem) {
  if (!onnx_import_available()) GTEST_SKIP() << "built without ONNX support";
  TempDir dir;
  Network net = test_cfg("export_every_layer.cfg");
  export_onnx(net, (dir / "valid.onnx").string());
  const std::string valid = read_bytes(dir / "valid.onnx");
  ASSERT_NO_THROW(import_onnx((dir / "valid.onnx").string()));
  const std::vector<Malformed> cases = malformed_cases();
  EXPECT_GE(cases.size(), 30u);
  for (const Malformed& c : cases) {
    SCOPED_TRACE(c.name);
    const fs::path path = dir / "bad.onnx";
    write_bytes(path, c.make(valid));
    try {
      import_onnx(path.string());
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      const std::string message = e.what();
      test::record_malformed_row("onnx-import", c.name, message, dir.path());
      EXPECT_NE(message.find(c.message), std::string::npos) << message;
      EXPECT_NE(message.find(path.string()), std::string::npos) << "the file is not named: " << message;
    }
  }
}

// ---- models written the way other exporters write them ------------------------

std::vector<float> floats_of(const onnx::TensorProto& t) {
  std::vector<float> v(t.raw_data().size() / sizeof(float));
  std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
  return v;
}
void set_floats(onnx::TensorProto& t, const std::vector<float>& v) {
  t.set_raw_data(v.data(), v.size() * sizeof(float));
}

// Our export rewritten in PyTorch's manner: no cspnet names or metadata,
// convolution biases before batch norm (moved into its mean), batch-norm
// epsilon 1e-3 (moved into the variance), Gemm with untransposed weights.
std::string foreign_style(const std::string& exported) {
  return mutated(exported, [](onnx::ModelProto& m) {
    m.set_producer_name("pytorch");
    m.clear_metadata_props();
    onnx::GraphProto& g = *m.mutable_graph();
    std::map<std::string, std::string> renamed;
    std::set<std::string> outputs;
    for (const auto& o : g.output()) outputs.insert(o.name());
    for (auto& n : *g.mutable_node()) {
      for (auto& in : *n.mutable_input())
        if (renamed.count(in)) in = renamed.at(in);
      for (auto& out : *n.mutable_output())
        if (!outputs.count(out)) out = renamed[out] = "/model/t" + std::to_string(renamed.size());
      n.set_name("/model/" + n.op_type() + "_" + std::to_string(renamed.size()));
    }
    std::map<std::string, onnx::NodeProto*> batch_norm_of;
    for (auto& n : *g.mutable_node())
      if (n.op_type() == "BatchNormalization") batch_norm_of[n.input(0)] = &n;
    int added = 0;
    for (auto& n : *g.mutable_node()) {
      if (n.op_type() == "BatchNormalization") {
        for (auto& a : *n.mutable_attribute())
          if (a.name() == "epsilon") a.set_f(1e-3f);
        onnx::TensorProto& var = initializer(m, n.input(4));
        std::vector<float> v = floats_of(var);
        for (float& x : v) x -= 1e-3f - 1e-5f;
        set_floats(var, v);
      }
      if (n.op_type() == "Conv" && n.input_size() == 2 && batch_norm_of.count(n.output(0))) {
        const int64_t filters = initializer(m, n.input(1)).dims(0);
        std::vector<float> bias(static_cast<size_t>(filters));
        for (size_t k = 0; k < bias.size(); ++k) bias[k] = 0.05f * float(int(k % 7) - 3);
        onnx::TensorProto& b = *g.add_initializer();
        b.set_name("conv_bias_" + std::to_string(added++));
        b.set_data_type(onnx::TensorProto::FLOAT);
        b.add_dims(filters);
        set_floats(b, bias);
        n.add_input(b.name());
        onnx::TensorProto& mean = initializer(m, batch_norm_of.at(n.output(0))->input(3));
        std::vector<float> v = floats_of(mean);
        for (size_t k = 0; k < v.size(); ++k) v[k] += bias[k];
        set_floats(mean, v);
      }
      if (n.op_type() == "Gemm") {
        onnx::TensorProto& w = initializer(m, n.input(1));
        const int64_t rows = w.dims(0), cols = w.dims(1);
        const std::vector<float> v = floats_of(w);
        std::vector<float> t(v.size());
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c) t[size_t(c * rows + r)] = v[size_t(r * cols + c)];
        set_floats(w, t);
        w.set_dims(0, cols);
        w.set_dims(1, rows);
        for (auto& a : *n.mutable_attribute())
          if (a.name() == "transB") a.set_i(0);
      }
    }
  });
}

TEST(OnnxImport, ForeignStyleModelsImportWithTheSameOutputs) {
  if (!onnx_import_available()) GTEST_SKIP() << "built without ONNX support";
  TempDir dir;
  NetInput input;
  input.width = input.height = 64;
  std::vector<std::pair<std::string, Network>> nets;
  nets.emplace_back("export_every_layer", test_cfg("export_every_layer.cfg"));
  nets.emplace_back("cspdarknet-small", Network::from_cfg(zoo_cfg("cspdarknet-small", input)));
  nets.emplace_back("cspresnext-small", Network::from_cfg(zoo_cfg("cspresnext-small", input)));
  for (auto& [name, net] : nets) {
    SCOPED_TRACE(name);
    randomize(net, 21);
    export_onnx(net, (dir / "ours.onnx").string());
    write_bytes(dir / "foreign.onnx", foreign_style(read_bytes(dir / "ours.onnx")));
    OnnxImport imported = import_onnx((dir / "foreign.onnx").string());
    expect_same_outputs(net, imported.network);
  }
}

// ---- the CLI -------------------------------------------------------------------

int run_cli(const std::string& args, const fs::path& log) {
  const std::string command = std::string("'") + CSPNET_CLI_PATH + "' " + args + " >'" + log.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(OnnxImportCli, WritesACfgAndWeightsThatLoad) {
  if (!onnx_import_available()) GTEST_SKIP() << "built without ONNX support";
  TempDir dir;
  Network net = test_cfg("export_every_layer.cfg");
  randomize(net, 3);
  export_onnx(net, (dir / "m.onnx").string());
  const fs::path cfg = dir / "m.cfg", weights = dir / "m.weights";
  ASSERT_EQ(run_cli("import '" + (dir / "m.onnx").string() + "' '" + cfg.string() + "' '" + weights.string() + "'",
                    dir / "log"),
            0)
      << read_bytes(dir / "log");
  Network loaded = Network::from_cfg_file(cfg.string());
  load_weights(loaded, weights.string());
  EXPECT_EQ(cfg_text(loaded), replace_all(cfg_text(net), "export_every_layer", "m"));
  expect_same_outputs(net, loaded);
}

TEST(OnnxImportCli, BadModelExitsOneAndWritesNothing) {
  if (!onnx_import_available()) GTEST_SKIP() << "built without ONNX support";
  TempDir dir;
  Network net = test_cfg("export_every_layer.cfg");
  export_onnx(net, (dir / "m.onnx").string());
  const std::string bytes = read_bytes(dir / "m.onnx");
  write_bytes(dir / "truncated.onnx", bytes.substr(0, bytes.size() - 40));
  write_bytes(dir / "unknown.onnx", mutated(bytes, [](onnx::ModelProto& m) {
                m.mutable_graph()->mutable_node(m.graph().node_size() - 1)->set_op_type("NonMaxSuppression");
              }));
  for (const char* name : {"truncated.onnx", "unknown.onnx", "missing.onnx"}) {
    SCOPED_TRACE(name);
    const fs::path cfg = dir / "out.cfg", weights = dir / "out.weights";
    EXPECT_EQ(run_cli("import '" + (dir / name).string() + "' '" + cfg.string() + "' '" + weights.string() + "'",
                      dir / "log"),
              1)
        << read_bytes(dir / "log");
    EXPECT_NE(read_bytes(dir / "log").find(name), std::string::npos) << read_bytes(dir / "log");
    EXPECT_FALSE(fs::exists(cfg));
    EXPECT_FALSE(fs::exists(weights));
    for (const auto& entry : fs::directory_iterator(dir.operator/("")))
      EXPECT_EQ(entry.path().filename().string().find("out."), std::string::npos) << "left behind: " << entry.path();
  }
  EXPECT_EQ(run_cli("import '" + (dir / "m.onnx").string() + "'", dir / "log"), 2);
}

}  // namespace
}  // namespace cspnet
