#pragma once
// A small RGB canvas with a 5x7 font and a line-plot panel (axes, ticks,
// grid, legend): the training curves (training_log.cpp) and the detection
// PR curves (src/detect/pr_curve.cpp) draw with it.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace cspnet::plot {

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

inline const std::array<uint8_t, 7>& glyph_rows(char ch) {
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
inline Ticks nice_ticks(Range r, int max_count, bool integer = false) {
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

inline std::string tick_label(double v, int decimals, double scale = 1.0) {
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
inline Range padded_range(const std::vector<double>& values, Range fallback) {
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

inline void draw_panel(Canvas& canvas, const Panel& p) {
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


}  // namespace cspnet::plot
