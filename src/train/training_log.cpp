#include "cspnet/training_log.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cspnet/error.hpp"
#include "cspnet/file_input.hpp"
#include "io/file_output.hpp"
#include "plot/chart.hpp"

namespace cspnet {

// ---- CSV --------------------------------------------------------------------

void TrainingLog::FileCloser::operator()(std::FILE* f) const { std::fclose(f); }

TrainingLog::TrainingLog(const std::string& path, bool append) : path_(path) {
  bool write_header = true;
  if (append) {
    std::ifstream existing(path);
    std::string first;
    if (existing && std::getline(existing, first)) {
      if (first != kTrainingLogHeader)
        throw Error(path + ":1: not a training log: expected the header '" + std::string(kTrainingLogHeader) +
                    "'");
      write_header = false;
    }
  }
  file_.reset(std::fopen(path.c_str(), append ? "ab" : "wb"));
  if (!file_) throw Error(path + ": cannot open the training log: " + std::strerror(errno));
  if (write_header && (std::fprintf(file_.get(), "%s\n", kTrainingLogHeader) < 0 || std::fflush(file_.get()) != 0))
    throw Error(path + ": cannot write the training log: " + std::strerror(errno));
}

TrainingLog::~TrainingLog() = default;
TrainingLog::TrainingLog(TrainingLog&&) noexcept = default;
TrainingLog& TrainingLog::operator=(TrainingLog&&) noexcept = default;

namespace {

std::string format_number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

std::string format_optional(const std::optional<double>& v) { return v ? format_number(*v) : std::string(); }

}  // namespace

std::string format_training_log_row(const TrainingLogRow& row) {
  std::string line = format_number(row.epoch);
  line += ',' + std::to_string(row.step);
  line += ',' + std::to_string(row.images);
  line += ',' + format_number(row.lr);
  line += ',' + format_optional(row.train_loss);
  line += ',' + format_optional(row.train_accuracy);
  line += ',' + format_optional(row.test_loss);
  line += ',' + format_optional(row.test_accuracy);
  line += ',' + format_optional(row.images_per_second);
  line += ',' + format_number(row.seconds);
  line += ',' + format_optional(row.test_map50);
  line += ',' + format_optional(row.test_map);
  return line;
}

void TrainingLog::write(const TrainingLogRow& row) {
  if (!file_) throw Error(path_ + ": the training log is closed");
  std::string line = format_training_log_row(row) + '\n';
  if (std::fwrite(line.data(), 1, line.size(), file_.get()) != line.size() || std::fflush(file_.get()) != 0)
    throw Error(path_ + ": cannot write the training log: " + std::strerror(errno));
}

namespace {

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  for (char ch : line) {
    if (ch == ',')
      fields.emplace_back();
    else
      fields.back() += ch;
  }
  return fields;
}

double parse_number(const std::string& text, const std::string& where, const char* column) {
  if (text.empty()) throw Error(where + ": column '" + column + "' is blank, expected a number");
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size()) throw Error(where + ": column '" + column + "': expected a number, got '" + text + "'");
  return v;
}

int64_t parse_integer(const std::string& text, const std::string& where, const char* column) {
  double v = parse_number(text, where, column);
  if (v != std::floor(v) || std::fabs(v) > 9e15)
    throw Error(where + ": column '" + column + "': expected an integer, got '" + text + "'");
  // Steps and image counts only grow from 0; a negative one is a damaged row.
  if (v < 0) throw Error(where + ": column '" + column + "': expected an integer >= 0, got '" + text + "'");
  return int64_t(v);
}

// epoch, lr and seconds are always written, finite and >= 0 (stod would
// take "nan", "inf" and "-1"); losses and accuracies may be nan (a diverged
// run) and stay optional.
double parse_required(const std::string& text, const std::string& where, const char* column) {
  const double v = parse_number(text, where, column);
  if (!std::isfinite(v) || v < 0)
    throw Error(where + ": column '" + column + "': expected a finite number >= 0, got '" + text + "'");
  return v;
}

std::optional<double> parse_optional(const std::string& text, const std::string& where, const char* column) {
  if (text.empty()) return std::nullopt;
  return parse_number(text, where, column);
}

}  // namespace

std::vector<TrainingLogRow> read_training_log(const std::string& path) {
  std::string text = read_text_file(path, "training log");
  // Every row is written with its newline: an unterminated last line is a row
  // torn by a kill mid-write (the checkpoint it belongs to never landed), not
  // a malformed log that should block --resume.
  if (const auto end = text.rfind('\n'); end != std::string::npos) text.resize(end + 1);
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || (line != kTrainingLogHeader && line != kTrainingLogHeaderV1))
    throw Error(path + ":1: expected the header '" + std::string(kTrainingLogHeader) + "'");
  const size_t fields = line == kTrainingLogHeader ? 12 : 10;
  std::vector<TrainingLogRow> rows;
  for (int number = 2; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    std::string where = path + ":" + std::to_string(number);
    auto f = split_fields(line);
    if (f.size() != fields)
      throw Error(where + ": " + std::to_string(f.size()) + " fields, expected " + std::to_string(fields));
    TrainingLogRow row;
    row.epoch = parse_required(f[0], where, "epoch");
    row.step = parse_integer(f[1], where, "step");
    row.images = parse_integer(f[2], where, "images");
    row.lr = parse_required(f[3], where, "lr");
    row.train_loss = parse_optional(f[4], where, "train_loss");
    row.train_accuracy = parse_optional(f[5], where, "train_accuracy");
    row.test_loss = parse_optional(f[6], where, "test_loss");
    row.test_accuracy = parse_optional(f[7], where, "test_accuracy");
    row.images_per_second = parse_optional(f[8], where, "images_per_second");
    row.seconds = parse_required(f[9], where, "seconds");
    if (fields == 12) {
      row.test_map50 = parse_optional(f[10], where, "test_map50");
      row.test_map = parse_optional(f[11], where, "test_map");
    }
    rows.push_back(row);
  }
  return rows;
}

// ---- Plot --------------------------------------------------------------------

using namespace plot;

void write_curves(const std::string& path, std::span<const TrainingLogRow> rows, const std::string& title,
                  int width, int height) {
  if (width < 600 || height < 200 || width > 8192 || height > 8192)
    throw Error(path + ": curve plot size " + std::to_string(width) + "x" + std::to_string(height) +
                " outside 600x200..8192x8192");
  // x: fractional epochs, unless they do not move (a log of steps within one epoch).
  const bool by_epoch = std::any_of(rows.begin(), rows.end(), [&](const TrainingLogRow& r) {
    return r.epoch != rows.front().epoch;
  });
  auto x_of = [&](const TrainingLogRow& r) { return by_epoch ? r.epoch : double(r.step); };
  auto add = [&](Series& s, std::optional<double> v, const TrainingLogRow& r) {
    const double x = x_of(r);
    if (v && std::isfinite(*v) && std::isfinite(x)) s.points.emplace_back(x, *v);
  };
  auto collect = [&](std::optional<double> TrainingLogRow::*field, const char* name, Rgb colour) {
    Series s{name, colour, {}};
    for (const TrainingLogRow& r : rows) add(s, r.*field, r);
    return s;
  };
  const std::string x_label = by_epoch ? "epoch" : "step";
  Panel loss{"loss", x_label, !by_epoch, 1.0, {}, {}, {}};
  loss.series = {collect(&TrainingLogRow::train_loss, "train", kTrainColour),
                 collect(&TrainingLogRow::test_loss, "test", kTestColour)};
  // A detector's log has mAP instead of accuracy (darknet's chart.png idea).
  const bool detection =
      std::any_of(rows.begin(), rows.end(), [](const TrainingLogRow& r) { return r.test_map50.has_value(); });
  Panel accuracy{detection ? "mAP %" : "accuracy %", x_label, !by_epoch, 100.0, {}, {}, {}};
  if (detection)
    accuracy.series = {collect(&TrainingLogRow::test_map50, "mAP@0.5", kTrainColour),
                       collect(&TrainingLogRow::test_map, "AP@[.5:.95]", kTestColour)};
  else
    accuracy.series = {collect(&TrainingLogRow::train_accuracy, "train", kTrainColour),
                       collect(&TrainingLogRow::test_accuracy, "test", kTestColour)};
  Panel lr{"learning rate", x_label, !by_epoch, 1.0, {}, {}, {Series{"lr", kThirdColour, {}}}};
  for (const TrainingLogRow& r : rows) add(lr.series[0], r.lr, r);

  Chart chart{title, width, height, {std::move(loss), std::move(accuracy), std::move(lr)}};
  std::vector<double> xs;
  for (const Panel& p : chart.panels)
    for (const Series& s : p.series)
      for (auto [x, y] : s.points) xs.push_back(x);
  // x spans the data exactly (a unit range around a single value).
  Range x_range{0, 1};
  if (!xs.empty()) {
    auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
    x_range = {*lo, *hi};
    if (x_range.hi - x_range.lo < 1e-12 * std::max(1.0, std::fabs(x_range.hi))) x_range = {*lo - 0.5, *hi + 0.5};
  }
  for (Panel& p : chart.panels) {
    std::vector<double> ys;
    for (const Series& s : p.series)
      for (auto [x, y] : s.points) ys.push_back(y);
    p.x_range = x_range;
    p.y_range = padded_range(ys, {0, 1});
  }
  Range& percent = chart.panels[1].y_range;
  percent.lo = std::max(percent.lo, 0.0);
  percent.hi = std::min(percent.hi, 1.0);
  if (percent.hi <= percent.lo) percent = {0, 1};
  chart.panels[2].y_range.lo = std::max(chart.panels[2].y_range.lo, 0.0);  // a learning rate is never negative
  write_chart(path, chart);
}

}  // namespace cspnet
