#include "train/net_training_keys.hpp"

#include <set>

namespace cspnet {
namespace {

// [net] keys darknet reads for training and augmentation (and our own
// `translate`, see augment.hpp): kept, not warned about.
const std::set<std::string> kNetTrainingKeys = {
    "learning_rate", "learning_rate_min", "batches_per_cycle", "batches_cycle_mult", "momentum", "decay",
    "time_steps", "track", "augment_speed", "init_sequential_subdivisions", "sequential_subdivisions",
    "try_fix_nan", "weights_reject_freq", "equidistant_point", "badlabels_rejection_percentage",
    "num_sigmas_reject_badlabels", "ema_alpha", "loss_scale", "dynamic_minibatch", "optimized_memory",
    "workspace_size_limit_MB", "adam", "B1", "B2", "eps", "inputs", "max_crop", "min_crop", "flip", "blur",
    "gaussian_noise", "mixup", "cutmix", "mosaic", "mosaic_bound", "contrastive", "contrastive_jit_flip",
    "contrastive_color", "unsupervised", "label_smooth_eps", "resize_step", "attention", "adversarial_lr",
    "max_chart_loss", "angle", "aspect", "saturation", "exposure", "hue", "power", "policy", "burn_in",
    "step", "scale", "steps", "scales", "seq_scales", "gamma", "max_batches", "letter_box", "center",
    "nesterov", "cosine", "sgdr_cycle", "sgdr_mult", "optimizer", "translate"};

CfgSection with_overrides(const CfgSection& section, const std::vector<CfgEntry>& overrides) {
  CfgSection merged = section;
  merged.entries.insert(merged.entries.begin(), overrides.begin(), overrides.end());
  return merged;
}

}  // namespace

bool is_net_training_key(const std::string& key) { return kNetTrainingKeys.count(key) != 0; }

std::vector<CfgEntry> override_entries(const std::map<std::string, std::string>& overrides,
                                       const std::string& origin) {
  std::vector<CfgEntry> entries;
  for (const auto& [key, value] : overrides) entries.push_back(CfgEntry{key, value, 0, origin});
  return entries;
}

NetTrainingKeys::NetTrainingKeys(const NetConfig& config, const std::vector<CfgEntry>& overrides)
    : section_(with_overrides(config.section, overrides)), options_(section_, config.path) {}

}  // namespace cspnet
