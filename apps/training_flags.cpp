#include "training_flags.hpp"

#include "cspnet/error.hpp"
#include "cspnet/progress.hpp"

namespace cspnet::cli {

void TrainingFlags::add_to(CLI::App& command, TrainOptions& o) {
  command.add_option("--epochs", o.epochs, "train this many epochs (default: [net] max_batches steps)")
      ->check(CLI::PositiveNumber);
  command.add_option("--max-batches", o.max_batches, "optimiser steps (overrides [net] max_batches)")
      ->check(CLI::PositiveNumber);
  command.add_option("--batch", o.batch, "images per step (overrides [net] batch)")->check(CLI::PositiveNumber);
  command.add_option("--subdivisions", o.subdivisions, "passes per step (overrides [net] subdivisions)")
      ->check(CLI::PositiveNumber);
  command.add_option("--lr", lr_, "learning rate (overrides [net] learning_rate)");
  command.add_option("--policy", policy_, "constant|step|steps|poly|exp|sigmoid|sgdr|cosine");
  command.add_option("--momentum", momentum_, "SGD momentum (overrides [net] momentum)");
  command.add_option("--decay", decay_, "weight decay (overrides [net] decay)");
  command.add_option("--optimizer", optimizer_, "sgd or adamw")->check(CLI::IsMember({"sgd", "adamw"}));
  command.add_option("--label-smoothing", label_smoothing_, "label_smooth_eps");
  command.add_option("--set", set_, "a [net] training key, e.g. --set burn_in=100 --set translate=2")->take_all();
  command.add_option("--weights", o.weights, "initial darknet .weights (default: random from --seed)");
  command.add_option("--seed", o.seed, "seed of every random choice of the run");
  command.add_option("--out", o.out_dir, "output folder: checkpoint, final.weights, log.csv, curves.png");
  command.add_flag("--resume", o.resume, "continue from OUT/checkpoint.cspnet (same cfg, data and seed)");
  command.add_flag("--exist-ok", o.exist_ok, "overwrite a training run already in OUT (default: refuse)");
  command.add_option("--save-every", o.save_every, "also write the checkpoint every N steps")
      ->check(CLI::NonNegativeNumber);
  command.add_option("--loader-threads", o.loader_threads, "data loading/augmentation threads")
      ->check(CLI::NonNegativeNumber);
  command.add_option("--eval-batch", o.eval_batch, "batch of the per-epoch evaluation")->check(CLI::PositiveNumber);
  command.add_option("--eval-limit", o.eval_limit, "evaluate on the first N held-out images only")
      ->check(CLI::NonNegativeNumber);
  command.add_option("--progress", progress_, "auto (a redrawn line on a terminal), line, or plain")
      ->check(CLI::IsMember({"auto", "line", "plain"}));
  command.add_option("--log-seconds", o.log_seconds, "plain progress lines at most this often")
      ->check(CLI::PositiveNumber);
}

TrainOptions TrainingFlags::resolve(TrainOptions o) const {
  auto set = [&](const char* key, const std::string& value) {
    if (!value.empty()) o.net_overrides[key] = value;
  };
  for (const std::string& entry : set_) {
    auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) throw Error("--set: expected key=value, got '" + entry + "'");
    o.net_overrides[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  set("learning_rate", lr_);
  set("policy", policy_);
  set("momentum", momentum_);
  set("decay", decay_);
  set("optimizer", optimizer_);
  set("label_smooth_eps", label_smoothing_);
  o.progress_line = progress_ == "line" || (progress_ == "auto" && stderr_is_terminal());
  return o;
}

}  // namespace cspnet::cli
