#include "training_flags.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>

#include "cli_parse.hpp"
#include "cspnet/error.hpp"
#include "cspnet/progress.hpp"

namespace cspnet::cli {

void TrainingFlags::add_to(CLI::App& command, TrainOptions& o) {
  command.add_option("--epochs", o.epochs, "train this many epochs (default: [net] max_batches steps)")
      ->check(positive_number());
  command.add_option("--max-batches", o.max_batches, "optimiser steps (overrides [net] max_batches)")
      ->check(positive_number());
  command.add_option("--batch", o.batch, "images per step (overrides [net] batch)")->check(positive_number());
  command.add_option("--subdivisions", o.subdivisions, "passes per step (overrides [net] subdivisions)")
      ->check(positive_number());
  command.add_option("--lr", lr_, "learning rate (overrides [net] learning_rate)")->check(positive_number());
  command.add_option("--policy", policy_, "learning-rate policy (overrides [net] policy)")
      ->check(CLI::IsMember({"constant", "step", "steps", "poly", "exp", "sigmoid", "sgdr", "cosine"}));
  command.add_option("--momentum", momentum_, "SGD momentum (overrides [net] momentum)")->check(number_in(0.0, 1.0));
  command.add_option("--decay", decay_, "weight decay (overrides [net] decay)")->check(non_negative_number());
  command.add_option("--optimizer", optimizer_, "sgd or adamw")->check(CLI::IsMember({"sgd", "adamw"}));
  command.add_option("--label-smoothing", label_smoothing_, "label_smooth_eps, in [0, 1)")->check(number_in(0.0, 0.999999));
  command.add_option("--set", set_, "a [net] training key, e.g. --set burn_in=100 --set translate=2")->take_all();
  command.add_option("--weights", o.weights, "initial darknet .weights (default: random from --seed)");
  command.add_option("--seed", o.seed, "seed of every random choice of the run");
  command.add_option("--out", o.out_dir, "output folder: checkpoint, final.weights, log.csv, curves.png");
  command.add_flag("--resume", o.resume, "continue from OUT/checkpoint.cspnet (same cfg, data and seed)");
  command.add_option_function<std::string>(
             "--on-nan", [&o](const std::string& v) { o.skip_non_finite = v == "skip"; },
             "a step with a NaN/Inf loss or gradient: stop (an error naming the layer) or skip it")
      ->check(CLI::IsMember({"stop", "skip"}));
  command.add_flag("--sync-bn", o.sync_batch_norm,
                   "under mpirun: batch norm statistics over all ranks' images (N ranks train as one process)");
  command.add_option("--allreduce-bucket-mb", o.allreduce_bucket_mb,
                     "under mpirun: overlap the gradient allreduce with backward in buckets of this many MB "
                     "(0: one allreduce after backward)")
      ->check(non_negative_number());
  command.add_flag("--exist-ok", o.exist_ok, "overwrite a training run already in OUT (default: refuse)");
  command.add_option("--save-every", o.save_every, "also write the checkpoint every N steps")
      ->check(non_negative_number());
  command.add_option("--log-every", log_every_,
                     "also a log.csv row every N steps (0: epoch rows only; auto: about 100 rows per run)")
      ->check(CLI::Validator(
          [](std::string& v) {
            if (v == "auto") return std::string();
            char* end = nullptr;
            const long long n = std::strtoll(v.c_str(), &end, 10);
            return end != v.c_str() && *end == '\0' && n >= 0 ? std::string()
                                                               : "expected auto or a step count >= 0, got '" + v + "'";
          },
          "auto|N"));
  command.add_option("--loader-threads", o.loader_threads, "data loading/augmentation threads")
      ->check(non_negative_number());
  command.add_option("--eval-batch", o.eval_batch, "batch of the per-epoch evaluation")->check(positive_number());
  command.add_option("--eval-limit", o.eval_limit, "evaluate on the first N held-out images only")
      ->check(non_negative_number());
  command.add_option("--progress", progress_, "auto (a redrawn line on a terminal), line, or plain")
      ->check(CLI::IsMember({"auto", "line", "plain"}));
  command.add_option("--log-seconds", o.log_seconds, "plain progress lines at most this often")
      ->check(positive_number());
}

void print_trained_line(const TrainSummary& s) {
  std::printf("trained %lld steps (%.2f epochs) in %.1f s: %.1f images/s, data wait %.1f s\n", (long long)s.steps,
              s.epochs, s.seconds, s.images_per_second, s.data_wait_seconds);
  if (s.ranks > 1 && s.steps > 0)
    std::printf("%d ranks: gradient allreduce of %.2f MB per step, %.2f ms per step on rank 0 after backward "
                "(waits included)\n",
                s.ranks, double(s.allreduce_bytes_per_step) / 1e6, 1e3 * s.allreduce_seconds / double(s.steps));
}

TrainOptions TrainingFlags::resolve(TrainOptions o) const {
  auto set = [&](const char* key, const auto& value) {
    if constexpr (std::is_same_v<std::decay_t<decltype(value)>, std::string>) {
      if (!value.empty()) o.net_overrides[key] = value;
    } else if (value) {
      char text[64];
      std::snprintf(text, sizeof text, "%.17g", *value);
      o.net_overrides[key] = text;
    }
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
  o.log_every = log_every_ == "auto" ? kLogEveryAuto : std::stoll(log_every_);
  return o;
}

}  // namespace cspnet::cli
