// Cairo drawing of plot::Chart. Geometry in pixels (device units); text in
// DejaVu Sans through cairo's toy font API (fontconfig picks a sans face
// when DejaVu is missing).
#include "plot/chart.hpp"

#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "cspnet/error.hpp"
#include "io/file_output.hpp"

namespace cspnet::plot {

Ticks nice_ticks(Range r, int max_count, bool integer) {
  max_count = std::max(max_count, 2);
  const double span = r.hi - r.lo;
  const double raw = span / (max_count - 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
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

std::string tick_label(double v, int decimals, double scale) {
  v *= scale;
  if (std::fabs(v) < 1e-12) v = 0;  // no "-0"
  char buf[48];
  if (std::fabs(v) >= 1e7 || (v != 0 && decimals > 6))
    std::snprintf(buf, sizeof buf, "%.1e", v);
  else
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

Range padded_range(const std::vector<double>& values, Range fallback) {
  if (values.empty()) return fallback;
  auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  Range r{*lo, *hi};
  if (r.hi - r.lo < 1e-12 * std::max(1.0, std::fabs(r.hi))) {
    const double half = std::max(0.5, std::fabs(r.hi) * 0.05);
    return {r.lo - half, r.hi + half};
  }
  const double pad = 0.05 * (r.hi - r.lo);
  return {r.lo - pad, r.hi + pad};
}

namespace {

constexpr double kLabelSize = 14, kTitleSize = 16, kChartTitleSize = 20;

struct CairoDeleter {
  void operator()(cairo_t* cr) const { cairo_destroy(cr); }
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
using Context = std::unique_ptr<cairo_t, CairoDeleter>;
using Surface = std::unique_ptr<cairo_surface_t, CairoDeleter>;

void set_colour(cairo_t* cr, Rgb c) { cairo_set_source_rgb(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0); }

void set_font(cairo_t* cr, double size, bool bold = false) {
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

double text_width(cairo_t* cr, const std::string& text) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, text.c_str(), &e);
  return e.x_advance;
}

// `align`: 0 left, 0.5 centred, 1 right of x; y is the baseline.
void text(cairo_t* cr, double x, double y, const std::string& s, double align = 0) {
  cairo_move_to(cr, x - align * text_width(cr, s), y);
  cairo_show_text(cr, s.c_str());
}

// Crisp 1-pixel lines sit on pixel centres.
void hairline(cairo_t* cr, double x0, double y0, double x1, double y1, Rgb c, double width = 1) {
  set_colour(cr, c);
  cairo_set_line_width(cr, width);
  cairo_move_to(cr, x0, y0);
  cairo_line_to(cr, x1, y1);
  cairo_stroke(cr);
}

void fill_rect(cairo_t* cr, double x, double y, double w, double h, Rgb c) {
  set_colour(cr, c);
  cairo_rectangle(cr, x, y, w, h);
  cairo_fill(cr);
}

struct Box {
  double x, y, w, h;
};

void draw_panel(cairo_t* cr, const Panel& p, Box area) {
  const double left = std::round(area.x + 80) + 0.5, right = std::round(area.x + area.w - 24) + 0.5;
  const double top = std::round(area.y + 40) + 0.5, bottom = std::round(area.y + area.h - 58) + 0.5;
  const double plot_w = right - left, plot_h = bottom - top;
  auto to_x = [&](double v) { return left + (v - p.x_range.lo) / (p.x_range.hi - p.x_range.lo) * plot_w; };
  auto to_y = [&](double v) { return bottom - (v - p.y_range.lo) / (p.y_range.hi - p.y_range.lo) * plot_h; };

  set_colour(cr, kInk);
  set_font(cr, kTitleSize, true);
  text(cr, left, area.y + 24, p.title);

  set_font(cr, kLabelSize);
  // y ticks, grid lines and labels.
  const Ticks yt = nice_ticks(p.y_range, std::max(2, int(plot_h / (kLabelSize * 3))));
  const int y_decimals = std::max(0, yt.decimals - (p.y_label_scale >= 100 ? 2 : 0));
  for (int i = 0; i < yt.count; ++i) {
    const double v = yt.first + i * yt.step, py = std::round(to_y(v)) + 0.5;
    if (py < top - 0.5 || py > bottom + 0.5) continue;
    hairline(cr, left + 1, py, right, py, kGrid);
    hairline(cr, left - 6, py, left, py, kInk);
    set_colour(cr, kInk);
    text(cr, left - 10, py + kLabelSize * 0.35, tick_label(v, y_decimals, p.y_label_scale), 1);
  }
  // x ticks: as many as their widest label allows.
  Ticks xt = nice_ticks(p.x_range, 10, p.integer_x);
  for (int attempt = 0; attempt < 10; ++attempt) {
    double widest = 0;
    for (int i = 0; i < xt.count; ++i)
      widest = std::max(widest, text_width(cr, tick_label(xt.first + i * xt.step, xt.decimals)));
    if (xt.count <= 2 || xt.count * (widest + 16) <= plot_w) break;
    xt = nice_ticks(p.x_range, xt.count - 1, p.integer_x);
  }
  for (int i = 0; i < xt.count; ++i) {
    const double v = xt.first + i * xt.step, px = std::round(to_x(v)) + 0.5;
    if (px < left - 0.5 || px > right + 0.5) continue;
    hairline(cr, px, top, px, bottom - 1, kGrid);
    hairline(cr, px, bottom, px, bottom + 6, kInk);
    set_colour(cr, kInk);
    text(cr, px, bottom + 8 + kLabelSize, tick_label(v, xt.decimals), 0.5);
  }
  set_colour(cr, kInk);
  text(cr, left + plot_w / 2, bottom + 14 + 2 * kLabelSize + 4, p.x_label, 0.5);

  // Axes over the grid.
  hairline(cr, left, top, left, bottom, kInk, 2);
  hairline(cr, left, bottom, right, bottom, kInk, 2);

  // Series, clipped to the plot area.
  cairo_save(cr);
  cairo_rectangle(cr, left - 4, top - 4, plot_w + 8, plot_h + 8);
  cairo_clip(cr);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  for (const Series& s : p.series) {
    if (s.points.empty()) continue;
    set_colour(cr, s.colour);
    cairo_set_line_width(cr, 2.5);
    cairo_move_to(cr, to_x(s.points[0].first), to_y(s.points[0].second));
    for (size_t i = 1; i < s.points.size(); ++i) cairo_line_to(cr, to_x(s.points[i].first), to_y(s.points[i].second));
    cairo_stroke(cr);
    // Sparse series (per-epoch test results, a single point) get markers.
    if (s.points.size() <= 60)
      for (auto [x, y] : s.points) fill_rect(cr, std::round(to_x(x)) - 3, std::round(to_y(y)) - 3, 7, 7, s.colour);
  }
  cairo_restore(cr);

  // Legend in the title row, right-aligned over the plot: a swatch and a name per series.
  double lx = right;
  for (auto it = p.series.rbegin(); it != p.series.rend(); ++it) {
    lx -= text_width(cr, it->name);
    set_colour(cr, kInk);
    text(cr, lx, area.y + 24, it->name);
    lx -= 30;
    fill_rect(cr, std::round(lx), std::round(area.y + 24 - kLabelSize * 0.35 - 2), 24, 4, it->colour);
    lx -= 18;
  }
}

void draw_chart(cairo_t* cr, const Chart& chart) {
  fill_rect(cr, 0, 0, chart.width, chart.height, kBackground);
  double y = 0;
  if (!chart.title.empty()) {
    set_colour(cr, kInk);
    set_font(cr, kChartTitleSize, true);
    text(cr, chart.width / 2.0, 28, chart.title, 0.5);
    y = 36;
  }
  const size_t n = chart.panels.size();
  for (size_t i = 0; i < n; ++i) {
    const double x0 = std::floor(double(chart.width) * double(i) / double(n));
    const double x1 = std::floor(double(chart.width) * double(i + 1) / double(n));
    draw_panel(cr, chart.panels[i], Box{x0, y, x1 - x0, chart.height - y});
  }
}

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

void check(cairo_status_t status, const std::string& path, const char* what) {
  if (status != CAIRO_STATUS_SUCCESS)
    throw Error(path + ": cannot " + what + " the chart: " + cairo_status_to_string(status));
}

}  // namespace

namespace {

void draw_bar_chart(cairo_t* cr, const BarChart& chart) {
  fill_rect(cr, 0, 0, chart.width, chart.height, kBackground);
  set_colour(cr, kInk);
  set_font(cr, kChartTitleSize, true);
  text(cr, chart.width / 2.0, 28, chart.title, 0.5);
  set_font(cr, kLabelSize);
  const double legend_h = 22.0 * double(chart.series.size());
  const double left = 80.5, right = chart.width - 20.5, top = 60.5;
  const double bottom = std::round(chart.height - 40 - legend_h) + 0.5;
  double top_value = 0;
  for (const BarSeries& s : chart.series)
    for (double v : s.values) top_value = std::max(top_value, v);
  const Ticks ticks = nice_ticks({0, top_value > 0 ? top_value * 1.1 : 1}, 6);
  const double y_max = std::max(ticks.first + (ticks.count - 1) * ticks.step, top_value * 1.1);
  auto to_y = [&](double v) { return bottom - v / y_max * (bottom - top); };
  for (int i = 0; i < ticks.count; ++i) {
    const double v = ticks.first + i * ticks.step, py = std::round(to_y(v)) + 0.5;
    hairline(cr, left, py, right, py, kGrid);
    set_colour(cr, kInk);
    text(cr, left - 8, py + kLabelSize * 0.35, tick_label(v, ticks.decimals), 1);
  }
  set_colour(cr, kInk);
  cairo_save(cr);
  cairo_move_to(cr, 22, (top + bottom) / 2 + text_width(cr, chart.y_label) / 2);
  cairo_rotate(cr, -M_PI / 2);
  cairo_show_text(cr, chart.y_label.c_str());
  cairo_restore(cr);

  const size_t groups = chart.groups.size(), n = chart.series.size();
  const double group_w = (right - left) / double(std::max<size_t>(groups, 1));
  const double bar_w = std::floor(std::min(48.0, (group_w - 24) / double(std::max<size_t>(n, 1))));
  for (size_t g = 0; g < groups; ++g) {
    const double x0 = std::round(left + group_w * double(g) + (group_w - bar_w * double(n)) / 2);
    for (size_t k = 0; k < n; ++k) {
      const double v = g < chart.series[k].values.size() ? chart.series[k].values[g] : 0;
      const double y = std::round(to_y(v));
      fill_rect(cr, x0 + bar_w * double(k), y, bar_w - 2, std::round(to_y(0)) - y, chart.series[k].colour);
      char label[64];
      std::snprintf(label, sizeof label, chart.value_format.c_str(), v);
      set_colour(cr, kInk);
      set_font(cr, 11);
      text(cr, x0 + bar_w * (double(k) + 0.5) - 1, y - 4, label, 0.5);
    }
    set_font(cr, kLabelSize);
    text(cr, left + group_w * (double(g) + 0.5), bottom + 8 + kLabelSize, chart.groups[g], 0.5);
  }
  hairline(cr, left, bottom, right, bottom, kInk, 2);
  for (size_t k = 0; k < n; ++k) {
    const double y = bottom + 36 + 22.0 * double(k);
    fill_rect(cr, left, y - 12, 14, 14, chart.series[k].colour);
    set_colour(cr, kInk);
    text(cr, left + 22, y, chart.series[k].name);
  }
}

// Draws through `draw` onto a PNG or SVG surface and writes the file atomically.
template <typename Draw>
void render(const std::string& path, int width, int height, Draw draw) {
  if (width < 200 || height < 150 || width > 8192 || height > 8192)
    throw Error(path + ": chart size " + std::to_string(width) + "x" + std::to_string(height) +
                " outside 200x150..8192x8192");
  const bool svg = path.size() >= 4 && path.compare(path.size() - 4, 4, ".svg") == 0;
  std::string bytes;
  {
    Surface surface(svg ? cairo_svg_surface_create_for_stream(append_bytes, &bytes, width, height)
                        : cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height));
    check(cairo_surface_status(surface.get()), path, "create");
    {
      Context cr(cairo_create(surface.get()));
      draw(cr.get());
      check(cairo_status(cr.get()), path, "draw");
    }
    if (!svg) check(cairo_surface_write_to_png_stream(surface.get(), append_bytes, &bytes), path, "encode");
    cairo_surface_finish(surface.get());
    check(cairo_surface_status(surface.get()), path, "finish");
  }
  AtomicFileWriter out(path);
  out.write(bytes.data(), bytes.size());
  out.commit();
}

}  // namespace

void write_chart(const std::string& path, const Chart& chart) {
  render(path, chart.width, chart.height, [&](cairo_t* cr) { draw_chart(cr, chart); });
}

void write_bar_chart(const std::string& path, const BarChart& chart) {
  render(path, chart.width, chart.height, [&](cairo_t* cr) { draw_bar_chart(cr, chart); });
}

}  // namespace cspnet::plot
