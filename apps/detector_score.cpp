// `cspnet detector score GT.json RESULTS.json [--json] [--plot PR.png]`: COCO bbox
// evaluation of a results file, a drop-in for pycocotools' COCOeval.
#include <iostream>

#include "cspnet/coco_json.hpp"
#include "cspnet/eval_report.hpp"
#include "detector_commands.hpp"

namespace cspnet::cli {
namespace {

class ScoreVerb : public DetectorVerb {
 public:
  void add_to(CLI::App& detector) override {
    command_ = detector.add_subcommand("score", "COCO AP of a results JSON against a COCO ground-truth JSON");
    command_->add_option("ground_truth", ground_truth_, "COCO ground truth (images, categories, annotations)")
        ->required();
    command_->add_option("results", results_, "COCO results: [{image_id, category_id, bbox, score}]")->required();
    command_->add_flag("--json", json_, "print the stats and per-class AP as JSON");
    command_->add_option("--plot", plot_, "write the overall precision-recall curves to this PNG");
  }
  bool selected() const override { return command_ && *command_; }
  int run() const override {
    CocoGroundTruth gt = read_coco_ground_truth(ground_truth_);
    read_coco_results(results_, gt);
    const CocoEval eval = coco_eval(gt.images, int(gt.category_ids.size()));
    if (!plot_.empty()) write_pr_curve_png(plot_, eval);
    std::cout << (json_ ? coco_eval_json(eval, gt.category_ids) + "\n" : coco_summary(eval));
    return 0;
  }

 private:
  CLI::App* command_ = nullptr;
  std::string ground_truth_, results_, plot_;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<DetectorVerb> make_score_verb() { return std::make_unique<ScoreVerb>(); }

}  // namespace cspnet::cli
