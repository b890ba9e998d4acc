// `cspnet detector ablation`: the paper's Table 2 (the EFM ablation) rerun on
// the embedded Fashion-MNIST scenes. Every neck of the detector zoo on the
// same small CSPPeleeNet backbone, trained with one recipe and seed, then
// measured: BFLOPs, parameters, planned memory, inference time, mAP@0.5 and
// COCO AP. Writes DIR/ablation.md and DIR/ablation.json.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_parse.hpp"
#include "cspnet/detector.hpp"
#include "cspnet/error.hpp"
#include "cspnet/executor.hpp"
#include "cspnet/necks.hpp"
#include "cspnet/network.hpp"
#include "cspnet/weights.hpp"
#include "detector_commands.hpp"
#include "forward_timing.hpp"
#include "cspnet/file_output.hpp"

namespace cspnet::cli {
namespace {

struct AblationRow {
  std::string name, paper_name;
  double paper_bflops = 0;  // Table 2 at 320x320 (0: none)
  double bflops = 0;
  int64_t parameters = 0, planned_bytes = 0, neck_bytes = 0;
  double inference_ms = 0, map50 = 0, map = 0, train_seconds = 0, images_per_second = 0;
};

// The ablation's models: the small (10-class) CSPPeleeNet detectors.
std::vector<const DetectorModel*> ablation_models() {
  std::vector<const DetectorModel*> models;
  for (const DetectorModel& m : detector_models())
    if (m.small && m.backbone.find("peleenet") != std::string::npos) models.push_back(&m);
  if (models.empty()) throw Error("detector ablation: the zoo has no small CSPPeleeNet detectors");
  return models;
}


std::string markdown(const std::vector<AblationRow>& rows, const std::string& recipe) {
  std::ostringstream md;
  md << "| model | paper (Table 2) | paper BFLOPs (320) | BFLOPs | parameters | planned memory MiB | neck maps MiB | "
        "inference ms | mAP@0.5 % | AP@[.5:.95] % |\n|---|---|---|---|---|---|---|---|---|---|\n";
  for (const AblationRow& r : rows) {
    char paper[32] = "-", line[512];
    if (r.paper_bflops > 0) std::snprintf(paper, sizeof paper, "%.3f", r.paper_bflops);
    std::snprintf(line, sizeof line, "| %s | %s | %s | %.3f | %lld | %.2f | %.2f | %.2f | %.2f | %.2f |\n",
                  r.name.c_str(), r.paper_name.c_str(), paper, r.bflops, (long long)r.parameters,
                  double(r.planned_bytes) / (1 << 20), double(r.neck_bytes) / (1 << 20), r.inference_ms, 100 * r.map50,
                  100 * r.map);
    md << line;
  }
  md << "\n" << recipe << "\n";
  return md.str();
}

nlohmann::json to_json(const std::vector<AblationRow>& rows, const std::string& recipe) {
  nlohmann::json j;
  j["recipe"] = recipe;
  for (const AblationRow& r : rows)
    j["models"].push_back({{"name", r.name},
                           {"paper_name", r.paper_name},
                           {"paper_bflops_320", r.paper_bflops},
                           {"bflops", r.bflops},
                           {"parameters", r.parameters},
                           {"planned_bytes", r.planned_bytes},
                           {"neck_map_bytes", r.neck_bytes},
                           {"inference_ms", r.inference_ms},
                           {"map50", r.map50},
                           {"map", r.map},
                           {"train_seconds", r.train_seconds},
                           {"train_images_per_second", r.images_per_second}});
  return j;
}

class AblationVerb final : public DetectorVerb {
 public:
  void add_to(CLI::App& detector) override {
    command_ = detector.add_subcommand(
        "ablation", "the paper's EFM ablation (Table 2) on the Fashion-MNIST scenes: every neck, one recipe");
    command_->add_flag("--quick", quick_, "a few minutes in all (150 steps of 16 per model) instead of the full run");
    command_->add_option("--steps", steps_, "optimiser steps per model (default: 1500, --quick 150)")
        ->check(positive_number());
    command_->add_option("--batch", batch_, "images per step (default: 32, --quick 16)")->check(positive_number());
    command_->add_option("--data", data_, "detection data spec (default: the embedded scenes at 160 px)");
    command_->add_option("--only", only_, "only these models (zoo names), in this order");
    command_->add_option("--seed", seed_, "seed of every model's run");
    command_->add_option("--out", out_, "output folder: a run folder per model, ablation.md, ablation.json");
    command_->add_flag("--exist-ok", exist_ok_, "overwrite runs already in OUT");
  }
  bool selected() const override { return command_ && *command_; }

  int run() const override {
    const int64_t steps = steps_ ? steps_ : (quick_ ? 150 : 1500);
    const int batch = batch_ ? batch_ : (quick_ ? 16 : 32);
    std::vector<const DetectorModel*> models = ablation_models();
    if (!only_.empty()) {
      models.clear();
      for (const std::string& name : only_) models.push_back(&detector_model(name));
    }
    char recipe[256];
    std::snprintf(recipe, sizeof recipe,
                  "Recipe: %lld steps of batch %d, lr steps at 80%% and 90%%, seed %llu, data %s; mAP on its "
                  "validation split.",
                  (long long)steps, batch, (unsigned long long)seed_, data_.c_str());
    std::vector<AblationRow> rows;
    std::vector<TimedModel> trained;
    const auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < models.size(); ++i) {
      const DetectorModel& model = *models[i];
      std::printf("[%zu/%zu] %s: training %lld steps\n", i + 1, models.size(), model.name.c_str(), (long long)steps);
      std::fflush(stdout);
      auto [row, model_files] = run_one(model, steps, batch);
      rows.push_back(row);
      trained.push_back(model_files);
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("[%zu/%zu] %s: mAP@0.5 %.2f%%, AP %.2f%%; %.0f s elapsed, about %.0f s left\n", i + 1,
                  models.size(), model.name.c_str(), 100 * rows.back().map50, 100 * rows.back().map, elapsed,
                  elapsed / double(i + 1) * double(models.size() - i - 1));
      std::fflush(stdout);
    }
    std::printf("timing inference: 5 round-robin passes of 30 forwards per model\n");
    std::fflush(stdout);
    const std::vector<double> ms = round_robin_forward_ms(trained, 5, 30);
    for (size_t i = 0; i < rows.size(); ++i) rows[i].inference_ms = ms[i];
    const std::string md = markdown(rows, recipe);
    write_file_atomically(out_ + "/ablation.md", md);
    write_file_atomically(out_ + "/ablation.json", to_json(rows, recipe).dump(2) + "\n");
    std::printf("\n%s\nwrote %s/ablation.md and %s/ablation.json\n", md.c_str(), out_.c_str(), out_.c_str());
    return 0;
  }

 private:
  // The row (inference time still to measure) and the trained model.
  std::pair<AblationRow, TimedModel> run_one(const DetectorModel& model, int64_t steps, int batch) const {
    TrainOptions o;
    o.cfg = model.name;
    o.data = data_;
    o.out_dir = out_ + "/" + model.name;
    o.max_batches = steps;
    o.batch = batch;
    o.subdivisions = 1;
    o.seed = seed_;
    o.map = true;
    o.exist_ok = exist_ok_;
    o.log_every = kLogEveryAuto;
    o.net_overrides["policy"] = "steps";
    const int64_t first_drop = std::max<int64_t>(1, steps * 8 / 10);
    const int64_t second_drop = std::max(first_drop + 1, steps * 9 / 10);
    o.net_overrides["steps"] = std::to_string(first_drop) + "," + std::to_string(second_drop);
    o.net_overrides["burn_in"] = std::to_string(std::min<int64_t>(200, steps / 5));
    o.log_seconds = 30;  // plain progress lines while each model trains
    const TrainSummary s = train_detector(o, std::cout);

    AblationRow r;
    r.name = model.name;
    r.paper_name = model.paper_name;
    r.train_seconds = s.seconds;
    r.images_per_second = s.images_per_second;
    r.map50 = s.test_map50;
    r.map = s.test_map;
    const TimedModel files{o.out_dir + "/" + model.name + ".cfg", s.weights_path};
    Network net = Network::from_cfg_file(files.cfg);
    load_weights(net, s.weights_path);
    r.bflops = net.bflops();
    r.parameters = net.parameter_count();
    r.planned_bytes = plan_memory(net, ExecOptions{}).peak_bytes;
    r.neck_bytes = neck_map_bytes(model, net);
    // Table 2's figure for the full-size model of the same neck.
    std::string full = model.name;
    const std::string small = "-small";
    if (const auto at = full.find(small); at != std::string::npos) full.erase(at, small.size());
    if (is_detector_model(full) && detector_model(full).paper) r.paper_bflops = detector_model(full).paper->bflops;
    return {r, files};
  }

  CLI::App* command_ = nullptr;
  bool quick_ = false, exist_ok_ = false;
  int64_t steps_ = 0;
  int batch_ = 0;
  uint64_t seed_ = 1;
  std::string data_ = "fashion-mnist-scenes";
  std::string out_ = "out/ablation";
  std::vector<std::string> only_;
};

}  // namespace

std::unique_ptr<DetectorVerb> make_detector_ablation_verb() { return std::make_unique<AblationVerb>(); }

}  // namespace cspnet::cli
