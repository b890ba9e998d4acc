#pragma once
// The [net] keys darknet reads for training and augmentation (and ours), and
// the Options the training code reads them through, so that every error
// names the cfg's file:line or the override's origin (--set).
#include <map>
#include <string>
#include <vector>

#include "cspnet/cfg.hpp"
#include "cspnet/network.hpp"

namespace cspnet {

// Whether `key` is a [net] training/augmentation key: the network parser
// keeps these without warning, and an override must be one of them.
bool is_net_training_key(const std::string& key);

// `key=value` overrides (TrainOptions::net_overrides) as entries whose
// messages name `origin` instead of a cfg line.
std::vector<CfgEntry> override_entries(const std::map<std::string, std::string>& overrides,
                                       const std::string& origin);

// A network's [net] section with `overrides` in front of its own entries
// (Options takes the first occurrence of a key, so an override wins).
class NetTrainingKeys {
 public:
  NetTrainingKeys(const NetConfig& config, const std::vector<CfgEntry>& overrides);
  // options_ refers to section_: no copies.
  NetTrainingKeys(const NetTrainingKeys&) = delete;
  NetTrainingKeys& operator=(const NetTrainingKeys&) = delete;

  Options& options() { return options_; }

 private:
  CfgSection section_;
  Options options_;
};

}  // namespace cspnet
