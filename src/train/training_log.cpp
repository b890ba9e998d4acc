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
  return int64_t(v);
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
    row.epoch = parse_number(f[0], where, "epoch");
    row.step = parse_integer(f[1], where, "step");
    row.images = parse_integer(f[2], where, "images");
    row.lr = parse_number(f[3], where, "lr");
    row.train_loss = parse_optional(f[4], where, "train_loss");
    row.train_accuracy = parse_optional(f[5], where, "train_accuracy");
    row.test_loss = parse_optional(f[6], where, "test_loss");
    row.test_accuracy = parse_optional(f[7], where, "test_accuracy");
    row.images_per_second = parse_optional(f[8], where, "images_per_second");
    row.seconds = parse_number(f[9], where, "seconds");
    if (fields == 12) {
      row.test_map50 = parse_optional(f[10], where, "test_map50");
      row.test_map = parse_optional(f[11], where, "test_map");
    }
    rows.push_back(row);
  }
  return rows;
}

// ---- PNG --------------------------------------------------------------------

namespace {

struct Rgb {
  uint8_t r, g, b;
};

constexpr Rgb kBackground{255, 255, 255};
constexpr Rgb kInk{0, 0, 0};
constexpr Rgb kGrid{225, 225, 225};
constexpr Rgb kTrainColour{31, 119, 180};  // blue
constexpr Rgb kTestColour{230, 85, 13};    // orange

// A 5x7 bitmap font: 7 rows of 5 bits (bit 4 = leftmost column). Only the
// characters the plot writes: digits, number punctuation and the letters of
// its titles and legends.
struct Glyph {
  char ch;
  std::array<uint8_t, 7> rows;
};

constexpr Glyph kFont[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}}, {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}}, {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}}, {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}}, {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}}, {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}}, {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}}, {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}},
    {' ', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}}, {'A', {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}}, {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}},
    {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}}, {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}}, {'N', {0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}}, {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}}, {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}},
    {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}}, {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'Y', {0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04}},
};
// Drawn for a character the font lacks, so a missing glyph is visible.
constexpr std::array<uint8_t, 7> kMissingGlyph{0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F};

const std::array<uint8_t, 7>& glyph_rows(char ch) {
  if (ch >= 'a' && ch <= 'z') ch = char(ch - 'a' + 'A');
  for (const Glyph& g : kFont)
    if (g.ch == ch) return g.rows;
  return kMissingGlyph;
}

class Canvas {
 public:
  Canvas(int width, int height) : width_(width), height_(height), pixels_(size_t(width) * height * 3) {
    fill_rect(0, 0, width, height, kBackground);
  }
  int width() const { return width_; }
  int height() const { return height_; }
  const std::vector<uint8_t>& pixels() const { return pixels_; }

  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
    uint8_t* p = &pixels_[(size_t(y) * width_ + x) * 3];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }
  void fill_rect(int x, int y, int w, int h, Rgb c) {
    for (int j = y; j < y + h; ++j)
      for (int i = x; i < x + w; ++i) set(i, j, c);
  }
  // A line `thickness` pixels wide (Bresenham, a square brush).
  void line(int x0, int y0, int x1, int y1, Rgb c, int thickness = 1) {
    int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    int lo = -(thickness - 1) / 2;
    for (;;) {
      fill_rect(x0 + lo, y0 + lo, thickness, thickness, c);
      if (x0 == x1 && y0 == y1) break;
      int e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }
  static int text_width(const std::string& text, int scale) {
    return text.empty() ? 0 : (int(text.size()) * 6 - 1) * scale;
  }
  static int text_height(int scale) { return 7 * scale; }
  // Top-left corner at (x, y).
  void text(int x, int y, const std::string& text, int scale, Rgb c) {
    for (char ch : text) {
      const auto& rows = glyph_rows(ch);
      for (int r = 0; r < 7; ++r)
        for (int col = 0; col < 5; ++col)
          if (rows[size_t(r)] & (0x10 >> col)) fill_rect(x + col * scale, y + r * scale, scale, scale, c);
      x += 6 * scale;
    }
  }

 private:
  int width_, height_;
  std::vector<uint8_t> pixels_;
};

struct Range {
  double lo = 0, hi = 1;
};

// Ticks at multiples of 1, 2 or 5 x 10^k covering [lo, hi], at most `max_count`.
struct Ticks {
  double first = 0, step = 1;
  int count = 0;
  int decimals = 0;
};

// `integer`: no step below 1 (an axis of steps).
Ticks nice_ticks(Range r, int max_count, bool integer = false) {
  max_count = std::max(max_count, 2);
  double span = r.hi - r.lo;
  double raw = span / (max_count - 1);
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  Ticks t;
  for (double m : {1.0, 2.0, 5.0, 10.0, 20.0}) {
    t.step = integer ? std::max(1.0, m * magnitude) : m * magnitude;
    t.first = std::ceil(r.lo / t.step - 1e-9) * t.step;
    t.count = int(std::floor((r.hi - t.first) / t.step + 1e-9)) + 1;
    if (t.count <= max_count) break;
  }
  t.decimals = std::max(0, -int(std::floor(std::log10(t.step) + 1e-9)));
  return t;
}

std::string tick_label(double v, int decimals, double scale = 1.0) {
  v *= scale;
  if (std::fabs(v) < 1e-12) v = 0;  // no "-0"
  char buf[48];
  if (std::fabs(v) >= 1e7)
    std::snprintf(buf, sizeof buf, "%.2e", v);
  else
    std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 8), v);
  return buf;
}

struct Series {
  std::string name;
  Rgb colour;
  std::vector<std::pair<double, double>> points;  // finite (x, y)
};

// Data range padded by 5%, or a unit range around a single value.
Range padded_range(const std::vector<double>& values, Range fallback) {
  if (values.empty()) return fallback;
  auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  Range r{*lo, *hi};
  if (r.hi - r.lo < 1e-12 * std::max(1.0, std::fabs(r.hi))) {
    double half = std::max(0.5, std::fabs(r.hi) * 0.05);
    return {r.lo - half, r.hi + half};
  }
  double pad = 0.05 * (r.hi - r.lo);
  return {r.lo - pad, r.hi + pad};
}

struct Panel {
  int x, y, w, h;  // the whole panel
  std::string title;
  std::string x_label;
  bool integer_x;  // steps
  double y_label_scale;  // 100 for percentages
  Range x_range, y_range;
  std::vector<Series> series;
};

void draw_panel(Canvas& canvas, const Panel& p) {
  const int scale = 2;
  const int char_h = Canvas::text_height(scale);
  const int left = p.x + 100, right = p.x + p.w - 32;
  const int top = p.y + 20 + char_h + 16, bottom = p.y + p.h - (2 * char_h + 34);
  const int plot_w = right - left, plot_h = bottom - top;

  canvas.text(left, p.y + 16, p.title, scale, kInk);

  auto to_x = [&](double v) {
    return left + int(std::lround((v - p.x_range.lo) / (p.x_range.hi - p.x_range.lo) * plot_w));
  };
  auto to_y = [&](double v) {
    return bottom - int(std::lround((v - p.y_range.lo) / (p.y_range.hi - p.y_range.lo) * plot_h));
  };

  // y ticks, grid lines and labels.
  Ticks yt = nice_ticks(p.y_range, std::max(2, plot_h / (char_h * 4)));
  int y_decimals = std::max(0, yt.decimals - (p.y_label_scale >= 100 ? 2 : 0));
  for (int i = 0; i < yt.count; ++i) {
    double v = yt.first + i * yt.step;
    int py = to_y(v);
    if (py < top || py > bottom) continue;
    canvas.line(left + 1, py, right, py, kGrid);
    canvas.line(left - 6, py, left, py, kInk);
    std::string label = tick_label(v, y_decimals, p.y_label_scale);
    canvas.text(left - 10 - Canvas::text_width(label, scale), py - char_h / 2, label, scale, kInk);
  }
  // x ticks: as many as their widest label allows.
  Ticks xt = nice_ticks(p.x_range, 8, p.integer_x);
  for (int attempt = 0; attempt < 8; ++attempt) {
    int widest = 0;
    for (int i = 0; i < xt.count; ++i)
      widest = std::max(widest, Canvas::text_width(tick_label(xt.first + i * xt.step, xt.decimals), scale));
    if (xt.count <= 2 || xt.count * (widest + 20) <= plot_w) break;
    xt = nice_ticks(p.x_range, xt.count - 1, p.integer_x);
  }
  for (int i = 0; i < xt.count; ++i) {
    double v = xt.first + i * xt.step;
    int px = to_x(v);
    if (px < left || px > right) continue;
    canvas.line(px, top, px, bottom - 1, kGrid);
    canvas.line(px, bottom, px, bottom + 6, kInk);
    std::string label = tick_label(v, xt.decimals);
    canvas.text(px - Canvas::text_width(label, scale) / 2, bottom + 12, label, scale, kInk);
  }
  canvas.text(left + (plot_w - Canvas::text_width(p.x_label, scale)) / 2, bottom + 12 + char_h + 12, p.x_label,
              scale, kInk);

  // Axes over the grid.
  canvas.line(left, top, left, bottom, kInk, 2);
  canvas.line(left, bottom, right, bottom, kInk, 2);

  for (const Series& s : p.series) {
    for (size_t i = 0; i < s.points.size(); ++i) {
      int px = to_x(s.points[i].first), py = to_y(s.points[i].second);
      if (i > 0) canvas.line(to_x(s.points[i - 1].first), to_y(s.points[i - 1].second), px, py, s.colour, 2);
      // Sparse series (per-epoch test results, a single point) get markers.
      if (s.points.size() <= 60) canvas.fill_rect(px - 3, py - 3, 7, 7, s.colour);
    }
  }

  // Legend in the title row, right-aligned over the plot: a swatch and a
  // name per series.
  int lx = right;
  for (auto it = p.series.rbegin(); it != p.series.rend(); ++it) {
    lx -= Canvas::text_width(it->name, scale);
    canvas.text(lx, p.y + 16, it->name, scale, kInk);
    lx -= 32;
    canvas.fill_rect(lx, p.y + 16 + char_h / 2 - 2, 24, 4, it->colour);
    lx -= 24;
  }
}

}  // namespace

void write_curves_png(const std::string& path, std::span<const TrainingLogRow> rows, int width, int height) {
  if (width < 400 || height < 200 || width > 8192 || height > 8192)
    throw Error(path + ": curve plot size " + std::to_string(width) + "x" + std::to_string(height) +
                " outside 400x200..8192x8192");
  // x: fractional epochs, unless they do not move (a log of steps within one epoch).
  bool by_epoch = std::any_of(rows.begin(), rows.end(), [&](const TrainingLogRow& r) {
    return r.epoch != rows.front().epoch;
  });
  auto x_of = [&](const TrainingLogRow& r) { return by_epoch ? r.epoch : double(r.step); };

  auto collect = [&](std::optional<double> TrainingLogRow::*field, const char* name, Rgb colour) {
    Series s{name, colour, {}};
    for (const TrainingLogRow& r : rows) {
      const auto& v = r.*field;
      double x = x_of(r);
      if (v && std::isfinite(*v) && std::isfinite(x)) s.points.emplace_back(x, *v);
    }
    return s;
  };
  Panel loss{0, 0, width / 2, height, "LOSS", by_epoch ? "EPOCH" : "STEP", !by_epoch, 1.0, {}, {}, {}};
  loss.series = {collect(&TrainingLogRow::train_loss, "TRAIN", kTrainColour),
                 collect(&TrainingLogRow::test_loss, "TEST", kTestColour)};
  // A detector's log has mAP instead of accuracy (darknet's chart.png idea).
  const bool detection = std::any_of(rows.begin(), rows.end(), [](const TrainingLogRow& r) { return r.test_map50.has_value(); });
  Panel accuracy{width / 2, 0, width - width / 2, height, detection ? "MAP %" : "ACCURACY %", loss.x_label,
                 !by_epoch, 100.0, {}, {}, {}};
  if (detection)
    accuracy.series = {collect(&TrainingLogRow::test_map50, "MAP50", kTrainColour),
                       collect(&TrainingLogRow::test_map, "MAP50-95", kTestColour)};
  else
    accuracy.series = {collect(&TrainingLogRow::train_accuracy, "TRAIN", kTrainColour),
                       collect(&TrainingLogRow::test_accuracy, "TEST", kTestColour)};

  std::vector<double> xs;
  for (const Panel* p : {&loss, &accuracy})
    for (const Series& s : p->series)
      for (auto [x, y] : s.points) xs.push_back(x);
  // x spans the data exactly (a unit range around a single value).
  Range x_range{0, 1};
  if (!xs.empty()) {
    auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
    x_range = {*lo, *hi};
    if (x_range.hi - x_range.lo < 1e-12 * std::max(1.0, std::fabs(x_range.hi))) x_range = {*lo - 0.5, *hi + 0.5};
  }
  for (Panel* p : {&loss, &accuracy}) {
    std::vector<double> ys;
    for (const Series& s : p->series)
      for (auto [x, y] : s.points) ys.push_back(y);
    p->x_range = x_range;
    p->y_range = padded_range(ys, {0, 1});
  }
  accuracy.y_range.lo = std::max(accuracy.y_range.lo, 0.0);
  accuracy.y_range.hi = std::min(accuracy.y_range.hi, 1.0);
  if (accuracy.y_range.hi <= accuracy.y_range.lo) accuracy.y_range = {0, 1};

  Canvas canvas(width, height);
  draw_panel(canvas, loss);
  draw_panel(canvas, accuracy);

  write_png_file(path, canvas.pixels().data(), width, height, 3);
}

}  // namespace cspnet
