#pragma once
// COCO JSON for evaluation: the results file ([{image_id, category_id, bbox,
// score}]) both ways, and a minimal ground-truth reader/writer (images,
// categories, annotations' bbox/area/iscrowd) for `detector score`.
#include <cstdint>
#include <string>
#include <vector>

#include "cspnet/detection_metrics.hpp"

namespace cspnet {

// A COCO ground truth in evaluation form: images carry truths (class index =
// position of the category id in ascending `category_ids`).
struct CocoGroundTruth {
  std::vector<CocoImage> images;
  std::vector<int64_t> category_ids;  // ascending, as pycocotools orders them
};

// category_ids[k] is the COCO category id of class k.
std::string coco_results_json(const std::vector<CocoImage>& images, const std::vector<int64_t>& category_ids);
std::string coco_ground_truth_json(const std::vector<CocoImage>& images, const std::vector<int64_t>& category_ids,
                                   const std::vector<std::array<int, 2>>& image_sizes);
void write_text_file(const std::string& path, const std::string& text);

// Errors name the file and the offending entry.
CocoGroundTruth read_coco_ground_truth(const std::string& path);
// Adds the detections of a results file to `gt`'s images; an image id not in
// the ground truth is an error (as in pycocotools' loadRes); a category id
// not in it is skipped like pycocotools does.
void read_coco_results(const std::string& path, CocoGroundTruth& gt);

// The 12 stats and per-class AP as JSON (category ids as keys).
std::string coco_eval_json(const CocoEval& eval, const std::vector<int64_t>& category_ids);

}  // namespace cspnet
