#pragma once
// Charts drawn with cairo (anti-aliased, real fonts) as PNG or SVG: line
// charts for the training curves (training_log.cpp) and the detection PR
// curves (src/detect/pr_curve.cpp), a title over panels side by side; grouped
// bar charts for `cspnet analyze --plot`.
#include <cstdint>
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
constexpr Rgb kThirdColour{44, 160, 44};   // green

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
Ticks nice_ticks(Range r, int max_count, bool integer = false);
std::string tick_label(double v, int decimals, double scale = 1.0);
// Data range padded by 5%, or a unit range around a single value.
Range padded_range(const std::vector<double>& values, Range fallback);

struct Series {
  std::string name;
  Rgb colour;
  std::vector<std::pair<double, double>> points;  // finite (x, y)
};

struct Panel {
  std::string title;
  std::string x_label;
  bool integer_x = false;      // steps
  double y_label_scale = 1.0;  // 100 for percentages
  Range x_range, y_range;
  std::vector<Series> series;
};

struct Chart {
  std::string title;  // drawn over the panels; empty: none
  int width = 1200, height = 450;
  std::vector<Panel> panels;  // side by side, equal widths
};

// Writes the chart as SVG when `path` ends in .svg, PNG otherwise, atomically
// (no partial file on failure). Throws cspnet::Error naming `path`.
void write_chart(const std::string& path, const Chart& chart);

// Grouped bars: one group per measure, one bar per series in each group,
// each labelled with its value (`value_format`, printf style).
struct BarSeries {
  std::string name;
  Rgb colour;
  std::vector<double> values;  // one per group
};

struct BarChart {
  std::string title;
  std::string y_label;
  std::string value_format = "%.1f";
  int width = 900, height = 450;
  std::vector<std::string> groups;
  std::vector<BarSeries> series;
};

// As write_chart: SVG for .svg, PNG otherwise, atomically.
void write_bar_chart(const std::string& path, const BarChart& chart);

}  // namespace cspnet::plot
