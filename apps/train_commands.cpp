#include "train_commands.hpp"

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_parse.hpp"
#include "cspnet/data_source.hpp"
#include "cspnet/distributed.hpp"
#include "cspnet/executor.hpp"
#include "cspnet/error.hpp"
#include "cspnet/network.hpp"
#include "cspnet/weights.hpp"

namespace cspnet::cli {

void TrainCommands::add_to(CLI::App& app) {
  TrainOptions& o = train_options_;
  train_ = app.add_subcommand("train", "train a classifier (default data: Fashion-MNIST from Debian)");
  train_->add_option("cfg", o.cfg, "darknet .cfg file, or a zoo model name (its cfg is written into --out)")->required();
  train_->add_option("--data", o.data,
                     "fashion-mnist | fashion-mnist:DIR | image folder DIR | list:TRAIN,LABELS | list:TRAIN,TEST,LABELS");
  flags_.add_to(*train_, o);

  eval_ = app.add_subcommand("eval", "top-1/top-5, per-class accuracy and confusion matrix of a classifier");
  eval_->add_option("cfg", eval_cfg_, "darknet .cfg file or a zoo model name")->required();
  eval_->add_option("--weights", eval_weights_, "darknet .weights")->required();
  eval_->add_option("--data", eval_data_, "as for train");
  eval_->add_option("--split", eval_split_, "test or train")->check(CLI::IsMember({"test", "train"}));
  eval_->add_option("--batch", eval_batch_, "images per forward pass")->check(positive_number());
  eval_->add_option("--limit", eval_limit_, "evaluate the first N images only")->check(non_negative_number());
  eval_->add_flag("--json", eval_json_, "machine-readable output");
  eval_->add_option("--precision", eval_precision_, kPrecisionHelp)->check(CLI::IsMember(kPrecisions));
  eval_->add_option("--quantization", eval_quantization_, kQuantizationHelp);
}

bool TrainCommands::selected() const { return *train_ || *eval_; }

int TrainCommands::run() { return *train_ ? run_train() : run_eval(); }

int TrainCommands::run_train() {
  const TrainOptions o = flags_.resolve(train_options_);
  TrainSummary s = train(o, std::cout);
  if (s.interrupted || world_rank() != 0) return 0;  // under MPI, rank 0 reports
  print_trained_line(s);
  std::printf("test accuracy %.2f%% (loss %.4f)\n", 100 * s.test_top1, s.test_loss);
  std::printf("wrote %s, %s, %s, %s\n", s.weights_path.c_str(), s.checkpoint_path.c_str(), s.log_path.c_str(),
              s.plot_path.c_str());
  return 0;
}

int TrainCommands::run_eval() const {
  Network net = load_cfg_or_zoo(eval_cfg_);
  load_weights(net, eval_weights_);
  const NetConfig& c = net.config();
  auto source = make_data_source(eval_data_, eval_split_ == "train", c.channels, c.height, c.width);
  ExecOptions exec;
  set_precision(exec, eval_precision_, eval_quantization_);
  EvalReport r = evaluate(net, *source, eval_batch_, eval_limit_, exec);
  const std::vector<double> per_class = r.class_accuracy();
  // bf16 or int8 against fp32 on the same images: how often the top-1 class agrees.
  double agreement = -1, fp32_top1 = 0;
  if (exec.precision != Precision::fp32) {
    EvalReport fp32 = evaluate(net, *source, eval_batch_, eval_limit_);
    int64_t same = 0;
    for (size_t i = 0; i < r.predictions.size(); ++i) same += r.predictions[i] == fp32.predictions[i];
    agreement = double(same) / double(r.predictions.size());
    fp32_top1 = fp32.top1;
  }
  if (eval_json_) {
    nlohmann::json j = {{"images", r.images}, {"loss", r.loss}, {"top1", r.top1}, {"top5", r.top5},
                        {"classes", r.class_names}, {"class_accuracy", per_class}, {"confusion", r.confusion},
                        {"precision", eval_precision_}};
    if (agreement >= 0) j["top1_agreement_with_fp32"] = agreement;
    std::cout << j.dump(2) << '\n';
    return 0;
  }
  std::printf("%s: %lld images of %s\n", eval_cfg_.c_str(), (long long)r.images, source->describe().c_str());
  std::printf("top-1 %.2f%%  top-5 %.2f%%  loss %.4f (%s)\n", 100 * r.top1, 100 * r.top5, r.loss,
              eval_precision_.c_str());
  if (agreement >= 0)
    std::printf("%s against fp32: top-1 agreement %.2f%% of %zu images (fp32 top-1 %.2f%%)\n",
                eval_precision_.c_str(), 100 * agreement, r.predictions.size(), 100 * fp32_top1);
  std::printf("\n");
  std::printf("%-16s %8s\n", "class", "accuracy");
  for (size_t i = 0; i < per_class.size(); ++i)
    std::printf("%-16s %7.2f%%\n", r.class_names[i].c_str(), 100 * per_class[i]);
  std::printf("\nconfusion matrix (rows: true class, columns: predicted)\n%-16s", "");
  for (size_t j = 0; j < r.confusion.size(); ++j) std::printf(" %6zu", j);
  std::printf("\n");
  for (size_t i = 0; i < r.confusion.size(); ++i) {
    std::printf("%2zu %-13.13s", i, r.class_names[i].c_str());
    for (int64_t v : r.confusion[i]) std::printf(" %6lld", (long long)v);
    std::printf("\n");
  }
  return 0;
}

}  // namespace cspnet::cli
