// The [yolo] loss layer's training kernel against a float64 NumPy oracle
// (yolo_loss_oracle.py, written from darknet's rules in
// ../shared/detection-notes.md §3): random raw head inputs and truths for
// each option set, through the kernel's forward, loss and backward; the
// loss terms and every input-gradient element must agree.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "backends/onednn/kernel.hpp"
#include "cspnet/cspnet.hpp"
#include "cspnet/training.hpp"

namespace {

using namespace cspnet;
namespace fs = std::filesystem;
using nlohmann::json;

constexpr double kTolerance = 1e-5;
// Element errors are measured against max(|oracle|, this share of the
// head's largest gradient): float32 activations put ~1e-7 absolute noise on
// deltas near zero.
constexpr double kFloorShare = 1e-2;

std::string shell_quote(const std::string& s) {
  std::string quoted = "'";
  for (char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

struct Case {
  std::string name;
  std::string yolo_keys;  // extra [yolo] lines for both heads
  float grad_scale = 0.5f;
  bool new_coords = false;
};

// Two heads (8x8 and 4x4) on a 64x64 network, 3 classes, 6 anchors; the
// cfg only gives the heads their shapes: the kernels get random inputs.
std::string cfg_of(const Case& c) {
  const std::string head = "classes=3\nnum=6\nanchors=6,8,12,10,16,24,30,20,40,50,60,48\n" +
                           std::string(c.new_coords ? "new_coords=1\n" : "") + c.yolo_keys;
  return "[net]\nwidth=64\nheight=64\nchannels=3\nbatch=2\n"
         "[convolutional]\nfilters=24\nsize=8\nstride=8\nactivation=linear\n"
         "[yolo]\nmask=0,1,2\n" + head +
         "[route]\nlayers=0\n[convolutional]\nfilters=24\nsize=2\nstride=2\nactivation=linear\n"
         "[yolo]\nmask=3,4,5\n" + head;
}

struct HeadRun {
  std::vector<float> input, output, grad;
  LossResult result;
};

json attrs_json(const YoloAttrs& a) {
  static const char* kinds[] = {"iou", "giou", "diou", "ciou"};
  static const char* losses[] = {"mse", "iou", "giou", "diou", "ciou"};
  json j{{"classes", a.classes}, {"mask", a.mask}, {"anchors", a.anchors}, {"scale_x_y", a.scale_x_y},
         {"new_coords", a.new_coords}, {"ignore_thresh", a.ignore_thresh}, {"truth_thresh", a.truth_thresh},
         {"iou_thresh", a.iou_thresh}, {"iou_thresh_kind", kinds[int(a.iou_thresh_kind)]},
         {"iou_loss", losses[int(a.iou_loss)]}, {"iou_normalizer", a.iou_normalizer},
         {"obj_normalizer", a.obj_normalizer}, {"cls_normalizer", a.cls_normalizer},
         {"delta_normalizer", a.delta_normalizer}, {"label_smooth_eps", a.label_smooth_eps},
         {"counters_per_class", a.counters_per_class}, {"focal_loss", a.focal_loss},
         {"objectness_smooth", a.objectness_smooth}};
  j["max_delta"] = std::isinf(a.max_delta) ? json(nullptr) : json(a.max_delta);
  return j;
}

// Runs every [yolo] head's training kernel on random raw inputs.
std::vector<HeadRun> run_heads(Network& net, const Case& c, const std::vector<std::vector<ObjectBox>>& truths,
                               json& heads, uint32_t seed) {
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> logit(-2.5f, 2.5f), unit(0.02f, 0.98f);
  std::vector<HeadRun> runs;
  for (int i = 0; i < net.size(); ++i) {
    Layer& layer = net.layer(i);
    if (layer.kind() != LayerKind::yolo) continue;
    const Shape shape = layer.output_shape();
    HeadRun run;
    run.input.resize(size_t(shape.count()));
    for (float& v : run.input) v = c.new_coords ? unit(rng) : logit(rng);
    run.output.assign(run.input.size(), 0.f);
    run.grad.assign(run.input.size(), 7.f);  // overwritten: accumulate is off
    TrainCompileContext ctx{engine, {{run.input.data(), shape}}, {run.output.data(), shape},
                            {{run.grad.data(), shape}}, {false}, {nullptr, shape}};
    ctx.loss = true;
    ctx.network_input = net.input_shape();
    auto kernel = compile_training_kernel(layer, ctx);
    kernel->forward(stream, StepContext{true, 1});
    run.result = static_cast<LossKernel&>(*kernel).loss(Targets{{}, {}, truths}, c.grad_scale);
    kernel->backward(stream);
    heads.push_back(json{{"attrs", attrs_json(layer.attrs_as<YoloAttrs>())},
                         {"shape", {shape.n, shape.c, shape.h, shape.w}},
                         {"input", run.input}});
    runs.push_back(std::move(run));
  }
  return runs;
}

std::vector<std::vector<ObjectBox>> random_truths(uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> centre(0.05f, 0.95f), size(0.03f, 0.7f);
  std::vector<std::vector<ObjectBox>> truths(2);
  for (auto& image : truths) {
    const int count = 3 + int(rng() % 6);
    for (int k = 0; k < count; ++k) image.push_back(ObjectBox{centre(rng), centre(rng), size(rng), size(rng), int(rng() % 3)});
  }
  truths[1].push_back(ObjectBox{0.5f, 0.5f, 0.2f, 0.2f, 3});  // class id out of range: skipped
  truths[0].push_back(truths[0][0]);  // a duplicate: the same slot claimed twice
  return truths;
}

const std::vector<Case> kCases = {
    {"MseDefaults", "", 1.f},
    {"MseScaleXYLabelSmoothingIgnore", "scale_x_y=1.2\nignore_thresh=.3\nlabel_smooth_eps=0.1\n"},
    {"Giou", "iou_loss=giou\niou_normalizer=0.5\nignore_thresh=.4\n"},
    {"DiouMaxDelta", "iou_loss=diou\nmax_delta=0.05\n"},
    {"CiouIouThreshCiou", "iou_loss=ciou\niou_normalizer=0.07\niou_thresh=0.213\niou_thresh_kind=ciou\n"},
    {"MseIouThreshGiou", "iou_thresh=0.3\niou_thresh_kind=giou\n"},
    {"IouLossIouThreshDiou", "iou_loss=iou\niou_thresh=0.25\niou_thresh_kind=diou\n"},
    {"NewCoordsMse", "scale_x_y=2\n", 0.5f, true},
    {"NewCoordsCiou", "scale_x_y=2\niou_loss=ciou\niou_normalizer=0.1\n", 0.5f, true},
    {"TruthThreshObjectnessSmooth", "truth_thresh=.5\nignore_thresh=.2\nobjectness_smooth=1\n"},
    {"TruthThresh", "truth_thresh=.45\nignore_thresh=.3\n"},
    {"CountersPerClass", "counters_per_class=10,40,5\nmax_delta=3\ncls_normalizer=0.5\n"},
    {"FocalLoss", "focal_loss=1\n"},
    {"Normalizers", "obj_normalizer=2\ndelta_normalizer=0.5\niou_normalizer=0.3\n", 0.25f},
};

TEST(YoloLossOracle, DeltasLossAndInputGradientsMatchFloat64Darknet) {
  const fs::path python = fs::path(CSPNET_REPO_DIR) / ".venv" / "bin" / "python";
  if (!fs::exists(python)) GTEST_SKIP() << "no " << python.string() << " (scripts/install-deps.sh makes it)";
  if (std::system((shell_quote(python.string()) + " -c 'import numpy' 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << python.string() << " cannot import numpy";

  json cases = json::array();
  std::vector<std::vector<HeadRun>> runs;
  for (size_t k = 0; k < kCases.size(); ++k) {
    const Case& c = kCases[k];
    Network net = Network::from_cfg(parse_cfg_text(cfg_of(c), c.name + ".cfg"));
    net.reshape(64, 64, 2);
    const auto truths = random_truths(uint32_t(100 + k));
    json truth_json = json::array();
    for (const auto& image : truths) {
      json list = json::array();
      for (const ObjectBox& t : image) list.push_back({t.x, t.y, t.w, t.h, t.cls});
      truth_json.push_back(list);
    }
    json heads = json::array();
    runs.push_back(run_heads(net, c, truths, heads, uint32_t(7 + k)));
    cases.push_back(json{{"net_w", 64}, {"net_h", 64}, {"grad_scale", c.grad_scale}, {"truths", truth_json},
                         {"heads", heads}});
  }
  const fs::path dir = fs::temp_directory_path() / ("cspnet_yolo_oracle_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "in.json") << json{{"cases", cases}}.dump();
  const std::string command = shell_quote(python.string()) + " " +
                              shell_quote(std::string(CSPNET_ORACLE_DIR) + "/yolo_loss_oracle.py") + " " +
                              shell_quote((dir / "in.json").string()) + " " + shell_quote((dir / "out.json").string());
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  json out;
  std::ifstream(dir / "out.json") >> out;
  fs::remove_all(dir);

  int64_t positives = 0, nonzero_box = 0;
  for (size_t k = 0; k < kCases.size(); ++k) {
    SCOPED_TRACE(kCases[k].name);
    const json& heads = out["cases"][k]["heads"];
    ASSERT_EQ(heads.size(), runs[k].size());
    for (size_t h = 0; h < heads.size(); ++h) {
      SCOPED_TRACE("head " + std::to_string(h));
      const HeadRun& run = runs[k][h];
      const json& want = heads[h];
      EXPECT_NEAR(run.result.loss, want["loss"].get<double>(), kTolerance * want["loss"].get<double>());
      EXPECT_NEAR(run.result.box_loss, want["box"].get<double>(), kTolerance * want["box"].get<double>() + 1e-12);
      EXPECT_NEAR(run.result.objectness_loss, want["obj"].get<double>(), kTolerance * want["obj"].get<double>());
      EXPECT_NEAR(run.result.class_loss, want["cls"].get<double>(), kTolerance * want["cls"].get<double>() + 1e-12);
      EXPECT_EQ(run.result.positives, want["positives"].get<int64_t>());
      EXPECT_NEAR(run.result.positive_iou, want["iou_sum"].get<double>(), 1e-5);
      positives += run.result.positives;
      nonzero_box += run.result.box_loss > 0;
      const std::vector<double> grad = want["grad"].get<std::vector<double>>();
      ASSERT_EQ(grad.size(), run.grad.size());
      double scale = 0;
      for (double g : grad) scale = std::max(scale, std::fabs(g));
      ASSERT_GT(scale, 0);
      int bad = 0;
      for (size_t e = 0; e < grad.size(); ++e) {
        const double allowed = kTolerance * std::max(std::fabs(grad[e]), kFloorShare * scale);
        if (!(std::fabs(run.grad[e] - grad[e]) <= allowed) && bad++ < 5)
          ADD_FAILURE() << "element " << e << ": ours " << run.grad[e] << ", oracle " << grad[e];
      }
      EXPECT_EQ(bad, 0);
    }
  }
  EXPECT_GT(positives, 50);
  EXPECT_GT(nonzero_box, 20);
}

}  // namespace
