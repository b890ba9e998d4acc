#pragma once
// `cspnet predict CFG INPUT...`: a classifier's top-k or a detector's boxes
// for one image, several, a folder or an @list file; a table per image
// (pixel xyxy boxes for a detector) with per-stage times, or --json; for a
// detector, annotated PNGs (--save-image for one image, --out for several).
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "cspnet/network.hpp"

namespace cspnet::cli {

struct PredictOptions {
  std::vector<std::string> inputs;  // images, folders, @list files
  std::string weights;              // empty: random parameters from `seed`
  std::string names;                // empty: names.txt beside the weights, if any
  std::string dump;                 // the raw first output of the one image as .npy
  std::string save_image;           // annotated PNG of the one image
  std::string out_dir;              // annotated PNG per image, named after it
  int top = 5;                      // classifier: classes per image
  double threshold = 0.25;          // detector: score threshold (double: JSON prints 0.45, not 0.4499999)
  double iou = 0.45;                // detector: NMS IoU
  int max_det = 300;                // detector: boxes kept per image after NMS, best first
  bool json = false;
  uint64_t seed = 1;
};

// The predict-specific options on an existing `predict` subcommand (the
// model options --size and --strict are the caller's).
void add_predict_options(CLI::App& predict, PredictOptions& options);

// Runs predict on `net` (parsed at batch 1); returns the exit code.
int run_predict(Network& net, const PredictOptions& options);

}  // namespace cspnet::cli
