#pragma once
// Training curves: a CSV log with one row per report, and a plot (PNG or
// SVG) of the loss, accuracy or mAP, and learning-rate curves from those rows.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace cspnet {

// One report. Values that were not measured for this row are empty and
// written as blank CSV fields.
struct TrainingLogRow {
  double epoch = 0;  // epochs completed, fractional (images seen / training-set size)
  int64_t step = 0;  // optimiser steps completed
  int64_t images = 0;
  double lr = 0;
  std::optional<double> train_loss;
  std::optional<double> train_accuracy;  // fraction of top-1 hits, 0..1
  std::optional<double> test_loss;
  std::optional<double> test_accuracy;  // 0..1
  std::optional<double> images_per_second;
  double seconds = 0;  // wall time since training started
  // Detection: mAP@0.5 (darknet's, all points) and COCO AP@[.5:.95] on the
  // validation split, 0..1.
  std::optional<double> test_map50;
  std::optional<double> test_map;
};

// The CSV header, without the line break. Logs written before the mAP
// columns (kTrainingLogHeaderV1) are read and appended to as well.
inline constexpr const char* kTrainingLogHeader =
    "epoch,step,images,lr,train_loss,train_accuracy,test_loss,test_accuracy,images_per_second,seconds,test_map50,"
    "test_map";
inline constexpr const char* kTrainingLogHeaderV1 =
    "epoch,step,images,lr,train_loss,train_accuracy,test_loss,test_accuracy,images_per_second,seconds";

// Appends rows to a CSV file and flushes after each one, so that the file
// is complete up to the last report if training is killed.
class TrainingLog {
 public:
  // `append` = false: creates or truncates `path` and writes the header.
  // `append` = true (resume): keeps the rows already there; the file must be
  // absent, empty or start with kTrainingLogHeader. Throws cspnet::Error
  // naming the path.
  explicit TrainingLog(const std::string& path, bool append = false);
  ~TrainingLog();
  TrainingLog(TrainingLog&&) noexcept;
  TrainingLog& operator=(TrainingLog&&) noexcept;

  void write(const TrainingLogRow& row);
  const std::string& path() const { return path_; }

 private:
  struct FileCloser {
    void operator()(std::FILE* f) const;
  };
  std::string path_;
  std::unique_ptr<std::FILE, FileCloser> file_;
};

// One CSV line (no line break) for `row`: numbers as %.10g, empty values
// as blank fields.
std::string format_training_log_row(const TrainingLogRow& row);

// Reads a CSV log written by TrainingLog (for plotting or resuming). Throws
// cspnet::Error with file:line on a malformed header or row.
std::vector<TrainingLogRow> read_training_log(const std::string& path);

// Draws the curves with three panels: loss (train, test), accuracy in %
// (train, test) — or, for a detector, its mAP@0.5 and AP@[.5:.95] in % —
// and the learning rate, against epochs (or steps when every row has the
// same epoch), under `title` (the run's name; empty: none). SVG when `path`
// ends in .svg, PNG otherwise (cairo: anti-aliased, real fonts). Rows with no
// value for a series leave it out; non-finite values are skipped. Written
// atomically: on failure throws cspnet::Error naming `path` and leaves no
// partial file.
void write_curves(const std::string& path, std::span<const TrainingLogRow> rows, const std::string& title = "",
                  int width = 1500, int height = 450);

}  // namespace cspnet
