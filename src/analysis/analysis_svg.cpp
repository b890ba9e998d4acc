// `cspnet analyze --plot`: the totals of several networks as grouped bars,
// each measure relative to the first network (100%).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cspnet/analysis.hpp"
#include "io/file_output.hpp"

namespace cspnet {
namespace {

struct Measure {
  const char* name;
  double (*value)(const NetworkFigures&);
};

const Measure kMeasures[] = {
    {"parameters", [](const NetworkFigures& f) { return double(f.total.parameters); }},
    {"BFLOPs", [](const NetworkFigures& f) { return f.total.bflops; }},
    {"CIO", [](const NetworkFigures& f) { return double(f.total.cio); }},
    {"planned memory", [](const NetworkFigures& f) { return double(f.inference_peak_bytes); }},
    {"time", [](const NetworkFigures& f) { return f.total.time_ms; }},
};

// One colour per network, distinguishable in print.
const char* const kColours[] = {"#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"};

std::string escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

std::string format(const char* fmt, double a, double b = 0, double c = 0, double d = 0) {
  char text[256];
  std::snprintf(text, sizeof text, fmt, a, b, c, d);
  return text;
}

}  // namespace

std::string analysis_svg(const std::vector<NetworkFigures>& networks) {
  std::vector<const Measure*> measures;
  for (const Measure& m : kMeasures)
    if (!networks.empty() && m.value(networks.front()) > 0) measures.push_back(&m);  // time only when measured
  const double group_width = 40.0 + 28.0 * double(networks.size()), left = 60, top = 30, plot_height = 240;
  const double width = left + group_width * double(measures.size()) + 20, height = top + plot_height + 50 +
                                                                               18.0 * double(networks.size());
  double top_percent = 100;
  for (const Measure* m : measures)
    for (const NetworkFigures& f : networks) top_percent = std::max(top_percent, 100 * m->value(f) / m->value(networks.front()));
  top_percent = std::ceil(top_percent / 25) * 25;
  auto y_of = [&](double percent) { return top + plot_height * (1 - percent / top_percent); };

  std::string svg = format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                           "font-family=\"sans-serif\" font-size=\"11\">\n",
                           width, height);
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += "<text x=\"" + format("%.0f", left) + "\" y=\"18\">" +
         escaped("relative to " + (networks.empty() ? std::string() : networks.front().name) + " (100%)") + "</text>\n";
  for (double percent = 0; percent <= top_percent; percent += 25) {
    svg += format("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", left, y_of(percent),
                  width - 20, y_of(percent));
    svg += format("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f%%</text>\n", left - 6, y_of(percent) + 4,
                  percent);
  }
  for (size_t m = 0; m < measures.size(); ++m) {
    const double x0 = left + group_width * double(m) + 20, base = measures[m]->value(networks.front());
    for (size_t n = 0; n < networks.size(); ++n) {
      const double percent = 100 * measures[m]->value(networks[n]) / base;
      svg += format("<rect x=\"%.1f\" y=\"%.1f\" width=\"24\" height=\"%.1f\" fill=\"", x0 + 28.0 * double(n),
                    y_of(percent), y_of(0) - y_of(percent));
      svg += std::string(kColours[n % std::size(kColours)]) + "\"><title>" +
             escaped(networks[n].name + " " + measures[m]->name) + format(": %.1f%%</title></rect>\n", percent);
    }
    svg += format("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x0 + 14.0 * double(networks.size()),
                  y_of(0) + 16);
    svg += escaped(measures[m]->name) + "</text>\n";
  }
  for (size_t n = 0; n < networks.size(); ++n) {
    const double y = y_of(0) + 40 + 18.0 * double(n);
    svg += format("<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"", left, y - 10);
    svg += std::string(kColours[n % std::size(kColours)]) + "\"/>";
    svg += format("<text x=\"%.1f\" y=\"%.1f\">", left + 18, y) + escaped(networks[n].name) + "</text>\n";
  }
  return svg + "</svg>\n";
}

void write_analysis_svg(const std::string& path, const std::vector<NetworkFigures>& networks) {
  write_file_atomically(path, analysis_svg(networks));
}

}  // namespace cspnet
